"""Rotated pairs of nested effects: an outer level holding a single level of a factor
nested in it (``mixedfit.design.nesting.singleton_nesting``), whose two standard
normal effects the compiled kernel samples rotated.

A rotation changes nothing but the coordinates, so the references are exact: the
density at ``(w, v)`` equals the plain kernel's (itself checked against the PyMC model
in ``test_compiled.py``) at the rotated point, to rounding; the gradient equals finite
differences of that density (central differences, step 1e-6: 1e-6 relative); and a fit
agrees with a fit of the plain parameterisation within Monte Carlo error.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import mixedfit as mf
import mixedfit.plan as plan_module
from mixedfit.design import build_design
from mixedfit.design.nesting import singleton_nesting
from mixedfit.fast.layout import make_layout
from mixedfit.fast.sampler import constrain, logp_and_grad, unrotate
from mixedfit.priors import Prior
from mixedfit.spec import make_spec

GROUSE = "TICKS ~ C(YEAR) + scale(HEIGHT) + (1 | BROOD) + (1 | LOCATION)"


def _nested_frame() -> pd.DataFrame:
    # 8 schools: 3 with one class (the pairs), 5 with three; 4 rows a class
    rng = np.random.default_rng(3)
    classes = [1, 3, 1, 3, 3, 1, 3, 3]
    school = np.repeat(np.arange(8), [4 * c for c in classes])
    klass = np.repeat(np.arange(sum(classes)), 4)
    x = rng.normal(size=school.size)
    mu = 1.0 + 0.5 * x + rng.normal(0, 0.6, 8)[school] + rng.normal(0, 0.4, klass.max() + 1)[klass]
    return pd.DataFrame({"y": mu + rng.normal(0, 0.5, school.size), "x": x,
                         "k": rng.poisson(np.exp(mu / 2)), "school": school.astype(str),
                         "klass": klass.astype(str)})


def test_singleton_nesting_finds_the_outer_levels_with_one_inner_level():
    d = build_design("y ~ x + (1 | klass) + (1 | school)", _nested_frame())
    (pair,) = singleton_nesting(d, [False, False])
    assert (pair.inner, pair.outer) == (0, 1)
    schools = [d.blocks[1].levels[i] for i in pair.outer_levels]
    assert schools == ["0", "2", "5"]
    for a, b in zip(pair.inner_levels, pair.outer_levels, strict=True):  # the same rows
        np.testing.assert_array_equal(d.blocks[0].index == a, d.blocks[1].index == b)
    assert singleton_nesting(d, [True, False]) == []  # a centred block: no rotation
    assert singleton_nesting(d, [False, True]) == []
    crossed = build_design("y ~ x + (1 | klass) + (1 | school) + (0 + x | school)",
                           _nested_frame())
    assert [(p.inner, p.outer) for p in singleton_nesting(crossed, [False] * 3)] == [(0, 1)]
    slope = build_design("y ~ x + (1 | klass) + (0 + x | school)", _nested_frame())
    assert singleton_nesting(slope, [False, False]) == []  # not an intercept


@pytest.mark.parametrize("family, formula", [
    ("negativebinomial", GROUSE),
    ("poisson", "k ~ x + (1 | klass) + (1 | school)"),
    ("gaussian", "y ~ x + (1 | klass) + (1 | school)"),
])
def test_the_rotated_density_is_the_plain_one_and_its_gradient_exact(family, formula):
    data = mf.load_dataset("grouseticks") if family == "negativebinomial" else _nested_frame()
    spec = make_spec(formula, data, family=family)
    centred = [False] * len(spec.design.blocks)
    plain = make_layout(spec.design, spec.family, spec.priors, centred)
    rot = make_layout(spec.design, spec.family, spec.priors, centred, rotate=True)
    assert rot.rotated is not None and plain.rotated is None
    rng = np.random.default_rng(5)
    for trial in range(3):
        x = rot.initial_point(trial) + rng.normal(0.0, 0.7, rot.dim)
        value, grad = logp_and_grad(rot, x)
        z = unrotate(x[None, None, :].copy(), rot.rotated)[0, 0]
        assert value == pytest.approx(logp_and_grad(plain, z)[0], rel=1e-13, abs=1e-10)
        fd = np.array([(logp_and_grad(rot, x + e)[0] - logp_and_grad(rot, x - e)[0]) / 2e-6
                       for e in np.eye(rot.dim) * 1e-6])
        np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-6 * np.abs(grad).max())


def test_a_uniform_prior_on_an_sd_leaves_its_pairs_plain():
    data = _nested_frame()
    spec = make_spec("k ~ x + (1 | klass) + (1 | school)", data, family="poisson",
                     priors={"sd(Intercept|school)": Prior("Uniform", lower=0, upper=3)})
    rot = make_layout(spec.design, spec.family, spec.priors, [False, False], rotate=True)
    assert rot.rotated is None
    plan = mf.plan.make_plan(spec, centered=False, progressbar=False)
    assert not plan.rotated


def test_the_reported_effects_are_the_rotated_ones():
    spec = make_spec(GROUSE, mf.load_dataset("grouseticks"), family="negativebinomial")
    rot = make_layout(spec.design, spec.family, spec.priors, [False, False], rotate=True)
    x = np.stack([rot.initial_point(s) + 0.3 for s in range(6)]).reshape(2, 3, rot.dim)
    out = constrain(x, rot, spec.design)
    z = unrotate(x.copy(), rot.rotated)
    inner, outer = rot.blocks
    np.testing.assert_allclose(out["z(BROOD)"][1][..., 0],
                               z[..., inner.effects:inner.effects + inner.m])
    np.testing.assert_allclose(out["z(LOCATION)"][1][..., 0],
                               z[..., outer.effects:outer.effects + outer.m])


@pytest.fixture(scope="module")
def grouse_fits():
    df = mf.load_dataset("grouseticks")
    rotated = mf.fit(GROUSE, df, family="negativebinomial", random_seed=11, warn=False,
                     progressbar=False)
    original = plan_module.singleton_nesting
    plan_module.singleton_nesting = lambda design, centering: []
    try:
        plain = mf.fit(GROUSE, df, family="negativebinomial", random_seed=11, warn=False,
                       progressbar=False)
    finally:
        plan_module.singleton_nesting = original
    return rotated, plain


def test_a_rotated_fit_agrees_with_a_plain_one(grouse_fits):
    rotated, plain = grouse_fits
    assert rotated.plan.rotated and not plain.plan.rotated
    assert rotated.info["rotated"] is True
    assert "the pair is sampled as its sum and its split" in str(rotated.summary())
    assert "its split" not in str(plain.summary())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a, b = rotated.variance_components, plain.variance_components
        fa, fb = rotated.fixed_effects, plain.fixed_effects
    # within 4 Monte Carlo standard errors (sd / sqrt(bulk ESS)) of each other
    for ta, tb in ((a, b), (fa, fb)):
        se = np.sqrt((ta["sd"] ** 2 / ta["ess_bulk"] + tb["sd"] ** 2 / tb["ess_bulk"]
                      ).astype(float))
        assert np.all(np.abs((ta["mean"] - tb["mean"]).astype(float)) <= 4 * se)


def test_the_same_seed_gives_the_same_draws(grouse_fits):
    # the kernel's sums must not depend on where its arrays lie in memory: with the
    # one-term blocks' prior sums reordered (fast-math), a second fit in the same
    # process gave other draws
    rotated, _ = grouse_fits
    again = mf.fit(GROUSE, mf.load_dataset("grouseticks"), family="negativebinomial",
                   random_seed=11, warn=False, progressbar=False)
    for name in ("fixed", "sd(LOCATION)", "z(LOCATION)"):
        np.testing.assert_array_equal(again.idata.posterior[name].values,
                                      rotated.idata.posterior[name].values)
