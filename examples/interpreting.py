"""Interpreting a fit: marginal means, contrasts, slopes, hypotheses and predictions.

Two bundled data sets, the questions an analyst asks of them, and the methods that
answer them (emmeans, marginaleffects and brms users will recognise the names):

- lme4's ``cbpp``: new cases of contagious bovine pleuropneumonia per herd in four
  periods, ``cbind(incidence, size - incidence) ~ period + (1 | herd)`` (binomial).
  What is the risk of a new case in each period, for a typical herd
  (``res.means``, emmeans' ``emmeans(fit, ~ period, type = "response")``) and over
  all herds (population-averaged, ``include_random="marginal"``)? How do the odds
  compare between periods (``res.contrasts(..., scale="response")``: odds ratios,
  emmeans' ``pairs(..., type = "response")``)?
- lme4's ``sleepstudy`` with a made-up factor ``cohort`` (even or odd subject
  number): ``Reaction ~ Days * cohort + (Days | Subject)``. How fast does the
  reaction time grow in each cohort (``res.slopes``, ``avg_slopes``/``emtrends``)?
  How sure are we that it grows more slowly in the odd cohort, and what is the
  Bayes factor of "no difference" (``res.hypothesis``, brms' ``hypothesis()``)?
  Where will a new subject's reaction time be after 9 days (``res.predict(...,
  kind="response")``, brms' ``posterior_predict``: a prediction interval)?

Prints the tables and saves the effects plot of the cohorts and the odds ratios of
the periods to ``$MIXEDFIT_FIGURES`` (default ``examples/figures/``).
``MIXEDFIT_QUICK=1`` uses short chains.
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # figures are only saved

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import mixedfit as mf  # noqa: E402

QUICK = os.environ.get("MIXEDFIT_QUICK") == "1"
FIGURES = Path(os.environ.get("MIXEDFIT_FIGURES", Path(__file__).resolve().parent / "figures"))
SAMPLING = ({"draws": 250, "tune": 300, "chains": 2} if QUICK
            else {"draws": 1000, "tune": 1000, "chains": 4})

pd.set_option("display.width", 120)

# ------------------------------------------------------------------ cbpp: periods
cbpp = mf.fit("cbind(incidence, size - incidence) ~ period + (1 | herd)",
              mf.load_dataset("cbpp"), family="binomial", random_seed=11,
              progressbar=not QUICK, **SAMPLING)
print(f"Formula: {cbpp.formula} (binomial, logit link)")

# emmeans(fit, ~ period, type = "response"): the inverse logit of the linear
# predictor, herd effects at zero (a typical herd)
typical = cbpp.means("period")
# averaged over the fitted normal distribution of the herd effects: the expected
# share of new cases over all herds (higher: a few high-risk herds weigh more)
population = cbpp.means("period", include_random="marginal")
print()
print("Expected share of new cases per period (mean and 94% interval):")
print(pd.concat({"typical herd": typical.set_index("period"),
                 "all herds": population.set_index("period")}, axis=1).round(3))

# pairs(emmeans(fit, ~ period, type = "response")): odds ratios; pd is the posterior
# probability of the ratio's direction (above or below 1)
odds = cbpp.contrasts("period", scale="response")
print()
print("Odds ratios between periods (pairwise):")
print(odds.round(2).to_string(index=False))

# ------------------------------------------------------- sleepstudy: two cohorts
sleep = mf.load_dataset("sleepstudy")
sleep["cohort"] = np.where(sleep["Subject"].astype(int) % 2 == 0, "even", "odd")
res = mf.fit("Reaction ~ Days * cohort + (Days | Subject)", sleep, random_seed=12,
             progressbar=not QUICK, **SAMPLING)
print()
print(f"Formula: {res.formula}")

# avg_slopes(fit, variables = "Days", by = "cohort"): ms per day of sleep deprivation
slopes = res.slopes("Days", by="cohort")
print()
print("Slope of Days per cohort (ms per day, averaged over the data):")
print(slopes.round(2).to_string(index=False))

days = res.contrasts("cohort", by="Days", at={"Days": [0, 9]})
print()
print("Even minus odd cohort, on day 0 and on day 9 (ms):")
print(days.round(2).to_string(index=False))

# brms' hypothesis(): a one-sided probability, and the Savage-Dickey Bayes factor of
# the point "no difference in slope" (it depends on the prior: see res.priors)
h = res.hypothesis(["Days:cohort[odd] < 0", "Days:cohort[odd] = 0"])
slower, point = h.iloc[0], h.iloc[1]
print()
print(f"P(slower growth in the odd cohort) = {slower['p']:.2f} "
      f"(posterior odds {slower['evidence_ratio']:.1f})")
print(f"Bayes factor of 'same slope' (Savage-Dickey) = {point['evidence_ratio']:.2f}, "
      f"with the prior {res.priors.loc['Days:cohort[odd]', 'prior']}")

# posterior_epred and posterior_predict for a new subject of the even cohort: its own
# intercept and slope are drawn from the fitted population; kind="response" adds the
# residual noise (a prediction interval), reproducibly (the fit's seed)
new = pd.DataFrame({"Days": [0, 9], "cohort": "even", "Subject": "a new subject"})
expected = res.predict(new, kind="draws")
observed = res.predict(new, kind="response")
lo, hi = (1 - res.interval) / 2, (1 + res.interval) / 2
table = pd.DataFrame({
    "Days": new["Days"],
    "expected mean": expected.mean(axis=0),
    "expected lower": np.quantile(expected, lo, axis=0),
    "expected upper": np.quantile(expected, hi, axis=0),
    "prediction lower": np.quantile(observed, lo, axis=0),
    "prediction upper": np.quantile(observed, hi, axis=0),
})
print()
print("Prediction interval for a new subject (even cohort, ms; 94%):")
print(table.round(1).to_string(index=False))

# ----------------------------------------------------------------------- figures
FIGURES.mkdir(parents=True, exist_ok=True)
for name, fig in (("interpreting_effects", res.plot_effects("Days", "cohort", data=True)),
                  ("interpreting_contrasts", cbpp.plot_contrasts("period",
                                                                 scale="response"))):
    fig.savefig(FIGURES / f"{name}.png", dpi=100, bbox_inches="tight")
    plt.close(fig)
print()
print(f"Figures saved to {FIGURES}")
