"""Split a formula string into tokens that remember where they start.

The scanner knows R-style names (``Sepal.Length`` is one name), backtick-quoted names
(`` `my col` `` is the name ``my col``), numbers, string literals and the operators of the
formula language. Any other character is a :class:`~mixedfit.errors.FormulaError` with a
caret under it, and so are names that could reach Python internals (a part starting with
``__``, as in ``__import__`` or ``x.__class__``) and bare Python keywords (``lambda``,
``import``; a column of that name is written in backticks).

Examples
--------
>>> [(t.kind, t.value, t.pos) for t in Scanner("y ~ log(x)").scan()]
... # doctest: +NORMALIZE_WHITESPACE
[('name', 'y', 0), ('op', '~', 2), ('name', 'log', 4), ('op', '(', 7), ('name', 'x', 8),
 ('op', ')', 9), ('eof', '', 10)]
"""

from __future__ import annotations

import keyword
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from mixedfit.errors import FormulaError

__all__ = ["Token", "TokenKind", "Tokens", "Scanner", "OPERATORS"]

TokenKind = Literal["name", "number", "string", "op", "eof"]

#: Operators of the formula language, longest first so that ``**`` wins over ``*``.
OPERATORS: tuple[str, ...] = (
    "**",
    "||",
    "~",
    "+",
    "-",
    "*",
    "/",
    ":",
    "^",
    "|",
    "(",
    ")",
    ",",
    "=",
    "[",
    "]",
)

_NUMBER = re.compile(r"(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE]([+-]?[0-9]+))?")
_WHITESPACE = frozenset(" \t\n\r")
_MAX_EXPONENT = 50

#: Python keywords that may not be used as bare names (``True``, ``False`` and ``None`` are
#: constants and are handled by the parser).
_KEYWORDS = frozenset(keyword.kwlist) - {"True", "False", "None"}

_CHARACTER_HINTS: dict[str, str] = {
    "{": "Write arithmetic inside I(...), for example I(x**2).",
    "}": "Write arithmetic inside I(...), for example I(x**2).",
    "%": "Operators like %in% are not supported; use ':' for interactions.",
    "$": "Name the column directly instead of using '$'.",
    "@": "Name the column directly.",
    "<": "Comparisons are not supported in formulas; compute the column beforehand.",
    ">": "Comparisons are not supported in formulas; compute the column beforehand.",
    "!": "Comparisons are not supported in formulas; compute the column beforehand.",
    "&": "Logical operators are not supported in formulas; compute the column beforehand.",
    "#": "Comments are not allowed in formulas.",
    ";": "A formula is a single expression; remove the ';'.",
}


@dataclass(frozen=True)
class Token:
    """One token of a formula.

    Parameters
    ----------
    kind : {"name", "number", "string", "op", "eof"}
        What the token is.
    value : str
        The name without backticks, the canonical number text, the string content, or the
        operator text. Empty for the end-of-formula token.
    pos : int
        0-based character offset where the token starts.
    quoted : bool, default False
        True for a name written in backticks.
    """

    kind: TokenKind
    value: str
    pos: int
    quoted: bool = False

    def is_op(self, *ops: str) -> bool:
        """Return True if the token is one of the operators ``ops``."""
        return self.kind == "op" and self.value in ops

    def describe(self) -> str:
        """Describe the token for an error message, e.g. ``name 'x'`` or ``'+'``."""
        if self.kind == "name":
            return f"name '{self.value}'"
        if self.kind == "number":
            return f"number {self.value}"
        if self.kind == "string":
            return f'string "{self.value}"'
        if self.kind == "eof":
            return "end of formula"
        return f"'{self.value}'"


@dataclass(frozen=True)
class Tokens:
    """The tokens of a formula together with the formula text (needed for error messages).

    Parameters
    ----------
    text : str
        The formula as given.
    items : tuple of Token
        The tokens, ending with one ``"eof"`` token at ``len(text)``.
    """

    text: str
    items: tuple[Token, ...]

    def __iter__(self) -> Iterator[Token]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> Token:
        return self.items[index]


def _is_digit(char: str) -> bool:
    return char != "" and char in "0123456789"


