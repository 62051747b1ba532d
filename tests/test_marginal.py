"""Gaussian models with the group effects integrated out (mixedfit.fast.marginal).

The marginal density is checked against the dense multivariate normal density of
``y`` (``Normal(X beta, sigma^2 I + Z Sigma Z')``, built here with numpy and scipy,
independently of the kernel's Woodbury algebra), its hand-written gradient
against central differences, the conditional draws of the group effects against
the dense Gaussian conditioning formulas, and a fit against the joint model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import multivariate_normal

import mixedfit as mf
from mixedfit.design import build_design
from mixedfit.errors import OptionError
from mixedfit.fast.layout import MARGINAL_DENSE_MAX, make_layout, marginal_reason
from mixedfit.fast.sampler import corr_cholesky_np, draw_effects, logp_and_grad
from mixedfit.priors import Prior, resolve_priors

from .test_compiled import _data, assert_gradient_matches

GAUSSIAN = mf.families.gaussian()

CASES = [
    ("y ~ x + (1 | g)", None),  # one effect per level (closed form)
    ("y ~ x + (1 + x | g)", None),  # two, correlated (closed form)
    ("y ~ x + (1 + x || g)", None),  # two blocks of one grouping factor (closed form)
    ("y ~ x + (0 + x | g)", None),
    ("y ~ x + (1 + x + w | g)", None),  # three per level (general algebra)
    ("y ~ x + (1 | g) + (1 | h)", None),  # crossed: one dense cluster
    ("y ~ 1 + (1 | g/h)", None),  # nested: one dense cluster
    ("y ~ x + w + (1 + x | g) + offset(e)", None),
    ("y ~ x + (1 + x | g)", {"sigma": Prior("HalfCauchy", beta=1.0),
                             "sd(x|g)": Prior("HalfStudentT", nu=3, sigma=1),
                             "cor(g)": Prior("LKJ", eta=2.5),
                             "Intercept": Prior("Cauchy", alpha=0, beta=5)}),
]


def _layout(formula: str, priors: dict | None = None, data: pd.DataFrame | None = None):
    d = build_design(formula, _data() if data is None else data)
    pri = resolve_priors(d, GAUSSIAN, priors)
    assert marginal_reason(d, GAUSSIAN) is None
    return d, pri, make_layout(d, GAUSSIAN, pri, [False] * len(d.blocks), marginal=True)


def _covariances(d, lay, x0: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Dense ``Z`` (rows x effects, the kernel's effect order), the prior covariance of
    the effects and ``sigma^2``, at the parameters ``x0``."""
    n = d.n_obs
    zs, covs = [], []
    for b, s in zip(d.blocks, lay.blocks, strict=True):
        sd = np.exp(x0[s.sd:s.sd + s.q])
        lc = corr_cholesky_np(x0[s.cor:s.cor + s.n_cor], s.q) if s.n_cor else np.eye(s.q)
        c = sd[:, None] * lc
        z = np.zeros((n, b.n_levels * b.n_terms))
        for t in range(b.n_terms):
            z[np.arange(n), b.index * b.n_terms + t] = b.Z[:, t]
        zs.append(z)
        covs.append(np.kron(np.eye(b.n_levels), c @ c.T))
    k = sum(c.shape[0] for c in covs)
    cov = np.zeros((k, k))
    at = 0
    for c in covs:
        cov[at:at + c.shape[0], at:at + c.shape[0]] = c
        at += c.shape[0]
    return np.hstack(zs), cov, float(np.exp(2 * x0[lay.sigma]))


def _priors_only(lay, x0: np.ndarray) -> float:
    """The prior part of the density at ``x0`` (with the Jacobians of the transforms),
    from the kernel's prior functions."""
    from mixedfit.fast import kernel

    buf = lay.buffer
    total = 0.0
    pa = int(buf[kernel.H_BETA_PRIOR])
    for c in range(lay.p):
        total += kernel.prior_logp(int(buf[pa + 4 * c]), *buf[pa + 4 * c + 1:pa + 4 * c + 4],
                                   x0[c])[0]
    fp = int(buf[kernel.H_FAM_PRIOR])
    total += kernel.prior_logp(int(buf[fp]), *buf[fp + 1:fp + 4], np.exp(x0[lay.sigma]))[0]
    total += x0[lay.sigma]
    for b, s in enumerate(lay.blocks):
        base = int(buf[kernel.H_BLOCKS]) + kernel.BLOCK_WIDTH * b
        c = np.zeros((s.q, s.q))
        kernel.block_factor(x0, buf, base, c)
        total += kernel.block_hyper(x0, np.zeros(lay.dim), buf, base, c, np.zeros((s.q, s.q)))
    return total


