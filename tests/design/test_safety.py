"""Formula safety (issue #7): a formula is parsed, and only a fixed list of known
transformations is ever evaluated.

Code in a formula (calls of anything but the allowed functions, attribute access, dunder
names, Python keywords, lambda-like constructs) is refused with a ``FormulaError`` in
every position (response, fixed part, random-effect left side, grouping factor, inside
``C()``, ``I()``, ``offset()``), before the data are looked at, and never runs.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import mixedfit as mf
from mixedfit.design import SAFE_FUNCTIONS, build_design, formula_namespace
from mixedfit.formula import ALLOWED_FUNCTIONS
from tests.conftest import forbid_sampling

#: Code, written into each position a formula has.
PAYLOADS = [
    '__import__("os").system("echo pwned")',
    'eval("1")',
    'exec("x = 1")',
    'open("f")',
    'getattr(x, "real")',
    "globals()",
    "vars(x)",
    "compile(x)",
    "breakpoint()",
    "x.__class__",
    "x.__class__.__bases__",
    "x.__dict__",
    "__builtins__",
    "__import__",
    "`__class__`",
    "os.system(x)",
    "np.log(x)",
    "pd.eval(x)",
    "numpy.random.seed(1)",
    "x.sum()",
    "lambda",
    "lambda x: x",
    "[c for c in x]",
    "x if x else z",
    "import",
    "x[0]",
    "x @ z",
    "x; z",
    "x.y(1)",
]
# A dotted name without a call or a dunder part (``sys.modules``, ``Sepal.Length``) is an
# R-style column name: it is looked up in the data and nothing else (see
# test_a_column_named_like_a_keyword_or_like_code_is_just_a_column).

#: Where a payload ``P`` can stand in a formula.
POSITIONS = [
    "{} ~ x + (1 | g)",
    "y ~ {}",
    "y ~ x + {} + (1 | g)",
    "y ~ x + ({} | g)",
    "y ~ x + (1 + {} | g)",
    "y ~ x + (1 | {})",
    "y ~ x + (1 | g:{})",
    "y ~ x + (1 | g/{})",
    "y ~ C({})",
    "y ~ I({})",
    "y ~ I(x + {})",
    "y ~ log({})",
    "y ~ x + offset({})",
    "log({}) ~ x",
    "y ~ C(g, levels={})",
    "y ~ C(g, Treatment({}))",
    "y ~ bs(x, df={})",
]

CASES = [pos.format(payload) for payload in PAYLOADS for pos in POSITIONS]


class Tripwire(Mapping):
    """A dict of columns that fails the test if anything reads it."""

    def __getitem__(self, key: str) -> Any:
        raise AssertionError("the data were touched")

    def __iter__(self) -> Iterator[str]:
        raise AssertionError("the data were touched")

    def __len__(self) -> int:
        raise AssertionError("the data were touched")


def data() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    return pd.DataFrame({"y": rng.normal(size=12), "x": rng.uniform(1, 2, size=12),
                         "z": rng.normal(size=12), "g": np.repeat(["a", "b", "c"], 4)})


@pytest.fixture
def no_sampling(monkeypatch: pytest.MonkeyPatch) -> None:
    forbid_sampling(monkeypatch)


# --------------------------------------------------------------------------- refusals


@pytest.mark.parametrize("formula", CASES)
def test_code_is_refused_before_the_data_are_touched(formula: str) -> None:
    with pytest.raises(mf.FormulaError):
        mf.parse(formula)
    with pytest.raises(mf.FormulaError):
        build_design(formula, Tripwire())


@pytest.mark.parametrize("formula", [
    'y ~ __import__("os").system("echo pwned")',
    "y ~ x.__class__",
    "y ~ I(x.__class__)",
    "x.__class__ ~ z",
    "y ~ (1 | x.__class__)",
    "y ~ (x.__dict__ | g)",
    "y ~ C(x.__class__)",
    "y ~ offset(x.__class__)",
    "y ~ `x.__class__`",
])
def test_dunder_names_are_refused_everywhere(formula: str) -> None:
    with pytest.raises(mf.FormulaError) as info:
        mf.parse(formula)
    assert "'__" in info.value.message or ".__" in info.value.message
    assert "not allowed" in info.value.message
    assert info.value.position is not None


@pytest.mark.parametrize("formula", ["y ~ lambda", "y ~ I(lambda x: x)", "y ~ x + import",
                                     "y ~ (1 | class)", "def ~ x"])
def test_python_keywords_are_refused_and_backticks_are_suggested(formula: str) -> None:
    with pytest.raises(mf.FormulaError) as info:
        mf.parse(formula)
    assert "Python keyword" in info.value.message
    assert "backticks" in (info.value.hint or "")


def test_a_column_named_like_a_keyword_or_like_code_is_just_a_column() -> None:
    df = data().assign(**{"lambda": 1.0 + np.arange(12.0) % 3, "os.system": np.arange(12.0)})
    d = build_design("y ~ `lambda` + os.system + (1 | g)", df)
    assert d.fixed_columns == ["Intercept", "lambda", "os.system"]
    np.testing.assert_array_equal(d.X[:, 2], np.arange(12.0))
    with pytest.raises(mf.DataError, match="'sys.modules' used in the formula is not in"):
        build_design("y ~ sys.modules", df)


@pytest.mark.parametrize("formula", [
    'y ~ C(g, levels=eval("1"))',
    "y ~ C(g, levels=x)",
    "y ~ bs(x, knots=z)",
    "y ~ log(x, out=z)",
    'y ~ scale(x, __class__=1)',
    "y ~ C(g, contrast=Helmert)",
    'y ~ C(g, Treatment(eval("a")))',
])
def test_keyword_values_and_contrasts_must_be_literals(formula: str) -> None:
    with pytest.raises(mf.FormulaError):
        mf.parse(formula)


@pytest.mark.parametrize("formula", [
    "y ~ I(9 ** 9 ** 9)",
    "y ~ I(x * 9 ** 9 ** 9)",
    "y ~ I((9 ** 999) ** 999)",
    "y ~ I(2 ** 100000)",
    "y ~ I(x ** (7 ** 7 ** 7))",
    'y ~ I("a" * 1000000000)',
    'y ~ I(x + "a")',
    "y ~ I((1 + 2) ** x)",
])
def test_expressions_that_would_exhaust_time_or_memory_are_refused(formula: str) -> None:
    start = time.perf_counter()
    with pytest.raises(mf.FormulaError):
        build_design(formula, data())
    assert time.perf_counter() - start < 5


def test_harmless_arithmetic_is_still_allowed() -> None:
    d = build_design("y ~ I(x / 10 ** 3) + I(2 ** x) + I(x ** 2) + I(x ** -0.5) + (1 | g)",
                     data())
    x = data()["x"].to_numpy()
    np.testing.assert_allclose(d.X[:, 1:], np.column_stack([x / 1000, 2 ** x, x ** 2,
                                                            x ** -0.5]))


# --------------------------------------------------------------------------- no side effects


def _payloads_that_create(path: Path) -> list[str]:
    p = str(path)
    return [
        f'y ~ I(open("{p}", "w"))',
        f'y ~ x + __import__("pathlib").Path("{p}").touch()',
        f'y ~ I(__import__("os").system("touch {p}"))',
        f'y ~ x + (1 | __import__("os").system("touch {p}"))',
        f'log(__import__("os").system("touch {p}")) ~ x',
        f'y ~ x + offset(exec("open(\'{p}\', \'w\')"))',
        f'y ~ C(g, levels=[open("{p}", "w")])',
        f'y ~ C(g, Treatment(open("{p}", "w")))',
        'y ~ I(x.__class__.__base__.__subclasses__())',
        f'y ~ eval("open(\'{p}\', \'w\')")',
    ]


@pytest.mark.parametrize("index", range(10))
def test_code_in_a_formula_never_runs(tmp_path: Path, index: int, no_sampling: None) -> None:
    target = tmp_path / "created-by-formula"
    formula = _payloads_that_create(target)[index]
    df = data()
    for call in (lambda: mf.parse(formula), lambda: build_design(formula, df),
                 lambda: mf.fit(formula, df, progressbar=False),
                 lambda: mf.prior_predictive(formula, df)):
        with pytest.raises(mf.FormulaError):
            call()
        assert not target.exists()


def test_a_hand_made_formula_object_cannot_smuggle_code(tmp_path: Path) -> None:
    target = tmp_path / "created-by-formula"
    code = f'__import__("os").system("touch {target}")'
    smuggled = [
        mf.Formula(response="y", fixed=(code,), intercept=True, offsets=(), random=()),
        mf.Formula(response=code, fixed=("x",), intercept=True, offsets=(), random=()),
        mf.Formula(response="y", fixed=(), intercept=True, offsets=(code,), random=()),
        mf.Formula(response="y", fixed=(), intercept=True, offsets=(), random=(
            mf.RandomTerm(terms=(code,), intercept=True, group=("g",)),)),
        mf.Formula(response="y", fixed=(), intercept=True, offsets=(), random=(
            mf.RandomTerm(terms=(), intercept=True, group=(code,)),)),
    ]
    for formula in smuggled:
        with pytest.raises(mf.FormulaError):
            build_design(formula, data())
        assert not target.exists()


def test_evaluation_environment_holds_only_the_safe_functions() -> None:
    namespace = formula_namespace().namespace
    for name in SAFE_FUNCTIONS:
        assert callable(namespace[name])
    for name in ("open", "eval", "exec", "__import__", "__builtins__", "getattr", "os",
                 "np", "globals", "print", "compile"):
        assert name not in namespace
    # every function a formula may call is either formulae's own transform or a safe one
    formulae_own = {"C", "I", "scale", "center", "standardize", "offset", "poly", "bs"}
    assert ALLOWED_FUNCTIONS == frozenset(SAFE_FUNCTIONS) | formulae_own | {"cbind"}


def test_refused_code_does_not_start_sampling(no_sampling: None) -> None:
    assert callable(mf.compare)  # resolved before mf.compare_pooling (see test_no_mutation)
    with pytest.raises(mf.FormulaError, match="not allowed"):
        mf.fit('y ~ x + eval("1") + (1 | g)', data(), progressbar=False)
    with pytest.raises(mf.FormulaError, match="not allowed"):
        mf.compare_pooling('y ~ x + (1 | __import__("os").system("ls"))', data())
