"""The compiled log density (mixedfit.fast): gradient, density and posterior checks.

The kernel's gradient is written by hand, so every model class it covers is checked
against central finite differences; its density is checked against the PyMC model
of ``mixedfit.backends.pymc_model`` (the same priors and likelihood, built independently) up to a
constant; the correlation transform against the LKJ density; and a fit against a
fit with ``backend="pymc"``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mixedfit as mf
from mixedfit.design import build_design
from mixedfit.fast.layout import make_layout, unsupported_reason
from mixedfit.fast.sampler import corr_cholesky_np, logp_and_grad
from mixedfit.priors import Prior, resolve_priors


def _data(seed: int = 0, n_groups: int = 7, per: int = 9) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = n_groups * per
    g = np.repeat(np.arange(n_groups), per)
    h = rng.integers(0, 4, n)
    x = rng.normal(size=n)
    w = rng.normal(size=n)
    eta = 0.3 + 0.5 * x + rng.normal(0, 0.5, n_groups)[g] + rng.normal(0, 0.3, 4)[h]
    df = pd.DataFrame({
        "y": eta + rng.normal(0, 0.7, n), "x": x, "w": w,
        "k": rng.poisson(np.exp(eta)), "b": rng.binomial(1, 1 / (1 + np.exp(-eta))),
        "s": rng.binomial(5, 1 / (1 + np.exp(-eta))), "t": np.full(n, 5),
        "e": rng.uniform(0.5, 2.0, n), "z": 2000.0 + 3.0 * x,
        "g": [f"g{i}" for i in g], "h": [f"h{i}" for i in h],
        # responses of the other families: positive, proportions, large counts
        "pos": rng.gamma(5.0, np.exp(0.5 * eta) / 5.0),
        "prop": rng.beta(8.0 / (1 + np.exp(-eta)), 8.0 / (1 + np.exp(eta))),
        "c": rng.poisson(20.0 + 3.0 * x).astype(float),
        "pinv": rng.gamma(5.0, 1.0 / (3.0 + 0.5 * eta) / 5.0),
        # group-level predictors: constant within each level of g (of h)
        "gx": rng.normal(size=n_groups)[g], "hx": rng.normal(size=4)[h] + 5.0})
    # an ordinal response: ratings 1 to 4, the latent eta + logistic noise cut at -1, 0.5, 2
    latent = eta + np.random.default_rng(seed + 100).logistic(size=n)
    df["o"] = 1 + np.searchsorted([-1.0, 0.5, 2.0], latent)
    df["c3"] = np.array(["a", "b", "c"])[(df["o"] + np.arange(n)) % 3]  # unordered
    return df


CASES = [
    ("y ~ x + (1 + x | g)", "gaussian", None),
    ("y ~ x + (1 + x + w | g)", "gaussian", None),
    ("y ~ x + (1 + x || g)", "gaussian", None),
    ("y ~ x + (1 | g) + (1 | h)", "gaussian", None),
    ("y ~ 1 + (1 | g/h)", "gaussian", None),
    ("y ~ x + w + (0 + x | g) + offset(e)", "gaussian", None),
    ("b ~ x + (1 + x | g)", "bernoulli", None),
    ("cbind(s, t - s) ~ x + (1 | g) + (1 | h)", "binomial", None),
    ("k ~ x + offset(log(e)) + (1 + x | g)", "poisson", None),
    ("k ~ x + (1 | g)", "poisson", {"sd(g)": Prior("Exponential", lam=2.0),
                                   "x": Prior("StudentT", nu=3, mu=0, sigma=2)}),
    ("y ~ x + (1 + x | g)", "gaussian", {"sigma": Prior("HalfCauchy", beta=1.0),
                                        "sd(x|g)": Prior("HalfStudentT", nu=3, sigma=1),
                                        "cor(g)": Prior("LKJ", eta=2.5),
                                        "Intercept": Prior("Cauchy", alpha=0, beta=5)}),
    # a predictor far from its origin: the block and the intercept's prior sit at its mean
    ("y ~ z + (1 + z | g)", "gaussian", {"cor(g)": Prior("LKJ", eta=0.7)}),
    ("b ~ z + w + (1 + z + w | g)", "bernoulli", {"sd(w|g)": Prior("Exponential", lam=1.5)}),
    ("cbind(s, t - s) ~ z + (1 + z | g)", "binomial", {"z": Prior("Laplace", mu=0.1, b=2)}),
    ("k ~ z + (1 + z | g) + (1 | h)", "poisson", {"sd(g)": Prior("HalfCauchy", beta=2),
                                                  "Intercept": Prior("StudentT", nu=4, mu=1,
                                                                     sigma=3)}),
    ("y ~ z + w + (1 + z | g)", "gaussian", {"sd(Intercept|g)": Prior("Gamma", alpha=2,
                                                                      beta=0.5),
                                             "sd(z|g)": Prior("InverseGamma", alpha=3, beta=1),
                                             "sigma": Prior("LogNormal", mu=0, sigma=1)}),
    # several columns in the QR step (z and z^2 correlated beyond 0.9999)
    ("k ~ z + I(z**2) + w + (1 | g)", "poisson", {"w": Prior("StudentT", nu=5, mu=0, sigma=2)}),
    # group-level predictors
    ("k ~ x + gx + hx + (1 | g) + (1 | h)", "poisson", None),
    # every other family and link ("family/link"), each family's parameters with a
    # default and a user prior
    ("y ~ x + (1 + x | g)", "t", None),
    ("y ~ z + (1 | g) + (1 | h)", "t", {"nu": Prior("Exponential", lam=0.1),
                                       "sigma": Prior("HalfNormal", sigma=2)}),
    ("pos ~ x + (1 | g)", "t/log", None),
    ("pinv ~ x + (1 | g)", "t/inverse", None),
    ("pos ~ x + (1 + x | g)", "gaussian/log", None),
    ("pinv ~ x + (1 | g)", "gaussian/inverse", {"sigma": Prior("Exponential", lam=1)}),
    ("b ~ x + (1 + x | g)", "bernoulli/probit", None),
    ("b ~ z + (1 | g)", "bernoulli/cloglog", None),
    ("cbind(s, t - s) ~ x + (1 | g) + (1 | h)", "binomial/probit", None),
    ("cbind(s, t - s) ~ x + (1 + x | g)", "binomial/cloglog", None),
    ("c ~ x + (1 | g)", "poisson/identity", None),
    ("k ~ x + offset(log(e)) + (1 + x | g)", "negativebinomial", None),
    ("k ~ z + (1 | g) + (1 | h)", "negativebinomial", {"alpha": Prior("Gamma", alpha=2,
                                                                      beta=0.5)}),
    ("c ~ x + (1 | g)", "negativebinomial/identity", {"alpha": Prior("Exponential", lam=0.1)}),
    ("pinv ~ x + (1 + x | g)", "gamma", None),
    ("pos ~ z + (1 | g)", "gamma/log", {"alpha": Prior("LogNormal", mu=1, sigma=1)}),
    ("c ~ x + (1 | g)", "gamma/identity", None),
    ("prop ~ x + (1 + x | g)", "beta", None),
    ("prop ~ x + (1 | g) + (1 | h)", "beta/probit", {"kappa": Prior("HalfNormal", sigma=20)}),
    ("prop ~ z + (1 | g)", "beta/cloglog", None),
    # ordinal: thresholds (the first and the logs of the differences) at the predictors'
    # means, with the default and a user prior on all of them ("Intercept")
    ("o ~ x + (1 + x | g)", "cumulative", None),
    ("o ~ z + w + (1 | g) + (1 | h)", "cumulative/probit",
     {"Intercept": Prior("StudentT", nu=5, mu=1, sigma=4)}),
    ("o ~ x + (1 | g)", "cumulative/probit", None),
]


def _layout(formula: str, family: str, priors: dict | None, centred: bool,
            sufficient: bool | None = None, weights: str | None = None):
    name, _, link = family.partition("/")
    fam = mf.families.get_family(name, link=link or None)
    d = build_design(formula, _data(), family=fam, weights=weights)
    fam = fam.for_levels(d.categories)  # an ordinal family's thresholds
    pri = resolve_priors(d, fam, priors)
    assert unsupported_reason(d, fam, pri) is None
    return d, fam, pri, make_layout(d, fam, pri, [centred] * len(d.blocks), sufficient=sufficient)


@pytest.mark.parametrize("centred", [False, True])
@pytest.mark.parametrize(("formula", "family", "priors"), CASES)
def test_gradient_matches_finite_differences(formula, family, priors, centred):
    # central differences with step 1e-5 are accurate to about 1e-6 here (truncation
    # error ~1e-10 x the third derivative, rounding ~1e-11 / 1e-5); a wrong term in a
    # hand-written gradient is off by O(1)
    *_, lay = _layout(formula, family, priors, centred)
    assert_gradient_matches(lay, points=2)


def assert_gradient_matches(lay, *, points: int) -> None:
    """The kernel's gradient against central differences at jittered start points."""
    rng = np.random.default_rng(5)
    for _ in range(points):
        x0 = lay.initial_point(int(rng.integers(1000))) + rng.normal(0, 0.3, lay.dim)
        _, grad = logp_and_grad(lay, x0)
        eps = 1e-5
        num = np.array([(logp_and_grad(lay, x0 + eps * e)[0] - logp_and_grad(lay, x0 - eps * e)[0])
                        / (2 * eps) for e in np.eye(lay.dim)])
        np.testing.assert_allclose(grad, num, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("formula", ["y ~ x + (1 + x | g)", "y ~ x + (1 + x || g)",
                                     "y ~ x + w + (1 | g) + offset(e)"])
@pytest.mark.parametrize("weights", [None, "e"])
def test_sufficient_statistics_equal_the_row_pass(formula, weights):
    # the same density computed two ways; differences are rounding only (1e-9 relative)
    for centred in (False, True):
        *_, rows = _layout(formula, "gaussian", None, centred, sufficient=False,
                           weights=weights)
        *_, suff = _layout(formula, "gaussian", None, centred, sufficient=True,
                           weights=weights)
        assert suff.sufficient and not rows.sufficient
        x0 = rows.initial_point(3)
        lp_r, g_r = logp_and_grad(rows, x0)
        lp_s, g_s = logp_and_grad(suff, x0)
        assert lp_s == pytest.approx(lp_r, rel=1e-9)
        np.testing.assert_allclose(g_s, g_r, rtol=1e-7, atol=1e-7)


def pymc_point(d, lay, x0: np.ndarray, names: set[str]) -> dict:
    """The point of the PyMC model's value variables that is the kernel's point ``x0``.

    The kernel moves in internal coordinates (:mod:`mixedfit.standardize`), the PyMC
    model in the parameters the priors sit on, on the user's scale; the two are related
    by an affine map (constant Jacobian), so their log densities differ by a constant."""
    st = lay.standardization
    rows, shifts = st.fixed_prior_rows()
    theta = shifts + rows @ x0[:lay.p]
    values: dict[str, np.ndarray] = {"fixed": theta}
    cuts = [pos for name, (pos, _) in lay.family_slots.items()
            if lay.family_kinds[name] in ("real", "increment")]
    if cuts:  # thresholds: one vector with PyMC's ordered transform, as the kernel's
        values["thresholds_ordered__"] = x0[cuts]
        # under one Uniform prior PyMC chains its interval transform before the ordered
        # one: the ordered transform's values are the logits of where the thresholds lie
        # in the interval, as the kernel's (Layout.ordered_bounds)
        values["thresholds_chain__"] = x0[cuts]
    for name, (pos, factor) in lay.family_slots.items():
        if lay.family_kinds[name] in ("real", "increment"):
            continue
        if lay.family_kinds[name] == "unit":  # a probability: the logit, PyMC's logodds
            values[f"{name}_logodds__"] = x0[pos]
        else:
            values[f"{name}_log__"] = np.log(factor) + x0[pos]
    for k, (b, s) in enumerate(zip(d.blocks, lay.blocks, strict=True)):
        L = b.label
        values[f"sd({L})_log__"] = np.log(st.sd_factors(k)) + x0[s.sd:s.sd + s.q]
        values[f"sd_at_means({L})_log__"] = values[f"sd({L})_log__"]  # (a centred block's)
        values[f"cor({L})_cholesky_corr__"] = x0[s.cor:s.cor + s.n_cor]
        eff = x0[s.effects:s.effects + s.m * s.q].reshape(s.m, s.q)
        values[f"z({L})"] = eff
        if s.centred:
            shift = np.array([x0[j] if j >= 0 else 0.0 for j in s.fixed_of_term])
            values[f"u({L})"] = (eff - shift) * st.sd_factors(k)
    point = {}
    for name in names:
        bare = name.lstrip("_")
        if "[" in bare:  # one of several variables of a vector with mixed priors
            head, rest = bare.split("[", 1)
            i, tail = int(rest.split("]")[0]), rest.split("]", 1)[1]
            point[name] = values[head + tail][i]
        else:
            point[name] = values[bare]
    return point


#: PyMC's OrderedProbit computes each row's log probability to about 1e-7 (measured
#: against scipy's log_ndtr, to which the kernel's agrees within 1e-14:
#: test_ordinal_interval_probabilities_are_exact), so over the 63 rows of _data its sum
#: moves by up to ~1e-6 between points; every other family is compared at 1e-8 relative
PROBIT_ORDINAL_TOL = 1e-5


def assert_density_equals_pymc(d, fam, pri, lay, centred: bool, jitter: float = 0.2
                               ) -> set[str]:
    """The kernel's log density minus the PyMC model's is the same constant at three
    jittered start points (1e-8 relative: float rounding; see PROBIT_ORDINAL_TOL);
    returns the PyMC model's value variables."""
    from mixedfit.backends.pymc_model import build_model

    model = build_model(d, fam, pri, centered=[centred] * len(d.blocks))
    logp = model.compile_logp()
    names = {v.name for v in model.value_vars}
    rng = np.random.default_rng(2)
    diffs = []
    for _ in range(3):
        x0 = lay.initial_point(int(rng.integers(1000))) + rng.normal(0, jitter, lay.dim)
        diffs.append(logp_and_grad(lay, x0)[0] - float(logp(pymc_point(d, lay, x0, names))))
    tol = (PROBIT_ORDINAL_TOL if fam.ordered_categories and fam.link == "probit"
           else 1e-8 * max(1.0, abs(diffs[0])))
    assert np.ptp(diffs) < tol
    return names


@pytest.mark.parametrize("centred", [False, True])
@pytest.mark.parametrize(("formula", "family", "priors"), CASES)
def test_density_equals_the_pymc_model_up_to_a_constant(formula, family, priors, centred):
    # the kernel and the PyMC model are written independently (hand-written densities and
    # gradients in numba; PyMC's distributions and transforms); their coordinates differ
    # by an affine map, so the log densities differ by a constant only. 1e-8 relative
    # covers float rounding.
    d, fam, pri, lay = _layout(formula, family, priors, centred)
    assert_density_equals_pymc(d, fam, pri, lay, centred)


@pytest.mark.parametrize(("k", "eta"), [(2, 1.0), (3, 1.0), (3, 2.5), (4, 0.7)])
def test_correlation_transform_gives_the_lkj_density(k, eta):
    # kernel's correlation term = log LKJ(C) + log |dC/dy| up to a constant; the Jacobian
    # of y -> (C_ij, i > j) is taken by central differences (accurate to ~1e-8)
    from mixedfit.fast import kernel

    nc = k * (k - 1) // 2
    rng = np.random.default_rng(k)
    rows, cols = np.tril_indices(k, -1)

    def corr_vec(y: np.ndarray) -> np.ndarray:
        lc = corr_cholesky_np(y, k)
        return (lc @ lc.T)[rows, cols]

    vals = []
    for _ in range(4):
        y = rng.normal(0, 0.6, nc)
        chol, tan, dl = np.zeros((k, k)), np.zeros((nc, k, k)), np.zeros(nc)
        lp = kernel.corr_cholesky(y, k, eta, chol, tan, dl)
        np.testing.assert_allclose(chol, corr_cholesky_np(y, k), atol=1e-12)
        jac = np.array([(corr_vec(y + 1e-6 * e) - corr_vec(y - 1e-6 * e)) / 2e-6
                        for e in np.eye(nc)])
        c = chol @ chol.T
        lkj = (eta - 1.0) * np.linalg.slogdet(c)[1]
        vals.append(lp - lkj - np.linalg.slogdet(jac)[1])
        # and the gradient dl of the value, by finite differences
        num = np.array([(kernel.corr_cholesky(y + 1e-6 * e, k, eta, chol, tan, np.zeros(nc))
                         - kernel.corr_cholesky(y - 1e-6 * e, k, eta, chol, tan, np.zeros(nc)))
                        / 2e-6 for e in np.eye(nc)])
        np.testing.assert_allclose(dl, num, rtol=1e-5, atol=1e-6)
    assert np.ptp(vals) < 1e-6


def test_centred_blocks_are_centred_on_the_fixed_effects():
    d, fam, pri, lay = _layout("y ~ x + (1 + x | g) + (1 | h)", "gaussian", None, True)
    # h has fewer levels than g, so it takes the intercept; g keeps x
    assert lay.blocks[1].fixed_of_term == [0]
    assert lay.blocks[0].fixed_of_term == [-1, 1]
    *_, lay = _layout("y ~ x + (1 + x | g)", "gaussian", None, False)
    assert lay.blocks[0].fixed_of_term == [-1, -1]  # non-centred blocks are not



def test_unsupported_models_name_the_reason():
    d = build_design("y ~ x + (1 | g)", _data().assign(y=lambda f: np.exp(f.y)))
    for name in mf.families.FAMILIES:  # every family and link is compiled
        for link in mf.families.get_family(name).links:
            fam = mf.families.get_family(name, link=link).for_levels(["a", "b", "c"])
            if fam.predictors_only:  # (its parameters come with its own design)
                assert "a design not built for it" in unsupported_reason(d, fam, {})
                continue
            assert unsupported_reason(d, fam, resolve_priors(d, fam, None)) is None, fam
    unbound = mf.families.cumulative()  # an ordinal family needs its categories
    assert "before its categories are known" in unsupported_reason(d, unbound, {})
    fam = mf.families.gaussian()  # Uniform priors: an interval transform (test_uniform_priors)
    pri = resolve_priors(d, fam, {"x": Prior("Uniform", lower=-5, upper=5)})
    assert unsupported_reason(d, fam, pri) is None
    # and on an ordinal model's thresholds (their ordered transform, zero density
    # outside the bounds: test_uniform_priors)
    fam = mf.families.cumulative()
    d = build_design("o ~ x + (1 | g)", _data(), family=fam)
    fam = fam.for_levels(d.categories)
    pri = resolve_priors(d, fam, {"Intercept": Prior("Uniform", lower=-5, upper=5)})
    assert unsupported_reason(d, fam, pri) is None


def test_default_backend_is_compiled_and_falls_back(sleep_quick):
    res = sleep_quick
    assert res.info["backend"] == "compiled"
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"y": rng.gamma(2.0, 1.0, 40), "g": np.repeat(list("abcd"), 10)})
    res = mf.fit("y ~ 1 + (1 | g)", df, family="gamma", draws=30, tune=30, chains=1,
                 progressbar=False, warn=False, random_seed=1)
    assert res.info["backend"] == "compiled"
    res = mf.fit("y ~ 1 + (1 | g)", df, family="gamma", draws=30, tune=30, chains=1,
                 priors={"Intercept": mf.Prior("Uniform", lower=-5, upper=5)},
                 progressbar=False, warn=False, random_seed=1)
    assert res.info["backend"] == "compiled"  # (an interval transform)


