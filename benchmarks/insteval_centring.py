"""InstEval with a chosen centred (1) / non-centred (0) form per block, against the
automatic choice: the measurement behind the many-levels and nesting rules of
``mixedfit.parameterisation``. Blocks in formula order: s, d, dept.

Usage::

    python benchmarks/insteval_centring.py 011   # s non-centred, d and dept centred
    python benchmarks/insteval_centring.py 110   # dept non-centred
    python benchmarks/insteval_centring.py auto  # the automatic choice
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run  # noqa: E402

import mixedfit as mf  # noqa: E402
import mixedfit.parameterisation as parameterisation  # noqa: E402

FORMULA = "y ~ 1 + service + (1 | s) + (1 | d) + (1 | dept)"


def main(choice: str) -> None:
    warnings.simplefilter("ignore")
    data = run.load_data("insteval")
    if choice != "auto":
        forms = [c == "1" for c in choice]
        parameterisation.choose_centering = lambda design, family: forms
    start = time.perf_counter()
    res = mf.fit(FORMULA, data, random_seed=1, progressbar=False)
    conv = res._convergence()
    print(f"{choice}: centred {res.info['centered']}, {time.perf_counter() - start:.1f} s, "
          f"max R-hat {conv['max_r_hat']:.4f}, min bulk ESS {conv['min_ess_bulk']:.0f}, "
          f"{conv['divergences']} divergences, target_accept {res.info['target_accept']}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "auto")
