"""Checks of a design before any sampling, each an error that names what is at fault.

Non-finite transformed columns, values that lose their digits once centred, responses
with nothing to fit, collinear columns, random slopes that do not vary within their
groups, and repeated group-level terms.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from mixedfit.design.frame import caller_level, plural, rows_text
from mixedfit.errors import DataError, FormulaError, MixedFitWarning
from mixedfit.families import Family
from mixedfit.formula import RandomTerm

if TYPE_CHECKING:
    from mixedfit.design.design import BlockDesign

__all__ = ["OneSidedResponseWarning", "MIN_RELATIVE_SPREAD", "check_finite",
           "check_precision", "check_fittable_response", "check_collinear", "check_slopes",
           "check_blocks"]


class OneSidedResponseWarning(MixedFitWarning):
    """A binary or binomial response without a single success, or without a single
    failure: the fit is valid, but the side without data rests on the prior."""


def check_finite(values: np.ndarray, columns: list[str], labels: pd.Index, what: str,
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
        f"{plural(int(rows.sum()), 'row')} "
        f"({rows_text(labels, rows)}), although the data there are finite: its "
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


def check_precision(values: np.ndarray, columns: list[str], what: str,
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


def check_fittable_response(y: np.ndarray, trials: np.ndarray | None, name: str,
                   family: Family) -> None:
    """Refuse a response with nothing to fit (the family says what that is: constant
    for a family with a scale, no counts for a count family), warn for a binary one
    without successes or failures, and refuse a location-scale response with too few
    digits left once centred (:data:`MIN_RELATIVE_SPREAD`)."""
    problem = family.degenerate(y, trials, name)
    if problem is not None:
        kind, message = problem
        if kind == "error":
            raise DataError(message)
        warnings.warn(message, OneSidedResponseWarning, stacklevel=caller_level())
        return
    if family.location_scale:
        check_precision(y[:, None], [name], "response", {})


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


def check_collinear(M: np.ndarray, names: list[str], source: dict[str, str], what: str,
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


def _without(term: RandomTerm, drop: str) -> str:
    """How to fix a random term whose slope ``drop`` cannot be estimated."""
    def same(a: str) -> bool:  # formulae writes "I(x ** 2)" where the parser has "I(x**2)"
        return a.replace(" ", "") == drop.replace(" ", "")

    rest = tuple(t for t in term.terms if not same(t))
    if not rest and not term.intercept:
        return f"Leave out the term {term}"
    return f"Use {RandomTerm(rest, term.intercept, term.group, term.correlated)} instead"


def check_slopes(blocks: list[BlockDesign]) -> None:
    """Refuse random slopes of predictors that are constant within every level of the group.

    Such a slope cannot be told apart from the group's random intercept: in each level
    ``a_j + b_j * x_j`` only the sum is identified.
    """
    def prefix(b: BlockDesign) -> str:  # a family parameter's columns: "sigma_x"
        return f"{b.target}_" if b.target else ""

    intercept_groups = {(b.target, b.group) for b in blocks
                        if prefix(b) + "Intercept" in b.columns}
    for block in blocks:
        if (block.target, block.group) not in intercept_groups:
            continue
        source = {c[len(prefix(block)):]: t for c, t in block.sources.items()}
        counts = np.bincount(block.index, minlength=block.n_levels).astype(float)
        for j, col in enumerate(block.columns):
            col = col[len(prefix(block)):]
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


def check_blocks(blocks: list[BlockDesign], text: str) -> None:
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
