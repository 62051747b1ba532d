"""Designs of data that need not fit in memory: a Dask DataFrame or a Parquet dataset.

A Gaussian model (identity link) whose blocks of group effects share one grouping
factor depends on its rows only through sufficient statistics
(:mod:`mixedfit.design.stats`), which Dask computes partition by partition and adds:

1. **A first pass** reads each partition's grouping-factor levels, one example row of
   each level of every factor the formula uses as a predictor, the first rows of
   every partition and every row of about one level in 64 (by a hash of the level).
   From these a *template* design is built (with every check of an in-memory design)
   that knows every column of the whole data: a factor's columns do not depend on
   which partition a row is in.
2. **A second pass** evaluates the template on each partition (the same columns, the
   levels numbered as in the whole data), takes its statistics about a fixed origin
   (the template's means) and adds them; the partitions are dropped as they are done.

The result is a :class:`~mixedfit.design.Design` without rows (``design.stats``
set, ``design.has_rows`` False); its fit is the fit of the in-memory data (the same
statistics, to rounding).

Stateful transforms (``scale()``, ``center()``, ``standardize()``, ``poly()``,
``bs()``) are refused: they would be computed from the template's rows, not the
whole data's; compute such a column first (the model is sampled in centred and
scaled coordinates anyway, see :mod:`mixedfit.standardize`).
"""

from __future__ import annotations

import dataclasses
import glob
import os
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mixedfit.design.build import build_design
from mixedfit.design.design import Design
from mixedfit.design.frame import MissingDataWarning, as_frame, caller_level, check_columns
from mixedfit.design.groups import level_label
from mixedfit.design.response import build_response
from mixedfit.design.stats import Origin, SufficientStats, partition_stats
from mixedfit.errors import DataError, FamilyError, FormulaError, InputTypeError, OptionError
from mixedfit.families import Family
from mixedfit.formula import parse

__all__ = ["is_out_of_core", "out_of_core_design", "read_source",
           "rowless_from", "update_reason", "updated_design",
           "OUT_OF_CORE_MODELS"]

#: What can be fitted out of core, in words (for messages and docs).
OUT_OF_CORE_MODELS = ("Gaussian models with the identity link whose group terms share one "
                      "grouping factor (e.g. y ~ x + (1 + x | g)), without weights=, se=, "
                      "offsets or formulas for sigma")

#: Functions whose result depends on every row they see (not allowed out of core).
STATEFUL = ("scale", "center", "standardize", "poly", "bs")

#: Rows taken from the start of each partition for the template design.
TEMPLATE_ROWS = 200
#: The template also takes every row (at most :data:`LEVEL_SAMPLE_ROWS` a partition)
#: of the grouping factor's levels whose hash is 0 modulo this: about one level in 64.
LEVEL_SAMPLE = 64
LEVEL_SAMPLE_ROWS = 5_000
#: Most rows of the template (the examples of each factor level aside).
TEMPLATE_MAX = 20_000


def is_out_of_core(data: Any) -> bool:
    """Whether ``data`` is out-of-core data: a Dask DataFrame, or the path (text or
    :class:`os.PathLike`) of a Parquet dataset (a file, a folder of files or a glob)."""
    if isinstance(data, os.PathLike):
        return True
    if isinstance(data, str):
        return data.endswith(".parquet") or os.path.isdir(data) or any(
            c in data for c in "*?[")
    module = type(data).__module__ or ""
    return module.startswith("dask") and hasattr(data, "npartitions")


def read_source(data: Any) -> tuple[Any, str]:
    """The Dask DataFrame of ``data`` and a description of where its rows are."""
    import dask.dataframe as dd  # deferred: Dask loads only for out-of-core data

    if not isinstance(data, str | os.PathLike):
        return data, f"a Dask DataFrame of {data.npartitions} partitions"
    path = os.fspath(data)
    if os.path.isdir(path):
        files = sorted(glob.glob(os.path.join(path, "**", "*.parquet"), recursive=True))
    else:
        files = sorted(glob.glob(path))
    if not files:
        raise DataError(f"No Parquet files at {path!r}: give a Parquet file, a folder of "
                        f"them or a glob such as 'data/*.parquet'.")
    try:
        ddf = dd.read_parquet(files)
    except Exception as err:  # pyarrow's and Dask's errors: explained, with the cause
        raise DataError(f"Could not read the Parquet dataset at {path!r}: "
                        f"{type(err).__name__}: {err}") from err
    where = path if os.path.isdir(path) else str(Path(path).parent)
    return ddf, f"{len(files)} Parquet file{'s' if len(files) > 1 else ''} in {where}"


