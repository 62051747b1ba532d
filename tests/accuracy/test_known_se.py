"""Known standard errors (``se=``): the eight schools against their exact posterior, a
random-effects meta-analysis against metafor.

* Eight schools, ``y_j ~ Normal(mu + u_j, se_j)``, ``u_j ~ Normal(0, tau)``,
  ``mu ~ Normal(0, 5)``, ``tau ~ HalfCauchy(5)``: the posterior of ``(mu, tau)`` is
  computed here by quadrature (the group effects integrate out in closed form:
  ``y_j ~ Normal(mu, sqrt(se_j^2 + tau^2))``), on a grid fine enough that its error is
  far below the Monte Carlo error. Tolerance: posterior means within 0.1 posterior sd
  (Monte Carlo error at an ESS above 1,000: about 0.03 sd).
* BCG trials (``tests/reference/weights_se_reference.json``, metafor's
  ``rma(yi, vi, method = "REML")``): mu within 0.3 posterior sd of the REML estimate
  (a posterior mean and a REML estimate differ by a fraction of a posterior sd with 13
  trials), tau inside its 94% interval.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

import mixedfit as mf
from tests.conftest import LONG, cached_fit, forbid_sampling

REF = json.loads((Path(__file__).parents[1] / "reference" / "weights_se_reference.json")
                 .read_text())
PRIORS = {"Intercept": mf.Prior("Normal", mu=0, sigma=5),
          "sd(school)": mf.Prior("HalfCauchy", beta=5)}


def _schools():
    return cached_fit("y ~ 1 + (1 | school)", mf.load_dataset("eight_schools"),
                      key="eight-schools", se="sigma", priors=PRIORS, warn=False, **LONG)


def _exact_eight_schools() -> dict[str, float]:
    df = mf.load_dataset("eight_schools")
    y, se = df["y"].to_numpy(float), df["sigma"].to_numpy(float)
    mu = np.linspace(-25.0, 35.0, 1201)[:, None]  # 12 prior sds either side of the data
    tau = np.linspace(0.0, 150.0, 6001)[None, :]  # the tail beyond 150 weighs < 1e-6
    logp = stats.norm.logpdf(mu, 0.0, 5.0) + stats.halfcauchy.logpdf(tau, scale=5.0)
    for yj, sj in zip(y, se, strict=True):
        logp = logp + stats.norm.logpdf(yj, mu, np.sqrt(sj ** 2 + tau ** 2))
    w = np.exp(logp - logp.max())
    w /= w.sum()
    m_mu, m_tau = float((w * mu).sum()), float((w * tau).sum())
    return {"mu": m_mu, "tau": m_tau,
            "sd_mu": float(np.sqrt((w * (mu - m_mu) ** 2).sum())),
            "sd_tau": float(np.sqrt((w * (tau - m_tau) ** 2).sum()))}


def test_eight_schools_match_their_exact_posterior():
    res = _schools()
    exact = _exact_eight_schools()
    mu = res.fixed_effects.loc["Intercept"]
    tau = res.variance_components.loc[("school", "sd(Intercept)")]
    assert abs(mu["mean"] - exact["mu"]) <= 0.1 * exact["sd_mu"], (mu["mean"], exact)
    assert abs(tau["mean"] - exact["tau"]) <= 0.1 * exact["sd_tau"], (tau["mean"], exact)
    # the posterior sds too (Monte Carlo error of an sd: about 3% here)
    assert mu["sd"] == pytest.approx(exact["sd_mu"], rel=0.1)
    assert tau["sd"] == pytest.approx(exact["sd_tau"], rel=0.15)
    assert res.plan.marginalized and res.plan.se == "sigma"
    assert ("Residual", "sd") not in res.variance_components.index
    with pytest.raises(mf.MixedFitError, match="se="):
        res.sigma  # noqa: B018
    text = str(res.summary())
    assert "Known standard errors: sigma (9 to 18); no residual sd" in text


def test_eight_schools_pointwise_likelihood_and_replicates():
    res = _schools()
    df = mf.load_dataset("eight_schools")
    from mixedfit.results.predict import linear_predictor_draws

    eta = linear_predictor_draws(res, None)
    ll = res.log_likelihood_data().log_likelihood["y"].values.reshape(eta.shape)
    np.testing.assert_allclose(ll, stats.norm.logpdf(df["y"].to_numpy(), eta,
                                                     df["sigma"].to_numpy()), rtol=1e-10)
    rep = res.posterior_predictive(draws=1000, random_seed=2)
    # a replicate's sd is at least the known se (plus the school effect's uncertainty)
    assert np.all(np.std(rep, axis=0) > 0.95 * df["sigma"].to_numpy())
    assert res.loo() is not None


def test_bcg_meta_analysis_agrees_with_metafor():
    res = cached_fit("yi ~ 1 + (1 | trial)", mf.load_dataset("bcg"), key="bcg", se="sei",
                     **LONG)
    ref = REF["rma_bcg"]["reml"]
    mu = res.fixed_effects.loc["Intercept"]
    assert abs(mu["mean"] - ref["mu"]["estimate"]) <= 0.3 * mu["sd"]
    tau = res.variance_components.loc[("trial", "sd(Intercept)")]
    assert tau["lower"] <= ref["tau"] <= tau["upper"]


def test_known_se_survives_save_load_and_refit(tmp_path):
    res = _schools()
    path = tmp_path / "schools.nc"
    res.save(path)
    back = mf.load(path)
    np.testing.assert_array_equal(back.design.se, res.design.se)
    assert back.family.known_scale and back.family.parameters == ()
    assert back.fixed_effects.equals(res.fixed_effects)
    again = res.refit(draws=100, tune=100, chains=1, warn=False)
    np.testing.assert_array_equal(again.design.se, res.design.se)
    assert again.family.known_scale


def test_bad_se_fails_before_sampling(monkeypatch):
    df = mf.load_dataset("eight_schools")
    forbid_sampling(monkeypatch)
    with pytest.raises(mf.FamilyError, match="known standard error"):
        mf.fit("y ~ 1 + (1 | school)", df.assign(k=df["y"].abs()), family="poisson",
               se="sigma")
    with pytest.raises(mf.OptionError, match="not both"):
        mf.fit("y ~ 1 + (1 | school)", df, se="sigma", weights="sigma")
    with pytest.raises(mf.DataError, match="standard errors 'sigma' must be positive"):
        mf.fit("y ~ 1 + (1 | school)", df.assign(sigma=df["sigma"] - 10), se="sigma")
    with pytest.raises(mf.DataError, match="not in the data"):
        mf.fit("y ~ 1 + (1 | school)", df, se="se")
    with pytest.raises(mf.OptionError, match="known standard errors"):
        mf.fit("y ~ 1 + (1 | school)", df, se="sigma", backend="bambi")
