"""Recursive-descent parser from formula tokens to a small syntax tree.

Grammar (R precedence, loosest first)::

    formula  := [sum] '~' sum
    sum      := product (('+' | '-') product)*
    product  := colon (('*' | '/') colon)*
    colon    := unary (':' unary)*
    unary    := '-' unary | power
    power    := primary (('^' | '**') unary)?
    primary  := name | name '(' args ')' | number | string | '(' sum ')'
              | '(' sum ('|' | '||') sum ')'          (a random-effect term)
              | '[' items ']'                          (only inside call arguments)
    args     := [arg (',' arg)*]     arg := sum | name '=' sum

A parenthesised expression whose top level contains ``|`` or ``||`` becomes a
:class:`Random` node; a bar anywhere else is an error. Every node keeps the 0-based
position of its first character so that later errors can point at it.

Examples
--------
>>> from mixedfit.formula.scanner import Scanner
>>> tree = Parser(Scanner("y ~ x + (1 | g)").scan()).parse()
>>> canonical(tree.rhs)
'x+(1|g)'
"""

from __future__ import annotations

import keyword
import re
from dataclasses import dataclass

from mixedfit.errors import FormulaError
from mixedfit.formula.scanner import Scanner, Token, Tokens

__all__ = [
    "Node",
    "Name",
    "Number",
    "String",
    "ListExpr",
    "Keyword",
    "Call",
    "Unary",
    "Binary",
    "Group",
    "Random",
    "FormulaTree",
    "Parser",
    "RANDOM_HINT",
    "ALLOWED_FUNCTIONS",
    "FUNCTION_HINT",
    "canonical",
    "quote_name",
    "parse_expression",
]

#: Hint given whenever a ``|`` or ``||`` is found outside its own parentheses.
RANDOM_HINT = (
    "Random-effect terms must be written in parentheses, like (1 + x | g), "
    "as separate terms joined with '+'."
)

#: The only functions a formula may call (formulae evaluates the calls later).
ALLOWED_FUNCTIONS: frozenset[str] = frozenset(
    {
        "C",
        "factor",
        "I",
        "scale",
        "center",
        "standardize",
        "log",
        "log2",
        "log10",
        "log1p",
        "exp",
        "sqrt",
        "abs",
        "offset",
        "cbind",
        "poly",
        "bs",
        "logit",
        "expit",
    }
)

#: Hint listing the allowed functions.
FUNCTION_HINT = "Allowed functions: " + ", ".join(sorted(ALLOWED_FUNCTIONS, key=str.lower)) + "."

#: Names that Python (and formulae) read as constants when not quoted.
CONSTANTS = frozenset({"True", "False", "None"})

_PLAIN_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_MAX_DEPTH = 60


# --------------------------------------------------------------------------- nodes


@dataclass(frozen=True)
class Node:
    """Base class of the syntax-tree nodes; ``pos`` is where the node's text starts."""

    pos: int


@dataclass(frozen=True)
class Name(Node):
    """A name; ``quoted`` is True when it was written in backticks."""

    name: str
    quoted: bool = False

    @property
    def is_constant(self) -> bool:
        """True for an unquoted ``True``, ``False`` or ``None``."""
        return not self.quoted and self.name in CONSTANTS


@dataclass(frozen=True)
class Number(Node):
    """A number, ``text`` in canonical decimal form (``1e3`` becomes ``1000``)."""

    text: str


@dataclass(frozen=True)
class String(Node):
    """A string literal; ``value`` is its content without quotes."""

    value: str


@dataclass(frozen=True)
class ListExpr(Node):
    """A list ``[a, b, ...]`` (only found inside call arguments)."""

    items: tuple[Node, ...]


@dataclass(frozen=True)
class Keyword(Node):
    """A keyword argument ``name=value`` of a call; ``pos`` is the keyword's position."""

    name: str
    value: Node


@dataclass(frozen=True)
class Call(Node):
    """A function call ``func(args, kw=value)``; ``pos`` is the function name's position."""

    func: str
    args: tuple[Node, ...]
    kwargs: tuple[Keyword, ...]


@dataclass(frozen=True)
class Unary(Node):
    """A unary minus."""

    op: str
    operand: Node


@dataclass(frozen=True)
class Binary(Node):
    """A binary operation; ``op`` is canonical (``^`` is stored as ``**``)."""

    op: str
    left: Node
    right: Node
    op_pos: int


@dataclass(frozen=True)
class Group(Node):
    """A parenthesised expression without a bar."""

    inner: Node


