"""Gaussian models with the group effects integrated out analytically.

For a Gaussian model ``y = X beta + Z u + e``, ``u ~ Normal(0, Lambda Lambda')``,
``e ~ Normal(0, s I)`` (``s = sigma^2``), the group effects can be integrated out:
``y ~ Normal(X beta, s I + Z Lambda Lambda' Z')``. NUTS then moves only in the
population-level parameters (fixed effects, sigma, sds, correlations), a space of a
handful of dimensions with none of the funnels of the joint posterior, and the
group effects are drawn afterwards, exactly, from their conditional posterior
given each draw (as Lai, Domke and Sheldon, NeurIPS 2024, for HMC; lme4's
profiled deviance uses the same algebra).

With ``r = y - X beta``, ``A = Z'Z``, ``b = Z'r`` and
``M = I + Lambda' A Lambda / s`` (Woodbury's identity, with ``w = Lambda' b / s``)::

    log p(y | beta, s, Lambda) = -1/2 (n log s + log det M + r'r / s - w' M^-1 w) + const

Everything is a function of the sufficient statistics ``y'y``, ``X'y``, ``X'X`` and,
for each *cluster* of effects that no row connects to another cluster, ``A``,
``Z'y`` and ``Z'X``: with one grouping factor a cluster is one level (its terms in
every block of that factor), so a gradient costs O(levels) whatever the number of
rows; with crossed or nested factors every effect is in one dense cluster, used
when there are few effects (see :data:`mixedfit.fast.layout.MARGINAL_DENSE_MAX`).

Given the parameters, ``v = Lambda^-1 u`` is ``Normal(M^-1 w, M^-1)`` in each
cluster, which :func:`draw_effects` samples.

The gradient (``m = M^-1 w``)::

    d/d Lambda = -(A Lambda (M^-1 + m m') - b m') / s
    d/d beta   = (X'r - (Z'X)' Lambda m) / s
    d/d log sigma = -(n - sum(k - tr M^-1) - r'r / s + sum(m'w + m'm))

(sums over clusters of ``k`` effects), which :func:`mixedfit.fast.kernel.block_hyper`
carries on to the sds and correlations.

The buffer is the kernel's (:mod:`mixedfit.fast.layout`) with header slot
:data:`H_MARG` pointing at ``[n, y'y, X'y (p), X'X (p x p), clusters, k_max,
shared, offsets]`` (``shared``: 1 when every cluster has the same Lambda, as with
one grouping factor), the offsets (one per cluster) counted from the start of that part;
each cluster's record is ``[k, block (k), term (k), level (k), position (k),
A (k x k), Z'y (k), Z'X (k x p)]`` (``position``: the effect's index in the
concatenated effects of all blocks, level by level within a block).
"""

from __future__ import annotations

import math

import numba
import numpy as np

from mixedfit.fast import cache
from mixedfit.fast.buffer import (
    BLOCK_WIDTH,
    H_BLOCKS,
    H_FAM_POS,
    H_FAM_PRIOR,
    H_FIXED_SIGMA,
    H_FIXED_X,
    H_MARG,
    H_NBLOCKS,
    H_P,
    UNIFORM,
)
from mixedfit.fast.kernel import (
    block_factors,
    block_hyper,
    bounded,
    fixed_from_sampler,
    fixed_grad_to_sampler,
    fixed_priors,
    prior_at,
    sd_value,
)

cache.refresh()  # before numba compiles anything here or loads it from its cache


