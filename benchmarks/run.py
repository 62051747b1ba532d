"""Benchmarks: mixedfit against Bambi (and lme4 when R is installed), in one run.

Every (case, tool) pair runs in a fresh Python process, so that the
end-to-end time (interpreter start, imports, model build, compilation,
sampling, summary) and the peak memory are measured honestly. Inside that
process the fit itself is timed again after the imports, as a notebook user
would see it ("in session").

Usage::

    python benchmarks/run.py                 # the small models (about 10 minutes)
    python benchmarks/run.py --cases all     # every target of issue 5 (hours: Bambi is slow)
    python benchmarks/run.py --cases sleepstudy_corr,dyestuff --out /tmp/b.md

Writes a Markdown table (default ``benchmarks/results.md``) and the raw numbers
as JSON next to it. A run counts only with R-hat <= 1.01 and no divergences;
the table says when a run failed those checks.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

# case -> (mixedfit formula, bambi formula, data, family)
SMALL = {
    # Bambi cannot express the correlation: both fit the uncorrelated model.
    "sleepstudy_corr": ("Reaction ~ Days + (Days || Subject)", "Reaction ~ Days + (Days | Subject)",
                        "sleepstudy", "gaussian"),
    "sleepstudy_uncorr": ("Reaction ~ Days + (Days || Subject)",
                          "Reaction ~ Days + (1 | Subject) + (0 + Days | Subject)",
                          "sleepstudy", "gaussian"),
    "dyestuff": ("Yield ~ 1 + (1 | Batch)", "Yield ~ 1 + (1 | Batch)", "dyestuff", "gaussian"),
    "penicillin": ("diameter ~ 1 + (1 | plate) + (1 | sample)",
                   "diameter ~ 1 + (1 | plate) + (1 | sample)", "penicillin", "gaussian"),
    "pastes": ("strength ~ 1 + (1 | batch/cask)", "strength ~ 1 + (1 | batch) + (1 | batch:cask)",
               "pastes", "gaussian"),
    "cbpp": ("cbind(incidence, size - incidence) ~ period + (1 | herd)",
             "p(incidence, size) ~ period + (1 | herd)", "cbpp", "binomial"),
}
LARGE = {
    "insteval": ("y ~ 1 + service + (1 | s) + (1 | d) + (1 | dept)",
                 "y ~ 1 + service + (1 | s) + (1 | d) + (1 | dept)", "insteval", "gaussian"),
    "gaussian_1e4": ("y ~ x + (1 + x | g)", "y ~ x + (1 + x | g)", "sim:gaussian:10000:100",
                     "gaussian"),
    "gaussian_1e5": ("y ~ x + (1 + x | g)", "y ~ x + (1 + x | g)", "sim:gaussian:100000:1000",
                     "gaussian"),
    "gaussian_1e6": ("y ~ x + (1 + x | g)", "y ~ x + (1 + x | g)", "sim:gaussian:1000000:10000",
                     "gaussian"),
    "bernoulli_1e5": ("y ~ x + (1 + x | g)", "y ~ x + (1 + x | g)", "sim:bernoulli:100000:1000",
                      "bernoulli"),
}
LME4 = {
    "sleepstudy_corr": "lmer(Reaction ~ Days + (Days | Subject), d)",
    "sleepstudy_uncorr": "lmer(Reaction ~ Days + (Days || Subject), d)",
    "dyestuff": "lmer(Yield ~ 1 + (1 | Batch), d)",
    "penicillin": "lmer(diameter ~ 1 + (1 | plate) + (1 | sample), d)",
    "pastes": "lmer(strength ~ 1 + (1 | batch/cask), d)",
    "cbpp": "glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), d, family = binomial)",
    "insteval": "lmer(y ~ 1 + service + (1 | s) + (1 | d) + (1 | dept), d)",
}


def load_data(spec: str):
    import pandas as pd

    if spec.startswith("sim:"):
        _, family, n, groups = spec.split(":")
        n, groups = int(n), int(groups)
        rng = np.random.default_rng(1)
        g = rng.integers(0, groups, size=n)
        x = rng.normal(size=n)
        a = rng.normal(0, 1.0, groups)
        b = rng.normal(0, 0.5, groups)
        eta = 0.5 + a[g] + (1.0 + b[g]) * x
        if family == "gaussian":
            y = eta + rng.normal(0, 1.0, n)
        else:
            y = rng.binomial(1, 1 / (1 + np.exp(-eta)))
        return pd.DataFrame({"y": y, "x": x, "g": pd.Categorical(g)})
    if spec == "insteval":
        df = pd.read_csv(HERE / "data" / "insteval.csv.gz")
        for col in ("s", "d", "dept", "service"):
            df[col] = pd.Categorical(df[col].astype(str))
        return df
    import mixedfit as mf

    return mf.load_dataset(spec)


def _population_vars(posterior, tool: str) -> list[str]:
    out = []
    for name in posterior.data_vars:
        dims = [d for d in posterior[name].dims if d not in ("chain", "draw")]
        if tool == "mixedfit":
            if name.startswith(("u(", "z(", "chol(")):
                continue
        elif any("__factor_dim" in d or "_obs" in d for d in dims) or name.endswith("_offset"):
            continue
        elif "|" in name and not name.endswith("_sigma"):
            continue
        out.append(name)
    return out


def _convergence(idata, tool: str) -> dict:
    import warnings

    import arviz as az

    post = idata.posterior
    names = _population_vars(post, tool)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sub = post[names]
        rhat = az.rhat(sub)
        ess = az.ess(sub, method="bulk")
    rh = np.nanmax([np.nanmax(np.asarray(rhat[v].values, dtype=float)) for v in names])
    es = np.nanmin([np.nanmin(np.asarray(ess[v].values, dtype=float)) for v in names])
    div = int(np.asarray(idata.sample_stats["diverging"].values).sum())
    n = int(post.sizes["chain"] * post.sizes["draw"])
    return {"max_rhat": float(rh), "min_ess_bulk": float(es), "divergences": div, "draws": n}


def _bambi_priors(formula: str, data, family: str):
    """Bambi priors equal to mixedfit's defaults for the same model."""
    import bambi as bmb

    from mixedfit.design import build_design
    from mixedfit.families import get_family
    from mixedfit.priors import default_priors

    fam = get_family(family)
    mf_formula = formula.replace("p(incidence, size)", "cbind(incidence, size - incidence)")
    design = build_design(mf_formula, data, family=fam)
    pri = default_priors(design, fam)
    out = {}
    for term, cols in design.fixed_terms.items():
        ps = [pri[c] for c in cols]
        mu = np.array([p.params["mu"] for p in ps])
        sigma = np.array([p.params["sigma"] for p in ps])
        out[term] = bmb.Prior("Normal", mu=mu if mu.size > 1 else float(mu[0]),
                              sigma=sigma if sigma.size > 1 else float(sigma[0]))
    for block in design.blocks:
        for col in block.columns:
            s = pri[f"sd({col}|{block.group})"].params["sigma"]
            name = "1" if col == "Intercept" else col
            out[f"{name}|{block.group}"] = bmb.Prior(
                "Normal", mu=0, sigma=bmb.Prior("HalfNormal", sigma=float(s)))
    if "sigma" in pri:
        out["sigma"] = bmb.Prior("HalfStudentT", nu=4, sigma=float(pri["sigma"].params["sigma"]))
    return out


