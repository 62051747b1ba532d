"""The parsed description of a mixed-model formula.

:class:`Formula` and :class:`RandomTerm` are small frozen dataclasses of canonical text:
two formulas that mean the same model compare equal, and ``str`` gives a formula that
parses back to an equal description.

Examples
--------
>>> term = RandomTerm(terms=("Days",), intercept=True, group=("Subject",))
>>> str(term), term.lhs, term.group_name
('(1 + Days | Subject)', '1 + Days', 'Subject')
"""

from __future__ import annotations

from dataclasses import dataclass

from mixedfit.formula.parser import quote_name
from mixedfit.formula.variables import expression_variables

__all__ = ["RandomTerm", "Formula"]


@dataclass(frozen=True)
class RandomTerm:
    """One random-effect term after expansion, e.g. ``(1 + Days | Subject)``.

    Parameters
    ----------
    terms : tuple of str
        Left-side terms as canonical text, without intercept markers (``()`` for
        ``(1 | g)``).
    intercept : bool
        True unless the left side has ``0 +`` or ``- 1``.
    group : tuple of str
        Grouping variables (column names); ``("a", "b")`` for ``a:b``.
    correlated : bool, default True
        False for ``||`` (uncorrelated effects).
    """

    terms: tuple[str, ...]
    intercept: bool
    group: tuple[str, ...]
    correlated: bool = True

    @property
    def group_name(self) -> str:
        """The grouping variables joined with ``:``, e.g. ``"a:b"``."""
        return ":".join(self.group)

    @property
    def lhs(self) -> str:
        """Left side as formulae text: ``"1 + Days"``, ``"0 + Days"`` or ``"1"``."""
        marker = "1" if self.intercept else "0"
        return " + ".join((marker, *self.terms))

    def __str__(self) -> str:
        bar = "|" if self.correlated else "||"
        group = ":".join(quote_name(name) for name in self.group)
        return f"({self.lhs} {bar} {group})"


@dataclass(frozen=True)
class Formula:
    """A parsed lme4-style formula.

    Parameters
    ----------
    response : str or None
        Canonical text of the left side (``"Reaction"``, ``"log(y)"``,
        ``"cbind(incidence,size-incidence)"``), None without a left side.
    fixed : tuple of str
        Fixed-effect terms as canonical text, in order, without intercept markers and
        offsets.
    intercept : bool
        Whether the fixed part has an intercept.
    offsets : tuple of str
        The expressions inside ``offset(...)`` terms, as canonical text.
    random : tuple of RandomTerm
        Random-effect terms after expansion of nested grouping.
    """

    response: str | None
    fixed: tuple[str, ...]
    intercept: bool
    offsets: tuple[str, ...]
    random: tuple[RandomTerm, ...]

    @property
    def fixed_formula(self) -> str:
        """Right side for formulae without offsets and random terms, e.g. ``"1 + Days"``.

        ``"1"`` for an intercept-only model and ``"0"`` when there is nothing at all.
        """
        return " + ".join(("1" if self.intercept else "0", *self.fixed))

    @property
    def variables(self) -> frozenset[str]:
        """Column names used anywhere in the formula.

        Function names, keyword-argument names and string contents are left out.
        """
        found: set[str] = set()
        texts = [*self.fixed, *self.offsets]
        if self.response is not None:
            texts.append(self.response)
        for term in self.random:
            texts.extend(term.terms)
            found.update(term.group)
        for text in texts:
            found |= expression_variables(text)
        return frozenset(found)

    def __str__(self) -> str:
        parts = [
            self.fixed_formula,
            *(f"offset({offset})" for offset in self.offsets),
            *(str(term) for term in self.random),
        ]
        rhs = " + ".join(parts)
        return f"~ {rhs}" if self.response is None else f"{self.response} ~ {rhs}"
