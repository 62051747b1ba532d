"""Runs of rows and folded columns: how the compiled kernel reads the rows.

:func:`mixedfit.fast.layout.row_order` sorts the buffer's rows by the levels of the
blocks, and a block whose levels then form runs of at least ``RUN_MIN`` rows on average
gets their bounds (``B_RUNS``): its effects are added to slices of rows and its gradient
summed over them. :func:`mixedfit.fast.layout.folded_columns` finds the fixed columns
constant within the levels of a block with an intercept (the intercept, group-level
predictors: ``B_FOLD``), which the row pass adds level by level; when the QR step of
:mod:`mixedfit.standardize` mixes them, the rows hold the columns before it and its
``T`` (``H_XMAP``).

The likelihood is a sum over the rows and ``X* beta = S (T beta)``, so the references
are exact: the density and gradient equal those of the plain reading (the user's order
row by row, ``X*``, nothing folded: ``RUN_MIN`` too large for any block and
``folded_columns`` finding nothing), to rounding (1e-12 relative: sums over 240 rows
added in another order), and the density equals the PyMC model's (written
independently) up to a constant.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mixedfit as mf
from mixedfit.design import build_design
from mixedfit.fast import buffer as B
from mixedfit.fast import layout as layout_module
from mixedfit.fast.layout import make_layout, row_order
from mixedfit.fast.sampler import logp_and_grad
from mixedfit.priors import resolve_priors

from .test_compiled import assert_density_equals_pymc


def _frame(seed: int = 0) -> pd.DataFrame:
    """240 rows in a shuffled order: 12 classes (20 rows each) nested in 4 schools,
    crossed with 5 raters; predictors at the row, class and school level."""
    rng = np.random.default_rng(seed)
    klass = np.repeat(np.arange(12), 20)
    school = klass // 3
    rater = rng.integers(0, 5, klass.size)
    x = rng.normal(size=klass.size)
    w = rng.normal(size=klass.size)
    eta = (0.2 + 0.5 * x + rng.normal(0, 0.5, 12)[klass] + rng.normal(0, 0.3, 4)[school]
           + rng.normal(0, 0.3, 5)[rater])
    df = pd.DataFrame({
        "y": eta + rng.normal(0, 0.6, klass.size), "x": x, "w": w,
        "k": rng.poisson(np.exp(eta)), "b": rng.binomial(1, 1 / (1 + np.exp(-eta))),
        "s": rng.binomial(6, 1 / (1 + np.exp(-eta))), "t": np.full(klass.size, 6),
        "pos": rng.gamma(4.0, np.exp(0.5 * eta) / 4.0), "e": rng.uniform(0.5, 2.0, klass.size),
        # predictors at the class, school and rater level
        "cx": rng.normal(size=12)[klass], "sx": rng.normal(size=4)[school] + 3.0,
        "rx": rng.normal(size=5)[rater], "klass": [f"c{i}" for i in klass],
        "school": [f"s{i}" for i in school], "rater": [f"r{i}" for i in rater]})
    return df.iloc[rng.permutation(len(df))].reset_index(drop=True)


CASES = [
    ("y ~ x + (1 + x | klass) + (1 | rater)", "gaussian", None),
    ("y ~ x + cx + sx + (1 | klass) + (1 | school)", "gaussian", None),
    ("b ~ x + cx + rx + (1 | klass) + (1 | rater)", "bernoulli", None),
    ("y ~ x + w + (1 + x + w | klass)", "gaussian", None),
    ("b ~ x + cx + (1 + x | klass) + (1 | school)", "bernoulli", None),
    ("cbind(s, t - s) ~ x + (1 | klass) + (1 | school) + (1 | rater)", "binomial", None),
    ("k ~ x + offset(log(e)) + (1 | klass) + (0 + x | school)", "poisson", None),
    ("k ~ x + (1 | school/klass)", "negativebinomial", None),
    ("pos ~ x + (1 + x || klass)", "gamma/log", None),
    ("k ~ x + (1 | klass)", "negativebinomial", {"alpha": "~ x + (1 | school)"}),
]


def _layouts(formula: str, family: str, dpars: dict | None, centred: bool, monkeypatch,
             weights: str | None = "e"):
    """The layout with runs and folds, and the plain one (see the module docstring);
    weights ``e`` (a Gaussian's precision weights are folded into its rows: nothing is
    constant within levels) but for the Poisson."""
    name, _, link = family.partition("/")
    fam = mf.families.get_family(name, link=link or None)
    d = build_design(formula, _frame(), family=fam, weights=weights if name != "poisson" else None,
                     dpars=dpars)
    pri = resolve_priors(d, fam, None)
    cen = [centred] * len(d.blocks)
    runs = make_layout(d, fam, pri, cen, sufficient=False)
    with monkeypatch.context() as m:
        m.setattr(layout_module, "RUN_MIN", 10**9)
        m.setattr(layout_module, "folded_columns", lambda *a: {})
        plain = make_layout(d, fam, pri, cen, sufficient=False)
    return d, fam, pri, runs, plain


def _part(lay, k: int, slot: int) -> np.ndarray | None:
    """Block k's runs (``B_RUNS``) or folded columns (``B_FOLD``), or None."""
    buf = lay.buffer
    at = int(buf[int(buf[B.H_BLOCKS]) + B.BLOCK_WIDTH * k + slot])
    if at < 0:
        return None
    if slot == B.B_RUNS:
        return buf[at:at + 2 + 2 * int(buf[at])]
    return buf[at + 1:at + 1 + int(buf[at])].astype(int)  # the columns


