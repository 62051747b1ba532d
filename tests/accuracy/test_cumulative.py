"""The cumulative (ordinal) family against ordinal::clmm and ordinal::clm.

Reference values: ``tests/reference/cumulative_reference.json``, produced by
``tests/reference/cumulative_reference.R`` (clmm with adaptive Gauss-Hermite quadrature,
nAGQ = 10; clm, exact ML) on ordinal's wine data: bitterness ratings 1-5,
``rating ~ temp + contact + (1 | judge)``. Both use ``P(y <= k) = F(Intercept[k] - eta)``
and the same reference levels (cold, no), so every coefficient is compared as it is.

Tolerances: thresholds and coefficients within 0.3 posterior sd of the ML estimates
(posterior mean against ML with 72 ratings and weakly informative default priors;
Monte Carlo error about 0.03 sd at 4 x 1000 draws); the judge sd inside its 94%
posterior interval (9 judges: its posterior is wide and skewed, its mean is not the ML
estimate).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mixedfit as mf
from tests.conftest import LONG, cached_fit

REF = json.loads((Path(__file__).parents[1] / "reference" / "cumulative_reference.json")
                 .read_text())["models"]
FORMULA = "rating ~ temp + contact + (1 | judge)"


def _fit(link: str, formula: str = FORMULA):
    return cached_fit(formula, mf.load_dataset("wine"), key=f"wine-{link}-{formula}",
                      family=mf.families.cumulative(link), **LONG)


@pytest.mark.parametrize(("key", "link", "formula"), [
    ("clmm_logit", "logit", FORMULA), ("clmm_probit", "probit", FORMULA),
    ("clm_logit", "logit", "rating ~ temp + contact")])
def test_agrees_with_ordinal(key, link, formula):
    res = _fit(link, formula)
    ref = REF[key]
    fe = res.fixed_effects
    assert list(fe.index) == list(ref["fixed"])  # thresholds first, named as brms does
    for term, value in ref["fixed"].items():
        row = fe.loc[term]
        assert abs(row["mean"] - value["estimate"]) <= 0.3 * row["sd"], (term, row["mean"],
                                                                           value)
    if "judge_sd" in ref:
        row = res.variance_components.loc[("judge", "sd(Intercept)")]
        assert row["lower"] <= ref["judge_sd"] <= row["upper"]
    assert res.plan.backend == "compiled"
    assert res.convergence()["max_r_hat"] < 1.01


def test_category_probabilities_sum_to_one_and_follow_the_coefficients():
    res = _fit("logit")
    new = pd.DataFrame({"temp": ["cold", "warm"], "contact": ["no", "no"]})
    p = res.predict(new, include_random=False)
    assert p.index.nlevels == 2 and list(p.index.levels[1]) == ["1", "2", "3", "4", "5"]
    totals = p["mean"].groupby(level=0).sum()
    np.testing.assert_allclose(totals, 1.0, atol=1e-12)
    # warm wines are rated more bitter: less mass on the lowest categories
    cold, warm = p["mean"].xs(0), p["mean"].xs(1)
    assert warm.loc["1"] < cold.loc["1"] and warm.loc["5"] > cold.loc["5"]


def test_replicated_ratings_cover_each_category():
    res = _fit("logit")
    rep = res.posterior_predictive(draws=300, random_seed=2)
    observed = np.bincount(res.design.y.astype(int), minlength=5)
    counts = np.stack([np.bincount(r.astype(int), minlength=5) for r in rep])
    lo, hi = np.quantile(counts, [0.03, 0.97], axis=0)
    assert np.all((lo <= observed) & (observed <= hi))


def test_summary_save_and_load(tmp_path):
    res = _fit("logit")
    text = str(res.summary())
    assert "categories 1 < 2 < 3 < 4 < 5" in text and "Intercept[4]" in text
    assert "Family parameters" not in text  # the thresholds are fixed effects here
    assert res.family_parameters.empty
    path = tmp_path / "wine.nc"
    res.save(path)
    back = mf.load(path)
    assert back.family == res.family and back.family.categories == ("1", "2", "3", "4", "5")
    pd.testing.assert_frame_equal(back.fixed_effects, res.fixed_effects)
    assert np.isfinite(res.loo().elpd_loo)
    ps = res.prior_sensitivity()
    assert {"Intercept[1]", "Intercept[4]", "fixed[temp[warm]]"} <= set(ps.index)


@pytest.mark.parametrize("link", ["logit", "probit"])
def test_recovers_the_simulating_parameters(link):
    # 600 ratings in 30 groups from known thresholds, slope and group sd; a predictor
    # far from its origin (the thresholds absorb its mean). Each estimate within 3.5
    # posterior sds of the truth (a 1-in-2000 miss per parameter by chance)
    rng = np.random.default_rng(11)
    n, m = 600, 30
    g = rng.integers(0, m, n)
    x = 50.0 + rng.normal(size=n)
    cuts, slope, sd = np.array([-1.0, 0.3, 1.8]), 0.8, 0.7
    eta = slope * (x - 50.0) + rng.normal(0, sd, m)[g]
    noise = rng.logistic(size=n) if link == "logit" else rng.standard_normal(n)
    y = np.searchsorted(cuts - slope * 50.0, eta - slope * 50.0 + noise) + 1
    df = pd.DataFrame({"y": y, "x": x, "g": [f"g{k}" for k in g]})
    res = mf.fit("y ~ x + (1 | g)", df, family=mf.families.cumulative(link), random_seed=4,
                 progressbar=False)
    fe = res.fixed_effects
    truth = {"Intercept[1]": cuts[0] + slope * 50, "Intercept[2]": cuts[1] + slope * 50,
             "Intercept[3]": cuts[2] + slope * 50, "x": slope}
    for term, value in truth.items():
        assert abs(fe.loc[term, "mean"] - value) < 3.5 * fe.loc[term, "sd"], (term, value)
    row = res.variance_components.loc[("g", "sd(Intercept)")]
    assert abs(row["mean"] - sd) < 3.5 * row["sd"]
    assert res.convergence()["max_r_hat"] < 1.01 and res.convergence()["divergences"] == 0
