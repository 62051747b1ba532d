"""An out-of-core Gaussian fit: a Parquet dataset of 1e8 rows and 1e4 groups.

    python benchmarks/out_of_core.py                    # 1e8 rows in 100 files
    python benchmarks/out_of_core.py --rows 10000000    # a smaller run

Writes ``y ~ x + (1 + x | g)`` data (``x`` standard normal, 10,000 groups with
intercept sd 1 and slope sd 0.5, residual sd 1; seed 0) as Parquet files of 1e6 rows
to a temporary folder (deleted afterwards; about 20 bytes a row), then fits it with
``mf.fit(formula, folder)`` in a fresh Python process with the defaults (4 chains x
1000 draws after 1000 warm-up). Reports the time of the statistics (two passes over
the files with Dask's default scheduler), of sampling and drawing the group effects,
the total, the peak resident memory of the fitting process (``ru_maxrss``) and the
estimates against the values simulated. Results go to
``benchmarks/results-out-of-core-<date>.md`` and ``.json``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import pandas as pd

GROUPS = 10_000
PER_FILE = 1_000_000

PROBE = """
import json, resource, sys, time
t0 = time.perf_counter()
import mixedfit as mf
from mixedfit.spec import make_spec
from mixedfit.plan import make_plan
from mixedfit.api import _run
spec = make_spec("y ~ x + (1 + x | g)", sys.argv[1])
t1 = time.perf_counter()
res = _run(spec, make_plan(spec, progressbar=False, random_seed=1))
t2 = time.perf_counter()
fe, vc = res.fixed_effects, res.variance_components
print(json.dumps({"import_and_stats_s": t1 - t0, "fit_s": t2 - t1, "sampling_s": res.plan.time,
                  "total_s": t2 - t0, "rows": res.design.n_obs,
                  "partitions": res.design.stats.partitions,
                  "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
                  "fixed": fe["mean"].to_dict(), "fixed_sd": fe["sd"].to_dict(),
                  "r_hat_max": float(max(fe["r_hat"].max(), vc["r_hat"].max())),
                  "ess_min": float(min(fe["ess_bulk"].min(), vc["ess_bulk"].min())),
                  "divergences": int(res.idata.sample_stats["diverging"].values.sum()),
                  "sd": {str(k): round(float(v), 4) for k, v in vc["mean"].items()}},
                 default=str))
"""


def write(folder: str, rows: int) -> float:
    """The data set, in files of :data:`PER_FILE` rows; returns the seconds taken."""
    start = time.perf_counter()
    rng = np.random.default_rng(0)
    u0, u1 = rng.normal(0, 1.0, GROUPS), rng.normal(0, 0.5, GROUPS)
    for i in range(-(-rows // PER_FILE)):
        n = min(PER_FILE, rows - i * PER_FILE)
        g = rng.integers(0, GROUPS, n).astype(np.int32)
        x = rng.normal(0, 1, n)
        y = 1.0 + 0.5 * x + u0[g] + u1[g] * x + rng.normal(0, 1, n)
        pd.DataFrame({"y": y, "x": x, "g": g}).to_parquet(
            os.path.join(folder, f"part-{i:04d}.parquet"))
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000_000)
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="mixedfit-ooc-")
    try:
        written = write(folder, args.rows)
        out = subprocess.run([sys.executable, "-c", PROBE, folder], capture_output=True,
                             text=True, check=False)
        if out.returncode:
            print(out.stderr)
            raise SystemExit(out.returncode)
        result = json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    result.update({"write_s": written, "machine": f"{platform.machine()}, "
                   f"{os.cpu_count()} cores, Python {platform.python_version()}"})
    day = datetime.date.today().isoformat()
    here = os.path.dirname(os.path.abspath(__file__))
    base = os.path.join(here, f"results-out-of-core-{day}")
    with open(base + ".json", "w") as fh:
        json.dump(result, fh, indent=1)
    lines = [f"# Out-of-core fit, {args.rows:,} rows, {GROUPS:,} groups ({day})", "",
             f"Machine: {result['machine']}. Command: `python benchmarks/out_of_core.py"
             f"{'' if args.rows == 100_000_000 else f' --rows {args.rows}'}`", "",
             "| step | value |", "|---|---|",
             f"| writing the Parquet files (not part of the fit) | {written:.0f} s |",
             f"| import and statistics ({result['partitions']} partitions, two passes) | "
             f"{result['import_and_stats_s']:.1f} s |",
             f"| sampling and group effects | {result['fit_s']:.1f} s |",
             f"| total | {result['total_s']:.1f} s |",
             f"| peak memory of the fitting process | {result['peak_rss_gb']:.2f} GB |",
             f"| max R-hat, min bulk ESS, divergences | {result['r_hat_max']:.3f}, "
             f"{result['ess_min']:.0f}, {result['divergences']} |",
             f"| Intercept, x (simulated 1, 0.5 plus the groups' mean effects) | "
             f"{result['fixed']['Intercept']:.4f}, {result['fixed']['x']:.4f} |"]
    with open(base + ".md", "w") as fh:
        fh.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