def _runs_of(lay) -> list[np.ndarray | None]:
    buf = lay.buffer
    out = []
    for k in range(int(buf[B.H_NBLOCKS])):
        at = int(buf[int(buf[B.H_BLOCKS]) + B.BLOCK_WIDTH * k + B.B_RUNS])
        out.append(None if at < 0 else buf[at:at + 2 + 2 * int(buf[at])])
    return out


@pytest.mark.parametrize("centred", [False, True])
@pytest.mark.parametrize(("formula", "family", "dpars"), CASES)
def test_runs_give_the_density_of_the_rows_in_their_own_order(formula, family, dpars,
                                                              centred, monkeypatch):
    d, fam, pri, runs, plain = _layouts(formula, family, dpars, centred, monkeypatch)
    assert any(r is not None for r in _runs_of(runs))  # the case reads some block by runs
    assert all(r is None for r in _runs_of(plain))
    rng = np.random.default_rng(1)
    for _ in range(3):
        x0 = runs.initial_point(int(rng.integers(1000))) + rng.normal(0, 0.3, runs.dim)
        lp_r, g_r = logp_and_grad(runs, x0)
        lp_p, g_p = logp_and_grad(plain, x0)
        assert lp_r == pytest.approx(lp_p, rel=1e-12)
        np.testing.assert_allclose(g_r, g_p, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize(("formula", "family", "dpars"), [CASES[1], CASES[2], CASES[5]])
def test_runs_density_equals_the_pymc_model(formula, family, dpars, monkeypatch):
    d, fam, pri, runs, _ = _layouts(formula, family, dpars, True, monkeypatch)
    assert_density_equals_pymc(d, fam, pri, runs, True)


def test_row_order_sorts_by_the_block_with_most_terms_then_the_others():
    d = build_design("y ~ x + (1 | rater) + (1 + x | klass) + (1 | school)", _frame())
    rater, klass, school = (np.asarray(b.index) for b in d.blocks)
    order = row_order(d.blocks, d.n_obs)
    # klass first (two terms), then school (nested in klass: no split of its own), then
    # rater
    np.testing.assert_array_equal(order, np.lexsort((rater, school, klass)))
    # a block whose levels average fewer than RUN_MIN rows is not a key; none: no order
    obs = build_design("y ~ x + (1 | obs)", _frame().assign(obs=lambda f: f.index.astype(str)))
    assert row_order(obs.blocks, obs.n_obs) is None


def test_runs_are_stored_for_the_blocks_whose_levels_form_them():
    d = build_design("y ~ x + (1 | rater) + (1 | school/klass)", _frame())
    fam = mf.families.get_family("gaussian")
    lay = make_layout(d, fam, resolve_priors(d, fam, None), [False] * 3, sufficient=False)
    order = row_order(d.blocks, d.n_obs)
    found = dict(zip((b.label for b in d.blocks), _runs_of(lay), strict=True))
    # school has the fewest levels of the one-term blocks: the first key; its classes
    # (nested: they split the rows into 12 groups, the raters into 20) the second, in
    # runs of 20; raters within a class are mixed
    assert found["rater"] is None
    for label, runs in [("school", found["school"]), ("school:klass", found["school:klass"])]:
        assert runs is not None, label
        index = np.asarray(d.blocks[[b.label for b in d.blocks].index(label)].index)[order]
        r = int(runs[0])
        starts, levels = runs[1:r + 2].astype(int), runs[r + 2:].astype(int)
        assert starts[0] == 0 and starts[-1] == d.n_obs
        for a, e, g in zip(starts[:-1], starts[1:], levels, strict=True):
            assert (index[a:e] == g).all()
        assert len(set(levels)) == r  # each level in one run


def test_group_level_columns_are_folded_into_the_block_with_fewest_levels(monkeypatch):
    # the intercept and sx (constant within schools) go to school (4 levels), cx to klass
    # (12), rx to rater (5); x varies within every level. The QR step mixes cx, sx and rx
    # with one another in X*: the rows hold the columns before it and T.
    d, fam, pri, runs, plain = _layouts(
        "y ~ x + cx + sx + rx + (1 | klass) + (1 | school) + (1 | rater)", "gaussian", None,
        False, monkeypatch, weights=None)
    cols = d.fixed_columns
    found = {b.label: _part(runs, k, B.B_FOLD) for k, b in enumerate(d.blocks)}
    assert {lab: sorted(cols[j] for j in (v if v is not None else []))
            for lab, v in found.items()} == {"klass": ["cx"], "school": ["Intercept", "sx"],
                                            "rater": ["rx"]}
    assert runs.buffer[B.H_XMAP] >= 0
    flags = runs.buffer[int(runs.buffer[B.H_FOLDED]):][:len(cols)]
    assert [cols[j] for j in np.flatnonzero(flags == 0)] == ["x"]
    x0 = runs.initial_point(4) + np.random.default_rng(4).normal(0, 0.3, runs.dim)
    lp_r, g_r = logp_and_grad(runs, x0)
    lp_p, g_p = logp_and_grad(plain, x0)
    assert lp_r == pytest.approx(lp_p, rel=1e-12)
    np.testing.assert_allclose(g_r, g_p, rtol=1e-10, atol=1e-10)
    # a block without an intercept hosts nothing; a family parameter's formula: no folds
    slope = _layouts("y ~ x + cx + (0 + x | klass)", "gaussian", None, False, monkeypatch)[3]
    assert slope.buffer[B.H_FOLDED] < 0 and _part(slope, 0, B.B_FOLD) is None
    dpar = _layouts("k ~ x + cx + (1 | klass)", "negativebinomial", {"alpha": "~ x"}, False,
                    monkeypatch)[3]
    assert dpar.buffer[B.H_FOLDED] < 0
