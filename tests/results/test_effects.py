"""Means, contrasts, slopes and predictions checked against the coefficient draws.

For a linear model every mean, contrast and slope is a fixed linear combination of the
coefficients, computed here by hand from ``res.draws("fixed")`` (to 1e-10); slopes
through ``scale()``/``poly()``/``I()`` are checked against finite differences of
``predict``'s draws, and population-averaged means against an independent quadrature.
Short chains: these checks are exact for any draws.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mixedfit as mf
from mixedfit.errors import DataError, OptionError
from tests.conftest import QUICK, cached_fit


def _stats(draws: np.ndarray, interval: float) -> dict[str, float]:
    q = (1 - interval) / 2
    return {"mean": draws.mean(), "sd": draws.std(ddof=1),
            "lower": np.quantile(draws, q), "upper": np.quantile(draws, 1 - q)}


def _check(row: pd.Series, draws: np.ndarray, interval: float = 0.94,
           rtol: float = 1e-10) -> None:
    for k, v in _stats(draws, interval).items():
        assert row[k] == pytest.approx(v, rel=rtol, abs=rtol), k


@pytest.fixture(scope="module")
def sleep_data() -> pd.DataFrame:
    data = mf.load_dataset("sleepstudy")
    data["cohort"] = np.where(data["Subject"].astype(int) % 2 == 0, "even", "odd")
    data["phase"] = np.where(data["Days"] < 2, "adapt", "test")
    return data


@pytest.fixture(scope="module")
def cohort(sleep_data: pd.DataFrame):
    return cached_fit("Reaction ~ Days * cohort + phase + (Days | Subject)", sleep_data,
                      key="effects-cohort", **QUICK)


@pytest.fixture(scope="module")
def cbpp():
    return cached_fit("cbind(incidence, size - incidence) ~ period + (1 | herd)",
                      mf.load_dataset("cbpp"), key="cbpp-quick", family="binomial", **QUICK)


def _b(res, name: str) -> np.ndarray:
    return res.draws("fixed")[:, res.design.fixed_columns.index(name)]


# ------------------------------------------------------------------ means
def test_means_are_the_linear_combination_of_the_coefficients(cohort):
    m = cohort.means("cohort")
    assert m["cohort"].tolist() == ["even", "odd"]
    b0, bd, bo, bdo, bt = (_b(cohort, n) for n in
                           ("Intercept", "Days", "cohort[odd]", "Days:cohort[odd]",
                            "phase[test]"))
    days = 4.5  # the mean of Days; phase averaged with equal weights
    _check(m.iloc[0], b0 + days * bd + 0.5 * bt)
    _check(m.iloc[1], b0 + bo + days * (bd + bdo) + 0.5 * bt)


def test_proportional_weights_use_the_observed_frequencies(cohort, sleep_data):
    m = cohort.means("cohort", weights="proportional")
    share = float((sleep_data["phase"] == "test").mean())  # 0.8
    assert share == pytest.approx(0.8)
    b0, bd, bt = _b(cohort, "Intercept"), _b(cohort, "Days"), _b(cohort, "phase[test]")
    _check(m.iloc[0], b0 + 4.5 * bd + share * bt)


def test_nested_factors_keep_each_level_s_own_value(cohort, sleep_data):
    """A subject belongs to one cohort: its conditional mean is in that cohort, and the
    cohort's mean with the fitted effects averages over its own subjects only."""
    m = cohort.means(["cohort", "Subject"], scale="link")
    assert len(m) == 18
    u = cohort.draws(mf.names.effects(cohort.design.blocks[0].label))  # (S, 18, 2)
    levels = cohort.design.blocks[0].levels
    b0, bd, bo, bdo, bt = (_b(cohort, n) for n in
                           ("Intercept", "Days", "cohort[odd]", "Days:cohort[odd]",
                            "phase[test]"))
    row = m[m["Subject"] == "309"].iloc[0]
    assert row["cohort"] == "odd"
    j = levels.index("309")
    _check(row, b0 + bo + 4.5 * (bd + bdo) + 0.5 * bt + u[:, j, 0] + 4.5 * u[:, j, 1])
    c = cohort.means("cohort", include_random=True, scale="link")
    odd = [levels.index(s) for s in levels if int(s) % 2 == 1]
    ubar = u[:, odd, :].mean(axis=1)
    _check(c.iloc[1], b0 + bo + 4.5 * (bd + bdo) + 0.5 * bt + ubar[:, 0] + 4.5 * ubar[:, 1])