@dataclass(frozen=True)
class Random(Node):
    """A random-effect term ``(lhs | rhs)`` or ``(lhs || rhs)``; ``pos`` is its ``(``."""

    lhs: Node
    rhs: Node
    correlated: bool
    bar_pos: int


@dataclass(frozen=True)
class FormulaTree:
    """The parsed formula: optional left side, right side and the formula text."""

    text: str
    lhs: Node | None
    rhs: Node
    tilde_pos: int


# --------------------------------------------------------------------------- text


def quote_name(name: str) -> str:
    """Write a column name the way formulae reads it back.

    Plain ASCII identifiers stay as they are; anything else (dots, spaces, a leading
    underscore, Python keywords, non-ASCII letters) is put in backticks.

    Examples
    --------
    >>> quote_name("Days"), quote_name("Sepal.Length")
    ('Days', '`Sepal.Length`')
    """
    if _PLAIN_NAME.fullmatch(name) and not keyword.iskeyword(name) and name not in CONSTANTS:
        return name
    return f"`{name}`"


def canonical(node: Node) -> str:
    """Canonical text of a node: its tokens re-joined without whitespace.

    Examples
    --------
    >>> canonical(parse_expression("I(x ^ 2) : `my col`"))
    'I(x**2):`my col`'
    """
    if isinstance(node, Name):
        if node.name in CONSTANTS and not node.quoted:
            return node.name
        return quote_name(node.name)
    if isinstance(node, Number):
        return node.text
    if isinstance(node, String):
        return f'"{node.value}"'
    if isinstance(node, ListExpr):
        return "[" + ",".join(canonical(item) for item in node.items) + "]"
    if isinstance(node, Call):
        parts = [canonical(arg) for arg in node.args]
        parts += [f"{kw.name}={canonical(kw.value)}" for kw in node.kwargs]
        return f"{node.func}({','.join(parts)})"
    if isinstance(node, Unary):
        return node.op + canonical(node.operand)
    if isinstance(node, Binary):
        return canonical(node.left) + node.op + canonical(node.right)
    if isinstance(node, Group):
        return f"({canonical(node.inner)})"
    if isinstance(node, Random):
        bar = "|" if node.correlated else "||"
        return f"({canonical(node.lhs)}{bar}{canonical(node.rhs)})"
    raise TypeError(f"not a formula node: {node!r}")  # pragma: no cover


# --------------------------------------------------------------------------- parser