@pytest.mark.slow
def test_compiled_and_pymc_backends_agree():
    # the same posterior by two independent implementations; 4 x 1000 draws give Monte
    # Carlo standard errors below 0.05 posterior sd for these summaries, so 0.15 sd
    # is three of them
    df = mf.load_dataset("sleepstudy")
    fits = {b: mf.fit("Reaction ~ Days + (Days | Subject)", df, backend=b, random_seed=2,
                      progressbar=False) for b in ("compiled", "pymc")}
    for name in ("fixed", "sd(Subject)", "cor(Subject)", "sigma"):
        a = fits["compiled"].idata.posterior[name]
        b = fits["pymc"].idata.posterior[name]
        sd = np.maximum(np.asarray(b.std(("chain", "draw"))), 1e-12)
        diff = np.abs(np.asarray(a.mean(("chain", "draw")) - b.mean(("chain", "draw")))) / sd
        assert np.all(diff[np.isfinite(diff)] < 0.15), (name, diff)


@pytest.mark.parametrize("k", [2, 3, 4])
def test_pymc_correlation_transform_is_the_kernels(k):
    # the PyMC model samples LKJCorr through the same canonical partial correlations as
    # the kernel: same correlation matrix, and a log Jacobian equal to the determinant
    # of the numerical Jacobian of y -> (C_ij, i < j) (central differences, ~1e-8)
    import pytensor
    import pytensor.tensor as pt

    from mixedfit.backends.pymc_model import _cpc_transform

    nc = k * (k - 1) // 2
    tr = _cpc_transform(k)
    y = pt.dvector("y")
    backward = pytensor.function([y], tr.backward(y))
    logjac = pytensor.function([y], tr.log_jac_det(y))
    forward = pytensor.function([y], tr.forward(tr.backward(y)))
    iu = np.triu_indices(k, 1)
    rng = np.random.default_rng(k)
    for _ in range(3):
        y0 = rng.normal(0, 0.8, nc)
        lc = corr_cholesky_np(y0, k)
        np.testing.assert_allclose(backward(y0), (lc @ lc.T)[iu], atol=1e-12)
        np.testing.assert_allclose(forward(y0), y0, atol=1e-9)
        jac = np.array([(backward(y0 + 1e-6 * e) - backward(y0 - 1e-6 * e)) / 2e-6
                        for e in np.eye(nc)])
        assert float(logjac(y0)) == pytest.approx(np.linalg.slogdet(jac)[1], abs=1e-6)


