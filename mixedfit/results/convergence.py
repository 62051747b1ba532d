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


def _z_scale(x: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata  # deferred: scipy.stats is heavy to import

    c, n, k = x.shape
    flat = np.ascontiguousarray(x.reshape(c * n, k).T)  # sort along contiguous rows
    rank = rankdata(flat, method="average", axis=1)
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
    out = np.empty(k)
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
    for j in range(k):
        if const[j]:
            out[j] = total
            continue
        if not np.all(np.isfinite(rho[:, j])):
            out[j] = np.nan
            continue
        tau = _tau(rho[:, j], n)
        out[j] = total / max(tau, 1.0 / np.log10(total))
    return out


def _tau(rho_in: np.ndarray, n_draw: int) -> float:
    """ArviZ's Geyer initial positive and monotone sequences, for one parameter."""
    rho_t = np.zeros(n_draw)
    rho_even = 1.0
    rho_t[0] = rho_even
    rho_odd = rho_in[1]
    rho_t[1] = rho_odd
    t = 1
    while t < (n_draw - 3) and (rho_even + rho_odd) > 0.0:
        rho_even = rho_in[t + 1]
        rho_odd = rho_in[t + 2]
        if (rho_even + rho_odd) >= 0:
            rho_t[t + 1] = rho_even
            rho_t[t + 2] = rho_odd
        t += 2
    max_t = t - 2
    if rho_even > 0:
        rho_t[max_t + 1] = rho_even
    t = 1
    while t <= max_t - 2:
        if (rho_t[t + 1] + rho_t[t + 2]) > (rho_t[t - 1] + rho_t[t]):
            rho_t[t + 1] = (rho_t[t - 1] + rho_t[t]) / 2.0
            rho_t[t + 2] = rho_t[t + 1]
        t += 2
    return -1.0 + 2.0 * np.sum(rho_t[:max_t + 1]) + np.sum(rho_t[max_t + 1:max_t + 2])


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
