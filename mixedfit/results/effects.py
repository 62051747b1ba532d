"""Answers from a fit: estimated marginal means, contrasts and slopes, with every draw.

Each answer is computed draw by draw, so its table summarises a posterior (mean, sd,
interval) rather than a delta-method approximation:

- :func:`means`: emmeans' estimated marginal means. The linear predictor is averaged over
  the reference grid's rows of a cell (:func:`mixedfit.results.grid.reference_grid`) on
  the link scale, then put through the family's mean (the inverse link; emmeans'
  ``type = "response"``).
- :func:`contrasts`: differences of those means (emmeans' ``pairs``, ``contrast``), on the
  link scale, or on the response scale as ratios for log links, odds ratios for the
  logit link and differences otherwise.
- :func:`slopes`: the derivative of the expected outcome with respect to a numeric
  predictor, through whatever the formula does to it, averaged over the data
  (marginaleffects' ``avg_slopes``) or at a grid (emmeans' ``emtrends``).

Group effects are at zero unless asked for: ``include_random=True`` adds the fitted
levels' effects (averaged over the levels unless a grouping factor is named, which gives
one answer per level: conditional means), and ``include_random="marginal"`` averages the
expected outcome over the population distribution of the group effects
(population-averaged means of a GLMM), by Gauss-Hermite quadrature.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mixedfit import names
from mixedfit.design.groups import level_label
from mixedfit.errors import OptionError
from mixedfit.results.grid import (
    Grid,
    as_names,
    data_grid,
    level_weights,
    model_variables,
    reference_grid,
)
from mixedfit.results.summaries import describe, require_effect_draws

if TYPE_CHECKING:
    from mixedfit.results.view import ResultView

__all__ = ["means", "contrasts", "slopes", "cell_draws", "CONTRAST_METHODS", "SCALES"]

SCALES = ("response", "link")
#: emmeans' contrast families (``"consec"`` is emmeans' name for ``"consecutive"``).
CONTRAST_METHODS = ("pairwise", "revpairwise", "trt.vs.ctrl", "consecutive", "consec")
#: Gauss-Hermite nodes for the population average over the group effects.
QUADRATURE_NODES = 40
#: Draws x rows evaluated at once (memory: 8 bytes each, a few arrays).
CHUNK = 2_000_000
#: Finite-difference step of a slope, per unit of the variable's sd in the data.
STEP = 1e-4


# ----------------------------------------------------------------- checks
def _check_scale(res: ResultView, scale: str) -> str:
    if scale not in SCALES:
        raise OptionError(f"scale must be 'response' or 'link', got {scale!r}.")
    if scale == "link" and res.family.predictors_only:
        raise OptionError(f"A {res.family.name} model has one linear predictor per category, "
                          f"not one link scale: use scale='response' (each category's "
                          f"probability).")
    return scale


def _check_random(res: ResultView, include_random: Any) -> Any:
    if include_random not in (True, False, "marginal"):
        raise OptionError(f"include_random must be False (group effects at zero), True (the "
                          f"fitted levels' effects) or 'marginal' (averaged over the "
                          f"population of group effects), got {include_random!r}.")
    if include_random == "marginal" and res.family.predictors_only:
        raise OptionError(f"include_random='marginal' averages one linear predictor over its "
                          f"group effects; a {res.family.name} model has one per category. "
                          f"Use include_random=False or True.")
    return include_random


# ----------------------------------------------------------------- predictors on a grid
class _Parts:
    """A linear predictor's pieces on a frame: ``X``, the offset, each block's ``Z`` and
    level index per row (or, a 2-d array, each row's weights over the levels: the
    block's effects averaged)."""

    def __init__(self, X: np.ndarray, offset: np.ndarray | None,
                 blocks: list[tuple[Any, np.ndarray, np.ndarray | None]]) -> None:
        self.X, self.offset, self.blocks = X, offset, blocks

    def minus(self, other: _Parts, h: float) -> _Parts:
        """``(self - other) / h``: the derivative's pieces (levels unchanged)."""
        off = None if self.offset is None else (self.offset - other.offset) / h
        blocks = [(b, (z - zo) / h, idx) for (b, z, idx), (_, zo, _)
                  in zip(self.blocks, other.blocks, strict=True)]
        return _Parts((self.X - other.X) / h, off, blocks)


def _parts(res: ResultView, frame: pd.DataFrame, target: str, grid: Grid,
           include_random: Any, weights: str) -> _Parts:
    d = res.design
    X = d.x_for(frame, target)
    offset = None if target else d.offset_for(frame)
    blocks = []
    for b in d.blocks_of(target):
        if all(g in grid.groups for g in b.term.group):
            idx = b.index_for(frame)
            blocks.append((b, b.z_for(frame), idx))
        elif include_random is True:  # averaged over the levels each row stands for
            blocks.append((b, b.z_for(frame), level_weights(res, frame, b, weights)))
    return _Parts(X, offset, blocks)


def _eta(res: ResultView, parts: _Parts, target: str, rows: slice) -> np.ndarray:
    """Draws ``(S, rows)`` of a linear predictor from its pieces."""
    cols = res.design.columns_of(target)
    X = parts.X[rows]
    eta = res.draws(names.FIXED)[:, cols] @ X.T if cols.size else \
        np.zeros((res.n_draws, X.shape[0]))
    if parts.offset is not None:
        eta = eta + parts.offset[rows][None, :]
    for b, Z, idx in parts.blocks:
        u = res.draws(names.effects(b.label))  # (S, levels, p)
        if idx.ndim == 2:  # the levels' effects averaged, with each row's weights
            eta = eta + np.einsum("rl,slp,rp->sr", idx[rows], u, Z[rows], optimize=True)
        else:
            eta = eta + np.einsum("snp,np->sn", u[:, idx[rows], :], Z[rows])
    return eta


def _population_variance(res: ResultView, frame: pd.DataFrame, grid: Grid,
                         include_random: Any) -> np.ndarray | None:
    """``(S, rows)`` variance of the mean's group effects not in the grid, per row: the
    sum over blocks of ``z' Sigma z`` (None when there are none)."""
    if include_random != "marginal":
        return None
    var = None
    for b in res.design.blocks_of(""):
        if all(g in grid.groups for g in b.term.group):
            continue
        Z = b.z_for(frame)
        sd = res.draws(names.sd(b.label))  # (S, p)
        if b.correlated:
            cor = res.draws(names.cor(b.label))
            cov = cor * sd[:, :, None] * sd[:, None, :]
            v = np.einsum("np,spq,nq->sn", Z, cov, Z)
        else:
            v = (sd ** 2) @ (Z ** 2).T
        var = v if var is None else var + v
    return var


class _Evaluator:
    """Cell values of a grid, draw by draw: the link-scale predictors averaged over each
    cell's rows, then the family's mean (or the population average of it)."""

    def __init__(self, res: ResultView, grid: Grid, include_random: Any,
                 weights: str, what: str = "res.means()") -> None:
        named = sorted({b.group for b in res.design.blocks
                        if all(g in grid.groups for g in b.term.group)})
        if include_random is True or named:
            require_effect_draws(
                res, f"{what} with " + ("include_random=True" if include_random is True
                                        else f"the fitted levels of {', '.join(named)}"),
                "Without the fitted levels' effects (include_random=False, or 'marginal' "
                "for the population average) it needs none.")
        self.res, self.grid = res, grid
        self.include_random, self.weights = include_random, weights
        self.targets = ["", *res.design.dpars]
        fam = res.family
        self.constants = {n: res.draws(n) for n in fam.parameters
                          if n not in res.design.dpar_formulas}
        self.nodes, self.node_weights = np.polynomial.hermite_e.hermegauss(QUADRATURE_NODES)
        self.node_weights = self.node_weights / self.node_weights.sum()

    def _chunks(self) -> list[slice]:
        n = len(self.grid.frame)
        per = max(1, CHUNK // max(1, self.res.n_draws))
        if self.include_random == "marginal":
            per = max(1, per // QUADRATURE_NODES)
        return [slice(i, min(n, i + per)) for i in range(0, n, per)] or [slice(0, 0)]

    def parts(self, frame: pd.DataFrame) -> dict[str, _Parts]:
        return {t: _parts(self.res, frame, t, self.grid, self.include_random, self.weights)
                for t in self.targets}

    def link(self, parts: dict[str, _Parts]) -> dict[str, np.ndarray]:
        """Each linear predictor averaged over the cells: ``(S, cells)``."""
        out = {}
        for t in self.targets:
            acc = np.zeros((self.res.n_draws, self.grid.n_cells))
            for rows in self._chunks():
                acc += _eta(self.res, parts[t], t, rows) \
                    @ self.grid.collapse_matrix(rows)
            out[t] = acc
        return out

    def params(self, link: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        fam = self.res.family
        out = dict(self.constants)
        for t in self.targets[1:]:
            out[t] = fam.dpar_inverse_link(t, link[t])
        return out

    def _mean(self, eta: np.ndarray, params: dict[str, np.ndarray]) -> np.ndarray:
        fam = self.res.family
        probs = fam.category_probabilities(eta, params)
        return probs if probs is not None else fam.expected_response(eta, params)

    def response(self, link: dict[str, np.ndarray]) -> np.ndarray:
        """The family's mean of the averaged predictors: ``(S, cells)``, or
        ``(S, cells, categories)`` for a categorical response."""
        return self._mean(link[""], self.params(link))

    def row_response(self, frame: pd.DataFrame) -> np.ndarray:
        """The expected outcome row by row (averaged over the population of the mean's
        group effects by quadrature with ``include_random="marginal"``), then averaged
        over the cells' rows on the response scale."""
        fam, res = self.res.family, self.res
        parts = self.parts(frame)
        var = _population_variance(res, frame, self.grid, self.include_random)
        sd = np.sqrt(var) if var is not None else None
        acc = None
        for rows in self._chunks():
            eta = _eta(res, parts[""], "", rows)
            params = dict(self.constants)
            for t in self.targets[1:]:
                params[t] = fam.dpar_inverse_link(t, _eta(res, parts[t], t, rows))
            if sd is None:
                total = self._mean(eta, params)
            else:
                total = sum(w * self._mean(eta + x * sd[:, rows], params)
                            for x, w in zip(self.nodes, self.node_weights, strict=True))
            m = self.grid.collapse_matrix(rows)
            part = np.einsum("snk,nc->sck", total, m) if np.ndim(total) == 3 else total @ m
            acc = part if acc is None else acc + part
        return acc

    def values(self, scale: str, frame: pd.DataFrame | None = None) -> np.ndarray:
        frame = self.grid.frame if frame is None else frame
        if self.include_random == "marginal":
            r = self.row_response(frame)
            return r if scale == "response" else self.res.family.link_function(r)
        if scale == "response" and self.grid.per_row:
            return self.row_response(frame)
        link = self.link(self.parts(frame))
        return link[""] if scale == "link" else self.response(link)


# ----------------------------------------------------------------- tables
def _table(cells: pd.DataFrame, draws: np.ndarray, interval: float,
           extra: Mapping[str, np.ndarray] | None = None) -> pd.DataFrame:
    stats = describe(draws, interval)
    df = cells.reset_index(drop=True).copy()
    for k in ("mean", "sd", "lower", "upper"):
        df[k] = np.asarray(stats[k], dtype=float)
    for k, v in (extra or {}).items():
        df[k] = v
    df.attrs["interval"] = interval
    return df


def _expand_categories(res: ResultView, cells: pd.DataFrame, draws: np.ndarray
                       ) -> tuple[pd.DataFrame, np.ndarray]:
    """A categorical response's ``(S, cells, K)`` as ``(S, cells * K)`` with a column of
    the category (named after the response)."""
    if draws.ndim != 3:
        return cells, draws
    cats = list(res.design.categories or range(draws.shape[2]))
    name = res.design.response_name
    rows = []
    for i in range(len(cells)):
        for c in cats:
            rows.append({**cells.iloc[i].to_dict(), name: c})
    out = pd.DataFrame(rows, columns=[*cells.columns, name])
    return out, draws.reshape(draws.shape[0], -1)


def cell_draws(res: ResultView, variables: Sequence[str], *, at: Any = None,
               scale: str = "response", weights: str = "equal",
               include_random: Any = False, what: str = "res.means()"
               ) -> tuple[pd.DataFrame, np.ndarray]:
    """The cells of :func:`means` and their draws ``(S, cells)`` (``what``: the call
    named when the group effects' draws are needed and were not kept)."""
    _check_scale(res, scale)
    _check_random(res, include_random)
    grid = reference_grid(res, variables, at=at, weights=weights)
    draws = _Evaluator(res, grid, include_random, weights, what).values(scale)
    return _expand_categories(res, grid.cells, draws)


def means(res: ResultView, variables: Any, *, at: Any = None, scale: str = "response",
          weights: str = "equal", include_random: Any = False) -> pd.DataFrame:
    """See :meth:`mixedfit.MixedResult.means`."""
    variables = as_names(variables, "variables")
    cells, draws = cell_draws(res, variables, at=at, scale=scale, weights=weights,
                              include_random=include_random)
    df = _table(cells, draws, res.interval)
    df.attrs["scale"] = scale
    return df


# ----------------------------------------------------------------- contrasts
def _level_text(variable: str, levels: Sequence[Any]) -> list[str]:
    """Levels as emmeans writes them in contrasts: a number-like level after the
    variable's name (``period1``), text as it is."""
    def numeric(v: Any) -> bool:
        try:
            float(str(v))
            return True
        except ValueError:
            return False
    if any(numeric(v) for v in levels):
        return [f"{variable}{level_label(v)}" for v in levels]
    return [level_label(v) for v in levels]


def contrast_weights(method: Any, levels: Sequence[str]) -> list[tuple[str, np.ndarray]]:
    """``(label, weights over the levels)`` of each contrast, labelled as emmeans labels
    them (``"a - b"``).

    Examples
    --------
    >>> [lab for lab, _ in contrast_weights("trt.vs.ctrl", ["a", "b", "c"])]
    ['b - a', 'c - a']
    """
    k = len(levels)
    out: list[tuple[str, np.ndarray]] = []

    def unit(i: int, j: int) -> np.ndarray:
        w = np.zeros(k)
        w[i], w[j] = 1.0, -1.0
        return w

    if isinstance(method, Mapping):
        for label, w in method.items():
            w = np.asarray(w, dtype=float)
            if w.shape != (k,):
                raise OptionError(f"method={{{label!r}: ...}} has {w.size} weights for "
                                  f"{k} levels ({', '.join(levels)}).")
            out.append((str(label), w))
        return out
    if method == "pairwise":
        out = [(f"{levels[i]} - {levels[j]}", unit(i, j))
               for i in range(k) for j in range(i + 1, k)]
    elif method == "revpairwise":
        out = [(f"{levels[j]} - {levels[i]}", unit(j, i))
               for i in range(k) for j in range(i + 1, k)]
    elif method == "trt.vs.ctrl":
        out = [(f"{levels[i]} - {levels[0]}", unit(i, 0)) for i in range(1, k)]
    elif method in ("consecutive", "consec"):
        out = [(f"{levels[i]} - {levels[i - 1]}", unit(i, i - 1)) for i in range(1, k)]
    else:
        raise OptionError(f"method must be one of {', '.join(map(repr, CONTRAST_METHODS))} "
                          f"or a dict of label -> weights, got {method!r}.")
    return out


def _ratio_kind(res: ResultView) -> str | None:
    """What a contrast on the response scale is: ``"ratio"`` (log link), ``"odds.ratio"``
    (logit), or None (a difference of the means)."""
    if res.family.predictors_only or res.family.categorical_response:
        return None
    return {"log": "ratio", "logit": "odds.ratio"}.get(res.family.link)


def _probability_of_direction(d: np.ndarray, null: float) -> np.ndarray:
    above = np.mean(d > null, axis=0)
    below = np.mean(d < null, axis=0)
    return np.maximum(above, below)


def _apply_contrasts(cells: pd.DataFrame, draws: np.ndarray, variable: str, method: Any,
                     transform: Callable[[np.ndarray], np.ndarray] | None,
                     sep: str) -> tuple[pd.DataFrame, np.ndarray]:
    """Contrasts among ``variable``'s cells within each combination of the other cell
    columns (``by``, a categorical response's category)."""
    by_cols = [c for c in cells.columns if c != variable]
    rows: list[dict[str, Any]] = []
    out = []
    if by_cols:
        keys = cells[by_cols].astype(str).agg("\x1f".join, axis=1)
        groups = list(dict.fromkeys(keys))
    else:
        keys = pd.Series([""] * len(cells))
        groups = [""]
    values = draws if transform is None else transform(draws)
    for key in groups:
        pos = np.flatnonzero(keys.to_numpy() == key)
        levels = _level_text(variable, cells[variable].iloc[pos].tolist())
        for label, w in contrast_weights(method, levels):
            if sep != " - ":
                label = label.replace(" - ", sep)
            est = values[:, pos] @ w
            out.append(est)
            row = {c: cells[c].iloc[pos[0]] for c in by_cols}
            row["contrast"] = label
            rows.append(row)
    frame = pd.DataFrame(rows, columns=[*by_cols, "contrast"])
    return frame, np.column_stack(out) if out else np.zeros((draws.shape[0], 0))


def contrasts(res: ResultView, variable: str, *, method: Any = "pairwise", by: Any = None,
              scale: str = "link", at: Any = None, weights: str = "equal",
              include_random: Any = False) -> pd.DataFrame:
    """See :meth:`mixedfit.MixedResult.contrasts`."""
    if not isinstance(variable, str):
        raise OptionError(f"variable must be one factor's name, got {variable!r}; "
                          f"use by= for the others.")
    by = as_names(by, "by")
    kinds = model_variables(res)
    if variable in kinds and kinds[variable] == "numeric" and not (at and variable in at):
        raise OptionError(f"{variable!r} is numeric: give the values to compare in at= "
                          f"(at={{{variable!r}: [0, 1]}}), or use res.slopes({variable!r}).")
    if not isinstance(method, Mapping) and method not in CONTRAST_METHODS:
        contrast_weights(method, [])  # raises the message
    ratio = _ratio_kind(res) if scale == "response" else None
    cells, draws = cell_draws(res, [variable, *by], at=at,
                              scale="response" if scale == "response" else "link",
                              weights=weights, include_random=include_random,
                              what="res.contrasts()")
    transform = None
    if ratio == "ratio":
        transform = np.log
    elif ratio == "odds.ratio":
        def transform(p: np.ndarray) -> np.ndarray:
            return np.log(p) - np.log1p(-p)
    frame, d = _apply_contrasts(cells, draws, variable, method, transform,
                                " / " if ratio else " - ")
    if ratio:
        d = np.exp(d)
    df = _table(frame, d, res.interval, {"pd": _probability_of_direction(d, 1.0 if ratio
                                                                       else 0.0)})
    df.attrs["scale"] = scale
    df.attrs["estimate"] = ratio or "difference"
    return df


# ----------------------------------------------------------------- slopes
def _check_slope_variable(res: ResultView, variable: str) -> float:
    kinds = model_variables(res)
    if variable not in kinds:
        raise OptionError(f"{variable!r} is not a variable of the model (its variables: "
                          f"{', '.join(kinds) or 'none'}).")
    if kinds[variable] != "numeric":
        raise OptionError(f"{variable!r} is a {kinds[variable]}: a slope needs a numeric "
                          f"predictor. Compare its levels with contrasts "
                          f"(res.contrasts({variable!r}), 'mixedfit contrasts').")
    sd = float(np.std(res.design.data[variable].astype(float)))
    return STEP * (sd if sd > 0 else 1.0)


def slopes(res: ResultView, variable: str, *, by: Any = None, at: Any = None,
           scale: str = "response", weights: str = "equal",
           include_random: Any = False) -> pd.DataFrame:
    """See :meth:`mixedfit.MixedResult.slopes`."""
    if not isinstance(variable, str):
        raise OptionError(f"variable must be one numeric predictor's name, got {variable!r}.")
    by = as_names(by, "by")
    _check_scale(res, scale)
    _check_random(res, include_random)
    h = _check_slope_variable(res, variable)
    if variable in by:
        raise OptionError(f"by= names {variable!r}, the variable whose slope is asked for.")
    if at is None:
        if include_random == "marginal":
            raise OptionError("include_random='marginal' needs a reference grid: give at= "
                              "(at='means' for every numeric predictor at its mean).")
        grid = data_grid(res, by, bool(include_random))
        where = "averaged over the data"
    else:
        at = {} if isinstance(at, str) and at == "means" else at
        if not isinstance(at, Mapping):
            raise OptionError(f"at must be None (average over the data), 'means' or a dict "
                              f"of variable -> value(s), got {at!r}.")
        grid = reference_grid(res, by, at=at, weights=weights)
        where = "at the reference grid"
    ev = _Evaluator(res, grid, include_random, weights, "res.slopes()")
    plus, minus = grid.shifted(variable, h), grid.shifted(variable, -h)
    if scale == "link" and include_random != "marginal":
        # exact for a predictor linear in the coefficients: the design's difference first
        dparts = {t: p.minus(m, 2 * h) for (t, p), m in
                  zip(ev.parts(plus).items(), ev.parts(minus).values(), strict=True)}
        d = ev.link(dparts)[""]
    else:
        d = (ev.values(scale, plus) - ev.values(scale, minus)) / (2 * h)
    cells, d = _expand_categories(res, grid.cells, d)
    df = _table(cells, d, res.interval, {"pd": _probability_of_direction(d, 0.0)})
    df.insert(0, "variable", variable)
    df.attrs["scale"] = scale
    df.attrs["where"] = where
    return df
