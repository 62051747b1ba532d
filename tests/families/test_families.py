"""Each family knows itself: links, parameters, support, likelihood and simulator agree.

The likelihood of every family is checked against its own simulator: the mean and the
variance of simulated responses match the inverse link and the family's variance (to
Monte Carlo error, 5 standard errors), and discrete families' probabilities sum to 1.
"""

from __future__ import annotations

import numpy as np
import pytest

import mixedfit as mf
from mixedfit.families import FAMILIES, Family, get_family
from mixedfit.families.links import LINKS, dmu_deta, inverse_link, link_function
from mixedfit.priors import DISTRIBUTIONS

PARAMS = {"sigma": 0.7, "nu": 6.0, "alpha": 3.0, "kappa": 12.0, "zi": 0.3, "hu": 0.4,
          "Intercept[1]": -1.0, "Intercept[2]": 0.2, "Intercept[3]": 1.5,
          "mub": 0.5, "muc": -0.4, "mud": 1.1}


def _family(name: str) -> Family:
    """The family, with four categories where it needs its response's (ordinal)."""
    return get_family(name).for_levels(["a", "b", "c", "d"])


@pytest.mark.parametrize("link", LINKS)
def test_links_invert_and_differentiate(link):
    eta = np.linspace(-1.5, 1.5, 7) if link != "inverse" else np.linspace(0.5, 2.0, 7)
    mu = inverse_link(link, eta)
    np.testing.assert_allclose(link_function(link, mu), eta, rtol=1e-10, atol=1e-10)
    num = (inverse_link(link, eta + 1e-6) - inverse_link(link, eta - 1e-6)) / 2e-6
    np.testing.assert_allclose(dmu_deta(link, eta, mu), num, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_a_family_declares_what_it_needs(name):
    fam = _family(name)
    assert isinstance(fam, Family) and fam.link == fam.links[0]
    assert set(fam.links) <= set(LINKS)
    priors = fam.parameter_priors(np.array([1.0, 2.0, 3.0]))
    if fam.predictors_only:  # every parameter is a linear predictor with the formula's terms
        assert priors == {} and fam.parameters == ("mub", "muc", "mud")
        for name in fam.parameters:
            (dist, params), scale = fam.dpar_priors(name, np.array([0.0, 1.0, 1.0, 2.0, 3.0]),
                                                    None)
            assert DISTRIBUTIONS[dist].support == "real" and scale > 0
        return
    for key, (dist, params) in priors.items():  # a known prior: positive, on (0, 1), real
        kind = fam.parameter_transform(key)
        support = {"increment": "real"}.get(kind, kind)
        assert (key in fam.unit_parameters) == (kind == "unit")
        assert DISTRIBUTIONS[dist].support == support, (name, dist)
        mf.Prior(dist, **params)
    assert set(fam.unit_parameters) <= set(fam.parameters)
    with pytest.raises(mf.FamilyError, match="does not take"):
        get_family(name, link="nonsense")


@pytest.mark.parametrize("name", sorted(FAMILIES))
def test_the_simulator_matches_the_mean_and_variance(name):
    fam = _family(name)
    rng = np.random.default_rng(1)
    mu0 = {"bernoulli": 0.3, "binomial": 0.3, "beta": 0.3, "gamma": 2.0}.get(name, 2.5)
    # an ordinal family's linear predictor is a location (its "link" acts on the thresholds)
    eta0 = 0.3 if fam.categorical_response else float(fam.link_function(mu0))
    eta = np.full((1, 200_000), eta0)
    params = {p: np.array([PARAMS[p]]) for p in fam.parameters}
    trials = np.full(eta.shape[1], 5.0) if fam.takes_trials else None
    y = fam.simulate(fam.inverse_link(eta), params, trials, rng)[0]
    n = 5.0 if fam.takes_trials else 1.0
    mean = y.mean() / n
    # E[y]: mu, or (1 - zi) mu and (1 - hu) mu / (1 - p(0)) for the zero-inflated and
    # hurdle families (their mean is not the count part's), the mean code for an ordinal one
    expected = float(fam.expected_response(eta[:, :1], params)[0, 0])
    assert abs(mean - expected) < 5 * y.std() / n / np.sqrt(y.size), (name, mean, expected)
    if fam.unit_parameters:
        assert expected != pytest.approx(mu0, rel=0.05)
    if fam.discrete:
        support = np.arange(0, 60)
        eta_s = np.full((1, support.size), eta[0, 0])
        probs = np.exp(fam.log_likelihood(support.astype(float), eta_s, params,
                                          None if trials is None else np.full(60, 5.0)))
        total = probs[0, :6].sum() if fam.takes_trials or fam.binary else probs.sum()
        if fam.binary:
            total = probs[0, :2].sum()
        assert total == pytest.approx(1.0, abs=1e-6), name
    probs = fam.category_probabilities(eta[:, :1], params)
    if probs is not None:  # each category's share among the simulated responses
        shares = np.bincount(y.astype(int), minlength=probs.shape[2]) / y.size
        np.testing.assert_allclose(shares, probs[0, 0], atol=5 * np.sqrt(0.25 / y.size))
        np.testing.assert_allclose(np.exp(fam.log_likelihood(
            np.arange(probs.shape[2], dtype=float), np.full((1, probs.shape[2]), eta0),
            params, None))[0], probs[0, 0], rtol=1e-12)


def test_names_and_aliases():
    assert get_family("Normal") == mf.families.gaussian()
    assert get_family("nb").name == "negativebinomial"
    assert get_family(mf.families.gamma(), link="log").link == "log"
    assert repr(mf.families.beta("probit")) == "Family(name='beta', link='probit')"
    with pytest.raises(mf.FamilyError, match="Unknown family"):
        get_family("quasi")
