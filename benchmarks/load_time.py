"""Time of the first ``mf.load`` in a fresh Python session, and the file's size.

    python benchmarks/load_time.py

Saves a sleepstudy fit (4 chains x 1000 draws) and a fit the size of lme4's ScotsSec
(3,435 rows, 148 x 19 crossed schools, 2 chains x 500 draws), then loads each in a new
interpreter five times: ``import mixedfit`` (lazy), ``mf.load(path)``, and the first
table (``res.fixed_effects``, which imports ArviZ). Reports the medians.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import warnings

import numpy as np
import pandas as pd

import mixedfit as mf

PROBE = """
import sys, time
t0 = time.perf_counter(); import mixedfit as mf; t1 = time.perf_counter()
res = mf.load(sys.argv[1]); t2 = time.perf_counter()
res.fixed_effects; t3 = time.perf_counter()
print(t1 - t0, t2 - t1, t3 - t2)
"""


def _fits(folder: str) -> dict[str, str]:
    warnings.simplefilter("ignore")
    sleep = mf.fit("Reaction ~ Days + (Days | Subject)", mf.load_dataset("sleepstudy"),
                   random_seed=1, progressbar=False)
    rng = np.random.default_rng(1)
    n = 3435
    df = pd.DataFrame({"primary": rng.integers(0, 148, n).astype(str),
                       "second": rng.integers(0, 19, n).astype(str),
                       "verbal": rng.normal(0, 10, n), "sex": rng.choice(["M", "F"], n)})
    df["attain"] = (5 + 0.15 * df.verbal + rng.normal(0, 0.8, 148)[df.primary.astype(int)]
                    + rng.normal(0, 0.3, 19)[df.second.astype(int)] + rng.normal(0, 2, n))
    scots = mf.fit("attain ~ verbal * sex + (1 | primary) + (1 | second)", df, draws=500,
                   chains=2, random_seed=1, progressbar=False)
    paths = {"sleepstudy": os.path.join(folder, "sleep.nc"),
             "ScotsSec-sized": os.path.join(folder, "scots.nc")}
    sleep.save(paths["sleepstudy"])
    scots.save(paths["ScotsSec-sized"])
    return paths


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        for name, path in _fits(folder).items():
            runs = np.array([[float(v) for v in subprocess.run(
                [sys.executable, "-c", PROBE, path], capture_output=True, text=True,
                check=True).stdout.split()] for _ in range(5)])
            imp, load, table = np.median(runs, axis=0)
            print(f"{name}: file {os.path.getsize(path) / 1e6:.1f} MB; import mixedfit "
                  f"{imp:.2f} s, first mf.load {load:.2f} s, first table {table:.2f} s "
                  f"(medians of 5 fresh sessions)")


if __name__ == "__main__":
    main()
