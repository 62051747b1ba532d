"""The Gaussian family: ``y ~ Normal(mu, sigma)``."""

from __future__ import annotations

from typing import Any

import numpy as np

from mixedfit.families.family import Family, PriorSpec, scipy_stats

__all__ = ["Gaussian", "KnownSD", "scale_prior"]


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
        return scipy_stats().norm.logpdf(y, self.inverse_link(eta), self.params_of(params, "sigma"))

    def simulate(self, mu, params, trials, rng):  # noqa: ANN001, ANN201 - as Family
        return rng.normal(mu, self.params_of(params, "sigma"))

    def with_known_scale(self) -> Family:
        if self.link != "identity":
            return super().with_known_scale()
        return KnownSD(self.link)

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
        return scipy_stats().norm.logpdf(y, self.inverse_link(eta), sd)

    def weighted_simulate(self, mu, params, trials, weights, rng):  # noqa: ANN001, ANN201 - as Family
        if weights is None:
            return self.simulate(mu, params, trials, rng)
        sd = self.params_of(params, "sigma") / np.sqrt(np.asarray(weights))[None, :]
        return rng.normal(mu, sd)

    def link_scale_start(self, y: np.ndarray, trials: np.ndarray | None) -> np.ndarray:
        if self.link != "identity":
            return super().link_scale_start(y, trials)
        return np.asarray(y, dtype=float).copy()


class KnownSD(Gaussian):
    """Normal response whose rows' sds are known (``se=``): ``y_i ~ Normal(mu_i, se_i)``,
    no residual sd (brms' ``y | se(sei)``; a random-effects meta-analysis).

    The likelihood's weights are the precisions ``1 / se^2``
    (:meth:`mixedfit.design.Design.likelihood_weights`).

    Examples
    --------
    >>> fam = Gaussian().with_known_scale()
    >>> fam, fam.parameters, fam.known_scale
    (Family(name='gaussian', link='identity', se=True), (), True)
    """

    parameters = ()
    known_scale = True
    links = ("identity",)

    def __repr__(self) -> str:
        return f"Family(name={self.name!r}, link={self.link!r}, se=True)"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, KnownSD) and other.link == self.link

    def __hash__(self) -> int:
        return hash((self.name, self.link, "se"))

    def parameter_starts(self, y: np.ndarray, trials: np.ndarray | None) -> dict[str, float]:
        return {}

    def parameter_priors(self, y: np.ndarray) -> dict[str, PriorSpec]:
        return {}

    def with_known_scale(self) -> Family:
        return self

    @staticmethod
    def _sd(weights: np.ndarray | None) -> np.ndarray:
        if weights is None:
            raise ValueError("a known-sd Gaussian needs the rows' precisions")
        return 1.0 / np.sqrt(np.asarray(weights, dtype=float))

    def pymc_likelihood(self, pm, pt, eta, params, y, trials):  # noqa: ANN001, ANN201 - as Family
        raise ValueError("a known-sd Gaussian needs the rows' precisions: "
                         "pymc_weighted_likelihood")

    def pymc_weighted_likelihood(self, pm, pt, eta, params, y, trials, weights):  # noqa: ANN001, ANN201 - as Family
        return pm.Normal("y", mu=eta, sigma=self._sd(weights), observed=y, dims="obs")

    def log_likelihood(self, y, eta, params, trials):  # noqa: ANN001, ANN201 - as Family
        raise ValueError("a known-sd Gaussian needs the rows' precisions: "
                         "weighted_log_likelihood")

    def weighted_log_likelihood(self, y, eta, params, trials, weights):  # noqa: ANN001, ANN201 - as Family
        return scipy_stats().norm.logpdf(y, eta, self._sd(weights)[None, :])

    def weighted_simulate(self, mu, params, trials, weights, rng):  # noqa: ANN001, ANN201 - as Family
        return rng.normal(mu, self._sd(weights)[None, :])
