"""The design layer: a parsed formula plus a data frame to matrices and group indices.

Nothing here imports PyMC. Group effects are represented by an integer index
per observation (``index[i]`` is the level of row ``i``) and a small dense
matrix ``Z`` of the block's own columns (n x terms), never by a dense
n x levels indicator matrix.

Examples
--------
>>> import mixedfit as mf
>>> from mixedfit.design import build_design
>>> d = build_design("Reaction ~ Days + (Days | Subject)", mf.load_dataset("sleepstudy"))
>>> d.fixed_columns, d.blocks[0].columns, d.blocks[0].n_levels
(['Intercept', 'Days'], ['Intercept', 'Days'], 18)
"""

from __future__ import annotations

import difflib
import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mixedfit.errors import (
    DataError,
    FormulaError,
    InputTypeError,
    MixedFitError,
    MixedFitWarning,
    OptionError,
)
from mixedfit.families import Family, get_family
from mixedfit.formula import Formula, RandomTerm, parse
from mixedfit.formula.resolver import expression_variables
from mixedfit.response import build_response, response_columns

__all__ = ["Design", "BlockDesign", "build_design", "MissingDataWarning",
           "OneSidedResponseWarning", "formula_namespace", "NA_ACTIONS"]

#: What :func:`build_design` does with rows that have missing values in the model's columns.
NA_ACTIONS = ("drop", "error")


class MissingDataWarning(MixedFitWarning):
    """Rows with missing values in the model's columns were dropped."""


class OneSidedResponseWarning(MixedFitWarning):
    """A binary or binomial response without a single success, or without a single
    failure: the fit is valid, but the side without data rests on the prior."""


def _logit(p: Any) -> Any:
    p = np.asarray(p, dtype=float)
    return np.log(p) - np.log1p(-p)


def _expit(x: Any) -> Any:
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=float)))


#: The only functions a formula may call besides formulae's own transforms
#: (``C``, ``I``, ``scale``, ``center``, ``standardize``, ``poly``, ``bs``, ``offset``).
SAFE_FUNCTIONS: dict[str, Any] = {
    "log": np.log,
    "log2": np.log2,
    "log10": np.log10,
    "log1p": np.log1p,
    "exp": np.exp,
    "sqrt": np.sqrt,
    "abs": np.abs,
    "logit": _logit,
    "expit": _expit,
}


def formula_namespace() -> Any:
    """The evaluation environment handed to formulae: the safe functions and nothing else."""
    from formulae.environment import Environment

    return Environment([dict(SAFE_FUNCTIONS)])


def _design_matrices(text: str, data: pd.DataFrame) -> Any:
    """Evaluate formulae's design matrices; its errors become a :class:`DataError`."""
    import formulae

    try:
        with warnings.catch_warnings():
            # log(0), sqrt(-1)...: reported below, with the term and the rows, as a DataError
            warnings.filterwarnings("ignore", category=RuntimeWarning)
            return formulae.design_matrices(text, data, na_action="pass",
                                            env=formula_namespace())
    except MixedFitError:
        raise
    except Exception as err:
        raise DataError(
            f"Could not evaluate {text!r} on the data: {type(err).__name__}: {err}"
        ) from err


def _column_labels(common: Any) -> list[str]:
    labels: list[str] = []
    for term in common.terms.values():
        labels.extend(term.labels)
    return labels