def worker(tool: str, case: str, draws: int, tune: int, chains: int) -> dict:
    """Run one fit in this process and return its measurements."""
    t_start = time.perf_counter()
    cases = {**SMALL, **LARGE}
    mf_formula, bmb_formula, data_spec, family = cases[case]
    if tool == "mixedfit":
        import mixedfit as mf

        data = load_data(data_spec)
        import arviz  # noqa: F401  - imports done, as in a notebook
        import nutpie  # noqa: F401
        import pymc  # noqa: F401

        t0 = time.perf_counter()
        res = mf.fit(mf_formula, data, family=family, draws=draws, tune=tune, chains=chains,
                     random_seed=1, progressbar=False, warn=False)
        str(res.summary())
        t1 = time.perf_counter()
        idata = res.idata
    else:
        import arviz as az
        import bambi as bmb

        import mixedfit as mf  # only for the data and the matching priors

        data = load_data(data_spec)
        priors = _bambi_priors(bmb_formula, data, family)
        t0 = time.perf_counter()
        model = bmb.Model(bmb_formula, data, family=family, priors=priors)
        idata = model.fit(draws=draws, tune=tune, chains=chains, random_seed=1,
                          progressbar=False)
        str(az.summary(idata))
        t1 = time.perf_counter()
        del mf
    out = {"tool": tool, "case": case, "fit_s": t1 - t0, "startup_s": t0 - t_start}
    out.update(_convergence(idata, tool))
    out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def run_one(tool: str, case: str, args: argparse.Namespace) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", tool, case,
           "--draws", str(args.draws), "--tune", str(args.tune), "--chains", str(args.chains)]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False,
                          timeout=args.timeout, cwd=ROOT)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        return {"tool": tool, "case": case, "error": proc.stderr.strip().splitlines()[-1:]}
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["end_to_end_s"] = wall
    return result


