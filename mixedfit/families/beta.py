"""The beta family: proportions strictly inside (0, 1)."""

from __future__ import annotations

from typing import Any

import numpy as np

from mixedfit.errors import DataError
from mixedfit.families.family import Family, PriorSpec, scipy_stats

__all__ = ["Beta"]


class Beta(Family):
    """``y ~ Beta(mu kappa, (1 - mu) kappa)``, variance ``mu (1 - mu) / (1 + kappa)``;
    links logit, probit, cloglog; ``kappa ~ HalfCauchy(beta=1)`` by default."""

    name = "beta"
    links = ("logit", "probit", "cloglog")
    parameters = ("kappa",)
    probability = True
    _compiled = "beta"

    def parameter_priors(self, y: np.ndarray) -> dict[str, PriorSpec]:
        return {"kappa": ("HalfCauchy", {"beta": 1.0})}

    def check_values(self, y: np.ndarray, name: str) -> None:
        if np.any(y <= 0) or np.any(y >= 1):
            bad = y[(y <= 0) | (y >= 1)][0]
            raise DataError(f"The beta response {name!r} must lie strictly between 0 and 1; "
                            f"it has {bad:g}. Squeeze it, e.g. (y * (n - 1) + 0.5) / n.")

    def parameter_starts(self, y: np.ndarray, trials: np.ndarray | None) -> dict[str, float]:
        # method of moments: var = mu (1 - mu) / (1 + kappa)
        mean, var = float(np.mean(y)), float(np.var(y))
        return {"kappa": float(np.clip(mean * (1 - mean) / var - 1.0, 0.5, 100.0))
                if var > 0 else 1.0}

    def working_variance(self, y: np.ndarray, trials: np.ndarray | None) -> float:
        # var(y) / (d mu / d eta)^2 at the mean, var(y) = mu (1 - mu) / (1 + kappa)
        mu = float(np.clip(np.mean(y), 0.01, 0.99))
        slope = float(self.dmu_deta(self.link_function(mu), np.asarray(mu)))
        return mu * (1 - mu) / (1 + self.parameter_starts(y, trials)["kappa"]) / slope**2

    def pymc_likelihood(self, pm: Any, pt: Any, eta: Any, params: dict[str, Any],
                        y: np.ndarray, trials: np.ndarray | None) -> Any:
        kappa = params["kappa"]
        mu = pt.clip(self.inverse_link(eta, pt), 1e-12, 1 - 1e-12)
        return pm.Beta("y", alpha=mu * kappa, beta=(1 - mu) * kappa, observed=y, dims="obs")

    def log_likelihood(self, y, eta, params, trials):  # noqa: ANN001, ANN201 - as Family
        kappa = self.params_of(params, "kappa")
        m = np.clip(self.inverse_link(eta), 1e-12, 1 - 1e-12)
        return scipy_stats().beta.logpdf(y, m * kappa, (1 - m) * kappa)

    def simulate(self, mu, params, trials, rng):  # noqa: ANN001, ANN201 - as Family
        kappa = self.params_of(params, "kappa")
        m = np.clip(mu, 1e-12, 1 - 1e-12)
        return rng.beta(m * kappa, (1 - m) * kappa)

    def variance(self, mu: np.ndarray) -> np.ndarray:
        return mu * (1.0 - mu)

    def irls_start(self, y: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return y, np.clip(y, 0.01, 0.99)

    def clip_mean(self, mu: np.ndarray) -> np.ndarray:
        return np.clip(mu, 1e-12, 1 - 1e-12)