@pytest.mark.parametrize("value", [19.5, 25.0, -40.0, 400.0])
def test_extreme_correlation_parameters_give_minus_infinity_not_nan(value):
    # tanh(y) rounds to +-1 beyond |y| ~ 19: the density there is 0 in floating point
    from mixedfit.fast import kernel

    for k in (2, 3):
        nc = k * (k - 1) // 2
        y = np.full(nc, value)
        lp = kernel.corr_cholesky(y, k, 1.0, np.zeros((k, k)), np.zeros((nc, k, k)),
                                  np.zeros(nc))
        assert lp == -np.inf or np.isfinite(lp)
        assert not np.isnan(lp)


# observation weights (column e, 0.5 to 2): precision weights for the Gaussian, folded
# into its rows; prior weights for the others, in the kernel's row pass. The PyMC model
# puts them in independently (a vector sigma / sqrt(w); a potential (w - 1) log p).
WEIGHTED = [
    ("y ~ x + (1 + x | g)", "gaussian", None),
    ("y ~ x + w + (1 | g) + (1 | h) + offset(e)", "gaussian", None),
    ("pos ~ x + (1 + x | g)", "gaussian/log", None),
    ("y ~ x + (1 | g)", "t", None),
    ("b ~ x + (1 + x | g)", "bernoulli", None),
    ("b ~ x + (1 | g)", "bernoulli/probit", None),
    ("k ~ x + offset(log(e)) + (1 + x | g)", "poisson", None),
    ("c ~ x + (1 | g)", "poisson/identity", None),
    ("k ~ x + (1 | g) + (1 | h)", "negativebinomial", None),
    ("pinv ~ x + (1 | g)", "gamma", None),
    ("pos ~ z + (1 | g)", "gamma/log", None),
    ("prop ~ x + (1 | g)", "beta", None),
]


