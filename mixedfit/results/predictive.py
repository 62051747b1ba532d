"""Replicated data: posterior and prior predictive draws, and grouped checks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mixedfit.errors import DataError, OptionError
from mixedfit.families import Family

if TYPE_CHECKING:
    from mixedfit.design import Design
    from mixedfit.results.result import MixedResult

__all__ = ["simulate_response", "posterior_predictive", "grouped_check", "PriorPredictive"]


def simulate_response(family: Family, eta: np.ndarray, params: dict[str, np.ndarray],
                      trials: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
    """Draw responses given linear-predictor draws ``eta`` (S, n) and family parameters (S,).

    Examples
    --------
    >>> from mixedfit.families import poisson
    >>> rng = np.random.default_rng(0)
    >>> simulate_response(poisson(), np.zeros((2, 3)), {}, None, rng).shape
    (2, 3)
    """
    mu = family.inverse_link(eta)
    name = family.name

    def p(key: str) -> np.ndarray:
        return np.asarray(params[key])[:, None]

    if name == "gaussian":
        return rng.normal(mu, p("sigma"))
    if name == "t":
        return mu + p("sigma") * rng.standard_t(p("nu"), size=mu.shape)
    if name == "bernoulli":
        return rng.binomial(1, np.clip(mu, 0, 1)).astype(float)
    if name == "binomial":
        n = np.ones(mu.shape[1]) if trials is None else trials
        return rng.binomial(n.astype(np.int64)[None, :], np.clip(mu, 0, 1)).astype(float)
    if name == "poisson":
        return rng.poisson(np.maximum(mu, 0)).astype(float)
    if name == "negativebinomial":
        alpha = p("alpha")
        lam = rng.gamma(alpha, np.maximum(mu, 1e-300) / alpha)
        return rng.poisson(lam).astype(float)
    if name == "gamma":
        alpha = p("alpha")
        return rng.gamma(alpha, np.maximum(mu, 1e-300) / alpha)
    if name == "beta":
        kappa = p("kappa")
        m = np.clip(mu, 1e-12, 1 - 1e-12)
        return rng.beta(m * kappa, (1 - m) * kappa)
    raise OptionError(f"No simulator for family {name!r}.")  # pragma: no cover


def posterior_predictive(res: MixedResult, draws: int = 100, *,
                         random_seed: int | None = None) -> np.ndarray:
    """Replicated data sets from the posterior, shape ``(draws, n_obs)``."""
    from mixedfit.results.predict import linear_predictor_draws

    if not isinstance(draws, int) or draws < 1:
        raise OptionError(f"draws must be a positive integer, got {draws!r}.")
    rng = np.random.default_rng(random_seed)
    total = res.n_draws
    pick = rng.choice(total, size=min(draws, total), replace=False)
    eta = linear_predictor_draws(res, None)[pick]
    params = {k: res.draws(k)[pick] for k in res.family.parameters}
    return simulate_response(res.family, eta, params, res.design.trials, rng)


def grouped_check(res: MixedResult, group: str, *, stat: str = "mean", draws: int = 200,
                  random_seed: int | None = None) -> pd.DataFrame:
    """A statistic per level of ``group``: observed against replicated data.

    Returns one row per level with the observed statistic, the mean and the
    interval of the replicated statistic, and ``p_value``, the share of replicated
    statistics at least as large as the observed one (near 0 or 1 flags a level the
    model does not reproduce).
    """
    funcs = {"mean": np.mean, "sd": lambda a, axis=None: np.std(a, axis=axis, ddof=1),
             "max": np.max, "min": np.min, "median": np.median}
    if stat not in funcs:
        raise OptionError(f"stat must be one of {', '.join(funcs)}, got {stat!r}.")
    if group not in res.design.groups:
        raise DataError(f"No grouping factor {group!r}; the model has "
                        f"{', '.join(res.design.groups) or 'none'}.")
    from mixedfit.results.result import describe

    block = res.design.groups[group][0]
    yrep = posterior_predictive(res, draws, random_seed=random_seed)
    y = res.design.y
    f = funcs[stat]
    rows = []
    for j, level in enumerate(block.levels):
        rows_j = block.index == j
        obs = float(f(y[rows_j]))
        rep = np.asarray(f(yrep[:, rows_j], axis=1))
        summ = describe(rep, res.interval)
        rows.append({"level": level, "n_obs": int(rows_j.sum()), "observed": obs,
                     "replicated_mean": float(summ["mean"]), "lower": float(summ["lower"]),
                     "upper": float(summ["upper"]), "p_value": float(np.mean(rep >= obs))})
    df = pd.DataFrame(rows).set_index("level")
    df.index.name = group
    df.attrs.update(stat=stat, interval=res.interval)
    return df


@dataclass
class PriorPredictive:
    """Data sets simulated from the priors alone, before seeing the response.

    Attributes
    ----------
    y : numpy.ndarray
        ``(draws, n_obs)`` simulated responses.
    observed : numpy.ndarray
        The observed response, for comparison.
    idata : arviz.InferenceData
        Prior draws of every parameter (group ``prior``) and of ``y``
        (``prior_predictive``).
    design : Design
        The design the model was built from.
    """

    y: np.ndarray
    observed: np.ndarray
    idata: Any
    design: Design
    family: Family

    def summary(self) -> pd.DataFrame:
        """Quantiles of the simulated and the observed response, side by side."""
        qs = [0.01, 0.1, 0.5, 0.9, 0.99]
        return pd.DataFrame({"simulated": np.quantile(self.y, qs),
                             "observed": np.quantile(self.observed, qs)},
                            index=pd.Index(qs, name="quantile"))

    def plot(self, **kwargs: Any) -> Any:
        """Overlay simulated and observed distributions (see :func:`mixedfit.plots`)."""
        from mixedfit.plots import plot_prior_predictive

        return plot_prior_predictive(self, **kwargs)
