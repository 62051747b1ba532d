"""Posterior summaries shared by every table: mean, sd and an equal-tailed interval.

A marginalised fit whose group effects are too many to keep as draws
(:data:`mixedfit.plan.MAX_STORED_EFFECTS`, :attr:`mixedfit.plan.FitPlan.effects_summarised`)
keeps each group effect's summary instead (:data:`mixedfit.names.SUMMARY_STATS`): its
tables come from those with :func:`describe_summary`, and what needs the draws refuses
with :func:`require_effect_draws`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mixedfit import names
from mixedfit import plan as fit_plan
from mixedfit.errors import DrawsNotKeptError

__all__ = ["describe", "STAT_COLUMNS", "describe_summary", "summary_index",
           "kept_intervals", "require_effect_draws", "AVAILABLE_FROM_SUMMARIES",
           "effects_size_text"]

#: Columns of every posterior summary table.
STAT_COLUMNS = ["mean", "sd", "lower", "upper"]


def describe(draws: np.ndarray, interval: float) -> dict[str, np.ndarray]:
    """Posterior mean, sd and equal-tailed interval over the first axis.

    Examples
    --------
    >>> d = describe(np.arange(101.0), 0.9)
    >>> [round(float(d[k]), 6) for k in ("mean", "lower", "upper")]
    [50.0, 5.0, 95.0]
    """
    q = (1.0 - interval) / 2.0
    lower, upper = np.quantile(draws, [q, 1.0 - q], axis=0)
    return {"mean": draws.mean(axis=0), "sd": draws.std(axis=0, ddof=1),
            "lower": lower, "upper": upper}


# ----------------------------------------------------------- summarised group effects
def kept_intervals() -> list[float]:
    """The interval masses whose ends are among the kept quantiles
    (:data:`mixedfit.names.SUMMARY_QUANTILES`), widest first.

    Examples
    --------
    >>> kept_intervals()
    [0.99, 0.95, 0.94, 0.9, 0.8, 0.5]
    """
    qs = names.SUMMARY_QUANTILES
    return [round(1.0 - 2.0 * q, 10) for q in qs
            if q < 0.5 and any(abs(1.0 - q - r) < 1e-9 for r in qs)]


def summary_index(stat: str) -> int:
    """Position of a statistic (``"mean"``, ``"q0.025"``, ``"ess_bulk"``...) on the last
    axis of the summaries."""
    return names.SUMMARY_STATS.index(stat)


def _quantile_stat(q: float) -> str | None:
    for kept in names.SUMMARY_QUANTILES:
        if abs(kept - q) < 1e-9:
            return f"q{kept:g}"
    return None


def describe_summary(summary: np.ndarray, interval: float) -> dict[str, np.ndarray]:
    """What :func:`describe` gives of the draws, from their summaries ``(..., stat)``
    (the statistics :data:`mixedfit.names.SUMMARY_STATS` on the last axis): the mean,
    sd and the kept quantiles that end the interval.

    Raises
    ------
    DrawsNotKeptError
        When ``interval`` is not one of :func:`kept_intervals` (its ends would need
        the draws).

    Examples
    --------
    >>> s = np.arange(len(names.SUMMARY_STATS), dtype=float)
    >>> {k: float(v) for k, v in describe_summary(s, 0.9).items()}
    {'mean': 0.0, 'sd': 1.0, 'lower': 5.0, 'upper': 11.0}
    """
    q = (1.0 - float(interval)) / 2.0
    lo, hi = _quantile_stat(q), _quantile_stat(1.0 - q)
    if lo is None or hi is None:
        kept = ", ".join(f"{v:g}" for v in kept_intervals())
        raise DrawsNotKeptError(
            f"The group effects of this fit are kept as summaries, not draws, with the "
            f"quantiles that end the intervals of mass {kept}; res.interval = {interval:g} "
            f"is not one of them, and the ends of its intervals of the group effects "
            f"(res.random_effects, plot_caterpillar(), to_frame()) would need the draws. "
            f"Set res.interval to one of {kept}.")
    s = np.asarray(summary, dtype=float)
    return {"mean": s[..., summary_index("mean")], "sd": s[..., summary_index("sd")],
            "lower": s[..., summary_index(lo)], "upper": s[..., summary_index(hi)]}


#: What a result whose group effects are kept as summaries still offers about them
#: (everything about the population-level parameters is as usual).
AVAILABLE_FROM_SUMMARIES = (
    "random_effects", "plot_caterpillar()", "diagnostics()", "summary()",
    "to_frame() (its ran_vals rows)", "shrinkage", "predict() with include_random=False "
    "or for new levels", "means(), contrasts() and slopes() without the fitted levels' "
    "effects",
)


def _size(n_bytes: float) -> str:
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n_bytes >= size:
            return f"{n_bytes / size:.3g} {unit}"
    return f"{n_bytes:.0f} bytes"


def effects_size_text(res: Any) -> str:
    """``"36 group effects x 1,000 draws would be 288 kB"``: the draws a summarised fit
    did not keep, and their size in double precision."""
    n_eff = sum(b.n_levels * b.n_terms for b in res.design.blocks)
    n_draws = int(res.plan.draws) * int(res.plan.chains)
    return (f"{n_eff:,} group effects x {n_draws:,} draws would be "
            f"{_size(8.0 * n_eff * n_draws)}")


def require_effect_draws(res: Any, what: str, hint: str = "") -> None:
    """Raise :class:`~mixedfit.errors.DrawsNotKeptError` when ``res`` kept its group
    effects as summaries (:attr:`mixedfit.plan.FitPlan.effects_summarised`), saying that
    ``what`` (``"res.loo()"``) needs their draws, why they were not kept, what the
    summaries offer (:data:`AVAILABLE_FROM_SUMMARIES`) and how to have the draws
    (``hint``: a sentence more, e.g. what ``what`` does without them); nothing for a
    result with the draws."""
    plan = res.plan
    if not getattr(plan, "effects_summarised", False):
        return
    d = res.design
    n_eff = sum(b.n_levels * b.n_terms for b in d.blocks)
    chains, draws = int(plan.chains), int(plan.draws)
    limit = int(fit_plan.MAX_STORED_EFFECTS)
    max_draws = limit // max(n_eff * chains, 1)
    groups = " and ".join(dict.fromkeys(b.group for b in d.blocks))
    fewer = (f"fit again with fewer draws= or chains= (draws={max_draws:,} at most with "
             f"chains={chains}), or fit a subset of the levels of {groups}"
             if max_draws >= 1 else
             f"fit a subset of the levels of {groups} (with {n_eff:,} group effects even one "
             f"draw a chain is too many)")
    raise DrawsNotKeptError(
        f"{what} needs the draws of the group effects, and this fit kept only their "
        f"summaries (mean, sd, quantiles, R-hat and ESS of each): its "
        f"{effects_size_text(res)} ({n_eff * chains * draws:,} values, more than "
        f"mixedfit.plan.MAX_STORED_EFFECTS = {limit:,}). "
        f"{hint + ' ' if hint else ''}Available from the summaries: "
        f"{', '.join(AVAILABLE_FROM_SUMMARIES)}. To have the draws, {fewer}.")
