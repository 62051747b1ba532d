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
  odd series to degree 35 (truncation error below ``1e-18``);
- ``log(u)`` for ``u >= 1`` (the negative binomial's pass): ``u = m 2**e`` with
  ``sqrt(1/2) <= m < sqrt(2)``, read from the float's bits (integer loops that
  vectorise), ``log(m) = 2 atanh((m - 1) / (m + 1))`` by the same odd series;
  ``log1p(z)`` as ``log(1 + z) z / ((1 + z) - 1)`` (Goldberg's correction of the
  rounding of ``1 + z``: a few ulps for every ``z >= 0``).

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

__all__ = ["logistic_rows", "poisson_log_rows", "negbin_log_rows", "log_rows"]

_FAST = {"reassoc", "contract"}
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
_INV_LN2 = 1.44269504088896338700e00
#: exp is evaluated on [-_LOWEST, _HIGHEST] (2**k stays a normal float); beyond it
#: exp underflows to 0 (here: exp(-708)) or overflows to inf
_LOWEST = -708.0
_HIGHEST = 709.0
#: bits of a float64: its mantissa field, the exponent field of 1.0, sqrt(2)'s mantissa
_MANTISSA = 0x000FFFFFFFFFFFFF
_ONE = 0x3FF0000000000000
_SQRT2_MANTISSA = 0x6A09E667F3BCD
#: an integer ``e`` (``|e| < 2**51``) is the float with bits ``_MAGIC + e`` less
#: ``_MAGIC_VALUE`` (no int64 -> float64 conversion, which AVX2 lacks)
_MAGIC = 0x4338000000000000
_MAGIC_VALUE = 6755399441055744.0
#: the negative binomial's vectorised pass runs for linear predictors within this bound
#: (its mean and ``1 + mu / alpha`` stay finite normal floats); beyond, the general pass
_NB_ETA_MAX = 700.0


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
def _two_atanh(t: float) -> float:
    """``2 atanh(t) = log((1 + t) / (1 - t))`` for ``|t| <= 1/3``: the odd series to
    degree 35 (truncation error below ``1e-18``), Horner's scheme in ``t^2``."""
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


@numba.njit(cache=True, inline="always", error_model="numpy")
def _log1p_small(e: float) -> float:
    """``log(1 + e)`` for ``0 <= e <= 1``: ``2 atanh(e / (2 + e))``."""
    return _two_atanh(e / (2.0 + e))


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


@numba.njit(cache=True, inline="always", error_model="numpy")
def _log_reduced(m: float) -> float:
    """``log(m)`` for ``sqrt(1/2) <= m < sqrt(2)``: ``2 atanh((m - 1) / (m + 1))``
    (``|t| <= 0.1716``)."""
    return _two_atanh((m - 1.0) / (m + 1.0))


