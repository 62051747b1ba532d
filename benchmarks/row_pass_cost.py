"""Cost of one gradient of the compiled density for the non-Gaussian families.

Times :func:`mixedfit.fast.kernel.logp_grad` (the best of three times 300 calls, after
one to compile or load it) on the simulated random-slope models of ``benchmarks/run.py``
and on verbagg (non-centred blocks, at a start point): the per-row pass is what a fit of
many rows spends its time in. Used to measure levers on the row pass (``fastmath``, see
docs/performance.md).

    python benchmarks/row_pass_cost.py
    python benchmarks/row_pass_cost.py --no-folds   # no fixed column folded into a block
    python benchmarks/row_pass_cost.py --no-runs    # rows as given, read one by one

``--no-folds`` and ``--no-runs`` turn off :func:`mixedfit.fast.layout.folded_columns` and
the rows' runs (:data:`mixedfit.fast.layout.RUN_MIN`) to measure what each gives.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import load_data  # noqa: E402

import mixedfit as mf  # noqa: E402
import mixedfit.fast.layout as layout_module  # noqa: E402
from mixedfit.fast import kernel  # noqa: E402
from mixedfit.fast.layout import make_layout  # noqa: E402
from mixedfit.spec import make_spec  # noqa: E402

SLOPE = "y ~ x + (1 + x | g)"
CASES = [("sim:bernoulli:20000:200", "bernoulli", SLOPE),
         ("sim:poisson:20000:200", "poisson", SLOPE),
         ("sim:gamma:2000:20", "gamma/log", SLOPE), ("sim:beta:2000:20", "beta", SLOPE),
         # the general row pass (mixedfit.fast.rowlik) at a size where it dominates
         ("sim:gamma:20000:200", "gamma/log", SLOPE),
         ("sim:poisson:20000:200", "negativebinomial", SLOPE),
         # crossed blocks, rows sorted by item, five group-level predictors
         ("verbagg", "bernoulli", "r2 ~ Anger + Gender + btype + situ + (1 | id) + (1 | item)")]


def main() -> None:
    if "--no-folds" in sys.argv:
        layout_module.folded_columns = lambda *args: {}
    if "--no-runs" in sys.argv:
        layout_module.RUN_MIN = 10**9
    for case, family, formula in CASES:
        data = load_data(case)
        name, _, link = family.partition("/")
        spec = make_spec(formula, data,
                         family=mf.families.get_family(name, link=link or None))
        lay = make_layout(spec.design, spec.family, spec.priors, [False] * len(spec.design.blocks))
        x = lay.initial_point(1)
        grad = np.zeros(lay.dim)
        kernel.logp_grad(x, grad, lay.buffer)
        calls = 300
        dt = np.inf
        for _ in range(3):  # the best of three
            start = time.perf_counter()
            for _ in range(calls):
                kernel.logp_grad(x, grad, lay.buffer)
            dt = min(dt, (time.perf_counter() - start) / calls)
        print(f"{case:28s} {family:10s} {dt * 1e3:.3f} ms per gradient, "
              f"{dt / len(data) * 1e9:.1f} ns per row")


if __name__ == "__main__":
    main()
