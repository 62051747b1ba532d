"""Zero-inflated and hurdle counts: salamanders in streams affected by mining.

glmmTMB's ``Salamanders`` data (bundled as ``salamanders``): counts of salamanders in
23 streams (``site``), 4 samples per stream and species; ``mined`` says whether the
stream is affected by mountaintop mining. 60% of the counts are zero. The model
``count ~ mined + (1 | site)`` is fitted as a Poisson GLMM, a zero-inflated Poisson
(``zi``: the probability of a structural zero, glmmTMB's ``ziformula = ~1``) and a
hurdle negative binomial (``hu``: the probability of a zero; the positive counts
over-dispersed).

Prints each model's summary line, its family parameters, the share of zeros it
replicates against the observed share, the expected count in mined and unmined
streams, and LOO; saves a plot of the replicated share of zeros to
``$MIXEDFIT_FIGURES`` (default ``examples/figures/``). ``MIXEDFIT_QUICK=1`` uses
short chains.
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
# ArviZ warns of high Pareto k values; the table counts them instead
warnings.filterwarnings("ignore", message="Estimated shape parameter of Pareto")

df = mf.load_dataset("salamanders")
observed = float(np.mean(df["count"] == 0))
print(f"Salamanders: {len(df)} counts in {df['site'].nunique()} streams; "
      f"{observed:.0%} are zero")

fits = {}
for family in ("poisson", "zero_inflated_poisson", "hurdle_negativebinomial"):
    fits[family] = mf.fit("count ~ mined + (1 | site)", df, family=family, random_seed=5,
                          progressbar=not QUICK, **SAMPLING)

print(fits["zero_inflated_poisson"].summary())

rows = []
shares = {}
new = pd.DataFrame({"mined": pd.Categorical(["no", "yes"], categories=["yes", "no"])})
for family, res in fits.items():
    rep = res.posterior_predictive(draws=400, random_seed=1)
    shares[family] = np.mean(rep == 0, axis=1)
    expected = res.predict(new, include_random=False)["mean"].to_numpy()
    params = res.family_parameters
    loo = res.loo()
    rows.append({
        "family": family,
        "parameters": ", ".join(f"{k} {v:.3f}" for k, v in params["mean"].items()) or "-",
        "replicated zeros": f"{shares[family].mean():.2f}",
        "E[count] unmined": round(float(expected[0]), 2),
        "E[count] mined": round(float(expected[1]), 2),
        "elpd_loo": round(float(loo.elpd_loo), 1),
        "Pareto k > 0.7": int(np.sum(np.asarray(loo.pareto_k) > 0.7))})
print()
print(f"Observed share of zeros: {observed:.2f}")
print(pd.DataFrame(rows).to_string(index=False))

FIGURES.mkdir(parents=True, exist_ok=True)
fig, ax = plt.subplots(figsize=(6.5, 3.8))
for family, share in shares.items():
    ax.hist(share, bins=30, alpha=0.6, label=family)
ax.axvline(observed, color="black", lw=2, label="observed")
ax.set_xlabel("share of zeros in a replicated data set")
ax.set_ylabel("replicated data sets")
ax.set_title("Salamanders: zeros the models reproduce")
ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig(FIGURES / "salamanders_zeros.png", dpi=110)
plt.close(fig)
print(f"\nSaved {FIGURES / 'salamanders_zeros.png'}")
