"""PSIS-LOO with its warnings translated: what an unreliable LOO means, and what to do.

ArviZ warns, once per call and with its own wording, when Pareto k values are high.
:func:`loo` computes the same estimate with that warning silenced and says instead,
once per result, how many observations have a high k, why that happens (an effect per
observation, influential rows) and what to use instead.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from mixedfit.design.frame import caller_level
from mixedfit.errors import LooWarning

if TYPE_CHECKING:
    from mixedfit.results.view import ResultView

__all__ = ["loo", "k_threshold", "reliability_note"]


def k_threshold(n_draws: int) -> float:
    """The Pareto k above which an observation's PSIS estimate is unreliable: ArviZ's
    ``min(1 - 1 / log10(S), 0.7)`` for ``S`` draws (Vehtari et al., 2024)."""
    return float(min(1.0 - 1.0 / np.log10(n_draws), 0.7))


def _observation_level(res: ResultView) -> list[str]:
    """Grouping factors with (nearly) one observation per level."""
    return [b.group for b in res.design.blocks if b.n_levels >= 0.9 * res.n_obs]


def reliability_note(res: ResultView, elpd: Any) -> str:
    """'' when every Pareto k is fine; else one sentence for the table or the warning."""
    k = np.asarray(elpd.pareto_k).reshape(-1)
    limit = k_threshold(res.n_draws)
    bad = int(np.sum(k > limit))
    if not bad:
        return ""
    share = bad / k.size
    obs = _observation_level(res)
    if obs:
        why = (f" The model has an effect per observation ({', '.join(obs)}): leaving a row "
               f"out removes its own effect's data, so its k is high by construction. "
               f"Compare such models by k-fold cross-validation (refits leaving out groups "
               f"of rows), or use a model without observation-level effects.")
    else:
        why = (" These observations are influential (res.loo().pareto_k says which): "
               "compare by k-fold cross-validation (refits leaving out groups of rows), "
               "and check whether the model misses what makes them unusual.")
    percent = f"{share:.0%}" if share >= 0.01 else "under 1%"
    return (f"PSIS-LOO is unreliable: {bad} of {k.size} observations ({percent}) have "
            f"Pareto k above {limit:.2f}, so their leave-one-out predictions and the elpd "
            f"cannot be trusted.{why}")


def loo(res: ResultView) -> Any:
    """``arviz.loo`` of a result, computed once; a :class:`~mixedfit.errors.LooWarning`
    says, once, when it is unreliable."""
    import arviz as az  # deferred: ArviZ is heavy and only needed here

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*Pareto.*")
        warnings.filterwarnings("ignore", message=".*shape parameter.*")
        elpd = az.loo(res.log_likelihood_data(), pointwise=True)
    note = reliability_note(res, elpd)
    if note:
        warnings.warn(note, LooWarning, stacklevel=caller_level())
    return elpd
