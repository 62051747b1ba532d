"""Every argument and every prior is checked before any sampling (issue 12).

Each bad input must raise a :class:`mixedfit.MixedFitError` that names the argument (or
the prior, the column) and says how to fix it, before a sampler is called; a failure
inside a sampler must reach the user as a :class:`mixedfit.SamplingError` with the
original error attached; and the models accepted are the same for both backends and
for :func:`mixedfit.prior_predictive`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mixedfit as mf
from mixedfit.priors import DISTRIBUTIONS, Prior
from tests.conftest import forbid_sampling

SLEEP = "Reaction ~ Days + (Days | Subject)"


@pytest.fixture(scope="module")
def sleep() -> pd.DataFrame:
    return mf.load_dataset("sleepstudy")


@pytest.fixture
def no_sampling(monkeypatch: pytest.MonkeyPatch) -> None:
    forbid_sampling(monkeypatch)


# ------------------------------------------------------------------ priors themselves


@pytest.mark.parametrize(("args", "kwargs", "words"), [
    (("Normal",), {"mu": 0, "sigma": -1}, ["sigma of a Normal prior must be positive", "-1"]),
    (("Normal",), {"mu": 0, "sigma": 0}, ["must be positive"]),
    (("HalfNormal",), {"sigma": np.inf}, ["must be finite"]),
    (("Normal",), {"mu": np.nan, "sigma": 1}, ["must be finite"]),
    (("Normal",), {"mu": 0, "sd": 1}, ["no parameter 'sd'", "mu, sigma"]),
    (("StudentT",), {"mu": 0, "sigma": 1}, ["needs nu"]),
    (("Exponential",), {"lam": -2}, ["lam", "positive"]),
    (("Exponential",), {"lam": 1, "scale": 1}, ["lam or scale, not both"]),
    (("Gamma",), {"alpha": 2}, ["needs beta"]),
    (("Uniform",), {"lower": 3, "upper": 1}, ["lower < upper"]),
    (("LKJ",), {"eta": 0}, ["eta", "positive"]),
    (("Normal",), {"mu": "zero", "sigma": 1}, ["one real number"]),
    (("Normal",), {"mu": [0, 1], "sigma": 1}, ["one real number"]),
    (("Normall",), {"mu": 0, "sigma": 1}, ["Unknown prior distribution", "'Normal'"]),
    (("Flat",), {}, ["Unknown prior distribution", "HalfNormal"]),
    (("",), {}, ["needs a distribution name"]),
])
def test_bad_priors_are_refused_when_made(args, kwargs, words):
    with pytest.raises(mf.PriorError) as info:
        Prior(*args, **kwargs)
    for word in words:
        assert word in str(info.value)


def test_every_distribution_is_known_by_name_with_its_parameters():
    # the table is what users can write; each has a working example in its own terms
    examples = {"Normal": {"mu": 1, "sigma": 2}, "StudentT": {"nu": 3},
                "Cauchy": {"alpha": 0, "beta": 1}, "Laplace": {"mu": 0, "b": 1},
                "Uniform": {"lower": 0, "upper": 1}, "HalfNormal": {"tau": 4},
                "HalfStudentT": {"nu": 3}, "HalfCauchy": {"beta": 1},
                "Exponential": {"scale": 2}, "Gamma": {"alpha": 2, "beta": 1},
                "InverseGamma": {"alpha": 2, "beta": 1}, "LogNormal": {"mu": 0, "sigma": 1},
                "Beta": {"alpha": 2, "beta": 3}, "LKJ": {}}
    assert set(examples) == set(DISTRIBUTIONS)
    assert Prior("HalfNormal", tau=4).values == {"sigma": 0.5}
    assert Prior("Exponential", scale=2).values == {"lam": 0.5}
    assert Prior("StudentT", nu=3).values == {"nu": 3.0, "mu": 0.0, "sigma": 1.0}
    for name, params in examples.items():
        assert Prior(name, **params).kind.name == name


# ------------------------------------------------------------------ priors on parameters


@pytest.mark.parametrize(("priors", "words"), [
    ({"sd(Days|Subject)": Prior("Normal", mu=0, sigma=5)},
     ["'sd(Days|Subject)' is positive", "HalfNormal"]),
    ({"sigma": Prior("StudentT", nu=3, mu=0, sigma=10)}, ["'sigma' is positive", "HalfStudentT"]),
    ({"sd(Subject)": Prior("Uniform", lower=-1, upper=10)}, ["negative values"]),
    ({"Days": Prior("HalfNormal", sigma=5)}, ["either sign", "Normal"]),
    ({"Days": Prior("LKJ", eta=2)}, ["correlation matrices"]),
    ({"cor(Subject)": Prior("HalfNormal", sigma=1)}, ["must be an LKJ prior"]),
    ({"Dayz": Prior("Normal", mu=0, sigma=1)}, ["names no parameter", "Did you mean 'Days'"]),
    ({"Days": ("Normal", {"mu": 0, "sigma": -3})}, ["must be positive"]),
    ([("Days", Prior("Normal"))], ["priors must be a dict"]),
])
def test_priors_that_do_not_suit_their_parameter_are_refused(sleep, no_sampling, priors, words):
    with pytest.raises(mf.PriorError) as info:
        mf.fit(SLEEP, sleep, priors=priors)
    for word in words:
        assert word in str(info.value)


def test_the_issue_case_fails_at_once_not_after_sampling(sleep, no_sampling):
    # issue 12: Prior("Normal", mu=0, sigma=-1) reached nutpie and failed after 11 s
    # with "All initialization points failed"
    with pytest.raises(mf.PriorError, match="must be positive"):
        mf.fit(SLEEP, sleep, priors={"Days": mf.Prior("Normal", mu=0, sigma=-1)})


# ------------------------------------------------------------------ options


@pytest.mark.parametrize(("kwargs", "words"), [
    ({"centered": [False, True]}, ["one True/False per block", "1 for (1 + Days | Subject)"]),
    ({"centered": "yes"}, ["centered must be"]),
    ({"centered": [1]}, ["one True/False per block"]),
    ({"centered": 1}, ["centered must be"]),
    ({"target_accept": "0.9"}, ["target_accept must be a number between 0 and 1"]),
    ({"target_accept": 1.0}, ["target_accept"]),
    ({"interval": "94%"}, ["interval must be a number"]),
    ({"random_seed": -1}, ["random_seed must be a non-negative integer"]),
    ({"random_seed": 1.5}, ["random_seed"]),
    ({"progressbar": "no"}, ["progressbar must be True, False or None"]),
    ({"warn": None}, ["warn must be True or False"]),
    ({"log_likelihood": 1}, ["log_likelihood must be"]),
    ({"marginalize": 0}, ["marginalize must be"]),
    ({"sampler": ["nutpie"]}, ["Unknown sampler"]),
    ({"backend": None}, ["Unknown backend"]),
    ({"max_treedepth": 0}, ["max_treedepth must be"]),
    ({"tune": -1}, ["tune must be"]),
    ({"na_action": "omit"}, ["na_action must be"]),
    ({"family": 3}, ["family must be"]),
])
def test_bad_options_are_refused_before_sampling(sleep, no_sampling, kwargs, words):
    with pytest.raises(mf.MixedFitError) as info:
        mf.fit(SLEEP, sleep, **kwargs)
    for word in words:
        assert word in str(info.value)


def test_centered_takes_one_value_per_block(sleep, fit_cache):
    df = mf.load_dataset("penicillin")
    res = fit_cache("diameter ~ 1 + (1 | plate) + (1 | sample)", df, key="centered-list",
                    centered=[True, False], draws=50, tune=50, chains=1, warn=False)
    assert res.info["centered"] == [True, False]
    assert res.info["marginalized"] is False


def test_prior_predictive_checks_its_options_too(sleep, no_sampling):
    with pytest.raises(mf.OptionError, match="random_seed"):
        mf.prior_predictive(SLEEP, sleep, random_seed=-3)
    with pytest.raises(mf.PriorError, match="must be positive"):
        mf.prior_predictive(SLEEP, sleep, priors={"Days": ("Normal", {"mu": 0, "sigma": 0})})


# ------------------------------------------------------------------ degenerate data


@pytest.mark.parametrize(("family", "column", "values", "words"), [
    ("gaussian", "Reaction", 250.0, ["is constant", "every value is 250"]),
    ("t", "Reaction", 1.0, ["is constant"]),
    ("gamma", "Reaction", 3.0, ["is constant"]),
    ("poisson", "Reaction", 0, ["is 0 in every one of its 180 rows"]),
    ("negativebinomial", "Reaction", 0, ["is 0 in every one"]),
])
def test_responses_with_nothing_to_fit_are_refused(sleep, no_sampling, family, column, values,
                                                   words):
    data = sleep.assign(**{column: values})
    with pytest.raises(mf.DataError) as info:
        mf.fit(SLEEP, data, family=family)
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize(("value", "words"), [(1, "has no failure"), (0, "has no success")])
def test_a_one_sided_binary_response_is_fitted_with_a_warning(sleep, value, words):
    # a data set the model can produce (SBC must fit it), with half its information from
    # the prior: said before sampling, not refused
    from mixedfit.design import OneSidedResponseWarning, build_design

    with pytest.warns(OneSidedResponseWarning, match=words):
        d = build_design("Reaction ~ Days + (1 | Subject)", sleep.assign(Reaction=value),
                         family="bernoulli")
    assert d.n_obs == 180


def test_values_that_lose_their_digits_when_centred_are_refused(sleep, no_sampling):
    with pytest.raises(mf.DataError, match=r"response 'Reaction' varies by only .*Subtract"):
        mf.fit(SLEEP, sleep.assign(Reaction=sleep.Reaction * 1e-9 + 1e9))
    with pytest.raises(mf.DataError, match=r"term 'Days' varies by only"):
        mf.fit(SLEEP, sleep.assign(Days=sleep.Days * 1e-3 + 1e12))
    # a far origin with 6 or more digits left is fitted (see tests/accuracy/test_units.py)
    assert mf.design.build_design(SLEEP, sleep.assign(Days=sleep.Days + 1e6)).n_obs == 180


def test_a_constant_placeholder_response_is_fine_for_prior_predictive(sleep):
    pp = mf.prior_predictive(SLEEP, sleep.assign(Reaction=0.0), draws=5, random_seed=1,
                             priors={"Intercept": Prior("Normal", mu=250, sigma=50),
                                     "sigma": Prior("HalfNormal", sigma=30)})
    assert pp.y.shape == (5, 180)


# ------------------------------------------------------------------ dependency errors


@pytest.mark.parametrize("backend", ["compiled", "pymc"])
def test_a_sampler_failure_is_explained_with_its_cause(sleep, monkeypatch, backend):
    import nutpie

    def broken(*args, **kwargs):
        raise RuntimeError("All initialization points failed")

    monkeypatch.setattr(nutpie, "sample", broken)
    with pytest.raises(mf.SamplingError) as info:
        mf.fit("Reaction ~ Days + (1 | Subject)", sleep, backend=backend, draws=10, tune=10,
               chains=1)
    message = str(info.value)
    assert f"on the {backend} backend" in message
    assert "not finite at any starting point" in message and "prior" in message
    assert isinstance(info.value.__cause__, RuntimeError)
    assert isinstance(info.value, RuntimeError)  # still caught by `except RuntimeError`


def test_an_unexpected_failure_names_the_way_out(sleep, monkeypatch):
    import mixedfit.backends.compiled as compiled

    def broken(*args, **kwargs):
        raise ValueError("array must not contain infs or NaNs")

    monkeypatch.setattr(compiled, "sample_compiled", broken)
    with pytest.raises(mf.SamplingError, match="backend='pymc'") as info:
        mf.fit(SLEEP, sleep, draws=10, tune=10, chains=1)
    assert isinstance(info.value.__cause__, ValueError)


# ------------------------------------------------------------------ one set of models


MIXED = {"sd(Intercept|Subject)": Prior("HalfNormal", sigma=50),
         "sd(Days|Subject)": Prior("Exponential", lam=0.1)}


def test_both_backends_and_prior_predictive_accept_the_same_model(sleep, fit_cache):
    # issue 12: sds of one correlated block with priors of different distributions
    # fitted on the compiled backend but raised PriorError on backend="pymc" and in
    # mf.prior_predictive
    quick = {"draws": 100, "tune": 100, "chains": 1, "warn": False}
    fits = {b: fit_cache(SLEEP, sleep, key=f"mixed-{b}", priors=MIXED, backend=b, **quick)
            for b in ("compiled", "pymc")}
    assert {r.info["backend"] for r in fits.values()} == {"compiled", "pymc"}
    for res in fits.values():
        assert set(res.idata.posterior.data_vars) >= {"fixed", "sd(Subject)", "cor(Subject)",
                                                      "u(Subject)", "sigma"}
        assert not [v for v in res.idata.posterior.data_vars if str(v).startswith("_")]
    pp = mf.prior_predictive(SLEEP, sleep, priors=MIXED, draws=20, random_seed=1)
    assert pp.y.shape == (20, 180)
    assert "sd(Subject)" in pp.idata.prior


def test_a_uniform_prior_runs_on_the_compiled_backend(sleep, fit_cache):
    res = fit_cache(SLEEP, sleep, key="uniform-sd", draws=50, tune=50, chains=1, warn=False,
                    priors={"sd(Days|Subject)": Prior("Uniform", lower=0, upper=40)})
    assert res.info["backend"] == "compiled"
    sd = res.idata.posterior["sd(Subject)"].sel({"term(Subject)": "Days"}).values
    assert sd.max() < 40
