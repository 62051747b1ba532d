"""Structure of the result object (short chains: these tests check shape, labels, behaviour)."""

from __future__ import annotations

import copy
import re

import numpy as np
import pandas as pd
import pytest

import mixedfit as mf
from tests.conftest import QUICK, cached_fit


def test_fixed_effects_table(sleep_quick):
    fe = sleep_quick.fixed_effects
    assert fe.index.tolist() == ["Intercept", "Days"]
    assert fe.index.name == "term"
    assert list(fe.columns) == ["mean", "sd", "lower", "upper", "r_hat", "ess_bulk", "ess_tail"]
    assert (fe["lower"] < fe["mean"]).all() and (fe["mean"] < fe["upper"]).all()


def test_random_effects_and_coefficients_layout(sleep_quick):
    re = sleep_quick.random_effects["Subject"]
    co = sleep_quick.coefficients["Subject"]
    levels = sorted(mf.load_dataset("sleepstudy")["Subject"].astype(int).unique())
    assert re.index.tolist() == [str(v) for v in levels]
    assert re.columns.names == ["term", "stat"]
    assert re.columns.get_level_values("term").unique().tolist() == ["Intercept", "Days"]
    fixed = sleep_quick.draws("fixed").mean(axis=0)
    # coefficient = fixed effect + deviation, draw by draw, so means add up too
    np.testing.assert_allclose(co["Days"]["mean"], re["Days"]["mean"] + fixed[1], rtol=1e-10)
    # deviations average to about zero across subjects
    assert abs(re["Intercept"]["mean"].mean()) < 0.5 * co["Intercept"]["mean"].std()


def test_variance_components_layout(sleep_quick):
    vc = sleep_quick.variance_components
    assert vc.index.names == ["group", "parameter"]
    assert vc.index.tolist() == [
        ("Subject", "sd(Intercept)"), ("Subject", "sd(Days)"), ("Subject", "var(Intercept)"),
        ("Subject", "var(Days)"), ("Subject", "cor(Intercept,Days)"), ("Residual", "sd"),
        ("Residual", "var")]
    sd = sleep_quick.draws("sd(Subject)")
    assert vc.loc[("Subject", "var(Days)"), "mean"] == pytest.approx((sd[:, 1] ** 2).mean())
    assert -1 <= vc.loc[("Subject", "cor(Intercept,Days)"), "lower"]
    assert vc.loc[("Residual", "sd"), "mean"] == pytest.approx(sleep_quick.sigma["mean"])


def test_interval_is_settable_and_clears_cache():
    res = cached_fit("Reaction ~ Days + (Days | Subject)", mf.load_dataset("sleepstudy"),
                     key="sleepstudy", **QUICK)
    wide = res.fixed_effects.copy()
    try:
        res.interval = 0.5
        narrow = res.fixed_effects
        assert narrow.attrs["interval"] == 0.5
        assert (narrow["upper"] - narrow["lower"] < wide["upper"] - wide["lower"]).all()
        assert "25%" in str(res.summary())
    finally:
        res.interval = 0.94
    with pytest.raises(mf.OptionError):
        res.interval = 1.5


def test_shrinkage_table(sleep_quick):
    sh = sleep_quick.shrinkage
    assert sh.index.names == ["group", "level", "term"]
    assert len(sh) == 18 * 2
    assert (sh["n_obs"] == 10).all()
    days = sh.xs("Days", level="term")
    # population value is the fixed effect; partial pooling lies between own fit and population
    # for most subjects
    assert days["weight"].isna().all()
    # on average the estimates are pulled toward the population value
    pulled = (days["partial_pooling"] - days["population"]).abs()
    own = (days["no_pooling"] - days["population"]).abs()
    assert pulled.mean() < own.mean()
    assert 0 < days["shrinkage"].median() < 1
    expect = (days["no_pooling"] - days["partial_pooling"]) / (days["no_pooling"] - days[
        "population"])
    np.testing.assert_allclose(days["shrinkage"], expect)
    icpt = sh.xs("Intercept", level="term")
    assert icpt["weight"].between(0, 1).all()


