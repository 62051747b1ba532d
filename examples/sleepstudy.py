"""Sleep deprivation and reaction time: correlated random intercepts and slopes.

Fits ``Reaction ~ Days + (Days | Subject)`` to lme4's sleepstudy data (bundled)
and prints the summary, the variance components and the shrinkage of each
subject's slope; saves the shrinkage and caterpillar plots to
``$MIXEDFIT_FIGURES`` (default ``examples/figures/``). ``MIXEDFIT_QUICK=1`` uses
short chains (for the test suite).
"""

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # figures are only saved

import matplotlib.pyplot as plt  # noqa: E402

import mixedfit as mf  # noqa: E402

quick = os.environ.get("MIXEDFIT_QUICK") == "1"
figures = Path(os.environ.get("MIXEDFIT_FIGURES", Path(__file__).resolve().parent / "figures"))
df = mf.load_dataset("sleepstudy")
res = mf.fit(
    "Reaction ~ Days + (Days | Subject)",
    data=df,
    draws=200 if quick else 1000,
    tune=200 if quick else 1000,
    chains=2 if quick else 4,
    random_seed=2024,
    progressbar=not quick,
)
print(res.summary())
print()
print("Shrinkage of each subject's Days slope toward the population slope:")
shrink = res.shrinkage.xs("Days", level="term").loc["Subject"]
print(shrink[["n_obs", "no_pooling", "partial_pooling", "population", "shrinkage"]].round(2))

figures.mkdir(parents=True, exist_ok=True)
for name, fig in (("sleepstudy_shrinkage", res.plot_shrinkage()),
                  ("sleepstudy_caterpillar", res.plot_caterpillar(coefficients=True))):
    fig.savefig(figures / f"{name}.png", dpi=100, bbox_inches="tight")
    plt.close(fig)
print()
print(f"Figures saved to {figures}")
