"""The internal coordinates (mixedfit.standardize): the maps are exact, and the priors
sit where the documentation says.

Every map is checked against the identity it must satisfy on the data (``X* = X K``,
``Z* = Z A``, the same linear predictor in both coordinates) to rounding, 1e-9
relative: a wrong centre, scale or sign breaks them by O(1).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import mixedfit as mf
from mixedfit.design import build_design
from mixedfit.priors import Prior, resolve_priors
from mixedfit.standardize import standardize
from tests.backends.test_compiled import _data


def _st(formula: str, family: str = "gaussian", priors: dict | None = None,
        data: pd.DataFrame | None = None):
    fam = mf.families.get_family(family)
    d = build_design(formula, _data() if data is None else data, family=fam)
    return d, standardize(d, fam, resolve_priors(d, fam, priors))


@pytest.mark.parametrize(("formula", "family"), [
    ("y ~ z + w + (1 + z | g)", "gaussian"),
    ("y ~ x + w + (1 + x || g) + offset(e)", "gaussian"),
    ("y ~ 0 + x + w + (0 + x | g)", "gaussian"),
    ("k ~ z + I(z**2) + (1 + z + w | g) + offset(log(e))", "poisson"),
    ("b ~ C(h) + z + (1 | g)", "bernoulli"),
])
def test_the_maps_give_the_same_linear_predictor(formula, family):
    d, st = _st(formula, family)
    it = st.internal
    np.testing.assert_allclose(it.X, d.X @ st.K, rtol=1e-9, atol=1e-9)
    rng = np.random.default_rng(1)
    beta_star = rng.normal(size=(3, d.X.shape[1]))
    beta = st.fixed_to_user(beta_star)
    off = d.offset if d.offset is not None else 0.0
    # user: offset + X beta; internal: (eta - offset - X a) / s for a location-scale
    # response, the same eta otherwise
    user_eta = off + beta @ d.X.T
    internal_eta = beta_star @ it.X.T
    if family == "gaussian":
        internal_eta = off + d.X @ st.shift + st.y_scale * internal_eta
        np.testing.assert_allclose(it.y, (d.y - off - d.X @ st.shift) / st.y_scale,
                                   rtol=1e-9, atol=1e-9)
        assert it.offset is None
        assert np.sqrt(np.mean(it.y ** 2)) == pytest.approx(1.0)
        np.testing.assert_allclose(it.X.T @ it.y, 0.0, atol=1e-8)  # least squares removed
    else:
        internal_eta = (it.offset if it.offset is not None else 0.0) + internal_eta
        assert st.y_scale == 1.0 and not st.shift.any()
        np.testing.assert_array_equal(it.y, d.y)
    np.testing.assert_allclose(internal_eta, user_eta, rtol=1e-9, atol=1e-7)
    for k, (b, bi) in enumerate(zip(d.blocks, it.blocks, strict=True)):
        A = st.blocks[k].internal_map
        np.testing.assert_allclose(bi.Z, b.Z @ A, rtol=1e-9, atol=1e-9)
        u_star = rng.normal(size=(b.n_levels, b.n_terms))
        u = st.effects_to_user(k, u_star)
        np.testing.assert_allclose((b.Z * u[b.index]).sum(1),
                                   st.y_scale * (bi.Z * u_star[b.index]).sum(1),
                                   rtol=1e-9, atol=1e-7)
        c = np.tril(rng.normal(size=(b.n_terms, b.n_terms)))
        cov = st.covariance_to_user(k, c)
        np.testing.assert_allclose(cov, st.y_scale ** 2 * A @ c @ c.T @ A.T, rtol=1e-12)
        np.testing.assert_allclose(st.covariance_at_centre(k, cov),
                                   (st.y_scale ** 2 * np.diag(1 / st.blocks[k].scale) @ c
                                    @ c.T @ np.diag(1 / st.blocks[k].scale)), rtol=1e-9)


def test_the_qr_step_keeps_shared_columns_and_orthogonalises_the_rest():
    d, st = _st("y ~ z + I(z**2) + w + (1 + z | g)")
    X = st.internal.X
    cols = d.fixed_columns
    shared = cols.index("z")
    others = [cols.index("I(z**2)"), cols.index("w")]
    # the shared column is the block's column, as hierarchical centring needs
    np.testing.assert_array_equal(X[:, shared], st.internal.blocks[0].Z[:, 1])
    gram = X.T @ X / d.n_obs
    np.testing.assert_allclose(gram[np.ix_(others, others)], np.eye(2), atol=1e-9)
    np.testing.assert_allclose(gram[np.ix_(others, [0, shared])], 0.0, atol=1e-9)
    # before the QR step z and z^2 (z = 2000 + 3x) are correlated beyond 0.9999
    assert abs(np.corrcoef(d.X[:, shared], d.X[:, others[0]])[0, 1]) > 0.9999


def test_default_priors_sit_at_the_means_and_user_priors_as_reported():
    d, st = _st("y ~ z + w + (1 + z | g) + (1 | h)")
    m = d.X.mean(axis=0)
    expected = np.eye(3)
    expected[0, 1:] = m[1:]
    np.testing.assert_allclose(st.functional, expected)
    assert st.site("Intercept").startswith("at the predictors' means (z = ")
    assert st.blocks[0].centred and not st.blocks[1].centred  # (1 | h): nothing to centre
    np.testing.assert_allclose(st.blocks[0].center, [0.0, d.blocks[0].Z[:, 1].mean()])
    assert st.site("sd(Intercept|g)") == st.site("cor(g)") != "as reported"
    assert st.site("sd(z|g)") == "as reported" and st.site("sd(Intercept|h)") == "as reported"
    for key in ("Intercept",):
        _, pinned = _st("y ~ z + w + (1 + z | g)", priors={key: Prior("Normal", mu=0, sigma=9)})
        np.testing.assert_array_equal(pinned.functional, np.eye(3))
        assert pinned.site("Intercept") == "as reported"
    for key in ("sd(Intercept|g)", "sd(g)", "cor(g)"):
        prior = Prior("LKJ", eta=2) if key.startswith("cor") else Prior("HalfNormal", sigma=3)
        _, pinned = _st("y ~ z + (1 + z | g)", priors={key: prior})
        assert not pinned.blocks[0].centred, key
        assert not pinned.blocks[0].center.any()
    _, free = _st("y ~ z + (1 + z | g)", priors={"sd(z|g)": Prior("HalfNormal", sigma=3)})
    assert free.blocks[0].centred  # a slope's sd is the same at any origin
    _, unc = _st("y ~ z + (1 + z || g)")
    assert not any(b.centred for b in unc.blocks)  # independence at 0 is the model


def test_the_result_says_where_the_priors_sit(sleep_quick):
    pri = sleep_quick.priors
    assert list(pri.columns) == ["prior", "source", "on"]
    assert pri.loc["Intercept", "on"] == "at the predictors' means (Days = 4.5)"
    assert pri.loc["Days", "on"] == "as reported"
    text = str(sleep_quick.summary())
    assert ("Subject: the intercept's sd and the correlations are at Days = 0; their "
            "default priors sit at the predictors' means (Days = 4.5).") in text
    post = sleep_quick.idata.posterior
    assert "sd_at_means(Subject)" in post and "cor_at_means(Subject)" in post
    # the reported intercept sd is at Days = 0: var_0 = var_c - 2 m cov_c + m^2 var_days
    sd_c = post["sd_at_means(Subject)"].values
    cor_c = post["cor_at_means(Subject)"].values[..., 0, 1]
    var0 = sd_c[..., 0] ** 2 - 9.0 * cor_c * sd_c[..., 0] * sd_c[..., 1] + 4.5 ** 2 * sd_c[
        ..., 1] ** 2
    np.testing.assert_allclose(post["sd(Subject)"].values[..., 0], np.sqrt(var0), rtol=1e-8)


def test_a_far_origin_is_not_a_singular_fit(fit_cache):
    # at Days + 2000 the correlation of intercepts (at Days = 0) and slopes is -1 to
    # rounding, as the model implies; the boundary check and the convergence checks
    # look at the correlation where it is sampled, at the mean of Days
    sleep = mf.load_dataset("sleepstudy")
    with warnings.catch_warnings():
        warnings.simplefilter("error", mf.SingularFitWarning)
        res = fit_cache("Reaction ~ Days + (Days | Subject)", sleep.assign(Days=sleep.Days + 2000),
                        key="far-origin")
    assert res.variance_components.loc[("Subject", "cor(Intercept,Days)"), "mean"] < -0.999
    assert not res.diagnostics().singular
    assert res.diagnostics().ok
