"""The gamma family: positive continuous responses."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

from mixedfit.errors import DataError
from mixedfit.families.family import Family, PriorSpec

__all__ = ["Gamma"]


class Gamma(Family):
    """``y ~ Gamma(shape=alpha, rate=alpha / mu)``, variance ``mu^2 / alpha``; links
    inverse, log, identity; ``alpha ~ HalfCauchy(beta=1)`` by default."""

    name = "gamma"
    links = ("inverse", "log", "identity")
    parameters = ("alpha",)

    def parameter_priors(self, y: np.ndarray) -> dict[str, PriorSpec]:
        return {"alpha": ("HalfCauchy", {"beta": 1.0})}

    def check_values(self, y: np.ndarray, name: str) -> None:
        if np.any(y <= 0):
            raise DataError(f"The gamma response {name!r} must be positive; it has values "
                            f"<= 0 (e.g. {y[y <= 0][0]:g}).")

    def pymc_likelihood(self, pm: Any, pt: Any, eta: Any, params: dict[str, Any],
                        y: np.ndarray, trials: np.ndarray | None) -> Any:
        alpha = params["alpha"]
        return pm.Gamma("y", alpha=alpha, beta=alpha / self.inverse_link(eta, pt), observed=y,
                        dims="obs")

    def log_likelihood(self, y, eta, params, trials):  # noqa: ANN001, ANN201 - as Family
        alpha = self.params_of(params, "alpha")
        return stats.gamma.logpdf(y, alpha, scale=self.inverse_link(eta) / alpha)

    def simulate(self, mu, params, trials, rng):  # noqa: ANN001, ANN201 - as Family
        alpha = self.params_of(params, "alpha")
        return rng.gamma(alpha, np.maximum(mu, 1e-300) / alpha)

    def variance(self, mu: np.ndarray) -> np.ndarray:
        return mu**2
