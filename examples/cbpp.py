"""Contagious bovine pleuropneumonia: a binomial GLMM with a random intercept per herd.

lme4's ``cbpp`` data (bundled): for 15 herds, the number of cattle with new
serological cases (``incidence``) out of the herd's size, in 4 periods. The model
``cbind(incidence, size - incidence) ~ period + (1 | herd)`` is lme4's
``glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), family = binomial)``:
the log-odds of infection change with the period and each herd has its own
baseline log-odds.

Prints the summary, the odds ratios of the periods, each herd's estimated risk,
the shrinkage of the herds toward the population and the population risk per
period, and saves a posterior predictive check and the shrinkage plot to
``$MIXEDFIT_FIGURES`` (default ``examples/figures/``). ``MIXEDFIT_QUICK=1`` uses
short chains.
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

df = mf.load_dataset("cbpp")
res = mf.fit("cbind(incidence, size - incidence) ~ period + (1 | herd)", df,
             family="binomial", random_seed=11, progressbar=not QUICK, **SAMPLING)
print(res.summary())

# Coefficients are log-odds; exponentiated, a period's coefficient is an odds ratio.
fe = res.fixed_effects
odds = np.exp(fe.loc[fe.index != "Intercept", ["mean", "lower", "upper"]])
print()
print("Odds ratios against period 1 (posterior mean of the log-odds, exponentiated):")
print(odds.round(2))

# Each herd's own baseline risk (period 1): inverse logit of its intercept.
herd = res.coefficients["herd"]["Intercept"]
risk = 1.0 / (1.0 + np.exp(-herd[["mean", "lower", "upper"]]))
print()
print("Herd risk of a new case in period 1 (inverse logit of the herd's intercept):")
print(risk.sort_values("mean", ascending=False).round(3).head(6))

sh = res.shrinkage.loc["herd"].xs("Intercept", level="term")
print()
print("Shrinkage of the herd intercepts (log-odds) toward the population:")
print(sh[["n_obs", "no_pooling", "partial_pooling", "population", "shrinkage"]].round(2))

new = pd.DataFrame({"period": pd.Categorical(["1", "2", "3", "4"],
                                             categories=df["period"].cat.categories),
                    "herd": "new herd", "size": 1})
population = res.predict(new, include_random=False).set_index(new["period"])
print()
print("Population risk per period (a typical herd):")
print(population.round(3))

FIGURES.mkdir(parents=True, exist_ok=True)
for name, fig in (("cbpp_ppc", res.plot_ppc(kind="proportion", random_seed=1)),
                  ("cbpp_shrinkage", res.plot_shrinkage(sort="n_obs"))):
    fig.savefig(FIGURES / f"{name}.png", dpi=100, bbox_inches="tight")
    plt.close(fig)
print()
print(f"Figures saved to {FIGURES}")