@dataclass
class BlockDesign:
    """One random-effect term: its columns, its grouping factor and the level of each row.

    Attributes
    ----------
    term : RandomTerm
        The parsed random-effect term.
    label : str
        Unique name of the block, as lme4 prints it: the grouping factor, with
        ``.1``, ``.2`` appended when a factor has several blocks.
    group : str
        The grouping factor, e.g. ``"Subject"`` or ``"batch:cask"``.
    columns : list of str
        Names of the block's columns (``"Intercept"``, ``"Days"``...).
    Z : numpy.ndarray
        ``(n, len(columns))`` values of those columns.
    index : numpy.ndarray
        ``(n,)`` integer level of each row.
    levels : list of str
        Level labels, in order.
    correlated : bool
        Whether the block's effects are correlated (``|``) or not (``||``).
    """

    term: RandomTerm
    label: str
    group: str
    columns: list[str]
    Z: np.ndarray
    index: np.ndarray
    levels: list[str]
    correlated: bool
    _common: Any = field(default=None, repr=False)
    _group_levels: list[list[Any]] = field(default_factory=list, repr=False)

    @property
    def n_levels(self) -> int:
        """Number of levels of the grouping factor."""
        return len(self.levels)

    @property
    def n_terms(self) -> int:
        """Number of columns (terms) in the block."""
        return len(self.columns)

    @property
    def counts(self) -> np.ndarray:
        """Number of observations in each level."""
        return np.bincount(self.index, minlength=self.n_levels)

    def z_for(self, data: pd.DataFrame) -> np.ndarray:
        """The block's columns evaluated on new data."""
        return _new_data(self._common, data, f"the random-effect term {self.term}")

    def index_for(self, data: pd.DataFrame) -> np.ndarray:
        """Level index of each row of new data; -1 where the level was not seen in fitting."""
        labels = _group_labels(data, self.term.group)
        lookup = {lev: i for i, lev in enumerate(self.levels)}
        return np.array([lookup.get(lab, -1) for lab in labels], dtype=np.int64)


@dataclass
class Design:
    """Everything the model layer needs, derived from a formula and a data frame.

    Attributes
    ----------
    formula : Formula
        The parsed formula.
    formula_text : str
        The formula as the user wrote it.
    y : numpy.ndarray
        The response.
    response_name : str
        Name of the response (its text in the formula).
    X : numpy.ndarray
        ``(n, k)`` fixed-effects design.
    fixed_columns : list of str
        Column names of ``X``.
    fixed_terms : dict
        Formula term -> its columns in ``X``.
    offset : numpy.ndarray or None
        Sum of the ``offset(...)`` terms, or None.
    blocks : list of BlockDesign
        The random-effect blocks, in formula order.
    data : pandas.DataFrame
        The rows used (complete cases of the model's columns), a private copy.
    n_dropped : int
        Number of rows dropped for missing values.
    trials : numpy.ndarray or None
        Binomial trials per row.
    success : str or None
        The level counted as success for a factor Bernoulli response.
    """

    formula: Formula
    formula_text: str
    y: np.ndarray
    response_name: str
    X: np.ndarray
    fixed_columns: list[str]
    fixed_terms: dict[str, list[str]]
    offset: np.ndarray | None
    blocks: list[BlockDesign]
    data: pd.DataFrame
    n_dropped: int = 0
    trials: np.ndarray | None = None
    success: str | None = None
    _fixed_common: Any = field(default=None, repr=False)

    @property
    def n_obs(self) -> int:
        """Number of observations used."""
        return int(self.y.shape[0])

    @property
    def groups(self) -> dict[str, list[BlockDesign]]:
        """Blocks by grouping factor, in formula order."""
        out: dict[str, list[BlockDesign]] = {}
        for block in self.blocks:
            out.setdefault(block.group, []).append(block)
        return out

    @property
    def has_intercept(self) -> bool:
        """Whether the fixed part has an intercept column."""
        return "Intercept" in self.fixed_columns

    def x_for(self, data: pd.DataFrame) -> np.ndarray:
        """The fixed-effects design evaluated on new data."""
        if not self.fixed_columns:
            return np.zeros((len(data), 0))
        return _new_data(self._fixed_common, data, "the fixed effects")

    def offset_for(self, data: pd.DataFrame) -> np.ndarray | None:
        """The offset evaluated on new data (None when the model has none)."""
        if not self.formula.offsets:
            return None
        return _offset(self.formula.offsets, data)


