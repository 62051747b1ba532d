"""Column labels as the user wrote the formula.

formulae names a column after its own printing of the term (``I(age ** 2)``,
``poly(x, 2)[0]``); users look for what they typed (``I(age^2)``) and for R's numbering
of polynomial columns (``poly(x, 2)1``: here ``poly(x, 2)[1]``). :class:`UserLabels`
maps formulae's labels back to the user's text, so that tables, priors (``priors=
{"I(age^2)": ...}``) and ``.loc["I(age^2)"]`` use the user's spelling.

Examples
--------
>>> labels = UserLabels("y ~ I(age^2) + poly(x, 2) + g")
>>> labels("I(age ** 2)"), labels("poly(x, 2)[0]"), labels("g[b]:I(age ** 2)")
('I(age^2)', 'poly(x, 2)[1]', 'g[b]:I(age^2)')
"""

from __future__ import annotations

import re

from mixedfit.errors import FormulaError
from mixedfit.formula.parser import canonical, parse_expression

__all__ = ["UserLabels"]

_CALL = re.compile(r"[A-Za-z_.][A-Za-z0-9_.]*\s*\(")


def _calls(text: str) -> dict[str, str]:
    """Every function call written in ``text``: its canonical form -> the text as written."""
    out: dict[str, str] = {}
    for match in _CALL.finditer(text):
        depth = 0
        for k in range(match.end() - 1, len(text)):
            if text[k] == "(":
                depth += 1
            elif text[k] == ")":
                depth -= 1
                if depth == 0:
                    span = text[match.start():k + 1]
                    try:
                        out.setdefault(canonical(parse_expression(span)), span)
                    except FormulaError:
                        pass
                    break
    return out


def _split_top(label: str, sep: str) -> list[str]:
    """``label`` split at ``sep`` outside parentheses and brackets."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(label):
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append(label[start:i])
            start = i + 1
    parts.append(label[start:])
    return parts


class UserLabels:
    """Map formulae's column labels to the user's spelling of the formula's terms.

    Parameters
    ----------
    text : str
        The formula (or a part of it) as the user wrote it.
    """

    def __init__(self, text: str) -> None:
        self._calls = _calls(text)

    def _part(self, part: str) -> str:
        base, level = part, ""
        if part.endswith("]") and "[" in part:
            cut = part.rfind("[")
            if cut > 0 and part[:cut].count("(") == part[:cut].count(")"):
                base, level = part[:cut], part[cut:]
        if "(" not in base:
            return part
        try:
            written = self._calls.get(canonical(parse_expression(base)), base)
        except FormulaError:
            return part
        if re.fullmatch(r"poly\s*\(.*\)", base) and re.fullmatch(r"\[\d+\]", level):
            level = f"[{int(level[1:-1]) + 1}]"  # R numbers polynomial columns from 1
        return written + level

    def __call__(self, label: str) -> str:
        """The user's spelling of one column label (interactions part by part)."""
        return ":".join(self._part(p) for p in _split_top(label, ":"))
