"""Parse lme4-style mixed-model formulas into a plain description.

This layer is pure: no data, no model. :func:`parse` checks the formula (syntax, allowed
functions, duplicates) and expands nested grouping, so that formulas meaning the same
model give equal :class:`Formula` objects.
"""

from __future__ import annotations

from mixedfit.errors import FormulaError, InputTypeError
from mixedfit.formula.parser import Parser
from mixedfit.formula.resolver import ALLOWED_FUNCTIONS, Resolver
from mixedfit.formula.scanner import Scanner
from mixedfit.formula.terms import Formula, RandomTerm

__all__ = ["parse", "Formula", "RandomTerm", "ALLOWED_FUNCTIONS"]


def parse(text: str) -> Formula:
    """Parse an lme4-style formula.

    Parameters
    ----------
    text : str
        The formula, e.g. ``"Reaction ~ Days + (Days | Subject)"``. The left side may be
        left out (``"~ x"``); the response is then None.

    Returns
    -------
    Formula
        The description: response, fixed terms, intercept, offsets and expanded
        random-effect terms, all as canonical text.

    Raises
    ------
    FormulaError
        If the formula is not valid; the message shows the formula with a caret under
        the fault and a hint.

    Examples
    --------
    >>> parse("y ~ x + (1 | a/b)").random  # doctest: +NORMALIZE_WHITESPACE
    (RandomTerm(terms=(), intercept=True, group=('a',), correlated=True),
     RandomTerm(terms=(), intercept=True, group=('a', 'b'), correlated=True))
    >>> f = parse("Reaction ~ Days + (Days || Subject)")
    >>> f.fixed_formula, str(f)
    ('1 + Days', 'Reaction ~ 1 + Days + (1 + Days || Subject)')
    """
    if not isinstance(text, str):
        raise InputTypeError(f"a formula must be a string, not {type(text).__name__}")
    try:
        return Resolver(Parser(Scanner(text).scan()).parse()).resolve()
    except RecursionError:
        raise FormulaError("Formula is too long or nested too deeply", formula=text) from None
