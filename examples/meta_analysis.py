"""A random-effects meta-analysis: BCG vaccine trials with known standard errors.

metafor's ``dat.bcg`` (bundled as ``bcg``): 13 trials of the BCG vaccine against
tuberculosis, each summarised by its log risk ratio ``yi`` and the standard error
``sei`` of that estimate. The model ``yi ~ 1 + (1 | trial)`` with ``se="sei"`` is
metafor's ``rma(yi, vi)`` and brms' ``yi | se(sei) ~ 1 + (1 | trial)``: each trial's
true effect varies around the average ``mu`` with sd ``tau``, and each estimate
``yi`` has its known sampling error ``sei`` (no residual sd is estimated).

Prints the summary, the average risk ratio, the prediction interval for the effect
in a new trial, each trial's estimate beside its partially pooled one, and a
meta-regression on the trial's absolute latitude (how much of ``tau`` it explains);
saves a forest plot to ``$MIXEDFIT_FIGURES`` (default ``examples/figures/``).
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

df = mf.load_dataset("bcg")
res = mf.fit("yi ~ 1 + (1 | trial)", df, se="sei", random_seed=3, progressbar=not QUICK,
             **SAMPLING)
print(res.summary())

# The average effect, as a risk ratio (vaccinated against not vaccinated).
mu = res.draws("fixed")[:, 0]
tau = res.draws("sd(trial)")[:, 0]
lo, hi = np.quantile(np.exp(mu), [0.03, 0.97])
print()
print(f"Average risk ratio: {np.exp(mu).mean():.2f} (94% interval {lo:.2f} to {hi:.2f})")

# A new trial's true effect: mu + tau z, with the uncertainty of both.
rng = np.random.default_rng(1)
new = mu + tau * rng.standard_normal(mu.size)
lo, hi = np.quantile(np.exp(new), [0.03, 0.97])
print(f"Risk ratio in a new trial: 94% prediction interval {lo:.2f} to {hi:.2f}")

# Each trial's own estimate against its partially pooled one (its true effect).
coef = res.coefficients["trial"]
table = pd.DataFrame({
    "author": df["author"].to_numpy(), "year": df["year"].to_numpy(),
    "observed": df["yi"].to_numpy(), "se": df["sei"].to_numpy(),
    "pooled": coef[("Intercept", "mean")].to_numpy(),
    "pooled_lower": coef[("Intercept", "lower")].to_numpy(),
    "pooled_upper": coef[("Intercept", "upper")].to_numpy()},
    index=df["trial"].astype(str).to_numpy())
print()
print("Log risk ratio per trial: observed (with its se) and partially pooled")
print(table.round(3).to_string())

# Meta-regression: the vaccine works better far from the equator (absolute latitude).
reg = mf.fit("yi ~ ablat + (1 | trial)", df, se="sei", random_seed=3, progressbar=not QUICK,
             **SAMPLING)
slope = reg.fixed_effects.loc["ablat"]
tau_reg = reg.variance_components.loc[("trial", "sd(Intercept)"), "mean"]
print()
print(f"Meta-regression on absolute latitude: slope {slope['mean']:.4f} per degree "
      f"(94% interval {slope['lower']:.4f} to {slope['upper']:.4f}); tau "
      f"{tau.mean():.3f} -> {tau_reg:.3f}")

# Forest plot: each trial's estimate +- 1.96 se, its pooled estimate, the average.
FIGURES.mkdir(parents=True, exist_ok=True)
fig, ax = plt.subplots(figsize=(7, 6))
pos = np.arange(len(table))[::-1] + 2
labels = [f"{a} ({y})" for a, y in zip(table["author"], table["year"], strict=True)]
ax.errorbar(table["observed"], pos + 0.15, xerr=1.96 * table["se"], fmt="s", color="0.4",
            label="observed (95% CI)")
ci, lower, upper = table["pooled"], table["pooled_lower"], table["pooled_upper"]
ax.errorbar(ci, pos - 0.15, xerr=[ci - lower, upper - ci], fmt="o", color="C0",
            label="partially pooled (94%)")
m_lo, m_hi = np.quantile(mu, [0.03, 0.97])
ax.fill([m_lo, mu.mean(), m_hi, mu.mean()], [0.5, 0.8, 0.5, 0.2], color="C3",
        label="average effect (94%)")
ax.axvline(0.0, color="0.6", lw=0.8)
ax.set_yticks([*pos, 0.5], [*labels, "Average"])
ax.set_xlabel("log risk ratio (vaccinated / not vaccinated)")
ax.set_title("BCG vaccine trials: random-effects meta-analysis")
ax.legend(loc="lower right", fontsize=8)
fig.tight_layout()
fig.savefig(FIGURES / "meta_forest.png", dpi=110)
plt.close(fig)
print(f"\nSaved {FIGURES / 'meta_forest.png'}")