def _new_data(common: Any, data: pd.DataFrame, what: str) -> np.ndarray:
    """formulae's design columns on new data; its errors become a :class:`DataError`."""
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=RuntimeWarning)
            return np.asarray(common.evaluate_new_data(data)).astype(float)
    except MixedFitError:
        raise
    except KeyError as err:
        raise DataError(f"The new data lack the column {err.args[0]!r} needed for {what}.") \
            from err
    except Exception as err:
        raise DataError(
            f"Could not evaluate {what} on the new data: {err} A factor's levels must be "
            f"among those seen in fitting (the new rows of a fixed-effect factor have no "
            f"coefficient), and every column must have the type it had.") from err


def _as_frame(data: Any) -> pd.DataFrame:
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


def _check_columns(formula: Formula, text: str, data: pd.DataFrame) -> list[str]:
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


def _select(frame: pd.DataFrame, needed: list[str]) -> pd.DataFrame:
    """A private copy of the needed columns, named by their text even if the names are not."""
    positions = {str(c): i for i, c in enumerate(frame.columns)}
    work = frame.iloc[:, [positions[name] for name in needed]].copy()
    work.columns = list(needed)
    return work


def _column_roles(formula: Formula) -> dict[str, str]:
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


def _rows(labels: Any, mask: np.ndarray, limit: int = 5) -> str:
    """``"row 3"`` or ``"rows 3, 7 ..."``: the labels (data index) where ``mask`` is True."""
    picked = [repr(v) if isinstance(v, str) else str(v) for v in np.asarray(labels)[mask][:limit]]
    more = " ..." if int(mask.sum()) > limit else ""
    return ("row " if int(mask.sum()) == 1 else "rows ") + ", ".join(picked) + more


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _handle_missing(work: pd.DataFrame, labels: pd.Index, na_action: str
                    ) -> tuple[pd.DataFrame, pd.Index, np.ndarray]:
    """Drop (with a warning) or refuse rows with missing values in the model's columns."""
    incomplete = work.isna().any(axis=1).to_numpy()
    n_dropped = int(incomplete.sum())
    if not n_dropped:
        return work.reset_index(drop=True), labels, incomplete
    bad = [c for c in work.columns if work[c].isna().any()]
    counts = ", ".join(f"{c!r} ({_plural(int(work[c].isna().sum()), 'row')})" for c in bad)
    if na_action == "error":
        raise DataError(
            f"Missing values in {n_dropped} of {len(work)} rows ({_rows(labels, incomplete)}), "
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
        stacklevel=_caller_level(),
    )
    work = work.loc[~incomplete].reset_index(drop=True)
    return work, labels[~incomplete], incomplete


def _caller_level() -> int:
    """``stacklevel`` that points a warning at the first caller outside mixedfit."""
    import sys

    level, frame = 1, sys._getframe(1)
    while frame is not None and str(frame.f_globals.get("__name__", "")).startswith(
            "mixedfit"):
        level += 1
        frame = frame.f_back
    return level


def _check_infinite(work: pd.DataFrame, labels: pd.Index, roles: dict[str, str]) -> None:
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
                f"Column {name!r} (used as {role}) has {_plural(int(inf.sum()), 'infinite value')} "
                f"({_rows(labels, inf)}). Replace them, or drop those rows first, e.g. "
                f"data = data[np.isfinite(data[{name!r}])]."
            )


def _check_finite(values: np.ndarray, columns: list[str], labels: pd.Index, what: str,
                  source: dict[str, str], where: str = "") -> None:
    """Refuse infinite or NaN values produced by a transformation (``log(0)``, ``sqrt(-1)``)."""
    bad = ~np.isfinite(values)
    if not bad.any():
        return
    j = int(np.argmax(bad.any(axis=0)))
    rows = bad[:, j]
    name = columns[j]
    term = source.get(name, name)
    shown = f"{term!r}" if term == name else f"{term!r} (column {name!r})"
    raise DataError(
        f"The {what} {shown}{where} is infinite or undefined in "
        f"{_plural(int(rows.sum()), 'row')} "
        f"({_rows(labels, rows)}), although the data there are finite: its "
        f"transformation is not defined for those values (e.g. log of 0 or of a negative "
        f"number). Change the transformation (e.g. log1p(x) or log(x + 1)) or drop those rows."
    )


