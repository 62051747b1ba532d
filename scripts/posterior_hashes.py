"""Hashes of the posterior draws of fixed-seed fits: proof that a refactoring changed no number.

Fits, each with its default options and a fixed seed (4 chains x 1000 draws after 1000
warm-up, ``random_seed=20241122`` as the test suite's ``cached_fit``), the lme4
reference models of ``tests/accuracy/test_lme4_agreement.py`` and the GLMM fits of
``tests/accuracy/test_glmm.py`` (cbpp, verbagg and the simulated recovery fits of every family),
and prints one SHA-256 per fit over every posterior variable (name, dims, float64
bytes, in name order). Identical hashes mean identical draws, bit for bit.

    python scripts/posterior_hashes.py                  # print the hashes
    python scripts/posterior_hashes.py --save DIR       # also keep the draws (npz)
    python scripts/posterior_hashes.py --compare DIR    # and the largest difference
                                                        # from draws kept before
    python scripts/posterior_hashes.py --skip verbagg   # leave out slow fits
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

import mixedfit as mf

SEED = 20241122
LONG = {"draws": 1000, "tune": 1000, "chains": 4}
MEDIUM = {"draws": 500, "tune": 500, "chains": 4}


def _cases() -> dict[str, tuple[str, Any, dict[str, Any]]]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.accuracy.test_glmm import RECOVERY, _simulate

    cases: dict[str, tuple[str, Any, dict[str, Any]]] = {
        "sleepstudy_corr": ("Reaction ~ Days + (Days | Subject)",
                            mf.load_dataset("sleepstudy"), {}),
        "sleepstudy_uncorr": ("Reaction ~ Days + (Days || Subject)",
                              mf.load_dataset("sleepstudy"), {}),
        "dyestuff": ("Yield ~ 1 + (1 | Batch)", mf.load_dataset("dyestuff"), {}),
        "penicillin": ("diameter ~ 1 + (1 | plate) + (1 | sample)",
                       mf.load_dataset("penicillin"), {}),
        "pastes": ("strength ~ 1 + (1 | batch/cask)", mf.load_dataset("pastes"), {}),
        "cbpp": ("cbind(incidence, size - incidence) ~ period + (1 | herd)",
                 mf.load_dataset("cbpp"), {"family": "binomial"}),
        "verbagg": ("r2 ~ Anger + Gender + btype + situ + (1 | id) + (1 | item)",
                    mf.load_dataset("verbagg"), {"family": "bernoulli"}),
    }
    for name, family, formula, slopes, extra in RECOVERY:
        data, _ = _simulate(name, seed=11, slopes=slopes)
        opts = LONG if slopes else MEDIUM
        cases[f"recovery-{name}"] = (formula, data, {"family": family, **opts, **extra})
    return cases


def _draws(res: Any) -> dict[str, np.ndarray]:
    post = res.idata.posterior
    return {str(v): np.ascontiguousarray(post[v].values, dtype=np.float64)
            for v in sorted(post.data_vars)}


def _hash(draws: dict[str, np.ndarray], dims: dict[str, tuple[str, ...]]) -> str:
    h = hashlib.sha256()
    for name, values in draws.items():
        h.update(name.encode())
        h.update(repr(dims[name]).encode())
        h.update(values.tobytes())
    return h.hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--save", help="directory to keep the draws in (npz per fit)")
    parser.add_argument("--compare", help="directory of draws kept before, to compare with")
    parser.add_argument("--skip", nargs="*", default=[], help="fits to leave out")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")
    for key, (formula, data, options) in _cases().items():
        if key in args.skip:
            continue
        start = time.perf_counter()
        res = mf.fit(formula, data, random_seed=SEED, progressbar=False,
                     **{**LONG, **options})
        draws = _draws(res)
        dims = {k: tuple(res.idata.posterior[k].dims) for k in draws}
        line = f"{key:28s} {_hash(draws, dims)}  ({time.perf_counter() - start:.0f} s)"
        if args.save:
            Path(args.save).mkdir(parents=True, exist_ok=True)
            np.savez(Path(args.save) / f"{key}.npz", **draws)
        if args.compare:
            before = np.load(Path(args.compare) / f"{key}.npz")
            names = sorted(before.files)
            if names != list(draws):
                line += f"  variables differ: {sorted(set(names) ^ set(draws))}"
            else:
                worst = max(float(np.max(np.abs(before[n] - draws[n]))) for n in names)
                line += f"  max |difference| {worst:.1e}"
        print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
