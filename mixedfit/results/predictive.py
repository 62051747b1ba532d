"""Replicated data: posterior and prior predictive draws, and grouped checks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mixedfit.errors import DataError, OptionError
from mixedfit.families import Family
from mixedfit.results.predict import (
    family_parameter_draws,
    linear_predictor_draws,
    simulate_response,
)
from mixedfit.results.summaries import describe

if TYPE_CHECKING:
    from mixedfit.design import Design
    from mixedfit.results.view import ResultView

__all__ = ["simulate_response", "posterior_predictive", "grouped_check", "PriorDraws"]


def posterior_predictive(res: ResultView, draws: int = 100, *,
                         random_seed: int | None = None) -> np.ndarray:
    """Replicated data sets from the posterior, shape ``(draws, n_obs)``."""
    if not isinstance(draws, int) or draws < 1:
        raise OptionError(f"draws must be a positive integer, got {draws!r}.")
    rng = np.random.default_rng(random_seed)
    total = res.n_draws
    pick = rng.choice(total, size=min(draws, total), replace=False)
    eta = linear_predictor_draws(res, None)[pick]
    params = {k: v[pick] for k, v in family_parameter_draws(res, None).items()}
    return simulate_response(res.family, eta, params, res.design.trials, rng,
                             res.design.likelihood_weights())


def grouped_check(res: ResultView, group: str, *, stat: str = "mean", draws: int = 200,
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
class PriorDraws:
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
