"""The user's data are never modified (issue #7).

Every public function that takes data (or returns the bundled data sets) is called on a
table with float, integer, boolean, string, categorical (with an unused category) and
missing values and a non-default, named, unordered index; a deep copy taken before the
call must equal the table after it, values, dtypes, index, column order and ``attrs``.
Fits use the short chains of ``conftest.QUICK`` and are cached.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest

import mixedfit as mf
from mixedfit.design import build_design
from tests.conftest import QUICK, cached_fit

# Resolve mf.compare before anything imports the submodule mixedfit.compare (as
# mf.compare_pooling does): that import rebinds the package attribute `compare` to the
# module, after which mf.compare is not callable (bug reported with issue #7).
compare = mf.compare

FORMULA = "y ~ x + s + z + (1 + x | g)"
TINY = {"draws": 100, "tune": 150, "chains": 2}


def user_frame() -> pd.DataFrame:
    """A table with every kind of column, missing values and a non-default index."""
    rng = np.random.default_rng(7)
    n = 48
    levels = [f"L{j}" for j in range(8)]
    g = np.repeat(levels, 6)
    x = np.tile(np.arange(6), 8).astype(np.int64)
    y = 0.5 * x + np.repeat(rng.normal(size=8), 6) + rng.normal(scale=0.5, size=n)
    df = pd.DataFrame({
        "y": y,                                                         # float
        "x": x,                                                         # integer
        "z": rng.normal(size=n),                                        # float with NaN
        "s": pd.array(np.tile(["lo", "mid", "hi"], n // 3), dtype="string"),  # string
        "g": pd.Categorical(g, categories=[*levels, "unused"]),          # categorical
        "flag": np.tile([True, False], n // 2),                         # boolean
        "count": rng.poisson(3.0, size=n).astype(np.int64),             # integer
        "note": pd.Series([None, "a"] * (n // 2), dtype=object),        # object, unused
    })
    df.loc[[3, 17], "z"] = np.nan
    order = rng.permutation(n)
    df = df.iloc[order]
    df.index = pd.Index([f"id{1000 - i}" for i in order], name="record")
    df.attrs["source"] = "test"
    return df


def assert_unchanged(after: pd.DataFrame, before: pd.DataFrame) -> None:
    """``after`` equals the deep copy ``before``: values, dtypes, index, columns, attrs."""
    pd.testing.assert_frame_equal(after, before, check_exact=True, check_dtype=True,
                                  check_index_type=True, check_column_type=True,
                                  check_categorical=True, check_flags=True,
                                  check_freq=True)
    assert list(after.columns) == list(before.columns)
    assert list(after.dtypes) == list(before.dtypes)
    assert after.index.equals(before.index) and after.index.name == before.index.name
    assert after.attrs == before.attrs
    for name in after.columns:
        if isinstance(after[name].dtype, pd.CategoricalDtype):
            assert list(after[name].cat.categories) == list(before[name].cat.categories)
            assert after[name].cat.ordered == before[name].cat.ordered


def check(call: Callable[[pd.DataFrame], Any], data: pd.DataFrame | None = None) -> Any:
    """Call ``call(data)`` and assert that ``data`` is unchanged."""
    data = user_frame() if data is None else data
    before = copy.deepcopy(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = call(data)
    assert_unchanged(data, before)
    return out


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    """The table the cached fit was made from (checked unchanged after the fit)."""
    return user_frame()


def user_priors() -> dict[str, Any]:
    return {"x": mf.Prior("Normal", mu=0.0, sigma=np.array(2.0)),
            "sd(g)": mf.Prior("HalfNormal", sigma=3.0)}


@pytest.fixture(scope="module")
def res(data: pd.DataFrame) -> Any:
    """The fit of ``data`` (with user priors), checked to leave data and priors alone."""
    before = copy.deepcopy(data)
    priors = user_priors()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = cached_fit(FORMULA, data, key="no-mutation", priors=priors, **QUICK)
    assert_unchanged(data, before)
    assert priors == user_priors()
    return fitted


def test_frame_has_every_kind_of_column() -> None:
    df = user_frame()
    kinds = {str(t) for t in df.dtypes}
    assert {"float64", "int64", "bool", "category", "object"} <= kinds
    assert df["s"].dtype == "string" and df["z"].isna().sum() == 2
    assert df.index.name == "record" and not df.index.is_monotonic_increasing


# --------------------------------------------------------------------------- design


@pytest.mark.parametrize("formula", [
    FORMULA,
    "log(count + 1) ~ scale(x) + C(s) + flag + I(z**2) + offset(x) + (1 | g) + (1 | s)",
    "y ~ x * s + (1 + x || g)",
])
def test_build_design(formula: str) -> None:
    d = check(lambda df: build_design(formula, df))
    assert d.n_dropped == (2 if "z" in formula else 0)


def test_build_design_binomial_with_trials_array() -> None:
    trials = np.full(48, 10, dtype=np.int64)
    before = trials.copy()
    check(lambda df: build_design("count ~ x + (1 | g)", df, family="binomial",
                                  trials=trials))
    assert np.array_equal(trials, before) and trials.dtype == np.int64


def test_build_design_refuses_without_touching() -> None:
    def bad(df: pd.DataFrame) -> None:
        with pytest.raises(mf.DataError):
            build_design("y ~ x + xx + (1 | g)", df)
    check(bad)


def test_dict_of_arrays_is_unchanged() -> None:
    df = user_frame()
    columns = {c: df[c].to_numpy(copy=True) for c in ["y", "x", "z", "g"]}
    before = copy.deepcopy(columns)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        build_design(FORMULA.replace(" + s", ""), columns)
    assert list(columns) == list(before)
    for name, values in columns.items():
        np.testing.assert_array_equal(values, before[name])
        assert values.dtype == before[name].dtype


def test_polars_frame_is_unchanged() -> None:
    pl = pytest.importorskip("polars")
    df = pl.from_pandas(user_frame().reset_index())
    before = df.clone()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        build_design(FORMULA, df)
    assert df.equals(before) and df.schema == before.schema


# --------------------------------------------------------------------------- fitting


def test_fit(res: Any, data: pd.DataFrame) -> None:
    # the module fixture fitted on `data` with user priors and checked both are unchanged;
    # the fit keeps its own copy of the rows it used
    assert res.design.data is not data
    assert res.n_obs == 46
    assert res.priors.loc["x", "source"] == "user"


def test_fit_from_a_dict_of_columns() -> None:
    df = user_frame()
    columns = {c: df[c].to_numpy(copy=True) for c in ["y", "x", "g"]}
    before = copy.deepcopy(columns)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pp = mf.prior_predictive("y ~ x + (1 | g)", columns, draws=5, random_seed=1)
    assert pp.y.shape == (5, 48)
    for name, values in columns.items():
        np.testing.assert_array_equal(values, before[name])


def test_prior_predictive() -> None:
    pp = check(lambda df: mf.prior_predictive(FORMULA, df, draws=20, random_seed=1))
    assert pp.y.shape == (20, 46)


def test_compare_pooling() -> None:
    out = check(lambda df: mf.compare_pooling("y ~ x + (1 + x | g)", df, random_seed=2,
                                              **TINY))
    assert len(out.fits) == 3


# --------------------------------------------------------------------------- results


def test_predict_newdata(res: Any) -> None:
    new = user_frame().iloc[:10].copy()
    new["g"] = new["g"].cat.add_categories(["brand-new"])
    new.iloc[0, new.columns.get_loc("g")] = "brand-new"
    new.loc[new.index[1], "z"] = 0.25
    new = new.dropna(subset=["z"])
    out = check(lambda df: res.predict(df, random_seed=1), new)
    assert list(out.index) == list(new.index)
    check(lambda df: res.predict(df, include_random=False, scale="link"), new)


@pytest.mark.parametrize("method", [
    lambda r: r.ppc_grouped("g", draws=30, random_seed=1),
    lambda r: r.posterior_predictive(draws=10, random_seed=1),
    lambda r: r.predict(),
    lambda r: r.shrinkage,
    lambda r: r.summary(),
    lambda r: r.loo(),
    lambda r: r.prior_sensitivity(),
    lambda r: compare({"a": r, "b": r}),
], ids=["ppc_grouped", "posterior_predictive", "predict", "shrinkage", "summary", "loo",
        "prior_sensitivity", "compare"])
def test_result_methods_leave_the_data_alone(res: Any, data: pd.DataFrame,
                                             method: Callable[[Any], Any]) -> None:
    user_before = copy.deepcopy(data)
    own_before = copy.deepcopy(res.design.data)
    y_before = res.design.y.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        method(res)
    assert_unchanged(data, user_before)
    assert_unchanged(res.design.data, own_before)
    assert np.array_equal(res.design.y, y_before)


def test_refit_leaves_the_data_alone(res: Any, data: pd.DataFrame) -> None:
    user_before = copy.deepcopy(data)
    own_before = copy.deepcopy(res.design.data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res.refit(priors={"x": mf.Prior("Normal", mu=0, sigma=5)}, **TINY)
    assert_unchanged(data, user_before)
    assert_unchanged(res.design.data, own_before)


# --------------------------------------------------------------------------- datasets


@pytest.mark.parametrize("name", ["sleepstudy", "dyestuff", "penicillin", "pastes", "cbpp",
                                  "verbagg"])
def test_load_dataset_returns_fresh_copies(name: str) -> None:
    first = mf.load_dataset(name)
    pristine = copy.deepcopy(first)
    second = mf.load_dataset(name)
    assert first is not second
    first.iloc[0, 0] = first.iloc[1, 0]
    first["extra"] = 1
    for col in first.columns:
        if isinstance(first[col].dtype, pd.CategoricalDtype):
            first[col] = first[col].cat.rename_categories(lambda c: f"changed-{c}")
            break
    assert_unchanged(mf.load_dataset(name), pristine)
    assert_unchanged(second, pristine)


def test_list_datasets_returns_a_fresh_table() -> None:
    a = mf.list_datasets()
    a.iloc[0, 0] = "changed"
    assert mf.list_datasets().iloc[0, 0] != "changed"