#: Smallest spread of a column relative to its size: below it the values agree in more
#: than 10 of float64's 16 significant digits, and centring them leaves fewer than 6.
MIN_RELATIVE_SPREAD = 1e-10


def _spread(values: np.ndarray) -> tuple[float, float]:
    """Root mean square about the mean, and the largest absolute value."""
    top = float(np.max(np.abs(values))) if values.size else 0.0
    if top == 0.0:
        return 0.0, 0.0
    scaled = values / top
    return top * float(np.sqrt(np.mean((scaled - scaled.mean()) ** 2))), top


def _check_precision(values: np.ndarray, columns: list[str], what: str,
                     source: dict[str, str]) -> None:
    """Refuse a column whose values differ only in their last digits (``x + 1e12``):
    once centred it keeps too few significant digits to be fitted faithfully."""
    for j, name in enumerate(columns):
        spread, top = _spread(values[:, j])
        if spread == 0.0 or spread >= MIN_RELATIVE_SPREAD * top:
            continue
        term = source.get(name, name)
        shown = f"{term!r}" if term == name else f"{term!r} (column {name!r})"
        mean = float(np.mean(values[:, j]))
        raise DataError(
            f"The {what} {shown} varies by only {spread:.3g} around {mean:.10g}: its values "
            f"agree in more than 10 significant digits, so after centring fewer than 6 are "
            f"left. Subtract a constant first, e.g. I({term} - {mean:.10g}), or measure it in "
            f"other units.")


def _check_response(y: np.ndarray, trials: np.ndarray | None, name: str,
                    family: Family) -> None:
    """Refuse a response with nothing to fit: constant for a family with a scale, no
    counts or no successes (or failures) for a count family, or too few digits left once
    centred (:data:`MIN_RELATIVE_SPREAD`)."""
    if not y.size:
        return
    first = float(y[0])
    constant = bool(np.all(y == first))
    if family.name in ("bernoulli", "binomial"):
        n = np.ones_like(y) if trials is None else trials
        if np.all(y == 0) or np.all(y == n):
            # a valid posterior (a data set a model can produce, which SBC must fit), but
            # one whose other side is the prior's: said, not refused
            what = "success" if np.all(y == 0) else "failure"
            warnings.warn(
                f"The {family.name} response {name!r} has no {what} in any of its "
                f"{y.size} rows: the data say only that the probability of success is "
                f"{'small' if what == 'success' else 'large'}; how "
                f"{'small' if what == 'success' else 'large'} comes from the priors. Check "
                f"the column and any filtering of rows.", OneSidedResponseWarning,
                stacklevel=_caller_level())
        return
    if family.discrete:
        if np.all(y == 0):
            raise DataError(
                f"The {family.name} response {name!r} is 0 in every one of its {y.size} "
                f"rows: the expected count has no finite estimate on the {family.link} "
                f"scale and the fit would show the prior alone. Check the column and any "
                f"filtering of rows.")
        return
    if constant:
        raise DataError(
            f"The response {name!r} is constant (every value is {first:g}): a {family.name} "
            f"model has nothing to fit, its scale would be 0. Check the column and any "
            f"filtering of rows.")
    if family.location_scale:
        _check_precision(y[:, None], [name], "response", {})


def _term_of_columns(common: Any) -> dict[str, str]:
    """Column label -> the formula term that made it."""
    out: dict[str, str] = {}
    for term_name, term in common.terms.items():
        for label in term.labels:
            out[label] = str(term_name)
    return out


