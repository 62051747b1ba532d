"""The cases of issue 12 ("no silent wrong answers"), measured with the public API.

Each fit runs with the defaults (4 chains x 1000 draws after 1000 warm-up) and prints
its convergence summary and the estimates that should not depend on the user's units;
each bad-argument case prints what happened and how long it took to happen.

    python benchmarks/units.py            # every case
    python benchmarks/units.py fits       # only the fits
    python benchmarks/units.py errors     # only the bad-argument cases
"""

from __future__ import annotations

import sys
import time
import warnings

import numpy as np

import mixedfit as mf


def _summary(res) -> str:
    d = res.diagnostics().parameters
    vc = res.variance_components
    parts = [f"max R-hat {d['r_hat'].max():.3f}", f"min bulk ESS {d['ess_bulk'].min():.0f}",
             f"divergences {int(res.idata.sample_stats['diverging'].sum())}"]
    fe = res.fixed_effects
    for name in fe.index:
        parts.append(f"{name} {fe.loc[name, 'mean']:.4g} [{fe.loc[name, 'lower']:.4g}, "
                     f"{fe.loc[name, 'upper']:.4g}]")
    for (group, name), row in vc.iterrows():
        if name.startswith(("sd(", "cor(")) or group == "Residual" and name == "sd":
            label = "sigma" if group == "Residual" else f"{name[:-1]}|{group})"
            parts.append(f"{label} {row['mean']:.4g}")
    return "; ".join(parts)


def _fit(label: str, formula: str, data, **kw) -> None:
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            res = mf.fit(formula, data, random_seed=1, progressbar=False, **kw)
        except Exception as err:  # noqa: BLE001 - the point is to show what happens
            print(f"{label}: {type(err).__name__} after {time.perf_counter() - start:.1f} s: "
                  f"{str(err).splitlines()[0]}")
            return
    warned = sorted({type(w.message).__name__ for w in caught
                     if issubclass(w.category, mf.MixedFitWarning)})
    print(f"{label} ({time.perf_counter() - start:.1f} s, backend {res.info['backend']}, "
          f"warnings: {', '.join(warned) or 'none'}): {_summary(res)}")


def fits() -> None:
    sleep = mf.load_dataset("sleepstudy")
    f = "Reaction ~ Days + (Days | Subject)"
    _fit("sleepstudy", f, sleep)
    _fit("sleepstudy, Reaction + 1e9", f, sleep.assign(Reaction=sleep.Reaction + 1e9))
    _fit("sleepstudy, Reaction * 1e-6", f, sleep.assign(Reaction=sleep.Reaction * 1e-6))
    _fit("sleepstudy, Days + 2000", f, sleep.assign(Days=sleep.Days + 2000))
    _fit("sleepstudy, Days * 1e5", f, sleep.assign(Days=sleep.Days * 1e5))
    grouse = mf.load_dataset("grouseticks")
    _fit("grouseticks, numeric YEAR", "TICKS ~ YEAR + scale(HEIGHT) + (1 | BROOD) + (1 | INDEX)",
         grouse, family="poisson")
    _fit("grouseticks, YEAR - 96", "TICKS ~ YEAR + scale(HEIGHT) + (1 | BROOD) + (1 | INDEX)",
         grouse.assign(YEAR=grouse.YEAR - 96), family="poisson")


def _attempt(label: str, func) -> None:
    start = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            func()
    except Exception as err:  # noqa: BLE001 - the point is to show what happens
        print(f"{label}: {type(err).__module__}.{type(err).__name__} after "
              f"{time.perf_counter() - start:.1f} s: {str(err).splitlines()[0][:200]}")
        return
    print(f"{label}: accepted ({time.perf_counter() - start:.1f} s)")


def errors() -> None:
    sleep = mf.load_dataset("sleepstudy")
    f = "Reaction ~ Days + (Days | Subject)"
    quick = dict(draws=100, tune=100, chains=2, random_seed=1, progressbar=False)
    _attempt("prior with sigma=-1", lambda: mf.fit(
        f, sleep, priors={"Days": mf.Prior("Normal", mu=0, sigma=-1)}, **quick))
    _attempt("centered=[False, True]", lambda: mf.fit(f, sleep, centered=[False, True],
                                                      **quick))
    _attempt("constant response", lambda: mf.fit(f, sleep.assign(Reaction=250.0), **quick))
    rng = np.random.default_rng(0)
    counts = sleep.assign(k=np.zeros(len(sleep), dtype=int))
    _attempt("all-zero Poisson response", lambda: mf.fit("k ~ Days + (1 | Subject)", counts,
                                                         family="poisson", **quick))
    mixed = {"sd(Intercept|Subject)": mf.Prior("HalfNormal", sigma=50),
             "sd(Days|Subject)": mf.Prior("Exponential", lam=0.1)}
    _attempt("mixed sd priors, compiled", lambda: mf.fit(f, sleep, priors=mixed, **quick))
    _attempt("mixed sd priors, pymc", lambda: mf.fit(f, sleep, priors=mixed, backend="pymc",
                                                     **quick))
    _attempt("mixed sd priors, prior_predictive", lambda: mf.prior_predictive(
        f, sleep, priors=mixed, draws=20, random_seed=1))
    del rng


if __name__ == "__main__":
    which = sys.argv[1:] or ["fits", "errors"]
    print(f"mixedfit {mf.__version__}")
    if "errors" in which:
        errors()
    if "fits" in which:
        fits()