class Scanner:
    """Turn formula text into :class:`Tokens`.

    Parameters
    ----------
    text : str
        The formula.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        self._pos = 0
        self._tokens: list[Token] = []

    def _error(self, message: str, pos: int, hint: str | None = None) -> FormulaError:
        return FormulaError(message, formula=self.text, position=pos, hint=hint)

    def scan(self) -> Tokens:
        """Scan the whole text.

        Returns
        -------
        Tokens
            The tokens, the last one of kind ``"eof"``.

        Raises
        ------
        FormulaError
            On a character that is not part of the formula language, an unterminated string
            or backtick name, or an empty backtick name.
        """
        text = self.text
        while self._pos < len(text):
            char = text[self._pos]
            if char in _WHITESPACE:
                self._pos += 1
            elif _is_digit(char) or (char == "." and _is_digit(self._peek(1))):
                self._number()
            elif char.isalpha() or char in "._":
                self._name()
            elif char == "`":
                self._backtick_name()
            elif char in "'\"":
                self._string()
            else:
                self._operator()
        self._tokens.append(Token("eof", "", len(text)))
        return Tokens(text, tuple(self._tokens))

    def _peek(self, offset: int) -> str:
        index = self._pos + offset
        return self.text[index] if index < len(self.text) else ""

    def _number(self) -> None:
        start = self._pos
        match = _NUMBER.match(self.text, start)
        assert match is not None  # the caller saw a digit (or '.' and a digit)
        exponent = match.group(1)
        if exponent is not None and abs(int(exponent)) > _MAX_EXPONENT:
            raise self._error(
                f"Number '{match.group(0)}' has too large an exponent",
                start,
                hint=f"Exponents are limited to +/-{_MAX_EXPONENT}; rescale the variable.",
            )
        value = format(Decimal(match.group(0)), "f")
        self._tokens.append(Token("number", value, start))
        self._pos = match.end()

    def _name(self) -> None:
        start = self._pos
        end = start
        text = self.text
        while end < len(text) and (text[end].isalnum() or text[end] in "._"):
            end += 1
        name = text[start:end]
        if set(name) == {"."}:
            raise self._error(
                f"Unexpected character '{name[0]}'",
                start,
                hint="The '.' shorthand (all other columns) is not supported; list the terms.",
            )
        self._check_name(name, start, quoted=False)
        if name in _KEYWORDS:
            raise self._error(
                f"Name '{name}' is not allowed: it is a Python keyword",
                start,
                hint=f"If a column is called {name!r}, write it in backticks: `{name}`.",
            )
        self._tokens.append(Token("name", name, start))
        self._pos = end

    def _check_name(self, name: str, pos: int, quoted: bool) -> None:
        """Refuse names that could reach Python internals: any part starting with ``__``.

        ``__import__``, ``__class__`` or ``x.__dict__`` are never column names a formula
        needs, quoted or not, so they are refused before anything is evaluated.
        """
        if any(part.startswith("__") for part in name.split(".")):
            shown = f"`{name}`" if quoted else name
            raise self._error(
                f"Name '{shown}' is not allowed: a name (or a part after a '.') starting "
                f"with '__' could reach Python internals",
                pos,
                hint="Formulas may only name data columns and the allowed functions; "
                "rename the column if it really starts with '__'.",
            )

    def _backtick_name(self) -> None:
        start = self._pos
        end = self.text.find("`", start + 1)
        if end < 0:
            raise self._error(
                "Unterminated backtick-quoted name",
                start,
                hint="Close the name with a second backtick, e.g. `my column`.",
            )
        name = self.text[start + 1 : end]
        if not name.strip():
            raise self._error("Empty backtick-quoted name", start)
        self._check_name(name, start, quoted=True)
        self._tokens.append(Token("name", name, start, quoted=True))
        self._pos = end + 1

    def _string(self) -> None:
        start = self._pos
        quote = self.text[start]
        end = self.text.find(quote, start + 1)
        if end < 0:
            raise self._error(
                "Unterminated string literal",
                start,
                hint=f"Close the string with a matching {quote}.",
            )
        content = self.text[start + 1 : end]
        other = "'" if quote == '"' else '"'
        if other in content:
            raise self._error(
                "Quote characters inside string literals are not supported",
                start + 1 + content.index(other),
            )
        self._tokens.append(Token("string", content, start))
        self._pos = end + 1

    def _operator(self) -> None:
        start = self._pos
        for op in OPERATORS:
            if self.text.startswith(op, start):
                self._tokens.append(Token("op", op, start))
                self._pos = start + len(op)
                return
        char = self.text[start]
        raise self._error(f"Unexpected character '{char}'", start, hint=_CHARACTER_HINTS.get(char))
