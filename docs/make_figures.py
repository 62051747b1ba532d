"""Render the figures shown in docs/plots.md and docs/interpreting.md into docs/images/.

Run from the repository root::

    python docs/make_figures.py            # the published figures (a few minutes)
    python docs/make_figures.py --quick --out /tmp/figs   # short chains, for a look
    python docs/make_figures.py --only effects_cohort contrasts_cbpp   # some of them

The fits use fixed seeds, so the figures change only when the code does.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

IMAGES = Path(__file__).resolve().parent / "images"
DPI = 100
MAX_BYTES = 200_000

SLEEP_FORMULA = "Reaction ~ Days + (Days | Subject)"
CBPP_FORMULA = "cbind(incidence, size - incidence) ~ period + (1 | herd)"
COHORT_FORMULA = "Reaction ~ Days * cohort + (Days | Subject)"


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


def figures(options: dict[str, Any]) -> dict[str, Callable[[], Any]]:
    """Each figure's name -> a function drawing it; the fits are made on first use."""
    import numpy as np

    import mixedfit as mf

    fits: dict[str, Any] = {}

    def fitted(key: str) -> Any:
        if key in fits:
            return fits[key]
        if key == "sleep":
            fits[key] = mf.fit(SLEEP_FORMULA, mf.load_dataset("sleepstudy"),
                               random_seed=20240601, progressbar=False, **options)
        elif key == "cbpp":
            fits[key] = mf.fit(CBPP_FORMULA, mf.load_dataset("cbpp"), family="binomial",
                               random_seed=20240601, progressbar=False, **options)
        elif key == "cohort":  # sleepstudy with a factor: even or odd subject number
            data = mf.load_dataset("sleepstudy")
            data["cohort"] = np.where(data["Subject"].astype(int) % 2 == 0, "even", "odd")
            fits[key] = mf.fit(COHORT_FORMULA, data, random_seed=20240601,
                               progressbar=False, **options)
        elif key == "pp_sleep":
            fits[key] = mf.prior_predictive(SLEEP_FORMULA, mf.load_dataset("sleepstudy"),
                                            draws=200, random_seed=3)
        elif key == "pp_cbpp":
            fits[key] = mf.prior_predictive(CBPP_FORMULA, mf.load_dataset("cbpp"),
                                            family="binomial", draws=200, random_seed=3)
        return fits[key]

    return {
        "trace": lambda: fitted("sleep").plot_trace(),
        "rank": lambda: fitted("sleep").plot_trace(kind="rank"),
        "caterpillar": lambda: fitted("sleep").plot_caterpillar(),
        "caterpillar_coefficients": lambda: fitted("sleep").plot_caterpillar(
            coefficients=True),
        "shrinkage_2d": lambda: fitted("sleep").plot_shrinkage(),
        "shrinkage_1d": lambda: fitted("sleep").plot_shrinkage(terms="Days"),
        "shrinkage_cbpp": lambda: fitted("cbpp").plot_shrinkage(sort="n_obs"),
        "variance_components": lambda: fitted("sleep").plot_variance_components(),
        "ppc": lambda: fitted("sleep").plot_ppc(random_seed=1),
        "ppc_cbpp": lambda: fitted("cbpp").plot_ppc(random_seed=1),
        "ppc_cbpp_proportion": lambda: fitted("cbpp").plot_ppc(kind="proportion",
                                                               random_seed=1),
        "ppc_grouped": lambda: fitted("sleep").plot_ppc_grouped("Subject", stat="sd",
                                                                random_seed=1),
        "prior_predictive": lambda: fitted("pp_sleep").plot(),
        "prior_predictive_cbpp": lambda: fitted("pp_cbpp").plot(),
        "effects_cohort": lambda: fitted("cohort").plot_effects("Days", "cohort", data=True),
        "contrasts_cbpp": lambda: fitted("cbpp").plot_contrasts("period", scale="response"),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short chains (2 x 300)")
    parser.add_argument("--out", type=Path, default=IMAGES, help="output folder")
    parser.add_argument("--only", nargs="+", metavar="NAME",
                        help="draw only these figures (names without .png)")
    args = parser.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")

    options: dict[str, Any] = {"draws": 1000, "tune": 1000, "chains": 4}
    if args.quick:
        options = {"draws": 300, "tune": 300, "chains": 2}
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)

    draw = figures(options)
    names = args.only or list(draw)
    unknown = [n for n in names if n not in draw]
    if unknown:
        parser.error(f"unknown figure(s) {', '.join(unknown)}; known: {', '.join(draw)}")
    for name in names:
        save(draw[name](), name, out)


if __name__ == "__main__":
    main()
