"""A residual sd with its own formula: does sleepstudy's noise change with sleep or by subject?

lme4's ``sleepstudy`` (bundled): reaction times of 18 subjects over 10 days of sleep
deprivation. The usual model ``Reaction ~ Days + (Days | Subject)`` has one residual
sd. Here ``sigma="~ Days + (1 | Subject)"`` lets it change with ``Days`` and differ
between subjects (brms' ``bf(Reaction ~ ..., sigma ~ Days + (1 | Subject))``;
glmmTMB's ``dispformula = ~ Days`` without the subject term).

Prints the summary, the residual sd at day 0 and day 9 with its interval, the subjects
whose residual sd differs most, and both models' LOO (with subjects in the formula, the
apparent growth with Days of glmmTMB's ``dispformula = ~ Days`` fit mostly goes to a few
noisy subjects); saves the residual sd by day to
``$MIXEDFIT_FIGURES`` (default ``examples/figures/``). ``MIXEDFIT_QUICK=1`` uses short
chains.
"""

from __future__ import annotations

import os
import warnings
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
if QUICK:  # short chains: the convergence warnings are expected
    warnings.simplefilter("ignore", mf.ConvergenceWarning)
warnings.filterwarnings("ignore", message="Estimated shape parameter of Pareto")

df = mf.load_dataset("sleepstudy")
formula = "Reaction ~ Days + (Days | Subject)"
res = mf.fit(formula, df, sigma="~ Days + (1 | Subject)", random_seed=2, progressbar=False,
             **SAMPLING)
print(res.summary())

# the residual sd of a typical subject: exp(sigma_Intercept + sigma_Days * day)
fixed = res.draws("fixed")
cols = res.design.fixed_columns
a, b = fixed[:, cols.index("sigma_Intercept")], fixed[:, cols.index("sigma_Days")]
days = np.arange(10)
sd = np.exp(a[:, None] + b[:, None] * days[None, :])
lo, mid, hi = np.quantile(sd, [0.03, 0.5, 0.97], axis=0)
print(f"\nResidual sd of a typical subject: day 0 {mid[0]:.1f} ms [{lo[0]:.1f}, {hi[0]:.1f}], "
      f"day 9 {mid[9]:.1f} ms [{lo[9]:.1f}, {hi[9]:.1f}]")
print(f"P(the residual sd grows with Days) = {np.mean(b > 0):.3f}")

subj = res.random_effects["Subject"]["sigma_Intercept"]["mean"].sort_values()
print("\nSubjects whose residual sd differs most (sigma_Intercept deviation, log scale):")
print(pd.concat([subj.head(2), subj.tail(2)]).round(2).to_string())

plain = mf.fit(formula, df, random_seed=2, progressbar=False, **SAMPLING)
print(f"\nLOO: sigma by Days and subject {res.loo().elpd_loo:.1f}, one sigma "
      f"{plain.loo().elpd_loo:.1f} (higher is better)")

FIGURES.mkdir(parents=True, exist_ok=True)
fig, ax = plt.subplots(figsize=(6.0, 3.8))
ax.fill_between(days, lo, hi, color="#4c8bd6", alpha=0.3, label="94% interval")
ax.plot(days, mid, color="#1f5fa8", lw=2, label="posterior median")
ax.axhline(float(plain.sigma["mean"]), color="#111111", ls="--", lw=1,
           label="one residual sd (usual model)")
ax.set_xlabel("Days of sleep deprivation")
ax.set_ylabel("residual sd of Reaction (ms)")
ax.set_title("sleepstudy: the residual sd of a typical subject by day", fontsize=11)
ax.legend(fontsize=8, frameon=False)
fig.savefig(FIGURES / "dispersion_sigma.png", dpi=110, bbox_inches="tight")
print(f"saved {FIGURES / 'dispersion_sigma.png'}")
