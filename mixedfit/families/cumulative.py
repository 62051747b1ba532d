"""The cumulative family: an ordered categorical response (ratings, Likert items, grades).

A response with ordered categories ``1 < 2 < ... < K`` is modelled through a latent
variable ``eta + e`` (``e`` logistic for the logit link, standard normal for the
probit) cut at ``K - 1`` ordered thresholds::

    P(y <= k) = F(Intercept[k] - eta),    k = 1, ..., K - 1

the convention of ``ordinal::clmm``, ``MASS::polr`` and brms' ``cumulative()``: a
positive coefficient moves the response towards the higher categories. The
thresholds take the intercept's place (the fixed part has no ``Intercept`` column)
and are reported with the fixed effects as ``Intercept[1]``, ..., ``Intercept[K-1]``.
Like an intercept, their default priors sit at the predictors' means:
``StudentT(nu=3, mu=0, sigma=2.5)`` on each (brms' default).

The family learns its categories from the response (:meth:`Cumulative.for_levels`):
an ordered pandas categorical in its order, integers in numeric order, or any values
in the order given by ``categories=``.

Examples
--------
>>> import numpy as np
>>> fam = Cumulative(categories=["low", "mid", "high"])
>>> fam.parameters
('Intercept[1]', 'Intercept[2]')
>>> p = fam.category_probabilities(np.zeros((1, 1)), {"Intercept[1]": np.array([-1.0]),
...                                                   "Intercept[2]": np.array([1.0])})
>>> np.round(p[0, 0], 3).tolist()
[0.269, 0.462, 0.269]
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import special

from mixedfit.families.categories import CategoryFamily
from mixedfit.families.family import PriorSpec

__all__ = ["Cumulative", "threshold_names"]

#: the thresholds' default prior (brms': student_t(3, 0, 2.5)), at the predictors' means
_THRESHOLD_PRIOR: PriorSpec = ("StudentT", {"nu": 3.0, "mu": 0.0, "sigma": 2.5})


def threshold_names(k: int) -> tuple[str, ...]:
    """The names of the ``k - 1`` thresholds of ``k`` categories.

    Examples
    --------
    >>> threshold_names(3)
    ('Intercept[1]', 'Intercept[2]')
    """
    return tuple(f"Intercept[{j}]" for j in range(1, k))


def _log_cdf(link: str, x: np.ndarray) -> np.ndarray:
    """``log F(x)`` of the latent distribution, finite for every finite ``x``."""
    if link == "logit":
        return -np.logaddexp(0.0, -x)
    return special.log_ndtr(x)


def _log_interval(link: str, upper: np.ndarray, lower: np.ndarray) -> np.ndarray:
    """``log(F(upper) - F(lower))`` for ``lower < upper`` (either may be infinite)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        # on the side where both are above 0, F(u) - F(l) = F(-l) - F(-u): the smaller
        # tail, computed without cancellation
        flip = lower > 0
        u = np.where(flip, -lower, upper)
        lo = np.where(flip, -upper, lower)
        lu = _log_cdf(link, u)
        ll = _log_cdf(link, lo)
        return lu + np.log1p(-np.exp(np.minimum(ll - lu, 0.0)))


