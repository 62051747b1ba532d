"""Divergent transitions and bulk ESS of the default (group effects integrated out)
fits of the small Gaussian models at several target_accept values, over 6 seeds.

Usage::

    python benchmarks/target_accept.py
"""

from __future__ import annotations

import warnings

import mixedfit as mf

CASES = [("Yield ~ 1 + (1 | Batch)", "dyestuff"),
         ("Reaction ~ Days + (Days | Subject)", "sleepstudy"),
         ("strength ~ 1 + (1 | batch/cask)", "pastes"),
         ("diameter ~ 1 + (1 | plate) + (1 | sample)", "penicillin")]


def main() -> None:
    warnings.simplefilter("ignore")
    for formula, name in CASES:
        data = mf.load_dataset(name)
        for target in (0.8, 0.9, 0.95):
            divergences, ess, seconds = [], [], 0.0
            for seed in range(6):
                res = mf.fit(formula, data, random_seed=seed, progressbar=False,
                             target_accept=target, warn=False)
                conv = res._convergence()
                divergences.append(conv["divergences"])
                ess.append(int(conv["min_ess_bulk"]))
                seconds += res.info["time"]
            print(f"{name:10s} target_accept={target}: divergences {divergences}, "
                  f"min bulk ESS {ess}, {seconds / 6:.2f} s per fit", flush=True)


if __name__ == "__main__":
    main()