def _refuse(formula: Any, text: str, family: Family, trials: Any, weights: Any, se: Any,
            dpars: dict[str, str] | None) -> None:
    what = f"Out-of-core data (a Dask DataFrame or a Parquet dataset) can be fitted for " \
           f"{OUT_OF_CORE_MODELS}."
    sample = ("For other models fit an in-memory sample of the rows, e.g. "
              "mf.fit(formula, ddf.sample(frac=0.01).compute()).")
    if not family.integrates_out:
        raise FamilyError(f"{what} The {family.name} family with the {family.link} link needs "
                          f"every row at every step of the sampler. {sample}")
    for name, value in (("trials", trials), ("weights", weights), ("se", se)):
        if value is not None:
            raise OptionError(f"{what} {name}= is not supported out of core. {sample}")
    if dpars:
        raise OptionError(f"{what} A formula for {', '.join(dpars)} is not. {sample}")
    if formula.offsets:
        raise FormulaError(f"{what} Subtract the offset from the response first (a column "
                           f"y - offset) and fit that.", text, None, None)
    if not formula.random:
        raise FormulaError(f"{what} This formula has no group term.", text, None, None)
    groups = {term.group for term in formula.random}
    if len(groups) == 1 and len(next(iter(groups))) > 1:
        raise FormulaError(f"{what} Out of core the grouping factor must be one column: "
                           f"make the combination {':'.join(next(iter(groups)))} a column "
                           f"first.", text, None, None)
    if len(groups) > 1:
        names = ", ".join(":".join(g) for g in sorted(groups))
        raise FormulaError(f"{what} This formula has several grouping factors ({names}): "
                           f"crossed or nested factors need the rows.", text, None, None)
    for fn in STATEFUL:
        m = re.search(rf"\b{fn}\s*\(", text)
        if m:
            raise FormulaError(
                f"{fn}() computes its result from the rows it sees: out of core it would "
                f"see a sample, not the whole data. Compute the column first (the model is "
                f"sampled in centred and scaled coordinates anyway).", text, m.start(), None)


def _factor_variables(formula: Any, meta: pd.DataFrame, text: str) -> list[str]:
    """The predictors that are factors: text, categorical or boolean columns, and those
    inside ``C()`` or ``factor()``."""
    group_cols = {c for term in formula.random for c in term.group}
    out = []
    for name in sorted(formula.variables - group_cols - {formula.response}):
        kind = meta[name].dtype
        wrapped = re.search(rf"\b(C|factor)\(\s*{re.escape(name)}\b", text)
        if wrapped or not (pd.api.types.is_numeric_dtype(kind)
                           and not pd.api.types.is_bool_dtype(kind)):
            out.append(name)
    return out


def _scan(part: pd.DataFrame, needed: list[str], factors: list[str], group: tuple[str, ...],
          head: int) -> dict[str, Any]:
    """First pass over one partition: its complete rows' group levels, an example row of
    each factor level, its first rows."""
    complete = part[needed].dropna()
    examples = [complete.drop_duplicates(subset=[f]) for f in factors]
    # every row of a fixed subset of the levels (the same in every partition: by a hash of
    # the level), so that the template has levels with several rows whatever the number
    # of levels (a slope varies within them, as in the whole data)
    hashed = pd.util.hash_pandas_object(complete[group[0]], index=False).to_numpy()
    chosen = complete[hashed % LEVEL_SAMPLE == 0].iloc[:LEVEL_SAMPLE_ROWS]
    return {"rows": len(part), "complete": len(complete),
            "levels": [pd.unique(complete[g]) for g in group],
            "examples": pd.concat(examples) if examples else complete.iloc[:0].copy(),
            # copies: a view would keep the whole partition in memory
            "head": pd.concat([complete.iloc[:head], chosen]).copy()}


