"""Turn a parsed formula tree into the :class:`~mixedfit.formula.terms.Formula` description.

The resolver applies lme4's meaning to the syntax tree:

* the right side is split into ``+``-separated terms (parentheses without a bar are
  opened: ``y ~ (a + b)`` is ``y ~ a + b``);
* ``1``, ``0``, ``- 1`` set the intercept; any other ``- term`` is refused;
* ``offset(expr)`` terms become offsets;
* random-effect terms are expanded: ``(1 | a/b)`` is ``(1 | a) + (1 | a:b)``;
* duplicated terms are refused;
* only the functions in :data:`ALLOWED_FUNCTIONS` may be called, because the formula
  is evaluated later by formulae; keyword values must be literals, strings may not
  enter arithmetic, and powers of constants are limited (``I(9 ** 9 ** 9)`` would
  otherwise compute a huge integer).

Examples
--------
>>> from mixedfit.formula.parser import Parser
>>> from mixedfit.formula.scanner import Scanner
>>> Resolver(Parser(Scanner("y ~ x - 1").scan()).parse()).resolve().intercept
False
"""

from __future__ import annotations

from decimal import Decimal

from mixedfit.errors import FormulaError
from mixedfit.formula.parser import (
    ALLOWED_FUNCTIONS,
    FUNCTION_HINT,
    Binary,
    Call,
    FormulaTree,
    Group,
    ListExpr,
    Name,
    Node,
    Number,
    Random,
    String,
    Unary,
    canonical,
    parse_expression,
)
from mixedfit.formula.terms import Formula, RandomTerm
from mixedfit.formula.variables import collect_variables, expression_variables

__all__ = [
    "ALLOWED_FUNCTIONS",
    "CONTRASTS",
    "Resolver",
    "expression_variables",
    "collect_variables",
]

#: Contrast codings that may be named (bare or called with literals) inside ``C(...)``.
CONTRASTS: frozenset[str] = frozenset({"Treatment", "Sum"})

_C_KEYWORDS = frozenset({"levels", "ref", "contrast"})

#: Largest exponent allowed in a power of two numbers (``10 ** 3``); see ``_check_power``.
MAX_CONSTANT_EXPONENT = 1000
_REMOVE_HINT = "Only '- 1' (remove the intercept) is supported; leave the term out instead."


_GROUP_HINT = "Group by names joined with ':' or '/', e.g. (1 | g), (1 | a:b) or (1 | a/b)."
_RANDOM_TERM_HINT = (
    "Random-effect terms are written in parentheses as separate terms joined with '+', "
    "like y ~ x + (1 + x | g)."
)

#: A signed term of a ``+``/``-`` chain: (negated, position of its sign, node).
_Signed = tuple[bool, int, Node]


