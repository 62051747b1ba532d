"""Ordinal ratings: how bitter is a wine, by temperature and skin contact?

ordinal's ``wine`` data (bundled as ``wine``): 9 judges rated the bitterness of 8
wines on a scale of 1 (least) to 5; the wines differ by fermentation temperature
(``temp``: cold, warm) and contact with the grape skins (``contact``: no, yes).
``rating`` is an ordered categorical. The model is ``ordinal::clmm``'s
``rating ~ temp + contact + (1 | judge)``: the proportional-odds (cumulative logit)
model with a random intercept per judge.

Prints the summary (thresholds ``Intercept[1..4]`` with the fixed effects), each
category's probability for the four kinds of wine for a typical judge, the posterior
probability that warm fermentation makes a wine more bitter, the probit fit beside
the logit one, and LOO; saves the posterior predictive check (bars per category) to
``$MIXEDFIT_FIGURES`` (default ``examples/figures/``). ``MIXEDFIT_QUICK=1`` uses
short chains.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # figures are only saved

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import mixedfit as mf  # noqa: E402

QUICK = os.environ.get("MIXEDFIT_QUICK") == "1"
FIGURES = Path(os.environ.get("MIXEDFIT_FIGURES", Path(__file__).resolve().parent / "figures"))
SAMPLING = ({"draws": 250, "tune": 300, "chains": 2} if QUICK
            else {"draws": 1000, "tune": 1000, "chains": 4})
if QUICK:  # short chains: the convergence warnings are expected
    warnings.simplefilter("ignore", mf.ConvergenceWarning)

df = mf.load_dataset("wine")
print(f"wine: {len(df)} ratings by {df['judge'].nunique()} judges; categories "
      f"{' < '.join(df['rating'].cat.categories)}")
formula = "rating ~ temp + contact + (1 | judge)"
res = mf.fit(formula, df, family="cumulative", random_seed=3, progressbar=False, **SAMPLING)
print(res.summary())

# each category's probability for a typical judge (group effect 0)
grid = pd.DataFrame({"temp": ["cold", "cold", "warm", "warm"],
                     "contact": ["no", "yes", "no", "yes"]})
probs = res.predict(grid, include_random=False)["mean"].unstack()
probs.index = [f"{t}/{c}" for t, c in zip(grid["temp"], grid["contact"], strict=True)]
print("\nP(rating = k) for a typical judge (temp/contact):")
print(probs.round(3).to_string())

warm = res.draws("fixed")[:, res.design.fixed_columns.index("temp[warm]")]
print(f"\nP(warm fermentation raises the bitterness) = {np.mean(warm > 0):.4f}; odds ratio of "
      f"a higher rating {np.exp(np.median(warm)):.1f} (median)")

probit = mf.fit(formula, df, family=mf.families.cumulative("probit"), random_seed=3,
                progressbar=False, **SAMPLING)
side = pd.DataFrame({"logit": res.fixed_effects["mean"], "probit": probit.fixed_effects["mean"]})
side["logit / probit"] = side["logit"] / side["probit"]
print("\nPosterior means, logit and probit links (a logistic sd is 1.8 probit units):")
print(side.round(3).to_string())
print(f"\nLOO: logit elpd {res.loo().elpd_loo:.1f}, probit elpd {probit.loo().elpd_loo:.1f}")

FIGURES.mkdir(parents=True, exist_ok=True)
fig = res.plot_ppc(random_seed=1)
fig.savefig(FIGURES / "wine_ppc.png", dpi=110, bbox_inches="tight")
print(f"saved {FIGURES / 'wine_ppc.png'}")