@numba.njit(cache=True, error_model="numpy")
def _structure(buf: np.ndarray, r: int, chols: np.ndarray, lam: np.ndarray,
               pairs: np.ndarray, hi: np.ndarray) -> int:
    """Lambda of the cluster at ``buf[r:]`` in ``lam``, its entries that are parameters
    in ``pairs`` (rows: j1, j2, block, term 1, term 2; returns their number), and in
    ``hi[j]`` one past the last row of column ``j`` that can be non-zero (Lambda is
    block diagonal: one block per level and block)."""
    k = int(buf[r])
    eb = r + 1
    et = eb + k
    el = et + k
    npairs = 0
    for j2 in range(k):
        hi[j2] = j2 + 1
        while hi[j2] < k and buf[eb + hi[j2]] == buf[eb + j2] and \
                buf[el + hi[j2]] == buf[el + j2]:
            hi[j2] += 1
    for j1 in range(k):
        for j2 in range(k):
            v = 0.0
            if buf[eb + j1] == buf[eb + j2] and buf[el + j1] == buf[el + j2]:
                t1 = int(buf[et + j1])
                t2 = int(buf[et + j2])
                if t1 >= t2:
                    v = chols[int(buf[eb + j1]), t1, t2]
                    pairs[npairs, 0] = j1
                    pairs[npairs, 1] = j2
                    pairs[npairs, 2] = int(buf[eb + j1])
                    pairs[npairs, 3] = t1
                    pairs[npairs, 4] = t2
                    npairs += 1
            lam[j1, j2] = v
    return npairs


@numba.njit(cache=True, error_model="numpy")
def _cluster(buf: np.ndarray, r: int, k: int, p: int, beta: np.ndarray, s: float,
             lam: np.ndarray, hi: np.ndarray, bv: np.ndarray, al: np.ndarray, rr: np.ndarray,
             w: np.ndarray, mv: np.ndarray) -> float:
    """One cluster of ``k`` effects at the record ``buf[r:]``, given its Lambda
    ``lam``: fills ``bv`` (b), ``al`` (A Lambda), ``rr`` (lower Cholesky factor of M),
    ``w`` and ``mv`` (M^-1 w) in their leading ``k x k`` / ``k`` parts; returns the
    product of the diagonal of ``rr`` (the square root of det M, at least 1)."""
    a_at = r + 1 + 4 * k
    b_at = a_at + k * k
    zx = b_at + k
    for j in range(k):
        acc = buf[b_at + j]
        for c in range(p):
            acc -= buf[zx + j * p + c] * beta[c]
        bv[j] = acc
    for i in range(k):
        for j in range(k):
            acc = 0.0
            for t in range(j, hi[j]):  # the non-zero part of column j of lam
                acc += buf[a_at + i * k + t] * lam[t, j]
            al[i, j] = acc
    det = 1.0
    for j in range(k):  # Cholesky of M = I + lam' al / s, column by column
        for i in range(j, k):
            acc = 0.0
            for t in range(i, hi[i]):
                acc += lam[t, i] * al[t, j]
            acc = acc / s + (1.0 if i == j else 0.0)
            for t in range(j):
                acc -= rr[i, t] * rr[j, t]
            if i == j:
                rr[j, j] = math.sqrt(acc)
                det *= rr[j, j]
            else:
                rr[i, j] = acc / rr[j, j]
    for i in range(k):
        acc = 0.0
        for t in range(i, hi[i]):
            acc += lam[t, i] * bv[t]
        w[i] = acc / s
    for i in range(k):  # forward: rr y = w
        acc = w[i]
        for t in range(i):
            acc -= rr[i, t] * mv[t]
        mv[i] = acc / rr[i, i]
    for i in range(k - 1, -1, -1):  # backward: rr' m = y
        acc = mv[i]
        for t in range(i + 1, k):
            acc -= rr[t, i] * mv[t]
        mv[i] = acc / rr[i, i]
    return det


@numba.njit(cache=True, inline="always", error_model="numpy")
def _small(buf: np.ndarray, r: int, k: int, p: int, beta: np.ndarray, s: float, l00: float,
           l10: float, l11: float) -> tuple:
    """:func:`_cluster` written out for one or two effects (a one-effect cluster is
    the first of two with the second's data zero): ``(b0, b1, al00, al01, al10, al11,
    r00, r10, r11, w0, w1, m0, m1)``, ``al = A Lambda`` and ``r`` the Cholesky factor
    of M."""
    a_at = r + 1 + 4 * k
    zx = a_at + k * k + k
    b0 = buf[a_at + k * k]
    for c in range(p):
        b0 -= buf[zx + c] * beta[c]
    a00 = buf[a_at]
    if k == 2:
        a01 = buf[a_at + 1]
        a11 = buf[a_at + 3]
        b1 = buf[a_at + 5]
        for c in range(p):
            b1 -= buf[zx + p + c] * beta[c]
    else:
        a01 = a11 = b1 = 0.0
    al00 = a00 * l00 + a01 * l10
    al01 = a01 * l11
    al10 = a01 * l00 + a11 * l10
    al11 = a11 * l11
    r00 = math.sqrt(1.0 + (l00 * al00 + l10 * al10) / s)
    r10 = l11 * al10 / s / r00
    r11 = math.sqrt(1.0 + l11 * al11 / s - r10 * r10)
    w0 = (l00 * b0 + l10 * b1) / s
    w1 = l11 * b1 / s
    y0 = w0 / r00
    m1 = (w1 - r10 * y0) / (r11 * r11)
    m0 = (y0 - r10 * m1) / r00
    return b0, b1, al00, al01, al10, al11, r00, r10, r11, w0, w1, m0, m1