@pytest.mark.parametrize(("formula", "priors"), CASES)
def test_gradient_matches_finite_differences(formula, priors):
    # central differences with step 1e-6 are accurate to about 1e-8 relative here;
    # a wrong term in a hand-written gradient is off by O(1)
    assert_gradient_matches(_layout(formula, priors)[2], points=3)


@pytest.mark.parametrize(("formula", "priors"), CASES)
def test_density_is_the_dense_marginal_likelihood(formula, priors):
    # log p = log Normal(y | X beta, sigma^2 I + Z Sigma Z') + priors, less the
    # constant -n/2 log(2 pi) that the kernel leaves out; 1e-9 relative is rounding
    d, _, lay = _layout(formula, priors)
    y = np.asarray(d.y, float) - (d.offset if d.offset is not None else 0.0)
    rng = np.random.default_rng(3)
    for _ in range(3):
        x0 = lay.initial_point(int(rng.integers(1000))) + rng.normal(0, 0.3, lay.dim)
        z, cov, s2 = _covariances(d, lay, x0)
        dense = multivariate_normal(d.X @ x0[:lay.p], s2 * np.eye(d.n_obs) + z @ cov @ z.T
                                    ).logpdf(y)
        expected = dense + _priors_only(lay, x0) + 0.5 * d.n_obs * np.log(2 * np.pi)
        assert logp_and_grad(lay, x0)[0] == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("formula", ["y ~ x + (1 | g)", "y ~ x + (1 + x | g)",
                                     "y ~ x + (1 + x || g)", "y ~ x + (1 + x + w | g)",
                                     "y ~ x + (1 | g) + (1 | h)"])
def test_conditional_draws_have_the_exact_mean_and_covariance(formula):
    # u | y, parameters ~ Normal(Sigma Z' V^-1 r, Sigma - Sigma Z' V^-1 Z Sigma); the
    # draws are affine in the normal deviates, so the mean (deviates 0) and the
    # covariance (deviates = unit vectors) are checked exactly, to rounding (1e-8)
    d, _, lay = _layout(formula)
    x0 = lay.initial_point(7) + np.random.default_rng(1).normal(0, 0.3, lay.dim)
    z, cov, s2 = _covariances(d, lay, x0)
    y = np.asarray(d.y, float) - (d.offset if d.offset is not None else 0.0)
    v = s2 * np.eye(d.n_obs) + z @ cov @ z.T
    gain = cov @ z.T @ np.linalg.inv(v)
    mean = gain @ (y - d.X @ x0[:lay.p])
    post_cov = cov - gain @ z @ cov
    k = lay.n_effects
    from mixedfit.fast.marginal import draw_effects as raw_draws

    eps = np.vstack([np.zeros(k), np.eye(k)])
    out = np.empty((k + 1, k))
    raw_draws(np.tile(x0, (k + 1, 1)), lay.buffer, eps, out)
    np.testing.assert_allclose(out[0], mean, rtol=1e-8, atol=1e-8)
    factor = (out[1:] - out[0]).T  # u(e_i) - u(0) = column i of the factor
    np.testing.assert_allclose(factor @ factor.T, post_cov, rtol=1e-8, atol=1e-8)


def test_closed_form_equals_the_general_algebra():
    # clusters of one or two effects use written-out algebra; clearing the layout's
    # "shared" flag sends the same model through the general code: equal to rounding
    import dataclasses

    from mixedfit.fast.marginal import H_MARG

    for formula in ("y ~ x + (1 | g)", "y ~ x + (1 + x | g)", "y ~ x + (1 + x || g)"):
        _, _, lay = _layout(formula)
        buf = lay.buffer.copy()
        shared_at = int(buf[H_MARG]) + 2 + lay.p + lay.p ** 2 + 2
        assert buf[shared_at] == 1.0
        buf[shared_at] = 0.0
        general = dataclasses.replace(lay, buffer=buf)
        x0 = lay.initial_point(2)
        lp1, g1 = logp_and_grad(lay, x0)
        lp2, g2 = logp_and_grad(general, x0)
        assert lp1 == pytest.approx(lp2, rel=1e-12)
        np.testing.assert_allclose(g1, g2, rtol=1e-10, atol=1e-10)
        xs = np.stack([x0, x0 + 0.1])[None]
        np.testing.assert_allclose(draw_effects(xs, lay, 4), draw_effects(xs, general, 4),
                                   rtol=1e-10, atol=1e-10)


