"""Partial pooling, the classic demonstration: 75 people, 5 noisy observations each.

Each person ``i`` has their own line, ``y_ij = a_i + b_i x_ij + e_ij`` with
``a_i ~ N(2, 1)``, ``b_i ~ N(-2, 1)`` and noise ``e_ij ~ N(0, 2^2)``: much noise
and few observations per person, so one person's own data say little about
their line. Two models are fitted to the simulated data:

- **no pooling**, ``y ~ 0 + C(id) + C(id):x``: a separate intercept and slope per
  person, each estimated from that person's 5 observations alone;
- **partial pooling**, ``y ~ x + (1 + x | id)``: the hierarchical model. Each
  person's line is drawn from a population distribution whose mean and spread
  are estimated from everybody, so each estimate borrows strength from the others
  and is pulled ("shrunk") toward the population line, more so the less its own
  data say.

Because the truth is known, the script prints the root-mean-square error of the
75 intercepts and slopes under both models, as machine-readable lines::

    RMSE intercept no_pooling=1.234 partial_pooling=0.567
    RMSE slope no_pooling=1.234 partial_pooling=0.567

The hierarchical estimates are closer to the truth for both: shrinkage trades a
little bias for a large cut in variance (the James-Stein effect). The shrinkage
plot (each person's own estimate, with an arrow to the pooled one) and a plot of
the estimates against the truth are saved to ``$MIXEDFIT_FIGURES`` (default
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
SAMPLING = ({"draws": 300, "tune": 300, "chains": 2} if QUICK
            else {"draws": 1000, "tune": 1000, "chains": 4})

# ---------------------------------------------------------------- simulate
rng = np.random.default_rng(20241122)
n_people, n_each = 75, 5
a = rng.normal(2.0, 1.0, n_people)  # true intercepts
b = rng.normal(-2.0, 1.0, n_people)  # true slopes
x = rng.normal(0.0, 1.0, (n_people, n_each))
y = a[:, None] + b[:, None] * x + rng.normal(0.0, 2.0, (n_people, n_each))
ids = [f"p{i + 1:02d}" for i in range(n_people)]
df = pd.DataFrame({"id": np.repeat(ids, n_each), "x": x.ravel(), "y": y.ravel()})
truth = pd.DataFrame({"Intercept": a, "x": b}, index=pd.Index(ids, name="id"))

# ------------------------------------------------------------------- fit
options = {**SAMPLING, "random_seed": 7, "progressbar": not QUICK}
no_pool = mf.fit("y ~ 0 + C(id) + C(id):x", df, **options)
partial = mf.fit("y ~ x + (1 + x | id)", df, **options)

fe = no_pool.fixed_effects["mean"]
estimates = {
    "no_pooling": pd.DataFrame({"Intercept": [fe[f"C(id)[{i}]"] for i in ids],
                                "x": [fe[f"C(id)[{i}]:x"] for i in ids]}, index=truth.index),
    "partial_pooling": pd.DataFrame({term: partial.coefficients["id"][term]["mean"]
                                     for term in ("Intercept", "x")}).loc[ids],
}


def rmse(est: pd.Series, true: pd.Series) -> float:
    """Root-mean-square error of the estimates against the truth."""
    return float(np.sqrt(np.mean((est.to_numpy() - true.to_numpy()) ** 2)))


# ----------------------------------------------------------------- report
print(partial.summary())
print()
print("True population: intercept mean 2, sd 1; slope mean -2, sd 1; residual sd 2.")
print()
print("Root-mean-square error of the 75 individual estimates against the truth:")
for term, label in (("Intercept", "intercept"), ("x", "slope")):
    errors = {name: rmse(est[term], truth[term]) for name, est in estimates.items()}
    print(f"RMSE {label} no_pooling={errors['no_pooling']:.3f} "
          f"partial_pooling={errors['partial_pooling']:.3f}")
print()
side = pd.concat({"truth": truth, **estimates}, axis=1).round(2)
print("First people: truth, no pooling and partial pooling (intercept, slope):")
print(side.head(8))

# ----------------------------------------------------------------- figures
FIGURES.mkdir(parents=True, exist_ok=True)
fig = partial.plot_shrinkage()
fig.savefig(FIGURES / "pooling_shrinkage.png", dpi=100, bbox_inches="tight")
plt.close(fig)

fig, axes = plt.subplots(1, 2, figsize=(9, 4.2))
for ax, term, label in zip(axes, ("Intercept", "x"), ("intercept", "slope"), strict=True):
    ax.scatter(truth[term], estimates["no_pooling"][term], s=14, facecolors="none",
               edgecolors="tab:orange", label="no pooling")
    ax.scatter(truth[term], estimates["partial_pooling"][term], s=14, color="tab:blue",
               label="partial pooling")
    lims = [min(ax.get_xlim()[0], ax.get_ylim()[0]), max(ax.get_xlim()[1], ax.get_ylim()[1])]
    ax.plot(lims, lims, color="black", lw=0.8, ls="--")
    ax.set_xlabel(f"true {label}")
    ax.set_ylabel(f"estimated {label}")
axes[0].legend(frameon=False)
fig.suptitle("Estimates against the truth: partial pooling is closer")
fig.tight_layout()
fig.savefig(FIGURES / "pooling_estimates.png", dpi=100, bbox_inches="tight")
plt.close(fig)
print()
print(f"Figures saved to {FIGURES}")