@numba.njit(cache=True, fastmath=_FAST, error_model="numpy")
def _split(u: np.ndarray, mant: np.ndarray, expo: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``u = m 2**e`` (``u`` finite and normal, ``sqrt(1/2) <= m < sqrt(2)``): ``m`` and
    ``e`` as float64 arrays, written through the int64 arrays ``mant`` and ``expo``."""
    bits = u.view(np.int64)
    for r in range(u.size):
        b = bits[r]
        field = b & _MANTISSA
        big = np.int64(field > _SQRT2_MANTISSA)  # m >= sqrt(2): halve it
        mant[r] = (field | _ONE) - (big << 52)
        expo[r] = _MAGIC + ((b >> 52) - 1023 + big)
    e = expo.view(np.float64)
    for r in range(u.size):
        e[r] -= _MAGIC_VALUE
    return mant.view(np.float64), e


@numba.njit(cache=True, fastmath=_FAST, error_model="numpy")
def log_rows(u: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``log(u)`` of each finite normal ``u > 0``, written to ``out`` (for the tests)."""
    m, e = _split(u, np.empty(u.size, np.int64), np.empty(u.size, np.int64))
    for r in range(u.size):
        out[r] = e[r] * _LN2_HI + (_log_reduced(m[r]) + e[r] * _LN2_LO)
    return out


@numba.njit(cache=True, fastmath=_FAST, error_model="numpy")
def _negbin_pass(y: np.ndarray, eta: np.ndarray, a: float, w: np.ndarray, d: np.ndarray
                 ) -> tuple[float, float]:
    """The rows' terms but ``lgamma(y + a) - lgamma(a)`` (see :func:`negbin_log_rows`)."""
    n = eta.size
    scale = _scales(eta, 1.0, np.empty(n, np.int64))
    inv_a = 1.0 / a
    la = math.log(a)
    mu_of = np.empty(n)
    u_of = np.empty(n)
    for r in range(n):
        e = eta[r]
        k = _exponent(e)
        mu = _exp_reduced((e - k * _LN2_HI) - k * _LN2_LO) * scale[r]
        mu_of[r] = mu
        u_of[r] = 1.0 + mu * inv_a
    m, ex = _split(u_of, np.empty(n, np.int64), np.empty(n, np.int64))
    unweighted = w.size == 0
    logp = 0.0
    ga = 0.0
    for r in range(n):
        mu = mu_of[r]
        u = u_of[r]
        z = mu * inv_a
        lu = ex[r] * _LN2_HI + (_log_reduced(m[r]) + ex[r] * _LN2_LO)  # log(1 + z)
        den = u - 1.0
        l1p = lu * (z / den) if den != 0.0 else z  # log1p(z), Goldberg's correction
        yr = y[r]
        wr = 1.0 if unweighted else w[r]
        q = 1.0 / (a + mu)
        logp += wr * (yr * ((eta[r] - la) - l1p) - a * l1p)
        d[r] = wr * (yr - (yr + a) * mu * q)
        ga += wr * ((mu - yr) * q - l1p)
    return logp, ga


@numba.njit(cache=True, error_model="numpy")
def negbin_log_rows(y: np.ndarray, eta: np.ndarray, a: float, w: np.ndarray, d: np.ndarray,
                    table: np.ndarray) -> tuple[float, float, bool]:
    """Negative binomial log-likelihood with the log link and one ``alpha = a`` for every
    row, ``log p(y | mu, alpha)`` less ``log y!`` summed (times the prior weights ``w``;
    empty: 1), its derivative in each ``eta`` written to ``d`` and its derivative in
    ``alpha`` returned: ``(logp, dlogp / dalpha, True)``.

    The rows' ``lgamma(y + a) - lgamma(a) = sum_{j < y} log(a + j)`` are summed by ``j``,
    not by row: ``sum_j S_j log(a + j)`` with ``S_j`` the rows' weight with a count above
    ``j`` (and ``sum_j S_j / (a + j)`` for the derivative), so the loop over the rows
    has no special function and no lookup, and vectorises. ``table`` holds the ``S_j``,
    built once with the model (:data:`mixedfit.fast.buffer.H_NB_COUNTS`: they depend on
    the data only).

    Returns ``(0, 0, False)`` and writes nothing when ``table`` is empty (the largest
    count is above both twice the number of rows and
    :data:`~mixedfit.fast.buffer.NB_TABLE_MAX`: the sum by count, one ``log`` per count,
    would cost more than the general pass over the rows), or when a mean or ``mu /
    alpha`` would leave the range of normal floats (``|eta|`` or ``eta - log alpha``
    above 700): the caller then takes the general pass
    (:func:`mixedfit.fast.rowlik.general_rows`)."""
    if table.size == 0:
        return 0.0, 0.0, False
    n = eta.size
    lo = 0.0
    hi = 0.0
    for r in range(n):
        lo = min(lo, eta[r])
        hi = max(hi, eta[r])
    la = math.log(a) if a > 0.0 else -math.inf
    if not (-_NB_ETA_MAX < lo and hi < _NB_ETA_MAX and -_NB_ETA_MAX < la < _NB_ETA_MAX
            and hi - la < _NB_ETA_MAX):
        return 0.0, 0.0, False
    logp, ga = _negbin_pass(y, eta, a, w, d)
    lc, gc = _count_sums(table, a)
    return logp + lc, ga + gc, True


@numba.njit(cache=True, fastmath=_FAST, error_model="numpy")
def _count_sums(table: np.ndarray, a: float) -> tuple[float, float]:
    """``sum_j S_j log(a + j)`` and ``sum_j S_j / (a + j)`` (``a > 0``), the logs as in
    :func:`log_rows`: a loop that vectorises."""
    m1 = table.size - 1  # S_top is 0
    if m1 <= 0:
        return 0.0, 0.0
    v = np.empty(m1)
    for j in range(m1):
        v[j] = a + j
    m, e = _split(v, np.empty(m1, np.int64), np.empty(m1, np.int64))
    logp = 0.0
    ga = 0.0
    for j in range(m1):
        lv = e[j] * _LN2_HI + (_log_reduced(m[j]) + e[j] * _LN2_LO)
        logp += table[j] * lv
        ga += table[j] / v[j]
    return logp, ga
