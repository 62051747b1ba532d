"""Penicillin assay: crossed random effects, ``(1 | plate) + (1 | sample)``.

lme4's ``Penicillin`` data (bundled): the diameter of the zone where bacterial
growth is inhibited, measured for 6 penicillin samples on each of 24 plates.
Every sample is tested on every plate, so the two grouping factors are
*crossed*: a measurement is shifted by its plate and by its sample, and the two
shifts add up. lme4: ``lmer(diameter ~ 1 + (1 | plate) + (1 | sample))``.

Prints the summary, how the variance splits between plates, samples and the
residual, and each sample's estimated mean diameter (the assay's goal: the
potency of each sample); saves a caterpillar plot of the samples and the
variance components to ``$MIXEDFIT_FIGURES`` (default ``examples/figures/``).
``MIXEDFIT_QUICK=1`` uses short chains.
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # figures are only saved

import matplotlib.pyplot as plt  # noqa: E402

import mixedfit as mf  # noqa: E402

QUICK = os.environ.get("MIXEDFIT_QUICK") == "1"
FIGURES = Path(os.environ.get("MIXEDFIT_FIGURES", Path(__file__).resolve().parent / "figures"))
SAMPLING = ({"draws": 250, "tune": 300, "chains": 2} if QUICK
            else {"draws": 1000, "tune": 1000, "chains": 4})

df = mf.load_dataset("penicillin")
res = mf.fit("diameter ~ 1 + (1 | plate) + (1 | sample)", df, random_seed=5,
             progressbar=not QUICK, **SAMPLING)
print(res.summary())

# Share of the variance of a single measurement due to each source (posterior draws).
var = {"plate": res.draws("sd(plate)")[:, 0] ** 2,
       "sample": res.draws("sd(sample)")[:, 0] ** 2,
       "residual": res.draws("sigma") ** 2}
total = sum(var.values())
print()
print("Share of the variance (posterior mean):")
for name, v in var.items():
    print(f"  {name:<9} {float((v / total).mean()):.1%}")

print()
print("Mean diameter of each sample (fixed intercept + sample effect), mm:")
print(res.coefficients["sample"]["Intercept"].round(2))

FIGURES.mkdir(parents=True, exist_ok=True)
for name, fig in (("penicillin_samples", res.plot_caterpillar(group="sample",
                                                              coefficients=True)),
                  ("penicillin_variance", res.plot_variance_components())):
    fig.savefig(FIGURES / f"{name}.png", dpi=100, bbox_inches="tight")
    plt.close(fig)
print()
print(f"Figures saved to {FIGURES}")
