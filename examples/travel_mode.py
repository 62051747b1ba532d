"""An unordered outcome: how commuters travel (walk, bike, car) by distance, across cities.

Simulated data (the truth is known): 1,200 commuters in 24 cities choose to walk, bike
or drive; the farther they live, the more likely they drive, and cities differ in their
taste for bikes and cars. The model is a multinomial logit with a random intercept per
city for each category, ``mode ~ distance + (1 | city)`` with
``family=mf.families.categorical(categories=["walk", "bike", "car"])``: walking is the
reference, and each other mode has its own intercept, slope and city effects (brms'
``categorical()``, Bambi's ``"categorical"``).

Prints the summary (``mubike_*`` and ``mucar_*`` coefficients against the truth), the
probability of each mode at 1, 3 and 8 km for a typical city, and the cities that bike
most; saves the probabilities by distance to ``$MIXEDFIT_FIGURES`` (default
``examples/figures/``). ``MIXEDFIT_QUICK=1`` uses short chains.
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

MODES = ["walk", "bike", "car"]
rng = np.random.default_rng(42)
n, m = 1200, 24
city = rng.integers(0, m, n)
distance = rng.gamma(2.0, 2.0, n).round(2)  # km
truth = {"mubike_Intercept": 1.0, "mubike_distance": 0.1, "mucar_Intercept": -1.5,
         "mucar_distance": 0.6, "sd(mubike)": 0.7, "sd(mucar)": 0.4}
bike = truth["mubike_Intercept"] + truth["mubike_distance"] * distance + rng.normal(
    0, truth["sd(mubike)"], m)[city]
car = truth["mucar_Intercept"] + truth["mucar_distance"] * distance + rng.normal(
    0, truth["sd(mucar)"], m)[city]
logits = np.column_stack([np.zeros(n), bike, car])
p = np.exp(logits - logits.max(axis=1, keepdims=True))
p /= p.sum(axis=1, keepdims=True)
choice = (np.cumsum(p, axis=1)[:, :-1] < rng.uniform(size=n)[:, None]).sum(axis=1)
df = pd.DataFrame({"mode": np.array(MODES)[choice], "distance": distance,
                   "city": [f"city{k:02d}" for k in city]})
print(f"{len(df)} commuters in {m} cities; shares: "
      + ", ".join(f"{k} {v:.0%}" for k, v in df["mode"].value_counts(normalize=True).items()))

family = mf.families.categorical(categories=MODES)
res = mf.fit("mode ~ distance + (1 | city)", df, family=family, random_seed=7,
             progressbar=False, **SAMPLING)
print(res.summary())

fe = res.fixed_effects
print("\nCoefficients against the simulated truth:")
for term in ("mubike_Intercept", "mubike_distance", "mucar_Intercept", "mucar_distance"):
    print(f"  {term:18s} {fe.loc[term, 'mean']:7.3f} [{fe.loc[term, 'lower']:.3f}, "
          f"{fe.loc[term, 'upper']:.3f}]   truth {truth[term]:.2f}")

grid = pd.DataFrame({"distance": [1.0, 3.0, 8.0]})
probs = res.predict(grid, include_random=False)["mean"].unstack()
probs.index = [f"{d:g} km" for d in grid["distance"]]
print("\nP(mode) for a typical city:")
print(probs[MODES].round(3).to_string())

city_bike = res.random_effects["city"]["mubike_Intercept"]["mean"].sort_values()
print("\nCities that bike most (log odds of bike against walk, deviation):")
print(city_bike.tail(3).round(2).to_string())

FIGURES.mkdir(parents=True, exist_ok=True)
line = pd.DataFrame({"distance": np.linspace(0.2, 15.0, 40)})
pl = res.predict(line, include_random=False)
fig, ax = plt.subplots(figsize=(6.4, 3.9))
for mode, color in zip(MODES, ("#2e7d32", "#1f5fa8", "#c62828"), strict=True):
    rows = pl.xs(mode, level=1)
    ax.plot(line["distance"], rows["mean"], color=color, lw=2, label=mode)
    ax.fill_between(line["distance"], rows["lower"], rows["upper"], color=color, alpha=0.2)
ax.set_xlabel("distance (km)")
ax.set_ylabel("probability (typical city)")
ax.set_title("Travel mode by distance: posterior mean and 94% interval", fontsize=11)
ax.legend(fontsize=8, frameon=False)
fig.savefig(FIGURES / "travel_mode.png", dpi=110, bbox_inches="tight")
print(f"saved {FIGURES / 'travel_mode.png'}")
