"""Uniform priors on the compiled backend (mixedfit.fast): an interval transform.

A ``Uniform(lower, upper)`` prior's parameter is moved by an interval transform of the
sampler's coordinate, as PyMC's: an sd or a family parameter (sigma, nu, alpha, zi...)
directly; a fixed effect, whose prior sits on a linear combination of the kernel's
internal coefficients (an intercept at the origin or at the predictors' means), through
an affine change of the fixed effects' coordinates (:class:`mixedfit.fast.layout.FixedMap`).
Checked as the other priors are (tests/backends/test_compiled.py): the gradient against
central differences, the density against the PyMC model's (which puts PyMC's interval
transform on each such parameter) up to a constant, the marginal density against the
joint one integrated over the group effects; and fits against the PyMC backend's.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mixedfit as mf
from mixedfit import names
from mixedfit.design import build_design
from mixedfit.fast.layout import make_layout, unsupported_reason
from mixedfit.fast.sampler import constrain, logp_and_grad
from mixedfit.priors import Prior, resolve_priors
from tests.backends.test_compiled import (
    _data,
    assert_gradient_matches,
    pymc_point,
)
from tests.backends.test_marginal import _marginal_minus_laplace


def U(lower: float, upper: float) -> Prior:
    return Prior("Uniform", lower=lower, upper=upper)


def _with_zeros(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    df["k0"] = np.where(np.random.default_rng(3).random(len(df)) < 0.3, 0, df["k"])
    return df


CASES = [
    # (formula, family, priors, family parameters' formulas)
    # a slope: one internal coordinate
    ("y ~ x + (1 + x | g)", "gaussian", {"x": U(-1.0, 2.0)}, None),
    # the intercept at the origin (a user's prior), far from the data (z = 2000 + 3 x):
    # a combination of the internal intercept and slope
    ("y ~ z + (1 + z | g)", "gaussian", {"Intercept": U(-1500.0, 800.0)}, None),
    ("y ~ x + w + (1 | g) + (1 | h)", "gaussian", {"Intercept": U(-2.0, 3.0)}, None),
    # two fixed effects, and every fixed effect (one Uniform vector in the PyMC model)
    ("k ~ z + w + (1 | g)", "poisson", {"Intercept": U(-30.0, 30.0), "w": U(-0.5, 0.5)},
     None),
    ("b ~ x + w + (1 + x | g)", "bernoulli", {"Intercept": U(-3.0, 3.0), "x": U(-2.0, 4.0),
                                              "w": U(-1.0, 1.0)}, None),
    # group sds: one of a block's (the other HalfNormal), and a whole block's
    ("y ~ x + (1 + x | g)", "gaussian", {"sd(x|g)": U(0.0, 3.0)}, None),
    ("k ~ x + (1 | g) + (1 | h)", "poisson", {"sd(g)": U(0.0, 5.0), "sd(h)": U(0.05, 2.0)},
     None),
    ("y ~ z + (1 + z | g)", "gaussian", {"sd(Intercept|g)": U(0.0, 4.0),
                                         "sd(z|g)": U(0.0, 1.0)}, None),
    # sigma (the Gaussian's, whose gradient comes in log sigma; the Student-t's), other
    # positive family parameters
    ("y ~ x + (1 + x | g)", "gaussian", {"sigma": U(0.1, 5.0)}, None),
    ("y ~ x + w + (1 | g) + (1 | h)", "gaussian", {"sigma": U(0.0, 10.0), "x": U(-3.0, 3.0),
                                                   "sd(g)": U(0.0, 2.0)}, None),
    ("y ~ x + (1 | g)", "t", {"sigma": U(0.0, 3.0), "nu": U(1.0, 50.0)}, None),
    ("k ~ x + (1 | g)", "negativebinomial", {"alpha": U(0.0, 100.0)}, None),
    ("pinv ~ x + (1 | g)", "gamma", {"alpha": U(0.5, 200.0), "x": U(-5.0, 5.0)}, None),
    # a probability
    ("k0 ~ x + (1 + x | g)", "zero_inflated_poisson", {"zi": U(0.05, 0.6)}, None),
    ("k0 ~ x + (1 | g)", "hurdle_negativebinomial", {"hu": U(0.0, 1.0),
                                                     "alpha": U(0.0, 20.0)}, None),
    # a coefficient of a family parameter's own formula
    ("y ~ x + (1 | g)", "gaussian", {"sigma_w": U(-1.0, 1.0)}, {"sigma": "~ w"}),
]


def _layout(formula, family, priors, dpars, centred, sufficient=None):
    name, _, link = family.partition("/")
    fam = mf.families.get_family(name, link=link or None)
    d = build_design(formula, _with_zeros(_data()), family=fam, dpars=dpars)
    pri = resolve_priors(d, fam, priors)
    assert unsupported_reason(d, fam, pri) is None
    lay = make_layout(d, fam, pri, [centred] * len(d.blocks), sufficient=sufficient)
    return d, fam, pri, lay


def _point(d, lay, pri, x0: np.ndarray, names: set[str]) -> dict:
    """The PyMC model's point at the kernel's ``x0``. PyMC's interval transform of a
    Uniform parameter is the logit of where it lies in its interval, as the kernel's
    coordinate; the fixed effects ``beta*`` are solved here from the values under the
    Uniform priors and the other coordinates (independently of the layout's map)."""
    st = lay.standardization
    rows, shifts = st.fixed_prior_rows()
    fm = lay.fixed_map
    x1 = np.array(x0, dtype=float)
    interval: dict[str, np.ndarray] = {}
    if fm is not None:
        p = lay.p
        A, b = np.eye(p), x0[:p].copy()
        lo_hi = [(pri[d.fixed_columns[k]].values["lower"], pri[d.fixed_columns[k]].values["upper"])
                 for k in fm.rows]
        for j, (k, c) in enumerate(zip(fm.rows, fm.pivots, strict=True)):
            lo, hi = lo_hi[j]
            A[c] = rows[k]
            b[c] = lo + (hi - lo) / (1.0 + np.exp(-x0[c])) - shifts[k]
        x1[:p] = np.linalg.solve(A, b)
        interval["fixed"] = np.full(p, np.nan)
        interval["fixed"][fm.rows] = x0[fm.pivots]
    for name, (pos, _) in lay.family_slots.items():
        interval[name] = x0[pos]
    for b_, s in zip(d.blocks, lay.blocks, strict=True):
        for key in (f"sd({b_.label})", f"sd_at_means({b_.label})"):
            interval[key] = x0[s.sd:s.sd + s.q]
    point = pymc_point(d, lay, x1, {n for n in names if not n.endswith("_interval__")})
    for name in names:
        if not name.endswith("_interval__"):
            continue
        bare = name.lstrip("_")[:-len("_interval__")]
        if "[" in bare:  # one of several variables of a vector with mixed priors
            head, rest = bare.split("[", 1)
            point[name] = interval[head][int(rest.split("]")[0])]
        else:
            point[name] = interval[bare]
    return point


def _density_differences(d, fam, pri, lay, centred: bool, jitter: float = 0.3) -> list[float]:
    from mixedfit.backends.pymc_model import build_model

    model = build_model(d, fam, pri, centered=[centred] * len(d.blocks))
    logp = model.compile_logp()
    names = {v.name for v in model.value_vars}
    assert any(n.endswith("_interval__") for n in names)
    rng = np.random.default_rng(2)
    diffs = []
    for _ in range(4):
        x0 = lay.initial_point(int(rng.integers(1000))) + rng.normal(0, jitter, lay.dim)
        diffs.append(logp_and_grad(lay, x0)[0] - float(logp(_point(d, lay, pri, x0, names))))
    return diffs


@pytest.mark.parametrize("centred", [False, True])
@pytest.mark.parametrize(("formula", "family", "priors", "dpars"), CASES)
def test_gradient_matches_finite_differences(formula, family, priors, dpars, centred):
    *_, lay = _layout(formula, family, priors, dpars, centred)
    assert lay.fixed_map is not None or lay.bounded
    assert_gradient_matches(lay, points=2)


@pytest.mark.parametrize("centred", [False, True])
@pytest.mark.parametrize(("formula", "family", "priors", "dpars"), CASES)
def test_density_equals_the_pymc_model(formula, family, priors, dpars, centred):
    # the PyMC model samples each Uniform parameter with PyMC's interval transform; the
    # kernel's coordinates differ from its by an affine map: equal up to a constant
    d, fam, pri, lay = _layout(formula, family, priors, dpars, centred)
    diffs = _density_differences(d, fam, pri, lay, centred)
    assert np.ptp(diffs) < 1e-8 * max(1.0, abs(diffs[0])), diffs


@pytest.mark.parametrize(("formula", "priors"), [
    ("y ~ x + (1 + x | g)", {"x": U(-1.0, 2.0), "sigma": U(0.0, 5.0), "sd(x|g)": U(0.0, 3.0)}),
    ("y ~ z + (1 + z | g)", {"Intercept": U(-1500.0, 800.0), "sigma": U(0.2, 3.0)}),
    ("y ~ x + w + (1 | g) + (1 | h)", {"Intercept": U(-2.0, 3.0), "w": U(-1.0, 1.0),
                                       "sd(h)": U(0.0, 2.0)}),
])
def test_marginal_density_is_the_joint_density_integrated(formula, priors):
    # the marginal Gaussian kernel (group effects integrated out) with Uniform priors on
    # fixed effects, sigma (its gradient comes in log sigma) and sds: at the same
    # population coordinates it equals the joint density (checked against PyMC above)
    # integrated over the group effects (an exact Laplace integral: 1e-6 is rounding)
    gaussian = mf.families.gaussian()
    d = build_design(formula, _data())
    pri = resolve_priors(d, gaussian, priors)
    marg = make_layout(d, gaussian, pri, [False] * len(d.blocks), marginal=True)
    joint = make_layout(d, gaussian, pri, [False] * len(d.blocks), sufficient=False)
    assert marg.fixed_map is not None and marg.bounded
    diffs = _marginal_minus_laplace(marg, joint, 6)
    assert np.ptp(diffs) < 1e-6 * max(1.0, abs(diffs[0])), diffs
    assert_gradient_matches(marg, points=2)


@pytest.mark.parametrize("centred", [False, True])
def test_sufficient_statistics_equal_the_row_pass(centred):
    # the Gaussian's sigma under a Uniform prior, its gradient from the sufficient
    # statistics and from the rows (both in log sigma, carried to the interval's logit)
    priors = {"sigma": U(0.1, 5.0), "x": U(-1.0, 2.0), "sd(Intercept|g)": U(0.0, 4.0)}
    *_, rows = _layout("y ~ x + (1 + x | g)", "gaussian", priors, None, centred, False)
    *_, suff = _layout("y ~ x + (1 + x | g)", "gaussian", priors, None, centred, True)
    assert suff.sufficient and not rows.sufficient
    x0 = rows.initial_point(3) + 0.3
    lp_r, g_r = logp_and_grad(rows, x0)
    lp_s, g_s = logp_and_grad(suff, x0)
    assert lp_s == pytest.approx(lp_r, rel=1e-9)
    np.testing.assert_allclose(g_s, g_r, rtol=1e-7, atol=1e-7)


def test_draws_are_mapped_inside_the_bounds():
    # constrain(): every parameter under a Uniform prior is inside its interval, where the
    # prior sits (a fixed effect's value at its prior's site: the intercept at the origin),
    # for sampler coordinates far into either tail; the others as without Uniform priors
    priors = {"Intercept": U(-1500.0, 800.0), "z": U(0.0, 0.2), "sigma": U(0.2, 3.0),
              "sd(z|g)": U(0.0, 0.5)}
    d, fam, pri, lay = _layout("y ~ z + (1 + z | g)", "gaussian", priors, None, True)
    rng = np.random.default_rng(1)
    x = lay.initial_point(1) + rng.normal(0, 8.0, (3, 50, lay.dim))  # (chain, draw, dim)
    x[0, 0, :] = 30.0
    x[0, 1, :] = -30.0
    out = constrain(x.copy(), lay, d)
    st = lay.standardization
    sites = st.at_prior_sites(out["fixed"][1])
    for k, col in enumerate(d.fixed_columns):
        lo, hi = pri[col].values["lower"], pri[col].values["upper"]
        tol = 1e-9 * (hi - lo)
        assert np.all(sites[..., k] >= lo - tol) and np.all(sites[..., k] <= hi + tol), col
    # the value under the prior is the interval transform of its coordinate
    fm = lay.fixed_map
    for k, c in zip(fm.rows, fm.pivots, strict=True):
        lo, hi = pri[d.fixed_columns[k]].values["lower"], pri[d.fixed_columns[k]].values["upper"]
        expected = lo + (hi - lo) / (1.0 + np.exp(-x[..., c]))
        np.testing.assert_allclose(sites[..., k], expected, rtol=1e-9, atol=1e-9 * (hi - lo))
    sigma = out["sigma"][1]
    np.testing.assert_allclose(sigma, 0.2 + 2.8 / (1.0 + np.exp(-x[..., lay.sigma])),
                               rtol=1e-12)
    sd_z = out["sd_at_means(g)"][1][..., 1]  # where the prior sits (the block is centred)
    assert np.all(sd_z >= 0.0) and np.all(sd_z <= 0.5)
    # the start values are inside (the least-squares slope 1/6 and residual sd too)
    for seed in range(5):
        x0 = lay.initial_point(seed)
        assert np.all(np.isfinite(x0)) and np.isfinite(logp_and_grad(lay, x0)[0])


def test_start_values_and_the_other_parameters_are_unchanged():
    # a Uniform prior changes only its own coordinate: the layout without it has the same
    # buffer up to the map and the same start values elsewhere
    d = build_design("y ~ x + w + (1 + x | g)", _data())
    fam = mf.families.gaussian()
    plain = make_layout(d, fam, resolve_priors(d, fam, None), [False])
    assert plain.fixed_map is None and not plain.bounded
    bounded = make_layout(d, fam, resolve_priors(d, fam, {"w": U(-0.3, 0.3)}), [False])
    assert bounded.fixed_map is not None and list(bounded.fixed_map.rows) == [2]
    others = np.setdiff1d(np.arange(plain.dim), bounded.fixed_map.pivots)
    np.testing.assert_array_equal(plain.init_center[others], bounded.init_center[others])


def test_uniform_priors_run_on_the_compiled_backend():
    # backend="auto" no longer falls back to PyMC: a short fit, every draw in its bounds;
    # Days' posterior (mean ~10.5 without the bound) piles up below 9
    df = mf.load_dataset("sleepstudy")
    priors = {"Days": U(0.0, 9.0), "sd(Days|Subject)": U(0.0, 20.0),
              "sigma": U(0.0, 100.0)}
    res = mf.fit("Reaction ~ Days + (Days | Subject)", df, priors=priors, draws=200,
                 tune=300, chains=2, random_seed=3, progressbar=False, warn=False)
    assert res.info["backend"] == "compiled"
    post = res.idata.posterior
    days = post["fixed"].sel({names.FIXED_DIM: "Days"}).values
    assert days.max() <= 9.0 and days.min() >= 0.0
    assert days.mean() > 8.0  # near the bound
    sd_days = post["sd(Subject)"].sel({"term(Subject)": "Days"}).values
    assert sd_days.max() <= 20.0 and sd_days.min() >= 0.0
    assert post["sigma"].values.max() <= 100.0


@pytest.mark.slow
@pytest.mark.parametrize("bounds", [(5.0, 15.0), (0.0, 9.0)])
def test_compiled_and_pymc_backends_agree(bounds):
    # the same posterior by two implementations (4 x 1000 draws each): Uniform(5, 15) on
    # Days (inactive: the posterior of Days is ~10.5 +- 1.7) and Uniform(0, 9) (active:
    # the posterior piles up below 9), with a Uniform prior on sigma and on an sd. Monte
    # Carlo standard errors of a mean are below 0.04 posterior sd here, of an sd below
    # 3%: means within 0.2 sd and sds within 12% are more than 3 standard errors
    df = mf.load_dataset("sleepstudy")
    priors = {"Days": U(*bounds), "sigma": U(0.0, 100.0),
              "sd(Days|Subject)": U(0.0, 30.0)}
    fits = {b: mf.fit("Reaction ~ Days + (Days | Subject)", df, backend=b, priors=priors,
                      random_seed=4, progressbar=False, warn=False)
            for b in ("compiled", "pymc")}
    days = fits["compiled"].idata.posterior["fixed"].sel({names.FIXED_DIM: "Days"}).values
    assert bounds[0] <= days.min() and days.max() <= bounds[1]
    for name in ("fixed", "sd(Subject)", "cor(Subject)", "sigma"):
        a = fits["compiled"].idata.posterior[name]
        b = fits["pymc"].idata.posterior[name]
        sd_b = np.asarray(b.std(("chain", "draw")))
        sd_a = np.asarray(a.std(("chain", "draw")))
        mask = sd_b > 1e-9  # (the diagonal of a correlation matrix)
        diff = np.abs(np.asarray(a.mean(("chain", "draw")) - b.mean(("chain", "draw"))))
        assert np.all(diff[mask] < 0.2 * sd_b[mask]), (name, diff / sd_b)
        assert np.all(np.abs(sd_a[mask] / sd_b[mask] - 1.0) < 0.12), (name, sd_a / sd_b)


@pytest.mark.parametrize("marginal", [False, True])
def test_the_callback_nutpie_calls_is_the_kernel(marginal):
    # nutpie calls the C callback, compiled separately (and cached: mixedfit.fast.cache):
    # with Uniform priors it runs the same density and gradient as the kernel
    import ctypes

    from mixedfit.fast.callbacks import logp_cfunc

    gaussian = mf.families.gaussian()
    d = build_design("y ~ x + (1 + x | g)", _data())
    pri = resolve_priors(d, gaussian, {"Intercept": U(-2.0, 3.0), "sigma": U(0.1, 5.0),
                                       "sd(x|g)": U(0.0, 3.0)})
    lay = make_layout(d, gaussian, pri, [False], marginal=marginal)
    x0 = np.ascontiguousarray(lay.initial_point(4) + 0.2)
    out = np.zeros(lay.dim)
    value = np.zeros(1)
    ptr = ctypes.POINTER(ctypes.c_double)
    rc = logp_cfunc.ctypes(lay.dim, x0.ctypes.data_as(ptr), out.ctypes.data_as(ptr),
                           value.ctypes.data_as(ptr), lay.buffer.ctypes.data_as(ctypes.c_void_p))
    assert rc == 0
    lp, grad = logp_and_grad(lay, x0)
    assert value[0] == lp
    np.testing.assert_array_equal(out, grad)


def test_marginal_draws_of_the_effects_read_the_map():
    # the group effects of a marginal model are drawn after sampling, from the sampler's
    # coordinates: with Uniform priors on a fixed effect, sigma and an sd they are those
    # of the layout without them at the same parameters (the same normal deviates)
    from mixedfit.fast.sampler import draw_effects

    gaussian = mf.families.gaussian()
    d = build_design("y ~ x + (1 + x | g)", _data())
    bounded = make_layout(d, gaussian, resolve_priors(d, gaussian, {
        "x": U(-1.0, 2.0), "sigma": U(0.1, 5.0), "sd(x|g)": U(0.0, 3.0)}), [False],
        marginal=True)
    plain = make_layout(d, gaussian, resolve_priors(d, gaussian, None), [False],
                        marginal=True)
    x = bounded.initial_point(2) + np.random.default_rng(0).normal(0, 0.5, (2, 3, bounded.dim))
    x_plain = x.copy()
    x_plain[..., :bounded.p] = bounded.fixed_internal(x)
    for pos, (lo, hi, factor) in bounded.bounded.items():
        x_plain[..., pos] = np.log((lo + (hi - lo) / (1.0 + np.exp(-x[..., pos]))) / factor)
    np.testing.assert_allclose(draw_effects(x, bounded, 5), draw_effects(x_plain, plain, 5),
                               rtol=1e-9, atol=1e-12)


# ------------------------------------------------------------ an ordinal model's thresholds
# Thresholds under one Uniform prior: the values of their ordered transform are mapped
# into its interval (PyMC's chain of the ordered and interval transforms, whose model
# the density is compared with). Under different Uniform priors, or on some thresholds
# only (which the PyMC backend cannot express), the ordered transform stays and the
# density is zero outside the bounds, as in Stan's (brms') model.

def _ordinal(priors: dict, centred: bool = False, link: str = "logit"):
    from tests.backends.test_compiled import _data as ordinal_data

    fam = mf.families.cumulative(link)
    d = build_design("o ~ x + w + (1 + x | g)", ordinal_data(), family=fam)
    fam = fam.for_levels(d.categories)
    pri = resolve_priors(d, fam, priors)
    assert unsupported_reason(d, fam, pri) is None  # the compiled backend takes it
    return d, fam, pri, make_layout(d, fam, pri, [centred])


def _cuts(lay, fam, x: np.ndarray) -> np.ndarray:
    """The internal thresholds at the sampler's point ``x``, as ``constrain`` gives them
    (before the shift to the user's scale)."""
    pos = lay.family_slots[fam.parameters[0]][0]
    k = len(fam.parameters)
    y = x[pos] + np.concatenate([[0.0], np.cumsum(np.exp(x[pos + 1:pos + k]))])
    if lay.ordered_bounds is None:
        return y
    lo, hi = lay.ordered_bounds
    return lo + (hi - lo) / (1.0 + np.exp(-y))


@pytest.mark.parametrize("link", ["logit", "probit"])
@pytest.mark.parametrize("centred", [False, True])
@pytest.mark.parametrize("bounds", [(-6.0, 6.0), (-1.5, 0.5)])
def test_uniform_thresholds_density_equals_the_pymc_model(link, centred, bounds):
    # narrow bounds too: the jittered points stay inside (the interval transform)
    from tests.backends.test_compiled import assert_density_equals_pymc

    d, fam, pri, lay = _ordinal({"Intercept": U(*bounds)}, centred, link)
    assert lay.ordered_bounds == bounds and not lay.bounded
    names_ = assert_density_equals_pymc(d, fam, pri, lay, centred, jitter=0.5)
    assert "_thresholds_chain__" in names_


@pytest.mark.parametrize("priors", [
    {"Intercept": U(-6.0, 6.0)},
    {"Intercept": U(-1.5, 0.5)},
    # different bounds, and one threshold bounded with the others Normal and Cauchy (the
    # compiled backend only): the ordered transform, zero density outside the bounds
    {"Intercept[1]": U(-4.0, 0.0), "Intercept[2]": U(-2.0, 2.0), "Intercept[3]": U(0.0, 4.0)},
    {"Intercept[2]": U(-1.0, 4.0), "Intercept[3]": Prior("Cauchy", alpha=1, beta=3)},
])
def test_uniform_thresholds_gradient_matches_finite_differences(priors):
    *_, lay = _ordinal(priors)
    assert_gradient_matches(lay, points=2)


def test_uniform_thresholds_stay_inside_their_bounds():
    # one prior: every point of the sampler's space is inside (the interval transform),
    # where constrain puts the draws
    d, fam, pri, lay = _ordinal({"Intercept": U(-1.5, 0.5)})
    x = np.stack([lay.initial_point(s) + np.random.default_rng(s).normal(0, 1, lay.dim)
                  for s in range(50)])
    cuts = np.stack([_cuts(lay, fam, xi) for xi in x])
    assert np.all(cuts > -1.5) and np.all(cuts < 0.5) and np.all(np.diff(cuts, axis=1) > 0)
    assert all(np.isfinite(logp_and_grad(lay, xi)[0]) for xi in x)
    out = constrain(x[None], lay, d)
    internal = np.stack([out[n][1][0] for n in fam.parameters], axis=-1)
    # constrain reports the user's thresholds: the internal ones shifted by the fixed
    # effects at the predictors' means, the same shift for every threshold of a draw
    shift = internal - cuts
    np.testing.assert_allclose(shift, shift[:, :1].repeat(cuts.shape[1], axis=1), atol=1e-9)


def test_different_uniform_priors_on_thresholds_have_zero_density_outside():
    d, fam, pri, lay = _ordinal({"Intercept[1]": U(-2.0, 0.0), "Intercept[2]": U(-1.0, 1.0),
                                 "Intercept[3]": U(0.5, 2.5)})
    assert lay.ordered_bounds is None and not lay.bounded
    pos = lay.family_slots[fam.parameters[0]][0]
    x0 = lay.initial_point(1)
    assert np.all(np.isfinite([logp_and_grad(lay, lay.initial_point(s))[0]
                               for s in range(100)]))  # jittered starts stay inside
    lp0 = logp_and_grad(lay, x0)[0]
    # -2.1 below the first's bounds; -1.4 below the second's; 1.1 above the second's;
    # 2.6 above the third's
    for first, gaps in [(-2.1, (1.5, 2.0)), (-1.5, (0.1, 2.0)), (-0.5, (1.6, 1.0)),
                        (-1.0, (1.0, 2.6))]:
        x = x0.copy()
        x[pos], x[pos + 1:pos + 3] = first, np.log(gaps)
        assert logp_and_grad(lay, x)[0] == -np.inf
    x = x0.copy()
    x[pos], x[pos + 1:pos + 3] = -1.0, np.log([1.0, 1.5])  # -1, 0, 1.5: inside
    lp = logp_and_grad(lay, x)[0]
    assert np.isfinite(lp) and np.isfinite(lp0)


def test_uniform_thresholds_start_inside_narrow_bounds():
    # the response's cumulative logits lie outside these bounds: the start values move
    # inside, ordered, for both kinds of bounds
    for priors in ({"Intercept": U(0.2, 0.9)},
                   {"Intercept[1]": U(0.2, 0.4), "Intercept[2]": U(0.3, 0.6),
                    "Intercept[3]": U(0.5, 0.9)}):
        d, fam, pri, lay = _ordinal(priors)
        for seed in range(100):
            x = lay.initial_point(seed)
            cuts = _cuts(lay, fam, x)
            assert np.all(cuts > 0.2) and np.all(cuts < 0.9) and np.all(np.diff(cuts) > 0)
            assert np.isfinite(logp_and_grad(lay, x)[0])


def test_uniform_thresholds_run_on_the_compiled_backend():
    wine = mf.load_dataset("wine")
    res = mf.fit("rating ~ temp + (1 | judge)", wine, family="cumulative",
                 priors={"Intercept": U(-10.0, 10.0)}, draws=200, tune=300, chains=2,
                 random_seed=2, progressbar=False, warn=False)
    assert res.info["backend"] == "compiled"
    cuts = np.stack([res.idata.posterior[n].values for n in res.family.parameters], -1)
    assert np.all(np.diff(cuts, axis=-1) > 0)


@pytest.mark.slow
def test_uniform_thresholds_compiled_and_pymc_backends_agree():
    # the same posterior by two implementations (4 x 1000 draws each), wine's ratings
    # with Uniform(-2, 2) on every threshold: at the predictors' means, where the prior
    # sits, the outer thresholds are about -3.6 and 3.2 without it, so the bound moves
    # every threshold and halves their sds. Monte Carlo standard errors of a mean are below 0.04
    # posterior sd here, of an sd below 3%: means within 0.2 sd and sds within 12% are
    # more than 3 standard errors
    wine = mf.load_dataset("wine")
    fits = {b: mf.fit("rating ~ temp + (1 | judge)", wine, family="cumulative",
                      priors={"Intercept": U(-2.0, 2.0)}, backend=b, random_seed=5,
                      progressbar=False, warn=False)
            for b in ("compiled", "pymc")}
    for name in [*fits["compiled"].family.parameters, "fixed", "sd(judge)"]:
        a = np.asarray(fits["compiled"].idata.posterior[name]).reshape(4000, -1)
        b = np.asarray(fits["pymc"].idata.posterior[name]).reshape(4000, -1)
        assert np.all(np.abs(a.mean(0) - b.mean(0)) < 0.2 * b.std(0)), (name, a.mean(0),
                                                                       b.mean(0))
        assert np.all(np.abs(a.std(0) / b.std(0) - 1.0) < 0.12), (name, a.std(0), b.std(0))