def _dependent_columns(M: np.ndarray, tol: float = 1e-9) -> list[tuple[int, np.ndarray]]:
    """Columns of ``M`` that are linear combinations of the columns before them.

    Returns ``(j, coef)`` pairs: column ``j`` equals ``M[:, kept] @ coef`` where ``kept``
    are the independent columns before ``j``. Found from the diagonal of an unpivoted
    QR decomposition of the column-normalised matrix: ``|R[j, j]|`` is the distance of
    column ``j`` from the span of the previous columns.
    """
    n, k = M.shape
    if k == 0:
        return []
    norms = np.linalg.norm(M, axis=0)
    Q = M
    if n and M[0, 0] != 0 and np.all(M[:, 0] == M[0, 0]):
        # with an intercept first, centring the other columns keeps every prefix's span and
        # keeps a predictor far from its origin (a calendar year) from looking collinear
        Q = np.column_stack([M[:, :1], M[:, 1:] - M[:, 1:].mean(axis=0)])
    qnorms = np.linalg.norm(Q, axis=0)
    scaled = Q / np.where(qnorms > 0, qnorms, 1.0)
    r = np.linalg.qr(scaled, mode="r")
    diag = np.zeros(k)
    m = min(n, k)
    diag[:m] = np.abs(np.diag(r)[:m])
    diag[qnorms <= 1e-12 * np.maximum(norms, 1e-300)] = 0.0  # constant once centred
    out: list[tuple[int, np.ndarray]] = []
    kept: list[int] = []
    for j in range(k):
        if norms[j] > 0 and diag[j] > tol:
            kept.append(j)
            continue
        if norms[j] == 0 or not kept:
            out.append((j, np.zeros(0)))
            continue
        coef = np.linalg.lstsq(M[:, kept], M[:, j], rcond=None)[0]
        out.append((j, coef))
    return out


def _describe_dependency(j: int, coef: np.ndarray, kept: list[int], names: list[str]) -> str:
    if coef.size == 0:
        return f"{names[j]!r} is zero in every row"
    scale = max(float(np.max(np.abs(coef))), 1e-300)
    parts = [f"{c:.4g} * {names[i]}" for i, c in zip(kept, coef, strict=True)
             if abs(c) > 1e-8 * scale]
    if not parts:
        return f"{names[j]!r} is zero in every row"
    shown = " + ".join(parts[:6]) + (" + ..." if len(parts) > 6 else "")
    return f"{names[j]} = {shown.replace('+ -', '- ')}"


def _check_collinear(M: np.ndarray, names: list[str], source: dict[str, str], what: str,
                     where: str) -> None:
    """Refuse a rank-deficient design, naming the columns involved and what to remove."""
    deps = _dependent_columns(M)
    if not deps:
        return
    dependent = {j for j, _ in deps}
    n, k = M.shape
    lines = []
    involved: list[str] = []
    for j, coef in deps[:3]:
        kept = [i for i in range(j) if i not in dependent]
        lines.append(_describe_dependency(j, coef, kept, names))
        for i, c in zip(kept, coef, strict=False):
            if abs(c) > 1e-8 * max(float(np.max(np.abs(coef))), 1e-300):
                involved.append(names[i])
        involved.append(names[j])
    involved = list(dict.fromkeys(involved))
    terms = list(dict.fromkeys(source.get(c, c) for c in involved))
    to_remove = source.get(names[deps[0][0]], names[deps[0][0]])
    extra = ""
    if k > n:
        extra = f" There are more {what} columns ({k}) than rows ({n})."
    if any(coef.size == 0 for _, coef in deps[:3]):
        extra += (" A column of zeros comes from a predictor that is 0 in every row, or from "
                  "a combination of factor levels that no row has.")
    if len(terms) == 1:
        fix = f"Remove the term {to_remove!r} from the formula."
    else:
        fix = (f"Remove one of the terms {', '.join(map(repr, terms))} from the formula, "
               f"e.g. {to_remove!r}.")
    raise DataError(
        f"The {what} columns {where}are perfectly collinear (the design matrix has rank "
        f"{k - len(deps)} < {k} columns): {'; '.join(lines)}"
        f"{' ...' if len(deps) > 3 else ''}.{extra} Their coefficients cannot be told apart. "
        f"{fix}"
    )