def test_which_models_integrate_out():
    sleep = mf.load_dataset("sleepstudy")
    d = build_design("Reaction ~ Days + (Days | Subject)", sleep)
    assert marginal_reason(d, GAUSSIAN) is None
    assert "poisson" in marginal_reason(d, mf.families.poisson())
    big = pd.DataFrame({"y": np.arange(300.0) % 7, "a": np.arange(300) % 50,
                        "b": np.arange(300) // 50})
    crossed = build_design("y ~ 1 + (1 | a) + (1 | b)", big)
    assert sum(b.n_levels for b in crossed.blocks) > MARGINAL_DENSE_MAX
    assert "crossed or nested" in marginal_reason(crossed, GAUSSIAN)


def test_default_fit_integrates_out_and_says_so(sleep_quick):
    assert sleep_quick.info["marginalized"] is True
    assert sleep_quick.info["centered"] is None
    assert sleep_quick.info["target_accept"] == 0.9
    assert "integrated out" in str(sleep_quick.summary())
    # the group effects are drawn: one per level, term, chain and draw
    u = sleep_quick.idata.posterior["u(Subject)"]
    assert u.shape == (2, 250, 18, 2)
    assert np.all(np.isfinite(u.values))


def test_options_choose_the_joint_model(fit_cache):
    from tests.conftest import QUICK

    sleep = mf.load_dataset("sleepstudy")
    res = fit_cache("Reaction ~ Days + (1 | Subject)", sleep, key="joint-centred",
                    centered=True, **QUICK)
    assert res.info["marginalized"] is False and res.info["centered"] == [True]
    res = fit_cache("Reaction ~ Days + (1 | Subject)", sleep, key="joint",
                    marginalize=False, **QUICK)
    assert res.info["marginalized"] is False


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"family": "poisson", "marginalize": True}, "poisson"),
    ({"sampler": "pymc", "marginalize": True}, "compiled backend"),
    ({"marginalize": "yes"}, "True, False or None"),
])
def test_impossible_marginalize_is_refused_before_sampling(monkeypatch, kwargs, message):
    from tests.conftest import forbid_sampling

    forbid_sampling(monkeypatch)
    df = _data()
    with pytest.raises(OptionError, match=message):
        mf.fit("k ~ x + (1 | g)" if kwargs.get("family") else "y ~ x + (1 | g)", df, **kwargs)


def test_draws_are_reproducible():
    df = _data()
    runs = [mf.fit("y ~ x + (1 + x | g)", df, draws=50, tune=100, chains=2, random_seed=9,
                   progressbar=False, warn=False) for _ in range(2)]
    a, b = (r.idata.posterior["u(g)"].values for r in runs)
    np.testing.assert_array_equal(a, b)


def test_marginal_and_joint_posteriors_agree():
    # the same posterior sampled two ways (4 x 1000 draws each): posterior means
    # differ by Monte Carlo error only, about 0.03 posterior sd with these ESS
    # (>= 1000); 0.2 sd is > 6 standard errors of the difference
    sleep = mf.load_dataset("sleepstudy")
    fits = [mf.fit("Reaction ~ Days + (Days | Subject)", sleep, random_seed=11,
                   progressbar=False, marginalize=m) for m in (True, False)]
    for name in ("fixed", "sigma", "sd(Subject)", "cor(Subject)",
                 "u(Subject)"):
        a, b = (f.idata.posterior[name] for f in fits)
        sd = b.std(("chain", "draw")).values
        diff = np.abs(a.mean(("chain", "draw")).values - b.mean(("chain", "draw")).values)
        mask = sd > 1e-9  # the diagonal of the correlation matrix is exactly 1
        assert np.all(diff[mask] < 0.2 * sd[mask]), name