@pytest.mark.parametrize("centred", [False, True])
@pytest.mark.parametrize(("formula", "family", "priors"), WEIGHTED)
def test_weighted_density_equals_the_pymc_model(formula, family, priors, centred):
    # as test_density_equals_the_pymc_model_up_to_a_constant, with weights
    d, fam, pri, lay = _layout(formula, family, priors, centred, weights="e")
    assert d.weights is not None
    assert_density_equals_pymc(d, fam, pri, lay, centred)
    # and the weights matter: the unweighted kernel differs by more than a constant
    *_, plain = _layout(formula, family, priors, centred)
    x1 = [plain.initial_point(int(s)) + 0.2 for s in (1, 2)]
    gap = [logp_and_grad(lay, x)[0] - logp_and_grad(plain, x)[0] for x in x1]
    assert abs(gap[0] - gap[1]) > 1e-6


@pytest.mark.parametrize(("formula", "family", "priors"), WEIGHTED)
def test_weighted_gradient_matches_finite_differences(formula, family, priors):
    *_, lay = _layout(formula, family, priors, False, weights="e")
    assert_gradient_matches(lay, points=1)


@pytest.mark.parametrize("centred", [False, True])
@pytest.mark.parametrize("formula", ["y ~ x + (1 + x | g)", "y ~ 1 + (1 | g) + (1 | h)"])
def test_known_se_density_equals_the_pymc_model(formula, centred):
    # se= (column e): sigma fixed, each row's sd known; the kernel folds the precisions
    # 1 / e^2 into the rows with sigma 1 on the user's scale, PyMC uses Normal(mu, e)
    fam = mf.families.gaussian().with_known_scale()
    d = build_design(formula, _data(), family=fam, se="e")
    pri = resolve_priors(d, fam, None)
    assert "sigma" not in pri
    for sufficient in (False, True) if formula.count("|") == 1 else (False,):
        lay = make_layout(d, fam, pri, [centred] * len(d.blocks), sufficient=sufficient)
        assert lay.sigma == -1
        assert_density_equals_pymc(d, fam, pri, lay, centred)
        assert_gradient_matches(lay, points=1)