def _level_label(value: Any) -> str:
    """Text of one level: integral floats without ``.0`` (1.0 -> "1"), like an int column.

    An integer grouping column with missing values is read as floats; its levels must
    keep the names they have as integers (and match integer codes in new data).
    """
    if isinstance(value, float | np.floating) and math.isfinite(value) and value == int(value):
        return str(int(value))
    return str(value)


def _group_labels(data: pd.DataFrame, group: tuple[str, ...]) -> list[str]:
    parts = [[_level_label(v) for v in data[g].tolist()] for g in group]
    return [":".join(vals) for vals in zip(*parts, strict=True)]


def _group_index(data: pd.DataFrame, group: tuple[str, ...]) -> tuple[np.ndarray, list[str]]:
    """Integer level of each row and the level labels, ordered like R's factor levels."""
    codes = []
    level_lists = []
    for name in group:
        col = data[name]
        if isinstance(col.dtype, pd.CategoricalDtype):
            cat = col.cat.remove_unused_categories()
            codes.append(cat.cat.codes.to_numpy())
            level_lists.append([_level_label(c) for c in cat.cat.categories])
        else:
            c, uniques = pd.factorize(col, sort=True)
            codes.append(c)
            level_lists.append([_level_label(u) for u in uniques])
    if len(group) == 1:
        index, levels = codes[0].astype(np.int64), level_lists[0]
        return index, levels
    dims = tuple(len(lv) for lv in level_lists)
    flat = np.ravel_multi_index(tuple(codes), dims)
    uniq, index = np.unique(flat, return_inverse=True)
    combos = np.unravel_index(uniq, dims)
    labels = [
        ":".join(level_lists[k][combos[k][i]] for k in range(len(group))) for i in range(len(uniq))
    ]
    return index.astype(np.int64), labels


def _offset(offsets: tuple[str, ...], data: pd.DataFrame) -> np.ndarray:
    total = np.zeros(len(data))
    for expr in offsets:
        dm = _design_matrices(f"0 + I({expr})", data)
        total = total + np.asarray(dm.common).astype(float)[:, 0]
    return total