class Parser:
    """Recursive-descent parser over :class:`~mixedfit.formula.scanner.Tokens`.

    Parameters
    ----------
    tokens : Tokens
        Output of :meth:`Scanner.scan`.
    """

    def __init__(self, tokens: Tokens) -> None:
        self.tokens = tokens
        self.text = tokens.text
        self._index = 0
        self._depth = 0
        self._call_depth = 0
        self._seen_tilde = False
        self._open = {"(": 0, "[": 0}

    # ---- helpers

    @property
    def _current(self) -> Token:
        return self.tokens[self._index]

    @property
    def _previous(self) -> Token | None:
        return self.tokens[self._index - 1] if self._index > 0 else None

    def _advance(self) -> Token:
        token = self._current
        if token.kind != "eof":
            self._index += 1
        return token

    def _error(self, message: str, pos: int, hint: str | None = None) -> FormulaError:
        return FormulaError(message, formula=self.text, position=pos, hint=hint)

    def _unexpected(self, token: Token, expected: str | None = None) -> FormulaError:
        """Error for a token that cannot appear where it is."""
        previous = self._previous
        if token.kind == "eof":
            if previous is not None and previous.kind == "op" and previous.value not in (")", "]"):
                return self._error(
                    f"Formula ends with operator '{previous.value}'",
                    previous.pos,
                    hint="Add a term after the operator or remove it.",
                )
            return self._error("Unexpected end of formula", token.pos)
        if token.is_op("|", "||"):
            return self._error(f"Unexpected '{token.value}'", token.pos, hint=RANDOM_HINT)
        if token.is_op("~"):
            if self._seen_tilde:
                return self._error(
                    "More than one '~' in formula",
                    token.pos,
                    hint="A formula has one '~' between the response and the terms.",
                )
            return self._error("Unexpected '~'", token.pos)
        if token.is_op(")") and self._open["("] == 0:
            return self._error(
                "Unmatched ')'", token.pos, hint="Remove it or add the matching '('."
            )
        if token.is_op("]") and self._open["["] == 0:
            return self._error("Unmatched ']'", token.pos)
        if token.is_op("=") and expected is None:
            return self._error(
                "Unexpected '='",
                token.pos,
                hint='\'=\' is only used for keyword arguments, e.g. C(g, levels=["b", "a"]).',
            )
        if (
            token.kind == "op"
            and token.value not in ("(", "[")
            and previous is not None
            and previous.kind == "op"
            and previous.value not in (")", "]")
        ):
            if token.value in (")", ",", "]"):
                return self._error(
                    f"Missing term after '{previous.value}'",
                    token.pos,
                    hint=f"Add a term after '{previous.value}' or remove it.",
                )
            return self._error(
                f"Unexpected '{token.value}' after '{previous.value}'",
                token.pos,
                hint="Remove the doubled operator.",
            )
        message = f"Unexpected {token.describe()}"
        if expected is not None:
            message += f" (expected {expected})"
        return self._error(message, token.pos)

    # ---- entry points

    def parse(self) -> FormulaTree:
        """Parse a whole formula ``[lhs] ~ rhs``.

        Returns
        -------
        FormulaTree

        Raises
        ------
        FormulaError
            On any syntax error, with a caret at the offending token.
        """
        first = self._current
        if first.kind == "eof":
            raise self._error("Empty formula", 0, hint='Write a formula such as "y ~ x + (1 | g)".')
        lhs: Node | None = None
        if not first.is_op("~"):
            lhs = self._sum()
        tilde = self._current
        if not tilde.is_op("~"):
            if tilde.kind == "eof":
                raise self._error(
                    "Formula has no '~'",
                    tilde.pos,
                    hint="Put the response left of '~' and the terms right of it: y ~ x.",
                )
            raise self._unexpected(tilde, expected="'~'")
        self._advance()
        self._seen_tilde = True
        if self._current.kind == "eof":
            raise self._error(
                "Nothing after '~'",
                tilde.pos,
                hint="Add at least one term, e.g. y ~ 1 for an intercept-only model.",
            )
        rhs = self._sum()
        if self._current.kind != "eof":
            raise self._unexpected(self._current)
        return FormulaTree(self.text, lhs, rhs, tilde.pos)

    def parse_expression(self) -> Node:
        """Parse the tokens as one expression without ``~`` (e.g. a canonical term)."""
        if self._current.kind == "eof":
            raise self._error("Empty expression", 0)
        node = self._sum()
        if self._current.kind != "eof":
            raise self._unexpected(self._current)
        return node

    # ---- grammar

    def _sum(self) -> Node:
        node = self._product()
        while self._current.is_op("+", "-"):
            op = self._advance()
            right = self._product()
            node = Binary(node.pos, op.value, node, right, op.pos)
        return node

    def _product(self) -> Node:
        node = self._colon()
        while self._current.is_op("*", "/"):
            op = self._advance()
            right = self._colon()
            node = Binary(node.pos, op.value, node, right, op.pos)
        return node

    def _colon(self) -> Node:
        node = self._unary()
        while self._current.is_op(":"):
            op = self._advance()
            right = self._unary()
            node = Binary(node.pos, ":", node, right, op.pos)
        return node

    def _unary(self) -> Node:
        self._depth += 1
        try:
            if self._depth > _MAX_DEPTH:
                raise self._error("Formula is nested too deeply", self._current.pos)
            if self._current.is_op("-"):
                op = self._advance()
                return Unary(op.pos, "-", self._unary())
            return self._power()
        finally:
            self._depth -= 1

    def _power(self) -> Node:
        base = self._primary()
        if self._current.is_op("^", "**"):
            op = self._advance()
            exponent = self._unary()
            return Binary(base.pos, "**", base, exponent, op.pos)
        return base

    def _primary(self) -> Node:
        token = self._current
        if token.kind == "name":
            self._advance()
            if self._current.is_op("("):
                self._check_function_name(token)
                return self._call(token)
            return Name(token.pos, token.value, token.quoted)
        if token.kind == "number":
            self._advance()
            return Number(token.pos, token.value)
        if token.kind == "string":
            self._advance()
            return String(token.pos, token.value)
        if token.is_op("("):
            return self._parenthesised()
        if token.is_op("[") and self._call_depth > 0:
            return self._list()
        if token.is_op("["):
            raise self._error(
                "Lists are only allowed as function arguments",
                token.pos,
                hint='For example C(g, levels=["b", "a"]).',
            )
        raise self._unexpected(token)

    def _check_function_name(self, token: Token) -> None:
        """Refuse at once calls that can never be allowed (dunder names, attribute access).

        Whether an allowed function may be used where it stands is checked later by the
        resolver.
        """
        name = token.value
        if name.startswith("__") or "." in name:
            reason = ": attribute access is not supported" if "." in name else ""
            raise self._error(
                f"Function '{name}' is not allowed{reason}", token.pos, hint=FUNCTION_HINT
            )

    def _close(self, opening: Token, closing: str, expected: str) -> None:
        """Consume ``closing`` or fail (an unmatched opening if the formula ends)."""
        token = self._current
        if token.is_op(closing):
            self._advance()
            return
        if token.kind == "eof":
            raise self._error(
                f"Unmatched '{opening.value}'",
                opening.pos,
                hint=f"Close it with '{closing}'.",
            )
        if token.is_op("|", "||"):
            raise self._unexpected(token)
        raise self._unexpected(token, expected=expected)

    def _parenthesised(self) -> Node:
        opening = self._advance()
        self._open["("] += 1
        try:
            return self._parenthesised_rest(opening)
        finally:
            self._open["("] -= 1

    def _parenthesised_rest(self, opening: Token) -> Node:
        token = self._current
        if token.is_op("|", "||"):
            raise self._error(
                "Empty left side of random-effect term",
                token.pos,
                hint="Write what varies by group left of the bar, e.g. (1 | g) or (1 + x | g).",
            )
        if token.is_op(")"):
            raise self._error("Empty parentheses", token.pos)
        inner = self._sum()
        bar = self._current
        if not bar.is_op("|", "||"):
            self._close(opening, ")", "')'")
            return Group(opening.pos, inner)
        if self._call_depth > 0:
            raise self._error(
                "Random-effect term inside a function call", opening.pos, hint=RANDOM_HINT
            )
        self._advance()
        if self._current.is_op(")"):
            raise self._error(
                "Empty grouping side of random-effect term",
                self._current.pos,
                hint="Name the grouping variable right of the bar, e.g. (1 | g).",
            )
        rhs = self._sum()
        if self._current.is_op("|", "||"):
            raise self._error(
                f"Second '{self._current.value}' in a random-effect term",
                self._current.pos,
                hint="A random-effect term has one bar: (terms | grouping).",
            )
        self._close(opening, ")", "')'")
        return Random(opening.pos, inner, rhs, bar.value == "|", bar.pos)

    def _call(self, name: Token) -> Call:
        opening = self._advance()
        args: list[Node] = []
        kwargs: list[Keyword] = []
        self._call_depth += 1
        self._open["("] += 1
        try:
            if self._current.is_op(")"):
                self._advance()
                return Call(name.pos, name.value, (), ())
            while True:
                token = self._current
                if token.kind == "name" and self.tokens[self._index + 1].is_op("="):
                    self._advance()
                    self._advance()
                    if any(kw.name == token.value for kw in kwargs):
                        raise self._error(f"Keyword '{token.value}' given twice", token.pos)
                    kwargs.append(Keyword(token.pos, token.value, self._argument()))
                else:
                    if kwargs:
                        raise self._error("Positional argument after keyword argument", token.pos)
                    args.append(self._argument())
                if self._current.is_op(","):
                    self._advance()
                    continue
                self._close(opening, ")", "',' or ')'")
                return Call(name.pos, name.value, tuple(args), tuple(kwargs))
        finally:
            self._call_depth -= 1
            self._open["("] -= 1

    def _argument(self) -> Node:
        node = self._sum()
        if self._current.is_op("|", "||"):
            raise self._error(
                f"'{self._current.value}' inside a function call",
                self._current.pos,
                hint=RANDOM_HINT,
            )
        return node

    def _list(self) -> ListExpr:
        opening = self._advance()
        self._open["["] += 1
        try:
            items: list[Node] = []
            if self._current.is_op("]"):
                self._advance()
                return ListExpr(opening.pos, ())
            while True:
                items.append(self._argument())
                if self._current.is_op(","):
                    self._advance()
                    continue
                self._close(opening, "]", "',' or ']'")
                return ListExpr(opening.pos, tuple(items))
        finally:
            self._open["["] -= 1


def parse_expression(text: str) -> Node:
    """Parse ``text`` as a single expression (no ``~``), e.g. a canonical term.

    Examples
    --------
    >>> node = parse_expression("a : b")
    >>> node.op, node.op_pos, canonical(node)
    (':', 2, 'a:b')
    """
    return Parser(Scanner(text).scan()).parse_expression()
