"""Gaussian models with the group effects integrated out (mixedfit.fast.marginal).

The marginal density is checked against the dense multivariate normal density of
``y`` (``Normal(X beta, sigma^2 I + Z Sigma Z')``, built here with numpy and scipy,
independently of the kernel's Woodbury algebra), its hand-written gradient
against central differences, the conditional draws of the group effects against
the dense Gaussian conditioning formulas, and a fit against the joint model.
"""

from __future__ import annotations

import dataclasses

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
from tests.backends.test_compiled import _data, assert_gradient_matches

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
    # z = 2000 + 3 x: the default priors sit at its mean, the user's where they are put
    ("y ~ z + (1 + z | g)", None),
    ("y ~ z + w + (1 + z + w | g)", {"cor(g)": Prior("LKJ", eta=0.6),
                                     "sd(w|g)": Prior("Gamma", alpha=2, beta=1)}),
    ("y ~ z + (1 + z | g) + offset(e)", {"Intercept": Prior("StudentT", nu=3, mu=200,
                                                            sigma=500),
                                         "sd(Intercept|g)": Prior("Exponential", lam=0.5)}),
    ("y ~ z + I(z**2) + w + (1 | g)", {"I(z ** 2)": Prior("Normal", mu=0, sigma=0.1)}),
]


def _layout(formula: str, priors: dict | None = None, data: pd.DataFrame | None = None):
    d = build_design(formula, _data() if data is None else data)
    pri = resolve_priors(d, GAUSSIAN, priors)
    assert marginal_reason(d, GAUSSIAN) is None
    return d, pri, make_layout(d, GAUSSIAN, pri, [False] * len(d.blocks), marginal=True)


