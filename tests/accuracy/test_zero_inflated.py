"""Zero-inflated and hurdle count families against glmmTMB.

Reference values: ``tests/reference/zero_inflated_reference.json``, produced by
``tests/reference/zero_inflated_reference.R`` (glmmTMB, Laplace ML) on glmmTMB's
Salamanders data, ``count ~ mined + (1 | site)`` with a constant zero-inflation (hurdle)
probability.

mixedfit's reference level of ``mined`` is ``no`` (formulae sorts the levels), R's is
``yes``: R's ``(Intercept) + minedno`` is mixedfit's ``Intercept`` and ``-minedno`` its
``mined[yes]``; the standard errors of these combinations are not needed, since the
tolerance is in posterior sds.

Tolerances: fixed effects within 0.3 posterior sd of glmmTMB's estimates (posterior mean
against ML with 23 sites; Monte Carlo error about 0.03 sd); the site sd, the negative
binomial's shape (glmmTMB's theta, PyMC's alpha) and the zero probability inside their
94% posterior intervals.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import mixedfit as mf
from tests.conftest import LONG, cached_fit

REF = json.loads((Path(__file__).parents[1] / "reference" / "zero_inflated_reference.json")
                 .read_text())["models"]
FAMILIES = {"zip": "zero_inflated_poisson", "zinb": "zero_inflated_negativebinomial",
            "hurdle_poisson": "hurdle_poisson", "hurdle_nb": "hurdle_negativebinomial"}


def _fit(key: str):
    return cached_fit("count ~ mined + (1 | site)", mf.load_dataset("salamanders"),
                      key=f"salamanders-{key}", family=FAMILIES[key], **LONG)


@pytest.mark.parametrize("key", sorted(FAMILIES))
def test_agrees_with_glmmtmb(key):
    res = _fit(key)
    ref = REF[key]
    a, b = ref["fixed"]["Intercept"]["estimate"], ref["fixed"]["mined[no]"]["estimate"]
    fe = res.fixed_effects
    for term, value in (("Intercept", a + b), ("mined[yes]", -b)):
        row = fe.loc[term]
        assert abs(row["mean"] - value) <= 0.3 * row["sd"], (term, row["mean"], value)
    row = res.variance_components.loc[("site", "sd(Intercept)")]
    assert row["lower"] <= ref["site_sd"] <= row["upper"]
    fp = res.family_parameters
    prob = "hu" if key.startswith("hurdle") else "zi"
    assert fp.loc[prob, "lower"] <= ref["zi_prob"]["estimate"] <= fp.loc[prob, "upper"]
    if "theta" in ref:
        assert fp.loc["alpha", "lower"] <= ref["theta"] <= fp.loc["alpha", "upper"]
    assert res.plan.backend == "compiled"


def test_zero_inflation_reproduces_the_zeros():
    # 60% of the counts are zero; a Poisson GLMM replicates far fewer, the zero-inflated
    # and hurdle models the observed share (the hurdle exactly by construction)
    df = mf.load_dataset("salamanders")
    observed = float(np.mean(df["count"] == 0))
    for key in ("zip", "hurdle_nb"):
        rep = _fit(key).posterior_predictive(draws=300, random_seed=1)
        share = np.mean(rep == 0, axis=1)
        assert np.quantile(share, 0.03) <= observed <= np.quantile(share, 0.97), key
    plain = cached_fit("count ~ mined + (1 | site)", df, key="salamanders-poisson",
                       family="poisson", draws=300, tune=300, chains=2)
    share = np.mean(plain.posterior_predictive(draws=300, random_seed=1) == 0, axis=1)
    assert np.quantile(share, 0.97) < observed


def test_results_save_and_loo(tmp_path):
    res = _fit("zinb")
    text = str(res.summary())
    assert "Family: zero_inflated_negativebinomial (link: log" in text
    assert "zi" in text and "alpha" in text
    assert res.loo() is not None
    path = tmp_path / "zinb.nc"
    res.save(path)
    back = mf.load(path)
    assert back.family == res.family
    assert back.family_parameters.equals(res.family_parameters)
    # a level's own fit is not computed for these families, and the table says why
    assert res.shrinkage["no_pooling"].isna().all()
    assert res.shrinkage["note"].str.contains("zero-inflated or hurdle").all()


def test_probability_priors_are_checked():
    df = mf.load_dataset("salamanders")
    with pytest.raises(mf.PriorError, match="probability"):
        mf.fit("count ~ mined + (1 | site)", df, family="zip",
               priors={"zi": mf.Prior("HalfNormal", sigma=1)})
    with pytest.raises(mf.PriorError, match="probabilities"):
        mf.fit("count ~ mined + (1 | site)", df, family="zip",
               priors={"sd(site)": mf.Prior("Beta", alpha=2, beta=2)})


@pytest.mark.parametrize("key", sorted(FAMILIES))
def test_expected_response_is_the_mean_of_the_distribution(key):
    # predict()'s E[y], (1 - zi) mu or (1 - hu) mu / (1 - p(0)), against sum_y y p(y) over
    # y = 0..400 with the family's probabilities (its log-likelihood, itself checked
    # against PyMC's distributions); the tail beyond 400 is below 1e-12 here
    fam = mf.families.get_family(FAMILIES[key])
    eta = np.log(np.array([[0.3, 2.0, 7.5], [1.1, 0.05, 12.0]]))
    params = {fam.unit_parameters[0]: np.array([0.35, 0.6])}
    if "alpha" in fam.parameters:
        params["alpha"] = np.array([0.8, 2.5])
    grid = np.arange(401.0)
    mean = np.zeros_like(eta)
    for y in grid:
        mean += y * np.exp(fam.log_likelihood(np.full(3, y), eta, params, None))
    np.testing.assert_allclose(fam.expected_response(eta, params), mean, rtol=1e-9)
    res = _fit(key)
    pred = res.predict()
    assert (pred["mean"] > 0).all() and len(pred) == len(mf.load_dataset("salamanders"))