def test_means_at_values_and_by_several_variables(cohort):
    m = cohort.means(["cohort", "phase"], at={"Days": [0, 9]}, scale="link")
    assert len(m) == 4 and list(m.columns[:2]) == ["cohort", "phase"]
    b0, bd, bt = _b(cohort, "Intercept"), _b(cohort, "Days"), _b(cohort, "phase[test]")
    row = m[(m["cohort"] == "even") & (m["phase"] == "test")].iloc[0]
    _check(row, b0 + 4.5 * bd + bt)  # Days averaged over 0 and 9


def test_gaussian_marginal_means_equal_the_means_at_zero_effects(cohort):
    a = cohort.means("cohort")
    b = cohort.means("cohort", include_random="marginal")
    np.testing.assert_allclose(a[["mean", "sd", "lower", "upper"]],
                               b[["mean", "sd", "lower", "upper"]], rtol=1e-10)


def test_conditional_means_of_a_named_level(cbpp):
    m = cbpp.means(["period", "herd"], at={"herd": ["3"]})
    assert m["herd"].tolist() == ["3"] * 4
    level = cbpp.design.blocks[0].levels.index("3")
    u = cbpp.draws(mf.names.effects(cbpp.design.blocks[0].label))[:, level, 0]
    eta = _b(cbpp, "Intercept") + _b(cbpp, "period[2]") + u
    _check(m.iloc[1], 1 / (1 + np.exp(-eta)))


def test_population_averaged_means_against_quadrature(cbpp):
    """E over u ~ N(0, sd^2) of plogis(eta + u), by the trapezoid rule on a fine grid
    (an independent method from the Gauss-Hermite rule used by means())."""
    m = cbpp.means("period", include_random="marginal")
    sd = cbpp.draws(mf.names.sd(cbpp.design.blocks[0].label))[:, 0]
    eta = _b(cbpp, "Intercept")
    z = np.linspace(-12, 12, 6001)
    phi = np.exp(-z ** 2 / 2) / np.sqrt(2 * np.pi)
    p = 1 / (1 + np.exp(-(eta[:, None] + sd[:, None] * z[None, :])))
    expected = np.trapezoid(p * phi, z, axis=1)
    _check(m.iloc[0], expected, rtol=1e-8)
    # and they differ from the means at zero effects (pulled toward 1/2)
    assert m["mean"].iloc[0] > cbpp.means("period")["mean"].iloc[0]


def test_response_scale_is_the_inverse_link_of_the_link_mean(cbpp):
    m = cbpp.means("period")
    eta = _b(cbpp, "Intercept") + _b(cbpp, "period[3]")
    _check(m.iloc[2], 1 / (1 + np.exp(-eta)))


# ------------------------------------------------------------------ contrasts
def test_contrasts_are_differences_of_the_coefficients(cbpp):
    c = cbpp.contrasts("period")
    assert c["contrast"].tolist() == ["period1 - period2", "period1 - period3",
                                      "period1 - period4", "period2 - period3",
                                      "period2 - period4", "period3 - period4"]
    _check(c.iloc[0], -_b(cbpp, "period[2]"))
    _check(c.iloc[3], _b(cbpp, "period[2]") - _b(cbpp, "period[3]"))
    d = -_b(cbpp, "period[2]")
    assert c["pd"].iloc[0] == max(np.mean(d > 0), np.mean(d < 0))


