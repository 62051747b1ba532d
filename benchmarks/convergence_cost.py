"""What a fit's convergence checks cost: ``res.diagnostics()`` of a sleepstudy fit and
``rhat_ess`` of 45 parameters x 4,000 draws (the size of that fit's checks).

    python benchmarks/convergence_cost.py

Compare two versions of mixedfit in one sitting, alternating, by running it against a
checkout of the other (the first line names the mixedfit that ran)::

    git worktree add /tmp/old 85e976f
    for i in 1 2 3; do PYTHONPATH=/tmp/old python benchmarks/convergence_cost.py
                       python benchmarks/convergence_cost.py; done

Prints the minimum and the median over 10 rounds of 10 calls, in milliseconds.
"""

from __future__ import annotations

import time
import warnings

import numpy as np

import mixedfit as mf
from mixedfit.convergence import rhat_ess
from mixedfit.results.diagnostics import diagnose


def timed(f, rounds: int = 10, calls: int = 10) -> str:
    f()  # (a first call compiles what needs compiling)
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        for _ in range(calls):
            f()
        times.append((time.perf_counter() - t) / calls * 1e3)
    return f"{min(times):.1f} / {np.median(times):.1f}"


def main() -> None:
    warnings.simplefilter("ignore")
    res = mf.fit("Reaction ~ Days + (Days | Subject)", mf.load_dataset("sleepstudy"),
                 random_seed=1, log_likelihood=False, progressbar=False)
    draws = np.random.default_rng(0).normal(size=(4, 1000, 45))
    print(f"mixedfit from {mf.__file__}")
    print(f"res.diagnostics(), min / median ms: {timed(lambda: diagnose(res))}")
    print(f"rhat_ess(4 x 1000 x 45), min / median ms: {timed(lambda: rhat_ess(draws))}")


if __name__ == "__main__":
    main()
