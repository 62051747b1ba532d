"""The cumulative family: reading an ordered response, the design without an intercept,
the thresholds' priors and the errors a user meets, before any sampling."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mixedfit as mf
from mixedfit.design import build_design
from mixedfit.priors import resolve_priors
from mixedfit.spec import make_spec

WINE = "rating ~ temp + contact + (1 | judge)"


def _df() -> pd.DataFrame:
    return pd.DataFrame({"r": ["low", "mid", "high", "mid", "low", "high", "mid", "low"],
                         "x": [1.0, 2.0, 3.0, 1.0, 0.0, 2.0, 1.0, 2.0],
                         "g": list("aabbccaa")})


def test_the_order_comes_from_an_ordered_categorical_numbers_or_categories():
    spec = make_spec(WINE, mf.load_dataset("wine"), family="cumulative")
    assert spec.design.categories == ["1", "2", "3", "4", "5"]
    assert spec.family.parameters == tuple(f"Intercept[{k}]" for k in (1, 2, 3, 4))
    assert "Intercept" not in spec.design.fixed_columns
    assert spec.design.fixed_columns == ["temp[warm]", "contact[yes]"]
    df = _df()
    fam = mf.families.cumulative(categories=["low", "mid", "high"])
    d = build_design("r ~ x + (1 | g)", df, family=fam)
    assert d.y.tolist() == [0, 1, 2, 1, 0, 2, 1, 0]
    ordered = df.assign(r=pd.Categorical(df["r"], ["low", "mid", "high"], ordered=True))
    assert build_design("r ~ x", ordered, family="cumulative").y.tolist() == d.y.tolist()
    numbers = df.assign(r=df["r"].map({"low": 3, "mid": 7, "high": 10}))
    d2 = build_design("r ~ x", numbers, family="cumulative")
    assert d2.categories == ["3", "7", "10"] and d2.y.tolist() == d.y.tolist()
    # the user's data are not modified
    assert df["r"].tolist()[:3] == ["low", "mid", "high"]


def test_a_factor_is_coded_as_with_an_intercept():
    # the thresholds take the intercept's place: a factor keeps its reference level, and
    # new data are coded the same way
    d = build_design(WINE, mf.load_dataset("wine"), family="cumulative")
    new = pd.DataFrame({"temp": ["cold", "warm"], "contact": ["yes", "no"]})
    np.testing.assert_array_equal(d.x_for(new), [[0.0, 1.0], [1.0, 0.0]])


def test_errors_name_the_column_and_the_fix():
    df = _df()
    with pytest.raises(mf.DataError, match="without an order.*ordered=True.*categories="):
        build_design("r ~ x", df, family="cumulative")
    with pytest.raises(mf.DataError, match="not among the categories.*'mid'"):
        build_design("r ~ x", df, family=mf.families.cumulative(categories=["low", "high"]))
    with pytest.raises(mf.DataError, match="non-integer"):
        build_design("x ~ 1", df.assign(x=[0.5] * 8), family="cumulative")
    with pytest.raises(mf.DataError, match="single category"):
        build_design("r ~ x", df.assign(r=["mid"] * 8),
                     family=mf.families.cumulative(categories=["low", "mid"]))
    with pytest.raises(mf.FormulaError, match="thresholds.*act as its intercept"):
        build_design("r ~ 0 + x", df, family=mf.families.cumulative(categories=["low", "mid",
                                                                                 "high"]))
    with pytest.raises(mf.FamilyError, match="at least two distinct"):
        mf.families.cumulative(categories=["a", "a"])
    with pytest.raises(mf.FamilyError, match="does not take"):
        mf.families.cumulative("cloglog")
    with pytest.warns(mf.MixedFitWarning, match="no row takes: 'top'"):
        build_design("r ~ x", df, family=mf.families.cumulative(
            categories=["low", "mid", "high", "top"]))


def test_thresholds_priors_by_name_or_all_at_once():
    spec = make_spec(WINE, mf.load_dataset("wine"), family="cumulative")
    d, fam = spec.design, spec.family
    assert spec.priors["Intercept[1]"] == mf.Prior("StudentT", nu=3, mu=0, sigma=2.5)
    both = resolve_priors(d, fam, {"Intercept": mf.Prior("Normal", mu=0, sigma=3),
                                   "Intercept[2]": mf.Prior("Cauchy", alpha=0, beta=2)})
    assert both["Intercept[1]"] == both["Intercept[4]"] == mf.Prior("Normal", mu=0, sigma=3)
    assert both["Intercept[2]"].kind.name == "Cauchy"
    with pytest.raises(mf.PriorError, match="either sign"):
        resolve_priors(d, fam, {"Intercept[1]": mf.Prior("HalfNormal", sigma=1)})


def test_backends_that_cannot_fit_it_say_why():
    df = mf.load_dataset("wine")
    with pytest.raises(mf.MixedFitError, match="bambi"):
        mf.fit(WINE, df, family="cumulative", backend="bambi", draws=10, tune=10)
    with pytest.raises(mf.PriorError, match="one prior distribution for all the thresholds"):
        mf.fit(WINE, df, family="cumulative", backend="pymc", draws=10, tune=10,
               priors={"Intercept[2]": mf.Prior("Normal", mu=0, sigma=2)})