def test_contrast_methods_and_custom_weights(cbpp):
    t = cbpp.contrasts("period", method="trt.vs.ctrl")
    assert t["contrast"].tolist() == ["period2 - period1", "period3 - period1",
                                      "period4 - period1"]
    c = cbpp.contrasts("period", method="consecutive")
    assert c["contrast"].tolist() == ["period2 - period1", "period3 - period2",
                                      "period4 - period3"]
    _check(c.iloc[1], _b(cbpp, "period[3]") - _b(cbpp, "period[2]"))
    w = cbpp.contrasts("period", method={"later - first": [-1, 1 / 3, 1 / 3, 1 / 3]})
    later = (_b(cbpp, "period[2]") + _b(cbpp, "period[3]") + _b(cbpp, "period[4]")) / 3
    _check(w.iloc[0], later)


def test_odds_ratios_on_the_response_scale(cbpp):
    c = cbpp.contrasts("period", scale="response", method="trt.vs.ctrl")
    assert c["contrast"].tolist()[0] == "period2 / period1"
    assert c.attrs["estimate"] == "odds.ratio"
    _check(c.iloc[0], np.exp(_b(cbpp, "period[2]")), rtol=1e-9)


def test_contrasts_by_another_factor(cohort):
    c = cohort.contrasts("cohort", by="phase")
    assert c.columns.tolist()[:2] == ["phase", "contrast"]
    assert c["phase"].tolist() == ["adapt", "test"]
    b = _b(cohort, "cohort[odd]") + 4.5 * _b(cohort, "Days:cohort[odd]")
    _check(c.iloc[0], -b)


def test_ratio_contrasts_for_a_log_link():
    rng = np.random.default_rng(3)
    df = pd.DataFrame({"g": np.repeat(np.arange(8), 30),
                       "arm": np.tile(["a", "b", "c"], 80)})
    df["y"] = rng.poisson(np.exp(1 + 0.4 * (df["arm"] == "b")))
    res = cached_fit("y ~ arm + (1 | g)", df, key="effects-poisson", family="poisson",
                     **QUICK)
    c = res.contrasts("arm", scale="response")
    assert c["contrast"].tolist() == ["a / b", "a / c", "b / c"]
    assert c.attrs["estimate"] == "ratio"
    _check(c.iloc[0], np.exp(-_b(res, "arm[b]")), rtol=1e-9)


# ------------------------------------------------------------------ slopes
def test_slopes_by_factor_are_coefficients(cohort):
    for at in (None, "means"):
        s = cohort.slopes("Days", by="cohort", at=at)
        assert s["cohort"].tolist() == ["even", "odd"]
        _check(s.iloc[0], _b(cohort, "Days"))
        _check(s.iloc[1], _b(cohort, "Days") + _b(cohort, "Days:cohort[odd]"))
    avg = cohort.slopes("Days")
    _check(avg.iloc[0], _b(cohort, "Days") + 0.5 * _b(cohort, "Days:cohort[odd]"))


@pytest.mark.parametrize("formula", [
    "Reaction ~ poly(Days, 2) + (1 | Subject)",
    "Reaction ~ scale(Days) + I(Days ** 2) + (1 | Subject)",
    "Reaction ~ log(Days + 1) * cohort + (1 | Subject)",
])
def test_slopes_through_transforms_equal_finite_differences_of_predict(formula, sleep_data):
    res = cached_fit(formula, sleep_data, key="effects-transform", **QUICK)
    new = pd.DataFrame({"Days": [2.0, 7.0], "cohort": ["even", "odd"]})
    h = 1e-3
    up = res.predict(new.assign(Days=new["Days"] + h), include_random=False, kind="draws")
    down = res.predict(new.assign(Days=new["Days"] - h), include_random=False, kind="draws")
    fd = (up - down) / (2 * h)
    for i in range(2):
        s = res.slopes("Days", at={"Days": float(new["Days"][i]),
                                   "cohort": new["cohort"][i]} if "cohort" in formula
                       else {"Days": float(new["Days"][i])})
        # central differences with h = 1e-3: truncation error h^2 f''' / 6 < 1e-6
        _check(s.iloc[0], fd[:, i], rtol=1e-5)


