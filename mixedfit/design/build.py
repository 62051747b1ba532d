"""Building a design: formula and data to matrices and group indices, everything checked."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import numpy as np

from mixedfit.design.checks import (
    check_blocks,
    check_collinear,
    check_finite,
    check_fittable_response,
    check_precision,
    check_slopes,
)
from mixedfit.design.design import BlockDesign, Design
from mixedfit.design.evaluate import (
    column_labels,
    design_matrices,
    evaluate_offset,
    term_of_columns,
)
from mixedfit.design.frame import (
    NA_ACTIONS,
    as_frame,
    check_columns,
    check_infinite,
    column_roles,
    handle_missing,
    select_columns,
)
from mixedfit.design.groups import group_index
from mixedfit.design.labels import UserLabels
from mixedfit.design.response import build_response, response_columns
from mixedfit.errors import DataError, FormulaError, InputTypeError, OptionError
from mixedfit.families import Family, get_family
from mixedfit.formula import Formula, parse

__all__ = ["build_design", "SharedPredictors"]


def build_design(formula: str | Formula, data: Any, *, family: Family | str = "gaussian",
                 trials: Any = None, weights: Any = None, se: Any = None,
                 na_action: str = "drop", check_response: bool = True,
                 dpars: dict[str, str] | None = None) -> Design:
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
    weights : str or array-like, optional
        Observation weights (column name or values, positive), as lme4's ``weights``:
        precision weights for the Gaussian family, prior weights (each row's
        log-likelihood times its weight) for the others; see
        :attr:`mixedfit.families.Family.precision_weights`.
    se : str or array-like, optional
        Each row's known standard error (column name or values, positive), as brms'
        ``y | se(sei)``: the response's sd is known, no residual sd is estimated.
    na_action : {"drop", "error"}, default "drop"
        Rows with a missing value in a column the model uses (response, predictors,
        offsets, grouping factors, trials): ``"drop"`` them with a
        :class:`MissingDataWarning` that counts them, or raise a :class:`DataError`.
    dpars : dict, optional
        Family parameter -> a one-sided formula with fixed and group terms
        (``{"sigma": "~ x + (1 | g)"}``): the parameter gets its own linear predictor
        (on its log scale, or logit for a probability); see :class:`Design`.
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
    frame = as_frame(data)
    if len(frame) == 0:
        raise DataError("The data are empty (0 rows): nothing to fit. Check the filtering or "
                        "reading that produced them; the model needs rows with its columns "
                        f"{', '.join(map(repr, sorted(parsed.variables)))}.")
    fam = get_family(family)
    needed = check_columns(parsed, text, frame)
    dpar_parsed = _dpar_formulas(dpars, fam, se)
    for dtext, dparsed in dpar_parsed.values():
        for col in check_columns(dparsed, dtext, frame):
            if col not in needed:
                needed.append(col)
    for col in response_columns(trials):
        if col not in [str(c) for c in frame.columns]:
            raise DataError(f"The trials column {col!r} is not in the data.")
        if col not in needed:
            needed.append(col)
    for what, value in (("weights", weights), ("se", se)):
        if isinstance(value, str):
            if value not in [str(c) for c in frame.columns]:
                raise DataError(f"The {_ROW_VALUES[what]} column {value!r} is not in the "
                                f"data.")
            if value not in needed:
                needed.append(value)
    work, labels, incomplete = handle_missing(select_columns(frame, needed), frame.index, na_action)
    n_dropped = int(incomplete.sum())
    roles = column_roles(parsed)
    for col in response_columns(trials):
        roles.setdefault(col, "binomial trials")
    for what, value in (("weights", weights), ("se", se)):
        if isinstance(value, str):
            roles.setdefault(value, _ROW_VALUES[what])
    check_infinite(work, labels, roles)

    if trials is not None and not isinstance(trials, str):
        trials = np.asarray(trials)[~incomplete] if n_dropped else trials
    row_weights = _row_values("weights", weights, work, len(frame), incomplete)
    row_se = _row_values("se", se, work, len(frame), incomplete)
    response = build_response(parsed, work, fam, trials)
    fam = fam.for_levels(response.categories)
    if fam.predictors_only:  # a categorical response: the formula is each category's
        if dpar_parsed:
            raise OptionError(f"The {fam.name} family's parameters ({', '.join(fam.parameters)}) "
                              f"all take the model's formula; {', '.join(dpar_parsed)}= "
                              f"cannot be given.")
        if parsed.offsets:
            raise FormulaError(f"A {fam.name} model has no single mean for an offset to act "
                               f"on; remove offset(...).", text, None, None)
        rhs = text.split("~", 1)[1].strip()
        dpar_parsed = _dpar_formulas({par: rhs for par in fam.parameters}, fam, se)
    y = response.y
    if check_response:
        check_fittable_response(y, response.trials, parsed.response, fam)

    pred = _shared(frame, parsed, text, work, labels, fam, dpar_parsed)
    return Design(
        formula=parsed,
        formula_text=text,
        y=y,
        response_name=parsed.response,
        trials=response.trials,
        weights=row_weights,
        se=row_se,
        success=response.success,
        categories=response.categories,
        intercept_absorbed=pred.absorbed,
        fixed_targets=pred.targets,
        dpar_formulas={par: dtext for par, (dtext, _) in dpar_parsed.items()},
        _dpar_commons=pred.dpar_commons,
        X=pred.X,
        fixed_columns=pred.fixed_columns,
        fixed_terms=pred.fixed_terms,
        offset=pred.offset,
        blocks=pred.blocks,
        data=work,
        n_dropped=n_dropped,
        _fixed_common=pred.fixed_common,
    )


@dataclass(frozen=True)
class _Predictors:
    """The part of a design that its response does not change: the fixed effects'
    matrix and names, the offset, the blocks of group effects (all checked)."""

    X: np.ndarray
    fixed_columns: list[str]
    fixed_terms: dict[str, list[str]]
    offset: np.ndarray | None
    blocks: list[BlockDesign]
    absorbed: bool
    targets: list[str]
    dpar_commons: dict[str, Any]
    fixed_common: Any


def _predictors(parsed: Formula, text: str, work: Any, labels: Any, fam: Family,
                dpar_parsed: dict[str, tuple[str, Formula]]) -> _Predictors:
    """Evaluate and check the predictors of a formula on the rows kept."""
    user = UserLabels(text)  # columns named as the formula was written
    fixed_dm = design_matrices("0" if fam.predictors_only else parsed.fixed_formula, work)
    fixed_common = fixed_dm.common
    if fixed_common is None:
        X = np.zeros((len(work), 0))
        fixed_terms: dict[str, list[str]] = {}
        fixed_source: dict[str, str] = {}
    else:
        X = np.asarray(fixed_common).astype(float)
        fixed_terms = {user(name): [user(c) for c in term.labels]
                       for name, term in fixed_common.terms.items()}
        fixed_source = term_of_columns(fixed_common, user)
    fixed_columns = [c for cols in fixed_terms.values() for c in cols]
    check_finite(X, fixed_columns, labels, "fixed-effects term", fixed_source)

    offset = None
    if parsed.offsets:
        offset = evaluate_offset(parsed.offsets, work)
        check_finite(offset[:, None], [f"offset({' + '.join(parsed.offsets)})"], labels,
                      "offset", {})

    blocks = [] if fam.predictors_only else _blocks(parsed, text, work, labels, "")
    check_blocks(blocks, text)
    check_precision(X, fixed_columns, "fixed-effects term", fixed_source)
    for block in blocks:
        check_precision(block.Z, block.columns, "random-effect term", block.sources)
    check_collinear(X, fixed_columns, fixed_source, "fixed-effects", "")
    absorbed = bool(fam.intercepts)
    if absorbed:  # the family's thresholds take the intercept's place
        if "Intercept" not in fixed_columns:
            raise FormulaError(
                f"A {fam.name} model's thresholds ({', '.join(fam.intercepts[:2])}, ...) "
                f"act as its intercept, which the formula removes ('0 +' or '- 1'): without "
                f"it a factor's columns would duplicate the thresholds.", text, None,
                f"Keep the intercept: write {parsed.response} ~ ... without '0 +' or '- 1'.")
        j = fixed_columns.index("Intercept")
        X = np.delete(X, j, axis=1)
        fixed_columns = fixed_columns[:j] + fixed_columns[j + 1:]
        fixed_terms = {t: c for t, c in fixed_terms.items() if c != ["Intercept"]}
    targets: list[str] = [""] * len(fixed_columns) if dpar_parsed else []
    dpar_commons: dict[str, Any] = {}
    for par, (dtext, dparsed) in dpar_parsed.items():
        common = design_matrices(dparsed.fixed_formula, work).common
        if common is None:
            raise FormulaError(f"The formula of {par}, {dtext!r}, has no columns; write "
                               f"'~ 1' for a parameter that varies by group only.", dtext,
                               None, None)
        Xd = np.asarray(common).astype(float)
        duser = UserLabels(dtext)
        cols = [f"{par}_{c}" for c in column_labels(common, duser)]
        source = {f"{par}_{c}": t for c, t in term_of_columns(common, duser).items()}
        check_finite(Xd, cols, labels, f"term of {par}", source)
        check_precision(Xd, cols, f"term of {par}", source)
        check_collinear(Xd, cols, source, f"{par}", "")
        X = np.hstack([X, Xd])
        fixed_columns = fixed_columns + cols
        for name, term in common.terms.items():
            fixed_terms[f"{par}_{duser(name)}"] = [f"{par}_{duser(c)}" for c in term.labels]
        targets += [par] * len(cols)
        dpar_commons[par] = common
        dblocks = _blocks(dparsed, dtext, work, labels, par)
        check_blocks(dblocks, dtext)
        blocks = blocks + dblocks
    check_slopes(blocks)
    for block in blocks:
        check_collinear(block.Z, block.columns, block.sources, "random-effect",
                        f"of {block.term} ")
    return _Predictors(X=X, fixed_columns=fixed_columns, fixed_terms=fixed_terms,
                       offset=offset, blocks=blocks, absorbed=absorbed, targets=targets,
                       dpar_commons=dpar_commons, fixed_common=fixed_common)


class SharedPredictors:
    """The predictors of designs that differ only in their response, built once.

    :func:`mixedfit.fit_many` with ``responses=`` fits one right-hand side to many
    response columns of the same data: inside :meth:`active`, :func:`build_design`
    evaluates and checks the predictors (``X``, the offset, the blocks' ``Z`` and group
    indices) once per right-hand side, family, data frame (the object itself) and set of
    rows kept, and every later design reuses them (their arrays are made read-only); a
    response whose missing values drop other rows gets its own, and so does another
    data frame, even an equal one. Outside :meth:`active` nothing is shared.

    Examples
    --------
    >>> import mixedfit as mf
    >>> df = mf.load_dataset("sleepstudy")
    >>> df["Slow"] = df["Reaction"] * 1.5
    >>> shared = SharedPredictors()
    >>> with shared.active():
    ...     a = build_design("Reaction ~ Days + (Days | Subject)", df)
    ...     b = build_design("Slow ~ Days + (Days | Subject)", df)
    >>> a.X is b.X, a.blocks[0].Z is b.blocks[0].Z, len(shared)
    (True, True, 1)
    >>> with shared.active():
    ...     c = build_design("Slow ~ Days + (Days | Subject)", df.copy())
    >>> c.X is a.X
    False
    """

    def __init__(self) -> None:
        self._store: dict[tuple[Any, ...], tuple[Any, Any, _Predictors]] = {}

    def __len__(self) -> int:
        return len(self._store)

    @contextmanager
    def active(self) -> Iterator[None]:
        """Share the predictors of the designs built inside the ``with`` block."""
        token = _SHARED.set(self)
        try:
            yield
        finally:
            _SHARED.reset(token)

    def get(self, key: tuple[Any, ...], source: Any, labels: Any,
            build: Callable[[], _Predictors]) -> _Predictors:
        """The predictors stored under ``key`` for the same data frame ``source`` (the
        object itself) and the same rows of it ``labels``, else ``build()`` (stored,
        read-only)."""
        hit = self._store.get(key)
        if hit is not None and hit[0] is source and hit[1].equals(labels):
            return hit[2]
        pred = build()
        for array in [pred.X, pred.offset, *[a for b in pred.blocks for a in (b.Z, b.index)]]:
            if array is not None:
                array.flags.writeable = False
        self._store[key] = (source, labels, pred)
        return pred


#: the :class:`SharedPredictors` in use (None: build every design's own)
_SHARED: ContextVar[SharedPredictors | None] = ContextVar("mixedfit_shared_predictors",
                                                          default=None)


def _shared(frame: Any, parsed: Formula, text: str, work: Any, labels: Any, fam: Family,
            dpar_parsed: dict[str, tuple[str, Formula]]) -> _Predictors:
    """:func:`_predictors`, from the :class:`SharedPredictors` in use when there is one:
    keyed by all that they depend on but the data (compared apart: the same frame, the
    same rows kept): the right-hand side as written, the family's own parameters, the
    family parameters' formulas."""
    shared = _SHARED.get()
    if shared is None:
        return _predictors(parsed, text, work, labels, fam, dpar_parsed)
    rhs = text.split("~", 1)[1].strip()
    key = (rhs, fam.name, fam.link, fam.predictors_only, tuple(fam.parameters),
           tuple(sorted((par, dtext) for par, (dtext, _) in dpar_parsed.items())))
    return shared.get(key, frame, labels,
                      lambda: _predictors(parsed, text, work, labels, fam, dpar_parsed))