@pytest.mark.parametrize("centred", [False, True])
@pytest.mark.parametrize("weights", [None, "e"])
@pytest.mark.parametrize("family", ["zero_inflated_poisson", "zero_inflated_negativebinomial",
                                    "hurdle_poisson", "hurdle_negativebinomial"])
def test_zero_inflated_density_equals_the_pymc_model(family, weights, centred):
    # the probability zi (hu) is sampled on the logit scale (PyMC's logodds transform) with
    # a Beta prior; counts with added zeros (column k0)
    data = _data()
    data["k0"] = np.where(np.random.default_rng(3).random(len(data)) < 0.3, 0, data["k"])
    fam = mf.families.get_family(family)
    d = build_design("k0 ~ x + (1 + x | g)", data, family=fam, weights=weights)
    prob = fam.unit_parameters[0]
    pri = resolve_priors(d, fam, {prob: Prior("Beta", alpha=2, beta=3)} if weights else None)
    assert unsupported_reason(d, fam, pri) is None
    lay = make_layout(d, fam, pri, [centred])
    names = assert_density_equals_pymc(d, fam, pri, lay, centred, jitter=0.3)
    assert f"{prob}_logodds__" in names
    assert_gradient_matches(lay, points=1)


@pytest.mark.parametrize("weights", [None, "e"])
@pytest.mark.parametrize("link", ["logit", "probit"])
def test_ordinal_thresholds_with_mixed_priors_and_weights(link, weights):
    # thresholds with priors of different distributions (the compiled backend only) and
    # prior weights: the gradient by central differences, the density against PyMC's
    # with one distribution
    fam = mf.families.cumulative(link)
    d = build_design("o ~ x + w + (1 + x | g)", _data(), family=fam, weights=weights)
    fam = fam.for_levels(d.categories)
    assert d.categories == ["1", "2", "3", "4"] and "Intercept" not in d.fixed_columns
    pri = resolve_priors(d, fam, {"Intercept[2]": Prior("Normal", mu=0.5, sigma=2),
                                  "Intercept[3]": Prior("Cauchy", alpha=1, beta=3)})
    lay = make_layout(d, fam, pri, [False])
    assert_gradient_matches(lay, points=2)
    pri = resolve_priors(d, fam, None)
    lay = make_layout(d, fam, pri, [True])
    names = assert_density_equals_pymc(d, fam, pri, lay, True, jitter=0.3)
    assert "_thresholds_ordered__" in names


