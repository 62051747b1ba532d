"""Exceptions and warnings raised by mixedfit.

Every error mixedfit raises on purpose derives from :class:`MixedFitError`,
and also from the built-in class a Python user would expect (``ValueError``
for bad values, ``TypeError`` for a wrong kind of object), so both
``except mf.MixedFitError`` and ``except ValueError`` work.

Examples
--------
>>> import mixedfit as mf
>>> issubclass(mf.FormulaError, mf.MixedFitError), issubclass(mf.FormulaError, ValueError)
(True, True)
"""

from __future__ import annotations

__all__ = [
    "MixedFitError",
    "FormulaError",
    "DataError",
    "PriorError",
    "FamilyError",
    "InputTypeError",
    "OptionError",
    "SamplingError",
    "RowsNeededError",
    "DrawsNotKeptError",
    "MixedFitWarning",
    "ConvergenceWarning",
    "SingularFitWarning",
    "LooWarning",
]


class MixedFitError(Exception):
    """Base class of every error raised by mixedfit."""


class FormulaError(MixedFitError, ValueError):
    """A formula that cannot be parsed or is not allowed.

    The message shows the formula with a caret under the fault.

    Parameters
    ----------
    message : str
        What is wrong.
    formula : str, optional
        The formula text.
    position : int, optional
        0-based character offset of the fault in ``formula``.
    hint : str, optional
        How to fix it.
    """

    def __init__(
        self,
        message: str,
        formula: str | None = None,
        position: int | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.formula = formula
        self.position = position
        self.hint = hint
        super().__init__(self._render())

    def _render(self) -> str:
        lines = [self.message]
        if self.formula is not None:
            lines.append("    " + self.formula)
            if self.position is not None:
                pos = max(0, min(self.position, len(self.formula)))
                lines.append("    " + " " * pos + "^")
        if self.hint:
            lines.append(self.hint)
        return "\n".join(lines)


class DataError(MixedFitError, ValueError):
    """The data do not fit the formula or the family (missing column, bad values...)."""


class PriorError(MixedFitError, ValueError):
    """A prior that names no parameter of the model or cannot be built."""


class FamilyError(MixedFitError, ValueError):
    """An unknown family or a link the family does not support."""


class OptionError(MixedFitError, ValueError):
    """An option of a function that has no such value (an unknown sampler, a bad interval)."""


class SamplingError(MixedFitError, RuntimeError):
    """The sampler (nutpie, PyMC, the compiled density) failed; the message says what
    probably caused it and what to try, and the original error is attached as
    ``__cause__``."""


class InputTypeError(MixedFitError, TypeError):
    """An argument of the wrong type (for example data that is not a table)."""


class RowsNeededError(MixedFitError, ValueError):
    """A result asked for something that needs the data rows (fitted values, predictive
    checks, LOO, a reference grid...) from a fit made out of core, from the sufficient
    statistics of a Dask DataFrame or a Parquet dataset, which keeps no rows; the
    message names what needs them and what the result offers instead."""


class DrawsNotKeptError(MixedFitError, ValueError):
    """A result asked for something that needs the draws of the group effects (their
    joint draws with the other parameters: level coefficients, predictions of fitted
    levels, the pointwise log-likelihood, predictive checks...) from a fit that kept
    only each group effect's summary, its draws being too many to keep
    (:data:`mixedfit.plan.MAX_STORED_EFFECTS`); the message names what needs them, why
    they were not kept and how to have them."""


class MixedFitWarning(UserWarning):
    """Base class of the warnings mixedfit emits."""


class ConvergenceWarning(MixedFitWarning):
    """The sampler did not converge: R-hat, ESS, divergences, tree depth or E-BFMI."""


class LooWarning(MixedFitWarning):
    """PSIS-LOO is unreliable for a fit: Pareto k values above their threshold."""


class SingularFitWarning(MixedFitWarning):
    """A variance component piles up at zero (or a correlation at +-1): lme4's singular fit."""
