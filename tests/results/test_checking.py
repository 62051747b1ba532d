"""Checking and comparing fits: diagnostics and warnings, PPC, LOO, sensitivity, pooling."""

from __future__ import annotations

import copy
import re
import warnings

import numpy as np
import pandas as pd
import pytest

import mixedfit as mf
from mixedfit.results.diagnostics import diagnose, warn_if_problems
from tests.conftest import LONG, QUICK, cached_fit


def _record(func):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = func()
    return res, [w for w in caught if issubclass(w.category, mf.MixedFitWarning)]


def _sleep_long():
    return cached_fit("Reaction ~ Days + (Days | Subject)", mf.load_dataset("sleepstudy"),
                      key="sleepstudy_corr", **LONG)


# ------------------------------------------------------------------ diagnostics

def test_healthy_fit_is_quiet():
    res = _sleep_long()
    diag = res.diagnostics()
    assert diag.ok and diag.problems == [] and diag.singular == []
    assert diag.parameters["r_hat"].max() <= 1.01
    assert diag.divergences == 0 and diag.treedepth_saturated == 0
    assert (diag.ebfmi >= 0.3).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error", mf.MixedFitWarning)
        warn_if_problems(diag)
    assert "No convergence problems" in str(res.summary())


def test_too_few_tuning_steps_fire_rhat_ess_and_divergence_warnings():
    res, caught = _record(lambda: mf.fit(
        "Reaction ~ Days + (Days | Subject)", mf.load_dataset("sleepstudy"), draws=100, tune=5,
        chains=2, random_seed=2, progressbar=False, target_accept=0.8, centered=False))
    messages = [str(w.message) for w in caught if w.category is mf.ConvergenceWarning]
    assert any(m.startswith("R-hat above 1.01 for") and "population-level" in m
               and "longer" in m for m in messages)
    assert any(m.startswith("Bulk or tail ESS below 400") and "draws=" in m
               and re.search(r"(bulk|tail) ESS \d+\)", m) for m in messages)
    # the group effects' problems are summarised in one warning, counted
    group = [m for m in messages if m.startswith("Group effects:")]
    assert len(group) == 1 and re.search(r"of 36 group effects\. Run longer", group[0])
    # advice that fits what was done: the blocks were non-centred
    assert all("centered=True" in m for m in messages if "try the" in m)
    assert len(messages) == len(set(messages))
    assert any("divergent transitions" in m and "target_accept" in m for m in messages)
    assert not res.diagnostics().ok
    assert "convergence problem" in str(res.summary())


def test_centred_funnel_fires_divergences():
    rng = np.random.default_rng(1)
    g = np.repeat(np.arange(8), 2)
    df = pd.DataFrame({"y": rng.normal(0, 1, 16) + rng.normal(0, 0.05, 8)[g],
                       "g": [f"g{k}" for k in g]})
    res, caught = _record(lambda: mf.fit("y ~ 1 + (1 | g)", df, centered=True, random_seed=2,
                                         progressbar=False, target_accept=0.8,
                                         backend="pymc", **QUICK))
    assert res.diagnostics().divergences > 0
    assert any("divergent" in str(w.message) for w in caught)
    # the compiled backend centres the effects on the intercept (b = Intercept + u): the
    # same funnel then shows as poor mixing rather than divergences, and is still flagged
    res, caught = _record(lambda: mf.fit("y ~ 1 + (1 | g)", df, centered=True, random_seed=2,
                                         progressbar=False, target_accept=0.8, **QUICK))
    assert res.info["backend"] == "compiled" and not res.diagnostics().ok
    assert any(w.category is mf.ConvergenceWarning for w in caught)


def test_tree_depth_saturation_fires():
    res, caught = _record(lambda: mf.fit(
        "Reaction ~ Days + (Days | Subject)", mf.load_dataset("sleepstudy"), max_treedepth=2,
        random_seed=2, progressbar=False, **QUICK))
    assert res.diagnostics().treedepth_saturated > 0
    assert any("maximum tree depth 2" in str(w.message) for w in caught)


def test_low_ebfmi_fires():
    """E-BFMI compares energy jumps to the energy's spread: a random-walk energy is low."""
    res = copy.copy(_sleep_long())
    res._draw_cache = {}
    idata = copy.deepcopy(res.idata)
    energy = idata.sample_stats["energy"]
    rng = np.random.default_rng(0)
    walk = np.cumsum(rng.normal(size=energy.shape), axis=1)
    idata.sample_stats["energy"] = (energy.dims, walk)
    res.idata = idata
    diag = diagnose(res)
    assert (diag.ebfmi < 0.3).all()
    with pytest.warns(mf.ConvergenceWarning, match="E-BFMI below 0.3"):
        warn_if_problems(diag)


