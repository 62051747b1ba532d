"""Render the figures shown in docs/plots.md into docs/images/.

Run from the repository root::

    python docs/make_figures.py            # the published figures (a few minutes)
    python docs/make_figures.py --quick --out /tmp/figs   # short chains, for a look

The fits use fixed seeds, so the figures change only when the code does.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

IMAGES = Path(__file__).resolve().parent / "images"
DPI = 100
MAX_BYTES = 200_000

SLEEP_FORMULA = "Reaction ~ Days + (Days | Subject)"
CBPP_FORMULA = "cbind(incidence, size - incidence) ~ period + (1 | herd)"


def save(fig: Any, name: str, out: Path) -> Path:
    """Write ``fig`` as ``out/<name>.png``, close it, and check its size."""
    import matplotlib.pyplot as plt

    path = out / f"{name}.png"
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    # a 256-colour palette keeps the PNGs small (dense trace plots especially)
    from PIL import Image

    with Image.open(path) as img:
        small = img.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    small.save(path, optimize=True)
    size = path.stat().st_size
    print(f"{path}: {size / 1000:.0f} kB")
    if size > MAX_BYTES:
        raise SystemExit(f"{path} is over {MAX_BYTES // 1000} kB; make the figure smaller.")
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short chains (2 x 300)")
    parser.add_argument("--out", type=Path, default=IMAGES, help="output folder")
    args = parser.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    import mixedfit as mf

    options: dict[str, Any] = {"draws": 1000, "tune": 1000, "chains": 4}
    if args.quick:
        options = {"draws": 300, "tune": 300, "chains": 2}
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)

    sleepstudy = mf.load_dataset("sleepstudy")
    cbpp_data = mf.load_dataset("cbpp")
    sleep = mf.fit(SLEEP_FORMULA, sleepstudy, random_seed=20240601, progressbar=False,
                   **options)
    cbpp = mf.fit(CBPP_FORMULA, cbpp_data, family="binomial", random_seed=20240601,
                  progressbar=False, **options)
    pp_sleep = mf.prior_predictive(SLEEP_FORMULA, sleepstudy, draws=200, random_seed=3)
    pp_cbpp = mf.prior_predictive(CBPP_FORMULA, cbpp_data, family="binomial", draws=200,
                                  random_seed=3)

    save(sleep.plot_trace(), "trace", out)
    save(sleep.plot_trace(kind="rank"), "rank", out)
    save(sleep.plot_caterpillar(), "caterpillar", out)
    save(sleep.plot_caterpillar(coefficients=True), "caterpillar_coefficients", out)
    save(sleep.plot_shrinkage(), "shrinkage_2d", out)
    save(sleep.plot_shrinkage(terms="Days"), "shrinkage_1d", out)
    save(cbpp.plot_shrinkage(sort="n_obs"), "shrinkage_cbpp", out)
    save(sleep.plot_variance_components(), "variance_components", out)
    save(sleep.plot_ppc(random_seed=1), "ppc", out)
    save(cbpp.plot_ppc(random_seed=1), "ppc_cbpp", out)
    save(cbpp.plot_ppc(kind="proportion", random_seed=1), "ppc_cbpp_proportion", out)
    save(sleep.plot_ppc_grouped("Subject", stat="sd", random_seed=1), "ppc_grouped", out)
    save(pp_sleep.plot(), "prior_predictive", out)
    save(pp_cbpp.plot(), "prior_predictive_cbpp", out)


if __name__ == "__main__":
    main()
