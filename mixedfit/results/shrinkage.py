"""Shrinkage: each group's own estimate against its partially pooled one.

See :attr:`mixedfit.MixedResult.shrinkage` for the columns.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from mixedfit import names
from mixedfit.families import Family

if TYPE_CHECKING:
    from mixedfit.results.view import ResultView

__all__ = ["shrinkage_table", "no_pooling_estimates"]


def _other_effects(res: ResultView, group: str, cols: list[str]) -> np.ndarray:
    """Linear predictor of every effect except the terms of ``group``, at posterior means."""
    d = res.design
    eta = np.zeros(d.n_obs) if d.offset is None else d.offset.astype(float).copy()
    mean_cols = d.columns_of("")  # (a family parameter's own formula is not the mean's)
    if mean_cols.size:
        beta = res.draws(names.FIXED).mean(axis=0)
        keep = np.array([j for j in mean_cols if d.fixed_columns[j] not in cols], dtype=int)
        eta = eta + d.X[:, keep] @ beta[keep]
    for b in d.blocks_of(""):
        if b.group == group:
            continue
        u = res.effect_means(b.label)
        eta = eta + (b.Z * u[b.index]).sum(axis=1)
    return eta


def glm_fit(Z: np.ndarray, y: np.ndarray, offset: np.ndarray, family: Family,
            trials: np.ndarray | None = None, max_iter: int = 100,
            weights: np.ndarray | None = None) -> np.ndarray | None:
    """Maximum-likelihood coefficients of a GLM by iteratively reweighted least squares
    (with observation weights, which multiply the working weights).

    Returns None when the fit does not converge to finite values (separation).

    Examples
    --------
    >>> Z = np.column_stack([np.ones(6), np.arange(6.0)])
    >>> y = np.array([1.0, 2, 2, 4, 6, 9])
    >>> from mixedfit.families import poisson
    >>> b = glm_fit(Z, y, np.zeros(6), poisson())
    >>> [round(float(v), 3) for v in b]
    [0.065, 0.427]
    """
    n = np.ones_like(y) if trials is None else trials
    target, mu = family.irls_start(y, n)
    eta = family.link_function(mu)
    beta = np.zeros(Z.shape[1])
    for _ in range(max_iter):
        d = family.dmu_deta(eta, mu)
        var = np.maximum(family.variance(mu), 1e-12)
        w = n * d**2 / var
        if weights is not None:
            w = w * weights
        z = eta - offset + (target - mu) / np.where(np.abs(d) > 1e-300, d, 1e-300)
        sw = np.sqrt(w)
        new = np.linalg.lstsq(Z * sw[:, None], z * sw, rcond=None)[0]
        if not np.all(np.isfinite(new)) or np.max(np.abs(new)) > 1e6:
            return None
        converged = np.max(np.abs(new - beta)) < 1e-9 * (1 + np.max(np.abs(new)))
        beta = new
        eta = offset + Z @ beta
        mu = family.clip_mean(family.inverse_link(eta))
        if converged:
            return beta
    return None


def _not_identified(Z: np.ndarray, cols: list[str]) -> str:
    """Why a level's own fit is not identified although it has enough rows: a term that
    does not vary within the level (so its slope and the intercept cannot be told
    apart), or terms that move together."""
    constant = [c for j, c in enumerate(cols)
                if c != "Intercept" and np.ptp(Z[:, j]) <= 1e-12 * max(np.abs(Z[:, j]).max(), 1)]
    if constant and "Intercept" in cols:
        what = ", ".join(constant)
        verb = "takes" if len(constant) == 1 else "take"
        return (f"{what} {verb} one value in this level: its slope is not identified by the "
                f"level's own data")
    return "the level's terms are collinear in its own data: its own fit is not identified"


def no_pooling_estimates(res: ResultView, group: str
                         ) -> tuple[list[str], np.ndarray, list[str]]:
    """Each level's own fit of the terms that vary by ``group``.

    Least squares for Gaussian models, a maximum-likelihood GLM fit (IRLS) for the
    other families, with every other effect held at its posterior mean. Returns the
    column names, a ``(levels, terms)`` array (NaN where a level has no own
    estimate) and, per level, the reason there is none ('' otherwise).
    """
    d = res.design
    fam = res.family
    blocks = [b for b in d.groups[group] if not b.target]  # the mean's terms
    cols = [c for b in blocks for c in b.columns]
    Z = np.concatenate([b.Z for b in blocks], axis=1)
    index = blocks[0].index
    other = _other_effects(res, group, cols)
    n_levels = blocks[0].n_levels
    out = np.full((n_levels, len(cols)), np.nan)
    notes = [""] * n_levels
    order = np.argsort(index, kind="stable")
    bounds = np.searchsorted(index[order], np.arange(n_levels + 1))
    gaussian = fam.location_scale
    weights = d.likelihood_weights()
    for j in range(n_levels):
        rows = order[bounds[j]:bounds[j + 1]]
        Zj = Z[rows]
        if len(rows) < len(cols):
            notes[j] = (f"{len(rows)} observation{'s' if len(rows) != 1 else ''} for "
                        f"{len(cols)} terms: too few for the level's own fit")
            continue
        if np.linalg.matrix_rank(Zj) < len(cols):
            notes[j] = _not_identified(Zj, cols)
            continue
        yj = d.y[rows]
        nj = None if d.trials is None else d.trials[rows]
        wj = None if weights is None else weights[rows]
        if gaussian:
            root = np.ones(len(rows)) if wj is None else np.sqrt(wj)
            out[j] = np.linalg.lstsq(Zj * root[:, None], (yj - other[rows]) * root,
                                     rcond=None)[0]
            continue
        problem = fam.own_fit_problem(yj, nj)
        if problem:
            notes[j] = problem
            continue
        coef = glm_fit(Zj, yj, other[rows], fam, nj, weights=wj)
        if coef is None:
            notes[j] = "the level's own fit does not converge (separation)"
            continue
        out[j] = coef
    return cols, out, notes


def shrinkage_table(res: ResultView) -> pd.DataFrame:
    """Build the shrinkage table of a result (one row per group, level and term)."""
    d = res.design
    frames = []
    # the analytic pooling weight needs a normal likelihood with a residual sd
    gaussian = (res.family.location_scale and res.family.parameters == ("sigma",)
                and not d.dpars)
    for group, blocks in d.groups.items():
        blocks = [b for b in blocks if not b.target]  # the mean's terms only
        if not blocks:
            continue
        cols, nopool, notes = no_pooling_estimates(res, group)
        levels = blocks[0].levels
        counts = blocks[0].counts
        fixed = res.draws(names.FIXED).mean(axis=0) if d.fixed_columns else np.array([])
        # each level's coefficient's posterior mean: the fixed effect's plus the deviation's
        # (from the summaries when the group effects' draws were not kept)
        all_cols = [c for b in d.groups[group] for c in b.columns]
        coef = np.concatenate([res.effect_means(b.label) for b in d.groups[group]], axis=1)
        for j, c in enumerate(all_cols):
            if c in d.fixed_columns:
                coef[:, j] = coef[:, j] + fixed[d.fixed_columns.index(c)]
        partial = coef[:, [all_cols.index(c) for c in cols]]
        weight_col = np.full((len(levels), len(cols)), np.nan)
        if gaussian and "Intercept" in cols:
            j = cols.index("Intercept")
            sd_all = np.concatenate([res.draws(names.sd(b.label)) for b in blocks], axis=1)
            sd = sd_all[:, j][:, None]
            sigma = res.draws("sigma")[:, None]
            # a level's information: its rows' (precision) weights, 1 each unweighted
            info = counts if d.weights is None else np.bincount(
                blocks[0].index, weights=d.likelihood_weights(), minlength=len(levels))
            prec = info[None, :] / sigma**2
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
                "shrinkage": frac, "weight": weight_col[:, j], "note": notes,
            }))
    if not frames:
        return pd.DataFrame()
    df = pd.concat(frames, ignore_index=True).set_index(["group", "level", "term"])
    return df
