"""Row passes of the binomial (logit) and Poisson (log) likelihoods that vectorise.

A fit of many Bernoulli or Poisson rows spends most of its time in one ``exp`` and one
``log`` per row and gradient. The C library's ``exp`` and ``log`` are scalar calls, so
a loop over the rows runs one row at a time (about 15 ns per row here); numba could
vectorise them only through Intel's SVML, which the llvmlite on PyPI is not built
with. These passes compute both functions with polynomials LLVM vectorises (4 or 8
rows per instruction), to full double precision:

- ``exp(a)``: ``a = k ln 2 + x`` with ``|x| <= ln 2 / 2`` (Cody and Waite's split of
  ``ln 2``), ``exp(x)`` by its Taylor series to degree 12 (truncation error below
  ``2e-17``), and ``2**k`` written as a float's exponent bits (a first loop, over
  integers, that vectorises as well);
- ``log1p(e)`` for ``0 < e <= 1``: ``2 atanh(t)`` with ``t = e / (2 + e) <= 1/3``, its
  odd series to degree 35 (truncation error below ``1e-18``).

The functions are compiled with the ``reassoc`` and ``contract`` fast-math flags: the
sum over the rows may be added in any order (which is what lets it vectorise) and
multiply-adds fused; no flag assumes finite values, so an infinite density stays
infinite. Results equal the scalar loops' to rounding (relative 1e-14 on the sum
over 20,000 rows; ``tests/backends/test_vecrows.py`` checks them against numpy).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from mixedfit.fast import cache

cache.refresh()  # before numba compiles anything here or loads it from its cache

__all__ = ["logistic_rows", "poisson_log_rows"]

_FAST = {"reassoc", "contract"}
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_INV_LN2 = 1.44269504088896338700e00
#: exp is evaluated on [-_LOWEST, _HIGHEST] (2**k stays a normal float); beyond it
#: exp underflows to 0 (here: exp(-708)) or overflows to inf
_LOWEST = -708.0
_HIGHEST = 709.0


@numba.njit(cache=True, inline="always", error_model="numpy")
def _exp_reduced(x: float) -> float:
    """``exp(x)`` for ``|x| <= ln 2 / 2``: Taylor series to degree 12, Horner's scheme."""
    return 1.0 + x * (1.0 + x * (0.5 + x * (1.0 / 6.0 + x * (1.0 / 24.0 + x * (
        1.0 / 120.0 + x * (1.0 / 720.0 + x * (1.0 / 5040.0 + x * (1.0 / 40320.0 + x * (
            1.0 / 362880.0 + x * (1.0 / 3628800.0 + x * (1.0 / 39916800.0
                                                          + x / 479001600.0)))))))))))


@numba.njit(cache=True, inline="always", error_model="numpy")
def _exponent(a: float) -> float:
    """``k``, the nearest integer to ``a / ln 2``."""
    return math.floor(a * _INV_LN2 + 0.5)


@numba.njit(cache=True, inline="always", error_model="numpy")
def _log1p_small(e: float) -> float:
    """``log(1 + e)`` for ``0 <= e <= 1``: ``2 atanh(e / (2 + e))``, odd series."""
    t = e / (2.0 + e)
    t2 = t * t
    s = 1.0 / 35.0
    s = 1.0 / 33.0 + t2 * s
    s = 1.0 / 31.0 + t2 * s
    s = 1.0 / 29.0 + t2 * s
    s = 1.0 / 27.0 + t2 * s
    s = 1.0 / 25.0 + t2 * s
    s = 1.0 / 23.0 + t2 * s
    s = 1.0 / 21.0 + t2 * s
    s = 1.0 / 19.0 + t2 * s
    s = 1.0 / 17.0 + t2 * s
    s = 1.0 / 15.0 + t2 * s
    s = 1.0 / 13.0 + t2 * s
    s = 1.0 / 11.0 + t2 * s
    s = 1.0 / 9.0 + t2 * s
    s = 1.0 / 7.0 + t2 * s
    s = 1.0 / 5.0 + t2 * s
    s = 1.0 / 3.0 + t2 * s
    return 2.0 * t * (1.0 + t2 * s)


@numba.njit(cache=True, fastmath=_FAST, error_model="numpy")
def _scales(a_of: np.ndarray, sign: float, bits: np.ndarray) -> np.ndarray:
    """``2**k`` for each row, ``k`` the exponent of ``exp(sign * |a|)`` (``sign`` -1) or
    of ``exp(a)`` (``sign`` +1), as float64 bits written through an int64 array."""
    for r in range(a_of.size):
        a = a_of[r]
        if sign < 0:
            a = -abs(a)
        a = min(max(a, _LOWEST), _HIGHEST)
        bits[r] = (np.int64(_exponent(a)) + 1023) << 52
    return bits.view(np.float64)


@numba.njit(cache=True, fastmath=_FAST, error_model="numpy")
def logistic_rows(y: np.ndarray, eta: np.ndarray, trials: np.ndarray, w: np.ndarray,
                  d: np.ndarray) -> float:
    """Binomial log-likelihood with the logit link, ``sum w (y eta - n softplus(eta))``,
    and its derivative in each ``eta`` (``w (y - n p)``) written to ``d`` (not ``eta``
    itself: the loop vectorises only when they do not overlap). ``trials`` empty: one
    trial per row; ``w`` (prior weights) empty: 1."""
    n = eta.size
    scale = _scales(eta, -1.0, np.empty(n, np.int64))
    ones = trials.size == 0
    unweighted = w.size == 0
    logp = 0.0
    for r in range(n):
        e = eta[r]
        a = max(-abs(e), _LOWEST)
        k = _exponent(a)
        ex = _exp_reduced((a - k * _LN2_HI) - k * _LN2_LO) * scale[r]  # exp(-|e|)
        inv = 1.0 / (1.0 + ex)
        sp = max(e, 0.0) + _log1p_small(ex)  # softplus(e)
        pr = inv if e > 0 else ex * inv  # inverse logit of e
        nt = 1.0 if ones else trials[r]
        wr = 1.0 if unweighted else w[r]
        logp += wr * (y[r] * e - nt * sp)
        d[r] = wr * (y[r] - nt * pr)
    return logp


@numba.njit(cache=True, fastmath=_FAST, error_model="numpy")
def poisson_log_rows(y: np.ndarray, eta: np.ndarray, w: np.ndarray, d: np.ndarray) -> float:
    """Poisson log-likelihood with the log link, ``sum w (y eta - exp(eta))`` (``log y!``
    left out), and its derivative ``w (y - exp(eta))`` written to ``d`` (not ``eta``);
    ``w`` (prior weights) empty: 1."""
    n = eta.size
    scale = _scales(eta, 1.0, np.empty(n, np.int64))
    unweighted = w.size == 0
    logp = 0.0
    for r in range(n):
        e = eta[r]
        a = min(max(e, _LOWEST), _HIGHEST)
        k = _exponent(a)
        mu = _exp_reduced((a - k * _LN2_HI) - k * _LN2_LO) * scale[r]
        mu = mu if e <= _HIGHEST else math.inf
        wr = 1.0 if unweighted else w[r]
        logp += wr * (y[r] * e - mu)
        d[r] = wr * (y[r] - mu)
    return logp