def build_design(formula: str | Formula, data: Any, *, family: Family | str = "gaussian",
                 trials: Any = None, na_action: str = "drop",
                 check_response: bool = True) -> Design:
    """Turn a formula and a data frame into design matrices and group indices.

    Everything that can be checked without sampling is checked here, and each problem
    is an error that names the column or term at fault and says how to fix it.

    Parameters
    ----------
    formula : str or Formula
        An lme4-style formula. It is parsed (and only the allowed functions are ever
        evaluated) before the data are looked at.
    data : pandas.DataFrame, polars.DataFrame or dict of columns
        The data. It is never modified.
    family : Family or str, default "gaussian"
        The response family; the response is checked against it.
    trials : str or array-like, optional
        Binomial trials (column name or values), see :mod:`mixedfit.response`.
    na_action : {"drop", "error"}, default "drop"
        Rows with a missing value in a column the model uses (response, predictors,
        offsets, grouping factors, trials): ``"drop"`` them with a
        :class:`MissingDataWarning` that counts them, or raise a :class:`DataError`.
    check_response : bool, default True
        Refuse a response with nothing to fit (see below; a binary response without
        successes or without failures gets a :class:`OneSidedResponseWarning`); False
        when only its form
        matters (:func:`mixedfit.prior_predictive` simulates responses and takes a
        placeholder).

    Returns
    -------
    Design

    Raises
    ------
    FormulaError
        If the formula cannot be parsed, calls a function that is not allowed, has no
        response, or repeats a term.
    InputTypeError
        If ``data`` is not a table (pandas or polars DataFrame, or dict of columns).
    OptionError
        If ``na_action`` is not one of :data:`NA_ACTIONS`.
    DataError
        If a column is missing (the closest name is suggested) or duplicated, the data
        are empty, values are missing (with ``na_action="error"``) or infinite, the
        response does not suit the family or has nothing to fit (constant for a
        family with a scale, no counts), a response or
        predictor varies only in its last digits, a grouping factor has a single
        level, a random slope does not vary within the levels of its grouping factor,
        or the fixed-effects design is rank deficient (perfectly collinear columns).

    Examples
    --------
    >>> import mixedfit as mf
    >>> from mixedfit.design import build_design
    >>> d = build_design("strength ~ 1 + (1 | batch/cask)", mf.load_dataset("pastes"))
    >>> [(b.group, b.n_levels) for b in d.blocks]
    [('batch', 10), ('batch:cask', 30)]
    """
    if isinstance(formula, Formula):
        # re-parse the text, so that a hand-made Formula passes the same safety checks
        text = str(formula)
        parsed = parse(text)
    elif isinstance(formula, str):
        text = formula
        parsed = parse(formula)
    else:
        raise InputTypeError(f"a formula must be a string, not {type(formula).__name__}.")
    if parsed.response is None:
        raise FormulaError(
            "The formula has no response (nothing left of '~').",
            text,
            0,
            "Write the outcome on the left, e.g. 'y ~ x + (1 | g)'.",
        )
    if na_action not in NA_ACTIONS:
        raise OptionError(f"na_action must be one of {', '.join(map(repr, NA_ACTIONS))}, "
                          f"got {na_action!r}.")
    frame = _as_frame(data)
    if len(frame) == 0:
        raise DataError("The data are empty (0 rows): nothing to fit. Check the filtering or "
                        "reading that produced them; the model needs rows with its columns "
                        f"{', '.join(map(repr, sorted(parsed.variables)))}.")
    fam = get_family(family)
    needed = _check_columns(parsed, text, frame)
    for col in response_columns(trials):
        if col not in [str(c) for c in frame.columns]:
            raise DataError(f"The trials column {col!r} is not in the data.")
        if col not in needed:
            needed.append(col)
    work, labels, incomplete = _handle_missing(_select(frame, needed), frame.index, na_action)
    n_dropped = int(incomplete.sum())
    roles = _column_roles(parsed)
    for col in response_columns(trials):
        roles.setdefault(col, "binomial trials")
    _check_infinite(work, labels, roles)

    if trials is not None and not isinstance(trials, str):
        trials = np.asarray(trials)[~incomplete] if n_dropped else trials
    response = build_response(parsed, work, fam, trials)
    y = response.y
    if check_response:
        _check_response(y, response.trials, parsed.response, fam)

    fixed_dm = _design_matrices(parsed.fixed_formula, work)
    fixed_common = fixed_dm.common
    if fixed_common is None:
        X = np.zeros((len(work), 0))
        fixed_terms: dict[str, list[str]] = {}
        fixed_source: dict[str, str] = {}
    else:
        X = np.asarray(fixed_common).astype(float)
        fixed_terms = {name: list(term.labels) for name, term in fixed_common.terms.items()}
        fixed_source = _term_of_columns(fixed_common)
    fixed_columns = [c for cols in fixed_terms.values() for c in cols]
    _check_finite(X, fixed_columns, labels, "fixed-effects term", fixed_source)

    offset = None
    if parsed.offsets:
        offset = _offset(parsed.offsets, work)
        _check_finite(offset[:, None], [f"offset({' + '.join(parsed.offsets)})"], labels,
                      "offset", {})

    blocks: list[BlockDesign] = []
    seen_groups: dict[str, int] = {}
    for term in parsed.random:
        group = term.group_name
        k = seen_groups.get(group, 0)
        seen_groups[group] = k + 1
        label = group if k == 0 else f"{group}.{k}"
        common = _design_matrices(term.lhs, work).common
        if common is None:
            raise FormulaError(f"The random-effect term {term} has no columns.", text, None)
        Z = np.asarray(common).astype(float)
        columns = _column_labels(common)
        _check_finite(Z, columns, labels, "random-effect term", _term_of_columns(common),
                      f" of {term}")
        index, levels = _group_index(work, term.group)
        blocks.append(
            BlockDesign(
                term=term,
                label=label,
                group=group,
                columns=columns,
                Z=Z,
                index=index,
                levels=levels,
                correlated=term.correlated and len(columns) > 1,
                _common=common,
            )
        )
    _check_blocks(blocks, text)
    _check_precision(X, fixed_columns, "fixed-effects term", fixed_source)
    for block in blocks:
        _check_precision(block.Z, block.columns, "random-effect term",
                         _term_of_columns(block._common))
    _check_collinear(X, fixed_columns, fixed_source, "fixed-effects", "")
    _check_slopes(blocks)
    for block in blocks:
        _check_collinear(block.Z, block.columns, _term_of_columns(block._common),
                         "random-effect", f"of {block.term} ")
    return Design(
        formula=parsed,
        formula_text=text,
        y=y,
        response_name=parsed.response,
        trials=response.trials,
        success=response.success,
        X=X,
        fixed_columns=fixed_columns,
        fixed_terms=fixed_terms,
        offset=offset,
        blocks=blocks,
        data=work,
        n_dropped=n_dropped,
        _fixed_common=fixed_common,
    )


