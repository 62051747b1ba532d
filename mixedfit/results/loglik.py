"""Pointwise log-likelihood of each observation under each posterior draw.

Computed with NumPy and SciPy from the linear predictor and the family
parameters, stored in ``res.idata.log_likelihood`` at fit time for PSIS-LOO and
WAIC (when it fits in memory: at most ``MAX_STORED`` values).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy import special, stats

from mixedfit.families import Family

if TYPE_CHECKING:
    from mixedfit.results.result import MixedResult

__all__ = ["pointwise_log_likelihood", "log_likelihood_draws", "MAX_STORED"]

#: Largest number of (draw, observation) values stored at fit time (200 MB of float64).
MAX_STORED = 25_000_000


def _log_p(family: Family, eta: np.ndarray, mu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """log(mu) and log(1 - mu) for probability families, stable for the logit link."""
    if family.link == "logit":
        return -np.logaddexp(0.0, -eta), -np.logaddexp(0.0, eta)
    m = np.clip(mu, 1e-300, 1 - 1e-16)
    return np.log(m), np.log1p(-m)


def pointwise_log_likelihood(family: Family, y: np.ndarray, eta: np.ndarray,
                             params: dict[str, np.ndarray],
                             trials: np.ndarray | None = None) -> np.ndarray:
    """``log p(y_i | draw s)`` for linear-predictor draws ``eta`` (S, n).

    Examples
    --------
    >>> from mixedfit.families import gaussian
    >>> ll = pointwise_log_likelihood(gaussian(), np.zeros(2), np.zeros((1, 2)),
    ...                               {"sigma": np.ones(1)})
    >>> np.round(ll, 4).tolist()
    [[-0.9189, -0.9189]]
    """
    mu = family.inverse_link(eta)
    name = family.name

    def p(key: str) -> np.ndarray:
        return np.asarray(params[key])[:, None]

    if name == "gaussian":
        return stats.norm.logpdf(y, mu, p("sigma"))
    if name == "t":
        return stats.t.logpdf(y, p("nu"), loc=mu, scale=p("sigma"))
    if name in ("bernoulli", "binomial"):
        n = np.ones_like(y) if trials is None else trials
        lp, lq = _log_p(family, eta, mu)
        const = special.gammaln(n + 1) - special.gammaln(y + 1) - special.gammaln(n - y + 1)
        return const + y * lp + (n - y) * lq
    if name == "poisson":
        return stats.poisson.logpmf(y, mu)
    if name == "negativebinomial":
        alpha = p("alpha")
        return stats.nbinom.logpmf(y, alpha, alpha / (alpha + mu))
    if name == "gamma":
        alpha = p("alpha")
        return stats.gamma.logpdf(y, alpha, scale=mu / alpha)
    if name == "beta":
        kappa = p("kappa")
        m = np.clip(mu, 1e-12, 1 - 1e-12)
        return stats.beta.logpdf(y, m * kappa, (1 - m) * kappa)
    raise ValueError(name)  # pragma: no cover


def log_likelihood_draws(res: MixedResult) -> np.ndarray:
    """Pointwise log-likelihood of the fitted data, ``(chains, draws, n_obs)``."""
    from mixedfit.results.predict import linear_predictor_draws

    post = res.idata.posterior
    eta = linear_predictor_draws(res, None)
    params = {k: res.draws(k) for k in res.family.parameters}
    ll = pointwise_log_likelihood(res.family, res.design.y, eta, params, res.design.trials)
    return ll.reshape(post.sizes["chain"], post.sizes["draw"], -1)
