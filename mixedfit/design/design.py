"""The design: what the model layers need, derived from a formula and a data frame.

Group effects are represented by an integer index per observation (``index[i]`` is
the level of row ``i``) and a small dense matrix ``Z`` of the block's own columns
(n x terms), never by a dense n x levels indicator matrix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mixedfit.design.evaluate import column_labels, evaluate_offset, new_data_columns
from mixedfit.design.groups import group_labels
from mixedfit.formula import Formula, RandomTerm

__all__ = ["Design", "BlockDesign"]


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
        return new_data_columns(self._common, data, f"the random-effect term {self.term}")

    def index_for(self, data: pd.DataFrame) -> np.ndarray:
        """Level index of each row of new data; -1 where the level was not seen in fitting."""
        labels = group_labels(data, self.term.group)
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
    weights : numpy.ndarray or None
        Observation weights per row (lme4's ``weights``; see
        :attr:`mixedfit.families.Family.precision_weights`).
    se : numpy.ndarray or None
        Each row's known standard error (``se=``; brms' ``y | se(sei)``).
    success : str or None
        The level counted as success for a factor Bernoulli response.
    categories : list of str or None
        An ordered categorical response's categories, lowest first (``y`` holds their
        codes 0, 1, ...).
    intercept_absorbed : bool
        The family's thresholds take the intercept's place
        (:attr:`mixedfit.families.Family.intercepts`): the formula's intercept column
        is left out of ``X``.
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
    weights: np.ndarray | None = None
    se: np.ndarray | None = None
    success: str | None = None
    categories: list[str] | None = None
    intercept_absorbed: bool = False
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

    def likelihood_weights(self) -> np.ndarray | None:
        """The weights the family's likelihood takes: the observation weights, or for
        known standard errors their precisions ``1 / se^2`` (None when neither)."""
        if self.se is not None:
            return 1.0 / np.asarray(self.se, dtype=float) ** 2
        return self.weights

    @property
    def has_intercept(self) -> bool:
        """Whether the fixed part has an intercept column."""
        return "Intercept" in self.fixed_columns

    def x_for(self, data: pd.DataFrame) -> np.ndarray:
        """The fixed-effects design evaluated on new data."""
        if not self.fixed_columns:
            return np.zeros((len(data), 0))
        X = new_data_columns(self._fixed_common, data, "the fixed effects")
        if self.intercept_absorbed:  # the family's thresholds are the intercept
            X = np.delete(X, column_labels(self._fixed_common).index("Intercept"), axis=1)
        return X

    def offset_for(self, data: pd.DataFrame) -> np.ndarray | None:
        """The offset evaluated on new data (None when the model has none)."""
        if not self.formula.offsets:
            return None
        return evaluate_offset(self.formula.offsets, data)
