"""Tests of the pure formula layer: scanner, parser, resolver and the description."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mixedfit.errors import FormulaError, InputTypeError, MixedFitError
from mixedfit.formula import ALLOWED_FUNCTIONS, Formula, RandomTerm, parse
from mixedfit.formula.parser import (
    Binary,
    Call,
    FormulaTree,
    Group,
    Name,
    Number,
    Parser,
    Random,
    Unary,
    canonical,
    parse_expression,
    quote_name,
)
from mixedfit.formula.resolver import expression_variables
from mixedfit.formula.scanner import Scanner


def rt(
    terms: tuple[str, ...] = (),
    group: tuple[str, ...] = ("g",),
    intercept: bool = True,
    correlated: bool = True,
) -> RandomTerm:
    return RandomTerm(terms=terms, intercept=intercept, group=group, correlated=correlated)


def caret_column(err: FormulaError) -> int:
    """Column of the caret under the formula line of the rendered message."""
    lines = str(err).splitlines()
    formula_line = lines.index("    " + err.formula)
    caret_line = lines[formula_line + 1]
    assert caret_line.strip() == "^"
    return caret_line.index("^") - 4


# --------------------------------------------------------------------------- scanner


class TestScanner:
    def test_tokens_and_positions(self) -> None:
        tokens = Scanner("Reaction ~ Days + (Days || Subject)").scan()
        got = [(t.kind, t.value, t.pos) for t in tokens]
        assert got == [
            ("name", "Reaction", 0),
            ("op", "~", 9),
            ("name", "Days", 11),
            ("op", "+", 16),
            ("op", "(", 18),
            ("name", "Days", 19),
            ("op", "||", 24),
            ("name", "Subject", 27),
            ("op", ")", 34),
            ("eof", "", 35),
        ]
        assert tokens.text == "Reaction ~ Days + (Days || Subject)"
        assert len(tokens) == 10

    def test_dotted_name_is_one_token(self) -> None:
        tokens = list(Scanner("Sepal.Length~.x").scan())
        assert [(t.kind, t.value) for t in tokens[:3]] == [
            ("name", "Sepal.Length"),
            ("op", "~"),
            ("name", ".x"),
        ]

    def test_backtick_name(self) -> None:
        token = Scanner("`my col`").scan()[0]
        assert (token.kind, token.value, token.pos, token.quoted) == ("name", "my col", 0, True)

    def test_numbers_and_strings(self) -> None:
        tokens = list(Scanner("1 2.50 .5 1e3 1.5E-2 'a' \"b c\"").scan())
        assert [(t.kind, t.value) for t in tokens[:-1]] == [
            ("number", "1"),
            ("number", "2.50"),
            ("number", "0.5"),
            ("number", "1000"),
            ("number", "0.015"),
            ("string", "a"),
            ("string", "b c"),
        ]

    def test_operators(self) -> None:
        text = "~ + - * / : ^ ** | || ( ) , = [ ]"
        values = [t.value for t in Scanner(text).scan() if t.kind == "op"]
        assert values == text.split()

    @pytest.mark.parametrize(
        ("text", "char", "pos"),
        [("y ~ x $ z", "$", 6), ("y ~ x %in% g", "%", 6), ("y~{x}", "{", 2), ("y ~ x > 1", ">", 6)],
    )
    def test_unexpected_character(self, text: str, char: str, pos: int) -> None:
        with pytest.raises(FormulaError, match=f"Unexpected character '\\{char}'") as info:
            Scanner(text).scan()
        assert info.value.position == pos
        assert caret_column(info.value) == pos

    @pytest.mark.parametrize(
        ("text", "words", "pos"),
        [
            ("y ~ `a b", "Unterminated backtick", 4),
            ("y ~ ``", "Empty backtick", 4),
            ("y ~ C(g, ref='a)", "Unterminated string", 13),
            ('y ~ C(g, ref="it\'s")', "Quote characters", 16),
            ("y ~ I(1e999*x)", "exponent", 6),
            ("y ~ .", "'.'", 4),
        ],
    )
    def test_scan_errors(self, text: str, words: str, pos: int) -> None:
        with pytest.raises(FormulaError, match=words) as info:
            parse(text)
        assert info.value.position == pos
        assert caret_column(info.value) == pos


# --------------------------------------------------------------------------- parser


class TestParser:
    @staticmethod
    def tree(text: str) -> FormulaTree:
        return Parser(Scanner(text).scan()).parse()

    def test_random_node(self) -> None:
        tree = self.tree("y ~ x + (1 + x || g)")
        assert tree.lhs == Name(0, "y")
        assert tree.tilde_pos == 2
        assert isinstance(tree.rhs, Binary) and tree.rhs.op == "+"
        random = tree.rhs.right
        assert isinstance(random, Random)
        assert random.pos == 8 and random.bar_pos == 15 and not random.correlated
        assert canonical(random.lhs) == "1+x"
        assert random.rhs == Name(18, "g")

    def test_no_lhs(self) -> None:
        tree = self.tree("~ x")
        assert tree.lhs is None and tree.rhs == Name(2, "x")

    def test_precedence(self) -> None:
        node = parse_expression("a + b:c*d")
        # '+' loosest, then '*', then ':'
        assert isinstance(node, Binary) and node.op == "+"
        right = node.right
        assert isinstance(right, Binary) and right.op == "*"
        assert isinstance(right.left, Binary) and right.left.op == ":"

    def test_power_binds_tighter_than_unary_minus(self) -> None:
        node = parse_expression("-x^2")
        assert isinstance(node, Unary)
        assert isinstance(node.operand, Binary) and node.operand.op == "**"
        node = parse_expression("x**-1")
        assert isinstance(node, Binary) and isinstance(node.right, Unary)
        node = parse_expression("a^b^c")  # right associative
        assert isinstance(node, Binary) and isinstance(node.right, Binary)

    def test_call_with_keywords_and_list(self) -> None:
        node = parse_expression('C(g, levels=["b", "a"])')
        assert isinstance(node, Call) and node.func == "C" and node.pos == 0
        assert node.args == (Name(2, "g"),)
        assert node.kwargs[0].name == "levels" and node.kwargs[0].pos == 5
        assert canonical(node) == 'C(g,levels=["b","a"])'

    def test_group_node(self) -> None:
        node = parse_expression("(a + b):c")
        assert isinstance(node, Binary) and isinstance(node.left, Group)
        assert node.left.pos == 0 and node.op_pos == 7

    def test_numbers(self) -> None:
        assert parse_expression("1.50") == Number(0, "1.50")

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("I(x ** 2)", "I(x**2)"),
            ("I(x ^ 2)", "I(x**2)"),
            ("a : b", "a:b"),
            ('C(g, levels=["b","a"])', 'C(g,levels=["b","a"])'),
            ("C(g, ref='a')", 'C(g,ref="a")'),
            ("C(g, Treatment('b'))", 'C(g,Treatment("b"))'),
            ("Sepal.Length", "`Sepal.Length`"),
            ("`my col`:x", "`my col`:x"),
            ("`x`", "x"),
            ("`True`", "`True`"),
            ("True", "True"),
            ("_x + `lambda`", "`_x`+`lambda`"),
            ("I(1e-3 * x - -1)", "I(0.001*x--1)"),
            ("log( x + 1 )", "log(x+1)"),
            ("(a + b) ^ 2", "(a+b)**2"),
        ],
    )
    def test_canonical_text(self, text: str, expected: str) -> None:
        assert canonical(parse_expression(text)) == expected

    def test_quote_name(self) -> None:
        assert quote_name("Days") == "Days"
        assert quote_name("x_1") == "x_1"
        assert quote_name("Sepal.Length") == "`Sepal.Length`"
        assert quote_name("my col") == "`my col`"
        assert quote_name("None") == "`None`"
        assert quote_name("für") == "`für`"


# --------------------------------------------------------------------------- resolving


class TestParse:
    def test_sleepstudy(self) -> None:
        f = parse("Reaction ~ Days + (Days | Subject)")
        assert f == Formula(
            response="Reaction",
            fixed=("Days",),
            intercept=True,
            offsets=(),
            random=(rt(("Days",), ("Subject",)),),
        )

    def test_is_frozen_and_hashable(self) -> None:
        f = parse("y ~ x + (1 | g)")
        assert hash(f) == hash(parse("y~x+(1|g)"))
        with pytest.raises(AttributeError):
            f.response = "z"  # type: ignore[misc]

    @pytest.mark.parametrize(
        ("a", "b"),
        [
            ("y ~ (1|a/b)", "y ~ (1|a) + (1|a:b)"),
            ("y ~ x + (x|g)", "y~x+(1+x|g)"),
            ("y ~ 0 + x", "y ~ x - 1"),
            ("y ~ 0 + x", "y ~ -1 + x"),
            ("y ~ 0 + x", "y ~ x + 0"),
            ("y ~ (0+x|g)", "y ~ (-1 + x | g)"),
            ("y ~ (0+x|g)", "y ~ (x - 1 | g)"),
            ("y ~ (x|a/b/c)", "y ~ (x|a) + (x|a:b) + (x|a:b:c)"),
            ("y ~ (1|a:b/c)", "y ~ (1|a:b) + (1|a:b:c)"),
            ("y ~ (1|a/b:c)", "y ~ (1|a) + (1|a:b:c)"),
            ("y ~ 1 + x", "y ~ x"),
            ("y ~ (a + b)", "y ~ a + b"),
            ("y ~ ((1 | g))", "y ~ (1 | g)"),
            ("y ~ I(x ^ 2)", "y ~ I(x**2)"),
            ("y ~ `x` + `Sepal.Length`", "y ~ x + Sepal.Length"),
            ("y ~ I(1e3 * x)", "y ~ I(1000*x)"),
            ("y ~ C(g, ref = 'a')", 'y ~ C(g,ref="a")'),
            ("y ~ -0 + x", "y ~ x"),
            ("(y) ~ x", "y ~ x"),
        ],
    )
    def test_equal_formulas(self, a: str, b: str) -> None:
        assert parse(a) == parse(b)

    @pytest.mark.parametrize(
        ("a", "b"),
        [
            ("y ~ x", "y ~ 0 + x"),
            ("y ~ (1 | g)", "y ~ (1 || g)"),
            ("y ~ (x | g)", "y ~ (0 + x | g)"),
            ("y ~ x + z", "y ~ z + x"),
            ("y ~ x", "~ x"),
        ],
    )
    def test_different_formulas(self, a: str, b: str) -> None:
        assert parse(a) != parse(b)

    @pytest.mark.parametrize(
        ("text", "random"),
        [
            ("y ~ (1 | g)", (rt(),)),
            ("y ~ (x | g)", (rt(("x",)),)),
            ("y ~ (1 + x | g)", (rt(("x",)),)),
            ("y ~ (0 + x | g)", (rt(("x",), intercept=False),)),
            ("y ~ (1 + x || g)", (rt(("x",), correlated=False),)),
            ("y ~ (0 + x || g)", (rt(("x",), intercept=False, correlated=False),)),
            ("y ~ (1 + x + z | g)", (rt(("x", "z")),)),
            ("y ~ (x*z | g)", (rt(("x*z",)),)),
            ("y ~ (log(x) + I(x^2) | g)", (rt(("log(x)", "I(x**2)")),)),
            ("y ~ (1 | a:b)", (rt(group=("a", "b")),)),
            ("y ~ (1 | a/b)", (rt(group=("a",)), rt(group=("a", "b")))),
            (
                "y ~ (x || a/b/c)",
                (
                    rt(("x",), ("a",), correlated=False),
                    rt(("x",), ("a", "b"), correlated=False),
                    rt(("x",), ("a", "b", "c"), correlated=False),
                ),
            ),
            ("y ~ (1 | a:b/c)", (rt(group=("a", "b")), rt(group=("a", "b", "c")))),
            ("y ~ (1 | g) + (0 + x | g)", (rt(), rt(("x",), intercept=False))),
            ("y ~ (1 | `site id`)", (rt(group=("site id",)),)),
            ("y ~ (`my x` | g)", (rt(("`my x`",)),)),
        ],
    )
    def test_random_terms(self, text: str, random: tuple[RandomTerm, ...]) -> None:
        assert parse(text).random == random

    @pytest.mark.parametrize(
        ("text", "fixed", "intercept"),
        [
            ("y ~ x", ("x",), True),
            ("y ~ 1 + x", ("x",), True),
            ("y ~ 0 + x + z", ("x", "z"), False),
            ("y ~ x - 1", ("x",), False),
            ("y ~ -1 + x", ("x",), False),
            ("y ~ x + 0", ("x",), False),
            ("y ~ 1", (), True),
            ("y ~ 0", (), False),
            ("y ~ (1 | g)", (), True),
            ("y ~ a*b + a:b2", ("a*b", "a:b2"), True),
            ("y ~ a / b", ("a/b",), True),
            ("y ~ (a + b)^2", ("(a+b)**2",), True),
            (
                "y ~ C(x) + scale(x) + I(x ** 2) + log(x) + center(x)",
                ("C(x)", "scale(x)", "I(x**2)", "log(x)", "center(x)"),
                True,
            ),
            ("y ~ poly(x, 2) + bs(x, df = 3)", ("poly(x,2)", "bs(x,df=3)"), True),
            (
                "y ~ standardize(x) + exp(x) + sqrt(x) + abs(x) + log2(x) + log10(x) + log1p(x)",
                (
                    "standardize(x)",
                    "exp(x)",
                    "sqrt(x)",
                    "abs(x)",
                    "log2(x)",
                    "log10(x)",
                    "log1p(x)",
                ),
                True,
            ),
            ("y ~ logit(p) + expit(q)", ("logit(p)", "expit(q)"), True),
            ('y ~ C(g, levels=["b","a"])', ('C(g,levels=["b","a"])',), True),
            ("y ~ factor(g) + factor( h ):x", ("factor(g)", "factor(h):x"), True),
            (
                "y ~ C(g, Sum) + C(h, Treatment('b')) + C(k, contrast=Sum('a'))",
                ("C(g,Sum)", 'C(h,Treatment("b"))', 'C(k,contrast=Sum("a"))'),
                True,
            ),
        ],
    )
    def test_fixed_terms(self, text: str, fixed: tuple[str, ...], intercept: bool) -> None:
        f = parse(text)
        assert f.fixed == fixed
        assert f.intercept is intercept

    @pytest.mark.parametrize(
        ("text", "response"),
        [
            ("Reaction ~ Days", "Reaction"),
            ("log(y) ~ x", "log(y)"),
            ("cbind(incidence, size - incidence) ~ period", "cbind(incidence,size-incidence)"),
            ("`my y` ~ x", "`my y`"),
            ("I(y1 + y2) ~ x", "I(y1+y2)"),
            ("~ x", None),
        ],
    )
    def test_response(self, text: str, response: str | None) -> None:
        assert parse(text).response == response

    def test_offsets(self) -> None:
        f = parse("y ~ x + offset(log(n)) + offset(z) + (1 | g)")
        assert f.offsets == ("log(n)", "z")
        assert f.fixed == ("x",)
        assert f.fixed_formula == "1 + x"
        assert "n" in f.variables

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("Reaction ~ Days + (Days | Subject)", "1 + Days"),
            ("y ~ 0 + x + z", "0 + x + z"),
            ("y ~ 1 + (1 | g)", "1"),
            ("y ~ (1 | g)", "1"),
            ("y ~ 0 + offset(z)", "0"),
            ("y ~ a*b + I(x^2)", "1 + a*b + I(x**2)"),
        ],
    )
    def test_fixed_formula(self, text: str, expected: str) -> None:
        assert parse(text).fixed_formula == expected

    def test_random_term_properties(self) -> None:
        a, b = parse("y ~ (Days | Subject) + (0 + x || a:b)").random
        assert (a.lhs, a.group_name, str(a)) == ("1 + Days", "Subject", "(1 + Days | Subject)")
        assert (b.lhs, b.group_name, str(b)) == ("0 + x", "a:b", "(0 + x || a:b)")
        c = parse("y ~ (1 | a:b)").random[0]
        assert (c.lhs, c.group_name, str(c)) == ("1", "a:b", "(1 | a:b)")
        d = parse("y ~ (1 | `site id`)").random[0]
        assert d.group_name == "site id"
        assert str(d) == "(1 | `site id`)"

    @pytest.mark.parametrize(
        ("text", "variables"),
        [
            ("Reaction ~ Days + (Days | Subject)", {"Reaction", "Days", "Subject"}),
            ("cbind(k, n - k) ~ x + (1 | a/b)", {"k", "n", "x", "a", "b"}),
            ("log(y) ~ I(x**2) + offset(log(t))", {"y", "x", "t"}),
            ('y ~ C(g, levels=["u", "v"]) + bs(x, df=3)', {"y", "g", "x"}),
            ("y ~ C(g, Treatment('lvl')) + C(h, contrast=Sum)", {"y", "g", "h"}),
            (
                "~ `my col` + Sepal.Length + (log(z) || site)",
                {"my col", "Sepal.Length", "z", "site"},
            ),
            ("y ~ a*b:c + (x*w | g)", {"y", "a", "b", "c", "x", "w", "g"}),
            ("y ~ poly(x, 2, raw=True)", {"y", "x"}),
            ("y ~ factor(yr) + (1 | factor(site))", {"y", "yr", "site"}),
        ],
    )
    def test_variables(self, text: str, variables: set[str]) -> None:
        assert parse(text).variables == variables

    def test_expression_variables(self) -> None:
        assert expression_variables("I(a*b--1)") == {"a", "b"}

    def test_allowed_functions(self) -> None:
        assert {"C", "I", "log", "offset", "cbind", "scale"} <= ALLOWED_FUNCTIONS
        assert "eval" not in ALLOWED_FUNCTIONS

    def test_not_a_string(self) -> None:
        with pytest.raises(InputTypeError):
            parse(3)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- str round trip


ROUND_TRIP = [
    "Reaction ~ Days + (Days | Subject)",
    "y ~ x + (1 | a/b/c)",
    "y ~ 0 + x + (0 + x || g) + (1 | g)",
    "~ x",
    "y ~ 1",
    "y ~ 0",
    "log(y) ~ I(x^2) + C(g, levels=['b', 'a']) + offset(log(n))",
    "cbind(incidence, size - incidence) ~ period + (1 | herd)",
    "`my y` ~ `my x` + Sepal.Length + (1 + `my x` | `site id`:block)",
    "y ~ (a + b)^2 + a/b + poly(x, 2) + bs(x, df=4) + C(g, Treatment('b'))",
    "y ~ I(1e-3 * x) + I(-x) + I(x - -1) + (log(z) + I(z**2) || g)",
]


@pytest.mark.parametrize("text", ROUND_TRIP)
def test_str_round_trip(text: str) -> None:
    f = parse(text)
    assert parse(str(f)) == f
    assert str(parse(str(f))) == str(f)


def test_str_examples() -> None:
    assert str(parse("Reaction~Days+(Days|Subject)")) == (
        "Reaction ~ 1 + Days + (1 + Days | Subject)"
    )
    assert str(parse("~ 0 + x + offset(t)")) == "~ 0 + x + offset(t)"
    assert str(parse("y ~ (1|a/b)")) == "y ~ 1 + (1 | a) + (1 | a:b)"


# --------------------------------------------------------------------------- errors


ERRORS = [
    # (formula, words in the message, caret position)
    ("", "Empty formula", 0),
    ("   ", "Empty formula", 0),
    ("y", "no '~'", 1),
    ("y ~", "Nothing after '~'", 2),
    ("y ~ x ~ z", "More than one '~'", 6),
    ("~ ~ x", "More than one '~'", 2),
    ("y ~ x +", "ends with operator '+'", 6),
    ("y ~ x + + z", "Unexpected '+' after '+'", 8),
    ("y ~ x * / z", "Unexpected '/' after '*'", 8),
    ("y ~ (x + )", "Missing term after '+'", 9),
    ("y ~ log(x,)", "Missing term after ','", 10),
    ("y ~ (x + z", "Unmatched '('", 4),
    ("y ~ log(x", "Unmatched '('", 7),
    ("y ~ x)", "Unmatched ')'", 5),
    ("y ~ (x)]", "Unmatched ']'", 7),
    ("y ~ (x z)", "Unexpected name 'z'", 7),
    ("y ~ ()", "Empty parentheses", 5),
    ("y ~ ( | g)", "Empty left side", 6),
    ("y ~ (1 | )", "Empty grouping side", 9),
    ("y ~ (0 | g)", "nothing left of the bar", 5),
    ("y ~ (1 | g | h)", "Second '|'", 11),
    ("y ~ (1 + (1 | h) | g)", "cannot be nested", 9),
    ("y ~ (1 | (1 | h))", "cannot be nested", 9),
    ("y ~ log((1 | g))", "inside a function call", 8),
    ("y ~ log(1 | g)", "'|' inside a function call", 10),
    ("y ~ 1 | g", "Unexpected '|'", 6),
    ("y ~ x + 1 || g", "Unexpected '||'", 10),
    ("(1 | g) ~ x", "left side of '~'", 0),
    ("y + (1 | g) ~ x", "left side of '~'", 4),
    ("y + z ~ x", "response must be", 2),
    ("2 ~ x", "response must be", 0),
    ("y ~ (1 | g) * x", "separate term", 4),
    ("y ~ x:(1 | g)", "separate term", 6),
    ("y ~ (1 | g) + (1 | g)", "duplicate random-effect term (1 | g)", 14),
    ("y ~ (1 | a/b) + (1 | a)", "duplicate random-effect term (1 | a)", 16),
    ("y ~ (1 | a) + (1 | a/b)", "duplicate random-effect term (1 | a)", 14),
    ("y ~ (1 | g) + (1 || g)", "duplicate random-effect term", 14),
    ("y ~ (x + z | g) + (z + x | g)", "duplicate random-effect term", 18),
    ("y ~ x + x", "duplicate fixed-effect term 'x'", 8),
    ("y ~ a:b + z + a : b", "duplicate fixed-effect term 'a:b'", 14),
    ("y ~ (x + x | g)", "duplicate term 'x'", 9),
    ("y ~ offset(t) + offset(t)", "duplicate offset", 16),
    ("y ~ x - z", "Removing the term 'z'", 6),
    ("y ~ -x + z", "Removing the term 'x'", 4),
    ("y ~ (x - z | g)", "Removing the term 'z'", 7),
    ("y ~ (a + b - c):d", "not supported", 11),
    ("y ~ -x:z", "Unexpected '-'", 4),
    ("y ~ 1 + x + 1", "more than once", 12),
    ("y ~ 0 + x - 1", "more than once", 10),
    ("y ~ (1 + x + 0 + z | g)", "more than once", 13),
    ("y ~ 2", "number 2 cannot be a term", 4),
    ("y ~ 1:x", "cannot be a term", 4),
    ("y ~ 'a'", "string cannot be a term", 4),
    ("y ~ x^z", "whole number of at least 2", 6),
    ("y ~ x^1.5", "whole number of at least 2", 6),
    ("y ~ (a + b)^2.0", "whole number of at least 2", 12),
    ("y ~ (a + b)^1", "whole number of at least 2", 12),
    ("y ~ True", "not a valid term", 4),
    ("y ~ (1 | g + h)", "only contain variable names", 11),
    ("y ~ (1 | log(g))", "only contain variable names", 9),
    ("y ~ (1 | 2)", "only contain variable names", 9),
    ("y ~ (1 | a*b)", "only contain variable names", 10),
    ("y ~ (1 | (a/b))", "only contain variable names", 9),
    ("y ~ (1 | a:a)", "repeated", 11),
    ("y ~ [1, 2]", "Lists are only allowed", 4),
    ("y ~ log([1, 2])", "Lists are only allowed as keyword values", 8),
    ("y ~ x = 1", "Unexpected '='", 6),
    ("y ~ f(a=1, 2)", "Positional argument after keyword", 11),
    ("y ~ log(x, base=1, base=2)", "given twice", 19),
    ("y ~ C(g, foo=1)", "does not accept the keyword 'foo'", 9),
    ("y ~ C(g, Sum, 1)", "at most two positional", 14),
    ("y ~ C(g, lvls)", "Not a contrast", 9),
    ("y ~ C(g, Treatment(ref='a'))", "takes no keyword", 19),
    ("y ~ C(g, Treatment(x))", "must be a literal", 19),
    ("y ~ C(g, levels=lv)", "must be a literal", 16),
    ("y ~ bs(x, df=k)", "must be a literal", 13),
    ("y ~ factor(g, Sum)", "factor() takes one argument", 14),
    ('y ~ factor(g, levels=["b", "a"])', "does not accept the keyword 'levels'", 14),
    ("y ~ I(a:b)", "':' cannot be used inside a function call", 7),
    ("y ~ log()", "needs an argument", 4),
    ("y ~ offset(a, b)", "exactly one argument", 4),
    ("cbind(a) ~ x", "exactly two arguments", 0),
    ("y ~ log(offset(x))", "offset() must be a separate term", 8),
    ("y ~ (offset(x) | g)", "offset() must be a separate term", 5),
    ("y ~ offset(x):z", "offset() must be a separate term", 4),
    ("y ~ cbind(a, b)", "cbind() is only allowed as the whole response", 4),
    ("log(cbind(a, b)) ~ x", "cbind() is only allowed as the whole response", 4),
    (
        "y ~ ((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((x))))))))))))))))))"
        "))))))))))))))))))))))))))))))))))))))))))))))))",
        "nested too deeply",
        64,
    ),
]


@pytest.mark.parametrize(("text", "words", "pos"), ERRORS)
def test_errors(text: str, words: str, pos: int) -> None:
    with pytest.raises(FormulaError) as info:
        parse(text)
    err = info.value
    assert isinstance(err, ValueError) and isinstance(err, MixedFitError)
    assert words in err.message
    assert err.formula == text
    assert err.position == pos
    assert caret_column(err) == pos


def test_random_hint_in_bar_errors() -> None:
    for text in ("y ~ 1 | g", "y ~ log(1 | g)", "y ~ x + (1|g) + 1 || g"):
        with pytest.raises(FormulaError) as info:
            parse(text)
        assert "(1 + x | g)" in (info.value.hint or "")


def test_error_message_layout() -> None:
    with pytest.raises(FormulaError) as info:
        parse("y ~ x + + z")
    assert str(info.value).splitlines() == [
        "Unexpected '+' after '+'",
        "    y ~ x + + z",
        "            ^",
        "Remove the doubled operator.",
    ]


# --------------------------------------------------------------------------- safety


@pytest.mark.parametrize(
    ("text", "name", "pos"),
    [
        ('y ~ __import__("os").system("ls")', "__import__", 4),
        ("y ~ np.log(x)", "np.log", 4),
        ("y ~ `np.log`(x)", "np.log", 4),
        ("y ~ x + eval('1')", "eval", 8),
        ("y ~ open('f')", "open", 4),
        ("y ~ getattr(x, 'y')", "getattr", 4),
        ("y ~ I(__class__(x))", "__class__", 6),
        ("exec('x') ~ x", "exec", 0),
        ("y ~ (foo(x) | g)", "foo", 5),
        ("y ~ log(system(x))", "system", 8),
        ("y ~ C(g, eval('x'))", "eval", 9),
        ("y ~ C(g, levels=[eval('x')])", "eval", 17),
        ("y ~ bs(x, knots=f(1))", "f", 16),
        ("y ~ C(g, Treatment(eval('x')))", "eval", 19),
        ("y ~ x + offset(np.exp(z))", "np.exp", 15),
        ("y ~ log(x, __import__=1)", "__import__", 11),
    ],
)
def test_forbidden_functions(text: str, name: str, pos: int) -> None:
    with pytest.raises(FormulaError) as info:
        parse(text)
    err = info.value
    assert f"'{name}'" in err.message
    assert "not allowed" in err.message
    assert err.position == pos
    assert caret_column(err) == pos


def test_forbidden_function_hint_lists_allowed() -> None:
    with pytest.raises(FormulaError) as info:
        parse("y ~ foo(x)")
    for name in ALLOWED_FUNCTIONS:
        assert name in (info.value.hint or "")


# --------------------------------------------------------------------------- formulae


FORMULAE_CASES = [
    "Reaction ~ Days + (Days | Subject)",
    "y ~ 0 + x + z",
    "y ~ 1",
    "y ~ a*b + a:c + (a + b)^2 + I(x^2) + C(g) + scale(x) + center(x) + standardize(x)",
    "log(y) ~ log(x) + sqrt(x) + poly(x, 2) + bs(x, df=4) + C(g, Treatment('b')) + C(h, Sum)",
    "`my y` ~ Sepal.Length + `my col` + I(1e-3 * x) + I(x - -1) + (1 + `my col` | `site id`)",
    "y ~ x + (1 | a/b) + (0 + x | g) + (1 + x*z + log(w) | g2)",
]


@pytest.mark.parametrize("text", FORMULAE_CASES)
def test_canonical_text_accepted_by_formulae(text: str) -> None:
    formulae = pytest.importorskip("formulae")
    f = parse(text)
    formulae.model_description(f"{f.response or 'y'} ~ {f.fixed_formula}")
    for term in f.random:
        formulae.model_description(f"y ~ ({term.lhs} | {':'.join(map(quote_name, term.group))})")


# --------------------------------------------------------------------------- properties


FORMULA_CHARS = "yxzg01 ~+-*/:^|()[],=._`'\"abcClogI$eE2"


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(max_size=40), st.text(alphabet=FORMULA_CHARS, max_size=40)))
def test_arbitrary_text_parses_or_raises_formula_error(text: str) -> None:
    try:
        result = parse(text)
    except FormulaError as err:
        assert err.position is None or 0 <= err.position <= len(text)
    else:
        assert isinstance(result, Formula)
        assert parse(str(result)) == result


NAMES = ["x", "z", "Days", "Sepal.Length", "`my col`", "w_1"]
FIXED = [
    *NAMES,
    "x:z",
    "x * z",
    "log(x)",
    "I(x ^ 2)",
    "C(g)",
    "scale(Days)",
    "poly(x, 2)",
    "C(g, levels=['b', 'a'])",
    "(x + z)^2",
    "offset(log(n))",
]
RANDOM_LHS = ["x", "z", "log(w)", "`my col`", "x:z"]
GROUP_BASES = ["g", "h", "k", "`site id`", "a.b"]
NESTING = ["", "/u", ":v", "/u/v", "/u:v"]


@st.composite
def random_terms(draw: st.DrawFn) -> list[str]:
    bases = draw(st.lists(st.sampled_from(GROUP_BASES), unique=True, max_size=3))
    out = []
    for base in bases:
        terms = draw(st.lists(st.sampled_from(RANDOM_LHS), unique=True, max_size=3))
        marker = draw(st.sampled_from(["", "1 + ", "0 + ", "-1 + "])) if terms else ""
        lhs = marker + " + ".join(terms) if terms else "1"
        if terms and marker == "" and draw(st.booleans()):
            lhs += " - 1"
        bar = draw(st.sampled_from(["|", "||"]))
        out.append(f"({lhs} {bar} {base}{draw(st.sampled_from(NESTING))})")
    return out


@st.composite
def formulas(draw: st.DrawFn) -> str:
    response = draw(st.sampled_from(["y", "log(y)", "cbind(k, n - k)", "`my y`", ""]))
    fixed = draw(st.lists(st.sampled_from(FIXED), unique=True, max_size=4))
    marker = draw(st.sampled_from(["", "1", "0"]))
    parts = ([marker] if marker else []) + fixed + draw(random_terms())
    parts = draw(st.permutations(parts))
    sep = draw(st.sampled_from([" + ", "+"]))
    rhs = sep.join(parts) if parts else "1"
    return f"{response} ~ {rhs}"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(formulas())
def test_generated_formulas_round_trip(text: str) -> None:
    f = parse(text)
    assert parse(str(f)) == f
    assert str(parse(str(f))) == str(f)
    assert f.variables >= {name for term in f.random for name in term.group}


# --------------------------------------------------------------------------- safety properties


def _calls_and_names(node: object) -> tuple[set[str], set[str]]:
    """Function names called and names used anywhere under a syntax-tree node."""
    from mixedfit.formula.parser import Keyword, ListExpr

    calls: set[str] = set()
    names: set[str] = set()
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, Call):
            calls.add(item.func)
            stack.extend(item.args)
            stack.extend(kw.value for kw in item.kwargs)
        elif isinstance(item, Keyword):
            stack.append(item.value)
        elif isinstance(item, Name):
            names.add(item.name)
        elif isinstance(item, Binary):
            stack.extend((item.left, item.right))
        elif isinstance(item, Unary):
            stack.append(item.operand)
        elif isinstance(item, Group):
            stack.append(item.inner)
        elif isinstance(item, Random):
            stack.extend((item.lhs, item.rhs))
        elif isinstance(item, ListExpr):
            stack.extend(item.items)
    return calls, names


def assert_safe(f: Formula) -> None:
    """What formulae will evaluate for ``f`` calls only allowed functions on plain names."""
    texts = [*f.fixed, *f.offsets, *(t for term in f.random for t in term.terms)]
    if f.response is not None:
        texts.append(f.response)
    for text in texts:
        calls, names = _calls_and_names(parse_expression(text))
        assert calls <= ALLOWED_FUNCTIONS | {"Treatment", "Sum"}, text
        for name in names | {g for term in f.random for g in term.group}:
            assert not any(part.startswith("__") for part in name.split(".")), name


#: Fragments of code, mixed into otherwise valid formulas by the property tests below.
CODE = [
    '__import__("os")', "x.__class__", "eval(x)", "open(x)", "os.system(x)", "lambda",
    "lambda x: x", "x.__dict__", "`__x`", "getattr(x, y)", "import", "I(9 ** 9 ** 9)",
    'I("a" * 9)', "x[0]", "f(x)", "np.log(x)", "globals()", "__builtins__",
]


@st.composite
def formulas_with_code(draw: st.DrawFn) -> str:
    text = draw(formulas())
    fragment = draw(st.sampled_from(CODE))
    wrapper = draw(st.sampled_from(["{}", "I({})", "log({})", "C({})", "({} | g)", "(1 | {})",
                                    "offset({})", "C(g, levels={})", "(x + {} | g)"]))
    piece = wrapper.format(fragment)
    where = draw(st.sampled_from(["rhs", "lhs"]))
    if where == "lhs":
        return f"{piece} ~ {text.split('~', 1)[1]}"
    return f"{text} + {piece}"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(formulas_with_code())
def test_code_mixed_into_valid_formulas_is_refused(text: str) -> None:
    with pytest.raises(FormulaError):
        parse(text)


SAFETY_CHARS = FORMULA_CHARS + "_.@;#{}!<>&%$"


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(alphabet=SAFETY_CHARS, max_size=60),
                 st.builds("".join, st.lists(st.sampled_from(
                     [*CODE, "y", "~", "x", " + ", "(", ")", "|", "1", ",", ".", "__", "I",
                      "log", "C", "g", ":", "/", "*", "=", "'a'", "`"]), max_size=12))))
def test_whatever_parses_only_calls_allowed_functions(text: str) -> None:
    try:
        f = parse(text)
    except FormulaError as err:
        assert err.position is None or 0 <= err.position <= len(text)
        return
    assert_safe(f)
    assert parse(str(f)) == f


def _fuzz_frame() -> object:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    n = 40
    cols = {name: rng.uniform(1.0, 2.0, size=n) for name in
            ["y", "x", "z", "w", "Days", "Sepal.Length", "my col", "w_1", "my y", "n"]}
    cols["k"] = rng.integers(0, 5, size=n).astype(float)
    cols["n"] = cols["k"] + 5
    for name in ["g", "h", "`site id`", "a.b", "u", "v"]:
        cols[name.strip("`")] = rng.choice(list("pqrs"), size=n)
    return pd.DataFrame(cols)


FUZZ_FRAME = _fuzz_frame()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(formulas(), formulas_with_code(), st.text(alphabet=FORMULA_CHARS,
                                                           max_size=30)))
def test_build_design_raises_only_mixedfit_errors(text: str) -> None:
    """Whatever the formula, building the design either works or raises a MixedFitError
    (never a raw error from formulae, numpy or pandas)."""
    import warnings

    from mixedfit.design import build_design

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            build_design(text, FUZZ_FRAME, family="gaussian")
        except MixedFitError:
            pass
