"""Print the fits of the weights, known-se, zero-inflated, ordinal, categorical,
distributional-parameter and emmeans reference tests beside
their reference values (the numbers quoted in issue notes and docs).

    python scripts/reference_report.py

Uses the tests' own fits (``tests/accuracy/test_weights.py``, ``test_known_se.py``,
``test_zero_inflated.py``, ``test_cumulative.py``, ``test_categorical.py``,
``test_dpars.py``, ``test_emmeans.py``: same data, options and seeds).
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
warnings.simplefilter("ignore")

from tests.accuracy import test_categorical as ca  # noqa: E402
from tests.accuracy import test_cumulative as cu  # noqa: E402
from tests.accuracy import test_dpars as dp  # noqa: E402
from tests.accuracy import test_emmeans as em  # noqa: E402
from tests.accuracy import test_known_se as se  # noqa: E402
from tests.accuracy import test_weights as wt  # noqa: E402
from tests.accuracy import test_zero_inflated as zi  # noqa: E402
from tests.conftest import LONG, cached_fit  # noqa: E402


def row(name: str, fit, ref: float) -> str:
    return f"  {name:16s} {fit['mean']:10.4f} (sd {fit['sd']:.4f})   reference {ref:.4f}"


def main() -> None:
    res = cached_fit("Reaction ~ Days + (Days | Subject)", wt._sleepstudy_weighted(),
                     key="sleep-weighted-compiled", weights="w", backend="compiled", **LONG)
    ref = wt.REF["lmer_weighted"]["reml"]
    print("sleepstudy, precision weights, against lmer(weights=) REML")
    for term, value in ref["fixed"].items():
        print(row(term, res.fixed_effects.loc[term], value["estimate"]))
    vc = res.variance_components
    print(row("sigma", vc.loc[("Residual", "sd")], ref["sigma"]))
    for term, sd in ref["random"]["Subject"]["sd"].items():
        print(row(f"sd({term})", vc.loc[("Subject", f"sd({term})")], sd))

    res = cached_fit("TICKS ~ C(YEAR) + scale(HEIGHT) + (1 | LOCATION)",
                     wt._grouseticks_weighted(), key="grouse-weighted", family="poisson",
                     weights="w", **LONG)
    ref = wt.REF["glmer_poisson_weighted"]
    print("grouseticks Poisson, prior weights, against glmer(weights=)")
    for term, value in ref["fixed"].items():
        print(row(term, res.fixed_effects.loc[term], value["estimate"]))
    print(row("sd(LOCATION)", res.variance_components.loc[("LOCATION", "sd(Intercept)")],
              ref["random"]["LOCATION"]["sd"]["Intercept"]))

    exact = se._exact_eight_schools()
    res = se._schools()
    print("eight schools, se=, against the exact posterior (quadrature)")
    print(row("mu", res.fixed_effects.loc["Intercept"], exact["mu"]))
    print(row("tau", res.variance_components.loc[("school", "sd(Intercept)")], exact["tau"]))
    res = cached_fit("yi ~ 1 + (1 | trial)", se.mf.load_dataset("bcg"), key="bcg", se="sei",
                     **LONG)
    ref = se.REF["rma_bcg"]["reml"]
    print("BCG trials, se=, against metafor rma REML")
    print(row("mu", res.fixed_effects.loc["Intercept"], ref["mu"]["estimate"]))
    print(row("tau", res.variance_components.loc[("trial", "sd(Intercept)")], ref["tau"]))

    for key in sorted(zi.FAMILIES):
        res = zi._fit(key)
        ref = zi.REF[key]
        a, b = ref["fixed"]["Intercept"]["estimate"], ref["fixed"]["mined[no]"]["estimate"]
        print(f"salamanders {key} against glmmTMB ({res.plan.time:.1f} s sampling)")
        print(row("Intercept", res.fixed_effects.loc["Intercept"], a + b))
        print(row("mined[yes]", res.fixed_effects.loc["mined[yes]"], -b))
        print(row("sd(site)", res.variance_components.loc[("site", "sd(Intercept)")],
                  ref["site_sd"]))
        prob = "hu" if key.startswith("hurdle") else "zi"
        print(row(prob, res.family_parameters.loc[prob], ref["zi_prob"]["estimate"]))
        if "theta" in ref:
            print(row("alpha (theta)", res.family_parameters.loc["alpha"], ref["theta"]))

    for key, link, formula in (("clmm_logit", "logit", cu.FORMULA),
                               ("clmm_probit", "probit", cu.FORMULA),
                               ("clm_logit", "logit", "rating ~ temp + contact")):
        res = cu._fit(link, formula)
        ref = cu.REF[key]
        print(f"wine {key} against ordinal ({res.plan.time:.1f} s sampling)")
        for term, value in ref["fixed"].items():
            print(row(term, res.fixed_effects.loc[term], value["estimate"]))
        if "judge_sd" in ref:
            print(row("sd(judge)", res.variance_components.loc[("judge", "sd(Intercept)")],
                      ref["judge_sd"]))

    res = ca._multinom()
    print(f"categorical against nnet::multinom ({res.plan.time:.1f} s sampling)")
    for term, value in ca.REF["multinom"]["fixed"].items():
        print(row(term, res.fixed_effects.loc[term], value["estimate"]))

    res = cached_fit("Reaction ~ Days + (Days | Subject)", dp.mf.load_dataset("sleepstudy"),
                     key="sleep-sigma-days", sigma="~ Days", **LONG)
    ref = dp.REF["sleepstudy_sigma"]
    print(f"sleepstudy sigma ~ Days against glmmTMB dispformula ({res.plan.time:.1f} s)")
    for block in ("fixed", "sigma"):
        for term, value in ref[block].items():
            print(row(term, res.fixed_effects.loc[term], value["estimate"]))
    res = cached_fit("count ~ mined + (1 | site)", dp.mf.load_dataset("salamanders"),
                     key="salamanders-nb-alpha", family="negativebinomial", alpha="~ mined",
                     **LONG)
    ref = dp.REF["salamanders_nb_alpha"]
    print(f"salamanders NB alpha ~ mined against glmmTMB dispformula ({res.plan.time:.1f} s)")
    for prefix, part in (("", ref["fixed"]), ("alpha_", ref["alpha"])):
        a, b = part[f"{prefix}Intercept"]["estimate"], part[f"{prefix}mined[no]"]["estimate"]
        print(row(f"{prefix}Intercept", res.fixed_effects.loc[f"{prefix}Intercept"], a + b))
        print(row(f"{prefix}mined[yes]", res.fixed_effects.loc[f"{prefix}mined[yes]"], -b))
    emmeans_report()


def _z(table, rows, key: str = "mean") -> float:
    """Largest |posterior mean - emmeans| / posterior sd over a table's rows."""
    return max(abs(m - r["estimate"]) / sd for m, sd, r in
               zip(table[key], table["sd"], rows, strict=True))