def test_summary_text_and_html(sleep_quick):
    text = str(sleep_quick.summary())
    for piece in ["Formula: Reaction ~ Days + (Days | Subject)", "Family: gaussian",
                  "180 observations", "Subject, 18", "Random effects", "Fixed effects",
                  "Residual", "cor(Intercept,Days)", "R-hat", "Bulk ESS", "Tail ESS",
                  "divergent"]:
        assert piece in text, piece
    # every population-level row has its R-hat and both ESS (brms' layout)
    rows = [line for line in text.splitlines()
            if re.search(r"\s\d\.\d{3}\s+\d+\s+\d+$", line)]
    assert len(rows) == 6  # 2 sds, 1 correlation, the residual sd, 2 fixed effects
    html = sleep_quick._repr_html_()
    assert "<table" in html and "Fixed effects" in html
    assert "MixedResult" in repr(sleep_quick) and "180 obs" in repr(sleep_quick)
    # print(res) is the summary, as print(fit) in lme4 and brms
    assert str(sleep_quick) == text


def test_peer_names_point_to_ours(sleep_quick):
    with pytest.raises(AttributeError, match=r"res\.fixed_effects \(lme4's and brms' fixef"):
        sleep_quick.fixef  # noqa: B018
    with pytest.raises(AttributeError, match=r"res\.variance_components"):
        sleep_quick.VarCorr  # noqa: B018
    with pytest.raises(AttributeError, match=r"has no attribute 'nothing_like_it'$"):
        sleep_quick.nothing_like_it  # noqa: B018
    with pytest.raises(AttributeError, match=r"res\.summary\(\), or print\(res\)"):
        mf.summary  # noqa: B018
    assert not hasattr(sleep_quick, "ranef")


def test_priors_table(sleep_quick):
    pri = sleep_quick.priors
    assert pri.index.tolist() == ["Intercept", "Days", "sd(Intercept|Subject)",
                                  "sd(Days|Subject)", "cor(Subject)", "sigma"]
    assert (pri["source"] == "default").all()
    assert pri.loc["cor(Subject)", "prior"] == "LKJ(eta=1)"


def test_idata_has_level_coordinates(sleep_quick):
    post = sleep_quick.idata.posterior
    assert list(post["u(Subject)"].dims) == ["chain", "draw", "level(Subject)", "term(Subject)"]
    assert post.coords["term(Subject)"].values.tolist() == ["Intercept", "Days"]
    assert "308" in post.coords["level(Subject)"].values.tolist()


def test_predict_fitted_and_new_levels(sleep_quick):
    df = mf.load_dataset("sleepstudy")
    fitted = sleep_quick.predict()
    assert fitted.shape == (180, 4)
    # mean prediction on the fitted rows = population line + subject deviation
    co = sleep_quick.coefficients["Subject"]
    row = df.iloc[15]
    expect = co.loc[str(row["Subject"]), ("Intercept", "mean")] + row["Days"] * co.loc[
        str(row["Subject"]), ("Days", "mean")]
    assert fitted["mean"].iloc[15] == pytest.approx(expect, rel=1e-6)
    new = pd.DataFrame({"Days": [0, 5], "Subject": ["999", "999"]})
    pop = sleep_quick.predict(new, random_seed=1)
    fixed_only = sleep_quick.predict(new, include_random=False)
    # a new subject: same centre as the population line, wider interval
    assert pop["mean"].iloc[0] == pytest.approx(fixed_only["mean"].iloc[0], abs=3 * 40 / 20)
    assert (pop["upper"] - pop["lower"] > fixed_only["upper"] - fixed_only["lower"]).all()
    with pytest.raises(mf.DataError, match="not seen in fitting"):
        sleep_quick.predict(new, new_levels="error")


