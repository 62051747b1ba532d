"""Evaluating formula terms on data through formulae, in a namespace of safe functions.

Everything that asks formulae for columns goes through here, so that its errors
become :class:`~mixedfit.errors.DataError` that name the term.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import formulae
import numpy as np
import pandas as pd
from formulae.environment import Environment

from mixedfit.errors import DataError, MixedFitError

__all__ = ["SAFE_FUNCTIONS", "formula_namespace", "design_matrices", "column_labels",
           "term_of_columns", "evaluate_offset", "new_data_columns"]


def _logit(p: Any) -> Any:
    p = np.asarray(p, dtype=float)
    return np.log(p) - np.log1p(-p)


def _expit(x: Any) -> Any:
    return 1.0 / (1.0 + np.exp(-np.asarray(x, dtype=float)))


def _factor(x: Any) -> pd.Categorical:
    """R's ``factor(x)``: the column as a categorical variable, as ``C(x)`` makes it."""
    return pd.Categorical(x)


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
    "factor": _factor,
}


def formula_namespace() -> Any:
    """The evaluation environment handed to formulae: the safe functions and nothing else."""
    return Environment([dict(SAFE_FUNCTIONS)])


def design_matrices(text: str, data: pd.DataFrame) -> Any:
    """Evaluate formulae's design matrices; its errors become a :class:`DataError`."""
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


def _same(label: str) -> str:
    return label


def column_labels(common: Any, labels: Callable[[str], str] | None = None) -> list[str]:
    """formulae's column labels, through ``labels`` (the user's spelling,
    :class:`~mixedfit.design.labels.UserLabels`) when given."""
    relabel = labels or _same
    out: list[str] = []
    for term in common.terms.values():
        out.extend(relabel(label) for label in term.labels)
    return out


def term_of_columns(common: Any, labels: Callable[[str], str] | None = None
                    ) -> dict[str, str]:
    """Column label -> the formula term that made it (both through ``labels``)."""
    relabel = labels or _same
    out: dict[str, str] = {}
    for term_name, term in common.terms.items():
        for label in term.labels:
            out[relabel(label)] = relabel(str(term_name))
    return out


def evaluate_offset(offsets: tuple[str, ...], data: pd.DataFrame) -> np.ndarray:
    total = np.zeros(len(data))
    for expr in offsets:
        dm = design_matrices(f"0 + I({expr})", data)
        total = total + np.asarray(dm.common).astype(float)[:, 0]
    return total


def new_data_columns(common: Any, data: pd.DataFrame, what: str) -> np.ndarray:
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
