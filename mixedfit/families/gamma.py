"""The gamma family: positive continuous responses."""

from __future__ import annotations

from typing import Any

import numpy as np

from mixedfit.errors import DataError
from mixedfit.families.family import Family, PriorSpec, scipy_stats

__all__ = ["Gamma"]


class Gamma(Family):
    """``y ~ Gamma(shape=alpha, rate=alpha / mu)``, variance ``mu^2 / alpha``; links
    inverse, log, identity; ``alpha ~ HalfCauchy(beta=1)`` by default."""

    name = "gamma"
    links = ("inverse", "log", "identity")
    parameters = ("alpha",)
    _compiled = "gamma"

    def parameter_priors(self, y: np.ndarray) -> dict[str, PriorSpec]:
        return {"alpha": ("HalfCauchy", {"beta": 1.0})}

    def check_values(self, y: np.ndarray, name: str) -> None:
        if np.any(y <= 0):
            raise DataError(f"The gamma response {name!r} must be positive; it has values "
                            f"<= 0 (e.g. {y[y <= 0][0]:g}).")

    def parameter_starts(self, y: np.ndarray, trials: np.ndarray | None) -> dict[str, float]:
        # method of moments: var = mu^2 / alpha
        mean, var = float(np.mean(y)), float(np.var(y))
        return {"alpha": float(np.clip(mean**2 / var, 0.1, 100.0)) if var > 0 else 1.0}

    def working_variance(self, y: np.ndarray, trials: np.ndarray | None) -> float:
        # var(y) / (d mu / d eta)^2 at the mean, var(y) = mu^2 / alpha
        mu = float(np.mean(y))
        slope = float(self.dmu_deta(self.link_function(mu), np.asarray(mu)))
        return mu**2 / self.parameter_starts(y, trials)["alpha"] / slope**2

    def pymc_likelihood(self, pm: Any, pt: Any, eta: Any, params: dict[str, Any],
                        y: np.ndarray, trials: np.ndarray | None) -> Any:
        alpha = params["alpha"]
        return pm.Gamma("y", alpha=alpha, beta=alpha / self.inverse_link(eta, pt), observed=y,
                        dims="obs")

    def log_likelihood(self, y, eta, params, trials):  # noqa: ANN001, ANN201 - as Family
        alpha = self.params_of(params, "alpha")
        return scipy_stats().gamma.logpdf(y, alpha, scale=self.inverse_link(eta) / alpha)

    def simulate(self, mu, params, trials, rng):  # noqa: ANN001, ANN201 - as Family
        alpha = self.params_of(params, "alpha")
        return rng.gamma(alpha, np.maximum(mu, 1e-300) / alpha)

    def variance(self, mu: np.ndarray) -> np.ndarray:
        return mu**2