class Resolver:
    """Resolve a :class:`~mixedfit.formula.parser.FormulaTree` into a ``Formula``.

    Parameters
    ----------
    tree : FormulaTree
        Output of :meth:`Parser.parse`.
    """

    def __init__(self, tree: FormulaTree) -> None:
        self.tree = tree
        self.text = tree.text

    def _error(self, message: str, pos: int, hint: str | None = None) -> FormulaError:
        return FormulaError(message, formula=self.text, position=pos, hint=hint)

    # ------------------------------------------------------------------ entry point

    def resolve(self) -> Formula:
        """Build the formula description.

        Returns
        -------
        Formula

        Raises
        ------
        FormulaError
            On a term lme4 does not accept, a forbidden function, or a duplicate.
        """
        response = None if self.tree.lhs is None else self._response(self.tree.lhs)

        intercept: bool | None = None
        fixed: list[str] = []
        offsets: list[str] = []
        random: list[RandomTerm] = []
        seen_random: set[tuple[frozenset[object], bool, tuple[str, ...]]] = set()
        fixed_keys: dict[object, str] = {}

        for negated, sign_pos, node in self._flatten(self.tree.rhs):
            marker = self._intercept_marker(node, negated)
            if marker is not None:
                if intercept is not None:
                    raise self._error(
                        "The intercept is specified more than once",
                        sign_pos,
                        hint="Write '1 +' to keep it or '0 +' to remove it, once.",
                    )
                intercept = marker
                continue
            if negated:
                raise self._error(
                    f"Removing the term '{canonical(node)}' with '-' is not supported",
                    sign_pos,
                    hint=_REMOVE_HINT,
                )
            if isinstance(node, Random):
                for term in self._random(node):
                    key = (frozenset(_text_key(t) for t in term.terms), term.intercept,
                           term.group)
                    if key in seen_random:
                        raise self._error(
                            f"duplicate random-effect term {term}",
                            node.pos,
                            hint="Each random-effect term may appear only once "
                            "(nested grouping a/b already includes (... | a)).",
                        )
                    seen_random.add(key)
                    random.append(term)
            elif isinstance(node, Call) and node.func == "offset":
                self._check_call(node, where="fixed", top=True)
                text = canonical(node.args[0])
                if text in offsets:
                    raise self._error(f"duplicate offset '{text}'", node.pos)
                offsets.append(text)
            else:
                self._check_term(node, where="fixed")
                text = canonical(node)
                key = _term_key(node)
                if key in fixed_keys:
                    same = fixed_keys[key]
                    raise self._error(
                        f"duplicate fixed-effect term '{text}'"
                        + ("" if same == text else f" (the same as '{same}')"),
                        node.pos,
                        hint="Each term may appear only once.",
                    )
                fixed_keys[key] = text
                fixed.append(text)

        return Formula(
            response=response,
            fixed=tuple(fixed),
            intercept=True if intercept is None else intercept,
            offsets=tuple(offsets),
            random=tuple(random),
        )

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def _flatten(node: Node) -> list[_Signed]:
        """Split a ``+``/``-`` chain into signed terms, opening plain parentheses."""
        out: list[_Signed] = []
        stack: list[tuple[Node, bool, int | None]] = [(node, False, None)]
        while stack:
            node, negated, sign_pos = stack.pop()
            if isinstance(node, Binary) and node.op in ("+", "-"):
                minus = node.op == "-"
                stack.append((node.right, negated != minus, node.op_pos if minus else None))
                stack.append((node.left, negated, sign_pos))
            elif isinstance(node, Unary):
                stack.append((node.operand, not negated, node.pos))
            elif isinstance(node, Group):
                stack.append((node.inner, negated, sign_pos))
            else:
                out.append((negated, node.pos if sign_pos is None else sign_pos, node))
        return out

    @staticmethod
    def _intercept_marker(node: Node, negated: bool) -> bool | None:
        """``True``/``False`` if the term is an intercept marker (1, 0, -1, -0), else None."""
        if not isinstance(node, Number):
            return None
        value = Decimal(node.text)
        if value not in (0, 1):
            return None
        return (value == 1) != negated

    def _response(self, node: Node) -> str:
        random = _find_random(node)
        if random is not None:
            raise self._error(
                "A random-effect term cannot be on the left side of '~'",
                random.pos,
                hint="Put random-effect terms right of '~', e.g. y ~ x + (1 | g).",
            )
        while isinstance(node, Group):
            node = node.inner
        if isinstance(node, Name) and not node.is_constant:
            return canonical(node)
        if isinstance(node, Call):
            self._check_call(node, where="response", top=True)
            return canonical(node)
        pos = node.op_pos if isinstance(node, Binary) else node.pos
        raise self._error(
            "The response must be a variable or a function call",
            pos,
            hint="Wrap arithmetic in I(...), e.g. I(y1 + y2) ~ x, or log(y) ~ x.",
        )

    # ------------------------------------------------------------------ random terms

    def _random(self, node: Random) -> list[RandomTerm]:
        intercept: bool | None = None
        terms: list[str] = []
        for negated, sign_pos, term in self._flatten(node.lhs):
            marker = self._intercept_marker(term, negated)
            if marker is not None:
                if intercept is not None:
                    raise self._error(
                        "The intercept of a random-effect term is specified more than once",
                        sign_pos,
                    )
                intercept = marker
                continue
            if negated:
                raise self._error(
                    f"Removing the term '{canonical(term)}' with '-' is not supported",
                    sign_pos,
                    hint=_REMOVE_HINT,
                )
            self._check_term(term, where="random")
            text = canonical(term)
            same = [t for t in terms if _text_key(t) == _term_key(term)]
            if same:
                extra = "" if same[0] == text else f" (the same as '{same[0]}')"
                raise self._error(f"duplicate term '{text}' in random-effect term{extra}",
                                  term.pos)
            terms.append(text)
        has_intercept = True if intercept is None else intercept
        if not terms and not has_intercept:
            raise self._error(
                "Random-effect term has nothing left of the bar",
                node.lhs.pos,
                hint="Use (1 | g) for a random intercept or (0 + x | g) for a slope only.",
            )
        groups: list[tuple[str, ...]] = []
        current: tuple[str, ...] = ()
        for factor in self._group_factors(node.rhs):
            for name, pos in factor:
                if name in current:
                    raise self._error(f"Grouping variable '{name}' is repeated", pos)
                current += (name,)
            groups.append(current)
        return [RandomTerm(tuple(terms), has_intercept, group, node.correlated) for group in groups]

    def _group_factors(self, node: Node) -> list[list[tuple[str, int]]]:
        """Factors of ``a:b/c`` as [[a, b], [c]] (names with their positions)."""
        if isinstance(node, Binary) and node.op == "/":
            return self._group_factors(node.left) + self._group_factors(node.right)
        return [self._group_names(node)]

    def _group_names(self, node: Node) -> list[tuple[str, int]]:
        if isinstance(node, Binary) and node.op == ":":
            return self._group_names(node.left) + self._group_names(node.right)
        if isinstance(node, Name) and not node.is_constant:
            return [(node.name, node.pos)]
        if (isinstance(node, Call) and node.func == "factor" and len(node.args) == 1
                and not node.kwargs and isinstance(node.args[0], Name)
                and not node.args[0].is_constant):
            # (1 | factor(g)) as lme4 users write it: a grouping column is a factor anyway
            return [(node.args[0].name, node.args[0].pos)]
        if isinstance(node, Random):
            raise self._error("Random-effect terms cannot be nested", node.pos, hint=_GROUP_HINT)
        pos = node.op_pos if isinstance(node, Binary) else node.pos
        found = node.op if isinstance(node, Binary) else canonical(node)
        raise self._error(
            f"The grouping side of a random-effect term may only contain variable names "
            f"joined by ':' or '/' (found '{found}')",
            pos,
            hint=_GROUP_HINT,
        )

    # ------------------------------------------------------------------ validation

    def _check_term(self, node: Node, where: str, in_group: bool = False) -> None:
        """Check a term used with formula operators (``+ * / : **``)."""
        if isinstance(node, Name):
            if node.is_constant:
                raise self._error(f"'{node.name}' is not a valid term", node.pos)
            return
        if isinstance(node, Call):
            self._check_call(node, where)
            return
        if isinstance(node, Group):
            self._check_term(node.inner, where, in_group=True)
            return
        if isinstance(node, Random):
            if where == "random":
                raise self._error(
                    "Random-effect terms cannot be nested", node.pos, hint=_RANDOM_TERM_HINT
                )
            raise self._error(
                "A random-effect term must be a separate term joined with '+'",
                node.pos,
                hint=_RANDOM_TERM_HINT,
            )
        if isinstance(node, Binary):
            if node.op == "-":
                raise self._error(
                    "Removing terms with '-' is not supported here",
                    node.op_pos,
                    hint=_REMOVE_HINT,
                )
            if node.op == "+" and not in_group:  # pragma: no cover - flattened before
                raise self._error("Unexpected '+'", node.op_pos)
            self._check_term(node.left, where, in_group)
            if node.op == "**":
                right = node.right
                if not (
                    isinstance(right, Number) and right.text.isdigit() and int(right.text) >= 2
                ):
                    raise self._error(
                        "The power of a term must be a whole number of at least 2",
                        right.pos,
                        hint="(a + b)^2 means all interactions up to order 2; "
                        "to square a number use I(x**2).",
                    )
                return
            self._check_term(node.right, where, in_group)
            return
        if isinstance(node, Unary):
            raise self._error("Unexpected '-' inside a term", node.pos, hint=_REMOVE_HINT)
        if isinstance(node, Number):
            raise self._error(
                f"The number {node.text} cannot be a term",
                node.pos,
                hint="Only 1 and 0 (intercept) are numbers allowed as terms; "
                "use I(...) for arithmetic.",
            )
        kind = "string" if isinstance(node, String) else "list"
        raise self._error(f"A {kind} cannot be a term", node.pos)

    def _check_expr(self, node: Node, where: str) -> None:
        """Check an expression inside a function call (Python-like arithmetic)."""
        if isinstance(node, (Name, Number)):
            return
        if isinstance(node, String):
            raise self._error(
                "A string can only be a keyword value or a contrast level, not part of an "
                "expression",
                node.pos,
                hint='For example C(g, levels=["b", "a"]) or C(g, Treatment("b")).',
            )
        if isinstance(node, Unary):
            self._check_expr(node.operand, where)
            return
        if isinstance(node, Group):
            self._check_expr(node.inner, where)
            return
        if isinstance(node, Binary):
            if node.op == ":":
                raise self._error(
                    "':' cannot be used inside a function call",
                    node.op_pos,
                    hint="Use '*' for a product inside I(...), e.g. I(a * b).",
                )
            if node.op == "**":
                self._check_power(node)
            self._check_expr(node.left, where)
            self._check_expr(node.right, where)
            return
        if isinstance(node, Call):
            self._check_call(node, where)
            return
        if isinstance(node, Random):
            raise self._error(
                "A random-effect term cannot be inside a function call",
                node.pos,
                hint=_RANDOM_TERM_HINT,
            )
        raise self._error(
            'Lists are only allowed as keyword values, e.g. C(g, levels=["b", "a"])',
            node.pos,
        )

    def _check_power(self, node: Binary) -> None:
        """Refuse powers of constants that Python would compute as huge integers.

        ``I(9 ** 9 ** 9)`` is evaluated with Python integers and would run for minutes;
        a power of a number is only allowed between two plain numbers with a small
        exponent (``I(x / 10 ** 3)``), while powers of data columns (``I(x ** 2)``,
        ``I(2 ** x)``) are computed by numpy and are always allowed.
        """
        if not _is_constant(node.left):
            return
        exponent = _plain_number(node.right)
        if _is_constant(node.right) and (
            _plain_number(node.left) is None
            or exponent is None
            or abs(exponent) > MAX_CONSTANT_EXPONENT
        ):
            raise self._error(
                "A power of constants must be written as one number to a small power",
                node.op_pos,
                hint=f"Compute the constant yourself; exponents of numbers are limited to "
                f"+/-{MAX_CONSTANT_EXPONENT}.",
            )
        if not _is_constant(node.right) and _plain_number(node.left) is None:
            raise self._error(
                "The base of a power must be a column or a plain number",
                node.left.pos,
                hint="For example I(2 ** x) or I(x ** 2).",
            )

    def _check_call(self, node: Call, where: str, top: bool = False) -> None:
        name = node.func
        if "." in name:
            raise self._error(
                f"Function '{name}' is not allowed: attribute access is not supported",
                node.pos,
                hint=FUNCTION_HINT,
            )
        if name not in ALLOWED_FUNCTIONS:
            raise self._error(f"Function '{name}' is not allowed", node.pos, hint=FUNCTION_HINT)
        if name == "offset" and not (where == "fixed" and top):
            raise self._error(
                "offset() must be a separate term of the fixed part",
                node.pos,
                hint="For example y ~ x + offset(log(exposure)).",
            )
        if name == "cbind" and not (where == "response" and top):
            raise self._error(
                "cbind() is only allowed as the whole response",
                node.pos,
                hint="For example cbind(successes, failures) ~ x.",
            )
        if not node.args:
            raise self._error(f"{name}() needs an argument", node.pos)
        if name in ("offset", "cbind"):
            count = 1 if name == "offset" else 2
            if len(node.args) != count or node.kwargs:
                word = "one argument" if count == 1 else "two arguments"
                raise self._error(f"{name}() takes exactly {word}", node.pos)
        if name == "C":
            self._check_c(node, where)
            return
        if name == "factor":
            self._check_factor(node, where)
            return
        for arg in node.args:
            self._check_expr(arg, where)
        for kw in node.kwargs:
            self._check_keyword_name(kw.name, kw.pos)
            self._check_literal(kw.value, f"keyword argument '{kw.name}'")

    def _check_keyword_name(self, name: str, pos: int) -> None:
        if name.startswith("__") or "." in name:
            raise self._error(f"Keyword '{name}' is not allowed", pos)

    def _check_c(self, node: Call, where: str) -> None:
        self._check_expr(node.args[0], where)
        if len(node.args) > 2:
            raise self._error("C() takes at most two positional arguments", node.args[2].pos)
        if len(node.args) == 2:
            self._check_contrast(node.args[1])
        for kw in node.kwargs:
            if kw.name not in _C_KEYWORDS:
                raise self._error(
                    f"C() does not accept the keyword '{kw.name}'",
                    kw.pos,
                    hint="Allowed keywords: " + ", ".join(sorted(_C_KEYWORDS)) + ".",
                )
            if kw.name == "contrast":
                self._check_contrast(kw.value)
            else:
                self._check_literal(kw.value, f"keyword argument '{kw.name}'")

    def _check_factor(self, node: Call, where: str) -> None:
        """``factor(x)``, as lme4 users write it: the same as ``C(x)``."""
        self._check_expr(node.args[0], where)
        hint = ("factor(g) makes g a factor, as C(g) does (the first level the reference); "
                "for another reference level or contrasts use C(g, Treatment('b')) or "
                "C(g, Sum).")
        if len(node.args) > 1:
            raise self._error("factor() takes one argument", node.args[1].pos, hint=hint)
        if node.kwargs:
            raise self._error(f"factor() does not accept the keyword '{node.kwargs[0].name}'",
                              node.kwargs[0].pos, hint=hint)

    def _check_contrast(self, node: Node) -> None:
        hint = 'Use Treatment or Sum, e.g. C(g, Treatment("b")) or C(g, Sum).'
        if isinstance(node, Name) and not node.quoted and node.name in CONTRASTS:
            return
        if isinstance(node, Call):
            if node.func not in CONTRASTS:
                raise self._error(
                    f"Function '{node.func}' is not allowed as a contrast", node.pos, hint=hint
                )
            if node.kwargs:
                raise self._error(
                    f"{node.func}() takes no keyword arguments", node.kwargs[0].pos, hint=hint
                )
            for arg in node.args:
                self._check_literal(arg, f"argument of {node.func}()")
            return
        raise self._error("Not a contrast", node.pos, hint=hint)

    def _check_literal(self, node: Node, what: str) -> None:
        if isinstance(node, (Number, String)):
            return
        if isinstance(node, Name) and node.is_constant:
            return
        if isinstance(node, Unary) and isinstance(node.operand, Number):
            return
        if isinstance(node, ListExpr):
            for item in node.items:
                self._check_literal(item, what)
            return
        if isinstance(node, Call):
            raise self._error(
                f"Function '{node.func}' is not allowed in {what}", node.pos, hint=FUNCTION_HINT
            )
        raise self._error(f"The {what} must be a literal (number, string or list)", node.pos)


