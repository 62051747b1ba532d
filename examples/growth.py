"""Children's growth: a longitudinal model with a growth rate per child.

Simulated data: 40 children measured about once a year between ages 2 and 12
(6 to 9 visits each, at irregular ages). Each child grows along their own line,

    height_ij = (a + u_i) + (b + v_i) * age_ij + e_ij,

with a population line ``a + b * age`` (``a = 80`` cm, ``b = 6`` cm per year),
child deviations ``(u_i, v_i)`` from a bivariate normal (sds 4 cm and 0.8 cm/year,
correlation 0.3: children who start taller grow a little faster) and measurement
error ``e_ij ~ N(0, 1.5^2)``. The model is lme4's

    height ~ age + (1 + age | child)

a *random slope* model: each child has their own intercept and their own growth
rate, both partially pooled toward the population. The intercept is the height
at age 0, extrapolated from the line.

Prints the summary and the truth beside it, the fastest and slowest growers, the
predicted height of a measured child at 14 and of a new child at several ages
(drawn from the population, hence wider intervals); saves the fitted lines and a
caterpillar plot of the growth rates to ``$MIXEDFIT_FIGURES`` (default
``examples/figures/``). ``MIXEDFIT_QUICK=1`` uses short chains.
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

# ---------------------------------------------------------------- simulate
rng = np.random.default_rng(42)
n_children = 40
a, b = 80.0, 6.0
sd_u, sd_v, rho, sd_e = 4.0, 0.8, 0.3, 1.5
cov = [[sd_u**2, rho * sd_u * sd_v], [rho * sd_u * sd_v, sd_v**2]]
dev = rng.multivariate_normal([0.0, 0.0], cov, size=n_children)
rows = []
for i in range(n_children):
    n_visits = int(rng.integers(6, 10))
    ages = np.sort(rng.uniform(2.0, 12.0, n_visits))
    for age in ages:
        height = a + dev[i, 0] + (b + dev[i, 1]) * age + rng.normal(0.0, sd_e)
        rows.append({"child": f"c{i + 1:02d}", "age": round(float(age), 2),
                     "height": round(float(height), 1)})
df = pd.DataFrame(rows)
print(f"{len(df)} measurements of {n_children} children, ages {df['age'].min():.1f} to "
      f"{df['age'].max():.1f}")
print()

# ------------------------------------------------------------------- fit
res = mf.fit("height ~ age + (1 + age | child)", df, random_seed=8, progressbar=not QUICK,
             **SAMPLING)
print(res.summary())
print()
print(f"Truth: Intercept {a:g}, age {b:g}; sd(Intercept) {sd_u:g}, sd(age) {sd_v:g}, "
      f"cor {rho:g}; residual sd {sd_e:g}")

rates = res.coefficients["child"]["age"].sort_values("mean")
print()
print("Growth rate of each child (cm per year): slowest and fastest")
print(pd.concat([rates.head(3), rates.tail(3)]).round(2))

known = rates.index[-1]
new = pd.DataFrame({"child": [known] + ["new child"] * 4, "age": [14.0, 2.0, 6.0, 10.0, 14.0]})
pred = res.predict(new, random_seed=1)
print()
print(f"Predicted height (cm): child {known} at 14 (outside the data: extrapolated), and a "
      f"new child drawn from the population:")
print(pd.concat([new, pred.round(1)], axis=1).to_string(index=False))

# ----------------------------------------------------------------- figures
FIGURES.mkdir(parents=True, exist_ok=True)
fig, ax = plt.subplots(figsize=(7, 5))
grid = np.linspace(2.0, 12.0, 21)
for child, rows_c in df.groupby("child"):
    line = res.predict(pd.DataFrame({"child": child, "age": grid}))
    ax.plot(grid, line["mean"], color="tab:blue", lw=0.8, alpha=0.6)
    ax.scatter(rows_c["age"], rows_c["height"], s=6, color="black", alpha=0.5)
population = res.predict(pd.DataFrame({"child": "new", "age": grid}), include_random=False)
ax.plot(grid, population["mean"], color="tab:red", lw=2.5, label="population line")
ax.fill_between(grid, population["lower"], population["upper"], color="tab:red", alpha=0.2)
ax.set_xlabel("age (years)")
ax.set_ylabel("height (cm)")
ax.set_title("Each child's fitted growth line (partial pooling)")
ax.legend(frameon=False)
fig.savefig(FIGURES / "growth_lines.png", dpi=100, bbox_inches="tight")
plt.close(fig)
fig = res.plot_caterpillar(coefficients=True, term="age")
fig.savefig(FIGURES / "growth_rates.png", dpi=100, bbox_inches="tight")
plt.close(fig)
print()
print(f"Figures saved to {FIGURES}")
