"""Shrinkage: each group's own estimate against its partially pooled one.

See :attr:`mixedfit.MixedResult.shrinkage` for the columns.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from mixedfit.results.result import MixedResult

__all__ = ["shrinkage_table", "no_pooling_estimates"]


def _partial_residual(res: MixedResult, group: str, cols: list[str]) -> np.ndarray:
    """Response minus every effect except the terms of ``group``, at posterior means."""
    d = res.design
    r = d.y.astype(float).copy()
    if d.offset is not None:
        r = r - d.offset
    if d.fixed_columns:
        beta = res.draws("fixed").mean(axis=0)
        keep = np.array([c not in cols for c in d.fixed_columns])
        r = r - d.X[:, keep] @ beta[keep]
    for b in d.blocks:
        if b.group == group:
            continue
        u = res.draws(f"u({b.label})").mean(axis=0)
        r = r - (b.Z * u[b.index]).sum(axis=1)
    return r


def no_pooling_estimates(res: MixedResult, group: str) -> tuple[list[str], np.ndarray]:
    """Each level's own least-squares coefficients for the terms that vary by ``group``.

    Returns the column names and a ``(levels, terms)`` array, NaN where a level's
    design is rank-deficient (too few or constant observations).
    """
    blocks = res.design.groups[group]
    cols = [c for b in blocks for c in b.columns]
    Z = np.concatenate([b.Z for b in blocks], axis=1)
    index = blocks[0].index
    r = _partial_residual(res, group, cols)
    n_levels = blocks[0].n_levels
    out = np.full((n_levels, len(cols)), np.nan)
    order = np.argsort(index, kind="stable")
    bounds = np.searchsorted(index[order], np.arange(n_levels + 1))
    for j in range(n_levels):
        rows = order[bounds[j]:bounds[j + 1]]
        Zj = Z[rows]
        if len(rows) < len(cols) or np.linalg.matrix_rank(Zj) < len(cols):
            continue
        out[j] = np.linalg.lstsq(Zj, r[rows], rcond=None)[0]
    return cols, out


def shrinkage_table(res: MixedResult) -> pd.DataFrame:
    """Build the shrinkage table of a result (one row per group, level and term)."""
    d = res.design
    frames = []
    gaussian = res.family.name == "gaussian" and res.family.link == "identity"
    for group, blocks in d.groups.items():
        cols, nopool = no_pooling_estimates(res, group)
        _, coef = res._coefficient_draws(group)
        partial = coef.mean(axis=0)
        levels = blocks[0].levels
        counts = blocks[0].counts
        fixed = res.draws("fixed").mean(axis=0) if d.fixed_columns else np.array([])
        weight_col = np.full((len(levels), len(cols)), np.nan)
        if gaussian and "Intercept" in cols:
            j = cols.index("Intercept")
            sd_all = np.concatenate([res.draws(f"sd({b.label})") for b in blocks], axis=1)
            sd = sd_all[:, j][:, None]
            sigma = res.draws("sigma")[:, None]
            prec = counts[None, :] / sigma**2
            weight_col[:, j] = (prec / (prec + 1.0 / sd**2)).mean(axis=0)
        for j, c in enumerate(cols):
            pop = fixed[d.fixed_columns.index(c)] if c in d.fixed_columns else 0.0
            no = nopool[:, j]
            with np.errstate(divide="ignore", invalid="ignore"):
                denom = no - pop
                frac = np.where(np.abs(denom) > 1e-12, (no - partial[:, j]) / denom, np.nan)
            frames.append(pd.DataFrame({
                "group": group, "level": levels, "term": c, "n_obs": counts,
                "no_pooling": no, "partial_pooling": partial[:, j], "population": pop,
                "shrinkage": frac, "weight": weight_col[:, j],
            }))
    if not frames:
        return pd.DataFrame()
    df = pd.concat(frames, ignore_index=True).set_index(["group", "level", "term"])
    return df
