"""Reflected groups of nested effects: per level of an outer factor, its standard normal
effect and those of the levels of a factor nested in it
(``mixedfit.design.nesting.nested_groups``), which the compiled kernel samples
reflected, one coordinate along the direction the data do not see.

A reflection changes nothing but the coordinates, so the references are exact: the
density at the sampler's point equals the plain kernel's (itself checked against the
PyMC model in ``test_compiled.py``) at the reflected point, to rounding; the map is
orthogonal (it keeps the standard normal prior) and sends ``x_0`` along ``(sd_b, -sd_l,
..., -sd_l)``; the gradient equals finite differences of that density (central
differences, step 1e-6: 1e-6 relative); and a fit agrees with a fit of the plain
parameterisation within Monte Carlo error.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mixedfit as mf
import mixedfit.plan as plan_module
from mixedfit.design import build_design
from mixedfit.design.nesting import nested_groups
from mixedfit.fast.layout import make_layout
from mixedfit.fast.sampler import constrain, logp_and_grad, unreflect
from mixedfit.priors import Prior
from mixedfit.spec import make_spec
from tests.backends import assert_fits_agree

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


def test_nested_groups_hold_each_outer_level_with_its_inner_levels():
    d = build_design("y ~ x + (1 | klass) + (1 | school)", _nested_frame())
    (grp,) = nested_groups(d, [False, False])
    assert (grp.inner, grp.outer) == (0, 1)
    np.testing.assert_array_equal(grp.outer_levels, np.arange(8))
    assert [grp.members(g).size for g in range(8)] == [1, 3, 1, 3, 3, 1, 3, 3]
    inner, outer = d.blocks
    for g, level in enumerate(grp.outer_levels):  # the same rows
        rows = np.isin(inner.index, grp.members(g))
        np.testing.assert_array_equal(rows, outer.index == level)
    assert nested_groups(d, [True, False]) == []  # a centred block: no reflection
    assert nested_groups(d, [False, True]) == []
    crossed = build_design("y ~ x + (1 | klass) + (1 | school) + (0 + x | school)",
                           _nested_frame())
    assert [(p.inner, p.outer) for p in nested_groups(crossed, [False] * 3)] == [(0, 1)]
    slope = build_design("y ~ x + (1 | klass) + (0 + x | school)", _nested_frame())
    assert nested_groups(slope, [False, False]) == []  # not an intercept


@pytest.mark.parametrize("k", [1, 2, 5])
@pytest.mark.parametrize("sds", [
    (0.3, -1.2, 0, 0), (-2.0, 1.5, 0, 0), (0.0, 0.0, 0, 0),  # log sds
    (0.7, -0.4, 1, 1), (-1.3, 0.2, 1, 1), (0.5, 1.0, 1, 0), (-0.8, -2.0, 0, 1),  # signed
])
def test_the_reflection_is_orthogonal_and_sends_x0_where_the_data_do_not_look(k, sds):
    # one group: positions 0, 1 the sds (inner b, outer l: a log sd, or a signed one
    # where its flag is 1), 2 the outer effect, 3.. the inner ones; the map from x to z,
    # read off column by column
    value_b, value_l, signed_b, signed_l = sds
    groups = np.array([1, 0, 1, signed_b, signed_l, 2, k, *range(3, 3 + k)], dtype=float)
    base = np.zeros(3 + k)
    base[:2] = value_b, value_l
    H = np.column_stack([unreflect((base + np.eye(3 + k)[j])[None], groups)[0, 2:]
                         - unreflect(base[None].copy(), groups)[0, 2:]
                         for j in range(2, 3 + k)])
    np.testing.assert_allclose(H @ H.T, np.eye(k + 1), atol=1e-14)
    np.testing.assert_allclose(H, H.T, atol=1e-15)
    sd_b = value_b if signed_b else np.exp(value_b)
    sd_l = value_l if signed_l else np.exp(value_l)
    null = np.r_[sd_b, -sd_l * np.ones(k)]
    np.testing.assert_allclose(H[:, 0], null / np.linalg.norm(null), atol=1e-14)
    for i in range(k):  # the data's sums sd_l z_l + sd_b z_b,i do not move with x_0
        a = np.zeros(k + 1)
        a[0], a[1 + i] = sd_l, sd_b
        assert abs(a @ H[:, 0]) < 1e-14


@pytest.mark.parametrize("family, formula", [
    ("negativebinomial", GROUSE),
    ("poisson", "k ~ x + (1 | klass) + (1 | school)"),
    ("gaussian", "y ~ x + (1 | klass) + (1 | school)"),
])
@pytest.mark.parametrize("signed", [False, True])
def test_the_reflected_density_is_the_plain_one_and_its_gradient_exact(family, formula,
                                                                        signed):
    data = mf.load_dataset("grouseticks") if family == "negativebinomial" else _nested_frame()
    spec = make_spec(formula, data, family=family)
    centred = [False] * len(spec.design.blocks)
    plain = make_layout(spec.design, spec.family, spec.priors, centred, signed=signed)
    rot = make_layout(spec.design, spec.family, spec.priors, centred, reflect=True,
                      signed=signed)
    assert rot.reflected is not None and plain.reflected is None
    assert [s.signed for s in rot.blocks] == [signed, signed]
    rng = np.random.default_rng(5)
    for trial in range(3):
        x = rot.initial_point(trial) + rng.normal(0.0, 0.7, rot.dim)
        if signed:  # sds of either sign, one of them near zero
            x[[b.sd for b in rot.blocks]] = [(-1) ** trial * 0.8, 0.05 - 0.4 * trial]
        value, grad = logp_and_grad(rot, x)
        z = unreflect(x[None, None, :].copy(), rot.reflected)[0, 0]
        assert value == pytest.approx(logp_and_grad(plain, z)[0], rel=1e-13, abs=1e-10)
        fd = np.array([(logp_and_grad(rot, x + e)[0] - logp_and_grad(rot, x - e)[0]) / 2e-6
                       for e in np.eye(rot.dim) * 1e-6])
        np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-6 * np.abs(grad).max())


def test_a_uniform_prior_on_an_sd_leaves_its_groups_plain():
    data = _nested_frame()
    spec = make_spec("k ~ x + (1 | klass) + (1 | school)", data, family="poisson",
                     priors={"sd(Intercept|school)": Prior("Uniform", lower=0, upper=3)})
    rot = make_layout(spec.design, spec.family, spec.priors, [False, False], reflect=True)
    assert rot.reflected is None
    plan = mf.plan.make_plan(spec, centered=False, progressbar=False)
    assert not plan.reflected


@pytest.mark.parametrize("signed", [False, True])
def test_the_reported_effects_are_the_reflected_ones(signed):
    spec = make_spec(GROUSE, mf.load_dataset("grouseticks"), family="negativebinomial")
    rot = make_layout(spec.design, spec.family, spec.priors, [False, False], reflect=True,
                      signed=signed)
    x = np.stack([rot.initial_point(s) + 0.3 for s in range(6)]).reshape(2, 3, rot.dim)
    inner, outer = rot.blocks
    if signed:  # negative signed sds in some draws: the reported z carry their sign
        x[0, :, outer.sd] *= -1.0
        x[1, 1, inner.sd] *= -1.0
    out = constrain(x, rot, spec.design)
    z = unreflect(x.copy(), rot.reflected)
    for block, name in ((inner, "BROOD"), (outer, "LOCATION")):
        sign = np.sign(x[..., block.sd])[..., None] if signed else 1.0
        np.testing.assert_allclose(out[f"z({name})"][1][..., 0],
                                   sign * z[..., block.effects:block.effects + block.m])
        # the sds: |s| (or exp of the log) in internal units, one factor to the user's
        sd = np.abs(x[..., block.sd]) if signed else np.exp(x[..., block.sd])
        ratio = out[f"sd({name})"][1][..., 0] / sd
        assert ratio.min() > 0
        np.testing.assert_allclose(ratio, ratio.flat[0], rtol=1e-12)


@pytest.fixture(scope="module")
def grouse_fits():
    df = mf.load_dataset("grouseticks")
    reflected = mf.fit(GROUSE, df, family="negativebinomial", random_seed=11, warn=False,
                       progressbar=False)
    with pytest.MonkeyPatch.context() as mp:  # no group reflected
        mp.setattr(plan_module, "nested_groups", lambda design, centering: [])
        plain = mf.fit(GROUSE, df, family="negativebinomial", random_seed=11, warn=False,
                       progressbar=False)
    return reflected, plain


def test_a_reflected_fit_agrees_with_a_plain_one(grouse_fits):
    reflected, plain = grouse_fits
    assert reflected.plan.reflected and not plain.plan.reflected
    assert reflected.info["reflected"] is True
    assert "nested effects sampled reflected" in str(reflected.summary())
    assert "reflected" not in str(plain.summary())
    assert_fits_agree(reflected, plain)


def test_the_same_seed_gives_the_same_draws(grouse_fits):
    # the kernel's sums must not depend on where its arrays lie in memory: with the
    # one-term blocks' prior sums reordered (fast-math), a second fit in the same
    # process gave other draws
    reflected, _ = grouse_fits
    again = mf.fit(GROUSE, mf.load_dataset("grouseticks"), family="negativebinomial",
                   random_seed=11, warn=False, progressbar=False)
    for name in ("fixed", "sd(LOCATION)", "z(LOCATION)"):
        np.testing.assert_array_equal(again.idata.posterior[name].values,
                                      reflected.idata.posterior[name].values)
