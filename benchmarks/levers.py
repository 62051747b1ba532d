"""Measurements behind the levers of docs/performance.md ("Levers measured") that no
benchmark case covers: run one part at a time.

    python benchmarks/levers.py steps      # leapfrog steps: nutpie's mass matrices
    python benchmarks/levers.py parts      # a gradient's row pass, part by part
    python benchmarks/levers.py runs       # rows read run by run, by run length
    python benchmarks/levers.py centring   # parameterisations of verbagg and grouseticks
    python benchmarks/levers.py hard nb,obs,cbpp default,tune2000 1,2,3,4
                                           # warm-up levers on issue 14's hard geometries
    python benchmarks/levers.py settings verbagg d/d,0.95/1000,0.9/300 1,2,3,4
                                           # target_accept/warm-up of benchmarks/run.py cases

``steps``: the simulated 20,000-row Bernoulli model ``y ~ x + (1 + x | g)`` sampled by
nutpie on the compiled kernel (2 chains x 1000 after 1000 warm-up, seed 1) with the
variance-based diagonal mass matrix (mixedfit's default for it), the low-rank matrix and
nutpie's gradient-based diagonal: seconds, leapfrog steps (warm-up included), min bulk
ESS. ``parts``: numba loops on the same model's arrays (ns per row, 3,000 calls): the
fixed effects, the group effects' gathers and scatters, unsorted and with the rows
sorted by level (plain and level by level), and both terms in one pass. ``centring``: min
bulk ESS, max R-hat and divergences of every ``centered=`` combination (4 x 1000, seeds 1
and 2 for the grouseticks negative binomial, seed 1 for verbagg). ``hard``: the grouseticks negative
binomial (``nb``), observation-level Poisson (``obs``) and cbpp (``cbpp``) with the
defaults and the variants of :data:`HARD_VARIANTS` (options of ``mf.fit``, or settings
passed on to ``nutpie.sample``), 4 x 1000: seconds, min bulk ESS (and its parameter),
max R-hat, divergences, and whether issue 14's target 3 is met (docs/performance.md,
"Negative binomial convergence levers"; the variant ``unreflected`` turns off the
reflection of nested effects, :func:`mixedfit.design.nesting.nested_groups`, and
``unsigned`` the signed sds, :func:`mixedfit.fast.layout.signed_blocks`). ``settings``: cases
of ``benchmarks/run.py`` fitted with each ``TARGET_ACCEPT/TUNE`` (``d``: the plan's
default), seeds alternating within a setting, in one process (its first fit loads the
compiled code): seconds, leapfrog steps per draw, step size, min bulk ESS, max R-hat,
divergences and the plan's choices (docs/performance.md, "Warm-up and target_accept of
near-Gaussian posteriors").
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from run import CASES, load_data  # noqa: E402

import mixedfit as mf  # noqa: E402
import mixedfit.plan as plan_module  # noqa: E402
from mixedfit.backends.compiled import CompiledBackend  # noqa: E402


def steps() -> None:
    import arviz as az
    import nutpie

    from mixedfit.fast import sampler
    from mixedfit.fast.layout import make_layout
    from mixedfit.spec import make_spec

    data = load_data("sim:bernoulli:20000:200")
    spec = make_spec("y ~ x + (1 + x | g)", data, family=mf.families.get_family("bernoulli"))
    lay = make_layout(spec.design, spec.family, spec.priors, [True])
    model = sampler._model_class()(dims={}, layout=lay)
    for name, kw in [("variance-based", {"use_grad_based_mass_matrix": False}),
                     ("low rank", {"low_rank_modified_mass_matrix": True}),
                     ("gradient-based", {})]:
        start = time.perf_counter()
        tr = nutpie.sample(model, draws=1000, tune=1000, chains=2, cores=2, seed=1,
                           progress_bar=False, save_warmup=True, **kw)
        dt = time.perf_counter() - start
        n = int(tr.warmup_sample_stats.n_steps.sum() + tr.sample_stats.n_steps.sum())
        ess = float(az.ess(tr.posterior).to_array().min())
        print(f"{name:15s} {dt:6.1f} s  {n:7d} leapfrog steps  min bulk ESS {ess:.0f}")


def parts() -> None:
    import numba

    from mixedfit.spec import make_spec

    data = load_data("sim:bernoulli:20000:200")
    spec = make_spec("y ~ x + (1 + x | g)", data, family=mf.families.get_family("bernoulli"))
    d, b = spec.design, spec.design.blocks[0]
    n = d.n_obs
    X = np.ascontiguousarray(d.X.T)
    Z = np.ascontiguousarray(b.Z.T.astype(float))
    idx = b.index.astype(float)
    order = np.argsort(b.index, kind="stable")
    sidx = b.index[order].astype(float)
    Zs = np.ascontiguousarray(Z[:, order])
    segs = np.searchsorted(b.index[order], np.arange(b.n_levels + 1)).astype(float)
    fm = {"reassoc", "contract"}

    @numba.njit(fastmath=fm)
    def fixed(X, beta, eta, dd, g):  # noqa: ANN001, ANN202
        for k in range(X.shape[0]):
            col = X[k]
            bk = beta[k]
            acc = 0.0
            for r in range(eta.size):
                eta[r] += col[r] * bk
                acc += dd[r] * col[r]
            g[k] += acc

    @numba.njit(fastmath=fm)
    def gather(Z, u, idx, eta):  # noqa: ANN001, ANN202
        q = Z.shape[0]
        for j in range(q):
            col = Z[j]
            for r in range(eta.size):
                eta[r] += col[r] * u[int(idx[r]) * q + j]

    @numba.njit(fastmath=fm)
    def scatter(Z, idx, dd, gu):  # noqa: ANN001, ANN202
        q = Z.shape[0]
        for j in range(q):
            col = Z[j]
            for r in range(dd.size):
                gu[int(idx[r]) * q + j] += dd[r] * col[r]

    @numba.njit(fastmath=fm)
    def level_gather(Z, u, segs, eta):  # noqa: ANN001, ANN202
        q = Z.shape[0]
        for g in range(segs.size - 1):
            for j in range(q):
                ug = u[g * q + j]
                col = Z[j]
                for r in range(int(segs[g]), int(segs[g + 1])):
                    eta[r] += col[r] * ug

    @numba.njit(fastmath=fm)
    def level_scatter(Z, segs, dd, gu):  # noqa: ANN001, ANN202
        q = Z.shape[0]
        for g in range(segs.size - 1):
            for j in range(q):
                col = Z[j]
                acc = 0.0
                for r in range(int(segs[g]), int(segs[g + 1])):
                    acc += dd[r] * col[r]
                gu[g * q + j] += acc

    @numba.njit(fastmath=fm)
    def gather_pair(Z, u, idx, eta):  # noqa: ANN001, ANN202
        z0, z1 = Z[0], Z[1]  # both terms in one pass (the kernel's, since bc723b6)
        for r in range(eta.size):
            g = int(idx[r]) * 2
            eta[r] += z0[r] * u[g] + z1[r] * u[g + 1]

    @numba.njit(fastmath=fm)
    def scatter_pair(Z, idx, dd, gu):  # noqa: ANN001, ANN202
        z0, z1 = Z[0], Z[1]
        for r in range(dd.size):
            g = int(idx[r]) * 2
            gu[g] += dd[r] * z0[r]
            gu[g + 1] += dd[r] * z1[r]

    rng = np.random.default_rng(0)
    u = rng.normal(size=b.n_levels * b.n_terms)
    eta, dd = np.zeros(n), rng.normal(size=n)
    cases = [("fixed effects (both passes)", fixed, (X, np.array([0.1, 0.2]), eta, dd,
                                                     np.zeros(2))),
             ("gather, rows as given", gather, (Z, u, idx, eta)),
             ("scatter, rows as given", scatter, (Z, idx, dd, np.zeros(u.size))),
             ("gather, rows sorted", gather, (Zs, u, sidx, eta)),
             ("scatter, rows sorted", scatter, (Zs, sidx, dd, np.zeros(u.size))),
             ("gather, level by level", level_gather, (Zs, u, segs, eta)),
             ("scatter, level by level", level_scatter, (Zs, segs, dd, np.zeros(u.size))),
             ("gather, both terms at once", gather_pair, (Z, u, idx, eta)),
             ("scatter, both terms at once", scatter_pair, (Z, idx, dd, np.zeros(u.size)))]
    for name, fn, args in cases:
        fn(*args)
        start = time.perf_counter()
        for _ in range(3000):
            fn(*args)
        print(f"{name:28s} {(time.perf_counter() - start) / 3000 / n * 1e9:5.2f} ns per row")


def runs() -> None:
    """The kernel's own gather and scatter of a one-term block (``_add_effects`` and
    ``_sum_effects``, with the row pass's fast-math flags), 20,000 rows in runs of L rows
    of one level: read run by run (``B_RUNS``) against row by row, ns per row."""
    import numba
    import pandas as pd

    import mixedfit.fast.layout as layout_module
    from mixedfit.fast import buffer as B
    from mixedfit.fast import kernel
    from mixedfit.fast.layout import make_layout
    from mixedfit.spec import make_spec

    @numba.njit(fastmath=kernel._ROWS_FAST)
    def gather(buf, base, n, u, eta):  # noqa: ANN001, ANN202
        kernel._add_effects(buf, base, n, u, eta)

    @numba.njit(fastmath=kernel._ROWS_FAST)
    def scatter(buf, base, n, d, gu):  # noqa: ANN001, ANN202
        kernel._sum_effects(buf, base, n, d, gu)

    n = 20000
    rng = np.random.default_rng(0)
    print("run length   gather: rows / runs   scatter: rows / runs  (ns per row)")
    for length in (2, 4, 6, 8, 12, 32, 100, 316):
        g = np.repeat(rng.permutation(-(-n // length)), length)[:n]
        data = pd.DataFrame({"y": rng.normal(size=n), "g": [f"g{i}" for i in g]})
        spec = make_spec("y ~ 1 + (1 | g)", data, family=mf.families.get_family("gaussian"))
        out = []
        for run_min in (10**9, 1):
            layout_module.RUN_MIN = run_min
            lay = make_layout(spec.design, spec.family, spec.priors, [False], sufficient=False)
            buf, base = lay.buffer, int(lay.buffer[B.H_BLOCKS])
            m = spec.design.blocks[0].n_levels
            u, eta, d, gu = rng.normal(size=m), np.zeros(n), rng.normal(size=n), np.zeros(m)
            for fn, args in ((gather, (buf, base, n, u, eta)), (scatter, (buf, base, n, d, gu))):
                fn(*args)
                best = np.inf
                for _ in range(5):
                    start = time.perf_counter()
                    for _ in range(1000):
                        fn(*args)
                    best = min(best, (time.perf_counter() - start) / 1000)
                out.append(best / n * 1e9)
        print(f"{length:10d}   {out[0]:5.2f} / {out[2]:5.2f}          {out[1]:5.2f} / "
              f"{out[3]:5.2f}")
    layout_module.RUN_MIN = 8


def centring() -> None:
    import arviz as az

    warnings.simplefilter("ignore")
    runs = [("grouseticks negative binomial", "grouseticks",
             "TICKS ~ C(YEAR) + scale(HEIGHT) + (1 | BROOD) + (1 | LOCATION)",
             "negativebinomial", (1, 2)),
            ("verbagg", "verbagg", "r2 ~ Anger + Gender + btype + situ + (1 | id) + (1 | item)",
             "bernoulli", (1,))]
    for label, dataset, formula, family, seeds in runs:
        df = mf.load_dataset(dataset)
        for centred in (None, [True, True], [False, False], [True, False], [False, True]):
            for seed in seeds:
                start = time.perf_counter()
                res = mf.fit(formula, df, family=family, centered=centred, random_seed=seed,
                             warn=False)
                dt = time.perf_counter() - start
                post = res.idata.posterior
                post = post[[v for v in post.data_vars if not v.startswith(("u(", "z("))]]
                ess = float(az.ess(post).to_array().min())
                rhat = float(az.rhat(post).to_array().max())
                div = int(res.idata.sample_stats.diverging.sum())
                print(f"{label}: centered={centred} (plan {res.plan.centered}) seed {seed}: "
                      f"{dt:.1f} s, min bulk ESS {ess:.0f}, max R-hat {rhat:.3f}, "
                      f"{div} divergences")


#: The hard geometries of issue 14's target 3 and the cheap model that must not suffer.
HARD_MODELS = {
    "nb": ("grouseticks", "TICKS ~ C(YEAR) + scale(HEIGHT) + (1 | BROOD) + (1 | LOCATION)",
           "negativebinomial"),
    "obs": ("grouseticks", "TICKS ~ C(YEAR) + scale(HEIGHT) + (1 | BROOD) + (1 | INDEX)",
            "poisson"),
    "cbpp": ("cbpp", "cbind(incidence, size - incidence) ~ period + (1 | herd)", "binomial"),
    "cbpp_probit": ("cbpp", "cbind(incidence, size - incidence) ~ period + (1 | herd)",
                    mf.families.binomial("probit")),
    "cbpp_cloglog": ("cbpp", "cbind(incidence, size - incidence) ~ period + (1 | herd)",
                     mf.families.binomial("cloglog")),
    # grouseticks' Poisson without the observation-level effect (its blocks centred)
    "pois": ("grouseticks", "TICKS ~ C(YEAR) + scale(HEIGHT) + (1 | BROOD) + (1 | LOCATION)",
             "poisson"),
    # one signed block each: a zero-inflated Poisson and an ordinal model
    "zip": ("salamanders", "count ~ mined + (1 | site)", "zero_inflated_poisson"),
    "wine": ("wine", "rating ~ temp + contact + (1 | judge)", "cumulative"),
    # benchmarks/run.py's salamanders_zi_mined (zi= its option)
    "zi": ("salamanders", "count ~ mined + (1 | site)", "zero_inflated_poisson",
           {"zi": "~ mined"}),
}

#: Variants of the defaults: options of mf.fit, and settings passed on to nutpie.sample.
HARD_VARIANTS = {
    "default": ({}, {}),
    "tune2000": ({"tune": 2000}, {}),
    "tune700": ({"tune": 700}, {}),
    "tune500": ({"tune": 500}, {}),
    "ta0.98": ({"target_accept": 0.98}, {}),
    "ta0.97": ({"target_accept": 0.97}, {}),
    "ta0.93": ({"target_accept": 0.93}, {}),
    "ta0.92": ({"target_accept": 0.92}, {}),
    "ta0.9": ({"target_accept": 0.9}, {}),
    "ta0.85": ({"target_accept": 0.85}, {}),
    "ta0.8": ({"target_accept": 0.8}, {}),
    "switch200": ({}, {"mass_matrix_switch_freq": 200}),
    "switch40": ({}, {"mass_matrix_switch_freq": 40}),
    "early50": ({}, {"early_window_switch_freq": 50}),
    "jitter0": ({}, {"step_size_jitter": 0.0}),
    "jitter0.3": ({}, {"step_size_jitter": 0.3}),
    "lowrank": ({}, {"low_rank_modified_mass_matrix": True}),
    "mindepth2": ({}, {"mindepth": 2}),
    "gradmass": ({}, {"use_grad_based_mass_matrix": True}),
    "centred-loc": ({"centered": [False, True]}, {}),
    # the second block non-centred (the observation-level Poisson's INDEX), or both
    "noncentred2": ({"centered": [True, False]}, {}),
    "noncentred": ({"centered": [False, False]}, {}),
    "nc": ({"centered": False}, {}),
    # nested effects not reflected (the compiled kernel samples them reflected by
    # default: mixedfit.design.nesting.nested_groups)
    "unreflected": ({"_reflect": False}, {}),
    # sds sampled as their logs (the compiled kernel samples those of non-centred one-term
    # blocks signed by default: mixedfit.fast.layout.signed_blocks)
    "unsigned": ({"_signed": False}, {}),
    "noncentred2-unsigned": ({"centered": [True, False], "_signed": False}, {}),
}


def hard() -> None:
    """``hard [MODELS] [VARIANTS] [SEEDS]``: each model x variant x seed, variants
    alternating within a seed (comma-separated lists; defaults: nb, default, 1-4)."""
    import arviz as az
    import nutpie

    warnings.simplefilter("ignore")
    args = sys.argv[2:]
    models = (args[0] if args else "nb").split(",")
    variants = (args[1] if len(args) > 1 else "default").split(",")
    seeds = [int(s) for s in (args[2] if len(args) > 2 else "1,2,3,4").split(",")]
    original = nutpie.sample
    extra: dict = {}

    def patched(*a, **kw):  # noqa: ANN002, ANN003, ANN202
        kw = {**kw, **extra}
        if kw.get("low_rank_modified_mass_matrix"):  # gradient-based only
            kw.pop("use_grad_based_mass_matrix", None)
        return original(*a, **kw)

    nutpie.sample = patched
    nesting = plan_module.nested_groups
    signing = CompiledBackend.signed_sds
    totals: dict = {}
    for key in models:
        dataset, formula, family, *more = HARD_MODELS[key]
        model_options = more[0] if more else {}
        df = mf.load_dataset(dataset)
        mf.fit(formula, df, family=family, draws=50, tune=50, random_seed=0, warn=False,
               **model_options)
        for seed in seeds:
            for name in variants:
                options, settings = HARD_VARIANTS[name]
                options = {**model_options, **options}
                reflect = options.pop("_reflect", True)
                plan_module.nested_groups = nesting if reflect else (lambda d, c: [])
                CompiledBackend.signed_sds = signing if options.pop("_signed", True) else (
                    lambda self, spec, centred, marginal: [False] * len(centred))
                extra.clear()
                extra.update(settings)
                start = time.perf_counter()
                res = mf.fit(formula, df, family=family, random_seed=seed, warn=False,
                             **options)
                plan_module.nested_groups = nesting
                CompiledBackend.signed_sds = signing
                dt = time.perf_counter() - start
                post = res.idata.posterior
                post = post[[v for v in post.data_vars if not v.startswith(("u(", "z("))]]
                ess_all = az.ess(post)
                ess = float(ess_all.to_array().min())
                worst = min(ess_all.data_vars, key=lambda v: float(ess_all[v].min()))
                rhat = float(az.rhat(post).to_array().max())
                div = int(res.idata.sample_stats.diverging.sum())
                ok = rhat <= 1.01 and div == 0 and ess >= 400
                totals.setdefault((key, name), []).append((dt, ess, rhat, div, ok))
                print(f"{key:4s} {name:12s} seed {seed}: {dt:5.1f} s  min bulk ESS {ess:5.0f}  "
                      f"max R-hat {rhat:.3f}  {div} div  {'met' if ok else '-'}  (lowest: {worst})",
                      flush=True)
    print("\nmodel variant       median s  min ESS (median)  max R-hat  divergences  met")
    for (key, name), rows in totals.items():
        dts, esss, rhats, divs, oks = zip(*rows, strict=True)
        print(f"{key:4s} {name:12s} {np.median(dts):7.1f}  {min(esss):5.0f} "
              f"({np.median(esss):4.0f})  {max(rhats):.3f}  {sum(divs):3d}  "
              f"{sum(oks)}/{len(oks)}")


def settings() -> None:
    """``settings CASES SETTINGS SEEDS``: comma-separated; a setting is
    ``TARGET_ACCEPT/TUNE`` with ``d`` for the plan's default of either."""
    import arviz as az

    warnings.simplefilter("ignore")
    cases, specs, seeds = sys.argv[2].split(","), sys.argv[3].split(","), sys.argv[4]
    for case in cases:
        formula, _, data_spec, family = CASES[case][:4]
        data = load_data(data_spec)
        name, _, link = family.partition("/")
        fam = mf.families.get_family(name, link=link or None)
        for seed in (int(s) for s in seeds.split(",")):
            for spec in specs:
                ta, tune = spec.split("/")
                options = {**({} if ta == "d" else {"target_accept": float(ta)}),
                           **({} if tune == "d" else {"tune": int(tune)})}
                start = time.perf_counter()
                res = mf.fit(formula, data, family=fam, random_seed=seed, warn=False,
                             progressbar=False, **options)
                dt = time.perf_counter() - start
                post = res.idata.posterior
                post = post[[v for v in post.data_vars if not v.startswith(("u(", "z("))]]
                stats = res.idata.sample_stats
                print(f"{case} {spec} seed {seed}: {dt:5.1f} s  "
                      f"{float(stats.n_steps.mean()):5.1f} steps a draw  step size "
                      f"{float(stats.step_size.mean()):.3f}  min bulk ESS "
                      f"{float(az.ess(post).to_array().min()):5.0f}  max R-hat "
                      f"{float(az.rhat(post).to_array().max()):.3f}  "
                      f"{int(stats.diverging.sum())} div  (target_accept "
                      f"{res.plan.target_accept}, tune {res.plan.tune}, centred "
                      f"{res.plan.centered})", flush=True)


if __name__ == "__main__":
    {"steps": steps, "parts": parts, "runs": runs, "centring": centring, "hard": hard,
     "settings": settings}[sys.argv[1]]()
