"""Observation weights (``weights=``) with lme4's meaning, against lme4.

Reference values: ``tests/reference/weights_se_reference.json``, produced by
``tests/reference/weights_se_reference.R`` (lmer with precision weights, glmer with
prior weights).

Tolerances:

* Fixed effects within 0.3 posterior sd of the reference estimates (lmer's REML
  estimate, glmer's Laplace ML estimate): a posterior mean and a (restricted) maximum
  likelihood estimate differ by a fraction of a posterior sd with this many groups,
  on top of Monte Carlo error of about 0.02 sd.
* Each variance component (lme4's estimate) inside its 94% posterior interval.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import mixedfit as mf
from tests.conftest import LONG, QUICK, cached_fit, forbid_sampling

REF = json.loads((Path(__file__).parents[1] / "reference" / "weights_se_reference.json")
                 .read_text())


def _sleepstudy_weighted():
    df = mf.load_dataset("sleepstudy")
    # the R script's w <- c(0.5, 1, 2)[(Days %% 3) + 1]
    return df.assign(w=np.array([0.5, 1.0, 2.0])[df["Days"].to_numpy() % 3])


def _grouseticks_weighted():
    df = mf.load_dataset("grouseticks")
    # the R script's w <- c(1, 2)[(as.integer(INDEX) %% 2) + 1], INDEX the row number
    row = np.arange(1, len(df) + 1)
    return df.assign(w=np.where(row % 2 == 1, 2.0, 1.0))


def _check_fixed(res, ref, tol=0.3):
    fe = res.fixed_effects
    for term, value in ref["fixed"].items():
        row = fe.loc[term]
        assert abs(row["mean"] - value["estimate"]) <= tol * row["sd"], (
            f"{term}: {row['mean']:.4f} vs {value['estimate']:.4f} (sd {row['sd']:.4f})")


@pytest.mark.parametrize("backend", ["compiled", "pymc"])
def test_precision_weights_agree_with_lmer(backend):
    opts = LONG if backend == "compiled" else {**QUICK, "draws": 500}
    res = cached_fit("Reaction ~ Days + (Days | Subject)", _sleepstudy_weighted(),
                     key=f"sleep-weighted-{backend}", weights="w", backend=backend, **opts)
    ref = REF["lmer_weighted"]["reml"]
    _check_fixed(res, ref)
    vc = res.variance_components
    for term, sd in ref["random"]["Subject"]["sd"].items():
        row = vc.loc[("Subject", f"sd({term})")]
        assert row["lower"] <= sd <= row["upper"], term
    row = vc.loc[("Subject", "cor(Intercept,Days)")]
    assert row["lower"] <= ref["random"]["Subject"]["corr"] <= row["upper"]
    row = vc.loc[("Residual", "sd")]
    assert row["lower"] <= ref["sigma"] <= row["upper"]
    assert res.plan.weights == "w"
    if backend == "compiled":
        assert res.plan.marginalized  # the weights are folded into the marginal model
        assert "Weights: w (precision weights, 0.5 to 2)" in str(res.summary())
        # each level's own fit (shrinkage) is a weighted least-squares fit
        level = res.design.data["Subject"] == "308"
        sub = res.design.data[level]
        X = np.column_stack([np.ones(len(sub)), sub["Days"]])
        root = np.sqrt(sub["w"].to_numpy())
        own = np.linalg.lstsq(X * root[:, None], sub["Reaction"].to_numpy() * root,
                              rcond=None)[0]
        table = res.shrinkage
        assert table.loc[("Subject", "308", "Intercept"), "no_pooling"] == pytest.approx(own[0])
        assert table.loc[("Subject", "308", "Days"), "no_pooling"] == pytest.approx(own[1])


def test_weights_change_the_fit():
    # the same data without weights: lmer's unweighted fit has another slope (10.47);
    # a test that the weights reach the sampler at all
    df = _sleepstudy_weighted()
    weighted = cached_fit("Reaction ~ Days + (Days | Subject)", df, key="sleep-weighted-compiled",
                          weights="w", backend="compiled", **LONG)
    plain = cached_fit("Reaction ~ Days + (Days | Subject)", df, key="sleep-plain-w", **LONG)
    assert abs(weighted.fixed_effects.loc["Days", "mean"]
               - plain.fixed_effects.loc["Days", "mean"]) > 0.2
    # the posterior predictive check of a weighted Gaussian: row sd sigma / sqrt(w)
    # (sd ratio 2 between weights 0.5 and 2, blurred a little by the means' uncertainty)
    rep = weighted.posterior_predictive(draws=400, random_seed=1)
    heavy, light = df["w"].to_numpy() == 2.0, df["w"].to_numpy() == 0.5
    spread = np.std(rep, axis=0)
    assert np.median(spread[light]) > 1.6 * np.median(spread[heavy])


def test_prior_weights_agree_with_glmer():
    res = cached_fit("TICKS ~ C(YEAR) + scale(HEIGHT) + (1 | LOCATION)",
                     _grouseticks_weighted(), key="grouse-weighted", family="poisson",
                     weights="w", **LONG)
    ref = REF["glmer_poisson_weighted"]
    _check_fixed(res, ref)
    row = res.variance_components.loc[("LOCATION", "sd(Intercept)")]
    assert row["lower"] <= ref["random"]["LOCATION"]["sd"]["Intercept"] <= row["upper"]
    # the pointwise log-likelihood (LOO's) is each row's Poisson term times its weight
    from scipy import stats

    ll = res.log_likelihood_data().log_likelihood["y"].values.reshape(-1, len(res.design.y))
    from mixedfit.results.predict import linear_predictor_draws

    mu = np.exp(linear_predictor_draws(res, None))
    expected = res.design.weights * stats.poisson.logpmf(res.design.y, mu)
    np.testing.assert_allclose(ll, expected.reshape(ll.shape), rtol=1e-10)


def test_weights_survive_save_and_load(tmp_path):
    res = cached_fit("TICKS ~ C(YEAR) + scale(HEIGHT) + (1 | LOCATION)",
                     _grouseticks_weighted(), key="grouse-weighted", family="poisson",
                     weights="w", **LONG)
    path = tmp_path / "w.nc"
    res.save(path)
    back = mf.load(path)
    np.testing.assert_array_equal(back.design.weights, res.design.weights)
    assert back.plan.weights == "w"
    assert back.fixed_effects.equals(res.fixed_effects)


def test_bad_weights_fail_before_sampling(monkeypatch):
    df = _sleepstudy_weighted()
    forbid_sampling(monkeypatch)  # sampling must never start
    with pytest.raises(mf.DataError, match="positive"):
        mf.fit("Reaction ~ Days + (1 | Subject)", df.assign(w=df["w"] - 1.0), weights="w")
    with pytest.raises(mf.DataError, match="not in the data"):
        mf.fit("Reaction ~ Days + (1 | Subject)", df, weights="weight")
    with pytest.raises(mf.DataError, match="3 values for 180 rows"):
        mf.fit("Reaction ~ Days + (1 | Subject)", df, weights=[1.0, 2.0, 3.0])
    with pytest.raises(mf.DataError, match="must be numbers"):
        mf.fit("Reaction ~ Days + (1 | Subject)", df.assign(w="a"), weights="w")
    with pytest.raises(mf.OptionError, match="weights"):
        mf.fit("Reaction ~ Days + (1 | Subject)", df, weights="w", backend="bambi")
    cbpp = mf.load_dataset("cbpp").assign(p=lambda d: d["incidence"] / d["size"])
    with pytest.raises(mf.OptionError, match="not both"):
        mf.fit("p ~ period + (1 | herd)", cbpp, family="binomial", trials="size",
               weights="size")
