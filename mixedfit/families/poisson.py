"""The Poisson family: ``y ~ Poisson(mu)``."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import special

from mixedfit.families.family import Family, integers

__all__ = ["Poisson", "Counts"]


class Counts(Family):
    """What the count families share: non-negative integers, log link first."""

    links = ("log", "identity")
    discrete = True

    def check_values(self, y: np.ndarray, name: str) -> None:
        integers(y, name, self.name)

    def degenerate(self, y, trials, name):  # noqa: ANN001, ANN201 - as Family
        if y.size and np.all(y == 0):
            return ("error", f"The {self.name} response {name!r} is 0 in every one of its "
                             f"{y.size} rows: the expected count has no finite estimate on the "
                             f"{self.link} scale and the fit would show the prior alone. Check "
                             f"the column and any filtering of rows.")
        return None

    def variance(self, mu: np.ndarray) -> np.ndarray:
        return mu

    def irls_start(self, y: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return y, y + 0.5

    def own_fit_problem(self, y: np.ndarray, n: np.ndarray | None) -> str:
        if np.all(y == 0):
            return "all counts zero: the level's own fit has no finite estimate"
        return ""

    def working_variance(self, y: np.ndarray, trials: np.ndarray | None) -> float:
        return 1.0 / max(float(np.mean(y)), 1e-3)


class Poisson(Counts):
    """Counts: ``y ~ Poisson(mu)``; links log, identity."""

    name = "poisson"
    _compiled = "poisson"

    def pymc_likelihood(self, pm: Any, pt: Any, eta: Any, params: dict[str, Any],
                        y: np.ndarray, trials: np.ndarray | None) -> Any:
        return pm.Poisson("y", mu=self.inverse_link(eta, pt), observed=y, dims="obs")

    def log_likelihood(self, y, eta, params, trials):  # noqa: ANN001, ANN201 - as Family
        # scipy.stats.poisson.logpmf's terms, written out (its generic checks took longer
        # than the terms): y log mu - mu - log y! (y = 0 at mu = 0: 0)
        y = np.asarray(y, dtype=float)
        mu = self.inverse_link(eta)
        return special.xlogy(y, mu) - mu - special.gammaln(y + 1.0)

    def simulate(self, mu, params, trials, rng):  # noqa: ANN001, ANN201 - as Family
        return rng.poisson(np.maximum(mu, 0)).astype(float)
