"""Reference grids: the rows a model is evaluated on to answer a question about it.

A grid is a data frame of the model's variables (one row per combination of the values
asked for and of the values averaged over), the cell each row belongs to (one cell per
answer: a level of the named factor, a combination of several) and the weight of each
row inside its cell. Estimated marginal means (emmeans) average the linear predictor
over a cell's rows; averaged slopes (marginaleffects) use the data's own rows as the grid.
"""

from __future__ import annotations

import difflib
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mixedfit.design.groups import level_label
from mixedfit.errors import OptionError
from mixedfit.formula import parse

if TYPE_CHECKING:
    from mixedfit.results.view import ResultView

__all__ = ["Grid", "model_variables", "reference_grid", "data_grid", "levels_of",
           "as_names", "level_weights", "WEIGHTS"]

#: How the rows of a cell are weighted: emmeans' ``weights = "equal"``/``"proportional"``.
WEIGHTS = ("equal", "proportional")
#: Largest reference grid built (rows), to keep a typo in ``at=`` from filling memory.
MAX_GRID_ROWS = 2_000_000


@dataclass
class Grid:
    """Rows to evaluate, and how they make the cells of the answer.

    Attributes
    ----------
    frame : pandas.DataFrame
        One row per point evaluated, with every variable the model needs.
    cells : pandas.DataFrame
        One row per cell of the answer, with the named variables' values.
    cell : numpy.ndarray
        ``(len(frame),)`` the cell of each row.
    weight : numpy.ndarray
        ``(len(frame),)`` each row's weight inside its cell (each cell's weights sum to 1).
    groups : tuple of str
        Grouping factors whose fitted levels are in ``frame`` (their effects are added).
    per_row : bool
        Whether the expected outcome is computed row by row and then averaged (the
        data's rows, marginaleffects) rather than from the averaged linear predictor
        (a reference grid, emmeans).
    """

    frame: pd.DataFrame
    cells: pd.DataFrame
    cell: np.ndarray
    weight: np.ndarray
    groups: tuple[str, ...] = ()
    per_row: bool = False

    @property
    def n_cells(self) -> int:
        """Number of cells."""
        return len(self.cells)

    def collapse_matrix(self, rows: slice) -> np.ndarray:
        """``(rows, cells)`` weights that average a block of rows into their cells."""
        idx = np.arange(len(self.frame))[rows]
        m = np.zeros((idx.size, self.n_cells))
        m[np.arange(idx.size), self.cell[idx]] = self.weight[idx]
        return m

    def shifted(self, variable: str, h: float) -> pd.DataFrame:
        """The frame with ``variable`` moved by ``h`` (a finite-difference step)."""
        out = self.frame.copy()
        out[variable] = out[variable].astype(float) + h
        return out


def as_names(value: Any, what: str) -> list[str]:
    """One name or a list of names, as a list."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, Sequence) and all(isinstance(v, str) for v in value):
        return list(value)
    raise OptionError(f"{what} must be a column name or a list of them, got {value!r}.")


def _response_vars(res: ResultView) -> set[str]:
    resp = res.design.formula.response or ""
    out = set(parse(f"{resp} ~ 1").variables) if resp else set()
    if res.plan.trials:
        out.add(res.plan.trials)
    return out


def _commons(res: ResultView) -> list[Any]:
    d = res.design
    return [c for c in (d._fixed_common, *d._dpar_commons.values(),
                        *(b._common for b in d.blocks)) if c is not None]


def model_variables(res: ResultView) -> dict[str, str]:
    """Each data column the model's predictors use -> ``"factor"``, ``"numeric"`` or
    ``"group"`` (a grouping factor), in the data's column order.

    A column is a factor when formulae treats it as one anywhere in the model (text,
    booleans, ``C(x)``, ``factor(x)``), numeric otherwise; the response's columns are
    left out.

    Examples
    --------
    >>> model_variables(_example_result())
    {'Days': 'numeric', 'Subject': 'group'}
    """
    d = res.design
    factors: set[str] = set()
    for common in _commons(res):
        for term in common.terms.values():
            for comp in getattr(term, "components", []):
                if getattr(comp, "kind", None) == "categoric":
                    factors |= {v for v in comp.var_names if v}
    used = set(d.formula.variables).union(
        *(parse(f).variables for f in d.dpar_formulas.values()))
    for expr in d.formula.offsets:
        used |= parse(f"~ {expr}").variables
    groups = {g for b in d.blocks for g in b.term.group}
    used -= _response_vars(res)
    out: dict[str, str] = {}
    for col in d.data.columns:
        if col not in used:
            continue
        if col in factors:
            out[col] = "factor"
        elif col in groups:
            out[col] = "group"
        else:
            series = d.data[col]
            numeric = (pd.api.types.is_numeric_dtype(series)
                       and not pd.api.types.is_bool_dtype(series))
            out[col] = "numeric" if numeric else "factor"
    return out


def levels_of(series: pd.Series) -> list[Any]:
    """A factor's levels in their order: a pandas categorical's order, else sorted."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        present = set(series.dropna().tolist())
        return [c for c in series.cat.categories if c in present]
    values = pd.unique(series.dropna())
    try:
        return sorted(values.tolist())
    except TypeError:  # mixed types
        return sorted(values.tolist(), key=str)