def _global_levels(values: list[np.ndarray]) -> tuple[np.ndarray, list[str]]:
    """The levels of a grouping column over every partition, ordered as R's factor
    levels (sorted), and their labels."""
    allv = pd.unique(np.concatenate(values)) if values else np.array([])
    uniq = np.sort(allv) if len(allv) else allv
    return uniq, [level_label(v) for v in uniq]


@dataclasses.dataclass
class _Plan:
    """What every partition needs for its statistics."""

    template: Design
    needed: list[str]
    group: tuple[str, ...]
    levels: np.ndarray | None  # the levels' values (None: match by label)
    labels: list[str]
    origin: Origin
    candidates: list[tuple[int, int]]  # (fixed column, its block column)
    family: Family

    def stats(self, part: pd.DataFrame, source: str = "") -> SufficientStats:
        """The statistics of one partition (or any frame with the model's columns)."""
        work = part[self.needed]
        complete = work.dropna()
        dropped = len(work) - len(complete)
        t = self.template
        fam_y = build_response(t.formula, complete, self.family, None).y if len(complete) \
            else np.zeros(0)
        X = t.x_for(complete) if len(complete) else np.zeros((0, len(t.fixed_columns)))
        Z = np.hstack([b.z_for(complete) for b in t.blocks]) if len(complete) else \
            np.zeros((0, sum(b.n_terms for b in t.blocks)))
        for what, M, names in (("fixed-effects column", X, t.fixed_columns),
                               ("response", np.asarray(fam_y, float)[:, None],
                                [t.response_name])):
            bad = ~np.isfinite(M).all(axis=0)
            if bad.any():
                raise DataError(f"The {what} {names[int(np.flatnonzero(bad)[0])]!r} has "
                                f"values that are not finite in {source or 'a partition'}.")
        index = _level_codes(complete[self.group[0]], self.levels, self.labels)
        if (index < 0).any():
            raise DataError("A partition has a level of the grouping factor the first pass "
                            "did not see: was the data changed while it was read?")
        shared = np.zeros(len(t.fixed_columns), bool)
        for j, z in self.candidates:
            shared[j] = bool(np.array_equal(X[:, j], Z[:, z]))
        out = partition_stats(X, np.asarray(fam_y, float), Z, index, len(self.labels),
                              self.origin, shared, source)
        out.n_dropped = dropped
        return out


def _level_codes(values: pd.Series, levels: np.ndarray | None, labels: list[str]
                 ) -> np.ndarray:
    """Each row's level number: by value when the levels' values are known, else by
    label (integral numbers written without ``.0``, as :func:`level_label`)."""
    if levels is not None:
        return pd.Index(levels).get_indexer(values.to_numpy())
    v = values.to_numpy()
    if v.dtype.kind == "f" and np.all(np.isfinite(v)) and np.all(v == np.round(v)):
        v = v.astype(np.int64)
    text = v.astype(str) if v.dtype.kind in "iub" else np.array([level_label(x) for x in v])
    return pd.Index(labels).get_indexer(text)


def _add(*parts: SufficientStats) -> SufficientStats:
    total = parts[0]
    for other in parts[1:]:
        total = total.add(other)
    return total


def _tree_sum(items: list[Any]) -> Any:
    """Dask tasks adding partial statistics eight at a time."""
    import dask  # deferred: Dask loads only for out-of-core data

    while len(items) > 1:
        items = [dask.delayed(_add)(*items[i:i + 8]) for i in range(0, len(items), 8)]
    return items[0]


def _plan(formula: str, ddf: Any, family: Family, na_action: str) -> tuple[_Plan, Any, dict]:
    import dask  # deferred: Dask loads only for out-of-core data

    parsed = parse(formula)
    meta = ddf._meta
    needed = check_columns(parsed, formula, meta)
    group = parsed.random[0].group
    factors = _factor_variables(parsed, meta, formula)
    parts = ddf[needed].to_delayed()
    scans = dask.compute(*[dask.delayed(_scan)(p, needed, factors, group, TEMPLATE_ROWS)
                           for p in parts])
    rows = sum(s["rows"] for s in scans)
    complete = sum(s["complete"] for s in scans)
    if complete == 0:
        raise DataError(f"The data have no complete rows of the model's columns "
                        f"({', '.join(needed)}) among {rows} rows.")
    if complete < rows and na_action == "error":
        raise DataError(f"{rows - complete} of {rows} rows have missing values in the model's "
                        f"columns ({', '.join(needed)}); drop them first or pass "
                        f"na_action='drop'.")
    levels, labels = _global_levels([s["levels"][0] for s in scans])
    # (at most TEMPLATE_MAX rows besides the examples: the template is built, kept and
    # saved with the result)
    frame = pd.concat([pd.concat([s["head"] for s in scans]).iloc[:TEMPLATE_MAX]]
                      + [s["examples"] for s in scans])
    frame = frame.drop_duplicates().reset_index(drop=True)
    plan = plan_of(build_design(formula, frame, family=family, na_action="drop"), family)
    plan.levels, plan.labels = levels, labels  # the whole data's, not the template's
    return plan, parts, {"rows": rows, "complete": complete}


