"""The categorical (multinomial logit) family against nnet::multinom, and recovery of
group effects per category.

Reference values: ``tests/reference/categorical_reference.json`` and the data
``categorical_data.csv``, both written by ``tests/reference/categorical_reference.R``
(600 simulated travel-mode choices, walk/bike/car, by a numeric ``x`` far from 0 and a
three-level ``site``; multinom's ML fit). Its parameterisation is mixedfit's: ``walk``
the reference, each other category with its own coefficients (``mubike_x``...).

Tolerances: coefficients within 0.3 posterior sd of multinom's ML estimates (posterior
mean against ML with 600 rows and weakly informative defaults; Monte Carlo error about
0.03 sd at 4 x 1000 draws). multinom fits no group effects: those are recovered from a
simulation, each estimate within 3.5 posterior sd of the truth (a 1-in-2000 miss per
parameter by chance).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

import mixedfit as mf
from tests.conftest import LONG, cached_fit

REFERENCE = Path(__file__).parents[1] / "reference"
REF = json.loads((REFERENCE / "categorical_reference.json").read_text())["models"]
DATA = pd.read_csv(REFERENCE / "categorical_data.csv")
MODES = mf.families.categorical(categories=["walk", "bike", "car"])


def _multinom():
    return cached_fit("mode ~ x + site", DATA, key="multinom", family=MODES, **LONG)


def test_agrees_with_multinom():
    res = _multinom()
    fe = res.fixed_effects
    assert set(fe.index) == set(REF["multinom"]["fixed"])
    for term, value in REF["multinom"]["fixed"].items():
        row = fe.loc[term]
        assert abs(row["mean"] - value["estimate"]) <= 0.3 * row["sd"], (term, row["mean"],
                                                                          value)
    assert res.plan.backend == "compiled" and res.convergence()["max_r_hat"] < 1.01


def test_probabilities_predictions_and_results(tmp_path):
    res = _multinom()
    new = pd.DataFrame({"x": [0.0, 4.0], "site": ["a", "b"]})
    p = res.predict(new)
    assert list(p.index.get_level_values(1)[:3]) == ["walk", "bike", "car"]
    np.testing.assert_allclose(p["mean"].groupby(level=0).sum(), 1.0, atol=1e-12)
    # against multinom's probabilities at its estimates (within 0.05: posterior means of
    # probabilities against ML)
    fixed = REF["multinom"]["fixed"]
    for i, (x, site) in enumerate(zip(new["x"], new["site"], strict=True)):
        eta = [0.0] + [fixed[f"mu{c}_Intercept"]["estimate"] + fixed[f"mu{c}_x"]["estimate"] * x
                       + (fixed[f"mu{c}_site[b]"]["estimate"] if site == "b" else 0.0)
                       for c in ("bike", "car")]
        ml = np.exp(eta) / np.sum(np.exp(eta))
        np.testing.assert_allclose(p["mean"].xs(i).to_numpy(), ml, atol=0.05)
    text = str(res.summary())
    assert "categories walk, bike, car; reference 'walk'" in text
    assert "mubike ~ x + site (log odds of 'bike' against 'walk')" in text
    rep = res.posterior_predictive(draws=200, random_seed=1)
    observed = np.bincount(res.design.y.astype(int), minlength=3)
    counts = np.stack([np.bincount(r.astype(int), minlength=3) for r in rep])
    lo, hi = np.quantile(counts, [0.03, 0.97], axis=0)
    assert np.all((lo <= observed) & (observed <= hi))
    assert np.isfinite(res.loo().elpd_loo)
    path = tmp_path / "modes.nc"
    res.save(path)
    back = mf.load(path)
    assert back.family == res.family
    pd.testing.assert_frame_equal(back.fixed_effects, res.fixed_effects)


def test_recovers_group_effects_per_category():
    rng = np.random.default_rng(5)
    n, m = 900, 30
    g = rng.integers(0, m, n)
    x = rng.normal(size=n)
    b0, b1, sds = np.array([0.0, 0.5, -0.3]), np.array([0.0, 1.0, -0.8]), (0.6, 0.4)
    u = np.column_stack([np.zeros(m), rng.normal(0, sds[0], m), rng.normal(0, sds[1], m)])
    logits = b0[None] + b1[None] * x[:, None] + u[g]
    p = np.exp(logits)
    p /= p.sum(axis=1, keepdims=True)
    y = (np.cumsum(p, axis=1)[:, :-1] < rng.uniform(size=n)[:, None]).sum(axis=1)
    df = pd.DataFrame({"mode": np.array(["walk", "bike", "car"])[y], "x": x,
                       "g": [f"g{k}" for k in g]})
    res = cached_fit("mode ~ x + (1 | g)", df, key="categorical-recovery", family=MODES,
                     **LONG)
    fe, vc = res.fixed_effects, res.variance_components
    for k, c in enumerate(("bike", "car"), start=1):
        for term, value in ((f"mu{c}_Intercept", b0[k]), (f"mu{c}_x", b1[k])):
            assert abs(fe.loc[term, "mean"] - value) < 3.5 * fe.loc[term, "sd"], term
        row = vc.loc[("g", f"sd(mu{c}_Intercept)")]
        assert abs(row["mean"] - sds[k - 1]) < 3.5 * row["sd"], c
