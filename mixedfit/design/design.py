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
    target : str
        The linear predictor the block adds to: ``""`` the mean's, else a family
        parameter's with its own formula (``"sigma"``...; its columns are then named
        ``sigma_Intercept``...).
    sources : dict
        Each column -> the formula term that made it.
    """

    term: RandomTerm
    label: str
    group: str
    columns: list[str]
    Z: np.ndarray
    index: np.ndarray
    levels: list[str]
    correlated: bool
    target: str = ""
    sources: dict[str, str] = field(default_factory=dict)
    _common: Any = field(default=None, repr=False)
    _group_levels: list[list[Any]] = field(default_factory=list, repr=False)
    #: each level's number of observations, for an out-of-core design (whose ``index``
    #: is empty): from its sufficient statistics; None for a design with rows
    _counts: np.ndarray | None = field(default=None, repr=False)

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
        """Number of observations in each level (from the sufficient statistics for an
        out-of-core design, which keeps no rows)."""
        if self._counts is not None and not len(self.index):
            return np.asarray(self._counts)
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
    fixed_targets : list of str
        The linear predictor of each column of ``X``: ``""`` the mean's, else a family
        parameter's with its own formula (:attr:`dpar_formulas`); empty when every
        column is the mean's.
    dpar_formulas : dict
        Family parameter -> its one-sided formula (``{"sigma": "~ x + (1 | g)"}``): the
        parameter varies by row, ``log sigma = X_sigma b + Z_sigma u`` (brms'
        distributional parameters, glmmTMB's ``dispformula``).
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
    fixed_targets: list[str] = field(default_factory=list)
    dpar_formulas: dict[str, str] = field(default_factory=dict)
    _fixed_common: Any = field(default=None, repr=False)
    _dpar_commons: dict[str, Any] = field(default_factory=dict, repr=False)
    #: the sufficient statistics of an out-of-core design (a Dask DataFrame or a Parquet
    #: dataset, :mod:`mixedfit.design.stats`), whose row arrays (``y``, ``X``, each
    #: block's ``Z`` and ``index``, ``data``) are empty; None for a design with rows
    stats: Any = field(default=None, repr=False)

    @property
    def n_obs(self) -> int:
        """Number of observations used."""
        if self.stats is not None:
            return int(self.stats.n)
        return int(self.y.shape[0])

    @property
    def has_rows(self) -> bool:
        """Whether the design keeps its rows (False for an out-of-core design, made from
        sufficient statistics)."""
        return self.stats is None

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

    def target_of_columns(self) -> np.ndarray:
        """The linear predictor of each fixed column (``""``: the mean's), as an array."""
        return (np.array(self.fixed_targets, dtype=object) if self.fixed_targets
                else np.array([""] * len(self.fixed_columns), dtype=object))

    def columns_of(self, target: str = "") -> np.ndarray:
        """Positions of the fixed columns of one linear predictor (``""``: the mean's)."""
        return np.flatnonzero(self.target_of_columns() == target)

    def blocks_of(self, target: str = "") -> list[BlockDesign]:
        """The blocks of one linear predictor (``""``: the mean's)."""
        return [b for b in self.blocks if b.target == target]

    @property
    def dpars(self) -> tuple[str, ...]:
        """The family parameters with their own formula."""
        return tuple(self.dpar_formulas)

    def x_for(self, data: pd.DataFrame, target: str = "") -> np.ndarray:
        """The fixed-effects design of one linear predictor (``""``: the mean's)
        evaluated on new data."""
        if target:
            return new_data_columns(self._dpar_commons[target], data,
                                    f"the formula of {target}")
        if not len(self.columns_of("")):
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