@numba.njit(cache=True, error_model="numpy")
def _work(kmax: int) -> tuple:
    """Work arrays for clusters of up to ``kmax`` effects: ``lam``, ``al``, ``rr``
    (k x k), ``bv``, ``w``, ``mv`` (k), ``pairs`` and ``hi`` (see :func:`_structure`)."""
    return (np.zeros((kmax, kmax)), np.empty((kmax, kmax)), np.zeros((kmax, kmax)),
            np.empty(kmax), np.empty(kmax), np.empty(kmax),
            np.empty((kmax * kmax, 5), dtype=np.int64), np.empty(kmax, dtype=np.int64))


@numba.njit(cache=True, error_model="numpy")
def _setup(x: np.ndarray, buf: np.ndarray) -> tuple[np.ndarray, float, np.ndarray, float]:
    """Fixed effects, sigma and every block's Cholesky factor at ``x``, and the log
    Jacobian of the fixed effects' map (0 without one: see
    :func:`mixedfit.fast.kernel.fixed_from_sampler`)."""
    fam_pos = int(buf[H_FAM_POS])  # -1: sigma known (se=), fixed at H_FIXED_SIGMA
    sigma = sd_value(buf, int(buf[H_FAM_PRIOR]), x[fam_pos]) if fam_pos >= 0 else (
        buf[H_FIXED_SIGMA])
    p = int(buf[H_P])
    if int(buf[H_FIXED_X]) >= 0:  # Uniform priors on fixed effects
        beta = np.empty(p)
        logj = fixed_from_sampler(x, buf, beta)
        return beta, sigma, block_factors(x, buf), logj
    return x[:p], sigma, block_factors(x, buf), 0.0


