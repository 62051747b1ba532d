"""The response: evaluated from the formula's left side and checked against the family.

Binomial responses come in lme4's form ``cbind(successes, failures)``, or as a
proportion or a count of successes with ``trials=`` (a column name or an
array; ``weights=`` is accepted as lme4's name for the same thing). A Bernoulli
response is 0/1, boolean, or a two-level factor whose *second* level (in
category order, or sorted order for strings) is the success, as in R's ``glm``.

Every check runs before any sampling and names the column at fault.

Examples
--------
>>> import pandas as pd
>>> from mixedfit.formula import parse
>>> from mixedfit.families import get_family
>>> df = pd.DataFrame({"s": [1, 2], "f": [3, 0]})
>>> r = build_response(parse("cbind(s, f) ~ 1"), df, get_family("binomial"))
>>> r.y.tolist(), r.trials.tolist()
([1.0, 2.0], [4.0, 2.0])
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mixedfit.design.evaluate import design_matrices
from mixedfit.errors import DataError, FamilyError, MixedFitWarning
from mixedfit.families import Family
from mixedfit.families.family import integers
from mixedfit.formula import Formula
from mixedfit.formula.parser import Call, Name, canonical, parse_expression

__all__ = ["Response", "build_response", "response_columns", "cbind_parts", "evaluate_response"]


@dataclass
class Response:
    """The evaluated response.

    Attributes
    ----------
    y : numpy.ndarray
        Response values (successes for binomial, 0/1 for Bernoulli).
    trials : numpy.ndarray or None
        Number of trials (binomial only).
    name : str
        The response's text in the formula.
    success : str or None
        The level counted as success for a factor Bernoulli response.
    categories : list of str or None
        An ordered categorical response's categories, lowest first (``y`` holds their
        codes 0, 1, ...).
    """

    y: np.ndarray
    trials: np.ndarray | None
    name: str
    success: str | None = None
    categories: list[str] | None = None


def cbind_parts(formula: Formula) -> tuple[str, str] | None:
    node = parse_expression(formula.response or "")
    if isinstance(node, Call) and node.func == "cbind":
        if len(node.args) != 2 or node.kwargs:
            raise DataError(
                f"cbind() takes exactly two columns, successes and failures: "
                f"cbind(successes, failures); got {formula.response!r}.")
        return canonical(node.args[0]), canonical(node.args[1])
    return None


def response_columns(trials: Any) -> list[str]:
    """Extra data columns the response needs (the trials column, if named)."""
    return [trials] if isinstance(trials, str) else []


def evaluate_response(expr: str, data: pd.DataFrame) -> pd.Series | np.ndarray:
    """A plain column as it is; any other expression through formulae."""
    node = parse_expression(expr)
    if isinstance(node, Name):
        return data[node.name]
    dm = design_matrices(f"I({expr}) ~ 1", data)
    values = np.asarray(dm.response)
    return values[:, 0] if values.ndim == 2 else values


def _numeric(values: Any, what: str, family: Family) -> np.ndarray:
    """The values as floats, or a :class:`DataError` that names the column and the fix."""
    if isinstance(values, pd.Series):
        if pd.api.types.is_bool_dtype(values.dtype):
            return values.to_numpy(dtype=float)
        if not pd.api.types.is_numeric_dtype(values.dtype):
            raise DataError(_not_numeric(what, values, family))
        return values.to_numpy(dtype=float, na_value=np.nan)
    arr = np.asarray(values)
    if arr.dtype.kind not in "biuf":
        raise DataError(_not_numeric(what, pd.Series(arr.ravel()), family))
    return arr.astype(float)


def _not_numeric(what: str, values: pd.Series, family: Family) -> str:
    sample = ", ".join(repr(v) for v in pd.unique(values.dropna())[:3])
    message = (f"The response {what!r} is not numeric (dtype {values.dtype}; values such as "
               f"{sample}).")
    converted = pd.to_numeric(values, errors="coerce")
    if values.notna().any() and converted.notna().sum() == values.notna().sum():
        return (message + f" Its values are numbers stored as text or Python objects: "
                f"convert the column "
                f"first, e.g. data[{what!r}] = pd.to_numeric(data[{what!r}]).")
    if not family.binary and values.nunique() == 2:
        return message + " For a two-level outcome use family='bernoulli'."
    return (message + " The response must be numbers: recode it, use family='cumulative' "
            "for ordered categories (ratings, Likert items), or a 0/1 outcome with "
            "family='bernoulli'. Unordered outcomes with more than two categories are not "
            "supported yet.")


def _bernoulli(values: Any, what: str) -> tuple[np.ndarray, str | None]:
    series = pd.Series(values)
    if series.dtype == bool:
        return series.to_numpy(dtype=float), None
    if isinstance(series.dtype, pd.CategoricalDtype):
        levels = [c for c in series.cat.categories if (series == c).any()]
    elif pd.api.types.is_numeric_dtype(series):
        uniq = np.unique(series.to_numpy(dtype=float))
        if not set(uniq.tolist()) <= {0.0, 1.0}:
            raise DataError(
                f"The bernoulli response {what!r} must be 0/1, boolean or a two-level factor; "
                f"it has values {', '.join(f'{v:g}' for v in uniq[:5])}"
                f"{' ...' if len(uniq) > 5 else ''}. For counts out of n trials use "
                f"family='binomial' with cbind(successes, failures).")
        return series.to_numpy(dtype=float), None
    else:
        levels = sorted(series.astype(str).unique().tolist())
        series = series.astype(str)
    if len(levels) > 2:
        raise DataError(
            f"The bernoulli response {what!r} has {len(levels)} levels "
            f"({', '.join(map(str, levels[:5]))}{' ...' if len(levels) > 5 else ''}); it must "
            f"have two. Recode it, e.g. I(col == 'yes').")
    if len(levels) < 2:
        raise DataError(f"The bernoulli response {what!r} has a single level {levels[0]!r}; "
                        f"nothing to model.")
    success = levels[1]
    return (series == success).to_numpy(dtype=float), str(success)


def _ordered(values: Any, what: str, family: Family) -> tuple[np.ndarray, list[str]]:
    """A categorical response as codes 0, ..., K - 1 and its categories.

    The order comes from ``family.categories`` when given (values compared as text),
    else from an ordered pandas categorical, else from numbers (numeric order); for an
    ordinal family strings and unordered categoricals need the order stated, for an
    unordered one (the first category is the reference) a categorical's order or the
    sorted text serve."""
    series = pd.Series(values).reset_index(drop=True)
    if family.categories is not None:
        order = list(family.categories)
        numeric = pd.api.types.is_numeric_dtype(series.dtype) and not isinstance(
            series.dtype, pd.CategoricalDtype)
        text = series.map(lambda v: f"{v:g}") if numeric else series.astype(str)
        unknown = sorted(set(text) - set(order))
        if unknown:
            raise DataError(
                f"The response {what!r} has values not among the categories given "
                f"({', '.join(map(repr, order))}): {', '.join(map(repr, unknown[:5]))}. List "
                f"every category, lowest first, in categories=.")
        codes = text.map({c: k for k, c in enumerate(order)}).to_numpy(dtype=float)
        categories = order
    elif isinstance(series.dtype, pd.CategoricalDtype) and (
            series.cat.ordered or not family.ordered_categories):
        categories = [str(c) for c in series.cat.categories]
        codes = series.cat.codes.to_numpy(dtype=float)
    elif pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(
            series.dtype):
        arr = series.to_numpy(dtype=float)
        if np.any(np.abs(arr - np.round(arr)) > 1e-8):
            raise DataError(
                f"The {family.name} response {what!r} has non-integer values (e.g. "
                f"{arr[np.abs(arr - np.round(arr)) > 1e-8][0]:g}); an ordered response is "
                f"categories: integers (1, 2, 3...), an ordered pandas categorical, or text "
                f"with its order given by family=mf.families.cumulative(categories=[...]).")
        uniq = np.unique(arr)
        categories = [f"{v:g}" for v in uniq]
        codes = np.searchsorted(uniq, arr).astype(float)
    elif not family.ordered_categories:  # text: sorted, the first the reference
        text = series.astype(str)
        categories = sorted(text.unique().tolist())
        codes = text.map({c: k for k, c in enumerate(categories)}).to_numpy(dtype=float)
    else:
        sample = ", ".join(repr(v) for v in pd.unique(series.dropna())[:3])
        raise DataError(
            f"The {family.name} response {what!r} has categories ({sample}, ...) without an "
            f"order. State it: make the column an ordered categorical, e.g. data[{what!r}] = "
            f"pd.Categorical(data[{what!r}], categories=[...], ordered=True), or pass "
            f"family=mf.families.cumulative(categories=[...]) with the categories lowest "
            f"first (command line: --categories A,B,...).")
    seen = np.bincount(codes.astype(int), minlength=len(categories))
    if np.count_nonzero(seen) < 2:
        raise DataError(f"The {family.name} response {what!r} has a single category "
                        f"({categories[int(np.argmax(seen))]!r}) in the rows used: nothing "
                        f"to model.")
    empty = [c for c, k in zip(categories, seen, strict=True) if k == 0]
    if empty:  # (only stated categories can be empty: numbers give those observed)
        warnings.warn(
            f"The {family.name} response {what!r} has categories that no row takes: "
            f"{', '.join(map(repr, empty))}. Their thresholds are set by their priors alone; "
            f"drop the categories (e.g. data[{what!r}].cat.remove_unused_categories()) or "
            f"merge them with a neighbour unless the scale is meant to include them.",
            MixedFitWarning, stacklevel=2)
    return codes, categories


def build_response(formula: Formula, data: pd.DataFrame, family: Family,
                   trials: Any = None) -> Response:
    """Evaluate and check the response for ``family``.

    Parameters
    ----------
    formula : Formula
        The parsed formula (its ``response`` is used).
    data : pandas.DataFrame
        Complete rows of the model's columns.
    family : Family
        The response family.
    trials : str or array-like, optional
        Binomial trials: a column name or values, one per row.

    Raises
    ------
    DataError
        When the response does not suit the family; the message names the column.
    """
    name = formula.response or ""
    parts = cbind_parts(formula)
    if parts is not None and not family.takes_trials:
        raise FamilyError(f"A cbind(successes, failures) response needs family='binomial', "
                          f"not {family.name!r}.")
    if trials is not None and not family.takes_trials:
        raise FamilyError(f"trials= (or weights=) sets the number of binomial trials; the "
                          f"{family.name} family takes none.")
    if family.takes_trials:
        return _binomial(name, parts, data, trials, family)
    values = evaluate_response(name, data)
    if family.categorical_response:
        y, categories = _ordered(values, name, family)
        return Response(y, None, name, categories=categories)
    if family.binary:
        y, success = _bernoulli(values, name)
        return Response(y, None, name, success)
    y = _numeric(values, name, family)
    bad = ~np.isfinite(y)
    if bad.any():
        raise DataError(
            f"The response {name!r} is infinite or undefined in {int(bad.sum())} of {y.size} "
            f"rows (e.g. row {int(np.argmax(bad))} of the rows used). If it is a "
            f"transformation such as log(y), the transformation is not defined there (log of "
            f"0 or of a negative number): change it (e.g. log1p(y)) or drop those rows.")
    family.check_values(y, name)
    return Response(y, None, name)


def _binomial(name: str, parts: tuple[str, str] | None, data: pd.DataFrame, trials: Any,
              family: Family) -> Response:
    if parts is not None:
        if trials is not None:
            raise DataError("Give the trials either by cbind(successes, failures) or by "
                            "trials=, not both.")
        succ = _numeric(evaluate_response(parts[0], data), parts[0], family)
        fail = _numeric(evaluate_response(parts[1], data), parts[1], family)
        integers(succ, parts[0], "binomial")
        if np.any(fail < 0):
            raise DataError(f"The failures {parts[1]!r} have negative values: more successes "
                            f"than trials in {int(np.sum(fail < 0))} rows.")
        integers(fail, parts[1], "binomial")
        return Response(succ, succ + fail, name)
    y = _numeric(evaluate_response(name, data), name, family)
    if trials is None:
        if set(np.unique(y).tolist()) <= {0.0, 1.0}:
            return Response(y, np.ones_like(y), name)
        raise DataError(
            f"The binomial response {name!r} needs its number of trials: write "
            f"cbind(successes, failures) ~ ..., or pass trials='column'.")
    if isinstance(trials, str):
        if trials not in data.columns:
            raise DataError(f"The trials column {trials!r} is not in the data.")
        n = _numeric(data[trials], trials, family)
        tname = trials
    else:
        n = np.asarray(trials, dtype=float)
        tname = "trials"
        if n.shape != y.shape:
            raise DataError(f"trials has {n.size} values for {y.size} rows.")
    integers(n, tname, "binomial")
    if np.any(n <= 0):
        raise DataError(f"The trials {tname!r} must be positive counts.")
    if np.all((y >= 0) & (y <= 1)) and np.any((y > 0) & (y < 1)):
        y = y * n  # a proportion of successes
        if np.any(np.abs(y - np.round(y)) > 1e-6):
            raise DataError(f"The proportion {name!r} times the trials {tname!r} is not a whole "
                            f"number of successes.")
        y = np.round(y)
    integers(y, name, "binomial")
    if np.any(y > n):
        raise DataError(f"The binomial response {name!r} has more successes than trials "
                        f"{tname!r} in {int(np.sum(y > n))} rows.")
    return Response(y, n, name)