def test_link_and_response_slopes_of_a_glmm():
    rng = np.random.default_rng(5)
    df = pd.DataFrame({"g": np.repeat(np.arange(10), 20), "x": rng.normal(size=200)})
    df["y"] = rng.binomial(1, 1 / (1 + np.exp(-(0.3 + 0.8 * df["x"]))))
    res = cached_fit("y ~ x + (1 | g)", df, key="effects-logit", family="bernoulli", **QUICK)
    _check(res.slopes("x", scale="link").iloc[0], _b(res, "x"))
    # response scale, averaged over the data: mean over rows of p (1 - p) b
    eta = _b(res, "Intercept")[:, None] + _b(res, "x")[:, None] * df["x"].to_numpy()[None, :]
    p = 1 / (1 + np.exp(-eta))
    _check(res.slopes("x").iloc[0], (p * (1 - p)).mean(axis=1) * _b(res, "x"), rtol=1e-6)


# ------------------------------------------------------------------ predict kinds
def test_predict_draws_and_new_responses(cbpp):
    draws = cbpp.predict(kind="draws")
    assert draws.shape == (cbpp.n_draws, cbpp.n_obs)
    np.testing.assert_allclose(draws.mean(axis=0), cbpp.predict()["mean"], rtol=1e-12)
    new = pd.DataFrame({"period": ["1", "4"], "herd": ["1", "new"],
                        "incidence": [0, 0], "size": [20, 30]})
    a = cbpp.predict(new, kind="response")
    b = cbpp.predict(new, kind="response")
    np.testing.assert_array_equal(a, b)  # the same on every call
    assert not np.array_equal(a, cbpp.predict(new, kind="response", random_seed=7))
    assert a.shape == (cbpp.n_draws, 2) and a.max() <= 30 and a[:, 0].max() <= 20
    # new levels are drawn reproducibly too
    e1 = cbpp.predict(new, kind="draws")
    np.testing.assert_array_equal(e1, cbpp.predict(new, kind="draws"))


def test_predict_response_needs_the_trials_of_new_rows(cbpp):
    with pytest.raises(DataError, match="trials: newdata lacks the column.s. 'size'"):
        cbpp.predict(pd.DataFrame({"period": ["1"], "herd": ["1"]}), kind="response")
    # the successes are what is drawn: cbind(incidence, size - incidence) needs only size
    y = cbpp.predict(pd.DataFrame({"period": ["1"], "herd": ["1"], "size": [7]}),
                     kind="response")
    assert y.max() <= 7 and y.min() >= 0


# ------------------------------------------------------------------ errors
def test_errors_name_the_problem(cohort, cbpp):
    with pytest.raises(OptionError, match="Did you mean 'cohort'"):
        cohort.means("cohrt")
    with pytest.raises(OptionError, match="numeric"):
        cohort.contrasts("Days")
    with pytest.raises(OptionError, match="a slope needs a numeric predictor"):
        cohort.slopes("cohort")
    with pytest.raises(OptionError, match="not a level of cohort"):
        cohort.means("cohort", at={"cohort": "third"})
    with pytest.raises(OptionError, match="scale"):
        cohort.means("cohort", scale="probability")
    with pytest.raises(OptionError, match="method"):
        cbpp.contrasts("period", method="all")
    with pytest.raises(OptionError, match="4 levels"):
        cbpp.contrasts("period", method={"x": [1, -1]})
    with pytest.raises(OptionError, match="include_random"):
        cbpp.means("period", include_random="yes")
    with pytest.raises(OptionError, match="kind"):
        cbpp.predict(kind="samples")


def test_conditional_means_of_nested_grouping_factors():
    """(1 | batch/cask): a batch's mean adds its own effect; a cask's needs its batch."""
    res = cached_fit("strength ~ 1 + (1 | batch/cask)", mf.load_dataset("pastes"),
                     key="effects-pastes", **QUICK)
    b0 = _b(res, "Intercept")
    u_batch = res.draws(mf.names.effects("batch"))[:, 0, 0]
    u_cask = res.draws(mf.names.effects("batch:cask"))[:, 0, 0]
    _check(res.means("batch").iloc[0], b0 + u_batch)
    both = res.means(["batch", "cask"])
    assert len(both) == 30 and both[["batch", "cask"]].iloc[0].tolist() == ["A", "a"]
    _check(both.iloc[0], b0 + u_batch + u_cask)
    with pytest.raises(OptionError, match="name all of batch, cask"):
        res.means("cask")
