"""The binomial family: ``y ~ Binomial(n, mu)``, y successes out of n trials."""

from __future__ import annotations

from typing import Any

import numpy as np

from mixedfit.families.bernoulli import Probability

__all__ = ["Binomial"]


class Binomial(Probability):
    """Successes out of trials: ``cbind(successes, failures) ~ ...`` or ``trials=``.

    Examples
    --------
    >>> Binomial("cloglog").link
    'cloglog'
    """

    name = "binomial"
    takes_trials = True

    def pymc_likelihood(self, pm: Any, pt: Any, eta: Any, params: dict[str, Any],
                        y: np.ndarray, trials: np.ndarray | None) -> Any:
        if self.link == "logit":
            return pm.Binomial("y", n=trials, logit_p=eta, observed=y, dims="obs")
        return pm.Binomial("y", n=trials,
                           p=pt.clip(self.inverse_link(eta, pt), 1e-12, 1 - 1e-12),
                           observed=y, dims="obs")

    def simulate(self, mu, params, trials, rng):  # noqa: ANN001, ANN201 - as Family
        n = np.ones(mu.shape[1]) if trials is None else trials
        return rng.binomial(n.astype(np.int64)[None, :], np.clip(mu, 0, 1)).astype(float)
