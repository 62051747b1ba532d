"""The Student-t family: ``y ~ StudentT(nu, mu, sigma)``, robust to outliers."""

from __future__ import annotations

from typing import Any

import numpy as np

from mixedfit.families.family import Family, PriorSpec, scipy_stats
from mixedfit.families.gaussian import scale_prior

__all__ = ["StudentT"]


class StudentT(Family):
    """Student-t response: ``y ~ StudentT(nu, mu, sigma)``; links identity, log, inverse;
    ``nu ~ Gamma(alpha=2, beta=0.1)`` by default."""

    name = "t"
    links = ("identity", "log", "inverse")
    parameters = ("sigma", "nu")
    kind = "linear (Student-t)"
    _location_scale = True
    _compiled = "t"

    def parameter_priors(self, y: np.ndarray) -> dict[str, PriorSpec]:
        return {"sigma": scale_prior(y), "nu": ("Gamma", {"alpha": 2.0, "beta": 0.1})}

    def parameter_starts(self, y: np.ndarray, trials: np.ndarray | None) -> dict[str, float]:
        return {"sigma": float(np.std(y)) or 1.0, "nu": 10.0}

    def pymc_likelihood(self, pm: Any, pt: Any, eta: Any, params: dict[str, Any],
                        y: np.ndarray, trials: np.ndarray | None) -> Any:
        return pm.StudentT("y", nu=params["nu"], mu=self.inverse_link(eta, pt),
                           sigma=params["sigma"], observed=y, dims="obs")

    def log_likelihood(self, y, eta, params, trials):  # noqa: ANN001, ANN201 - as Family
        return scipy_stats().t.logpdf(y, self.params_of(params, "nu"), loc=self.inverse_link(eta),
                              scale=self.params_of(params, "sigma"))

    def simulate(self, mu, params, trials, rng):  # noqa: ANN001, ANN201 - as Family
        return mu + self.params_of(params, "sigma") * rng.standard_t(
            self.params_of(params, "nu"), size=mu.shape)
