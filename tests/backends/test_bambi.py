"""The Bambi backend: what it refuses (before sampling), the model it builds, the
posterior layout it returns, and agreement with the default backend.

The agreement fits run 4 chains x 1000 draws after 1000 warm-up on each backend;
each Bambi fit takes about 5-20 s (mostly nutpie's numba compilation), so they stay in
the normal suite and are made once per module.
"""

from __future__ import annotations

from typing import Any

import bambi as bmb
import numpy as np
import pandas as pd
import pytest

import mixedfit as mf
from mixedfit import names
from mixedfit.backends import BACKENDS
from mixedfit.spec import make_spec
from tests.conftest import LONG, SamplingStarted, forbid_sampling

SEED = 20241122
QUICK = {"draws": 200, "tune": 300, "chains": 2, "random_seed": SEED, "progressbar": False,
         "warn": False}

#: name -> (formula, dataset, fit options)
MODELS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "dyestuff": ("Yield ~ 1 + (1 | Batch)", "dyestuff", {}),
    "sleepstudy": ("Reaction ~ Days + (Days || Subject)", "sleepstudy", {}),
    "cbpp": ("cbind(incidence, size - incidence) ~ period + (1 | herd)", "cbpp",
             {"family": "binomial"}),
}

@pytest.fixture(scope="module")
def fits() -> dict[str, tuple[Any, Any]]:
    """Each model fitted by Bambi and by the default backend (long chains), once per
    module: filled by :func:`_pair` as the tests ask."""
    return {}


def _pair(fits: dict[str, tuple[Any, Any]], key: str) -> tuple[Any, Any]:
    if key not in fits:
        formula, dataset, options = MODELS[key]
        data = mf.load_dataset(dataset)
        common = {**LONG, "random_seed": SEED, "progressbar": False, **options}
        fits[key] = (mf.fit(formula, data, backend="bambi", **common),
                     mf.fit(formula, data, **common))
    return fits[key]


# ------------------------------------------------------------------- refusals
def test_refuses_correlated_block_before_sampling(monkeypatch: pytest.MonkeyPatch) -> None:
    sleep = mf.load_dataset("sleepstudy")
    spec = make_spec("Reaction ~ Days + (Days | Subject)", sleep)
    reason = BACKENDS["bambi"].supports(spec, "nutpie")
    assert reason is not None
    assert "correlated group effects of (1 + Days | Subject)" in reason
    assert "Bambi estimates no correlations" in reason
    assert "(1 + Days || Subject)" in reason
    forbid_sampling(monkeypatch)
    try:
        with pytest.raises(mf.OptionError) as err:
            mf.fit("Reaction ~ Days + (Days | Subject)", sleep, backend="bambi")
    except SamplingStarted:  # pragma: no cover - the failure this test exists for
        pytest.fail("sampling started before the refusal")
    text = str(err.value)
    assert 'backend="bambi" does not cover' in text
    assert "(1 + Days | Subject)" in text and "(1 + Days || Subject)" in text
    with pytest.raises(mf.OptionError, match="Bambi estimates no correlations"):
        BACKENDS["bambi"].build(spec)


def test_single_term_correlated_block_is_covered() -> None:
    spec = make_spec("Reaction ~ Days + (1 | Subject)", mf.load_dataset("sleepstudy"))
    assert BACKENDS["bambi"].supports(spec, "nutpie") is None
    assert BACKENDS["bambi"].supports(spec, "pymc") is None


def test_refuses_different_distributions_within_a_term() -> None:
    spec = make_spec("cbind(incidence, size - incidence) ~ period + (1 | herd)",
                     mf.load_dataset("cbpp"), family="binomial",
                     priors={"period[4]": mf.Prior("StudentT", nu=3, mu=0, sigma=2)})
    reason = BACKENDS["bambi"].supports(spec, "nutpie")
    assert reason is not None
    assert "'period'" in reason and "one distribution per term" in reason


