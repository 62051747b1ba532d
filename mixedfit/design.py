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

from mixedfit.errors import DataError, FormulaError, InputTypeError, MixedFitWarning
from mixedfit.families import Family, get_family
from mixedfit.formula import Formula, RandomTerm, parse
from mixedfit.response import build_response, response_columns

__all__ = ["Design", "BlockDesign", "build_design", "MissingDataWarning", "formula_namespace"]


class MissingDataWarning(MixedFitWarning):
    """Rows with missing values in the model's columns were dropped."""


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
    import formulae

    return formulae.design_matrices(text, data, na_action="pass", env=formula_namespace())


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
        return np.asarray(self._common.evaluate_new_data(data)).astype(float)

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
        return np.asarray(self._fixed_common.evaluate_new_data(data)).astype(float)

    def offset_for(self, data: pd.DataFrame) -> np.ndarray | None:
        """The offset evaluated on new data (None when the model has none)."""
        if not self.formula.offsets:
            return None
        return _offset(self.formula.offsets, data)


def _as_frame(data: Any) -> pd.DataFrame:
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, Mapping):
        try:
            return pd.DataFrame(dict(data))
        except ValueError as err:
            raise DataError(f"Could not turn the dict of columns into a table: {err}") from err
    to_pandas = getattr(data, "to_pandas", None)
    if callable(to_pandas) and type(data).__module__.startswith("polars"):
        return to_pandas()
    raise InputTypeError(
        f"data must be a pandas DataFrame, a polars DataFrame or a dict of columns, "
        f"not {type(data).__name__}."
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
    return needed


def _group_labels(data: pd.DataFrame, group: tuple[str, ...]) -> list[str]:
    parts = [data[g].astype(str).tolist() for g in group]
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
            level_lists.append([str(c) for c in cat.cat.categories])
        else:
            c, uniques = pd.factorize(col, sort=True)
            codes.append(c)
            level_lists.append([str(u) for u in uniques])
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
                 trials: Any = None) -> Design:
    """Turn a formula and a data frame into design matrices and group indices.

    Parameters
    ----------
    formula : str or Formula
        An lme4-style formula.
    data : pandas.DataFrame, polars.DataFrame or dict of columns
        The data. It is never modified.
    family : Family or str, default "gaussian"
        The response family; the response is checked against it.
    trials : str or array-like, optional
        Binomial trials (column name or values), see :mod:`mixedfit.response`.

    Returns
    -------
    Design

    Raises
    ------
    FormulaError
        If the formula cannot be parsed or has no response.
    DataError
        If a column is missing, the data are empty, or values are unusable.

    Examples
    --------
    >>> import mixedfit as mf
    >>> from mixedfit.design import build_design
    >>> d = build_design("strength ~ 1 + (1 | batch/cask)", mf.load_dataset("pastes"))
    >>> [(b.group, b.n_levels) for b in d.blocks]
    [('batch', 10), ('batch:cask', 30)]
    """
    text = formula if isinstance(formula, str) else str(formula)
    parsed = parse(formula) if isinstance(formula, str) else formula
    if parsed.response is None:
        raise FormulaError(
            "The formula has no response (nothing left of '~').",
            text,
            0,
            "Write the outcome on the left, e.g. 'y ~ x + (1 | g)'.",
        )
    frame = _as_frame(data)
    if len(frame) == 0:
        raise DataError("The data are empty (0 rows).")
    fam = get_family(family)
    needed = _check_columns(parsed, text, frame)
    for col in response_columns(trials):
        if col not in frame.columns:
            raise DataError(f"The trials column {col!r} is not in the data.")
        if col not in needed:
            needed.append(col)
    work = frame.loc[:, needed].copy()
    incomplete = work.isna().any(axis=1).to_numpy()
    n_dropped = int(incomplete.sum())
    if n_dropped:
        bad = [c for c in needed if work[c].isna().any()]
        warnings.warn(
            f"Dropped {n_dropped} of {len(work)} rows with missing values "
            f"(in column{'s' if len(bad) > 1 else ''} {', '.join(map(repr, bad))}).",
            MissingDataWarning,
            stacklevel=3,
        )
        work = work.loc[~incomplete].reset_index(drop=True)
        if len(work) == 0:
            raise DataError("No complete rows are left after dropping missing values.")
    else:
        work = work.reset_index(drop=True)

    if trials is not None and not isinstance(trials, str):
        trials = np.asarray(trials)[~incomplete] if n_dropped else trials
    response = build_response(parsed, work, fam, trials)
    y = response.y

    fixed_dm = _design_matrices(parsed.fixed_formula, work)
    fixed_common = fixed_dm.common
    if fixed_common is None:
        X = np.zeros((len(work), 0))
        fixed_terms: dict[str, list[str]] = {}
    else:
        X = np.asarray(fixed_common).astype(float)
        fixed_terms = {name: list(term.labels) for name, term in fixed_common.terms.items()}
    fixed_columns = [c for cols in fixed_terms.values() for c in cols]
    if not np.all(np.isfinite(X)):
        raise DataError("The fixed-effects design has infinite or missing values.")

    offset = _offset(parsed.offsets, work) if parsed.offsets else None

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


def data_scale(values: np.ndarray) -> float:
    """Standard deviation used to scale default priors (1 when a column is constant)."""
    sd = float(np.std(values))
    return sd if sd > 0 and math.isfinite(sd) else 1.0