def _log_z(table, rows) -> float:
    """The same for ratios, on the log scale (the link-scale contrasts)."""
    return max(abs(m - np.log(r["estimate"])) / sd for m, sd, r in
               zip(table["mean"], table["sd"], rows, strict=True))


def emmeans_report() -> None:
    cbpp, sleep = em._cbpp(), em._sleep_cohort()
    grouse = cached_fit("TICKS ~ factor(YEAR) + (1 | BROOD) + (1 | LOCATION)",
                        em.mf.load_dataset("grouseticks"), key="grouse-year",
                        family="poisson", **LONG)
    c, s, g = em.REF["cbpp"], em.REF["sleepstudy_cohort"], em.REF["grouseticks_year"]
    lines = {
        "cbpp means, probability": _z(cbpp.means("period"), c["emmeans_response"]["rows"]),
        "cbpp means, logit": _z(cbpp.means("period", scale="link"), c["emmeans"]["rows"]),
        "cbpp pairwise, logit": _z(cbpp.contrasts("period"), c["pairs"]["rows"]),
        "cbpp trt.vs.ctrl, logit": _z(cbpp.contrasts("period", method="trt.vs.ctrl"),
                                      c["trt_vs_ctrl"]["rows"]),
        "cbpp consecutive, logit": _z(cbpp.contrasts("period", method="consecutive"),
                                      c["consec"]["rows"]),
        "cbpp odds ratios (log)": _log_z(cbpp.contrasts("period"), c["pairs_response"]["rows"]),
        "sleepstudy cohort means": _z(sleep.means("cohort"), s["emmeans"]["rows"]),
        "sleepstudy cohort pairs": _z(sleep.contrasts("cohort"), s["pairs"]["rows"]),
        "sleepstudy emtrends (data)": _z(sleep.slopes("Days", by="cohort"),
                                         s["emtrends"]["rows"]),
        "sleepstudy emtrends (grid)": _z(sleep.slopes("Days", by="cohort", at="means"),
                                         s["emtrends"]["rows"]),
        "grouseticks rates": _z(grouse.means("YEAR"), g["emmeans_response"]["rows"]),
        "grouseticks rate ratios (log)": _log_z(grouse.contrasts("YEAR"),
                                                g["pairs_response"]["rows"]),
    }
    print("means, contrasts and slopes against emmeans: max |mean - emmeans| / sd")
    for name, z in lines.items():
        print(f"  {name:32s} {z:.3f}")


if __name__ == "__main__":
    main()