def _blocks(parsed: Formula, text: str, work: Any, labels: Any, target: str
            ) -> list[BlockDesign]:
    """The blocks of group effects of a formula's random terms; a family parameter's
    (``target``) have their columns and labels prefixed with its name."""
    prefix = f"{target}_" if target else ""
    blocks: list[BlockDesign] = []
    seen_groups: dict[str, int] = {}
    for term in parsed.random:
        group = term.group_name
        k = seen_groups.get(group, 0)
        seen_groups[group] = k + 1
        label = prefix + (group if k == 0 else f"{group}.{k}")
        common = design_matrices(term.lhs, work).common
        if common is None:
            raise FormulaError(f"The random-effect term {term} has no columns.", text, None)
        Z = np.asarray(common).astype(float)
        user = UserLabels(text)
        columns = [prefix + c for c in column_labels(common, user)]
        sources = {prefix + c: t for c, t in term_of_columns(common, user).items()}
        check_finite(Z, columns, labels, "random-effect term", sources, f" of {term}")
        index, levels = group_index(work, term.group)
        blocks.append(BlockDesign(term=term, label=label, group=group, columns=columns, Z=Z,
                                  index=index, levels=levels,
                                  correlated=term.correlated and len(columns) > 1,
                                  target=target, sources=sources, _common=common))
    return blocks