@numba.njit(cache=True, error_model="numpy")
def marginal_logp_grad(x: np.ndarray, grad: np.ndarray, buf: np.ndarray) -> float:
    """Log posterior density of the population-level parameters (group effects
    integrated out) at ``x``, up to a constant; fills ``grad``."""
    p = int(buf[H_P])
    nblocks = int(buf[H_NBLOCKS])
    grad[:] = 0.0
    logp = 0.0
    beta, sigma, chols, logj = _setup(x, buf)
    logp += logj
    logp += fixed_priors(beta, grad, buf)
    fam_pos = int(buf[H_FAM_POS])
    # a Uniform prior on sigma: an interval transform; the likelihood's gradient comes in
    # log sigma, the prior's and Jacobian's after it
    sigma_bounded = False
    sigma_extra = 0.0
    dsigma = 0.0
    if fam_pos >= 0:
        fp = int(buf[H_FAM_PRIOR])
        if int(buf[fp]) == UNIFORM:
            sigma_bounded = True
            sigma, lp, sigma_extra, dsigma = bounded(buf, fp, x[fam_pos])
            logp += lp
        else:
            lp, d = prior_at(buf, fp, sigma)
            logp += lp + x[fam_pos]
            grad[fam_pos] += d * sigma + 1.0
    s = sigma * sigma

    mg = int(buf[H_MARG])
    n_obs = buf[mg]
    cq = buf[mg + 1]  # r'r
    gb = np.empty(p)  # X'r, then minus (Z'X)' Lambda m over the clusters
    for c in range(p):
        acc = 0.0
        for c2 in range(p):
            acc += buf[mg + 2 + p + c * p + c2] * beta[c2]
        cq += beta[c] * (acc - 2.0 * buf[mg + 2 + c])
        gb[c] = buf[mg + 2 + c] - acc
    at = mg + 2 + p + p * p
    ncl = int(buf[at])
    kmax = int(buf[at + 1])
    shared = buf[at + 2] > 0  # every cluster has the same Lambda (one grouping factor)
    lam, al, rr, bv, w, mv, pairs, hi = _work(kmax)
    glam = np.zeros(kmax * kmax)  # gradient with respect to each entry in pairs
    npairs = 0
    gcs = np.zeros(chols.shape)  # gradient with respect to each block's factor
    det = 1.0
    logdet = 0.0
    wm = 0.0
    ds = 0.0  # sum(k - tr M^-1) - sum(m'm)
    if shared and kmax <= 2:
        # one grouping factor with one or two terms: the algebra written out
        r = mg + int(buf[at + 3])
        k = int(buf[r])
        npairs = _structure(buf, r, chols, lam, pairs, hi)
        l00 = lam[0, 0]
        l10 = lam[1, 0] if k == 2 else 0.0
        l11 = lam[1, 1] if k == 2 else 0.0
        g00 = g10 = g11 = 0.0
        for cl in range(ncl):
            r = mg + int(buf[at + 3 + cl])
            b0, b1, al00, al01, al10, al11, r00, r10, r11, w0, w1, m0, m1 = _small(
                buf, r, k, p, beta, s, l00, l10, l11)
            det *= r00 * r11
            if det > 1e250:
                logdet += math.log(det)
                det = 1.0
            wm += w0 * m0 + w1 * m1
            ri00 = 1.0 / r00
            ri11 = 1.0 / r11
            ri10 = -r10 * ri00 * ri11
            mi00 = ri00 * ri00 + ri10 * ri10
            mi10 = ri11 * ri10
            mi11 = ri11 * ri11
            ds += 2.0 - mi00 - mi11 - m0 * m0 - m1 * m1
            p00 = mi00 + m0 * m0
            p10 = mi10 + m0 * m1
            p11 = mi11 + m1 * m1
            g00 -= al00 * p00 + al01 * p10 - b0 * m0
            g10 -= al10 * p00 + al11 * p10 - b1 * m0
            g11 -= al10 * p10 + al11 * p11 - b1 * m1
            lm0 = l00 * m0
            lm1 = l10 * m0 + l11 * m1
            zx = r + 1 + 4 * k + k * k + k
            for c in range(p):
                gb[c] -= buf[zx + c] * lm0
                if k == 2:
                    gb[c] -= buf[zx + p + c] * lm1
        for e in range(npairs):
            j = pairs[e, 0] * 2 + pairs[e, 1]
            glam[e] = g00 if j == 0 else (g10 if j == 2 else g11)
    else:
        ri = np.zeros((kmax, kmax))  # rr^-1
        mi = np.empty((kmax, kmax))  # M^-1
        for cl in range(ncl):
            r = mg + int(buf[at + 3 + cl])
            k = int(buf[r])
            if cl == 0 or not shared:
                for e in range(npairs):  # the previous structure's gradient, to the blocks
                    gcs[pairs[e, 2], pairs[e, 3], pairs[e, 4]] += glam[e] / s
                    glam[e] = 0.0
                npairs = _structure(buf, r, chols, lam, pairs, hi)
            det *= _cluster(buf, r, k, p, beta, s, lam, hi, bv, al, rr, w, mv)
            if det > 1e250:
                logdet += math.log(det)
                det = 1.0
            for i in range(k):
                wm += w[i] * mv[i]
                ds -= mv[i] * mv[i]
            for j in range(k):  # ri = rr^-1 (lower), M^-1 = ri' ri
                ri[j, j] = 1.0 / rr[j, j]
                for i in range(j + 1, k):
                    acc = 0.0
                    for t in range(j, i):
                        acc -= rr[i, t] * ri[t, j]
                    ri[i, j] = acc / rr[i, i]
            for i in range(k):
                for j in range(i + 1):
                    acc = 0.0
                    for t in range(i, k):
                        acc += ri[t, i] * ri[t, j]
                    mi[i, j] = acc
                    mi[j, i] = acc
                ds += 1.0 - mi[i, i]
            for e in range(npairs):
                j1 = pairs[e, 0]
                j2 = pairs[e, 1]
                acc = 0.0
                for t in range(k):
                    acc += al[j1, t] * (mi[t, j2] + mv[t] * mv[j2])
                glam[e] -= acc - bv[j1] * mv[j2]
            zx = r + 1 + 4 * k + k * k + k
            for j in range(k):
                acc = 0.0  # (lam m)_j
                for t in range(j + 1):
                    acc += lam[j, t] * mv[t]
                for c in range(p):
                    gb[c] -= buf[zx + j * p + c] * acc
    logdet += math.log(det)
    for e in range(npairs):
        gcs[pairs[e, 2], pairs[e, 3], pairs[e, 4]] += glam[e] / s
    logp += -n_obs * math.log(sigma) - 0.5 * (2.0 * logdet + cq / s - wm)
    if fam_pos >= 0:
        grad[fam_pos] += -(n_obs - ds - cq / s + wm)
        if sigma_bounded:  # from log sigma to the sampler's coordinate
            grad[fam_pos] = grad[fam_pos] * dsigma / sigma + sigma_extra
    for c in range(p):
        grad[c] += gb[c] / s
    for b in range(nblocks):
        logp += block_hyper(x, grad, buf, int(buf[H_BLOCKS]) + BLOCK_WIDTH * b, chols[b],
                            gcs[b])
    if int(buf[H_FIXED_X]) >= 0:
        fixed_grad_to_sampler(x, grad, buf)
    return logp


