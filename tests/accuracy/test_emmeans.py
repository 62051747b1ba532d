"""Estimated marginal means, contrasts and slopes against emmeans on lme4 fits.

Reference values: ``tests/reference/emmeans_reference.json``, written by
``tests/reference/emmeans_reference.R`` (emmeans 1.8.4-1 on lme4 1.1.31; see the README
there).

Tolerance: each posterior mean within 0.3 posterior sd of emmeans' estimate (the issue's
criterion). emmeans reports the ML/REML fit's linear combinations; the posterior mean
of the same combination differs from it by the difference between the posterior mean
and the (RE)ML estimate of the fixed effects (below 0.1 sd for these models; the logit
model's intercept is the farthest, see ``test_glmm.py``) plus Monte Carlo error (about
0.02 sd at 4 x 1000 draws). On the response scale emmeans gives ``plogis``/``exp`` of
the link-scale estimate, the posterior gives the mean of the transformed draws, which
adds the transform's skew (under 0.1 sd here). Labels are checked exactly.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import mixedfit as mf
from tests.conftest import LONG, cached_fit

REF = json.loads((Path(__file__).parents[1] / "reference" / "emmeans_reference.json")
                 .read_text())["models"]
TOL_SD = 0.3


def _cbpp():
    return cached_fit("cbind(incidence, size - incidence) ~ period + (1 | herd)",
                      mf.load_dataset("cbpp"), key="cbpp", family="binomial", **LONG)


def _sleep_cohort():
    data = mf.load_dataset("sleepstudy")
    data["cohort"] = np.where(data["Subject"].astype(int) % 2 == 0, "even", "odd")
    return cached_fit("Reaction ~ Days * cohort + (Days | Subject)", data,
                      key="sleep-cohort", **LONG)


def _close(table, rows, keys, *, label="contrast") -> None:
    assert len(table) == len(rows)
    for (_, got), ref in zip(table.iterrows(), rows, strict=True):
        for k in keys:
            if k == "label":
                assert got[label] == ref["label"]
            else:
                assert str(got[k]) == str(ref[k]) or float(got[k]) == float(ref[k])
        z = abs(got["mean"] - ref["estimate"]) / got["sd"]
        assert z < TOL_SD, (dict(got), ref, z)


def test_cbpp_means_on_the_probability_scale():
    _close(_cbpp().means("period"), REF["cbpp"]["emmeans_response"]["rows"], ["period"])


def test_cbpp_means_on_the_logit_scale():
    _close(_cbpp().means("period", scale="link"), REF["cbpp"]["emmeans"]["rows"], ["period"])


@pytest.mark.parametrize(("method", "key"), [("pairwise", "pairs"),
                                             ("trt.vs.ctrl", "trt_vs_ctrl"),
                                             ("consecutive", "consec")])
def test_cbpp_contrasts_on_the_logit_scale(method, key):
    _close(_cbpp().contrasts("period", method=method), REF["cbpp"][key]["rows"], ["label"])


def _check_ratios(res, variable, rows, kind):
    """Ratios (emmeans' type = "response" of a log or logit link) on the log scale: the
    posterior mean of a ratio exceeds the back-transformed estimate by about
    exp(sd^2 / 2) (10% for these), so the estimate is compared where it is symmetric,
    and the ratio's interval is the exponential of the log-scale one (quantiles follow
    a monotone transform; 1e-3 for the interpolation between draws)."""
    ratio = res.contrasts(variable, scale="response")
    log = res.contrasts(variable)
    assert ratio.attrs["estimate"] == kind
    assert ratio["contrast"].tolist() == [r["label"] for r in rows]
    assert log["contrast"].tolist() == [r["label"].replace(" / ", " - ") for r in rows]
    np.testing.assert_allclose(ratio[["lower", "upper"]], np.exp(log[["lower", "upper"]]),
                               rtol=1e-3)
    for (_, got), ref in zip(log.iterrows(), rows, strict=True):
        z = abs(got["mean"] - np.log(ref["estimate"])) / got["sd"]
        assert z < TOL_SD, (got["contrast"], z)


def test_cbpp_odds_ratios():
    _check_ratios(_cbpp(), "period", REF["cbpp"]["pairs_response"]["rows"], "odds.ratio")


def test_gaussian_means_with_an_interaction():
    ref = REF["sleepstudy_cohort"]
    res = _sleep_cohort()
    _close(res.means("cohort"), ref["emmeans"]["rows"], ["cohort"])
    by_days = res.means(["cohort", "Days"], at={"Days": [0, 9]})
    rows = sorted(ref["emmeans_by_days"]["rows"], key=lambda r: (r["cohort"], r["Days"]))
    by_days = by_days.sort_values(["cohort", "Days"]).reset_index(drop=True)
    _close(by_days, rows, ["cohort", "Days"])
    _close(res.contrasts("cohort"), ref["pairs"]["rows"], ["label"])


@pytest.mark.parametrize("at", [None, "means"])
def test_gaussian_slope_by_factor(at):
    """emtrends(fit, ~ cohort, var = "Days") and its pairs: the slope of Days in each
    cohort, averaged over the data (at=None) or at the reference grid."""
    ref = REF["sleepstudy_cohort"]
    res = _sleep_cohort()
    s = res.slopes("Days", by="cohort", at=at)
    _close(s, ref["emtrends"]["rows"], ["cohort"])
    draws = res.draws("fixed")
    cols = res.design.fixed_columns
    diff = -draws[:, cols.index("Days:cohort[odd]")]  # even - odd
    est = ref["pairs_emtrends"]["rows"][0]["estimate"]
    assert abs(diff.mean() - est) / diff.std() < TOL_SD


@pytest.mark.slow
def test_poisson_rate_ratios():
    """A log link's response-scale contrasts are ratios of the rates (emmeans' ratio)."""
    ref = REF["grouseticks_year"]
    res = cached_fit("TICKS ~ factor(YEAR) + (1 | BROOD) + (1 | LOCATION)",
                     mf.load_dataset("grouseticks"), key="grouse-year", family="poisson",
                     **LONG)
    m = res.means("YEAR")
    m["YEAR"] = m["YEAR"].astype(str)
    _close(m, ref["emmeans_response"]["rows"], ["YEAR"])
    _check_ratios(res, "YEAR", ref["pairs_response"]["rows"], "ratio")