def _unknown(name: str, kinds: dict[str, str], what: str) -> OptionError:
    close = difflib.get_close_matches(name, list(kinds), n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    return OptionError(f"{what}: {name!r} is not a variable of the model.{hint} Its "
                       f"variables: {', '.join(kinds) or 'none'}.")


def _values(res: ResultView, name: str, kind: str, given: Any) -> list[Any]:
    """The values of one variable in the grid: ``at=``'s, checked, or its levels."""
    data = res.design.data
    if kind == "group":
        block = next(b for b in res.design.blocks if name in b.term.group)
        levels = list(block.levels) if len(block.term.group) == 1 else \
            [str(v) for v in levels_of(data[name])]
    else:
        levels = levels_of(data[name])
    if given is None:
        return levels
    values = list(given) if isinstance(given, list | tuple | np.ndarray | pd.Series) \
        else [given]
    if not values:
        raise OptionError(f"at={{{name!r}: ...}} gives no value.")
    if kind == "numeric":
        try:
            numbers = [float(v) for v in values]
        except (TypeError, ValueError):
            raise OptionError(f"at={{{name!r}: ...}}: {name} is numeric; give numbers, "
                              f"got {given!r}.") from None
        if pd.api.types.is_integer_dtype(data[name]) and all(v.is_integer() for v in numbers):
            return [int(v) for v in numbers]  # an integer column's values stay integers
        return numbers
    text = {str(lev): lev for lev in levels}
    out = []
    for v in values:
        if v in levels:
            out.append(v)
        elif str(v) in text:
            out.append(text[str(v)])
        else:
            shown = ", ".join(map(str, levels[:12])) + (" ..." if len(levels) > 12 else "")
            raise OptionError(f"at={{{name!r}: ...}}: {v!r} is not a level of {name} "
                              f"(its levels: {shown}).")
    return out


def check_at(at: Any, kinds: dict[str, str]) -> dict[str, Any]:
    """``at=`` as a dict of known variables."""
    if at is None:
        return {}
    if not isinstance(at, dict):
        raise OptionError(f"at must be a dict of variable -> value(s), e.g. "
                          f"{{'x': [0, 1]}}, got {at!r}.")
    for name in at:
        if name not in kinds:
            raise _unknown(name, kinds, "at")
    return dict(at)


def reference_grid(res: ResultView, specs: Sequence[str], *, at: Any = None,
                   weights: str = "equal") -> Grid:
    """The reference grid of emmeans for the cells ``specs``.

    Named factors take all their levels (or ``at``'s), named numeric variables their
    mean (or ``at``'s values); other factors are averaged over with ``weights``, other
    numeric variables sit at their mean (averaged over ``at``'s values when several are
    given). A grouping factor that is named (or given in ``at``) adds its fitted levels'
    effects.

    Examples
    --------
    >>> g = reference_grid(_example_result(), ["Days"], at={"Days": [0, 9]})
    >>> g.cells["Days"].tolist(), g.frame.shape
    ([0, 9], (2, 1))
    """
    if weights not in WEIGHTS:
        raise OptionError(f"weights must be one of {', '.join(map(repr, WEIGHTS))}, "
                          f"got {weights!r}.")
    kinds = model_variables(res)
    at = check_at(at, kinds)
    for name in specs:
        if name not in kinds:
            raise _unknown(name, kinds, "variables")
    data = res.design.data
    named_groups = {g for g in [*specs, *at] if kinds[g] == "group"}
    whole = {b.term.group for b in res.design.blocks}
    for b in res.design.blocks:  # a nested factor's levels need every column of its group
        part = [g for g in b.term.group if g in named_groups]
        if part and len(part) < len(b.term.group) and not all((g,) in whole for g in part):
            raise OptionError(
                f"{', '.join(part)} is part of the grouping factor {b.group}: name all of "
                f"{', '.join(b.term.group)} (in variables or at=) for that factor's "
                f"conditional means.")
    dims: list[tuple[str, list[Any], bool]] = []  # (variable, values, named)
    for name, kind in kinds.items():
        named = name in specs
        if kind == "group" and name not in named_groups:
            continue
        if kind == "numeric" and name not in at:
            values = [float(data[name].astype(float).mean())]
        else:
            values = _values(res, name, kind, at.get(name))
        dims.append((name, values, named))
    nested = _nested_in(data, kinds, [n for n, _, named in dims if named], at,
                        [n for n, _, named in dims if not named])
    dims = [d for d in dims if d[0] not in nested]
    size = int(np.prod([len(v) for _, v, _ in dims])) if dims else 1
    if size > MAX_GRID_ROWS:
        raise OptionError(f"The reference grid would have {size:,} rows; give fewer "
                          f"values in at= or name fewer variables.")
    columns = [n for n, _, _ in dims]
    combos = list(itertools.product(*[v for _, v, _ in dims])) if dims else [()]
    frame = pd.DataFrame(combos, columns=columns)
    frame = _keep_observed_combinations(frame, data, kinds, [n for n in specs])
    for name in nested:  # a factor fixed by the named ones: the value each level has
        key = _keys(frame, [n for n in specs if kinds[n] != "numeric"])
        lookup = dict(zip(_keys(data, [n for n in specs if kinds[n] != "numeric"]),
                          data[name], strict=True))
        frame[name] = [lookup[k] for k in key]
        columns.append(name)
    for name in columns:  # keep the data's types (categoricals, integers)
        if kinds[name] != "numeric" and kinds[name] != "group":
            frame[name] = frame[name].astype(data[name].dtype) \
                if not isinstance(data[name].dtype, pd.CategoricalDtype) else \
                pd.Categorical(frame[name], categories=data[name].cat.categories,
                               ordered=data[name].cat.ordered)
    named_cols = [n for n in specs]
    if named_cols:
        keys = frame[named_cols].astype(str).agg("\x1f".join, axis=1) \
            if len(frame) else pd.Series([], dtype=str)
        codes, uniques = pd.factorize(keys, sort=False)
        first = [int(np.flatnonzero(codes == k)[0]) for k in range(len(uniques))]
        cells = frame.iloc[first][named_cols].reset_index(drop=True)
    else:
        codes = np.zeros(len(frame), dtype=np.int64)
        cells = pd.DataFrame(index=[0])
    w = np.ones(len(frame))
    averaged = [n for n, _, named in dims if not named and kinds[n] == "factor"]
    if weights == "proportional" and averaged:
        counts = data.groupby(averaged, observed=True, dropna=False).size()
        keys = pd.MultiIndex.from_frame(frame[averaged]) if len(averaged) > 1 \
            else pd.Index(frame[averaged[0]])
        w = counts.reindex(keys).fillna(0.0).to_numpy(dtype=float)
    totals = np.bincount(codes, weights=w, minlength=len(cells))
    if np.any(totals <= 0):
        raise OptionError("weights='proportional': a cell of the grid has no observed rows "
                          "of the factors averaged over; use weights='equal'.")
    return Grid(frame=frame, cells=cells, cell=np.asarray(codes, dtype=np.int64),
                weight=w / totals[codes], groups=tuple(sorted(named_groups)))


def _keys(frame: pd.DataFrame, cols: Sequence[str]) -> list[str]:
    """Each row's values of ``cols`` as one text key (levels written as group labels)."""
    if not cols:
        return [""] * len(frame)
    parts = [[level_label(v) for v in frame[c].tolist()] for c in cols]
    return ["\x1f".join(vals) for vals in zip(*parts, strict=True)]


def _determined(data: pd.DataFrame, by: Sequence[str], col: str) -> bool:
    """Whether ``col`` takes one value in each combination of ``by`` in the data."""
    if not by:
        return False
    counts = data.groupby(_keys(data, by))[col].nunique(dropna=False)
    return bool(counts.max() <= 1)


def _nested_in(data: pd.DataFrame, kinds: dict[str, str], named: Sequence[str],
               at: dict[str, Any], averaged: Sequence[str]) -> list[str]:
    """Factors averaged over that the named factors fix (emmeans' nesting: naming
    ``Subject`` fixes each subject's ``cohort``), so that each cell keeps its own value
    instead of averaging over values it never has."""
    by = [n for n in named if kinds[n] != "numeric"]
    return [f for f in averaged if kinds[f] == "factor" and f not in at
            and _determined(data, by, f)]


def _keep_observed_combinations(frame: pd.DataFrame, data: pd.DataFrame,
                                kinds: dict[str, str], named: Sequence[str]) -> pd.DataFrame:
    """Among named factors where one fixes another (``cohort`` and ``Subject``), only the
    combinations the data have."""
    cats = [n for n in named if kinds[n] != "numeric"]
    if len(cats) < 2 or not any(_determined(data, [c for c in cats if c != f], f)
                                for f in cats):
        return frame
    present = set(_keys(data, cats))
    keep = [k in present for k in _keys(frame, cats)]
    return frame.loc[keep].reset_index(drop=True)


def data_grid(res: ResultView, by: Sequence[str], include_random: bool) -> Grid:
    """The fitted rows as a grid: one cell per combination of ``by``'s values, each row
    weighted equally inside its cell (marginaleffects' averages over the data)."""
    kinds = model_variables(res)
    data = res.design.data
    for name in by:
        if name not in kinds and name not in data.columns:
            raise _unknown(name, kinds, "by")
    frame = data.reset_index(drop=True)
    if by:
        keys = frame[list(by)].astype(str).agg("\x1f".join, axis=1)
        order = {k: i for i, k in enumerate(
            frame.assign(_k=keys).sort_values(list(by))["_k"].drop_duplicates())}
        codes = keys.map(order).to_numpy(dtype=np.int64)
        first = [int(np.flatnonzero(codes == k)[0]) for k in range(len(order))]
        cells = frame.iloc[first][list(by)].reset_index(drop=True)
    else:
        codes = np.zeros(len(frame), dtype=np.int64)
        cells = pd.DataFrame(index=[0])
    counts = np.bincount(codes, minlength=len(cells)).astype(float)
    groups = tuple(sorted({g for b in res.design.blocks for g in b.term.group})) \
        if include_random else ()
    return Grid(frame=frame, cells=cells, cell=codes, weight=1.0 / counts[codes],
                groups=groups, per_row=True)


def level_weights(res: ResultView, frame: pd.DataFrame, block: Any, weights: str
                  ) -> np.ndarray:
    """``(rows, levels)``: how each grid row averages a block's fitted levels when their
    effects are included without naming the grouping factor. A level counts for a row
    when it has the row's values of the factors constant within each level (a subject
    counts for its own cohort only); equally, or by its rows with
    ``weights="proportional"``."""
    data = res.design.data
    counts = block.counts.astype(float)
    base = counts if weights == "proportional" else np.ones_like(counts)
    kinds = model_variables(res)
    index = pd.Series(block.index)
    fixed = [c for c in frame.columns if kinds.get(c) == "factor" and c in data.columns
             and bool(data[c].groupby(index.to_numpy()).nunique(dropna=False).max() <= 1)]
    w = np.tile(base, (len(frame), 1))
    for c in fixed:
        own = data[c].groupby(index.to_numpy()).first()  # each level's value
        value = np.array([level_label(v) for v in own.reindex(range(block.n_levels))])
        row = np.array([level_label(v) for v in frame[c].tolist()])
        w = w * (row[:, None] == value[None, :])
    total = w.sum(axis=1, keepdims=True)
    empty = total[:, 0] <= 0
    w[empty] = base
    total[empty] = base.sum()
    return w / total