class Cumulative(CategoryFamily):
    """``P(y <= k) = F(Intercept[k] - eta)``: an ordered categorical response; links
    logit, probit.

    Parameters
    ----------
    link : {"logit", "probit"}, optional
        The latent distribution: logistic (proportional odds) or normal.
    categories : sequence, optional
        The response's categories from lowest to highest. Given, the response's values
        (compared as text) must be among them; by default they come from the response.
    """

    name = "cumulative"
    links = ("logit", "probit")
    ordered_categories = True
    kind = "cumulative (ordinal)"
    _compiled = "cumulative"

    @property
    def parameters(self) -> tuple[str, ...]:  # type: ignore[override]
        """The thresholds ``Intercept[1]``, ..., ``Intercept[K-1]`` (none before the
        categories are known)."""
        return () if self.categories is None else threshold_names(len(self.categories))

    @property
    def intercepts(self) -> tuple[str, ...]:
        return self.parameters

    def parameter_transform(self, name: str) -> str:
        # the first threshold is any real number, each next one lies above it
        return "real" if name == "Intercept[1]" else "increment"

    def parameter_priors(self, y: np.ndarray) -> dict[str, PriorSpec]:
        return {name: _THRESHOLD_PRIOR for name in self.parameters}

    def parameter_starts(self, y: np.ndarray, trials: np.ndarray | None) -> dict[str, float]:
        # the thresholds of the response's cumulative shares at eta = 0
        k = len(self.parameters) + 1
        counts = np.bincount(np.asarray(y, dtype=int), minlength=k)[:k] + 0.5
        share = np.clip(np.cumsum(counts)[:-1] / counts.sum(), 0.02, 0.98)
        cuts = special.logit(share) if self.link == "logit" else special.ndtri(share)
        cuts = np.maximum.accumulate(cuts + 1e-3 * np.arange(k - 1))
        return dict(zip(self.parameters, cuts.tolist(), strict=True))

    def link_scale_start(self, y: np.ndarray, trials: np.ndarray | None) -> np.ndarray:
        # a rough latent score per row: the quantile of the middle of its category's share
        # (so that the spread between groups, which decides their parameterisation, shows)
        code = np.asarray(y, dtype=int)
        counts = np.bincount(code, minlength=len(self.parameters) + 1).astype(float)
        mid = (np.cumsum(counts) - 0.5 * counts) / counts.sum()
        mid = np.clip(mid, 0.01, 0.99)
        score = special.logit(mid) if self.link == "logit" else special.ndtri(mid)
        return score[code] - float(np.mean(score[code]))

    def working_variance(self, y: np.ndarray, trials: np.ndarray | None) -> float:
        # the latent variable's variance (pi^2 / 3 for the logistic): the information per
        # row is of the order of a binary response's
        return 4.0 if self.link == "logit" else 1.6

    def _cuts(self, params: dict[str, np.ndarray]) -> np.ndarray:
        """The thresholds as ``(S, K - 1)``."""
        return np.column_stack([np.asarray(params[t], dtype=float).reshape(-1)
                                for t in self.parameters])

    def category_probabilities(self, eta: np.ndarray, params: dict[str, np.ndarray]
                               ) -> np.ndarray:
        """``P(y = k)`` for linear-predictor draws ``eta`` (S, n): ``(S, n, K)``."""
        cuts = self._cuts(params)
        cum = (special.expit if self.link == "logit" else special.ndtr)(
            cuts[:, None, :] - np.asarray(eta)[:, :, None])
        shape = (*cum.shape[:2], 1)
        cum = np.concatenate([np.zeros(shape), cum, np.ones(shape)], axis=2)
        return np.diff(cum, axis=2)

    # ------------------------------------------------------------ likelihood
    def pymc_likelihood(self, pm: Any, pt: Any, eta: Any, params: dict[str, Any],
                        y: np.ndarray, trials: np.ndarray | None) -> Any:
        cuts = pt.stack([params[t] for t in self.parameters])
        codes = np.asarray(y, dtype=int)
        if self.link == "logit":
            return pm.OrderedLogistic("y", eta=eta, cutpoints=cuts, observed=codes,
                                      compute_p=False, dims="obs")
        return pm.OrderedProbit("y", eta=eta, cutpoints=cuts, sigma=1.0, observed=codes,
                                compute_p=False, dims="obs")

    def log_likelihood(self, y, eta, params, trials):  # noqa: ANN001, ANN201 - as Family
        cuts = self._cuts(params)
        S = cuts.shape[0]
        padded = np.concatenate([np.full((S, 1), -np.inf), cuts, np.full((S, 1), np.inf)],
                                axis=1)
        code = np.asarray(y, dtype=int)
        outside = (code < 0) | (code > cuts.shape[1])  # not a category: probability 0
        code = np.clip(code, 0, cuts.shape[1])
        eta = np.asarray(eta, dtype=float)
        out = _log_interval(self.link, padded[:, code + 1] - eta, padded[:, code] - eta)
        return np.where(outside, -np.inf, out)

    def simulate(self, mu, params, trials, rng):  # noqa: ANN001, ANN201 - as Family
        cuts = self._cuts(params)
        eta = np.asarray(mu, dtype=float)
        noise = (rng.logistic(size=eta.shape) if self.link == "logit"
                 else rng.standard_normal(size=eta.shape))
        latent = eta + noise
        return np.sum(cuts[:, None, :] < latent[:, :, None], axis=2).astype(float)

    def variance(self, mu: np.ndarray) -> np.ndarray:
        return np.full_like(np.asarray(mu, dtype=float), np.pi ** 2 / 3
                            if self.link == "logit" else 1.0)

    def dmu_deta(self, eta: np.ndarray, mu: np.ndarray) -> np.ndarray:
        return np.ones_like(np.asarray(eta, dtype=float))