def _without(term: RandomTerm, drop: str) -> str:
    """How to fix a random term whose slope ``drop`` cannot be estimated."""
    def same(a: str) -> bool:  # formulae writes "I(x ** 2)" where the parser has "I(x**2)"
        return a.replace(" ", "") == drop.replace(" ", "")

    rest = tuple(t for t in term.terms if not same(t))
    if not rest and not term.intercept:
        return f"Leave out the term {term}"
    return f"Use {RandomTerm(rest, term.intercept, term.group, term.correlated)} instead"


def _check_slopes(blocks: list[BlockDesign]) -> None:
    """Refuse random slopes of predictors that are constant within every level of the group.

    Such a slope cannot be told apart from the group's random intercept: in each level
    ``a_j + b_j * x_j`` only the sum is identified.
    """
    intercept_groups = {b.group for b in blocks if "Intercept" in b.columns}
    for block in blocks:
        if block.group not in intercept_groups:
            continue
        source = _term_of_columns(block._common)
        counts = np.bincount(block.index, minlength=block.n_levels).astype(float)
        for j, col in enumerate(block.columns):
            if col == "Intercept":
                continue
            z = block.Z[:, j]
            means = np.bincount(block.index, weights=z, minlength=block.n_levels)
            means = means / np.maximum(counts, 1.0)
            spread = float(np.max(np.abs(z - means[block.index])))
            if spread > 1e-10 * max(float(np.max(np.abs(z))), 1.0):
                continue
            term = source.get(col, col)
            what = f"{term!r}" if term == col else f"{term!r} (column {col!r})"
            raise DataError(
                f"The random slope of {what} by {block.group!r} in {block.term} cannot be "
                f"estimated: {term!r} does not vary within any level of {block.group!r} (it "
                f"is constant within each level), so its group-level slope cannot be told "
                f"apart from the group-level intercept. {_without(block.term, term)}; "
                f"{term!r} can stay as a fixed effect (a group-level predictor)."
            )


def _check_blocks(blocks: list[BlockDesign], text: str) -> None:
    by_group: dict[str, set[str]] = {}
    for block in blocks:
        seen = by_group.setdefault(block.group, set())
        for col in block.columns:
            if col in seen:
                raise FormulaError(
                    f"The term {col!r} varies by {block.group!r} in more than one random-effect "
                    f"term; each group-level coefficient can appear only once.",
                    text,
                    text.find(str(block.term.group[0])),
                    "Put the terms that vary by the same factor in one term, e.g. (1 + x | g).",
                )
            seen.add(col)
        if block.n_levels < 2:
            raise DataError(
                f"The grouping factor {block.group!r} has only {block.n_levels} level; a "
                f"random effect needs at least two levels. Remove the term {block.term}."
            )

