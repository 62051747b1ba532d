"""Input validation before sampling (issue #7).

Every problem with the formula or the data is a :class:`mixedfit.MixedFitError` raised
before any sampling starts; the message names the column or term at fault and says how to
fix it. Every backend's ``sample`` (and the prior draws) are replaced by a function that
fails the test, so a check that came too late would show.
"""

from __future__ import annotations

import inspect
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest

import mixedfit as mf
from mixedfit.design import MissingDataWarning, build_design
from tests.conftest import SamplingStarted, forbid_sampling

# --------------------------------------------------------------------------- helpers


@pytest.fixture(autouse=True)
def no_sampling(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if the sampler (posterior or prior) is ever called."""
    forbid_sampling(monkeypatch)


def frame(n_groups: int = 4, per_group: int = 6, seed: int = 0) -> pd.DataFrame:
    """y, x (varies within groups), w (constant within groups), z, factor g and h."""
    rng = np.random.default_rng(seed)
    n = n_groups * per_group
    g = np.repeat([f"g{j}" for j in range(n_groups)], per_group)
    return pd.DataFrame({
        "y": rng.normal(size=n),
        "x": np.tile(np.linspace(-1.0, 1.0, per_group), n_groups),
        "w": np.repeat(np.arange(1.0, n_groups + 1.0) ** 1.5, per_group),
        "z": rng.normal(size=n),
        "t": rng.uniform(1.0, 2.0, size=n),
        "g": g,
        "h": np.tile(["p", "q", "r"], n // 3 + 1)[:n],
    })


def refused(formula: str, data: Any, exc: type[Exception], *words: str,
            **kwargs: Any) -> str:
    """Fit, expect ``exc`` before sampling, check the words are in the message."""
    with pytest.raises(exc) as info:
        mf.fit(formula, data, progressbar=False, **kwargs)
    message = str(info.value)
    for word in words:
        assert word in message, f"{word!r} not in:\n{message}"
    assert isinstance(info.value, mf.MixedFitError)
    return message


# --------------------------------------------------------------------------- columns


def test_misspelt_column_suggests_the_closest_name():
    df = frame().rename(columns={"g": "group"})
    message = refused("y ~ x + (1 | gruop)", df, mf.DataError, "'gruop'", "not in the data",
                      "Did you mean 'group'?")
    assert "^" in message  # caret under the name in the formula


def test_missing_column_without_a_close_name_lists_the_columns():
    message = refused("y ~ temperature + (1 | g)", frame(), mf.DataError, "'temperature'",
                      "Columns available")
    assert "Did you mean" not in message


def test_misspelt_response_is_named():
    refused("yy ~ x + (1 | g)", frame(), mf.DataError, "'yy'", "Did you mean 'y'?")


def test_duplicate_column_names_are_refused():
    df = frame()
    df = pd.concat([df, df[["x"]]], axis=1)
    refused("y ~ x + (1 | g)", df, mf.DataError, "2 columns named 'x'", "Rename")


def test_non_string_column_names_are_found():
    df = frame().rename(columns={"z": 7})
    d = build_design("y ~ x + `7` + (1 | g)", df)
    assert d.fixed_columns == ["Intercept", "x", "7"]
    np.testing.assert_array_equal(d.X[:, 2], df[7].to_numpy())


# --------------------------------------------------------------------------- missing values


def test_missing_values_are_dropped_with_a_warning_by_fit_too():
    df = frame()
    df.loc[[1, 7], "x"] = np.nan
    df.loc[3, "y"] = np.nan
    with pytest.warns(MissingDataWarning, match=r"Dropped 3 of 24 rows .*columns 'x', 'y'"):
        with pytest.raises(SamplingStarted, match="sampling started"):
            mf.fit("y ~ x + (1 | g)", df, progressbar=False)


def test_na_action_error_names_columns_rows_and_fix():
    df = frame()
    df.index = [f"r{i}" for i in range(len(df))]
    df.loc[["r1", "r7"], "x"] = np.nan
    df.loc["r3", "g"] = None
    with warnings.catch_warnings():
        warnings.simplefilter("error", MissingDataWarning)
        with pytest.raises(mf.DataError) as info:
            build_design("y ~ x + (1 | g)", df, na_action="error")
    message = str(info.value)
    for word in ("3 of 24 rows", "'x' (2 rows)", "'g' (1 row)", "'r1'", "dropna",
                 "na_action='drop'"):
        assert word in message, message


def test_na_action_drop_is_the_default_and_unknown_values_are_refused():
    df = frame()
    df.loc[0, "z"] = np.nan
    with pytest.warns(MissingDataWarning, match="Dropped 1 of 24"):
        d = build_design("y ~ z + (1 | g)", df, na_action="drop")
    assert d.n_obs == 23 and d.n_dropped == 1
    with pytest.raises(mf.OptionError, match="na_action must be one of 'drop', 'error'"):
        build_design("y ~ z + (1 | g)", df, na_action="omit")


def test_unused_columns_with_missing_values_do_not_drop_rows():
    df = frame().assign(unused=np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("error", MissingDataWarning)
        d = build_design("y ~ x + (1 | g)", df, na_action="error")
    assert d.n_obs == 24


def test_grouping_column_with_missing_values_is_dropped_with_the_others():
    df = frame()
    df.loc[[0, 5, 6], "g"] = None
    with pytest.warns(MissingDataWarning, match="Dropped 3 of 24 rows.*'g'"):
        d = build_design("y ~ x + (1 | g)", df)
    assert d.n_obs == 21
    assert d.blocks[0].levels == ["g0", "g1", "g2", "g3"]
    assert d.blocks[0].counts.tolist() == [4, 5, 6, 6]
    assert "nan" not in d.blocks[0].levels and "None" not in d.blocks[0].levels


def test_categorical_grouping_column_with_missing_values():
    df = frame()
    df["g"] = pd.Categorical(df["g"], categories=["g0", "g1", "g2", "g3", "unused"])
    df.loc[df["g"] == "g0", "g"] = np.nan
    with pytest.warns(MissingDataWarning, match="Dropped 6 of 24"):
        d = build_design("y ~ x + (1 | g)", df)
    assert d.blocks[0].levels == ["g1", "g2", "g3"]  # unused categories are not levels


def test_all_rows_missing_is_a_clear_error():
    with warnings.catch_warnings():
        warnings.simplefilter("error", MissingDataWarning)  # an error, not also a warning
        refused("y ~ x + (1 | g)", frame().assign(x=np.nan), mf.DataError,
                "No complete rows", "'x' (24 rows)")


def test_missing_data_warning_points_at_the_callers_line():
    df = frame()
    df.loc[0, "y"] = np.nan
    with pytest.warns(MissingDataWarning) as record:
        build_design("y ~ x + (1 | g)", df)
    assert record[0].filename == __file__


# TODO(na_action in fit): needs `na_action=` in mixedfit.api.fit, prior_predictive and
# _prepare (change requested in the issue #7 report); fails until it is added.
def test_fit_and_prior_predictive_pass_na_action_on():
    for func in (mf.fit, mf.prior_predictive):
        assert "na_action" in inspect.signature(func).parameters, func.__name__
    df = frame()
    df.loc[2, "x"] = np.nan
    refused("y ~ x + (1 | g)", df, mf.DataError, "Missing values in 1 of 24 rows", "'x'",
            na_action="error")
    with pytest.raises(mf.DataError, match="Missing values"):
        mf.prior_predictive("y ~ x + (1 | g)", df, na_action="error")
    with pytest.raises(mf.OptionError, match="na_action"):
        mf.fit("y ~ x + (1 | g)", df, na_action="omit", progressbar=False)


# --------------------------------------------------------------------------- infinite values


@pytest.mark.parametrize(
    ("formula", "column", "role", "extra"),
    [
        ("y ~ x + (1 | g)", "y", "response", {}),
        ("y ~ x + (1 | g)", "x", "predictor", {}),
        ("y ~ z + (1 + x | g)", "x", "predictor", {}),
        ("y ~ x + offset(t) + (1 | g)", "t", "offset", {}),
        ("y ~ x + offset(log(t)) + (1 | g)", "t", "offset", {}),
        ("y ~ x + (1 | w)", "w", "grouping factor", {}),
        ("log(t) ~ x + (1 | g)", "t", "response", {}),
    ],
)
def test_infinite_values_name_the_column(formula, column, role, extra):
    df = frame()
    df.index = df.index + 100  # the message gives the data's own row labels
    df.loc[[105, 112], column] = [np.inf, -np.inf]
    message = refused(formula, df, mf.DataError, f"Column {column!r}", role,
                      "2 infinite values", "rows 105, 112", "np.isfinite", **extra)
    assert message


def test_infinite_trials_are_named():
    df = frame().assign(k=1.0, n=3.0)
    df.loc[4, "n"] = np.inf
    refused("k ~ x + (1 | g)", df, mf.DataError, "Column 'n'", "binomial trials",
            family="binomial", trials="n")


@pytest.mark.parametrize(
    ("formula", "words"),
    [
        ("y ~ log(t0) + (1 | g)", ["fixed-effects term 'log(t0)'", "log1p"]),
        ("y ~ x + (1 + log(t0) | g)", ["random-effect term 'log(t0)'", "(1 + log(t0) | g)"]),
        ("y ~ x + offset(log(t0)) + (1 | g)", ["offset 'offset(log(t0))'"]),
        ("log(t0) ~ x + (1 | g)", ["response 'log(t0)'", "log1p"]),
        ("y ~ sqrt(tneg) + (1 | g)", ["'sqrt(tneg)'", "undefined"]),
    ],
)
def test_transformations_that_give_infinite_values_name_the_term(formula, words):
    df = frame().assign(t0=lambda d: d["t"].where(d.index != 3, 0.0),
                        tneg=lambda d: d["t"].where(d.index != 3, -1.0))
    refused(formula, df, mf.DataError, *words)


# --------------------------------------------------------------------------- empty data


@pytest.mark.parametrize(
    "data",
    [
        pd.DataFrame({"y": [], "x": [], "g": []}),
        {"y": [], "x": [], "g": []},
        pd.DataFrame({"y": [1.0], "x": [1.0], "g": ["a"]}).iloc[:0],
    ],
    ids=["frame", "dict", "sliced"],
)
def test_empty_data(data):
    refused("y ~ x + (1 | g)", data, mf.DataError, "empty", "0 rows")


def test_empty_polars_frame():
    pl = pytest.importorskip("polars")
    data = pl.DataFrame({"y": [], "x": [], "g": []},
                        schema={"y": pl.Float64, "x": pl.Float64, "g": pl.String})
    refused("y ~ x + (1 | g)", data, mf.DataError, "empty")


# --------------------------------------------------------------------------- response


def test_text_response_is_refused_with_a_fix():
    df = frame().assign(y=lambda d: np.where(d["x"] > 0, "high", "low"))
    refused("y ~ x + (1 | g)", df, mf.DataError, "'y'", "not numeric", "family='bernoulli'")


def test_numbers_stored_as_text_suggest_to_numeric():
    df = frame().assign(y=lambda d: d["y"].round(3).astype(str))
    refused("y ~ x + (1 | g)", df, mf.DataError, "'y'", "not numeric", "pd.to_numeric")


def test_many_level_categorical_response_is_refused():
    df = frame().assign(y=lambda d: pd.Categorical(d["h"]))
    refused("y ~ x + (1 | g)", df, mf.DataError, "'y'", "not numeric", "recode")


# --------------------------------------------------------------------------- grouping


def test_single_level_after_dropping_missing_rows():
    df = frame()
    df.loc[df["g"] != "g2", "y"] = np.nan
    with pytest.warns(MissingDataWarning):
        refused("y ~ x + (1 | g)", df, mf.DataError, "'g'", "only 1 level",
                "Remove the term (1 | g)")


def test_integer_grouping_column_is_a_factor_not_a_number():
    df = frame().assign(code=lambda d: np.repeat([10, 2, 33, 4], 6))
    d = build_design("y ~ x + (1 + x | code)", df)
    assert d.blocks[0].levels == ["2", "4", "10", "33"]
    assert d.blocks[0].n_levels == 4 and d.blocks[0].n_terms == 2
    assert d.fixed_columns == ["Intercept", "x"]  # code is not a predictor


def test_integer_grouping_column_with_missing_values_keeps_integer_labels():
    df = frame().assign(code=pd.array(np.repeat([1, 2, 3, 4], 6), dtype="Int64"))
    df.loc[0, "code"] = pd.NA
    as_float = df.assign(code=df["code"].astype("float64"))  # what read_csv gives
    for data in (df, as_float):
        with pytest.warns(MissingDataWarning):
            d = build_design("y ~ x + (1 | code)", data)
        assert d.blocks[0].levels == ["1", "2", "3", "4"]
        new = pd.DataFrame({"x": [0.0, 0.0], "code": [3, 9]})
        assert d.blocks[0].index_for(new).tolist() == [2, -1]  # 3 is known, 9 is new


def test_float_and_boolean_grouping_columns():
    df = frame().assign(f=np.repeat([0.5, 1.5, 2.0, 10.0], 6),
                        b=np.tile([True, False], 12))
    d = build_design("y ~ x + (1 | f) + (1 | b)", df)
    assert d.blocks[0].levels == ["0.5", "1.5", "2", "10"]  # numeric order
    assert d.blocks[1].levels == ["False", "True"]
    assert d.blocks[1].counts.tolist() == [12, 12]


# --------------------------------------------------------------------------- random slopes


@pytest.mark.parametrize(
    ("formula", "fix"),
    [
        ("y ~ w + (1 + w | g)", "Use (1 | g) instead"),
        ("y ~ w + (w | g)", "Use (1 | g) instead"),
        ("y ~ w + (1 + x + w | g)", "Use (1 + x | g) instead"),
        ("y ~ w + (w || g)", "Use (1 || g) instead"),
        ("y ~ w + (1 | g) + (0 + w | g)", "Leave out the term (0 + w | g)"),
    ],
)
def test_random_slope_constant_within_groups_is_refused(formula, fix):
    refused(formula, frame(), mf.DataError, "random slope of 'w'", "'g'",
            "does not vary within any level", fix, "fixed effect")


def test_factor_slope_constant_within_groups_names_the_term():
    df = frame().assign(k=lambda d: d["g"].map({"g0": "a", "g1": "b", "g2": "a", "g3": "b"}))
    refused("y ~ (1 + C(k) | g)", df, mf.DataError, "random slope of 'C(k)'", "Use (1 | g)")


def test_slope_without_an_intercept_for_its_group_is_allowed():
    d = build_design("y ~ w + (0 + w | g)", frame())  # identifiable: a scaled intercept
    assert d.blocks[0].columns == ["w"]


def test_slope_that_varies_within_some_groups_is_allowed():
    df = frame()
    df.loc[df["g"] == "g3", "w"] += np.linspace(0, 1, 6)  # varies within one group only
    d = build_design("y ~ w + (1 + w | g)", df)
    assert d.blocks[0].columns == ["Intercept", "w"]


# --------------------------------------------------------------------------- collinearity


@pytest.mark.parametrize(
    ("formula", "extra", "words"),
    [
        ("y ~ x + x2 + (1 | g)", {"x2": lambda d: 2 * d["x"]},
         ["x2 = 2 * x", "'x', 'x2'", "Remove one of the terms"]),
        ("y ~ x + z + s + (1 | g)", {"s": lambda d: d["x"] - 3 * d["z"]},
         ["s = 1 * x - 3 * z", "'x', 'z', 's'"]),
        ("y ~ x + c3 + (1 | g)", {"c3": 3.0}, ["c3 = 3 * Intercept", "'c3'"]),
        ("y ~ x + c0 + (1 | g)", {"c0": 0.0}, ["'c0' is zero in every row",
                                               "Remove the term 'c0'"]),
        ("y ~ C(g) + w", {}, ["'C(g)'", "'w'", "Intercept"]),
        ("y ~ poly(x, 2) + x + (1 | g)", {}, ["'poly(x, 2)'", "'x'"]),
    ],
    ids=["multiple", "combination", "constant", "zero", "group-level", "poly"],
)
def test_collinear_fixed_effects_name_the_columns(formula, extra, words):
    df = frame().assign(**extra)
    refused(formula, df, mf.DataError, "perfectly collinear", "rank", *words)


def test_collinear_random_effect_columns_name_the_term():
    df = frame().assign(x2=lambda d: 2 * d["x"] + 0.0)
    refused("y ~ x + (1 + x + x2 | g)", df, mf.DataError, "(1 + x + x2 | g)", "x2 = 2 * x")


def test_more_columns_than_rows():
    df = frame(n_groups=2, per_group=3)
    refused("y ~ C(h) * x * z + (1 | g)", df, mf.DataError, "more fixed-effects columns",
            "than rows (6)")


def test_nearly_but_not_exactly_collinear_is_accepted():
    df = frame().assign(x2=lambda d: 2 * d["x"] + 1e-4 * d["z"],
                        year=lambda d: 2000.0 + np.arange(len(d)) % 5)
    d = build_design("y ~ x + x2 + year + I(year**2) + (1 | g)", df)
    assert d.X.shape == (24, 5)
    build_design("Reaction ~ Days + I(Days**2) + (Days | Subject)",
                 mf.load_dataset("sleepstudy"))


# --------------------------------------------------------------------------- formula


def test_formula_without_response_through_fit_and_prior_predictive():
    refused("~ x + (1 | g)", frame(), mf.FormulaError, "no response", "y ~ x + (1 | g)")
    with pytest.raises(mf.FormulaError, match="no response"):
        mf.prior_predictive("~ x + (1 | g)", frame())


@pytest.mark.parametrize(
    ("formula", "words"),
    [
        ("y ~ x + x + (1 | g)", "duplicate fixed-effect term 'x'"),
        ("y ~ x + z + x:z + z:x + (1 | g)", "duplicate fixed-effect term"),
        ("y ~ x + (1 | g) + (1 | g)", "duplicate random-effect term (1 | g)"),
        ("y ~ x + (x | g) + (1 + x | g)", "duplicate random-effect term (1 + x | g)"),
        ("y ~ x + (x | g) + (x || g)", "duplicate random-effect term"),
        ("y ~ x + (1 + x + x | g)", "duplicate term 'x' in random-effect term"),
        ("y ~ x + (1 | g) + (x | g)", "more than one random-effect term"),
        ("y ~ x + (1 | g/h) + (1 | g)", "duplicate random-effect term (1 | g)"),
    ],
)
def test_duplicate_terms_are_refused(formula, words):
    message = refused(formula, frame(), mf.FormulaError, words)
    assert "^" in message or "Put the terms" in message


def test_terms_repeated_by_expansion_are_merged_like_r():
    # a*b already contains a:b; R and lme4 merge such repeats silently, and so does mixedfit
    d = build_design("y ~ x*z + x:z + (1 | g)", frame())
    assert d.fixed_columns == ["Intercept", "x", "z", "x:z"]


# --------------------------------------------------------------------------- data types


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (np.zeros((4, 3)), ["ndarray", "pd.DataFrame(array, columns="]),
        ([[1.0, 2.0], [3.0, 4.0]], ["list"]),
        (None, ["NoneType"]),
        ("data.csv", ["str", "pd.read_csv"]),
        (pd.Series([1.0, 2.0], name="y"), ["Series", "A single column"]),
        (42, ["int"]),
    ],
    ids=["ndarray", "list", "None", "path", "Series", "int"],
)
def test_non_table_data_is_refused(data, words):
    refused("y ~ x + (1 | g)", data, mf.InputTypeError,
            "pandas DataFrame, a polars DataFrame or a dict of columns", *words)


def test_input_type_error_is_a_type_error():
    with pytest.raises(TypeError):
        build_design("y ~ x", [1, 2, 3])


def test_ragged_dict_is_a_data_error():
    refused("y ~ x + (1 | g)", {"y": [1.0, 2.0], "x": [1.0], "g": ["a", "b"]}, mf.DataError,
            "dict of columns", "same length")


def test_dict_of_arrays_gives_the_same_design_as_a_frame():
    df = frame()
    d1 = build_design("y ~ x + C(h) + (1 + x | g)", df)
    d2 = build_design("y ~ x + C(h) + (1 + x | g)",
                      {c: df[c].to_numpy() for c in df.columns})
    np.testing.assert_array_equal(d1.X, d2.X)
    np.testing.assert_array_equal(d1.y, d2.y)
    assert d1.blocks[0].levels == d2.blocks[0].levels


def test_polars_frame_gives_the_same_design_as_pandas():
    pl = pytest.importorskip("polars")
    df = frame()
    data = pl.from_pandas(df).with_columns(pl.col("h").cast(pl.Categorical))
    d1 = build_design("y ~ x + C(h) + (1 + x | g)", df)
    d2 = build_design("y ~ x + C(h) + (1 + x | g)", data)
    np.testing.assert_array_equal(d1.X, d2.X)
    np.testing.assert_array_equal(d1.blocks[0].index, d2.blocks[0].index)
    assert d1.fixed_columns == d2.fixed_columns


def test_polars_lazy_frame_and_series_are_refused_with_a_hint():
    pl = pytest.importorskip("polars")
    data = pl.from_pandas(frame())
    refused("y ~ x + (1 | g)", data.lazy(), mf.InputTypeError, "LazyFrame", ".collect()")
    refused("y ~ x + (1 | g)", data["y"], mf.InputTypeError, "Series")


def test_polars_missing_values_are_dropped():
    pl = pytest.importorskip("polars")
    data = pl.from_pandas(frame()).with_columns(
        pl.when(pl.int_range(pl.len()) == 2).then(None).otherwise(pl.col("x")).alias("x"))
    with pytest.warns(MissingDataWarning, match="Dropped 1 of 24"):
        d = build_design("y ~ x + (1 | g)", data)
    assert d.n_obs == 23


# --------------------------------------------------------------------------- other checks


def test_formula_of_the_wrong_type():
    with pytest.raises(mf.InputTypeError, match="formula must be a string"):
        build_design(["y ~ x"], frame())  # type: ignore[arg-type]


def test_hand_made_formula_object_is_checked_like_text():
    f = mf.parse("y ~ x + (1 | g)")
    d = build_design(f, frame())
    assert d.formula == f
    bad = mf.Formula(response="y", fixed=("x",), intercept=True, offsets=(), random=(
        mf.RandomTerm(terms=("w",), intercept=True, group=("g",)),))
    with pytest.raises(mf.DataError, match="random slope of 'w'"):
        build_design(bad, frame())


def test_valid_models_still_build():
    df = frame()
    d = build_design("log(t) ~ x * z + C(h) + I(x**2) + offset(log(t)) + (1 + x | g) "
                     "+ (1 | h)", df)
    assert d.n_obs == 24 and [b.group for b in d.blocks] == ["g", "h"]