def _term_key(node: Node) -> object:
    """What makes two terms the same: ``a:b`` and ``b:a`` (or ``a*b`` and ``b*a``) are.

    A chain of ``:`` (or of ``*``) is compared as the set of its factors; any other term
    by its canonical text.
    """
    for op in (":", "*"):
        if isinstance(node, Binary) and node.op == op:
            factors: list[Node] = []
            stack: list[Node] = [node]
            while stack:
                item = stack.pop()
                if isinstance(item, Binary) and item.op == op:
                    stack.extend((item.left, item.right))
                else:
                    factors.append(item)
            return (op, frozenset(_term_key(f) for f in factors))
    return canonical(node)


def _text_key(text: str) -> object:
    """:func:`_term_key` of a canonical term."""
    return _term_key(parse_expression(text))


def _is_constant(node: Node) -> bool:
    """True when ``node`` mentions no data column (only numbers, strings and constants)."""
    return not collect_variables(node) and not _find_call(node)


def _find_call(node: Node) -> bool:
    """True when a function call appears anywhere under ``node``."""
    if isinstance(node, Call):
        return True
    if isinstance(node, Binary):
        return _find_call(node.left) or _find_call(node.right)
    if isinstance(node, Unary):
        return _find_call(node.operand)
    if isinstance(node, Group):
        return _find_call(node.inner)
    return False


def _plain_number(node: Node) -> Decimal | None:
    """The value of a number literal, optionally negated or in parentheses; else None."""
    while isinstance(node, Group):
        node = node.inner
    if isinstance(node, Unary) and node.op == "-":
        inner = _plain_number(node.operand)
        return None if inner is None else -inner
    if isinstance(node, Number):
        return Decimal(node.text)
    return None


def _find_random(node: Node) -> Random | None:
    """First random-effect node anywhere under ``node``, or None."""
    if isinstance(node, Random):
        return node
    children: tuple[Node, ...] = ()
    if isinstance(node, Binary):
        children = (node.left, node.right)
    elif isinstance(node, (Unary,)):
        children = (node.operand,)
    elif isinstance(node, Group):
        children = (node.inner,)
    elif isinstance(node, Call):
        children = node.args + tuple(kw.value for kw in node.kwargs)
    elif isinstance(node, ListExpr):
        children = node.items
    for child in children:
        found = _find_random(child)
        if found is not None:
            return found
    return None

