"""R-hat and effective sample size, vectorised over parameters.

The rank-normalised split R-hat and the bulk and tail ESS of Vehtari, Gelman,
Simpson, Carpenter and Bürkner (2021), computed as ArviZ computes them
(``az.rhat``, ``az.ess(method="bulk"|"tail")``, to rounding) but for many
parameters at once, in chunks: ArviZ loops over parameters in Python, which takes
minutes and gigabytes for the 20,000 group effects of a large model.

Examples
--------
>>> import numpy as np
>>> draws = np.random.default_rng(0).normal(size=(4, 500, 3))
>>> r, bulk, tail = rhat_ess(draws)
>>> bool(np.all(r < 1.01)), bool(np.all(bulk > 1000))
(True, True)
"""

from __future__ import annotations

import numpy as np
from scipy import special
from scipy.fft import next_fast_len

__all__ = ["rhat_ess"]

#: Parameters handled together (bounds the temporary memory: chunk x draws floats).
CHUNK = 256


def _split(x: np.ndarray) -> np.ndarray:
    """(chains, draws, k) -> (2 chains, draws // 2, k), dropping a middle draw if odd."""
    half = x.shape[1] // 2
    return np.concatenate([x[:, :half], x[:, x.shape[1] - half:]], axis=0)


def _ranks(flat: np.ndarray) -> np.ndarray:
    """Ranks (1 ..) along each row, ties given their average rank (scipy's ``rankdata``
    with ``method="average"``), from one sort of every row at once."""
    k, n = flat.shape
    order = np.argsort(flat, axis=1)
    ordered = np.take_along_axis(flat, order, axis=1)
    first = np.ones((k, n), dtype=bool)  # where a run of equal values starts
    first[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    starts = np.flatnonzero(first.ravel())  # in the flattened rows (each row starts one)
    ends = np.append(starts[1:], k * n) - 1
    run = np.cumsum(first.ravel()) - 1
    # a run's average rank: the mean of its first and last position in its row, plus 1
    average = (starts + ends) / 2.0 - (starts // n) * n + 1.0
    rank = np.empty((k, n))
    np.put_along_axis(rank, order, average[run].reshape(k, n), axis=1)
    return rank


def _z_scale(x: np.ndarray) -> np.ndarray:
    c, n, k = x.shape
    flat = np.ascontiguousarray(x.reshape(c * n, k).T)  # sort along contiguous rows
    rank = _ranks(flat)
    size = c * n
    return special.ndtri((rank.T - 0.375) / (size - 0.75 + 1)).reshape(c, n, k)


def _rhat(x: np.ndarray) -> np.ndarray:
    n = x.shape[1]
    chain_mean = x.mean(axis=1)
    between = n * chain_mean.var(axis=0, ddof=1)
    within = x.var(axis=1, ddof=1).mean(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sqrt((between / within + n - 1) / n)


def _ess(x: np.ndarray) -> np.ndarray:
    """ESS of each column of ``x`` (chains, draws, k), as ArviZ's ``_ess``."""
    c, n, k = x.shape
    const = (x.max(axis=(0, 1)) - x.min(axis=(0, 1))) < np.finfo(float).resolution
    m = next_fast_len(2 * n)
    centred = x - x.mean(axis=1, keepdims=True)
    f = np.fft.rfft(centred, n=m, axis=1)
    acov = np.fft.irfft(f * np.conjugate(f), n=m, axis=1)[:, :n] / n  # (c, n, k)
    mean_acov = acov.mean(axis=0)  # (n, k)
    chain_mean = x.mean(axis=1)
    mean_var = mean_acov[0] * n / (n - 1.0)
    var_plus = mean_var * (n - 1.0) / n
    if c > 1:
        var_plus = var_plus + chain_mean.var(axis=0, ddof=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = 1.0 - (mean_var[None, :] - mean_acov) / var_plus[None, :]  # (n, k)
    total = c * n
    tau = _taus(rho, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = total / np.maximum(tau, 1.0 / np.log10(total))
    out[~np.all(np.isfinite(rho), axis=0)] = np.nan
    out[const] = total
    return out


def _taus(rho: np.ndarray, n: int) -> np.ndarray:
    """ArviZ's Geyer initial positive and monotone sequences (its ``_ess``), for every
    column of the autocorrelations ``rho`` ``(n, k)`` at once: with pair sums
    ``P_j = rho_2j + rho_2j+1`` (``rho_0`` taken as 1), the sequence stops at the first
    ``j >= 1`` with ``P_j <= 0`` (or where ArviZ's loop ends), the pairs before it are
    replaced by their running minimum, and the even term where it stopped is added
    when ArviZ adds it (``tests/results/test_convergence.py`` compares with ArviZ)."""
    k = rho.shape[1]
    r = np.nan_to_num(rho, nan=0.0)
    r[0] = 1.0
    pairs = r[0:2 * (n // 2):2] + r[1:2 * (n // 2):2]  # (n // 2, k)
    last = (n - 3) // 2  # ArviZ's loop runs j = 1 .. last at most
    stop = np.zeros(k, dtype=np.int64)
    if last >= 1:
        ended = pairs[1:last + 1] <= 0.0
        first = np.where(ended.any(axis=0), ended.argmax(axis=0) + 1, last)
        stop = np.where(pairs[0] > 0.0, first, 0)
    cols = np.arange(k)
    running = np.minimum.accumulate(pairs[:max(last, 0) + 1], axis=0)
    sums = np.vstack([np.zeros((1, k)), np.cumsum(running, axis=0)])[stop, cols]
    even = r[2 * stop, cols]
    add = (stop == 0) | (pairs[stop, cols] >= 0.0) | (even > 0.0)
    return -1.0 + 2.0 * sums + np.where(add, even, 0.0)


def _chunk(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=float)
    split = _split(x)
    z = _z_scale(split)
    rhat_bulk = _rhat(z)
    folded = np.abs(split - np.median(split.reshape(-1, split.shape[2]), axis=0))
    rhat_tail = _rhat(_z_scale(folded))
    rhat = np.maximum(rhat_bulk, rhat_tail)
    bulk = _ess(z)
    q05, q95 = np.quantile(x.reshape(-1, x.shape[2]), [0.05, 0.95], axis=0)
    tail = np.minimum(_ess(_split((x <= q05).astype(float))),
                      _ess(_split((x <= q95).astype(float))))
    bad = ~np.all(np.isfinite(x), axis=(0, 1))
    rhat[bad] = bulk[bad] = tail[bad] = np.nan
    return rhat, bulk, tail


def rhat_ess(draws: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rank-normalised split R-hat, bulk ESS and tail ESS of each parameter.

    Parameters
    ----------
    draws : numpy.ndarray
        ``(chains, draws, k)``.

    Returns
    -------
    tuple of numpy.ndarray
        ``(r_hat, ess_bulk, ess_tail)``, each of length ``k``.
    """
    draws = np.asarray(draws)
    k = draws.shape[2]
    out = [np.empty(k) for _ in range(3)]
    for start in range(0, k, CHUNK):
        parts = _chunk(draws[:, :, start:start + CHUNK])
        for o, part in zip(out, parts, strict=True):
            o[start:start + CHUNK] = part
    return out[0], out[1], out[2]
