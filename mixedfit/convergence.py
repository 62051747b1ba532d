"""R-hat and effective sample size, vectorised over parameters.

The rank-normalised split R-hat and the bulk and tail ESS of Vehtari, Gelman,
Simpson, Carpenter and Bürkner (2021), computed as ArviZ computes them
(``az.rhat``, ``az.ess(method="bulk"|"tail")``, to rounding) but for many
parameters at once, in chunks: ArviZ loops over parameters in Python, which takes
minutes and gigabytes for the 20,000 group effects of a large model.

Every fit runs these checks, so they are kept cheap next to sampling (issue 18: 17 ms
for the 45 parameters x 4,000 draws of a sleepstudy fit, against 65 ms before;
``benchmarks/convergence_cost.py``):
one numpy sort per parameter; a numba kernel that turns the sort into the normal
scores of the draws and of the folded draws (merging, not sorting again, the folded
ones); and the autocovariances of the ESS summed lag by lag while Geyer's sequence is
short (a few lags for draws that mix), by Fourier transform when it is long. Both
kernels compile once per installation (numba's cache).

Examples
--------
>>> import numpy as np
>>> draws = np.random.default_rng(0).normal(size=(4, 500, 3))
>>> r, bulk, tail = rhat_ess(draws)
>>> bool(np.all(r < 1.01)), bool(np.all(bulk > 1000))
(True, True)
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import special
from scipy.fft import next_fast_len

__all__ = ["rhat_ess", "ebfmi"]

#: Parameters handled together (bounds the temporary memory: chunk x draws floats).
CHUNK = 256
#: Fewest draws a chain for R-hat and ESS (ArviZ's ``rhat`` gives NaN below it).
MIN_DRAWS = 4


def _split(x: np.ndarray) -> np.ndarray:
    """(chains, draws, k) -> (k, 2 chains, draws // 2), dropping a middle draw if odd:
    each parameter's split chains, contiguous, in one copy."""
    c, n, k = x.shape
    half = n // 2
    out = np.empty((k, 2 * c, half))
    out[:, :c] = x[:, :half].transpose(2, 0, 1)
    out[:, c:] = x[:, n - half:].transpose(2, 0, 1)
    return out


def _scores_of(flat: np.ndarray, order: np.ndarray, table: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # pragma: no cover - numba
    """The rank-normalised draws and folded draws, from the draws' sort.

    For each row of ``flat`` (k, n) and its ``argsort`` ``order``: the row sorted; the
    score ``ndtri((rank - 3/8) / (n + 1/4))`` of each draw, a tie given its average
    rank (scipy's ``rankdata``); and the same of the folded draws ``|x - median|``.
    ``table`` holds the score of every rank ``1, 1.5, .., n`` (an average rank is a
    whole or a half number), indexed by twice the rank less 2 (the first plus the last
    0-based position of a tie's run), so that no score is computed twice. In the sort's
    order the folded draws fall, then rise: two sorted runs, merged here in one pass
    instead of sorted again. Compiled by :func:`_kernel`.
    """
    k, n = flat.shape
    ordered = np.empty((k, n))
    z = np.empty((k, n))
    z_folded = np.empty((k, n))
    folded = np.empty(n)
    where = np.empty(n, dtype=np.int64)
    for j in range(k):
        for i in range(n):
            ordered[j, i] = flat[j, order[j, i]]
        s = 0
        while s < n:  # the runs of equal values
            e = s
            while e + 1 < n and ordered[j, e + 1] == ordered[j, s]:
                e += 1
            for i in range(s, e + 1):
                z[j, order[j, i]] = table[s + e]
            s = e + 1
        median = (ordered[j, (n - 1) // 2] + ordered[j, n // 2]) / 2  # np.median's
        p = 0  # the first draw at or above the median
        while p < n and ordered[j, p] < median:
            p += 1
        left, right = p - 1, p
        for i in range(n):  # merge: the draws below the median backwards, those above
            if right >= n or (left >= 0 and median - ordered[j, left]
                              <= ordered[j, right] - median):
                folded[i] = median - ordered[j, left]
                where[i] = order[j, left]
                left -= 1
            else:
                folded[i] = ordered[j, right] - median
                where[i] = order[j, right]
                right += 1
        s = 0
        while s < n:
            e = s
            while e + 1 < n and folded[e + 1] == folded[s]:
                e += 1
            for i in range(s, e + 1):
                z_folded[j, where[i]] = table[s + e]
            s = e + 1
    return ordered, z, z_folded


def _score_table(n: int) -> np.ndarray:
    """``ndtri((rank - 3/8) / (n + 1/4))`` of every rank ``1, 1.5, 2, .., n``."""
    rank = np.arange(2 * n - 1) / 2.0 + 1.0
    return special.ndtri((rank - 0.375) / (n - 0.75 + 1))


def _quantiles(ordered: np.ndarray, probs: tuple[float, ...]) -> list[np.ndarray]:
    """``np.quantile(..., method="linear")`` of each sorted row, from the sort (the
    same index arithmetic and interpolation, so the same numbers)."""
    n = ordered.shape[1]
    out = []
    for p in probs:
        virtual = (n - 1) * p
        below = int(np.floor(virtual))
        above = min(below + 1, n - 1)
        gamma = virtual - below
        a, b = ordered[:, below], ordered[:, above]
        diff = b - a
        out.append(b - diff * (1 - gamma) if gamma >= 0.5 else a + diff * gamma)
    return out


def _rhat(x: np.ndarray) -> np.ndarray:
    n = x.shape[2]
    chain_mean = x.mean(axis=2)
    between = n * chain_mean.var(axis=1, ddof=1)
    within = x.var(axis=2, ddof=1).mean(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sqrt((between / within + n - 1) / n)


#: Lags summed one by one before an ESS is left to the transform (``_ess_fft``): draws
#: that mix well need a few (Geyer's sequence stops at the first negative pair), and
#: summing them is cheaper than transforming every series.
MAX_LAG = 64


def _ess_lags(x: np.ndarray, max_lag: int) -> np.ndarray:  # pragma: no cover - numba
    """ArviZ's ``_ess`` for each row of ``x`` (k, chains, draws), its loop as written,
    with each autocovariance summed when the loop asks for it; -1 for a row whose
    sequence runs past ``max_lag`` lags (compiled by :func:`_kernel`)."""
    k, c, n = x.shape
    out = np.empty(k)
    means = np.empty(c)
    d = np.empty((c, n))
    rho = np.zeros(max_lag + 3)
    resolution = np.finfo(np.float64).resolution

    def acov(lag: int) -> float:  # the chains' mean autocovariance of d at lag
        total = 0.0
        for ch in range(c):
            s = 0.0
            for i in range(n - lag):
                s += d[ch, i] * d[ch, i + lag]
            total += s / n
        return total / c

    for j in range(k):
        lo, hi = np.inf, -np.inf
        for ch in range(c):
            s = 0.0
            for i in range(n):
                v = x[j, ch, i]
                s += v
                lo = min(lo, v)
                hi = max(hi, v)
            means[ch] = s / n
        if not (np.isfinite(lo) and np.isfinite(hi)):
            out[j] = np.nan
            continue
        if hi - lo < resolution:
            out[j] = c * n
            continue
        for ch in range(c):
            for i in range(n):
                d[ch, i] = x[j, ch, i] - means[ch]
        mean_var = acov(0) * n / (n - 1.0)
        var_plus = mean_var * (n - 1.0) / n
        if c > 1:
            centre = means.mean()
            var_plus += ((means - centre) ** 2).sum() / (c - 1.0)
        rho[:] = 0.0
        even = 1.0
        rho[0] = even
        odd = 1.0 - (mean_var - acov(1)) / var_plus
        rho[1] = odd
        t = 1
        past = False
        while t < n - 3 and even + odd > 0.0:
            if t + 2 > max_lag:
                past = True
                break
            even = 1.0 - (mean_var - acov(t + 1)) / var_plus
            odd = 1.0 - (mean_var - acov(t + 2)) / var_plus
            if even + odd >= 0:
                rho[t + 1] = even
                rho[t + 2] = odd
            t += 2
        if past:
            out[j] = -1.0
            continue
        max_t = t - 2
        if even > 0:
            rho[max_t + 1] = even
        t = 1
        while t <= max_t - 2:
            if rho[t + 1] + rho[t + 2] > rho[t - 1] + rho[t]:
                rho[t + 1] = (rho[t - 1] + rho[t]) / 2.0
                rho[t + 2] = rho[t + 1]
            t += 2
        tau = -1.0 + 2.0 * rho[:max_t + 1].sum() + rho[max_t + 1]
        tau = max(tau, 1.0 / np.log10(c * n))
        out[j] = np.nan if np.isnan(rho[:max_t + 2]).any() else c * n / tau
    return out


_KERNELS: tuple[Any, Any] | None = None


def _kernel() -> tuple[Any, Any]:
    """:func:`_scores_of` and :func:`_ess_lags` compiled by numba (once per
    installation: numba's cache)."""
    global _KERNELS
    if _KERNELS is None:
        import numba  # deferred: heavy, and only the checks after sampling need it

        _KERNELS = (numba.njit(cache=True)(_scores_of), numba.njit(cache=True)(_ess_lags))
    return _KERNELS


def _ess(x: np.ndarray) -> np.ndarray:
    """ESS of each row of ``x`` (k, chains, draws), as ArviZ's ``_ess``: lag by lag
    where the sequence is short, by the transform where it is long."""
    out = _kernel()[1](np.ascontiguousarray(x), MAX_LAG)
    long = out < 0
    if long.any():
        out[long] = _ess_fft(x[long])
    return out


def _ess_fft(x: np.ndarray) -> np.ndarray:
    """ESS of each row of ``x`` (k, chains, draws), as ArviZ's ``_ess``, with the
    autocovariances of every lag from the Fourier transform."""
    k, c, n = x.shape
    const = (x.max(axis=(1, 2)) - x.min(axis=(1, 2))) < np.finfo(float).resolution
    m = next_fast_len(2 * n)
    chain_mean = x.mean(axis=2)
    f = np.fft.rfft(x - chain_mean[:, :, None], n=m, axis=2)
    power = (f.real ** 2 + f.imag ** 2).mean(axis=1)  # the mean of the chains' spectra:
    # its inverse is the mean of their autocovariances, in one transform, not one each
    mean_acov = np.fft.irfft(power, n=m, axis=1)[:, :n] / n  # (k, n)
    mean_var = mean_acov[:, 0] * n / (n - 1.0)
    var_plus = mean_var * (n - 1.0) / n
    if c > 1:
        var_plus = var_plus + chain_mean.var(axis=1, ddof=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = 1.0 - (mean_var[:, None] - mean_acov) / var_plus[:, None]  # (k, n)
    total = c * n
    tau = _taus(rho.T, n)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = total / np.maximum(tau, 1.0 / np.log10(total))
    out[~np.all(np.isfinite(rho), axis=1)] = np.nan
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
    k = x.shape[2]
    split = _split(x)  # (k, 2 chains, half)
    size = split.shape[1] * split.shape[2]
    flat = split.reshape(k, size)
    ordered, z, z_folded = _kernel()[0](flat, np.argsort(flat, axis=1), _score_table(size))
    z, z_folded = z.reshape(split.shape), z_folded.reshape(split.shape)
    rhat = np.maximum(_rhat(z), _rhat(z_folded))
    if x.shape[1] % 2 == 0:  # the split keeps every draw: its sort is the draws'
        q05, q95 = _quantiles(ordered, (0.05, 0.95))
    else:
        q05, q95 = np.quantile(x.reshape(-1, k), [0.05, 0.95], axis=0)
    # the series whose ESS are needed, side by side: the rank-normalised draws (bulk),
    # and whether a draw is at most the 5% and at most the 95% quantile (tail)
    series = np.empty((3 * k,) + split.shape[1:])
    series[:k] = z
    np.less_equal(split, q05[:, None, None], out=series[k:2 * k])
    np.less_equal(split, q95[:, None, None], out=series[2 * k:])
    ess = _ess(series)
    bulk, tail = ess[:k], np.minimum(ess[k:2 * k], ess[2 * k:])
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
        ``(r_hat, ess_bulk, ess_tail)``, each of length ``k``; NaN with fewer than
        :data:`MIN_DRAWS` draws a chain (ArviZ's minimum: the split chains need two
        draws each).
    """
    draws = np.asarray(draws)
    k = draws.shape[2]
    if draws.shape[1] < MIN_DRAWS:
        return np.full(k, np.nan), np.full(k, np.nan), np.full(k, np.nan)
    out = [np.empty(k) for _ in range(3)]
    for start in range(0, k, CHUNK):
        parts = _chunk(draws[:, :, start:start + CHUNK])
        for o, part in zip(out, parts, strict=True):
            o[start:start + CHUNK] = part
    return out[0], out[1], out[2]


def ebfmi(energy: np.ndarray) -> np.ndarray:
    """E-BFMI of each chain, as ArviZ's ``bfmi``: the mean squared change of the
    Hamiltonian energy between consecutive draws over the energy's variance (``n - 1`` denominator).

    Computed with numpy: ArviZ's variance is a numba function compiled in every new
    process (0.3 s of each fit's checks there).

    Parameters
    ----------
    energy : numpy.ndarray
        ``(chains, draws)`` (or one chain's draws).

    Returns
    -------
    numpy.ndarray
        One value per chain.

    Examples
    --------
    >>> import numpy as np
    >>> e = np.array([[0.0, 1.0, 0.0, 1.0], [0.0, 1.0, 2.0, 3.0]])
    >>> ebfmi(e).round(3).tolist()
    [3.0, 0.6]
    """
    e = np.atleast_2d(np.asarray(energy, dtype=float))
    return np.square(np.diff(e, axis=1)).mean(axis=1) / e.var(axis=1, ddof=1)
