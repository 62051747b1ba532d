"""The Bernoulli family: ``y ~ Bernoulli(mu)``, y in {0, 1}."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import special

from mixedfit.families.family import Family

__all__ = ["Bernoulli", "Probability"]


class Probability(Family):
    """What the Bernoulli and binomial families share: successes out of trials."""

    links = ("logit", "probit", "cloglog")
    discrete = True
    probability = True
    _compiled = "binomial"

    @staticmethod
    def _n(y: np.ndarray, trials: np.ndarray | None) -> np.ndarray:
        return np.ones_like(y) if trials is None else trials

    def degenerate(self, y, trials, name):  # noqa: ANN001, ANN201 - as Family
        n = self._n(y, trials)
        if y.size and (np.all(y == 0) or np.all(y == n)):
            # a valid posterior (a data set the model can produce, which SBC must fit)
            # whose other side is the prior's: said, not refused
            what = "success" if np.all(y == 0) else "failure"
            side = "small" if what == "success" else "large"
            return ("warning", f"The {self.name} response {name!r} has no {what} in any of "
                               f"its {y.size} rows: the data say only that the probability of "
                               f"success is {side}; how {side} comes from the priors. Check the "
                               f"column and any filtering of rows.")
        return None

    def _log_p(self, eta: np.ndarray, mu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """log(mu) and log(1 - mu), stable for the logit link."""
        if self.link == "logit":
            return -np.logaddexp(0.0, -eta), -np.logaddexp(0.0, eta)
        m = np.clip(mu, 1e-300, 1 - 1e-16)
        return np.log(m), np.log1p(-m)

    def log_likelihood(self, y, eta, params, trials):  # noqa: ANN001, ANN201 - as Family
        n = self._n(y, trials)
        lp, lq = self._log_p(eta, self.inverse_link(eta))
        const = special.gammaln(n + 1) - special.gammaln(y + 1) - special.gammaln(n - y + 1)
        return const + y * lp + (n - y) * lq

    def variance(self, mu: np.ndarray) -> np.ndarray:
        return mu * (1.0 - mu)

    def irls_start(self, y: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return y / n, (y + 0.5) / (n + 1.0)

    def clip_mean(self, mu: np.ndarray) -> np.ndarray:
        return np.clip(mu, 1e-12, 1 - 1e-12)

    def own_fit_problem(self, y: np.ndarray, n: np.ndarray | None) -> str:
        if np.all(y == self._n(y, n)):
            return "all successes: the level's own fit has no finite estimate"
        if np.all(y == 0):
            return "all failures: the level's own fit has no finite estimate"
        return ""

    def working_variance(self, y: np.ndarray, trials: np.ndarray | None) -> float:
        n = self._n(y, trials)
        p = float(np.clip(y.sum() / n.sum(), 0.02, 0.98))
        return 1.0 / (float(np.mean(n)) * p * (1 - p))

    def link_scale_start(self, y: np.ndarray, trials: np.ndarray | None) -> np.ndarray:
        if self.link != "logit":
            return super().link_scale_start(y, trials)
        y = np.asarray(y, dtype=float)
        n = np.ones_like(y) if trials is None else np.asarray(trials, float)
        pr = (y + 0.5) / (n + 1.0)
        return np.log(pr / (1 - pr))


class Bernoulli(Probability):
    """Binary response (0/1, booleans or a two-level factor): ``y ~ Bernoulli(mu)``."""

    name = "bernoulli"
    binary = True

    def pymc_likelihood(self, pm: Any, pt: Any, eta: Any, params: dict[str, Any],
                        y: np.ndarray, trials: np.ndarray | None) -> Any:
        if self.link == "logit":
            return pm.Bernoulli("y", logit_p=eta, observed=y, dims="obs")
        return pm.Bernoulli("y", p=pt.clip(self.inverse_link(eta, pt), 1e-12, 1 - 1e-12),
                            observed=y, dims="obs")

    def simulate(self, mu, params, trials, rng):  # noqa: ANN001, ANN201 - as Family
        return rng.binomial(1, np.clip(mu, 0, 1)).astype(float)