# ------------------------------------------------------------------- the model
def test_build_returns_the_equivalent_bambi_model() -> None:
    spec = make_spec("Yield ~ 1 + (1 | Batch)", mf.load_dataset("dyestuff"))
    model = BACKENDS["bambi"].build(spec)
    assert isinstance(model, bmb.Model)
    assert not model.built  # unfitted
    component = model.components["mu"]
    assert list(component.group_specific_terms) == ["1|Batch"]
    hyper = component.group_specific_terms["1|Batch"].prior.args["sigma"]
    assert hyper.name == "HalfNormal"
    assert hyper.args["sigma"] == pytest.approx(spec.priors["sd(Intercept|Batch)"].values["sigma"])
    assert component.intercept_term.prior.args["mu"] == pytest.approx(
        spec.priors["Intercept"].values["mu"])
    assert model.components["sigma"].prior.name == "HalfStudentT"


def test_build_maps_priors_and_centring() -> None:
    sleep = mf.load_dataset("sleepstudy")
    formula = "Reaction ~ Days + (Days || Subject)"
    default = BACKENDS["bambi"].build(make_spec(formula, sleep))
    assert default.center_predictors  # the default intercept prior sits at the means
    spec = make_spec(formula, sleep, priors={
        "Intercept": mf.Prior("Normal", mu=250, sigma=20),
        "sd(Days|Subject)": mf.Prior("Exponential", lam=0.1)})
    model = BACKENDS["bambi"].build(spec)
    assert not model.center_predictors  # a user's intercept prior sits at zero
    groups = model.components["mu"].group_specific_terms
    assert groups["Days|Subject"].prior.args["sigma"].name == "Exponential"
    assert groups["1|Subject"].prior.args["sigma"].name == "HalfNormal"
    # a factor's columns with different scales: one prior with vector parameters
    cbpp = BACKENDS["bambi"].build(make_spec(
        "cbind(incidence, size - incidence) ~ period + (1 | herd)", mf.load_dataset("cbpp"),
        family="binomial"))
    sigma = np.asarray(cbpp.components["p"].common_terms["period"].prior.args["sigma"])
    assert sigma.shape == (3,)


# ------------------------------------------------------------------- agreement
@pytest.mark.parametrize("key", list(MODELS))
def test_agrees_with_default_backend(fits: dict[str, tuple[Any, Any]], key: str) -> None:
    bambi, ref = _pair(fits, key)
    assert bambi.plan.backend == "bambi" and ref.plan.backend != "bambi"
    fb, fr = bambi.fixed_effects, ref.fixed_effects
    assert list(fb.index) == list(fr.index) == ref.design.fixed_columns
    gap = (fb["mean"] - fr["mean"]).abs() / fr["sd"]
    assert (gap < 0.2).all(), f"{key}: fixed effects differ by {gap.round(3).to_dict()} sd"
    vb, vr = bambi.variance_components, ref.variance_components
    rows = [r for r in vr.index if r[1].startswith("sd")]
    assert rows and [r for r in vb.index if r[1].startswith("sd")] == rows
    for row in rows:
        lo_b, hi_b = vb.loc[row, ["lower", "upper"]]
        lo_r, hi_r = vr.loc[row, ["lower", "upper"]]
        assert lo_b < hi_r and lo_r < hi_b, f"{key}: {row} intervals do not overlap"
    text = str(bambi.summary())
    assert "Fixed effects" in text
    print(text)