def _covariances(d, lay, x0: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Dense ``Z`` (rows x effects, the kernel's effect order), the prior covariance of
    the effects and ``sigma^2`` at the kernel's parameters ``x0``, read as parameters of
    the design ``d`` (the internal design: the kernel's own units)."""
    n = d.n_obs
    zs, covs = [], []
    for b, s in zip(d.blocks, lay.blocks, strict=True):
        sd = np.exp(x0[s.sd:s.sd + s.q])
        lc = corr_cholesky_np(x0[s.cor:s.cor + s.n_cor], s.q) if s.n_cor else np.eye(s.q)
        c = sd[:, None] * lc
        zs.append(_dense_z(b, n))
        covs.append(np.kron(np.eye(b.n_levels), c @ c.T))
    return np.hstack(zs), _block_diag(covs), float(np.exp(2 * x0[lay.sigma]))


def _dense_z(b, n: int) -> np.ndarray:
    z = np.zeros((n, b.n_levels * b.n_terms))
    for t in range(b.n_terms):
        z[np.arange(n), b.index * b.n_terms + t] = b.Z[:, t]
    return z


def _block_diag(mats: list[np.ndarray]) -> np.ndarray:
    k = sum(m.shape[0] for m in mats)
    out = np.zeros((k, k))
    at = 0
    for m in mats:
        out[at:at + m.shape[0], at:at + m.shape[0]] = m
        at += m.shape[0]
    return out


def _rms(v: np.ndarray) -> float:
    r = float(np.sqrt(np.mean(v ** 2)))
    return r if r > 0 else 1.0


def _decode(d, lay, priors, x0: np.ndarray) -> dict:
    """The user's parameters at the kernel's point ``x0``, and the values the priors sit
    on, derived here from the documented internal coordinates (mixedfit.standardize)
    without its code: X* = (X - m) / d then the QR step, with an OLS fit and a residual
    rms taken out of the response; a correlated block with an intercept and slopes
    centred likewise."""
    X = d.X
    n, p = X.shape
    y = np.asarray(d.y, float) - (d.offset if d.offset is not None else 0.0)
    m = X.mean(axis=0)
    m[0] = 0.0  # the intercept, first
    Xs = (X - m) / np.array([_rms(X[:, j] - m[j]) for j in range(p)])
    Xs[:, 0] = 1.0
    # the QR step: columns that are not a block's column too, orthogonal to the rest
    shared = [j for j, c in enumerate(d.fixed_columns) if c != "Intercept" and any(
        c in b.columns and np.array_equal(X[:, j], b.Z[:, b.columns.index(c)])
        for b in d.blocks)]
    base = [0, *shared]
    others = [j for j in range(p) if j not in base]
    if others:
        resid = Xs[:, others] - Xs[:, base] @ np.linalg.lstsq(Xs[:, base], Xs[:, others],
                                                               rcond=None)[0]
        q, r = np.linalg.qr(resid)
        Xs[:, others] = q * np.sign(np.diag(r)) * np.sqrt(n)
    coef = np.linalg.lstsq(Xs, y, rcond=None)[0]
    s = _rms(y - Xs @ coef)
    to_user = np.linalg.lstsq(X, Xs, rcond=None)[0]  # Xs = X to_user
    beta = to_user @ (coef + s * x0[:p])
    theta = beta.copy()
    if "Intercept" not in priors.user:
        theta[0] = beta[0] + m @ beta  # the default intercept prior: at the means
    out = {"beta": beta, "sigma": s * np.exp(x0[lay.sigma]), "sites": {}, "covs": [],
           "dense": []}
    out["sites"].update({c: theta[j] for j, c in enumerate(d.fixed_columns)})
    out["sites"]["sigma"] = out["sigma"]
    for b, sl in zip(d.blocks, lay.blocks, strict=True):
        Z = b.Z
        pinned = {f"sd(Intercept|{b.group})", f"cor({b.label})"} & priors.user
        centred = b.correlated and b.n_terms > 1 and "Intercept" in b.columns and not pinned
        c = Z.mean(axis=0) if centred else np.zeros(b.n_terms)
        c[0] = 0.0 if centred else c[0]
        Zs = (Z - c) / np.array([_rms(Z[:, j] - c[j]) for j in range(b.n_terms)])
        if "Intercept" in b.columns:
            Zs[:, 0] = 1.0
        A = np.linalg.lstsq(Z, Zs, rcond=None)[0]  # Zs = Z A, so u = s A u*
        sd = np.exp(x0[sl.sd:sl.sd + sl.q])
        lc = corr_cholesky_np(x0[sl.cor:sl.cor + sl.n_cor], sl.q) if sl.n_cor else np.eye(sl.q)
        cov = s ** 2 * A @ (sd[:, None] * lc) @ (sd[:, None] * lc).T @ A.T
        out["covs"].append(cov)
        binv = np.eye(b.n_terms)
        binv[0, 1:] = c[1:]  # effects at the means from the user's: intercept + c . slopes
        cov_c = binv @ cov @ binv.T
        # Z Sigma Z' = Zc Sigma_c Zc' with Zc = Z - c: the same, without cancelling the
        # large variances of the effects at a far origin
        out["dense"].append((Z - c, cov_c))
        sd_c = np.sqrt(np.diag(cov_c))
        for j, col in enumerate(b.columns):
            out["sites"][f"sd({col}|{b.group})"] = sd_c[j]
        if b.correlated:
            out["sites"][f"cor({b.label})"] = cov_c / np.outer(sd_c, sd_c)
    return out


def _scipy_logpdf(prior, v) -> float:
    """Log density of a prior from scipy.stats (an implementation independent of the
    kernel's); LKJ up to its normalising constant, ``(eta - 1) log det C``."""
    from scipy import stats

    a = prior.values
    name = prior.kind.name
    if name == "LKJ":
        return (a["eta"] - 1.0) * np.linalg.slogdet(v)[1]
    dist = {
        "Normal": lambda: stats.norm(a["mu"], a["sigma"]),
        "StudentT": lambda: stats.t(a["nu"], a["mu"], a["sigma"]),
        "Cauchy": lambda: stats.cauchy(a["alpha"], a["beta"]),
        "Laplace": lambda: stats.laplace(a["mu"], a["b"]),
        "HalfNormal": lambda: stats.halfnorm(scale=a["sigma"]),
        "HalfCauchy": lambda: stats.halfcauchy(scale=a["beta"]),
        "Exponential": lambda: stats.expon(scale=1.0 / a["lam"]),
        "Gamma": lambda: stats.gamma(a["alpha"], scale=1.0 / a["beta"]),
        "InverseGamma": lambda: stats.invgamma(a["alpha"], scale=a["beta"]),
        "LogNormal": lambda: stats.lognorm(a["sigma"], scale=np.exp(a["mu"])),
    }
    if name == "HalfStudentT":
        return float(stats.t(a["nu"], 0.0, a["sigma"]).logpdf(v) + np.log(2.0))
    return float(dist[name]().logpdf(v))


def _site_vector(d, lay, priors, x0: np.ndarray) -> np.ndarray:
    """The values the priors sit on, as one vector (correlations below the diagonal)."""
    sites = _decode(d, lay, priors, x0)["sites"]
    out = []
    for key in priors:
        v = sites[key]
        if key.startswith("cor("):
            out.extend(v[np.tril_indices(v.shape[0], -1)])
        else:
            out.append(v)
    return np.asarray(out, dtype=float)


@pytest.mark.parametrize(("formula", "priors"), CASES)
def test_gradient_matches_finite_differences(formula, priors):
    # as in test_compiled: a wrong term in a hand-written gradient is off by O(1)
    assert_gradient_matches(_layout(formula, priors)[2], points=3)


@pytest.mark.parametrize(("formula", "priors"), CASES)
def test_density_is_the_dense_marginal_likelihood_and_the_priors(formula, priors):
    # log p(x) = log Normal(y | X beta, sigma^2 I + Z Sigma Z') + sum of the priors at the
    # values they sit on (scipy.stats) + log |d sites / d x| (numerical Jacobian of the
    # map from the kernel's coordinates, central differences): every part computed here
    # without the kernel's code, from the user's parameters at x. Equal up to a constant
    # (the terms the kernel leaves out); 1e-5 covers the numerical Jacobian (step 1e-4:
    # truncation ~1e-8 x third derivatives, rounding ~1e-12 / 1e-4 through the user's
    # covariance of effects at a far origin).
    d, pri, lay = _layout(formula, priors)
    y = np.asarray(d.y, float)
    off = d.offset if d.offset is not None else 0.0
    rng = np.random.default_rng(3)
    diffs = []
    for _ in range(4):
        x0 = lay.initial_point(int(rng.integers(1000))) + rng.normal(0, 0.3, lay.dim)
        par = _decode(d, lay, pri, x0)
        z = np.hstack([_dense_z(dataclasses.replace(b, Z=zc), d.n_obs)
                       for b, (zc, _) in zip(d.blocks, par["dense"], strict=True)])
        cov = _block_diag([np.kron(np.eye(b.n_levels), c)
                           for b, (_, c) in zip(d.blocks, par["dense"], strict=True)])
        dense = multivariate_normal(off + d.X @ par["beta"],
                                    par["sigma"] ** 2 * np.eye(d.n_obs) + z @ cov @ z.T
                                    ).logpdf(y)
        prior_term = sum(_scipy_logpdf(p, par["sites"][k]) for k, p in pri.items())
        jac = np.array([(_site_vector(d, lay, pri, x0 + 1e-4 * e)
                         - _site_vector(d, lay, pri, x0 - 1e-4 * e)) / 2e-4
                        for e in np.eye(lay.dim)])
        expected = dense + prior_term + np.linalg.slogdet(jac)[1]
        diffs.append(logp_and_grad(lay, x0)[0] - expected)
    assert np.ptp(diffs) < 1e-5, diffs


@pytest.mark.parametrize("formula", ["y ~ x + (1 | g)", "y ~ x + (1 + x | g)",
                                     "y ~ x + (1 + x || g)", "y ~ x + (1 + x + w | g)",
                                     "y ~ x + (1 | g) + (1 | h)"])
def test_conditional_draws_have_the_exact_mean_and_covariance(formula):
    # u | y, parameters ~ Normal(Sigma Z' V^-1 r, Sigma - Sigma Z' V^-1 Z Sigma); the
    # draws are affine in the normal deviates, so the mean (deviates 0) and the
    # covariance (deviates = unit vectors) are checked exactly, to rounding (1e-8)
    _, _, lay = _layout(formula)
    d = lay.standardization.internal  # the effects are drawn in the kernel's own units
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

    from mixedfit.fast.buffer import H_MARG

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


def _marginal_minus_laplace(marg, joint, seed: int) -> list[float]:
    """The marginal log density minus the joint one integrated over the group effects
    (non-centred ``z``) at three population points. The joint is Gaussian in ``z``, so
    its Laplace integral is exact: one Newton step from any ``z`` gives the mode, and the
    Hessian (central differences of the gradient, exact for a quadratic up to rounding)
    the volume."""
    effects = np.concatenate([np.arange(s.effects, s.effects + s.m * s.q)
                              for s in joint.blocks])
    population = np.setdiff1d(np.arange(joint.dim), effects)
    assert population.size == marg.dim
    rng = np.random.default_rng(seed)
    diffs = []
    for _ in range(3):
        theta = marg.initial_point(int(rng.integers(1000))) + rng.normal(0, 0.3, marg.dim)
        x = np.zeros(joint.dim)
        x[population] = theta

        def grad_z(z: np.ndarray, x: np.ndarray = x) -> np.ndarray:
            x[effects] = z
            return logp_and_grad(joint, x)[1][effects]

        z0 = np.zeros(effects.size)
        h = np.array([(grad_z(z0 + 1e-4 * e) - grad_z(z0 - 1e-4 * e)) / 2e-4
                      for e in np.eye(effects.size)])
        h = 0.5 * (h + h.T)
        x[effects] = z0 - np.linalg.solve(h, grad_z(z0))
        laplace = (logp_and_grad(joint, x)[0] + 0.5 * effects.size * np.log(2 * np.pi)
                   - 0.5 * np.linalg.slogdet(-h)[1])
        diffs.append(logp_and_grad(marg, theta)[0] - laplace)
    return diffs


@pytest.mark.parametrize("formula", ["y ~ x + (1 + x | g)", "y ~ x + (1 | g) + (1 | h)",
                                     "y ~ x + w + (1 + x | g) + offset(e)"])
def test_weighted_marginal_is_the_joint_density_integrated(formula):
    # precision weights (column e): the marginal density at the population parameters
    # equals the joint density integrated over the group effects (the joint density is
    # checked against the PyMC model with weights in tests/backends/test_compiled.py).
    # Rounding: 1e-6.
    d = build_design(formula, _data(), weights="e")
    pri = resolve_priors(d, GAUSSIAN, None)
    marg = make_layout(d, GAUSSIAN, pri, [False] * len(d.blocks), marginal=True)
    joint = make_layout(d, GAUSSIAN, pri, [False] * len(d.blocks), sufficient=False)
    diffs = _marginal_minus_laplace(marg, joint, 4)
    assert np.ptp(diffs) < 1e-6 * max(1.0, abs(diffs[0]))
    # weighted fits that differ from the unweighted ones
    plain = make_layout(build_design(formula, _data()), GAUSSIAN, pri,
                        [False] * len(d.blocks), marginal=True)
    assert not np.allclose(plain.buffer, marg.buffer)


def test_known_se_marginal_is_the_joint_density_integrated():
    # se= (column e): as above, with sigma fixed (no sigma parameter in either layout)
    fam = mf.families.gaussian().with_known_scale()
    d = build_design("y ~ x + (1 + x | g)", _data(), family=fam, se="e")
    pri = resolve_priors(d, fam, None)
    marg = make_layout(d, fam, pri, [False], marginal=True)
    joint = make_layout(d, fam, pri, [False], sufficient=False)
    assert marg.sigma == -1
    diffs = _marginal_minus_laplace(marg, joint, 5)
    assert np.ptp(diffs) < 1e-6 * max(1.0, abs(diffs[0]))
    assert_gradient_matches(marg, points=1)
