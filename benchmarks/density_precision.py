"""How many nats of the compiled log density a shifted response loses (issue 12).

The same model on the response ``y`` and on ``y + c`` is the same posterior, so the
compiled density at corresponding points must differ by a constant only. This script
evaluates both at 20 points (jittered start values) and prints the spread of the
difference (max - min over the points, in nats): rounding alone gives about 1e-12.

Corresponding points: with internal coordinates (:mod:`mixedfit.standardize`, this
version) the same internal vector; with the coordinates of earlier versions (the
user's units) the same vector with the intercept moved by ``c``.

    python benchmarks/density_precision.py
"""

from __future__ import annotations

import numpy as np
import pandas as pd

import mixedfit as mf
from mixedfit.design import build_design
from mixedfit.fast.layout import make_layout
from mixedfit.fast.sampler import logp_and_grad
from mixedfit.priors import resolve_priors


def spread(formula: str, data: pd.DataFrame, response: str, shift: float,
           marginal: bool) -> float:
    fam = mf.families.gaussian()
    layouts = []
    for c in (0.0, shift):
        d = build_design(formula, data.assign(**{response: data[response] + c}))
        layouts.append(make_layout(d, fam, resolve_priors(d, fam, None), [False] * len(d.blocks),
                                   marginal=marginal, sufficient=True))
    plain, moved = layouts
    internal = getattr(plain, "standardization", None) is not None
    rng = np.random.default_rng(1)
    diffs = []
    for _ in range(20):
        x = plain.initial_point(int(rng.integers(1 << 30))) + rng.normal(0, 0.2, plain.dim)
        x2 = x.copy()
        if not internal:
            x2[0] += shift  # the intercept, in the user's units
        diffs.append(logp_and_grad(moved, x2)[0] - logp_and_grad(plain, x)[0])
    return float(np.ptp(diffs))


def main() -> None:
    sleep = mf.load_dataset("sleepstudy")
    rng = np.random.default_rng(0)
    g = np.repeat(np.arange(20), 10)
    tiny = pd.DataFrame({"x": rng.normal(size=200), "g": g})
    tiny["y"] = 0.5 * tiny.x + rng.normal(0, 2e-3, 20)[g] + rng.normal(0, 1e-3, 200)
    print("model, shift: spread of the density difference over 20 points (nats)")
    for label, formula, data, resp in [
            ("sleepstudy", "Reaction ~ Days + (Days | Subject)", sleep, "Reaction"),
            ("residual sd 1e-3", "y ~ x + (1 | g)", tiny, "y")]:
        for marginal in (True, False):
            for shift in (1e4, 1e6, 1e8, 1e9):
                value = spread(formula, data, resp, shift, marginal)
                kind = "marginal" if marginal else "joint, sufficient statistics"
                print(f"{label} ({kind}), + {shift:.0e}: {value:.3g}")


if __name__ == "__main__":
    main()