def _dpar_formulas(dpars: dict[str, str] | None, fam: Family, se: Any
                   ) -> dict[str, tuple[str, Formula]]:
    """The family parameters' formulas, parsed and checked against the family."""
    out: dict[str, tuple[str, Formula]] = {}
    for par, dtext in (dpars or {}).items():
        if dtext is None:
            continue
        if se is not None and par == "sigma":
            raise OptionError("se= fixes each row's sd; it cannot be combined with a formula "
                              "for sigma.")
        if par not in fam.distribution_parameters or par in fam.intercepts:
            own = ", ".join(fam.distribution_parameters) or "none"
            raise OptionError(f"{par}= gives a formula to the family parameter {par!r}; the "
                              f"{fam.name} family's parameters are: {own}.")
        if not isinstance(dtext, str):
            raise OptionError(f"{par}= takes a one-sided formula as text, e.g. "
                              f"{par}=\"~ x + (1 | g)\"; got {type(dtext).__name__}.")
        body = dtext.strip()
        if not body.startswith("~"):
            body = "~ " + body
        dparsed = parse(body)
        if dparsed.offsets:
            raise FormulaError(f"The formula of {par} has an offset; offsets act on the mean "
                               f"only.", body, None, None)
        out[par] = (body, dparsed)
    return out