def run_lme4(case: str) -> float | None:
    if shutil.which("Rscript") is None or case not in LME4:
        return None
    data_spec = {**SMALL, **LARGE}[case][2]
    df = load_data(data_spec)
    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"mixedfit_bench_{case}.csv"
    df.to_csv(path, index=False)
    factors = [c for c in df.columns if str(df[c].dtype) == "category"]
    conv = "".join(f"d${c} <- factor(d${c}); " for c in factors)
    script = (f"suppressMessages(library(lme4)); d <- read.csv('{path}'); {conv}"
              f"t <- system.time(m <- {LME4[case]})[['elapsed']]; cat(t)")
    proc = subprocess.run(["Rscript", "-e", script], capture_output=True, text=True, check=False)
    try:
        return float(proc.stdout.strip().split()[-1])
    except (ValueError, IndexError):
        return None


def _fmt(x: float | None, digits: int = 1) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{x:.{digits}f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="small",
                        help="'small', 'large', 'all' or a comma-separated list of cases")
    parser.add_argument("--tools", default="mixedfit,bambi")
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--tune", type=int, default=1000)
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--timeout", type=int, default=3600)
    parser.add_argument("--out", default=str(HERE / "results.md"))
    parser.add_argument("--worker", nargs=2, metavar=("TOOL", "CASE"))
    args = parser.parse_args(argv)
    if args.worker:
        import warnings

        warnings.simplefilter("ignore")
        print(json.dumps(worker(args.worker[0], args.worker[1], args.draws, args.tune,
                                args.chains)))
        return 0
    if args.cases == "small":
        cases = list(SMALL)
    elif args.cases == "large":
        cases = list(LARGE)
    elif args.cases == "all":
        cases = [*SMALL, *LARGE]
    else:
        cases = args.cases.split(",")
    tools = args.tools.split(",")
    rows = []
    for case in cases:
        results = {tool: run_one(tool, case, args) for tool in tools}
        lme4 = run_lme4(case)
        rows.append((case, results, lme4))
        print(case, json.dumps(results), "lme4:", lme4, flush=True)
    lines = [
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; {args.chains} chains x {args.draws} draws after "
        f"{args.tune} warm-up.",
        "",
        "| case | mixedfit fit (s) | Bambi fit (s) | ratio | mixedfit end-to-end (s) | "
        "Bambi end-to-end (s) | ratio | lme4 (s) | bulk ESS/s mixedfit / Bambi | "
        "max R-hat mf / bmb | divergences mf / bmb | peak MB mf / bmb |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for case, res, lme4 in rows:
        m, b = res.get("mixedfit", {}), res.get("bambi", {})
        if "error" in m or "error" in b:
            lines.append(f"| {case} | error: {m.get('error', '')} {b.get('error', '')} |"
                         + " |" * 10)
            continue

        def g(d: dict, k: str) -> float:
            return float(d.get(k, np.nan))

        ratio_fit = g(b, "fit_s") / g(m, "fit_s")
        ratio_e2e = g(b, "end_to_end_s") / g(m, "end_to_end_s")
        ess_m = g(m, "min_ess_bulk") / g(m, "fit_s")
        ess_b = g(b, "min_ess_bulk") / g(b, "fit_s")
        lines.append(
            f"| {case} | {_fmt(g(m, 'fit_s'))} | {_fmt(g(b, 'fit_s'))} | {_fmt(ratio_fit, 2)} | "
            f"{_fmt(g(m, 'end_to_end_s'))} | {_fmt(g(b, 'end_to_end_s'))} | "
            f"{_fmt(ratio_e2e, 2)} | {_fmt(lme4, 2)} | {_fmt(ess_m, 0)} / {_fmt(ess_b, 0)} | "
            f"{_fmt(g(m, 'max_rhat'), 3)} / {_fmt(g(b, 'max_rhat'), 3)} | "
            f"{int(g(m, 'divergences')) if m else 'n/a'} / "
            f"{int(g(b, 'divergences')) if b else 'n/a'} | "
            f"{_fmt(g(m, 'peak_mb'), 0)} / {_fmt(g(b, 'peak_mb'), 0)} |")
    text = "\n".join(lines) + "\n"
    Path(args.out).write_text(text)
    Path(args.out).with_suffix(".json").write_text(json.dumps(
        [{"case": c, "results": r, "lme4_s": lme} for c, r, lme in rows], indent=2))
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
