"""Paste strength: nested random effects, ``(1 | batch/cask)``.

lme4's ``Pastes`` data (bundled): the strength of a chemical paste, from 10
delivery batches, 3 casks sampled from each batch and 2 assays per cask. The casks
are labelled ``a``, ``b``, ``c`` within every batch, but cask ``a`` of batch ``A``
has nothing to do with cask ``a`` of batch ``B``: casks are *nested* in batches.
``(1 | batch/cask)`` is ``(1 | batch) + (1 | batch:cask)``: a random intercept per
batch and one per cask within its batch (30 casks). Writing
``(1 | batch) + (1 | cask)`` instead would wrongly make the 3 labels into 3 casks
shared by all batches (crossed). lme4: ``lmer(strength ~ 1 + (1 | batch/cask))``.

Prints the levels each version of the formula creates, the summary and the
variance shares of batches, casks and assays; saves the variance components and
a caterpillar plot of the casks to ``$MIXEDFIT_FIGURES`` (default
``examples/figures/``). ``MIXEDFIT_QUICK=1`` uses short chains.
"""

from __future__ import annotations

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # figures are only saved

import matplotlib.pyplot as plt  # noqa: E402

import mixedfit as mf  # noqa: E402
from mixedfit.design import build_design  # noqa: E402

QUICK = os.environ.get("MIXEDFIT_QUICK") == "1"
FIGURES = Path(os.environ.get("MIXEDFIT_FIGURES", Path(__file__).resolve().parent / "figures"))
SAMPLING = ({"draws": 250, "tune": 300, "chains": 2} if QUICK
            else {"draws": 1000, "tune": 1000, "chains": 4})

df = mf.load_dataset("pastes")
print("Grouping factors and their numbers of levels:")
for formula in ("strength ~ 1 + (1 | batch/cask)",
                "strength ~ 1 + (1 | batch) + (1 | cask)"):
    blocks = build_design(formula, df).blocks
    print(f"  {formula:<42} " + ", ".join(f"{b.group}: {b.n_levels}" for b in blocks))
print("  (the second is wrong for these data: it has only 3 'casks')")
print()

res = mf.fit("strength ~ 1 + (1 | batch/cask)", df, random_seed=3, progressbar=not QUICK,
             target_accept=0.95, **SAMPLING)
print(res.summary())

var = {"batch": res.draws("sd(batch)")[:, 0] ** 2,
       "cask in batch": res.draws("sd(batch:cask)")[:, 0] ** 2,
       "assay (residual)": res.draws("sigma") ** 2}
total = sum(var.values())
print()
print("Share of the variance (posterior mean):")
for name, v in var.items():
    print(f"  {name:<17} {float((v / total).mean()):.1%}")

FIGURES.mkdir(parents=True, exist_ok=True)
for name, fig in (("pastes_variance", res.plot_variance_components()),
                  ("pastes_casks", res.plot_caterpillar(group="batch:cask"))):
    fig.savefig(FIGURES / f"{name}.png", dpi=100, bbox_inches="tight")
    plt.close(fig)
print()
print(f"Figures saved to {FIGURES}")