#: what each per-row option is, in messages
_ROW_VALUES = {"weights": "observation weights", "se": "standard errors"}


def _row_values(what: str, value: Any, work: Any, n_rows: int, incomplete: np.ndarray
                ) -> np.ndarray | None:
    """A per-row option (``weights=``, ``se=``) for the rows kept, checked: finite and
    positive."""
    if value is None:
        return None
    if isinstance(value, str):
        name = value
        column = work[value]
        if column.dtype.kind not in "iuf":
            raise DataError(f"The {_ROW_VALUES[what]} column {name!r} must be numbers, got "
                            f"{column.dtype}.")
        w = np.asarray(column, dtype=float)
    else:
        name = what
        try:
            w = np.asarray(value, dtype=float).reshape(-1)
        except (TypeError, ValueError) as err:
            raise DataError(f"{what}= must be a column name or numbers, one per row: "
                            f"{err}") from err
        if w.size != n_rows:
            raise DataError(f"{what}= has {w.size} values for {n_rows} rows of data.")
        w = w[~incomplete]
        if np.isnan(w).any():
            raise DataError(f"{what}= has {int(np.isnan(w).sum())} missing values; give "
                            f"every row a value or drop the rows.")
    if not np.all(np.isfinite(w)) or np.any(w <= 0):
        bad = w[~(np.isfinite(w) & (w > 0))]
        hint = (" A row with weight 0 carries no information: drop it from the data "
                "instead." if what == "weights" else
                " A standard error of 0 would be an exact observation: check the column.")
        raise DataError(f"The {_ROW_VALUES[what]} {name!r} must be positive and finite (e.g. "
                        f"{bad[0]:g} in {bad.size} rows).{hint}")
    return w
