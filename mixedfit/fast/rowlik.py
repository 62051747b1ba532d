"""The rows' log-likelihood of every family and link, with its derivatives, compiled once.

:func:`general_rows` is the likelihood part of the compiled density
(:mod:`mixedfit.fast.kernel`) for every family and link that has no dedicated pass
there (those are the Gaussian with the identity link, the binomial with the logit
link and the Poisson with the log link, whose hand-tuned loops stay as they are). It
gives the log-likelihood of the rows (constants that depend on the data only left
out), its derivative in each row's linear predictor and in the family's own
parameters (``theta``: sigma and nu of the Student-t, alpha of the negative binomial
and the gamma, kappa of the beta; sigma of a Gaussian with another link).

Each family is written once, in terms of the mean ``mu``; a link gives ``mu`` and
``d mu / d eta`` (:func:`mean_of`). The binomial is written in ``log p`` and
``log(1 - p)`` directly (:func:`log_probabilities`), which stay finite far in the
tails where ``p`` rounds to 0 or 1. A mean outside the family's support (a negative
Poisson mean under the identity link, a negative gamma mean under the inverse link)
gives a density of 0 (``-inf``), which the sampler treats as a rejected step.

The formulas are the densities of PyMC's distributions (the reference the tests
compare with): ``NegativeBinomial(mu, alpha)``, ``Gamma(alpha, beta=alpha / mu)``,
``Beta(mu kappa, (1 - mu) kappa)`` with ``mu`` clipped to ``[1e-12, 1 - 1e-12]`` as
:class:`mixedfit.families.Beta` does, ``StudentT(nu, mu, sigma)``.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from mixedfit.fast import cache
from mixedfit.fast.buffer import (
    BETA_FAMILY,
    BINOMIAL,
    CATEGORICAL,
    CUMULATIVE,
    GAMMA_FAMILY,
    GAUSSIAN,
    HURDLE_NB,
    HURDLE_POISSON,
    IDENTITY,
    INVERSE,
    LOG,
    LOGIT,
    NB_TABLE_MAX,
    NEGATIVEBINOMIAL,
    POISSON,
    PROBIT,
    STUDENT_T,
    ZINB,
    ZIP,
)

cache.refresh()  # before numba compiles anything here or loads it from its cache

__all__ = ["digamma", "log_ndtr", "mean_of", "log_probabilities", "nb_term", "nb_table",
           "NB_TABLE_MAX", "interval_term",
           "general_rows"]

_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
#: beta means are kept inside [_CLIP, 1 - _CLIP] (as mixedfit.families.Beta does)
_CLIP = 1e-12



@numba.njit(cache=True, error_model="numpy")
def nb_table(y: np.ndarray, a: float) -> tuple[np.ndarray, np.ndarray]:
    """``lgamma(k + a) - lgamma(a)`` and ``digamma(k + a) - digamma(a)`` for the counts
    ``k = 0 .. min(max(y), NB_TABLE_MAX - 1)``, as the sums of ``log(a + j)`` and
    ``1 / (a + j)`` over ``j < k``: one ``log`` per distinct count instead of the
    special functions per row, when every row shares ``alpha = a``."""
    top = 0.0
    for r in range(y.shape[0]):
        top = max(top, y[r])
    size = int(min(top, NB_TABLE_MAX - 1.0)) + 1
    lg = np.empty(size)
    dg = np.empty(size)
    lg[0] = 0.0
    dg[0] = 0.0
    for k in range(1, size):
        lg[k] = lg[k - 1] + math.log(a + (k - 1))
        dg[k] = dg[k - 1] + 1.0 / (a + (k - 1))
    return lg, dg


@numba.njit(cache=True, inline="always", error_model="numpy")
def nb_term(yr: float, mu: float, a: float, lg_of: np.ndarray, dg_of: np.ndarray
            ) -> tuple[float, float, float]:
    """The negative binomial's ``log p(y | mu, alpha)`` less ``log y!``, with its
    derivatives in ``mu`` and in ``alpha``. ``lg_of`` and ``dg_of``: :func:`nb_table` of
    ``alpha = a`` (its counts are looked up), or empty."""
    l1p = math.log1p(mu / a)  # log((a + mu) / a)
    if yr < lg_of.shape[0]:  # from the table
        k = int(yr)
        lg = lg_of[k]
        dg = dg_of[k]
    elif yr < 16.0:  # lgamma(y + a) - lgamma(a) and its derivative as sums
        lg = 0.0
        dg = 0.0
        for k in range(int(yr)):
            lg += math.log(a + k)
            dg += 1.0 / (a + k)
    else:
        lg = math.lgamma(yr + a) - math.lgamma(a)
        dg = digamma(yr + a) - digamma(a)
    term = lg - a * l1p
    if yr > 0.0:
        term += yr * (math.log(mu / a) - l1p)
    return term, yr / mu - (yr + a) / (a + mu), dg - l1p + (mu - yr) / (a + mu)


@numba.njit(cache=True, inline="always", error_model="numpy")
def digamma(x: float) -> float:
    """The digamma function for ``x > 0``: recurrence up to 6, then the asymptotic series
    (absolute error below 1e-13)."""
    r = 0.0
    while x < 6.0:
        r -= 1.0 / x
        x += 1.0
    f = 1.0 / (x * x)
    return r + math.log(x) - 0.5 / x - f * (1.0 / 12 - f * (1.0 / 120 - f * (
        1.0 / 252 - f * (1.0 / 240 - f / 132))))


@numba.njit(cache=True, inline="always", error_model="numpy")
def log_ndtr(x: float) -> tuple[float, float]:
    """``log Phi(x)`` of the standard normal distribution function and its derivative
    ``phi(x) / Phi(x)``, finite for every finite ``x``."""
    if x > 5.0:
        lp = math.log1p(-0.5 * math.erfc(x * _INV_SQRT2))
    elif x > -30.0:
        lp = math.log(0.5 * math.erfc(-x * _INV_SQRT2))
    else:  # the asymptotic series of Mills' ratio (relative error ~1e-12 here)
        f = 1.0 / (x * x)
        lp = (-0.5 * x * x - math.log(-x) - _LOG_SQRT_2PI
              + math.log1p(f * (-1.0 + f * (3.0 + f * (-15.0 + f * 105.0)))))
    return lp, math.exp(-0.5 * x * x - _LOG_SQRT_2PI - lp)


@numba.njit(cache=True, inline="always", error_model="numpy")
def mean_of(link: int, e: float) -> tuple[float, float]:
    """The mean ``mu = g^-1(e)`` of a linear predictor and ``d mu / d e``."""
    if link == IDENTITY:
        return e, 1.0
    if link == LOG:
        m = math.exp(e)
        return m, m
    if link == INVERSE:
        m = 1.0 / e
        return m, -m * m
    if link == LOGIT:
        if e >= 0.0:
            m = 1.0 / (1.0 + math.exp(-e))
        else:
            t = math.exp(e)
            m = t / (1.0 + t)
        return m, m * (1.0 - m)
    if link == PROBIT:
        return 0.5 * math.erfc(-e * _INV_SQRT2), math.exp(-0.5 * e * e - _LOG_SQRT_2PI)
    # CLOGLOG
    t = math.exp(e)
    return -math.expm1(-t), math.exp(e - t)


@numba.njit(cache=True, inline="always", error_model="numpy")
def log_probabilities(link: int, e: float) -> tuple[float, float, float, float]:
    """``log p``, ``log(1 - p)`` of a probability link and their derivatives in ``e``."""
    if link == LOGIT:
        a = abs(e)
        sp = math.log1p(math.exp(-a))  # softplus(-|e|)
        lp = -(max(-e, 0.0) + sp)
        lq = -(max(e, 0.0) + sp)
        p = math.exp(lp)
        return lp, lq, 1.0 - p, -p
    if link == PROBIT:
        lp, dp = log_ndtr(e)
        lq, dq = log_ndtr(-e)
        return lp, lq, dp, -dq
    # CLOGLOG: p = 1 - exp(-exp(e))
    t = math.exp(e)
    if t < 1e-10:  # p = t - t^2 / 2 + ...: log p = e - t / 2
        return e - 0.5 * t, -t, 1.0 - 0.5 * t, -t
    p = -math.expm1(-t)
    return math.log(p), -t, t * math.exp(-t) / p, -t


@numba.njit(cache=True, inline="always", error_model="numpy")
def _softplus(x: float) -> float:
    """``log(1 + exp(x))``, finite for every finite ``x``."""
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


@numba.njit(cache=True, inline="always", error_model="numpy")
def interval_term(link: int, a: float, b: float, upper: bool, lower: bool
                  ) -> tuple[float, float, float]:
    """``log(F(a) - F(b))`` of the latent distribution (logistic for the logit link,
    standard normal for the probit) with its derivatives in ``a`` and ``b``; ``a`` is
    ``+inf`` when ``upper`` is False, ``b`` is ``-inf`` when ``lower`` is False (the
    first and last categories of a cumulative model)."""
    if link == LOGIT:  # log F(a) = -softplus(-a), log(1 - F(b)) = -softplus(b)
        lp = 0.0
        da = 0.0
        db = 0.0
        if upper:
            t = math.exp(-abs(a))
            lp -= max(-a, 0.0) + math.log1p(t)
            da = t / (1.0 + t) if a > 0.0 else 1.0 / (1.0 + t)  # F(-a)
        if lower:
            t = math.exp(-abs(b))
            lp -= max(b, 0.0) + math.log1p(t)
            db = -(1.0 / (1.0 + t) if b > 0.0 else t / (1.0 + t))  # -F(b)
        if upper and lower:  # + log(1 - exp(b - a)), whose derivative in a is 1 / expm1(a - b)
            em = math.expm1(b - a)  # -(1 - e^(b - a))
            lp += math.log(-em)
            r = -(1.0 + em) / em
            da += r
            db -= r
        return lp, da, db
    # PROBIT
    if not lower:
        lp, r = log_ndtr(a)
        return lp, r, 0.0
    if not upper:
        lp, r = log_ndtr(-b)
        return lp, 0.0, -r
    flip = b > 0.0  # Phi(a) - Phi(b) = Phi(-b) - Phi(-a): the smaller tail, no cancellation
    u = -b if flip else a
    lo = -a if flip else b
    lu, ru = log_ndtr(u)
    ll, rl = log_ndtr(lo)
    t = math.exp(ll - lu)  # Phi(lo) / Phi(u) < 1
    lp = lu + math.log1p(-t)
    du = ru / (1.0 - t)
    dl = -rl * t / (1.0 - t)
    if flip:
        return lp, -dl, -du
    return lp, du, dl


@numba.njit(cache=True, error_model="numpy")
def general_rows(family: int, link: int, y: np.ndarray, eta: np.ndarray, trials: np.ndarray,
                 w: np.ndarray, th: np.ndarray, gth: np.ndarray, ntheta: int,
                 vary: np.ndarray) -> float:
    """Log-likelihood of the rows (up to constants of the data); overwrites ``eta`` with
    its derivative in each row's linear predictor and sets ``gth`` to its derivatives in
    the family's parameters.

    The family's parameters are given per row, ``th[i, r]`` (``ntheta`` of them; a
    parameter without its own formula has the same value in every row), and so are
    their derivatives ``gth[i, r]``; when ``th`` has one column, every row has those
    parameters and ``gth[:, 0]`` gets the sum over rows. ``vary[i]`` is nonzero where
    parameter ``i`` differs between rows (otherwise the special functions of it are
    computed once).
    ``trials`` is empty when there are none (a Bernoulli response, or a family without
    trials). ``w``, the rows' observation weights (empty: none), are precision weights
    for the Gaussian (a row's sd ``sigma / sqrt(w)``) and prior weights (a row's
    log-likelihood times ``w``) for every other family."""
    n = y.shape[0]
    unweighted = w.shape[0] == 0
    st = 1 if th.shape[1] > 1 else 0  # one column: the same parameters for every row
    gth[:, :] = 0.0
    logp = 0.0
    if family == BINOMIAL:
        for r in range(n):
            nt = 1.0 if trials.shape[0] == 0 else trials[r]
            wr = 1.0 if unweighted else w[r]
            lp, lq, dp, dq = log_probabilities(link, eta[r])
            d = 0.0
            if y[r] > 0.0:
                logp += wr * y[r] * lp
                d += y[r] * dp
            f = nt - y[r]
            if f > 0.0:
                logp += wr * f * lq
                d += f * dq
            eta[r] = wr * d
        return logp
    if family == CUMULATIVE:  # th: the ntheta ordered thresholds; y: category codes
        for r in range(n):
            wr = 1.0 if unweighted else w[r]
            k = int(y[r])
            e = eta[r]
            a = th[k, r * st] - e if k < ntheta else 0.0
            b = th[k - 1, r * st] - e if k > 0 else 0.0
            lp, da, db = interval_term(link, a, b, k < ntheta, k > 0)
            if not lp > -np.inf:
                return -np.inf
            logp += wr * lp
            eta[r] = -wr * (da + db)
            if k < ntheta:
                gth[k, r * st] += wr * da
            if k > 0:
                gth[k - 1, r * st] += wr * db
        return logp
    if family == CATEGORICAL:  # th[i]: the log odds of category i + 1 against category 0
        for r in range(n):
            wr = 1.0 if unweighted else w[r]
            k = int(y[r])
            mx = 0.0
            for i in range(ntheta):
                mx = max(mx, th[i, r * st])
            total = math.exp(-mx)
            for i in range(ntheta):
                total += math.exp(th[i, r * st] - mx)
            lse = mx + math.log(total)
            logp += wr * ((th[k - 1, r * st] if k > 0 else 0.0) - lse)
            eta[r] = 0.0
            for i in range(ntheta):
                share = math.exp(th[i, r * st] - lse)
                gth[i, r * st] += wr * ((1.0 if k == i + 1 else 0.0) - share)
        return logp
    # the parameters of a row: its own (st = 1) or the same for all (st = 0: read once,
    # and their gradients summed in registers g0, g1, not in memory)
    c0 = th[0, 0]
    c1 = th[1, 0] if th.shape[0] > 1 else 0.0
    g0 = 0.0
    g1 = 0.0
    v0 = 0.0  # this row's derivatives in the parameters
    v1 = 0.0
    if family == GAUSSIAN:  # th: sigma; precision weights
        for r in range(n):
            wr = 1.0 if unweighted else w[r]
            sg = th[0, r] if st else c0
            inv = 1.0 / sg
            mu, dm = mean_of(link, eta[r])
            z = (y[r] - mu) * inv
            q = wr * z * z
            logp += -math.log(sg) - 0.5 * q
            eta[r] = wr * z * inv * dm
            v0 = (-1.0 + q) * inv
            if st:
                gth[0, r] = v0
            else:
                g0 += v0
    elif family == STUDENT_T:  # th: sigma, nu
        lg = 0.0  # the terms of nu alone, once unless nu varies by row
        dg = 0.0
        for r in range(n):
            wr = 1.0 if unweighted else w[r]
            sg = th[0, r] if st else c0
            nu = th[1, r] if st else c1
            half = 0.5 * (nu + 1.0)
            if r == 0 or vary[1] != 0:
                lg = math.lgamma(half) - math.lgamma(0.5 * nu) - 0.5 * math.log(nu)
                dg = 0.5 * digamma(half) - 0.5 * digamma(0.5 * nu) - 0.5 / nu
            inv = 1.0 / sg
            mu, dm = mean_of(link, eta[r])
            z = (y[r] - mu) * inv
            v = 1.0 + z * z / nu
            logp += wr * (lg - math.log(sg) - half * math.log(v))
            k = (nu + 1.0) / (nu * v)  # (nu + 1) / (nu + z^2)
            eta[r] = wr * k * z * inv * dm
            v0 = wr * (k * z * z - 1.0) * inv
            v1 = wr * (dg - 0.5 * math.log(v) + 0.5 * k * z * z / nu)
            if st:
                gth[0, r] = v0
                gth[1, r] = v1
            else:
                g0 += v0
                g1 += v1
    elif family == POISSON:
        for r in range(n):
            wr = 1.0 if unweighted else w[r]
            mu, dm = mean_of(link, eta[r])
            if not mu > 0.0:
                return -np.inf
            logp += wr * (y[r] * math.log(mu) - mu)
            eta[r] = wr * (y[r] / mu - 1.0) * dm
    elif family == NEGATIVEBINOMIAL:  # th: alpha
        # alpha shared by every row: its lgamma and digamma terms looked up by count
        tl, td = nb_table(y, c0) if st == 0 or vary[0] == 0 else (np.empty(0), np.empty(0))
        for r in range(n):
            wr = 1.0 if unweighted else w[r]
            mu, dm = mean_of(link, eta[r])
            if not mu > 0.0:
                return -np.inf
            term, dmu, da = nb_term(y[r], mu, th[0, r] if st else c0, tl, td)
            logp += wr * term
            eta[r] = wr * dmu * dm
            if st:
                gth[0, r] = wr * da
            else:
                g0 += wr * da
    elif family == ZIP or family == ZINB or family == HURDLE_POISSON or family == HURDLE_NB:
        # th: zi (hu), or alpha and zi (hu) for the negative binomial's. A count part
        # (Poisson or negative binomial) with its p(0); zeros from it and from zi (a
        # zero-inflated model) or from hu alone (a hurdle model, whose counts are the
        # count part truncated at zero)
        nb = family == ZINB or family == HURDLE_NB
        hurdle = family == HURDLE_POISSON or family == HURDLE_NB
        ip = 1 if nb else 0  # the probability's row in th
        cp = c1 if nb else c0
        tl, td = (nb_table(y, c0) if nb and (st == 0 or vary[0] == 0)
                  else (np.empty(0), np.empty(0)))
        for r in range(n):
            wr = 1.0 if unweighted else w[r]
            a = th[0, r] if st else c0
            p = th[ip, r] if st else cp  # a structural zero's (any zero's: hurdle) chance
            mu, dm = mean_of(link, eta[r])
            if not mu > 0.0:
                return -np.inf
            yr = y[r]
            if nb:  # log p(0 | mu, alpha) and its derivatives
                l1p = math.log1p(mu / a)
                log_p0 = -a * l1p
                dlp0_mu = -a / (a + mu)
                dlp0_a = -l1p + mu / (a + mu)
            else:
                log_p0 = -mu
                dlp0_mu = -1.0
                dlp0_a = 0.0
            ga = 0.0  # d / d alpha
            gp = 0.0  # d / d p
            if yr == 0.0:
                if hurdle:
                    logp += wr * math.log(p)
                    eta[r] = 0.0
                    gp = wr / p
                else:
                    p0 = math.exp(log_p0)
                    total = p + (1.0 - p) * p0
                    f = (1.0 - p) * p0 / total
                    logp += wr * math.log(total)
                    eta[r] = wr * f * dlp0_mu * dm
                    ga = wr * f * dlp0_a
                    gp = wr * (1.0 - p0) / total
            else:
                if nb:
                    term, dmu, da = nb_term(yr, mu, a, tl, td)
                else:
                    term, dmu, da = yr * math.log(mu) - mu, yr / mu - 1.0, 0.0
                term += math.log1p(-p)
                if hurdle:  # truncated at zero: divided by 1 - p(0)
                    q = -math.expm1(log_p0)
                    term -= math.log(q)
                    dmu += (1.0 - q) * dlp0_mu / q
                    da += (1.0 - q) * dlp0_a / q
                logp += wr * term
                eta[r] = wr * dmu * dm
                ga = wr * da
                gp = -wr / (1.0 - p)
            v0 = ga if nb else gp
            v1 = gp if nb else 0.0
            if st:
                gth[0, r] = v0
                if nb:
                    gth[1, r] = v1
            else:
                g0 += v0
                g1 += v1
    elif family == GAMMA_FAMILY:  # th: alpha (shape); rate alpha / mu
        la = 0.0  # the terms of alpha alone, once unless alpha varies by row
        da = 0.0
        for r in range(n):
            wr = 1.0 if unweighted else w[r]
            a = th[0, r] if st else c0
            if r == 0 or vary[0] != 0:
                la = a * math.log(a) - math.lgamma(a)
                da = math.log(a) + 1.0 - digamma(a)
            mu, dm = mean_of(link, eta[r])
            if not mu > 0.0:
                return -np.inf
            ly = math.log(y[r])
            lm = math.log(mu)
            q = y[r] / mu
            logp += wr * (la + (a - 1.0) * ly - a * (lm + q))
            eta[r] = wr * a * (q - 1.0) / mu * dm
            v0 = wr * (da + ly - lm - q)
            if st:
                gth[0, r] = v0
            else:
                g0 += v0
    elif family == BETA_FAMILY:  # th: kappa
        lk = 0.0  # the terms of kappa alone, once unless kappa varies by row
        dk = 0.0
        for r in range(n):
            wr = 1.0 if unweighted else w[r]
            k = th[0, r] if st else c0
            if r == 0 or vary[0] != 0:
                lk = math.lgamma(k)
                dk = digamma(k)
            mu, dm = mean_of(link, eta[r])
            if mu < _CLIP:
                mu, dm = _CLIP, 0.0
            elif mu > 1.0 - _CLIP:
                mu, dm = 1.0 - _CLIP, 0.0
            a = mu * k
            b = k - a
            ly = math.log(y[r])
            lq = math.log1p(-y[r])
            dga = digamma(a)
            dgb = digamma(b)
            logp += wr * (lk - math.lgamma(a) - math.lgamma(b) + (a - 1.0) * ly
                          + (b - 1.0) * lq)
            eta[r] = wr * k * (dgb - dga + ly - lq) * dm
            v0 = wr * (dk - mu * dga - (1.0 - mu) * dgb + mu * ly + (1.0 - mu) * lq)
            if st:
                gth[0, r] = v0
            else:
                g0 += v0
    if not st:
        gth[0, 0] = g0
        if gth.shape[0] > 1:
            gth[1, 0] = g1
    return logp