@pytest.mark.parametrize("link", ["logit", "probit"])
def test_ordinal_interval_probabilities_are_exact(link):
    # the kernel's log(F(a) - F(b)) against scipy (log_ndtr; the logistic's logs by
    # logaddexp) far into both tails, and its derivatives against central differences
    from scipy import special

    from mixedfit.fast.buffer import LINKS
    from mixedfit.fast.rowlik import interval_term

    def log_cdf(x):
        return special.log_ndtr(x) if link == "probit" else -np.logaddexp(0.0, -x)

    code = LINKS[link]
    for b in (-40.0, -8.0, -1.3, 0.0, 0.4, 6.0, 35.0):
        for gap in (1e-6, 0.05, 1.0, 4.0, 30.0):
            a = b + gap
            hi, lo = (a, b) if b <= 0 else (-b, -a)  # the smaller tail, as the kernel
            diff = log_cdf(lo) - log_cdf(hi)
            expected = log_cdf(hi) + np.log1p(-np.exp(diff))
            # the reference loses eps |log F(lo)| in diff to cancellation, magnified by
            # e^diff / (1 - e^diff) (the kernel computes a - b exactly instead)
            slack = 4e-16 * abs(log_cdf(lo)) * np.exp(diff) / -np.expm1(diff)
            lp, da, db = interval_term(code, a, b, True, True)
            assert lp == pytest.approx(expected, rel=1e-12, abs=1e-12 + slack), (a, b)
            h = 1e-6 * max(1.0, abs(a))
            if gap > 10 * h:
                num_a = (interval_term(code, a + h, b, True, True)[0]
                         - interval_term(code, a - h, b, True, True)[0]) / (2 * h)
                num_b = (interval_term(code, a, b + h, True, True)[0]
                         - interval_term(code, a, b - h, True, True)[0]) / (2 * h)
                assert da == pytest.approx(num_a, rel=1e-5, abs=1e-6), (a, b)
                assert db == pytest.approx(num_b, rel=1e-5, abs=1e-6), (a, b)
        # the first and last categories
        assert interval_term(code, b, 0.0, True, False)[0] == pytest.approx(
            log_cdf(b), rel=1e-12, abs=1e-300)
        assert interval_term(code, 0.0, b, False, True)[0] == pytest.approx(
            log_cdf(-b), rel=1e-12, abs=1e-300)