def _candidates(design: Design) -> list[tuple[int, int]]:
    """Fixed-effect columns that may equal a block column (same name), as (fixed column,
    position among the blocks' columns side by side)."""
    out = []
    at = 0
    for b in design.blocks:
        for t, col in enumerate(b.columns):
            if col != "Intercept" and col in design.fixed_columns:
                out.append((design.fixed_columns.index(col), at + t))
        at += b.n_terms
    return out


def plan_of(design: Design, family: Family) -> _Plan:
    """The plan that takes statistics of more rows for a fitted design (with rows or
    out of core), about the same origin when it has statistics."""
    if design.stats is not None:
        origin = design.stats.origin
    else:
        origin = Origin(x=design.X.mean(axis=0), y=float(np.mean(design.y)),
                        z=np.hstack([b.Z for b in design.blocks]).mean(axis=0))
    needed = sorted(design.formula.variables)
    return _Plan(template=design, needed=needed, group=design.blocks[0].term.group,
                 levels=None, labels=list(design.blocks[0].levels), origin=origin,
                 candidates=_candidates(design), family=family)


def out_of_core_design(formula: Any, data: Any, *, family: Family, trials: Any = None,
                       weights: Any = None, se: Any = None, na_action: str = "drop",
                       dpars: dict[str, str] | None = None) -> Design:
    """The design of out-of-core data, without its rows (see the module docstring).

    Parameters are those of :func:`mixedfit.design.build_design`; ``data`` is a Dask
    DataFrame or the path of a Parquet dataset.

    Raises
    ------
    FamilyError, OptionError, FormulaError
        For a model that cannot be fitted out of core (:data:`OUT_OF_CORE_MODELS`),
        naming what and the fix.
    DataError
        As for in-memory data: missing columns, no complete rows, values that are not
        finite, a single level, collinear columns.
    """
    import dask  # deferred: Dask loads only for out-of-core data

    if not isinstance(formula, str):
        formula = str(formula)
    parsed = parse(formula)
    if parsed.response is None:
        raise FormulaError("The formula has no response (nothing left of '~').", formula, 0,
                           "Write the outcome on the left, e.g. 'y ~ x + (1 | g)'.")
    _refuse(parsed, formula, family, trials, weights, se, dpars)
    ddf, source = read_source(data)
    if not hasattr(ddf, "to_delayed"):
        raise InputTypeError(f"data is a {type(ddf).__name__}; out of core it must be a Dask "
                             f"DataFrame or the path of a Parquet dataset.")
    plan, parts, counts = _plan(formula, ddf, family, na_action)
    dropped = counts["rows"] - counts["complete"]
    if dropped:
        warnings.warn(f"Dropped {dropped:,} of {counts['rows']:,} rows with missing values in "
                      f"the model's columns ({', '.join(plan.needed)}); pass "
                      f"na_action='error' to refuse them.", MissingDataWarning,
                      stacklevel=caller_level())
    total = _tree_sum([dask.delayed(plan.stats)(p, f"partition {i}")
                       for i, p in enumerate(parts)])
    stats: SufficientStats = dask.compute(total)[0]
    stats.source = source
    return rowless_design(plan, stats)


