"""The negative binomial family: over-dispersed counts."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

from mixedfit.families.family import PriorSpec
from mixedfit.families.poisson import Counts

__all__ = ["NegativeBinomial"]


class NegativeBinomial(Counts):
    """``y ~ NegativeBinomial(mu, alpha)``, variance ``mu + mu^2 / alpha``; links log,
    identity; ``alpha ~ HalfCauchy(beta=1)`` by default."""

    name = "negativebinomial"
    parameters = ("alpha",)

    def parameter_priors(self, y: np.ndarray) -> dict[str, PriorSpec]:
        return {"alpha": ("HalfCauchy", {"beta": 1.0})}

    def pymc_likelihood(self, pm: Any, pt: Any, eta: Any, params: dict[str, Any],
                        y: np.ndarray, trials: np.ndarray | None) -> Any:
        return pm.NegativeBinomial("y", mu=self.inverse_link(eta, pt), alpha=params["alpha"],
                                   observed=y, dims="obs")

    def log_likelihood(self, y, eta, params, trials):  # noqa: ANN001, ANN201 - as Family
        alpha = self.params_of(params, "alpha")
        mu = self.inverse_link(eta)
        return stats.nbinom.logpmf(y, alpha, alpha / (alpha + mu))

    def simulate(self, mu, params, trials, rng):  # noqa: ANN001, ANN201 - as Family
        alpha = self.params_of(params, "alpha")
        lam = rng.gamma(alpha, np.maximum(mu, 1e-300) / alpha)
        return rng.poisson(lam).astype(float)