def test_user_priors_are_used_and_reported():
    df = mf.load_dataset("sleepstudy")
    res = cached_fit("Reaction ~ Days + (Days | Subject)", df, key="tight-prior",
                     priors={"Days": mf.Prior("Normal", mu=0, sigma=0.1),
                             "sd(Subject)": mf.Prior("HalfNormal", sigma=30),
                             "cor(Subject)": mf.Prior("LKJ", eta=4)}, **QUICK)
    pri = res.priors
    assert pri.loc["Days", "prior"] == "Normal(mu=0, sigma=0.1)"
    assert pri.loc["Days", "source"] == "user"
    assert pri.loc["sd(Days|Subject)", "prior"] == "HalfNormal(sigma=30)"
    assert pri.loc["cor(Subject)", "prior"] == "LKJ(eta=4)"
    # a tight prior at zero pulls the slope far below lme4's 10.5
    assert abs(res.fixed_effects.loc["Days", "mean"]) < 1.0


def test_bambi_prior_accepted():
    bmb = pytest.importorskip("bambi")
    from mixedfit.priors import as_prior

    assert as_prior(bmb.Prior("Normal", mu=0, sigma=10)) == mf.Prior("Normal", mu=0, sigma=10)


def test_uncorrelated_block_has_no_correlation(fit_cache):
    res = fit_cache("Reaction ~ Days + (Days || Subject)", mf.load_dataset("sleepstudy"),
                    key="uncorr", **QUICK)
    vc = res.variance_components
    assert not any(p.startswith("cor(") for p in vc.index.get_level_values("parameter"))
    assert res.random_effects["Subject"].columns.get_level_values("term").unique().tolist() == [
        "Intercept", "Days"]
    assert "cor(Subject)" not in res.priors.index


def test_centered_option_runs(fit_cache):
    res = fit_cache("Reaction ~ Days + (Days | Subject)", mf.load_dataset("sleepstudy"),
                    key="centered", centered=True, **QUICK)
    assert "z(Subject)" not in res.idata.posterior
    assert res.fixed_effects.loc["Days", "mean"] == pytest.approx(10.47, abs=2.0)


def test_nested_and_crossed_groups(fit_cache):
    res = fit_cache("strength ~ 1 + (1 | batch/cask)", mf.load_dataset("pastes"),
                    key="pastes-quick", **QUICK)
    assert list(res.random_effects) == ["batch", "batch:cask"]
    assert len(res.random_effects["batch:cask"]) == 30
    assert res.random_effects["batch:cask"].index[0] == "A:a"


def test_factor_slopes(fit_cache):
    df = mf.load_dataset("cbpp").assign(rate=lambda d: d["incidence"] / d["size"])
    res = fit_cache("rate ~ period + (0 + period | herd)", df, key="factor-slope", **QUICK)
    cols = res.random_effects["herd"].columns.get_level_values("term").unique().tolist()
    assert cols == ["period[1]", "period[2]", "period[3]", "period[4]"]


def test_data_never_modified():
    df = mf.load_dataset("sleepstudy")
    before = copy.deepcopy(df)
    cached_fit("Reaction ~ Days + (Days | Subject)", df, key="sleepstudy", **QUICK)
    from mixedfit.design import build_design

    build_design("log(Reaction) ~ scale(Days) + (1 | Subject)", df)
    pd.testing.assert_frame_equal(df, before)


def test_shrinkage_notes_give_the_real_reason(fit_cache):
    """A level whose predictor never varies has rows enough but no own slope; a level
    with one row has too few."""
    rng = np.random.default_rng(8)
    g = np.repeat(np.arange(6), 8)
    x = rng.normal(size=g.size)
    x[g == 2] = 1.0  # x constant within level 2: the slope of its own data is undefined
    df = pd.DataFrame({"g": [f"g{k}" for k in g], "x": x})
    df["y"] = 1 + 0.5 * x + rng.normal(size=g.size)
    df = pd.concat([df, pd.DataFrame({"g": ["g9"], "x": [0.3], "y": [1.2]})],
                   ignore_index=True)
    res = fit_cache("y ~ x + (1 + x | g)", df, key="shrinkage-notes", **QUICK)
    notes = res.shrinkage["note"]
    assert notes.loc[("g", "g2", "x")] == ("x takes one value in this level: its slope is "
                                           "not identified by the level's own data")
    assert notes.loc[("g", "g9", "x")].startswith("1 observation for 2 terms: too few")
    assert notes.loc[("g", "g0", "x")] == ""
