"""nutpie's gradient-based diagonal mass matrix against Stan's variance-based one.

Fits each case with mixedfit's defaults twice, changing only
``FitPlan.variance_mass_matrix`` (what ``mf.fit`` does by default for non-Gaussian
models without a low-rank matrix), and prints the smallest bulk ESS, the largest
R-hat, the divergences, the mean number of leapfrog steps and the time
(4 chains x 1000 draws after 1000 warm-up). The measurement behind the default; see
docs/performance.md.

    python benchmarks/mass_matrix.py                       # the grouseticks models, seeds 1 and 2
    python benchmarks/mass_matrix.py --cases bernoulli_2e4,verbagg --seeds 1
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import CASES, load_data  # noqa: E402

import mixedfit as mf  # noqa: E402
from mixedfit.api import _run  # noqa: E402
from mixedfit.plan import make_plan  # noqa: E402
from mixedfit.spec import make_spec  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="grouseticks_nb,grouseticks_obs")
    parser.add_argument("--seeds", default="1,2")
    args = parser.parse_args()
    for case in args.cases.split(","):
        formula, _, data_spec, family = CASES[case]
        name, _, link = family.partition("/")
        spec = make_spec(formula, load_data(data_spec),
                         family=mf.families.get_family(name, link=link or None))
        for seed in (int(s) for s in args.seeds.split(",")):
            for variance in (False, True):
                plan = make_plan(spec, random_seed=seed, progressbar=False, warn=False)
                if plan.low_rank:
                    print(f"{case}: a low-rank mass matrix (gradient-based only); skipped")
                    break
                plan = dataclasses.replace(plan, variance_mass_matrix=variance)
                start = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    res = _run(spec, plan)
                c = res.convergence()
                steps = float(res.idata.sample_stats["n_steps"].mean())
                kind = "variance" if variance else "gradient"
                print(f"{case:16s} seed {seed}  {kind:8s}  min bulk ESS {c['min_ess_bulk']:6.0f}  "
                      f"max R-hat {c['max_r_hat']:.3f}  divergences {c['divergences']:3d}  "
                      f"steps {steps:5.1f}  {time.perf_counter() - start:5.1f} s", flush=True)


if __name__ == "__main__":
    main()
