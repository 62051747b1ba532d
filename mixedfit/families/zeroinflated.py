"""Zero-inflated and hurdle count families: more zeros than a Poisson or negative
binomial allows.

- **Zero-inflated** (``zero_inflated_poisson``, ``zero_inflated_negativebinomial``): a
  row is a structural zero with probability ``zi``, else a count from the Poisson or
  negative binomial with mean ``mu``: ``p(0) = zi + (1 - zi) p_count(0)``,
  ``p(y) = (1 - zi) p_count(y)`` for ``y > 0`` (glmmTMB's ``ziformula = ~1``, brms'
  ``zero_inflated_poisson``). ``mu`` is the mean of the count part; the expected
  response is ``(1 - zi) mu``.
- **Hurdle** (``hurdle_poisson``, ``hurdle_negativebinomial``): a row is zero with
  probability ``hu``, else a count from the count distribution truncated at zero:
  ``p(0) = hu``, ``p(y) = (1 - hu) p_count(y) / (1 - p_count(0))`` (glmmTMB's
  ``truncated_poisson`` with ``ziformula = ~1``, brms' ``hurdle_poisson``). The
  expected response is ``(1 - hu) mu / (1 - p_count(0))``.

``zi`` and ``hu`` are one probability for every row (default prior ``Beta(1, 1)``,
sampled on the logit scale); the group and fixed effects act on ``log mu``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mixedfit.families.family import PriorSpec, scipy_stats
from mixedfit.families.negativebinomial import NegativeBinomial
from mixedfit.families.poisson import Poisson

__all__ = ["ZeroInflatedPoisson", "ZeroInflatedNegativeBinomial", "HurdlePoisson",
           "HurdleNegativeBinomial"]

#: the probability's default prior (brms': beta(1, 1))
_UNIT_PRIOR: PriorSpec = ("Beta", {"alpha": 1.0, "beta": 1.0})


def _nb_log_p0(mu: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """``log p(0)`` of the negative binomial with mean ``mu`` and shape ``alpha``."""
    return -alpha * np.log1p(mu / alpha)


class _ZeroModel:
    """What the zero-inflated and hurdle families share: one probability parameter,
    counts with a log link, and no per-level own fit (a Poisson or negative binomial
    fit of one level would ignore the zeros' own process)."""

    links = ("log",)
    kind = "zero-inflated count"
    #: the probability parameter's name: "zi" (zero-inflated) or "hu" (hurdle)
    prob: str = "zi"
    hurdle: bool = False

    def own_fit_problem(self, y: np.ndarray, n: np.ndarray | None) -> str:
        return ("no own fit is computed for a level of a zero-inflated or hurdle model "
                "(a count model of one level would ignore the zeros' own process)")

    def _probability_start(self, y: np.ndarray) -> float:
        zeros = float(np.mean(np.asarray(y) == 0))
        if self.hurdle:
            return float(np.clip(zeros, 0.02, 0.98))
        mean = max(float(np.mean(y)), 1e-3)
        return float(np.clip(zeros - np.exp(-mean), 0.05, 0.9))

    def _log_p0(self, mu: np.ndarray, params: dict[str, np.ndarray]) -> np.ndarray:
        """``log p(0)`` of the count part."""
        return -mu

    def expected_response(self, eta, params):  # noqa: ANN001, ANN201 - as Family
        mu = np.exp(eta)
        p = self.params_of(params, self.prob)
        if self.hurdle:  # E[y] = (1 - hu) E[y | y > 0] = (1 - hu) mu / (1 - p(0))
            return (1.0 - p) * mu / -np.expm1(self._log_p0(mu, params))
        return (1.0 - p) * mu

    def _mix(self, y: np.ndarray, log_count: np.ndarray, log_p0: np.ndarray,
             p: np.ndarray) -> np.ndarray:
        """Each row's log-likelihood from the count part's ``log p(y)`` and ``log p(0)``."""
        zero = np.asarray(y)[None, :] == 0
        if self.hurdle:
            positive = np.log1p(-p) + log_count - np.log(-np.expm1(log_p0))
            return np.where(zero, np.broadcast_to(np.log(p), positive.shape), positive)
        return np.where(zero, np.log(p + (1.0 - p) * np.exp(log_p0)),
                        np.log1p(-p) + log_count)

    def _draw(self, counts: Any, p: np.ndarray, mu: np.ndarray,
              rng: np.random.Generator, p0: np.ndarray) -> np.ndarray:
        """Responses: 0 with probability ``p`` (structural or hurdle zeros), else a count
        (drawn above zero, by the inverse CDF, for the hurdle)."""
        shape = np.broadcast_shapes(np.shape(mu), np.shape(p))
        if self.hurdle:
            u = p0 + (1.0 - p0) * rng.uniform(size=shape)
            count = counts(np.minimum(u, 1.0 - 1e-12))
            count = np.maximum(count, 1.0)
        else:
            count = counts(None)
        return np.where(rng.uniform(size=shape) < p, 0.0, count).astype(float)


class ZeroInflatedPoisson(_ZeroModel, Poisson):
    """``y ~ ZeroInflatedPoisson(zi, mu)``: structural zeros with probability ``zi``;
    link log."""

    name = "zero_inflated_poisson"
    parameters = ("zi",)
    unit_parameters = ("zi",)
    _compiled = "zero_inflated_poisson"

    def parameter_priors(self, y: np.ndarray) -> dict[str, PriorSpec]:
        return {"zi": _UNIT_PRIOR}

    def parameter_starts(self, y: np.ndarray, trials: np.ndarray | None) -> dict[str, float]:
        return {"zi": self._probability_start(y)}

    def pymc_likelihood(self, pm: Any, pt: Any, eta: Any, params: dict[str, Any],
                        y: np.ndarray, trials: np.ndarray | None) -> Any:
        cls = pm.HurdlePoisson if self.hurdle else pm.ZeroInflatedPoisson
        return cls("y", psi=1.0 - params[self.prob], mu=pt.exp(eta), observed=y, dims="obs")

    def log_likelihood(self, y, eta, params, trials):  # noqa: ANN001, ANN201 - as Family
        mu = np.exp(eta)
        p = self.params_of(params, self.prob)
        return self._mix(y, scipy_stats().poisson.logpmf(y, mu), -mu, p)

    def simulate(self, mu, params, trials, rng):  # noqa: ANN001, ANN201 - as Family
        p = self.params_of(params, self.prob)
        mu = np.maximum(mu, 1e-300)

        def counts(u: np.ndarray | None) -> np.ndarray:
            return rng.poisson(mu) if u is None else scipy_stats().poisson.ppf(u, mu)

        return self._draw(counts, p, mu, rng, np.exp(-mu))


class HurdlePoisson(ZeroInflatedPoisson):
    """``y ~ HurdlePoisson(hu, mu)``: zeros with probability ``hu``, positive counts from
    a Poisson truncated at zero; link log."""

    name = "hurdle_poisson"
    kind = "hurdle count"
    parameters = ("hu",)
    unit_parameters = ("hu",)
    prob = "hu"
    hurdle = True
    _compiled = "hurdle_poisson"

    def parameter_priors(self, y: np.ndarray) -> dict[str, PriorSpec]:
        return {"hu": _UNIT_PRIOR}

    def parameter_starts(self, y: np.ndarray, trials: np.ndarray | None) -> dict[str, float]:
        return {"hu": self._probability_start(y)}


class ZeroInflatedNegativeBinomial(_ZeroModel, NegativeBinomial):
    """``y ~ ZeroInflatedNegativeBinomial(zi, mu, alpha)``: structural zeros with
    probability ``zi``, counts with variance ``mu + mu^2 / alpha``; link log."""

    name = "zero_inflated_negativebinomial"
    parameters = ("alpha", "zi")
    unit_parameters = ("zi",)
    _compiled = "zero_inflated_negativebinomial"

    def parameter_priors(self, y: np.ndarray) -> dict[str, PriorSpec]:
        return {**super().parameter_priors(y), self.prob: _UNIT_PRIOR}

    def parameter_starts(self, y: np.ndarray, trials: np.ndarray | None) -> dict[str, float]:
        positive = np.asarray(y)[np.asarray(y) > 0]
        alpha = super().parameter_starts(positive if positive.size > 1 else y, trials)
        return {**alpha, self.prob: self._probability_start(y)}

    def pymc_likelihood(self, pm: Any, pt: Any, eta: Any, params: dict[str, Any],
                        y: np.ndarray, trials: np.ndarray | None) -> Any:
        cls = pm.HurdleNegativeBinomial if self.hurdle else pm.ZeroInflatedNegativeBinomial
        return cls("y", psi=1.0 - params[self.prob], mu=pt.exp(eta), alpha=params["alpha"],
                   observed=y, dims="obs")

    def _log_p0(self, mu: np.ndarray, params: dict[str, np.ndarray]) -> np.ndarray:
        return _nb_log_p0(mu, self.params_of(params, "alpha"))

    def log_likelihood(self, y, eta, params, trials):  # noqa: ANN001, ANN201 - as Family
        alpha = self.params_of(params, "alpha")
        mu = np.exp(eta)
        p = self.params_of(params, self.prob)
        log_count = scipy_stats().nbinom.logpmf(y, alpha, alpha / (alpha + mu))
        return self._mix(y, log_count, _nb_log_p0(mu, alpha), p)

    def simulate(self, mu, params, trials, rng):  # noqa: ANN001, ANN201 - as Family
        alpha = self.params_of(params, "alpha")
        p = self.params_of(params, self.prob)
        mu = np.maximum(mu, 1e-300)

        def counts(u: np.ndarray | None) -> np.ndarray:
            if u is None:
                return rng.poisson(rng.gamma(alpha, mu / alpha))
            return scipy_stats().nbinom.ppf(u, alpha, alpha / (alpha + mu))

        return self._draw(counts, p, mu, rng, np.exp(_nb_log_p0(mu, alpha)))


class HurdleNegativeBinomial(ZeroInflatedNegativeBinomial):
    """``y ~ HurdleNegativeBinomial(hu, mu, alpha)``: zeros with probability ``hu``,
    positive counts from a negative binomial truncated at zero; link log."""

    name = "hurdle_negativebinomial"
    kind = "hurdle count"
    parameters = ("alpha", "hu")
    unit_parameters = ("hu",)
    prob = "hu"
    hurdle = True
    _compiled = "hurdle_negativebinomial"
