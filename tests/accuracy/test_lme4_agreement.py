"""Agreement with lme4 on its standard data sets.

Reference values: ``tests/reference/lme4_reference.json``, produced by
``tests/reference/lme4_reference.R`` (R 4.2.2, lme4 1.1.31, REML fits).

Tolerances, and why:

* Fixed effects: |posterior mean - lme4 estimate| <= 0.2 posterior sd. On these
  balanced designs the REML fixed-effect estimate equals the generalised
  least-squares estimate, which the posterior mean matches up to the prior's pull
  (negligible: default priors are 2.5 response sds wide and centred on the data)
  and Monte Carlo error (about sd / sqrt(ESS) = 0.02 sd with 4 x 1000 draws).
* Variance components and correlations: lme4's REML estimate lies inside the
  94% posterior interval. The posterior of a variance component is skewed and,
  with few groups (6 batches in dyestuff, 10 in pastes), wide; the REML point
  estimate is not the posterior mean, so an interval check is the fair one.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import mixedfit as mf
from tests.conftest import LONG, cached_fit

REF = json.loads((Path(__file__).parents[1] / "reference" / "lme4_reference.json").read_text())
MODELS = REF["models"]

CASES = {
    "sleepstudy_corr": ("Reaction ~ Days + (Days | Subject)", "sleepstudy"),
    "sleepstudy_uncorr": ("Reaction ~ Days + (Days || Subject)", "sleepstudy"),
    "dyestuff": ("Yield ~ 1 + (1 | Batch)", "dyestuff"),
    "penicillin": ("diameter ~ 1 + (1 | plate) + (1 | sample)", "penicillin"),
    "pastes": ("strength ~ 1 + (1 | batch/cask)", "pastes"),
}

# lme4 names a nested factor inner:outer; ours follows the formula (outer:inner).
GROUP_NAMES = {"cask:batch": "batch:cask"}


def _name(term: str) -> str:
    return "Intercept" if term == "(Intercept)" else term


def _group(name: str) -> str:
    base = name.split(".")[0] if name.endswith(".1") else name
    return GROUP_NAMES.get(base, base)


@pytest.fixture(scope="module", params=list(CASES))
def case(request):
    key = request.param
    formula, dataset = CASES[key]
    res = cached_fit(formula, mf.load_dataset(dataset), key=key, **LONG)
    return key, res


def test_formula_matches_reference(case):
    key, res = case
    assert MODELS[key]["nobs"] == res.n_obs


def test_fixed_effects_within_0_2_posterior_sd(case):
    key, res = case
    fe = res.fixed_effects
    for term, ref in MODELS[key]["fixed"].items():
        row = fe.loc[_name(term)]
        assert abs(row["mean"] - ref["estimate"]) <= 0.2 * row["sd"], (
            f"{key} {term}: posterior mean {row['mean']:.4f} vs lme4 {ref['estimate']:.4f} "
            f"(posterior sd {row['sd']:.4f})"
        )


def test_variance_components_inside_94_interval(case):
    key, res = case
    vc = res.variance_components
    assert vc.attrs["interval"] == pytest.approx(0.94)
    checked = 0
    for comp in MODELS[key]["random"]:
        if comp["group"] == "Residual":
            idx = ("Residual", "sd")
        elif comp["var2"] is None:
            idx = (_group(comp["group"]), f"sd({_name(comp['var1'])})")
        else:
            idx = (_group(comp["group"]),
                   f"cor({_name(comp['var1'])},{_name(comp['var2'])})")
        row = vc.loc[idx]
        assert row["lower"] <= comp["sdcor"] <= row["upper"], (
            f"{key} {idx}: lme4 {comp['sdcor']:.4f} outside [{row['lower']:.4f}, "
            f"{row['upper']:.4f}]"
        )
        checked += 1
    assert checked == len(MODELS[key]["random"])


def test_group_levels_match_lme4(case):
    key, res = case
    for group, n in MODELS[key]["ngrps"].items():
        assert len(res.random_effects[_group(group)]) == n


def test_sleepstudy_no_pooling_equals_lmlist():
    """The no-pooling column of the shrinkage table is each subject's own OLS fit."""
    formula, dataset = CASES["sleepstudy_corr"]
    res = cached_fit(formula, mf.load_dataset(dataset), key="sleepstudy_corr", **LONG)
    shrink = res.shrinkage.loc["Subject"]
    for level, ref in MODELS["sleepstudy_corr"]["lmlist"].items():
        assert shrink.loc[(level, "Intercept"), "no_pooling"] == pytest.approx(
            ref["intercept"], rel=1e-9)
        assert shrink.loc[(level, "Days"), "no_pooling"] == pytest.approx(ref["slope"], rel=1e-9)


def test_sleepstudy_conditional_modes_close_to_lme4():
    """Group coefficients: posterior means within 0.5 posterior sd of lme4's coef().

    lme4's conditional modes are computed at the REML variance estimates, the
    posterior means average over the variance uncertainty, so the two differ by
    more than Monte Carlo error; 0.5 sd is a generous bound that still catches a
    mislabelled level or term.
    """
    formula, dataset = CASES["sleepstudy_corr"]
    res = cached_fit(formula, mf.load_dataset(dataset), key="sleepstudy_corr", **LONG)
    coef = res.coefficients["Subject"]
    for level, terms in MODELS["sleepstudy_corr"]["coef"]["Subject"].items():
        for term, value in terms.items():
            cell = coef.loc[level, _name(term)]
            assert abs(cell["mean"] - value) <= 0.5 * cell["sd"], (level, term)
