"""Family parameters with their own formulas (``sigma=``, ``alpha=``, ``zi=``) against
glmmTMB's ``dispformula`` and ``ziformula``, and recovery of a formula with group effects.

Reference values: ``tests/reference/dispersion_reference.json`` (written by
``dispersion_reference.R``: glmmTMB 1.1.5, whose Gaussian dispersion model is on the log
variance scale; the script halves it to mixedfit's log sigma) and the ``zip_zi_mined``
model of ``zero_inflated_reference.json``. glmmTMB 1.1.5 takes no group effects in
``dispformula``: those are checked by recovery here, by the density against PyMC's
(``tests/backends/test_compiled.py``) and by SBC (``scripts/sbc.py --model sigma_formula``).

mixedfit's reference level of ``mined`` is ``no`` (formulae sorts the levels), R's
``yes``: R's ``(Intercept) + minedno`` is mixedfit's ``Intercept`` and ``-minedno`` its
``mined[yes]``, for each linear predictor.

Tolerances: coefficients within 0.3 posterior sd of glmmTMB's ML estimates (posterior
mean against ML; Monte Carlo error about 0.03 sd at 4 x 1000 draws), group sds inside
their 94% posterior intervals.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mixedfit as mf
from tests.conftest import LONG, cached_fit

REFERENCE = Path(__file__).parents[1] / "reference"
REF = json.loads((REFERENCE / "dispersion_reference.json").read_text())["models"]
ZI_REF = json.loads((REFERENCE / "zero_inflated_reference.json").read_text())["models"]


def _close(fe: pd.DataFrame, term: str, value: float) -> None:
    row = fe.loc[term]
    assert abs(row["mean"] - value) <= 0.3 * row["sd"], (term, row["mean"], value, row["sd"])


def _flip(fe: pd.DataFrame, prefix: str, ref: dict) -> None:
    """R's (Intercept) and mined[no] (reference level yes) against mixedfit's Intercept and
    mined[yes] (reference level no)."""
    a, b = ref[f"{prefix}Intercept"]["estimate"], ref[f"{prefix}mined[no]"]["estimate"]
    _close(fe, f"{prefix}Intercept", a + b)
    _close(fe, f"{prefix}mined[yes]", -b)


def test_sleepstudy_sigma_by_days_agrees_with_glmmtmb():
    res = cached_fit("Reaction ~ Days + (Days | Subject)", mf.load_dataset("sleepstudy"),
                     key="sleep-sigma-days", sigma="~ Days", **LONG)
    ref = REF["sleepstudy_sigma"]
    fe = res.fixed_effects
    assert list(fe.index) == ["Intercept", "Days", "sigma_Intercept", "sigma_Days"]
    for block in ("fixed", "sigma"):
        for term, value in ref[block].items():
            _close(fe, term, value["estimate"])
    vc = res.variance_components
    for term, sd in ref["sd"].items():
        row = vc.loc[("Subject", f"sd({term})")]
        assert row["lower"] <= sd <= row["upper"], term
    assert ("Residual", "sd") not in vc.index  # sigma varies by row
    with pytest.raises(mf.MixedFitError, match="own formula"):
        res.sigma  # noqa: B018
    assert res.plan.backend == "compiled"


def test_salamanders_shape_by_mining_agrees_with_glmmtmb():
    res = cached_fit("count ~ mined + (1 | site)", mf.load_dataset("salamanders"),
                     key="salamanders-nb-alpha", family="negativebinomial",
                     alpha="~ mined", **LONG)
    ref = REF["salamanders_nb_alpha"]
    fe = res.fixed_effects
    _flip(fe, "", ref["fixed"])
    _flip(fe, "alpha_", ref["alpha"])
    row = res.variance_components.loc[("site", "sd(Intercept)")]
    assert row["lower"] <= ref["site_sd"] <= row["upper"]
    assert res.family_parameters.empty  # alpha is in the fixed effects' table


def test_zero_inflation_by_mining_agrees_with_glmmtmb():
    # mined is a site-level predictor and 23 sites leave the site sd uncertain (posterior
    # mean 0.41, glmmTMB's ML 0.28): integrating over it moves mined's coefficients from
    # ML by up to 0.6 posterior sd (both backends alike: mined[yes] -1.31 compiled, -1.32
    # PyMC, ML -1.14). Each coefficient is therefore compared within one of glmmTMB's
    # standard errors here (0.23 to 0.26).
    res = cached_fit("count ~ mined + (1 | site)", mf.load_dataset("salamanders"),
                     key="salamanders-zip-zi", family="zero_inflated_poisson",
                     zi="~ mined", **LONG)
    ref = ZI_REF["zip_zi_mined"]
    fe = res.fixed_effects["mean"]
    for prefix, part in (("", ref["fixed"]), ("zi_", ref["zi"])):
        a, b = part[f"{prefix}Intercept"], part[f"{prefix}mined[no]"]
        assert abs(fe[f"{prefix}Intercept"] - (a["estimate"] + b["estimate"])) < a["se"]
        assert abs(fe[f"{prefix}mined[yes]"] + b["estimate"]) < b["se"]
    row = res.variance_components.loc[("site", "sd(Intercept)")]
    assert row["lower"] <= ref["site_sd"] <= row["upper"]
    text = str(res.summary())
    assert "zi ~ mined (link: logit)" in text


def _heteroscedastic(seed: int = 3) -> tuple[pd.DataFrame, dict]:
    rng = np.random.default_rng(seed)
    n, m = 800, 25
    g = rng.integers(0, m, n)
    x = rng.normal(size=n)
    truth = {"Intercept": 10.0, "x": 2.0, "sd_u": 0.5, "sigma_Intercept": -0.3,
             "sigma_x": 0.5, "sd_v": 0.4}
    u, v = rng.normal(0, truth["sd_u"], m), rng.normal(0, truth["sd_v"], m)
    log_sigma = truth["sigma_Intercept"] + truth["sigma_x"] * x + v[g]
    y = truth["Intercept"] + truth["x"] * x + u[g] + np.exp(log_sigma) * rng.normal(size=n)
    return pd.DataFrame({"y": y, "x": x, "g": [f"g{k}" for k in g]}), truth


def test_recovers_a_sigma_that_varies_by_group_and_predictor():
    df, truth = _heteroscedastic()
    res = cached_fit("y ~ x + (1 | g)", df, key="hetero-sigma", sigma="~ x + (1 | g)",
                     **LONG)
    fe, vc = res.fixed_effects, res.variance_components
    for term in ("Intercept", "x", "sigma_Intercept", "sigma_x"):
        # within 3.5 posterior sds (a 1-in-2000 miss per parameter by chance)
        assert abs(fe.loc[term, "mean"] - truth[term]) < 3.5 * fe.loc[term, "sd"], term
    for term, key in (("sd(Intercept)", "sd_u"), ("sd(sigma_Intercept)", "sd_v")):
        row = vc.loc[("g", term)]
        assert abs(row["mean"] - truth[key]) < 3.5 * row["sd"], term
    assert res.convergence()["max_r_hat"] < 1.01


def test_units_do_not_change_a_sigma_formula():
    # the response x 1000: the mean's coefficients x 1000, log sigma + log 1000, the rest
    # the same (same seed, same draws up to rounding in the internal coordinates)
    df, _ = _heteroscedastic()
    a = cached_fit("y ~ x + (1 | g)", df, key="hetero-sigma", sigma="~ x + (1 | g)", **LONG)
    b = cached_fit("y ~ x + (1 | g)", df.assign(y=df["y"] * 1000.0), key="hetero-sigma-k",
                   sigma="~ x + (1 | g)", **LONG)
    fa, fb = a.fixed_effects["mean"], b.fixed_effects["mean"]
    np.testing.assert_allclose(fb[["Intercept", "x"]], 1000.0 * fa[["Intercept", "x"]],
                               rtol=1e-6)
    assert fb["sigma_Intercept"] == pytest.approx(fa["sigma_Intercept"] + np.log(1000.0),
                                                  abs=1e-6)
    assert fb["sigma_x"] == pytest.approx(fa["sigma_x"], abs=1e-6)


def test_results_predict_save_and_loo(tmp_path):
    df, _ = _heteroscedastic()
    res = cached_fit("y ~ x + (1 | g)", df, key="hetero-sigma", sigma="~ x + (1 | g)", **LONG)
    text = str(res.summary())
    assert "sigma ~ x + (1 | g) (link: log)" in text and "sigma_Intercept" in text
    assert "sd(sigma_Intercept)" in res.variance_components.index.get_level_values(1)
    pred = res.predict(df.head(3))
    assert pred.shape == (3, 4)
    # each row's sigma: exp(sigma_Intercept + sigma_x x + v_g), larger where x is larger
    sig = res.predict(pd.DataFrame({"x": [-1.0, 1.0], "g": ["g0", "g0"]}), parameter="sigma")
    assert sig["mean"].iloc[1] > 1.5 * sig["mean"].iloc[0]
    with pytest.raises(mf.OptionError, match="parameters are sigma"):
        res.predict(df.head(2), parameter="nu")
    with pytest.raises(mf.DataError, match="lacks the column 'x'"):
        res.predict(pd.DataFrame({"g": ["g0"]}))
    rep = res.posterior_predictive(draws=50, random_seed=1)
    # the replicated spread follows sigma: wider where x is large
    hi, lo = df["x"] > 1, df["x"] < -1
    assert rep[:, hi].std() > 1.5 * rep[:, lo].std()
    assert np.isfinite(res.loo().elpd_loo)
    ps = res.prior_sensitivity()
    assert {"fixed[sigma_Intercept]", "fixed[sigma_x]", "sd(sigma_g)[sigma_Intercept]"} <= set(
        ps.index)
    path = tmp_path / "h.nc"
    res.save(path)
    back = mf.load(path)
    assert back.design.dpar_formulas == {"sigma": "~ x + (1 | g)"}
    pd.testing.assert_frame_equal(back.fixed_effects, res.fixed_effects)
