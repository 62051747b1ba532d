"""The input table: accepted types, the columns a formula needs, missing and infinite values.

The user's data are never modified: the model's columns are copied first.
"""

from __future__ import annotations

import difflib
import sys
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from mixedfit.errors import DataError, InputTypeError, MixedFitWarning
from mixedfit.formula import Formula
from mixedfit.formula.resolver import expression_variables

__all__ = ["NA_ACTIONS", "MissingDataWarning", "as_frame", "check_columns", "select_columns",
           "column_roles", "rows_text", "plural", "handle_missing", "caller_level",
           "check_infinite"]


#: What :func:`build_design` does with rows that have missing values in the model's columns.
NA_ACTIONS = ("drop", "error")


class MissingDataWarning(MixedFitWarning):
    """Rows with missing values in the model's columns were dropped."""


def as_frame(data: Any) -> pd.DataFrame:
    """The data as a pandas DataFrame, without copying a pandas input.

    Accepts a pandas DataFrame, a polars DataFrame (converted) and a mapping of column
    name -> values; anything else is an :class:`InputTypeError` saying what to pass.
    """
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, Mapping):
        try:
            return pd.DataFrame(dict(data))
        except (ValueError, TypeError) as err:
            raise DataError(
                f"Could not turn the dict of columns into a table: {err}. Give one "
                f"equal-length array (or list) per column, e.g. {{'y': [...], 'x': [...]}}."
            ) from err
    module = type(data).__module__ or ""
    kind = type(data).__name__
    if module.startswith("polars"):
        if kind == "DataFrame":
            return data.to_pandas()
        if kind == "LazyFrame":
            raise InputTypeError(
                "data is a polars LazyFrame; collect it first: data=lazy_frame.collect()."
            )
    hint = ""
    if isinstance(data, pd.Series) or (module.startswith("polars") and kind == "Series"):
        hint = " A single column is not enough: pass a table with every column the formula uses."
    elif isinstance(data, np.ndarray):
        hint = (" A numpy array has no column names; wrap it, e.g. "
                "pd.DataFrame(array, columns=['y', 'x', 'g']).")
    elif isinstance(data, str):
        hint = " To read a file, load it first, e.g. pd.read_csv(path)."
    raise InputTypeError(
        f"data must be a pandas DataFrame, a polars DataFrame or a dict of columns, "
        f"not {kind}.{hint}"
    )


def check_columns(formula: Formula, text: str, data: pd.DataFrame) -> list[str]:
    needed = sorted(formula.variables)
    columns = [str(c) for c in data.columns]
    for name in needed:
        if name not in columns:
            close = difflib.get_close_matches(name, columns, n=1, cutoff=0.6)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            pos = text.find(name)
            raise DataError(
                f"Column {name!r} used in the formula is not in the data.{hint}\n"
                f"    {text}\n    {' ' * max(pos, 0)}^\n"
                f"Columns available: {', '.join(columns[:20])}{' ...' if len(columns) > 20 else ''}"
            )
        if columns.count(name) > 1:
            raise DataError(
                f"The data have {columns.count(name)} columns named {name!r}; the formula "
                f"cannot tell them apart. Rename or drop the duplicates first."
            )
    return needed


def select_columns(frame: pd.DataFrame, needed: list[str]) -> pd.DataFrame:
    """A private copy of the needed columns, named by their text even if the names are not."""
    positions = {str(c): i for i, c in enumerate(frame.columns)}
    work = frame.iloc[:, [positions[name] for name in needed]].copy()
    work.columns = list(needed)
    return work


def column_roles(formula: Formula) -> dict[str, str]:
    """What each column is used for, to name it in error messages."""
    roles: dict[str, str] = {}
    for term in formula.random:
        for name in term.group:
            roles.setdefault(name, "grouping factor")
    if formula.response is not None:
        for name in expression_variables(formula.response):
            roles.setdefault(name, "response")
    for offset in formula.offsets:
        for name in expression_variables(offset):
            roles.setdefault(name, "offset")
    for text in [*formula.fixed, *(t for term in formula.random for t in term.terms)]:
        for name in expression_variables(text):
            roles.setdefault(name, "predictor")
    return roles


def rows_text(labels: Any, mask: np.ndarray, limit: int = 5) -> str:
    """``"row 3"`` or ``"rows 3, 7 ..."``: the labels (data index) where ``mask`` is True."""
    picked = [repr(v) if isinstance(v, str) else str(v) for v in np.asarray(labels)[mask][:limit]]
    more = " ..." if int(mask.sum()) > limit else ""
    return ("row " if int(mask.sum()) == 1 else "rows ") + ", ".join(picked) + more


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def handle_missing(work: pd.DataFrame, labels: pd.Index, na_action: str
                    ) -> tuple[pd.DataFrame, pd.Index, np.ndarray]:
    """Drop (with a warning) or refuse rows with missing values in the model's columns."""
    incomplete = work.isna().any(axis=1).to_numpy()
    n_dropped = int(incomplete.sum())
    if not n_dropped:
        return work.reset_index(drop=True), labels, incomplete
    bad = [c for c in work.columns if work[c].isna().any()]
    counts = ", ".join(f"{c!r} ({plural(int(work[c].isna().sum()), 'row')})" for c in bad)
    if na_action == "error":
        raise DataError(
            f"Missing values in {n_dropped} of {len(work)} rows ({rows_text(labels, incomplete)}), "
            f"in column{'s' if len(bad) > 1 else ''} {counts}. Fill them in, drop those rows "
            f"first (data.dropna(subset={bad!r})), or pass na_action='drop' to drop them "
            f"with a warning."
        )
    if n_dropped == len(work):
        raise DataError(
            f"No complete rows are left after dropping missing values: every row has a "
            f"missing value in {counts}."
        )
    warnings.warn(
        f"Dropped {n_dropped} of {len(work)} rows with missing values "
        f"(in column{'s' if len(bad) > 1 else ''} {', '.join(map(repr, bad))}).",
        MissingDataWarning,
        stacklevel=caller_level(),
    )
    work = work.loc[~incomplete].reset_index(drop=True)
    return work, labels[~incomplete], incomplete


def caller_level() -> int:
    """``stacklevel`` that points a warning at the first caller outside mixedfit."""
    level, frame = 1, sys._getframe(1)
    while frame is not None and str(frame.f_globals.get("__name__", "")).startswith(
            "mixedfit"):
        level += 1
        frame = frame.f_back
    return level


def check_infinite(work: pd.DataFrame, labels: pd.Index, roles: dict[str, str]) -> None:
    """Refuse infinite values in any numeric column the model uses, naming the column."""
    for name in work.columns:
        col = work[name]
        if pd.api.types.is_bool_dtype(col.dtype) or not pd.api.types.is_numeric_dtype(col.dtype):
            continue
        values = col.to_numpy(dtype=float, na_value=np.nan)
        inf = np.isinf(values)
        if inf.any():
            role = roles.get(name, "column")
            raise DataError(
                f"Column {name!r} (used as {role}) has {plural(int(inf.sum()), 'infinite value')} "
                f"({rows_text(labels, inf)}). Replace them, or drop those rows first, e.g. "
                f"data = data[np.isfinite(data[{name!r}])]."
            )