def test_singular_fit_reported_like_lme4():
    rng = np.random.default_rng(4)
    g = np.repeat(np.arange(10), 6)
    y = rng.normal(0, 1, g.size)
    y = y - pd.Series(y).groupby(g).transform("mean").to_numpy() + 5.0  # no group variation
    df = pd.DataFrame({"y": y, "g": [f"g{k}" for k in g]})
    res, caught = _record(lambda: cached_fit("y ~ 1 + (1 | g)", df, key="singular", **QUICK))
    assert any(w.category is mf.SingularFitWarning and "g: sd(Intercept) piles up at zero"
               in str(w.message) for w in caught)
    assert "boundary (singular) fit" in str(res.summary())


# ----------------------------------------------------------------- predictive

def test_posterior_predictive_and_grouped_check(sleep_quick):
    yrep = sleep_quick.posterior_predictive(draws=30, random_seed=1)
    assert yrep.shape == (30, 180)
    y = sleep_quick.design.y
    # replicated data resemble the observed: means within a few standard errors
    assert abs(yrep.mean() - y.mean()) < 3 * y.std() / np.sqrt(y.size)
    check = sleep_quick.ppc_grouped("Subject", stat="mean", random_seed=1)
    assert check.shape == (18, 6) and check["p_value"].between(0, 1).all()
    np.testing.assert_allclose(check["observed"].to_numpy(),
                               pd.Series(y).groupby(sleep_quick.design.blocks[0].index).mean())
    # group means are fitted by the group effects: observed within the replicated interval
    assert ((check["observed"] >= check["lower"]) & (check["observed"] <= check["upper"])).all()
    with pytest.raises(mf.DataError, match="No grouping factor"):
        sleep_quick.ppc_grouped("Days")


def test_prior_predictive():
    pp = mf.prior_predictive("Reaction ~ Days + (Days | Subject)", mf.load_dataset("sleepstudy"),
                             draws=200, random_seed=3)
    assert pp.y.shape == (200, 180)
    table = pp.summary()
    # weakly informative: the prior spreads far wider than the data, centred near them
    spread = table.loc[0.9, "simulated"] - table.loc[0.1, "simulated"]
    assert spread > 3 * (table.loc[0.9, "observed"] - table.loc[0.1, "observed"])
    assert abs(table.loc[0.5, "simulated"] - table.loc[0.5, "observed"]) < spread / 4
    counts = mf.prior_predictive("cbind(incidence, size - incidence) ~ period + (1 | herd)",
                                 mf.load_dataset("cbpp"), family="binomial", draws=50,
                                 random_seed=3)
    assert (counts.y <= counts.design.trials).all() and (counts.y >= 0).all()


# ---------------------------------------------------------------------- LOO

def _slopes_data(seed=8):
    rng = np.random.default_rng(seed)
    J, n = 25, 12
    g = np.repeat(np.arange(J), n)
    x = rng.normal(size=g.size)
    y = 1 + rng.normal(0, 1.5, J)[g] + (0.5 + rng.normal(0, 1.0, J)[g]) * x + rng.normal(
        0, 0.5, g.size)
    return pd.DataFrame({"y": y, "x": x, "g": [f"g{k}" for k in g]})


def test_loo_ranks_true_structure_first():
    df = _slopes_data()
    fits = {
        "slopes": cached_fit("y ~ x + (1 + x | g)", df, key="loo", **QUICK),
        "intercepts": cached_fit("y ~ x + (1 | g)", df, key="loo", **QUICK),
        "none": cached_fit("y ~ x", df, key="loo", **QUICK),
    }
    table = mf.compare(fits)
    assert table.index[0] == "slopes"
    assert list(table.index) == ["slopes", "intercepts", "none"]
    # the gap to the runner-up is many standard errors, not noise
    assert table.loc["intercepts", "elpd_diff"] > 4 * table.loc["intercepts", "dse"]
    loo = fits["slopes"].loo()
    assert loo.pareto_k.shape == (len(df),)
    waic = fits["slopes"].waic()
    assert waic["elpd_waic"] == pytest.approx(loo["elpd_loo"], abs=5)
    assert "log_likelihood" in fits["slopes"].idata.groups()  # stored at fit time


