"""Posterior summaries shared by every table: mean, sd and an equal-tailed interval."""

from __future__ import annotations

import numpy as np

__all__ = ["describe", "STAT_COLUMNS"]

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