@pytest.mark.parametrize("key", list(MODELS))
def test_posterior_layout(fits: dict[str, tuple[Any, Any]], key: str) -> None:
    bambi, ref = _pair(fits, key)
    design = bambi.design
    post = bambi.idata.posterior
    expected = {names.FIXED, *bambi.family.parameters}
    for block in design.blocks:
        expected |= {names.sd(block.label), names.effects(block.label)}
    assert set(post.data_vars) == expected
    assert post[names.FIXED].dims == ("chain", "draw", names.FIXED_DIM)
    assert list(post[names.FIXED_DIM].values) == design.fixed_columns
    assert post.sizes["chain"] == LONG["chains"] and post.sizes["draw"] == LONG["draws"]
    for block in design.blocks:
        u = post[names.effects(block.label)]
        assert u.dims == ("chain", "draw", names.level_dim(block.group),
                          names.term_dim(block.label))
        assert list(u[names.level_dim(block.group)].values) == block.levels
        assert list(post[names.term_dim(block.label)].values) == block.columns
        # levels in the design's order: the group effects match the default backend's
        ub = u.mean(("chain", "draw")).values.ravel()
        ur = ref.idata.posterior[names.effects(block.label)].mean(("chain", "draw")).values
        assert np.corrcoef(ub, ur.ravel())[0, 1] > 0.98
    stats = bambi.idata.sample_stats
    assert "diverging" in stats and "energy" in stats
    assert "maxdepth_reached" in stats or "reached_max_treedepth" in stats
    observed = bambi.idata.observed_data[names.RESPONSE]
    assert observed.dims == (names.OBS_DIM,)
    np.testing.assert_array_equal(observed.values, design.y)


def test_group_levels_follow_the_design_not_bambis_sorting(
        fits: dict[str, tuple[Any, Any]]) -> None:
    # Bambi sorts the herds as text (1, 10, 11, ..., 2); mixedfit keeps 1, 2, ..., 15
    bambi, ref = _pair(fits, "cbpp")
    table = bambi.random_effects["herd"]
    assert [str(level) for level in table.index] == [str(i) for i in range(1, 16)]
    rb = table["Intercept"]["mean"].to_numpy()
    rr = ref.random_effects["herd"]["Intercept"]["mean"].to_numpy()
    assert np.max(np.abs(rb - rr)) < 0.1


# ------------------------------------------------------------------- samplers, priors
def test_pymc_sampler() -> None:
    res = mf.fit("Yield ~ 1 + (1 | Batch)", mf.load_dataset("dyestuff"), backend="bambi",
                 sampler="pymc", **QUICK)
    assert res.plan.sampler == "pymc"
    stats = res.idata.sample_stats
    assert {"diverging", "tree_depth", "reached_max_treedepth"} <= set(stats.data_vars)
    assert set(res.idata.posterior.data_vars) == {"fixed", "sd(Batch)", "u(Batch)", "sigma"}
    assert isinstance(res.fixed_effects, pd.DataFrame)


def test_user_intercept_prior_sits_at_zero() -> None:
    # a tight prior on the intercept as reported (Days = 0): centring it at the mean of
    # Days (4.5) instead would move the intercept by about 4.5 x the slope, ~45 ms
    sleep = mf.load_dataset("sleepstudy")
    priors = {"Intercept": mf.Prior("Normal", mu=300, sigma=2)}
    formula = "Reaction ~ Days + (Days || Subject)"
    bambi = mf.fit(formula, sleep, backend="bambi", priors=priors, **QUICK)
    ref = mf.fit(formula, sleep, priors=priors, **QUICK)
    ib = bambi.fixed_effects.loc["Intercept", "mean"]
    ir = ref.fixed_effects.loc["Intercept", "mean"]
    assert abs(ib - ir) < 2.0
    assert abs(ib - 300) < 8.0


def test_a_result_gives_its_bambi_model(fit_cache):


    res = fit_cache("Reaction ~ Days + (Days || Subject)", mf.load_dataset("sleepstudy"),
                    key="to-bambi", draws=50, tune=50, chains=1, warn=False)
    model = res.to_bambi()
    assert isinstance(model, bmb.Model)
    assert {"1|Subject", "Days|Subject"} <= set(model.components["mu"].group_specific_terms)
    correlated = fit_cache("Reaction ~ Days + (Days | Subject)", mf.load_dataset("sleepstudy"),
                           key="to-bambi-corr", draws=50, tune=50, chains=1, warn=False)
    with pytest.raises(mf.OptionError, match="Bambi estimates no correlations"):
        correlated.to_bambi()