def test_unreliable_loo_is_explained_once():
    """An effect per observation makes Pareto k high by construction: one LooWarning per
    fit that says so and what to do, ArviZ's own warnings silenced, a note in the table."""
    rng = np.random.default_rng(11)
    n = 120
    g = rng.integers(0, 6, n)
    df = pd.DataFrame({"g": [f"g{k}" for k in g], "obs": np.arange(n)})
    df["y"] = rng.poisson(np.exp(1.0 + rng.normal(0, 0.4, 6)[g] + rng.normal(0, 1.0, n)))
    plain = cached_fit("y ~ 1 + (1 | g)", df, key="loo-obs", family="poisson", **QUICK)
    obs = cached_fit("y ~ 1 + (1 | g) + (1 | obs)", df, key="loo-obs", family="poisson",
                     **QUICK)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = mf.compare({"plain": plain, "observation-level": obs})
        obs.loo()  # computed once: no second warning
    loo_warnings = [str(w.message) for w in caught if w.category is mf.LooWarning]
    assert len([m for m in loo_warnings if "effect per observation (obs)" in m]) == 1
    assert all("k-fold" in m for m in loo_warnings)
    assert not [w for w in caught if not issubclass(w.category, mf.MixedFitWarning)]
    assert table.loc["observation-level", "note"].startswith("LOO unreliable: ")


def test_compare_needs_same_data(sleep_quick):
    other = cached_fit("Yield ~ 1 + (1 | Batch)", mf.load_dataset("dyestuff"), key="dye-quick",
                       **QUICK)
    with pytest.raises(mf.OptionError, match="same data"):
        mf.compare({"a": sleep_quick, "b": other})


# ---------------------------------------------------------------- sensitivity

def test_prior_sensitivity_flags_conflict_not_weak_prior():
    """Days ~ Normal(0, 1) contradicts the data's slope of 10.5 (standard error 0.8).

    A random-intercept model: with a random Days slope the subject slopes would absorb
    the conflict and the likelihood would barely inform the fixed slope.
    """
    df = mf.load_dataset("sleepstudy")
    formula = "Reaction ~ Days + (1 | Subject)"
    weak = cached_fit(formula, df, key="weak-prior", **LONG).prior_sensitivity()
    assert weak.loc["fixed[Days]", "prior"] < 0.05
    assert (weak["diagnosis"] == "-").all()
    conflict = cached_fit(formula, df, key="conflict",
                          priors={"Days": mf.Prior("Normal", mu=0, sigma=1.0)}, **LONG)
    sens = conflict.prior_sensitivity()
    assert sens.loc["fixed[Days]", "prior"] >= 0.05
    assert sens.loc["fixed[Days]", "likelihood"] >= 0.05
    assert sens.loc["fixed[Days]", "diagnosis"] == "prior-data conflict"
    assert sens.attrs["pareto_k_prior"] < 0.7


def test_refit_with_other_priors(sleep_quick):
    again = sleep_quick.refit(priors={"Days": mf.Prior("Normal", mu=0, sigma=0.5)})
    assert again.priors.loc["Days", "source"] == "user"
    assert again.fixed_effects.loc["Days", "mean"] < sleep_quick.fixed_effects.loc["Days",
                                                                                    "mean"] - 3
    assert again.info["draws"] == sleep_quick.info["draws"]


# -------------------------------------------------------------------- pooling

def test_compare_pooling():
    df = _slopes_data(seed=9)
    cmp = mf.compare_pooling("y ~ x + (1 + x | g)", df, random_seed=1, **QUICK)
    est = cmp.estimates
    assert est.shape == (50, 4)
    assert set(cmp.fits) == {"complete_pooling", "no_pooling", "partial_pooling"}
    # complete pooling: one value for all levels; no pooling: each level its own
    assert est.xs("x", level="term")["complete_pooling"].nunique() == 1
    assert est["no_pooling"].notna().all()
    # partial pooling lies between: on average closer to the population than no pooling
    for term in ("Intercept", "x"):
        part = est.xs(term, level="term")
        assert (part["partial_pooling"] - part["complete_pooling"]).abs().mean() < (
            part["no_pooling"] - part["complete_pooling"]).abs().mean()
    assert cmp.loo.index[-1] == "complete_pooling"
    with pytest.raises(mf.FormulaError, match="exactly one grouping factor"):
        mf.compare_pooling("y ~ x + (1 | g) + (1 | h)", df)
