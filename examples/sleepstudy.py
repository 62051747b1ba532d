"""Sleep deprivation and reaction time: correlated random intercepts and slopes.

Fits ``Reaction ~ Days + (Days | Subject)`` to lme4's sleepstudy data (bundled)
and prints the summary, the variance components and the shrinkage of each
subject's slope. ``MIXEDFIT_QUICK=1`` uses short chains (for the test suite).
"""

import os

import mixedfit as mf

quick = os.environ.get("MIXEDFIT_QUICK") == "1"
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
