"""Cost of one log-density-and-gradient call of the compiled backend, joint against
marginal (group effects integrated out), on the bundled data sets and a simulated
``y ~ x + (1 + x | g)`` with 10,000 groups of 10 rows.

Usage::

    python benchmarks/gradient_cost.py
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

import mixedfit as mf
from mixedfit.design import build_design
from mixedfit.fast.layout import make_layout, marginal_reason
from mixedfit.fast.sampler import logp_and_grad
from mixedfit.priors import resolve_priors


def _simulated(groups: int = 10_000, per: int = 10) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    g = np.repeat(np.arange(groups), per)
    x = rng.standard_normal(groups * per)
    y = (1 + 0.5 * x + rng.standard_normal(groups)[g] + 0.3 * rng.standard_normal(groups)[g] * x
         + rng.standard_normal(groups * per))
    return pd.DataFrame({"y": y, "x": x, "g": g})


def per_call(layout, calls: int) -> float:
    """Seconds per call, after one warm-up call."""
    x = layout.init_center.copy()
    logp_and_grad(layout, x)
    start = time.perf_counter()
    for _ in range(calls):
        logp_and_grad(layout, x)
    return (time.perf_counter() - start) / calls


def main() -> None:
    fam = mf.families.gaussian()
    cases = [("Reaction ~ Days + (Days | Subject)", mf.load_dataset("sleepstudy"), 20_000),
             ("diameter ~ 1 + (1 | plate) + (1 | sample)", mf.load_dataset("penicillin"), 20_000),
             ("strength ~ 1 + (1 | batch/cask)", mf.load_dataset("pastes"), 20_000),
             ("y ~ x + (1 + x | g)  [1e5 rows, 1e4 groups]", _simulated(), 300)]
    print("| model | joint (us) | marginal (us) |\n|---|---|---|")
    for label, data, calls in cases:
        d = build_design(label.split("  [")[0], data)
        pri = resolve_priors(d, fam, None)
        cells = []
        for marginal in (False, True):
            if marginal and marginal_reason(d, fam) is not None:
                cells.append("-")
                continue
            lay = make_layout(d, fam, pri, [False] * len(d.blocks), marginal=marginal)
            cells.append(f"{per_call(lay, calls) * 1e6:.1f}")
        print(f"| {label} | {cells[0]} | {cells[1]} |")


if __name__ == "__main__":
    main()
