"""The negative binomial family: over-dispersed counts."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import special

from mixedfit.families.family import PriorSpec
from mixedfit.families.poisson import Counts

__all__ = ["NegativeBinomial"]


class NegativeBinomial(Counts):
    """``y ~ NegativeBinomial(mu, alpha)``, variance ``mu + mu^2 / alpha``; links log,
    identity; ``alpha ~ HalfCauchy(beta=1)`` by default."""

    name = "negativebinomial"
    parameters = ("alpha",)
    _compiled = "negativebinomial"

    def parameter_priors(self, y: np.ndarray) -> dict[str, PriorSpec]:
        return {"alpha": ("HalfCauchy", {"beta": 1.0})}

    def parameter_starts(self, y: np.ndarray, trials: np.ndarray | None) -> dict[str, float]:
        # method of moments: var = mu + mu^2 / alpha (a Poisson-like response: 10)
        mean, var = float(np.mean(y)), float(np.var(y))
        return {"alpha": float(np.clip(mean**2 / (var - mean), 0.1, 10.0))
                if var > mean else 10.0}

    def working_variance(self, y: np.ndarray, trials: np.ndarray | None) -> float:
        # on the log scale: 1 / mu + 1 / alpha (the over-dispersion lowers the
        # information a row carries, against the Poisson's 1 / mu)
        mean = max(float(np.mean(y)), 1e-3)
        return 1.0 / mean + 1.0 / self.parameter_starts(y, trials)["alpha"]

    def pymc_likelihood(self, pm: Any, pt: Any, eta: Any, params: dict[str, Any],
                        y: np.ndarray, trials: np.ndarray | None) -> Any:
        return pm.NegativeBinomial("y", mu=self.inverse_link(eta, pt), alpha=params["alpha"],
                                   observed=y, dims="obs")

    def log_likelihood(self, y, eta, params, trials):  # noqa: ANN001, ANN201 - as Family
        alpha = self.params_of(params, "alpha")
        mu = self.inverse_link(eta)
        y = np.asarray(y, dtype=float)
        # scipy.stats.nbinom.logpmf's terms, written out (its generic checks took 5x
        # longer): log Gamma(y + a) / (Gamma(a) y!) + a log(a / (a + mu)) + y log(mu /
        # (a + mu)); y = 0 at mu = 0 gives 0, y > 0 there -inf
        return (special.gammaln(y + alpha) - special.gammaln(alpha) - special.gammaln(y + 1.0)
                - alpha * np.log1p(mu / alpha) + special.xlogy(y, mu)
                - special.xlogy(y, alpha + mu))

    def simulate(self, mu, params, trials, rng):  # noqa: ANN001, ANN201 - as Family
        alpha = self.params_of(params, "alpha")
        lam = rng.gamma(alpha, np.maximum(mu, 1e-300) / alpha)
        return rng.poisson(lam).astype(float)