DPAR_CASES = [
    # (formula, family, the family parameters' formulas, observation weights)
    ("y ~ x + (1 | g)", "gaussian", {"sigma": "~ x + (1 | g)"}, None),
    ("y ~ z + (1 + z | g)", "gaussian", {"sigma": "~ w + (1 | h)"}, "e"),
    ("pos ~ x + (1 | g)", "gaussian/log", {"sigma": "~ x"}, None),
    ("y ~ x + (1 | g)", "t", {"sigma": "~ x + (1 | g)", "nu": "~ w"}, None),
    ("k ~ x + (1 | g)", "negativebinomial", {"alpha": "~ x + (1 | h)"}, "e"),
    ("pos ~ x + (1 | g)", "gamma/log", {"alpha": "~ w + (1 | g)"}, None),
    ("prop ~ x + (1 | g)", "beta", {"kappa": "~ x + (1 | g)"}, None),
    ("k0 ~ x + (1 | g)", "zero_inflated_poisson", {"zi": "~ x + (1 | g)"}, None),
    ("k0 ~ x + (1 | g)", "hurdle_negativebinomial", {"hu": "~ w", "alpha": "~ x"}, None),
]


@pytest.mark.parametrize("centred", [False, True])
@pytest.mark.parametrize(("formula", "family", "dpars", "weights"), DPAR_CASES)
def test_family_parameters_with_formulas(formula, family, dpars, weights, centred):
    # a family parameter with its own linear predictor (log or logit link), its
    # coefficients with the fixed effects and its blocks with the others: the gradient by
    # central differences and the density against the PyMC model's
    data = _data()
    data["k0"] = np.where(np.random.default_rng(3).random(len(data)) < 0.3, 0, data["k"])
    name, _, link = family.partition("/")
    fam = mf.families.get_family(name, link=link or None)
    d = build_design(formula, data, family=fam, weights=weights, dpars=dpars)
    assert set(d.dpars) == set(dpars)
    pri = resolve_priors(d, fam, None)
    assert unsupported_reason(d, fam, pri) is None
    lay = make_layout(d, fam, pri, [centred] * len(d.blocks))
    assert not set(dpars) & set(lay.family_slots)  # no slot of their own
    assert_gradient_matches(lay, points=1)
    assert_density_equals_pymc(d, fam, pri, lay, centred, jitter=0.2)


@pytest.mark.parametrize("centred", [False, True])
@pytest.mark.parametrize(("formula", "weights"), [("c3 ~ x + (1 | g)", None),
                                                  ("c3 ~ z + w + (1 + x | g) + (1 | h)", "e")])
def test_categorical_density_equals_the_pymc_model(formula, weights, centred):
    # a categorical response: one linear predictor per category but the first, each with
    # the formula's terms (log odds; PyMC's Categorical with logit_p)
    fam = mf.families.categorical()
    d = build_design(formula, _data(), family=fam, weights=weights)
    fam = fam.for_levels(d.categories)
    assert d.categories == ["a", "b", "c"] and d.dpars == ("mub", "muc")
    assert not d.columns_of("").size and not d.blocks_of("")
    pri = resolve_priors(d, fam, None)
    lay = make_layout(d, fam, pri, [centred] * len(d.blocks))
    assert_gradient_matches(lay, points=1)
    assert_density_equals_pymc(d, fam, pri, lay, centred)