def rowless_design(plan: _Plan, stats: SufficientStats) -> Design:
    """The template's design with the statistics of the whole data in place of rows."""
    t = plan.template
    if t.has_rows:  # the rows that rebuild the template (saving, loading)
        stats._extra["template_rows"] = t.data
    # (the template was checked as an in-memory design: a single level, collinear
    # columns or a slope constant within every level in the whole data would be so in
    # the template's rows, and adding rows cannot make them so)
    counts = stats.counts
    blocks = []
    for b in t.blocks:
        blocks.append(dataclasses.replace(
            b, Z=np.zeros((0, b.n_terms)), index=np.zeros(0, np.int64),
            levels=list(plan.labels), _counts=counts))
    return dataclasses.replace(t, y=np.zeros(0), X=np.zeros((0, len(t.fixed_columns))),
                               data=t.data.iloc[:0], blocks=blocks,
                               n_dropped=stats.n_dropped, stats=stats)


def update_reason(design: Design, family: Family) -> str | None:
    """Why a fitted design cannot take more rows through its statistics (None when it
    can): the models of :data:`OUT_OF_CORE_MODELS`."""
    if not family.integrates_out:
        return f"a {family.name} model with the {family.link} link does not have"
    if design.weights is not None or design.se is not None or design.trials is not None:
        return "a model with weights= or se= does not have"
    if design.dpars:
        return "a model with a formula for sigma does not have"
    if design.formula.offsets:
        return "a model with an offset does not have"
    if not design.blocks:
        return "a model without group terms does not have"
    groups = {b.term.group for b in design.blocks}
    if len(groups) > 1 or len(next(iter(groups))) > 1:
        return "a model whose group terms do not share one grouping column does not have"
    if re.search(rf"\b({'|'.join(STATEFUL)})\s*\(", design.formula_text):
        return "a model with scale(), poly() or another transform of the rows it sees " \
               "does not have"
    return None


def _with_levels(stats: SufficientStats, m: int) -> SufficientStats:
    """``stats`` with zero statistics for levels added after its last."""
    extra = m - stats.vv.shape[0]
    if extra <= 0:
        return stats
    pad = ((0, extra), (0, 0), (0, 0))
    return dataclasses.replace(stats, vv=np.pad(stats.vv, pad), vw=np.pad(stats.vw, pad))


def updated_design(design: Design, family: Family, new_data: Any) -> Design:
    """``design`` (with rows or out of core) with the statistics of ``new_data`` added:
    a design without rows (see :meth:`mixedfit.MixedResult.update`)."""
    import dask  # deferred: Dask loads only for out-of-core data

    plan = plan_of(design, family)
    old = design.stats
    if old is None:  # the fit's own rows, taken about their means
        old = plan.stats(design.data, "the fitted rows")
        old.n_dropped = design.n_dropped
        old.source = "the fitted rows"
    # levels the fit did not have: added after its own
    column = plan.group[0]
    if is_out_of_core(new_data):
        ddf, source = read_source(new_data)
        parts = ddf[plan.needed].to_delayed()
        values = dask.compute(*[dask.delayed(lambda p: pd.unique(p[column].dropna()))(p)
                                for p in parts])
        seen = pd.unique(np.concatenate(values)) if values else np.array([])
    else:
        frame = as_frame(new_data)
        check_columns(design.formula, design.formula_text, frame)
        source = f"{len(frame)} new rows"
        seen = pd.unique(frame[column].dropna())
    codes = _level_codes(pd.Series(seen), None, plan.labels)
    new_labels = sorted({level_label(v) for v, c in zip(seen, codes, strict=True) if c < 0})
    plan.labels = plan.labels + new_labels
    old = _with_levels(old, len(plan.labels))
    if is_out_of_core(new_data):
        added = dask.compute(_tree_sum([dask.delayed(plan.stats)(p, f"partition {i}")
                                        for i, p in enumerate(parts)]))[0]
    else:
        added = plan.stats(frame, "the new rows")
    total = old.add(_with_levels(added, len(plan.labels)))
    total.source = f"{old.source or 'the fitted rows'} and {source}"
    return rowless_design(plan, total)


def rowless_from(template: Design, family: Family, stats: SufficientStats,
                 labels: list[str]) -> Design:
    """The design without rows of a saved out-of-core fit: its template (rebuilt from
    the template's rows), its statistics and its grouping factor's levels."""
    plan = plan_of(template, family)
    plan.origin, plan.labels = stats.origin, list(labels)
    return rowless_design(plan, stats)
