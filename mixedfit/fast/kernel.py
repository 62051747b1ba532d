"""The log posterior density and its gradient, written by hand and compiled once.

One numba function serves every model that :mod:`mixedfit.fast.layout` can
describe: its shape (fixed effects, blocks of group effects, family, priors) is
read at run time from a flat float64 buffer, so the machine code does not
depend on the model and numba's on-disk cache (``cache=True``) makes it a
one-off cost per installation rather than per fit.

The buffer's slots are defined in :mod:`mixedfit.fast.buffer`, the parameter vector
in :mod:`mixedfit.fast.layout`. Constants that do not depend on the parameters are
left out of the density: NUTS needs the density only up to a constant.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from mixedfit.fast import cache
from mixedfit.fast.buffer import (
    B_CENTRED,
    B_COR_POS,
    B_CORR,
    B_EFF_POS,
    B_ETA,
    B_FOLD,
    B_INDEX,
    B_M,
    B_MAP,
    B_PRED,
    B_Q,
    B_RUNS,
    B_SD_POS,
    B_SD_PRIOR,
    B_SIGNED,
    B_Z,
    BETA_PRIOR,
    BINOMIAL,
    BLOCK_WIDTH,
    EXPONENTIAL,
    GAMMA,
    GAUSSIAN,
    H_BETA_MAP,
    H_BETA_PRIOR,
    H_BLOCKS,
    H_FAM_KIND,
    H_FAM_POS,
    H_FAM_PRIOR,
    H_FAMILY,
    H_FIXED_SIGMA,
    H_FIXED_X,
    H_FOLDED,
    H_LINK,
    H_NB_COUNTS,
    H_NBLOCKS,
    H_NFAM,
    H_NOBS,
    H_NROWS,
    H_OFFSET,
    H_P,
    H_REFLECT,
    H_SS,
    H_SSDATA,
    H_TRIALS,
    H_WEIGHTS,
    H_X,
    H_XMAP,
    H_XPRED,
    H_Y,
    HALFCAUCHY,
    HALFNORMAL,
    HALFSTUDENTT,
    IDENTITY,
    INVGAMMA,
    LAPLACE,
    LOG,
    LOGIT,
    LOGNORMAL,
    NEGATIVEBINOMIAL,
    NORMAL,
    PARAM_INCREMENT,
    PARAM_LINKED_IDENTITY,
    PARAM_LINKED_LOG,
    PARAM_LINKED_LOGIT,
    PARAM_REAL,
    PARAM_UNIT,
    POISSON,
    PRIOR_WIDTH,
    STUDENTT,
    UNIFORM,
)
from mixedfit.fast.rowlik import general_rows
from mixedfit.fast.vecrows import logistic_rows, negbin_log_rows, poisson_log_rows

cache.refresh()  # before numba compiles anything here or loads it from its cache

#: fast-math flags of the row pass: sums over rows in any order (so that they
#: vectorise) and fused multiply-adds; none that assumes finite values
_ROWS_FAST = {"reassoc", "contract"}


@numba.njit(cache=True, inline="always", error_model="numpy")
def prior_logp(code: int, a: float, b: float, c: float, v: float) -> tuple[float, float]:
    """Log density (up to a constant) of a prior at ``v`` and its derivative."""
    if code == GAMMA:  # alpha=a, beta=b
        return (a - 1.0) * math.log(v) - b * v, (a - 1.0) / v - b
    if code == INVGAMMA:  # alpha=a, beta=b
        return -(a + 1.0) * math.log(v) - b / v, -(a + 1.0) / v + b / (v * v)
    if code == LOGNORMAL:  # mu=a, sigma=b
        lv = math.log(v)
        z = (lv - a) / b
        return -lv - 0.5 * z * z - math.log(b), -(1.0 + z / b) / v
    if code == BETA_PRIOR:  # alpha=a, beta=b, on (0, 1)
        return ((a - 1.0) * math.log(v) + (b - 1.0) * math.log1p(-v),
                (a - 1.0) / v - (b - 1.0) / (1.0 - v))
    if code == LAPLACE:  # mu=a, b=b
        t = v - a
        return -abs(t) / b - math.log(b), (-1.0 if t > 0 else 1.0) / b
    if code == NORMAL:  # mu=a, sigma=b
        z = (v - a) / b
        return -0.5 * z * z - math.log(b), -z / b
    if code == HALFNORMAL:  # sigma=a
        z = v / a
        return -0.5 * z * z - math.log(a), -z / a
    if code == HALFSTUDENTT:  # nu=a, sigma=b
        t = v / b
        w = 1.0 + t * t / a
        return -0.5 * (a + 1.0) * math.log(w) - math.log(b), -(a + 1.0) * t / (a * b * w)
    if code == EXPONENTIAL:  # lam=a
        return math.log(a) - a * v, -a
    if code == HALFCAUCHY:  # beta=a
        t = v / a
        return -math.log1p(t * t) - math.log(a), -2.0 * t / (a * (1.0 + t * t))
    if code == STUDENTT:  # nu=a, mu=b, sigma=c
        t = (v - b) / c
        w = 1.0 + t * t / a
        return -0.5 * (a + 1.0) * math.log(w) - math.log(c), -(a + 1.0) * t / (a * c * w)
    if code == UNIFORM:  # lower=a, upper=b; flat: an interval transform keeps v inside
        return -math.log(b - a), 0.0
    # CAUCHY: alpha=a, beta=b
    t = (v - a) / b
    return -math.log1p(t * t) - math.log(b), -2.0 * t / (b * (1.0 + t * t))


@numba.njit(cache=True, inline="always", error_model="numpy")
def prior_at(buf: np.ndarray, at: int, v: float) -> tuple[float, float]:
    """The prior whose row starts at ``buf[at]``, at the sampler's value ``v`` (the prior
    sits on ``factor * v``): log density up to a constant and its derivative in ``v``."""
    f = buf[at + 4]
    lp, d = prior_logp(int(buf[at]), buf[at + 1], buf[at + 2], buf[at + 3], f * v)
    return lp, d * f


@numba.njit(cache=True, inline="always", error_model="numpy")
def _log_sigmoids(x: float) -> tuple[float, float]:
    """``log s`` and ``log(1 - s)`` for ``s = 1 / (1 + exp(-x))``, finite for finite ``x``."""
    soft = math.log1p(math.exp(-abs(x)))  # log(1 + exp(-|x|))
    return -soft - max(-x, 0.0), -soft - max(x, 0.0)


@numba.njit(cache=True, inline="always", error_model="numpy")
def bounded(buf: np.ndarray, at: int, x: float) -> tuple[float, float, float, float]:
    """A parameter whose prior (row at ``buf[at]``) is ``Uniform(lower, upper)`` on
    ``factor * v``, moved by an interval transform (PyMC's): ``factor * v = lower +
    (upper - lower) sigmoid(x)``. Value ``v``, log prior + log Jacobian (up to a
    constant), its derivative in ``x``, and ``dv / dx``."""
    lo = buf[at + 1]
    w = buf[at + 2] - lo
    f = buf[at + 4]
    log_s, log_t = _log_sigmoids(x)
    s = math.exp(log_s)
    t = math.exp(log_t)
    # the prior's -log(w) and the Jacobian's log(w s t / f)
    return (lo + w * s) / f, log_s + log_t - math.log(f), t - s, w * s * t / f


@numba.njit(cache=True, inline="always", error_model="numpy")
def sd_value(buf: np.ndarray, at: int, x: float) -> float:
    """An sd (its prior's row at ``buf[at]``) from the sampler's value: ``exp(x)``, or
    the interval transform of :func:`bounded` under a Uniform prior."""
    if int(buf[at]) == UNIFORM:
        return bounded(buf, at, x)[0]
    return math.exp(x)


@numba.njit(cache=True, inline="always", error_model="numpy")
def _log1m_tanh2(y: float) -> float:
    """``log(1 - tanh(y)^2)``, finite for every finite ``y``."""
    a = abs(y)
    return 2.0 * (math.log(2.0) - a - math.log1p(math.exp(-2.0 * a)))


@numba.njit(cache=True, error_model="numpy")
def corr_cholesky(y: np.ndarray, k: int, eta: float, chol: np.ndarray, tangent: np.ndarray,
                  dlogp: np.ndarray) -> float:
    """Cholesky factor of a correlation matrix from unconstrained values.

    ``y`` holds the ``k (k - 1) / 2`` unconstrained canonical partial correlations
    (row by row below the diagonal), mapped to (-1, 1) by ``tanh``. Fills ``chol``
    (k x k), its derivatives ``tangent[t] = d chol / d y[t]`` and ``dlogp``, the
    gradient of the returned value: the log Jacobian of the map plus the LKJ(eta)
    log density of the correlation matrix (as Stan's ``cholesky_factor_corr`` and
    ``lkj_corr_cholesky``).
    """
    nc = y.shape[0]
    chol[:, :] = 0.0
    tangent[:, :, :] = 0.0
    dlogp[:] = 0.0
    logp = 0.0
    chol[0, 0] = 1.0
    w = np.tanh(y)
    dw = 1.0 - w * w
    sumsq_t = np.zeros(nc)
    for t in range(nc):
        logp += _log1m_tanh2(y[t])
        dlogp[t] += -2.0 * w[t]
    pos = 0
    for i in range(1, k):
        sumsq = 0.0
        sumsq_t[:] = 0.0
        for j in range(i):
            if not 1.0 - sumsq > 0.0:  # |correlation| 1 in floating point: no density
                return -np.inf
            s = math.sqrt(1.0 - sumsq)
            if j >= 1:
                logp += 0.5 * math.log(1.0 - sumsq)
                for t in range(nc):
                    dlogp[t] += -0.5 * sumsq_t[t] / (1.0 - sumsq)
            chol[i, j] = w[pos] * s
            for t in range(nc):
                st = -0.5 * sumsq_t[t] / s
                tangent[t, i, j] = w[pos] * st
            tangent[pos, i, j] += dw[pos] * s
            sumsq += chol[i, j] * chol[i, j]
            for t in range(nc):
                sumsq_t[t] += 2.0 * chol[i, j] * tangent[t, i, j]
            pos += 1
        if not 1.0 - sumsq > 0.0:
            return -np.inf
        d = math.sqrt(1.0 - sumsq)
        chol[i, i] = d
        coef = k - i + 2.0 * eta - 3.0
        logp += coef * math.log(d)
        for t in range(nc):
            tangent[t, i, i] = -0.5 * sumsq_t[t] / d
            dlogp[t] += coef * tangent[t, i, i] / d
    return logp


@numba.njit(cache=True, error_model="numpy")
def block_factor(x: np.ndarray, buf: np.ndarray, base: int, c: np.ndarray) -> None:
    """Fill ``c[:q, :q]`` with a block's ``C = diag(sd) L``, the Cholesky factor of the
    covariance of its effects (``L`` from the correlation parameters, or the identity)."""
    q = int(buf[base + B_Q])
    sd_pos = int(buf[base + B_SD_POS])
    cor_pos = int(buf[base + B_COR_POS])
    sp_at = int(buf[base + B_SD_PRIOR])
    if buf[base + B_SIGNED] > 0:  # one signed sd s: C = s (the effects s z)
        c[0, 0] = x[sd_pos]
        return
    for i in range(q):
        c[i, i] = sd_value(buf, sp_at + PRIOR_WIDTH * i, x[sd_pos + i])
    if buf[base + B_CORR] > 0 and q > 1:
        nc = q * (q - 1) // 2
        lc = np.empty((q, q))
        tan = np.empty((nc, q, q))
        dl = np.empty(nc)
        corr_cholesky(x[cor_pos:cor_pos + nc], q, buf[base + B_ETA], lc, tan, dl)
        for i in range(q):
            sd = sd_value(buf, sp_at + PRIOR_WIDTH * i, x[sd_pos + i])
            for j in range(i + 1):
                c[i, j] = sd * lc[i, j]


@numba.njit(cache=True, error_model="numpy")
def block_factors(x: np.ndarray, buf: np.ndarray) -> np.ndarray:
    """Every block's factor ``C`` (:func:`block_factor`), as ``(blocks, q_max, q_max)``."""
    nblocks = int(buf[H_NBLOCKS])
    max_q = 1
    for b in range(nblocks):
        max_q = max(max_q, int(buf[int(buf[H_BLOCKS]) + BLOCK_WIDTH * b + B_Q]))
    chols = np.zeros((nblocks, max_q, max_q))
    for b in range(nblocks):
        block_factor(x, buf, int(buf[H_BLOCKS]) + BLOCK_WIDTH * b, chols[b])
    return chols


@numba.njit(cache=True, error_model="numpy")
def block_hyper(x: np.ndarray, grad: np.ndarray, buf: np.ndarray, base: int, c: np.ndarray,
                gc: np.ndarray) -> float:
    """Priors of a block's sds and correlations (with the Jacobians of their
    transforms); adds to ``grad`` their gradient and the chain rule of ``gc``, the
    gradient of the rest of the density with respect to ``C = diag(sd) L``."""
    q = int(buf[base + B_Q])
    sd_pos = int(buf[base + B_SD_POS])
    cor_pos = int(buf[base + B_COR_POS])
    sp_at = int(buf[base + B_SD_PRIOR])
    if buf[base + B_SIGNED] > 0:  # the prior at |s|, no Jacobian; C = s
        s = x[sd_pos]
        lp, d = prior_at(buf, sp_at, abs(s))
        grad[sd_pos] += gc[0, 0] + (d if s >= 0.0 else -d)
        return lp
    logp = 0.0
    for i in range(q):
        at = sp_at + PRIOR_WIDTH * i
        if int(buf[at]) == UNIFORM:  # an interval transform, not the log
            sd, lp, d, dsd = bounded(buf, at, x[sd_pos + i])
            logp += lp
            gsd = 0.0
            for j in range(i + 1):
                gsd += gc[i, j] * c[i, j] / sd
            grad[sd_pos + i] += gsd * dsd + d
            continue
        sd = math.exp(x[sd_pos + i])
        lp, d = prior_at(buf, at, sd)
        logp += lp + x[sd_pos + i]
        gsd = 0.0
        for j in range(i + 1):
            gsd += gc[i, j] * c[i, j] / sd
        grad[sd_pos + i] += (gsd + d) * sd + 1.0
    if buf[base + B_CORR] > 0 and q > 1:
        nc = q * (q - 1) // 2
        lc = np.empty((q, q))
        tan = np.empty((nc, q, q))
        dl = np.empty(nc)
        logp += corr_cholesky(x[cor_pos:cor_pos + nc], q, buf[base + B_ETA], lc, tan, dl)
        for t in range(nc):
            acc = dl[t]
            for i in range(q):
                sd = sd_value(buf, sp_at + PRIOR_WIDTH * i, x[sd_pos + i])
                for j in range(i + 1):
                    acc += gc[i, j] * sd * tan[t, i, j]
            grad[cor_pos + t] += acc
    return logp


@numba.njit(cache=True, error_model="numpy")
def fixed_priors(x: np.ndarray, grad: np.ndarray, buf: np.ndarray) -> float:
    """Log prior density of the fixed effects; adds its gradient to ``grad``.

    Prior ``k`` sits on ``R_k . x[:p]`` (``R`` at :data:`H_BETA_MAP`, p x p, see
    :meth:`mixedfit.standardize.Standardization.fixed_prior_rows`; the shift is in the
    prior's location)."""
    logp = 0.0
    pa = int(buf[H_BETA_PRIOR])
    p = int(buf[H_P])
    rm = int(buf[H_BETA_MAP])
    for k in range(p):
        v = 0.0
        for c in range(p):
            v += buf[rm + k * p + c] * x[c]
        lp, d = prior_at(buf, pa + PRIOR_WIDTH * k, v)
        logp += lp
        for c in range(p):
            grad[c] += d * buf[rm + k * p + c]
    return logp


@numba.njit(cache=True, error_model="numpy")
def fixed_from_sampler(x: np.ndarray, buf: np.ndarray, beta: np.ndarray) -> float:
    """The fixed effects ``beta*`` from the sampler's coordinates when some of their
    priors are Uniform (the map at :data:`H_FIXED_X`, see :mod:`mixedfit.fast.buffer`);
    returns the log Jacobian of the map (up to a constant)."""
    p = int(buf[H_P])
    at = int(buf[H_FIXED_X])
    nu = int(buf[at])
    lo = at + 1 + nu
    wd = lo + nu
    mm = wd + nu
    y = x[:p].copy()
    logj = 0.0
    for j in range(nu):
        c = int(buf[at + 1 + j])
        log_s, log_t = _log_sigmoids(x[c])
        y[c] = buf[lo + j] + buf[wd + j] * math.exp(log_s)
        logj += log_s + log_t
    for k in range(p):
        acc = 0.0
        for c in range(p):
            acc += buf[mm + k * p + c] * y[c]
        beta[k] = acc
    return logj


@numba.njit(cache=True, error_model="numpy")
def fixed_grad_to_sampler(x: np.ndarray, grad: np.ndarray, buf: np.ndarray) -> None:
    """Turns ``grad[:p]``, the gradient in the fixed effects ``beta*``, into the gradient
    in the sampler's coordinates (with that of :func:`fixed_from_sampler`'s Jacobian)."""
    p = int(buf[H_P])
    at = int(buf[H_FIXED_X])
    nu = int(buf[at])
    wd = at + 1 + 2 * nu
    mm = wd + nu
    gy = np.zeros(p)  # M' grad
    for k in range(p):
        gk = grad[k]
        for c in range(p):
            gy[c] += buf[mm + k * p + c] * gk
    grad[:p] = gy
    for j in range(nu):
        c = int(buf[at + 1 + j])
        log_s, log_t = _log_sigmoids(x[c])
        s = math.exp(log_s)
        t = math.exp(log_t)
        grad[c] = gy[c] * buf[wd + j] * s * t + (t - s)


@numba.njit(cache=True, error_model="numpy")
def _positive(buf: np.ndarray, at: int, x: float) -> tuple[float, float, float]:
    """A positive parameter ``v = exp(x)``: value, log prior + log Jacobian, its gradient."""
    v = math.exp(x)
    lp, d = prior_at(buf, at, v)
    return v, lp + x, d * v + 1.0


@numba.njit(cache=True, error_model="numpy")
def _probability(buf: np.ndarray, at: int, x: float) -> tuple[float, float, float, float]:
    """A probability ``v = 1 / (1 + exp(-x))``: value, log prior + log Jacobian, its
    gradient, and ``dv / dx``."""
    soft = math.log1p(math.exp(-abs(x)))  # log(1 + exp(-|x|))
    log_v = -soft - max(-x, 0.0)  # log v, log(1 - v): finite for every finite x
    log_w = -soft - max(x, 0.0)
    v = math.exp(log_v)
    w = math.exp(log_w)
    lp, d = prior_at(buf, at, v)
    log_jac = log_v + log_w
    return v, lp + log_jac, d * v * w + (w - v), v * w


@numba.njit(cache=True, inline="always", error_model="numpy")
def _block_rows(buf: np.ndarray, base: int, n: int) -> tuple[int, int, int, np.ndarray]:
    """A block's terms, levels, offset of its ``Z`` (-1: intercept only) and level index
    of each row, from its descriptor at ``buf[base:]``."""
    ix = int(buf[base + B_INDEX])
    return int(buf[base + B_Q]), int(buf[base + B_M]), int(buf[base + B_Z]), buf[ix:ix + n]


@numba.njit(cache=True, inline="always", error_model="numpy")
def _run(buf: np.ndarray, rs: int, k: int, q: int) -> tuple[int, int, int]:
    """Run ``k`` of the runs at ``buf[rs:]`` (:data:`B_RUNS`): its first row, the row
    after its last, and the offset of its level's first effect (``q`` a level)."""
    nr = int(buf[rs])
    return int(buf[rs + 1 + k]), int(buf[rs + 2 + k]), int(buf[rs + 2 + nr + k]) * q


@numba.njit(cache=True, inline="always", error_model="numpy")
def _add_effects(buf: np.ndarray, base: int, n: int, u: np.ndarray, eta: np.ndarray) -> None:
    """Adds the block's effects ``u`` (level by level, ``q`` terms each) to each row's
    linear predictor ``eta``: run by run where the block has runs of rows
    (:data:`B_RUNS`: a level's effect added to a slice, a loop that vectorises), else
    row by row through the level index. Inlined: the caller's fast-math flags apply."""
    q, m, zs, index = _block_rows(buf, base, n)
    rs = int(buf[base + B_RUNS])
    if rs >= 0:
        for k in range(int(buf[rs])):
            a, e, g = _run(buf, rs, k, q)
            seg = eta[a:e]
            if zs < 0:
                v = u[g]
                for r in range(e - a):
                    seg[r] += v
            elif q == 2:
                z0 = buf[zs + a:zs + e]
                z1 = buf[zs + n + a:zs + n + e]
                v0 = u[g]
                v1 = u[g + 1]
                for r in range(e - a):
                    seg[r] += z0[r] * v0 + z1[r] * v1
            else:
                for j in range(q):
                    z = buf[zs + j * n + a:zs + j * n + e]
                    v = u[g + j]
                    for r in range(e - a):
                        seg[r] += z[r] * v
    elif zs < 0:
        for r in range(n):
            eta[r] += u[int(index[r])]
    elif q == 2:  # both terms in one pass (a random slope): 1.6 -> 0.9 ns a row
        z0 = buf[zs:zs + n]
        z1 = buf[zs + n:zs + 2 * n]
        for r in range(n):
            g = int(index[r]) * 2
            eta[r] += z0[r] * u[g] + z1[r] * u[g + 1]
    else:
        for j in range(q):
            col = buf[zs + j * n:zs + (j + 1) * n]
            for r in range(n):
                eta[r] += col[r] * u[int(index[r]) * q + j]


@numba.njit(cache=True, inline="always", error_model="numpy")
def _sum_effects(buf: np.ndarray, base: int, n: int, d: np.ndarray, gu: np.ndarray) -> None:
    """Adds to ``gu`` the gradient of the likelihood in the block's effects, from ``d``
    (d logp / d eta of each row): run by run where the block has runs (a sum over a
    slice, with no store inside the loop: under ``reassoc`` it vectorises and its
    order depends only on the run's length), else row by row. Inlined: the caller's
    fast-math flags apply."""
    q, m, zs, index = _block_rows(buf, base, n)
    rs = int(buf[base + B_RUNS])
    if rs >= 0:
        for k in range(int(buf[rs])):
            a, e, g = _run(buf, rs, k, q)
            seg = d[a:e]
            if zs < 0:
                acc = 0.0
                for r in range(e - a):
                    acc += seg[r]
                gu[g] += acc
            elif q == 2:
                z0 = buf[zs + a:zs + e]
                z1 = buf[zs + n + a:zs + n + e]
                a0 = 0.0
                a1 = 0.0
                for r in range(e - a):
                    a0 += seg[r] * z0[r]
                    a1 += seg[r] * z1[r]
                gu[g] += a0
                gu[g + 1] += a1
            else:
                for j in range(q):
                    z = buf[zs + j * n + a:zs + j * n + e]
                    acc = 0.0
                    for r in range(e - a):
                        acc += seg[r] * z[r]
                    gu[g + j] += acc
    elif zs < 0:
        for r in range(n):
            gu[int(index[r])] += d[r]
    elif q == 2:  # 1.7 -> 1.2 ns a row (benchmarks/levers.py parts)
        z0 = buf[zs:zs + n]
        z1 = buf[zs + n:zs + 2 * n]
        for r in range(n):
            g = int(index[r]) * 2
            gu[g] += d[r] * z0[r]
            gu[g + 1] += d[r] * z1[r]
    else:
        for j in range(q):
            col = buf[zs + j * n:zs + (j + 1) * n]
            for r in range(n):
                gu[int(index[r]) * q + j] += d[r] * col[r]


@numba.njit(cache=True, error_model="numpy")
def _times(T: np.ndarray, v: np.ndarray, p: int, transposed: bool) -> np.ndarray:
    """``T v`` (``T' v`` when ``transposed``), ``T`` p x p stored by row."""
    out = np.zeros(p)
    for i in range(p):
        for j in range(p):
            if transposed:
                out[j] += T[i * p + j] * v[i]
            else:
                out[i] += T[i * p + j] * v[j]
    return out


@numba.njit(cache=True, error_model="numpy")
def _folded(buf: np.ndarray, at: int, m: int, q: int, beta: np.ndarray, u: np.ndarray
            ) -> np.ndarray:
    """The block's effects with its folded fixed columns (:data:`B_FOLD` at ``at``)
    added to each level's first term: ``u[g, 0] + sum_k value[k, g] beta[k]``."""
    nk = int(buf[at])
    out = u.copy()
    for i in range(nk):
        bk = beta[int(buf[at + 1 + i])]
        w = buf[at + 1 + nk + i * m:at + 1 + nk + (i + 1) * m]
        for g in range(m):
            out[g * q] += w[g] * bk
    return out


@numba.njit(cache=True, error_model="numpy")
def _folded_grad(buf: np.ndarray, at: int, m: int, q: int, gu: np.ndarray,
                 grad: np.ndarray) -> None:
    """Adds to ``grad`` the gradient in the folded fixed effects (:data:`B_FOLD` at
    ``at``), from ``gu``, the likelihood's gradient in the block's effects alone."""
    nk = int(buf[at])
    for i in range(nk):
        w = buf[at + 1 + nk + i * m:at + 1 + nk + (i + 1) * m]
        acc = 0.0
        for g in range(m):
            acc += w[g] * gu[g * q]
        grad[int(buf[at + 1 + i])] += acc


@numba.njit(cache=True, inline="always", error_model="numpy")
def _general_pass(buf: np.ndarray, y: np.ndarray, eta: np.ndarray, weights: np.ndarray,
                  theta: np.ndarray, gtheta: np.ndarray, family: int, link: int, ts: int,
                  n: int) -> float:
    """Every family and link without a vectorised pass (:mod:`mixedfit.fast.rowlik`),
    the family's parameters shared by the rows: overwrites ``eta`` with d logp / d eta,
    sets ``gtheta``; returns the log-likelihood (-inf: a mean outside the support)."""
    trials = buf[ts:ts + n] if ts >= 0 else buf[0:0]
    ntheta = theta.shape[0]
    th = np.empty((ntheta, 1))  # one column: the same for every row
    gth = np.empty((ntheta, 1))
    th[:, 0] = theta
    logp = general_rows(family, link, y, eta, trials, weights, th, gth,
                        int(buf[H_NFAM]), np.zeros(ntheta))
    gtheta[:] = gth[:, 0]
    return logp


@numba.njit(cache=True, fastmath=_ROWS_FAST, error_model="numpy")
def _row_pass(buf: np.ndarray, beta: np.ndarray, u_all: np.ndarray, gu_all: np.ndarray,
              grad: np.ndarray, theta: np.ndarray, gtheta: np.ndarray, family: int, link: int,
              n: int, p: int, nblocks: int) -> float:
    """Likelihood over the rows: adds d logp / d beta to ``grad`` and d logp / d u to
    ``gu_all``, sets ``gtheta`` to d logp / d theta (the family's parameters, but for the
    Gaussian with the identity link, whose pass adds its gradient in log sigma to
    ``grad``); returns the log likelihood (up to a constant).

    ``X`` and ``Z`` are stored by column, so that each loop runs down contiguous
    columns and vectorises (sums over rows may be added in any order: ``_ROWS_FAST``).
    """
    xs = int(buf[H_X])
    ys = int(buf[H_Y])
    ts = int(buf[H_TRIALS])
    os_ = int(buf[H_OFFSET])
    hb = int(buf[H_BLOCKS])
    eta = np.zeros(n)
    if os_ >= 0:
        eta[:] = buf[os_:os_ + n]
    fo = int(buf[H_FOLDED])  # columns folded into a block's effects (B_FOLD): not here
    xm = int(buf[H_XMAP])  # the columns S before the QR step: their coefficients T beta
    g_rows = grad
    if xm >= 0:
        beta = _times(buf[xm:xm + p * p], beta, p, False)
        g_rows = np.zeros(p)
    for k in range(p):
        if fo >= 0 and buf[fo + k] > 0.0:
            continue
        col = buf[xs + k * n:xs + (k + 1) * n]
        bk = beta[k]
        for r in range(n):
            eta[r] += col[r] * bk
    start = 0
    for b in range(nblocks):
        base = hb + BLOCK_WIDTH * b
        m, q = int(buf[base + B_M]), int(buf[base + B_Q])
        u = u_all[start:start + m * q]
        fb = int(buf[base + B_FOLD])
        _add_effects(buf, base, n, _folded(buf, fb, m, q, beta, u) if fb >= 0 else u, eta)
        start += m * q
    y = buf[ys:ys + n]
    ws = int(buf[H_WEIGHTS])  # prior weights (-1: none; a Gaussian's are in its rows)
    weights = buf[ws:ws + n] if ws >= 0 else buf[0:0]
    logp = 0.0
    d = eta  # overwritten in place by d logp / d eta
    if family == GAUSSIAN and link == IDENTITY:
        sigma = theta[0]
        s2inv = 1.0 / (sigma * sigma)
        ss = 0.0
        for r in range(n):
            e = y[r] - eta[r]
            ss += e * e
            d[r] = e * s2inv
        logp = -n * math.log(sigma) - 0.5 * ss * s2inv
        if buf[H_FAM_POS] >= 0:
            grad[int(buf[H_FAM_POS])] += -n + ss * s2inv
    elif family == BINOMIAL and link == LOGIT:  # vectorised passes (mixedfit.fast.vecrows)
        d = np.empty(n)  # not eta: a loop that writes what it reads does not vectorise
        logp = logistic_rows(y, eta, buf[ts:ts + n] if ts >= 0 else buf[0:0], weights, d)
    elif family == POISSON and link == LOG:
        d = np.empty(n)
        logp = poisson_log_rows(y, eta, weights, d)
    else:
        done = False
        if family == NEGATIVEBINOMIAL and link == LOG:  # vectorised, where it applies
            d = np.empty(n)
            cs = int(buf[H_NB_COUNTS])  # the count table, when the layout wrote it
            table = buf[cs + 1:cs + 1 + int(buf[cs])] if cs >= 0 else buf[0:0]
            logp, ga, done = negbin_log_rows(y, eta, theta[0], weights, d, table)
            if done:
                gtheta[0] = ga
            else:
                d = eta
        if not done:
            logp = _general_pass(buf, y, eta, weights, theta, gtheta, family, link, ts, n)
            if not logp > -np.inf:
                return -np.inf
    for k in range(p):
        if fo >= 0 and buf[fo + k] > 0.0:
            continue
        col = buf[xs + k * n:xs + (k + 1) * n]
        acc = 0.0
        for r in range(n):
            acc += d[r] * col[r]
        g_rows[k] += acc
    start = 0
    for b in range(nblocks):
        base = hb + BLOCK_WIDTH * b
        m, q = int(buf[base + B_M]), int(buf[base + B_Q])
        gu = gu_all[start:start + m * q]
        _sum_effects(buf, base, n, d, gu)
        fb = int(buf[base + B_FOLD])
        if fb >= 0:  # gu holds the likelihood's gradient alone: the priors' come later
            _folded_grad(buf, fb, m, q, gu, g_rows)
        start += m * q
    if xm >= 0:
        g_beta = _times(buf[xm:xm + p * p], g_rows, p, True)
        for k in range(p):
            grad[k] += g_beta[k]
    return logp


@numba.njit(cache=True, error_model="numpy")
def _row_pass_dpar(buf: np.ndarray, beta: np.ndarray, u_all: np.ndarray, gu_all: np.ndarray,
                   grad: np.ndarray, theta: np.ndarray, gtheta: np.ndarray, family: int,
                   link: int, n: int, p: int, nblocks: int, nfam: int) -> float:
    """:func:`_row_pass` for a model whose family parameters have their own formulas:
    one linear predictor per row for the mean (0) and for each family parameter
    ``i`` (``1 + i``, used where parameter ``i`` is linked: ``PARAM_LINKED_*``), each
    fixed column and block adding to its own (``H_XPRED``, ``B_PRED``). Linked
    parameters are the exp (logit: the inverse logit) of their predictor, row by row;
    the others are ``theta``, whose gradient goes to ``gtheta``."""
    xs = int(buf[H_X])
    ys = int(buf[H_Y])
    ts = int(buf[H_TRIALS])
    os_ = int(buf[H_OFFSET])
    hb = int(buf[H_BLOCKS])
    xp = int(buf[H_XPRED])
    kinds = int(buf[H_FAM_KIND])
    npred = nfam + 1
    eta = np.zeros((npred, n))
    if os_ >= 0:
        eta[0, :] = buf[os_:os_ + n]
    for k in range(p):
        t = int(buf[xp + k])
        col = buf[xs + k * n:xs + (k + 1) * n]
        bk = beta[k]
        for r in range(n):
            eta[t, r] += col[r] * bk
    start = 0
    for b in range(nblocks):
        base = hb + BLOCK_WIDTH * b
        m, q = int(buf[base + B_M]), int(buf[base + B_Q])
        _add_effects(buf, base, n, u_all[start:start + m * q], eta[int(buf[base + B_PRED])])
        start += m * q
    ntheta = theta.shape[0]
    th = np.empty((ntheta, n))
    gth = np.empty((ntheta, n))
    vary = np.zeros(ntheta)
    for i in range(ntheta):
        kind = int(buf[kinds + i]) if i < nfam else -1
        if kind == PARAM_LINKED_LOG:
            vary[i] = 1.0
            for r in range(n):
                th[i, r] = math.exp(eta[i + 1, r])
        elif kind == PARAM_LINKED_IDENTITY:
            vary[i] = 1.0
            th[i, :] = eta[i + 1, :]
        elif kind == PARAM_LINKED_LOGIT:
            vary[i] = 1.0
            for r in range(n):
                e = eta[i + 1, r]
                th[i, r] = 1.0 / (1.0 + math.exp(-e)) if e >= 0.0 else (
                    math.exp(e) / (1.0 + math.exp(e)))
        else:
            th[i, :] = theta[i]
    y = buf[ys:ys + n]
    ws = int(buf[H_WEIGHTS])
    weights = buf[ws:ws + n] if ws >= 0 else buf[0:0]
    trials = buf[ts:ts + n] if ts >= 0 else buf[0:0]
    d = np.empty((npred, n))  # d logp / d eta of every linear predictor
    d[0, :] = eta[0, :]
    logp = general_rows(family, link, y, d[0], trials, weights, th, gth, nfam, vary)
    if not logp > -np.inf:
        return -np.inf
    for i in range(ntheta):
        kind = int(buf[kinds + i]) if i < nfam else -1
        if kind == PARAM_LINKED_LOG:
            for r in range(n):
                d[i + 1, r] = gth[i, r] * th[i, r]
        elif kind == PARAM_LINKED_LOGIT:
            for r in range(n):
                d[i + 1, r] = gth[i, r] * th[i, r] * (1.0 - th[i, r])
        elif kind == PARAM_LINKED_IDENTITY:
            d[i + 1, :] = gth[i, :]
        else:
            acc = 0.0
            for r in range(n):
                acc += gth[i, r]
            gtheta[i] = acc
            if i + 1 < npred:
                d[i + 1, :] = 0.0
    for k in range(p):
        t = int(buf[xp + k])
        col = buf[xs + k * n:xs + (k + 1) * n]
        acc = 0.0
        for r in range(n):
            acc += d[t, r] * col[r]
        grad[k] += acc
    start = 0
    for b in range(nblocks):
        base = hb + BLOCK_WIDTH * b
        m, q = int(buf[base + B_M]), int(buf[base + B_Q])
        _sum_effects(buf, base, n, d[int(buf[base + B_PRED])], gu_all[start:start + m * q])
        start += m * q
    return logp


@numba.njit(cache=True, error_model="numpy")
def _scaled(x: np.ndarray, at: int, m: int, sd: float, u: np.ndarray) -> None:
    """Non-centred effects of a one-term block: ``u = sd z``."""
    for g in range(m):
        u[g] = sd * x[at + g]


@numba.njit(cache=True, error_model="numpy")
def _noncentred_one(x: np.ndarray, at: int, m: int, sd: float, gu: np.ndarray,
                    grad: np.ndarray) -> tuple[float, float]:
    """The standard normal prior of a one-term block's non-centred ``z``: sets their
    gradient (``sd du - z``); returns ``sum z^2`` and ``sum du z`` (the gradient in sd
    over sd). The sums are added in order (no ``reassoc``): reordered, their rounding
    depended on where the arrays lay in memory inside the sampler's callback, and the
    same seed gave other draws."""
    zz = 0.0
    gz = 0.0
    for g in range(m):
        z = x[at + g]
        zz += z * z
        gz += gu[g] * z
        grad[at + g] = sd * gu[g] - z
    return zz, gz


@numba.njit(cache=True, error_model="numpy")
def _centred_one(u: np.ndarray, at: int, m: int, sd: float, gu: np.ndarray,
                 grad: np.ndarray) -> tuple[float, float]:
    """The normal prior of a one-term block's centred effects ``u``: sets their
    gradient (``du - u / sd^2``); returns ``sum (u / sd)^2`` and ``sum u^2 / sd^3`` (the
    prior's gradient in sd, but for the ``-m / sd`` of its normalisation)."""
    inv = 1.0 / sd
    vv = 0.0
    av = 0.0
    for g in range(m):
        v = u[g] * inv
        a = v * inv
        vv += v * v
        av += a * v
        grad[at + g] = gu[g] - a
    return vv, av


@numba.njit(cache=True, error_model="numpy")
def logp_grad(x: np.ndarray, grad: np.ndarray, buf: np.ndarray) -> float:
    """Log posterior density at ``x`` (up to a constant); fills ``grad``.

    With reflected groups of nested effects (:data:`H_REFLECT`) the sampler's
    coordinates ``x_0, x_1..x_k`` of each group are turned into the standard normal
    effects of the outer level and its ``k`` inner levels, ``z_l = c x_0 - r S`` and
    ``z_b,i = x_i - r x_0 - g S`` (``S = sum_i x_i``, ``(c, r) = (sd_b, sd_l) /
    sqrt(sd_b^2 + k sd_l^2)``, ``g = (1 + c) / k``, with the signs of signed sds); the
    density is that of the plain parameterisation (a reflection ``H``: Jacobian 1, the
    same standard normal prior), and the gradient is carried back: to ``x`` by ``H``
    itself (a symmetric matrix), and to the sds through ``c`` and ``r``."""
    at = int(buf[H_REFLECT])
    if at < 0:
        return _logp_grad(x, grad, buf)
    n = int(buf[at])
    xz = x.copy()
    cr = np.empty((n, 3))  # each group's (c, r, norm), for the gradient after the density
    # the groups come sorted by their two sds and k (mixedfit.fast.layout): (c, r) are
    # computed once per run of groups that share them, and the gradient in the sds is
    # carried through them once per run
    pos = at + 1
    key_b, key_l, key_k = -1, -1, -1
    c, r, norm = 1.0, 0.0, 1.0
    for grp in range(n):
        k = int(buf[pos + 5])
        sb = int(buf[pos])
        sl = int(buf[pos + 1])
        if k != key_k or sb != key_b or sl != key_l:
            c, r, norm = _reflection(x, buf, pos, k)
            key_b, key_l, key_k = sb, sl, k
        cr[grp, 0] = c
        cr[grp, 1] = r
        cr[grp, 2] = norm
        _reflect(x, xz, buf, pos, k, c, r)
        pos += 6 + k
    logp = _logp_grad(xz, grad, buf)
    pos = at + 1
    sum_dc = 0.0  # d logp / d c and d r summed over the run of groups so far
    sum_dr = 0.0
    for grp in range(n):
        k = int(buf[pos + 5])
        c = cr[grp, 0]
        r = cr[grp, 1]
        el = int(buf[pos + 4])
        g0 = grad[el]  # d logp / d z_l, and the sum of d logp / d z_b,i
        gs = 0.0
        sx = 0.0
        for i in range(k):
            e = int(buf[pos + 6 + i])
            gs += grad[e]
            sx += x[e]
        sum_dc += g0 * x[el] - gs * sx / k
        sum_dr += -g0 * sx - gs * x[el]
        _reflect(grad, grad, buf, pos, k, c, r)  # H is symmetric: d logp / d x = H grad
        nxt = pos + 6 + k
        if grp == n - 1 or int(buf[nxt + 5]) != k or int(buf[nxt]) != int(buf[pos]) or (
                int(buf[nxt + 1]) != int(buf[pos + 1])):
            _sds_grad(x, grad, buf, pos, k, c, r, cr[grp, 2], sum_dc, sum_dr)
            sum_dc = 0.0
            sum_dr = 0.0
        pos = nxt
    return logp


@numba.njit(cache=True, inline="always", error_model="numpy")
def _sds_grad(x: np.ndarray, grad: np.ndarray, buf: np.ndarray, at: int, k: int, c: float,
              r: float, norm: float, dc: float, dr: float) -> None:
    """Adds to the gradient in a reflected group's two sds (its record at ``buf[at]``)
    that of ``logp`` through ``(c, r)``, given ``d logp / d c`` and ``d r``."""
    sb = int(buf[at])
    sl = int(buf[at + 1])
    if buf[at + 2] > 0 or buf[at + 3] > 0:
        # a signed sd: through d (c, r) / d sd_b = (k r^2, -r c) / norm and d (c, r) /
        # d sd_l = (-k c r, c^2) / norm, times the sd for one sampled as its log
        tb = (dc * k * r * r - dr * r * c) / norm
        tl = (dr * c * c - dc * k * c * r) / norm
        grad[sb] += tb if buf[at + 2] > 0 else tb * math.exp(x[sb])
        grad[sl] += tl if buf[at + 3] > 0 else tl * math.exp(x[sl])
        return
    # through d (c, r) / d log sd_b = (c k r^2, -r c^2) (and the opposite for log sd_l: c
    # and r depend on sd_b / sd_l only)
    t = dc * c * k * r * r - dr * r * c * c
    grad[sb] += t
    grad[sl] -= t


@numba.njit(cache=True, inline="always", error_model="numpy")
def _reflection(x: np.ndarray, buf: np.ndarray, at: int, k: int) -> tuple[float, float, float]:
    """A reflected group's ``(c, r) = (sd_b, sd_l) / norm`` with ``norm = sqrt(sd_b^2 + k
    sd_l^2)``, and ``norm`` where an sd is signed (its record at ``buf[at]``: the
    positions of the two sds, then their flags: 1 signed, 0 its log)."""
    if buf[at + 2] > 0 or buf[at + 3] > 0:  # a signed sd (a moderate number)
        b = x[int(buf[at])]
        sl = x[int(buf[at + 1])]
        if buf[at + 2] == 0:
            b = math.exp(b)
        if buf[at + 3] == 0:
            sl = math.exp(sl)
        norm = math.sqrt(b * b + k * sl * sl)
        if not norm > 0.0:  # both sds zero: no direction is hidden (H: the identity
            return 1.0, 0.0, 1.0  # but for the inner levels' reflection across their sum)
        return b / norm, sl / norm, norm
    # the larger sd divides: no overflow of the squares
    lb = x[int(buf[at])]
    ll = x[int(buf[at + 1])]
    if lb >= ll:
        t = math.exp(ll - lb)  # sd_l / sd_b
        c = 1.0 / math.sqrt(1.0 + k * t * t)
        return c, t * c, 0.0
    t = math.exp(lb - ll)  # sd_b / sd_l
    r = 1.0 / math.sqrt(t * t + k)
    return t * r, r, 0.0


@numba.njit(cache=True, inline="always", error_model="numpy")
def _reflect(src: np.ndarray, dst: np.ndarray, buf: np.ndarray, at: int, k: int, c: float,
             r: float) -> None:
    """``dst = H src`` at one group's positions (``src`` and ``dst`` may be the same
    array): ``H`` has ``c`` at the outer level's diagonal, ``-r`` across to each inner
    level, and ``delta_ij - (1 + c) / k`` among the inner levels."""
    el = int(buf[at + 4])
    x0 = src[el]
    sx = 0.0
    for i in range(k):
        sx += src[int(buf[at + 6 + i])]
    g = (1.0 + c) / k
    for i in range(k):
        e = int(buf[at + 6 + i])
        dst[e] = src[e] - r * x0 - g * sx
    dst[el] = c * x0 - r * sx


@numba.njit(cache=True, error_model="numpy")
def _logp_grad(x: np.ndarray, grad: np.ndarray, buf: np.ndarray) -> float:
    """:func:`logp_grad` in the plain parameterisation."""
    n = int(buf[H_NROWS])
    p = int(buf[H_P])
    family = int(buf[H_FAMILY])
    link = int(buf[H_LINK])
    nblocks = int(buf[H_NBLOCKS])
    use_ss = buf[H_SS] > 0
    n_obs = buf[H_NOBS]
    grad[:] = 0.0
    logp = 0.0

    # fixed effects and their priors; with Uniform priors among them the sampler's
    # coordinates are mapped to them (and the gradient back, at the end)
    fixed_map = int(buf[H_FIXED_X]) >= 0
    if fixed_map:
        beta = np.empty(p)
        logp += fixed_from_sampler(x, buf, beta)
    else:
        beta = x[:p]
    logp += fixed_priors(beta, grad, buf)

    # the family's own parameters: positive ones (sigma, nu, alpha, kappa) sampled on the
    # log scale, probabilities (zi, hu) on the logit scale (either under a Uniform prior:
    # an interval transform), ordered thresholds as the first one and the logs of the
    # differences
    nfam = int(buf[H_NFAM])
    fam_pos = int(buf[H_FAM_POS])
    ntheta = max(nfam, 2)
    theta = np.ones(ntheta)
    ordinal = np.zeros(ntheta)  # ordered thresholds: the values the ordered transform gives
    gtheta = np.zeros(ntheta)
    dtheta = np.ones(ntheta)  # d theta / d x: theta on the log scale, v (1 - v) on the logit
    gprior = np.zeros(ntheta)  # d log prior / d theta, of the thresholds
    kinds = int(buf[H_FAM_KIND])
    ordered = False
    linked = False
    # a Uniform prior on the Gaussian's sigma (identity link, one sigma): its likelihood
    # gradient comes in log sigma, its prior's and Jacobian's after the likelihood
    sigma_bounded = False
    sigma_extra = 0.0
    # the slot of each parameter in x (and of its prior): parameters with their own
    # formula (linked) have none
    slot = np.full(ntheta, -1)
    k_slot = 0
    for i in range(nfam):
        kind = int(buf[kinds + i])
        if kind == PARAM_LINKED_LOG or kind == PARAM_LINKED_LOGIT or (
                kind == PARAM_LINKED_IDENTITY):
            linked = True
            continue
        slot[i] = k_slot
        k_slot += 1
    for i in range(nfam):
        kind = int(buf[kinds + i])
        if slot[i] < 0:
            continue
        at = int(buf[H_FAM_PRIOR]) + PRIOR_WIDTH * slot[i]
        xi = x[fam_pos + slot[i]]
        if kind == PARAM_REAL or kind == PARAM_INCREMENT:
            ordered = True
            if kind == PARAM_REAL:
                ordinal[i] = xi
            else:  # above the one before: log Jacobian x
                ordinal[i] = ordinal[i - 1] + math.exp(xi)
                logp += xi
            if int(buf[at]) == UNIFORM and buf[at + 3] > 0.0:
                # thresholds under one Uniform prior: the ordered values mapped into its
                # interval (PyMC's chain of the ordered and interval transforms)
                theta[i], lp, gprior[i], dtheta[i] = bounded(buf, at, ordinal[i])
                logp += lp
                continue
            theta[i] = ordinal[i]
            lp, gprior[i] = prior_at(buf, at, theta[i])
            if int(buf[at]) == UNIFORM:  # a flat prior between bounds on some thresholds:
                # their ordered transform, a density of 0 outside the bounds
                v = buf[at + 4] * theta[i]
                if v < buf[at + 1] or v > buf[at + 2]:
                    return -np.inf
            logp += lp
            continue
        if int(buf[at]) == UNIFORM:  # an interval transform, not the log or the logit
            theta[i], lp, d, dtheta[i] = bounded(buf, at, xi)
            if i == 0 and family == GAUSSIAN and link == IDENTITY and not linked:
                sigma_bounded = True
                sigma_extra = d
                d = 0.0
        elif kind == PARAM_UNIT:
            theta[i], lp, d, dtheta[i] = _probability(buf, at, xi)
        else:
            theta[i], lp, d = _positive(buf, at, xi)
            dtheta[i] = theta[i]
        logp += lp
        grad[fam_pos + slot[i]] += d
    if nfam == 0 and buf[H_FIXED_SIGMA] > 0:  # known standard errors: sigma is fixed
        theta[0] = buf[H_FIXED_SIGMA]
    sigma = theta[0]

    # group effects u of every block, from the parameters
    total = 0
    for b in range(nblocks):
        base = int(buf[H_BLOCKS]) + BLOCK_WIDTH * b
        total += int(buf[base + B_Q]) * int(buf[base + B_M])
    u_all = np.empty(total)
    gu_all = np.zeros(total)
    chols = block_factors(x, buf)
    start = 0
    for b in range(nblocks):
        base = int(buf[H_BLOCKS]) + BLOCK_WIDTH * b
        q = int(buf[base + B_Q])
        m = int(buf[base + B_M])
        eff = int(buf[base + B_EFF_POS])
        c = chols[b]
        u = u_all[start:start + m * q]
        if buf[base + B_CENTRED] > 0:
            u[:] = x[eff:eff + m * q]
            mp = int(buf[base + B_MAP])
            if mp >= 0:  # centred around the fixed effects: the parameters are beta + u
                for i in range(q):
                    k = int(buf[mp + i])
                    if k >= 0:
                        for g in range(m):
                            u[g * q + i] -= beta[k]
        elif q == 1:
            _scaled(x, eff, m, c[0, 0], u)
        else:
            for g in range(m):
                for i in range(q):
                    acc = 0.0
                    for j in range(i + 1):
                        acc += c[i, j] * x[eff + g * q + j]
                    u[g * q + i] = acc
        start += m * q

    # likelihood
    if use_ss:
        # Gaussian with one block: sufficient statistics, cost O(levels), not O(rows)
        base = int(buf[H_BLOCKS])
        q = int(buf[base + B_Q])
        m = int(buf[base + B_M])
        s = int(buf[H_SSDATA])
        yy = buf[s]
        xy = buf[s + 1:s + 1 + p]
        xx = buf[s + 1 + p:s + 1 + p + p * p]
        s2 = s + 1 + p + p * p
        zz = buf[s2:s2 + m * q * q]
        zy = buf[s2 + m * q * q:s2 + m * q * q + m * q]
        zx = buf[s2 + m * q * q + m * q:s2 + m * q * q + m * q + m * q * p]
        ss = yy
        for k in range(p):
            acc = 0.0
            for l2 in range(p):
                acc += xx[k * p + l2] * beta[l2]
            ss += beta[k] * (acc - 2.0 * xy[k])
            grad[k] += (xy[k] - acc) / (sigma * sigma)
        for g in range(m):
            for i in range(q):
                ui = u_all[g * q + i]
                zxb = 0.0
                for k in range(p):
                    zxb += zx[(g * q + i) * p + k] * beta[k]
                zzu = 0.0
                for j in range(q):
                    zzu += zz[(g * q + i) * q + j] * u_all[g * q + j]
                ss += ui * (-2.0 * zy[g * q + i] + 2.0 * zxb + zzu)
                gu_all[g * q + i] = (zy[g * q + i] - zxb - zzu) / (sigma * sigma)
                for k in range(p):
                    grad[k] -= zx[(g * q + i) * p + k] * ui / (sigma * sigma)
        logp += -n_obs * math.log(sigma) - 0.5 * ss / (sigma * sigma)
        if fam_pos >= 0:
            grad[fam_pos] += -n_obs + ss / (sigma * sigma)
    else:
        if linked:
            logp += _row_pass_dpar(buf, beta, u_all, gu_all, grad, theta, gtheta, family,
                                   link, n, p, nblocks, nfam)
        else:
            logp += _row_pass(buf, beta, u_all, gu_all, grad, theta, gtheta, family, link,
                              n, p, nblocks)
        if not logp > -np.inf:  # a mean outside the family's support
            return -np.inf
        for i in range(nfam):
            kind = int(buf[kinds + i])
            if slot[i] >= 0 and kind != PARAM_REAL and kind != PARAM_INCREMENT:
                grad[fam_pos + slot[i]] += gtheta[i] * dtheta[i]
    if sigma_bounded:  # from log sigma to the sampler's coordinate
        grad[fam_pos] = grad[fam_pos] * dtheta[0] / sigma + sigma_extra
    if ordered:  # thresholds: each moves every one above it
        acc = 0.0
        for i in range(nfam - 1, -1, -1):
            kind = int(buf[kinds + i])
            if kind == PARAM_INCREMENT:
                acc += gtheta[i] * dtheta[i] + gprior[i]
                grad[fam_pos + slot[i]] += acc * (ordinal[i] - ordinal[i - 1]) + 1.0
            elif kind == PARAM_REAL:
                grad[fam_pos + slot[i]] += acc + gtheta[i] * dtheta[i] + gprior[i]
                acc = 0.0

    # priors of the group effects, sds and correlations; chain rule back to parameters
    start = 0
    for b in range(nblocks):
        base = int(buf[H_BLOCKS]) + BLOCK_WIDTH * b
        q = int(buf[base + B_Q])
        m = int(buf[base + B_M])
        eff = int(buf[base + B_EFF_POS])
        c = chols[b]
        gu = gu_all[start:start + m * q]
        u = u_all[start:start + m * q]
        gc = np.zeros((q, q))
        if buf[base + B_CENTRED] > 0 and q == 1:
            vv, av = _centred_one(u, eff, m, c[0, 0], gu, grad)
            logp -= 0.5 * vv + m * math.log(c[0, 0])
            gc[0, 0] += av - m / c[0, 0]
            mp = int(buf[base + B_MAP])
            if mp >= 0 and int(buf[mp]) >= 0:
                grad[int(buf[mp])] -= grad[eff:eff + m].sum()
        elif buf[base + B_CENTRED] > 0:
            v = np.empty(q)
            a = np.empty(q)
            for g in range(m):
                for i in range(q):  # v = C^-1 u_g
                    acc = u[g * q + i]
                    for j in range(i):
                        acc -= c[i, j] * v[j]
                    v[i] = acc / c[i, i]
                for i in range(q - 1, -1, -1):  # a = C^-T v
                    acc = v[i]
                    for j in range(i + 1, q):
                        acc -= c[j, i] * a[j]
                    a[i] = acc / c[i, i]
                for i in range(q):
                    logp -= 0.5 * v[i] * v[i]
                    grad[eff + g * q + i] = gu[g * q + i] - a[i]
                    for j in range(i + 1):
                        gc[i, j] += a[i] * v[j]
            for i in range(q):
                logp -= m * math.log(c[i, i])
                gc[i, i] -= m / c[i, i]
            mp = int(buf[base + B_MAP])
            if mp >= 0:
                for i in range(q):
                    k = int(buf[mp + i])
                    if k >= 0:
                        acc = 0.0
                        for g in range(m):
                            acc += grad[eff + g * q + i]
                        grad[k] -= acc
        elif q == 1:
            zz, gz = _noncentred_one(x, eff, m, c[0, 0], gu, grad)
            logp -= 0.5 * zz
            gc[0, 0] += gz
        else:
            for g in range(m):
                for j in range(q):
                    zj = x[eff + g * q + j]
                    acc = -zj
                    for i in range(j, q):
                        acc += c[i, j] * gu[g * q + i]
                        gc[i, j] += gu[g * q + i] * zj
                    grad[eff + g * q + j] = acc
                    logp -= 0.5 * zj * zj
        logp += block_hyper(x, grad, buf, base, c, gc)
        start += m * q
    if fixed_map:
        fixed_grad_to_sampler(x, grad, buf)
    return logp