@numba.njit(cache=True, error_model="numpy")
def draw_effects(xs: np.ndarray, buf: np.ndarray, eps: np.ndarray, out: np.ndarray) -> None:
    """Group effects drawn from their conditional posterior given each row of ``xs``.

    ``xs``: draws of the parameter vector (draws x dim); ``eps``: standard normal
    values (draws x effects); ``out`` (draws x effects, any float type) receives
    ``u = Lambda (m + R^-T eps)``, with ``M = R R'``, in the kernel's effect order.
    """
    p = int(buf[H_P])
    mg = int(buf[H_MARG])
    at = mg + 2 + p + p * p
    ncl = int(buf[at])
    kmax = int(buf[at + 1])
    shared = buf[at + 2] > 0
    lam, al, rr, bv, w, mv, pairs, hi = _work(kmax)
    v = np.empty(kmax)
    for d in range(xs.shape[0]):
        beta, sigma, chols, _ = _setup(xs[d], buf)
        s = sigma * sigma
        for cl in range(ncl):
            r = mg + int(buf[at + 3 + cl])
            k = int(buf[r])
            if cl == 0 or not shared:
                _structure(buf, r, chols, lam, pairs, hi)
            ep = r + 1 + 3 * k
            if shared and kmax <= 2:
                l10 = lam[1, 0] if k == 2 else 0.0
                l11 = lam[1, 1] if k == 2 else 0.0
                res = _small(buf, r, k, p, beta, s, lam[0, 0], l10, l11)
                r00, r10, r11, m0, m1 = res[6], res[7], res[8], res[11], res[12]
                v1 = 0.0
                if k == 2:
                    v1 = eps[d, int(buf[ep + 1])] / r11
                v0 = (eps[d, int(buf[ep])] - r10 * v1) / r00
                out[d, int(buf[ep])] = lam[0, 0] * (v0 + m0)
                if k == 2:
                    out[d, int(buf[ep + 1])] = l10 * (v0 + m0) + l11 * (v1 + m1)
                continue
            _cluster(buf, r, k, p, beta, s, lam, hi, bv, al, rr, w, mv)
            for i in range(k - 1, -1, -1):  # v = m + rr'^-1 eps
                acc = eps[d, int(buf[ep + i])]
                for t in range(i + 1, k):
                    acc -= rr[t, i] * v[t]
                v[i] = acc / rr[i, i]
            for i in range(k):
                v[i] += mv[i]
            for j in range(k):
                acc = 0.0
                for t in range(j + 1):
                    acc += lam[j, t] * v[t]
                out[d, int(buf[ep + j])] = acc
