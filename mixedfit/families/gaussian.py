"""The Gaussian family: ``y ~ Normal(mu, sigma)``."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

from mixedfit.families.family import Family, PriorSpec

__all__ = ["Gaussian", "scale_prior"]


def scale_prior(y: np.ndarray) -> PriorSpec:
    """``sigma ~ HalfStudentT(nu=4, sigma=sd(y))`` (1 for a constant response)."""
    sd = float(np.std(y))
    return "HalfStudentT", {"nu": 4.0, "sigma": sd if sd > 0 else 1.0}


class Gaussian(Family):
    """Normal response: ``y ~ Normal(mu, sigma)``; links identity, log, inverse.

    Examples
    --------
    >>> Gaussian().parameters, Gaussian().location_scale, Gaussian("log").location_scale
    (('sigma',), True, False)
    """

    name = "gaussian"
    links = ("identity", "log", "inverse")
    parameters = ("sigma",)
    kind = "linear"
    _location_scale = True
    _compiled = "gaussian"
    precision_weights = True

    @property
    def integrates_out(self) -> bool:
        return self.link == "identity"

    def parameter_starts(self, y: np.ndarray, trials: np.ndarray | None) -> dict[str, float]:
        return {"sigma": float(np.std(y)) or 1.0}

    def parameter_priors(self, y: np.ndarray) -> dict[str, PriorSpec]:
        return {"sigma": scale_prior(y)}

    def pymc_likelihood(self, pm: Any, pt: Any, eta: Any, params: dict[str, Any],
                        y: np.ndarray, trials: np.ndarray | None) -> Any:
        return pm.Normal("y", mu=self.inverse_link(eta, pt), sigma=params["sigma"],
                         observed=y, dims="obs")

    def log_likelihood(self, y, eta, params, trials):  # noqa: ANN001, ANN201 - as Family
        return stats.norm.logpdf(y, self.inverse_link(eta), self.params_of(params, "sigma"))

    def simulate(self, mu, params, trials, rng):  # noqa: ANN001, ANN201 - as Family
        return rng.normal(mu, self.params_of(params, "sigma"))

    # precision weights: row i has sd sigma / sqrt(w_i), as lmer's weights
    def pymc_weighted_likelihood(self, pm, pt, eta, params, y, trials, weights):  # noqa: ANN001, ANN201 - as Family
        if weights is None:
            return self.pymc_likelihood(pm, pt, eta, params, y, trials)
        sd = params["sigma"] / np.sqrt(np.asarray(weights, dtype=float))
        return pm.Normal("y", mu=self.inverse_link(eta, pt), sigma=sd, observed=y, dims="obs")

    def weighted_log_likelihood(self, y, eta, params, trials, weights):  # noqa: ANN001, ANN201 - as Family
        if weights is None:
            return self.log_likelihood(y, eta, params, trials)
        sd = self.params_of(params, "sigma") / np.sqrt(np.asarray(weights))[None, :]
        return stats.norm.logpdf(y, self.inverse_link(eta), sd)

    def weighted_simulate(self, mu, params, trials, weights, rng):  # noqa: ANN001, ANN201 - as Family
        if weights is None:
            return self.simulate(mu, params, trials, rng)
        sd = self.params_of(params, "sigma") / np.sqrt(np.asarray(weights))[None, :]
        return rng.normal(mu, sd)

    def link_scale_start(self, y: np.ndarray, trials: np.ndarray | None) -> np.ndarray:
        if self.link != "identity":
            return super().link_scale_start(y, trials)
        return np.asarray(y, dtype=float).copy()
