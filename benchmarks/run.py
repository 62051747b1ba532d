"""Benchmarks: mixedfit against Bambi (and lme4 when R is installed), in one run.

Every (case, tool) pair runs in a fresh Python process, so that the
end-to-end time (interpreter start, imports, model build, compilation,
sampling, summary) and the peak memory are measured honestly. Inside that
process the fit itself is timed again after the imports, as a notebook user
would see it ("in session"). lme4 runs through ``Rscript`` when R is present;
otherwise its column says "R not installed".

Usage::

    python benchmarks/run.py                     # the six small models (about 10 minutes)
    python benchmarks/run.py --cases large       # InstEval and the simulated large models
    python benchmarks/run.py --cases all         # small + large (hours: Bambi is slow)
    python benchmarks/run.py --cases scaling     # gaussian_1e4, 3e4, 1e5, 3e5, 1e6
    python benchmarks/run.py --cases families --tools mixedfit,lme4   # every family
    python benchmarks/run.py --cases scaling --tools mixedfit      # mixedfit only
    python benchmarks/run.py --cases scaling --peer-timeout 1800   # stop Bambi after 30 min
    python benchmarks/run.py --cases sleepstudy_corr,dyestuff --out /tmp/b.md
    python benchmarks/run.py --cases dyestuff --draws 50 --tune 50 --chains 2  # smoke test
    python benchmarks/plot_scaling.py benchmarks/results.json --out docs/images/scaling.png

Options: ``--tools`` is a comma-separated subset of ``mixedfit,bambi,lme4`` (the
default is all three; a tool left out shows "not run"). ``--timeout`` limits
each mixedfit fit and ``--peer-timeout`` each Bambi (and lme4) fit, in seconds
(default 3600 each). The limit counts from the start of the fit, after the
imports and the data set-up (which may take up to max(limit, 600 s)); a fit that
reaches it is killed (with every process it started) and its row is kept: the
time reads "> T (stopped)" and the ratio "> T / mixedfit time", a lower bound.

Writes a Markdown table (default ``benchmarks/results.md``) and the raw numbers
as JSON next to it. A run counts only with R-hat <= 1.01 and no divergences
(the "converged" column); min bulk ESS per draw is the smallest bulk ESS over
the population-level parameters and the standard deviations, divided by the
number of kept draws (all chains). Peak memory is the largest resident set of
the worker process or of any process it started (PyMC runs Bambi's chains in
child processes).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
#: Warm-up of the peers (Bambi) when --tune is not given: PyMC's default.
PEER_TUNE = 1000

#: The worker prints this (then a JSON object) on stdout just before the timed fit starts.
FIT_START = "@@mixedfit-bench-fit-start"
RHAT_OK = 1.01
#: The set-up before the fit (interpreter, imports, data, priors) may take max(limit, this).
SETUP_LIMIT_S = 600.0

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


def _sim_case(family: str, n_rows: int) -> tuple[str, str, str, str]:
    """A simulated random-slope model with 100 rows per group."""
    formula = "y ~ x + (1 + x | g)"
    return formula, formula, f"sim:{family}:{n_rows}:{n_rows // 100}", family


LARGE = {
    "insteval": ("y ~ 1 + service + (1 | s) + (1 | d) + (1 | dept)",
                 "y ~ 1 + service + (1 | s) + (1 | d) + (1 | dept)", "insteval", "gaussian"),
    "gaussian_1e4": _sim_case("gaussian", 10_000),
    "gaussian_1e5": _sim_case("gaussian", 100_000),
    "gaussian_1e6": _sim_case("gaussian", 1_000_000),
    "bernoulli_1e5": _sim_case("bernoulli", 100_000),
    "poisson_1e5": _sim_case("poisson", 100_000),
}
# Every family and link beyond the Gaussian ("family/link"; issue 14's targets).
FAMILIES = {
    "cbpp_probit": ("cbind(incidence, size - incidence) ~ period + (1 | herd)",
                    "p(incidence, size) ~ period + (1 | herd)", "cbpp", "binomial/probit"),
    "cbpp_cloglog": ("cbind(incidence, size - incidence) ~ period + (1 | herd)",
                     "p(incidence, size) ~ period + (1 | herd)", "cbpp", "binomial/cloglog"),
    "grouseticks_nb": ("TICKS ~ C(YEAR) + scale(HEIGHT) + (1 | BROOD) + (1 | LOCATION)",
                       "TICKS ~ C(YEAR) + scale(HEIGHT) + (1 | BROOD) + (1 | LOCATION)",
                       "grouseticks", "negativebinomial"),
    "grouseticks_obs": ("TICKS ~ C(YEAR) + scale(HEIGHT) + (1 | BROOD) + (1 | INDEX)",
                        "TICKS ~ C(YEAR) + scale(HEIGHT) + (1 | BROOD) + (1 | INDEX)",
                        "grouseticks", "poisson"),
    "sleepstudy_t": ("Reaction ~ Days + (Days | Subject)", "Reaction ~ Days + (Days | Subject)",
                     "sleepstudy", "t"),
    "gamma_2e3": _sim_case("gamma/log", 2_000),
    "beta_2e3": _sim_case("beta", 2_000),
    "bernoulli_2e4": _sim_case("bernoulli", 20_000),
    "poisson_2e4": _sim_case("poisson", 20_000),
    "verbagg": ("r2 ~ Anger + Gender + btype + situ + (1 | id) + (1 | item)",
                "r2 ~ Anger + Gender + btype + situ + (1 | id) + (1 | item)", "verbagg",
                "bernoulli"),
}
# The models of issue 15: an ordinal response, family parameters with their own formulas,
# zero-inflated counts, an unordered categorical response (peers: ordinal::clmm,
# glmmTMB, nnet::multinom, in the "lme4" column).
MODELS_15 = {
    "wine_cumulative": ("rating ~ temp + contact + (1 | judge)", "-", "wine", "cumulative"),
    "sleepstudy_sigma": ("Reaction ~ Days + (Days | Subject)", "-", "sleepstudy", "gaussian"),
    "salamanders_zinb": ("count ~ mined + (1 | site)", "-", "salamanders",
                         "zero_inflated_negativebinomial"),
    "salamanders_zi_mined": ("count ~ mined + (1 | site)", "-", "salamanders",
                             "zero_inflated_poisson"),
    "categorical_600": ("mode ~ x + site", "-", "csv:tests/reference/categorical_data.csv",
                        "categorical"),
}
# Extra points of the scaling curve (not part of --cases all).
EXTRA = {
    "gaussian_3e4": _sim_case("gaussian", 30_000),
    "gaussian_3e5": _sim_case("gaussian", 300_000),
}
CASES = {**SMALL, **LARGE, **FAMILIES, **MODELS_15, **EXTRA}
#: Options given to mixedfit's fit beyond the defaults, per case (shown in the table).
#: Every case runs with mixedfit's defaults (none are needed any more: InstEval used
#: centered=True before the parameterisation rules for many levels and nesting).
MF_OPTIONS: dict[str, dict] = {"sleepstudy_sigma": {"sigma": "~ Days"},
                               "salamanders_zi_mined": {"zi": "~ mined"}}
SCALING = sorted((c for c in CASES if c.startswith("gaussian_")),
                 key=lambda c: int(CASES[c][2].split(":")[2]))
SELECTIONS = {"small": list(SMALL), "large": list(LARGE), "all": [*SMALL, *LARGE],
              "scaling": SCALING, "families": list(FAMILIES), "models15": list(MODELS_15)}
TOOLS = ("mixedfit", "bambi", "lme4")

LME4 = {
    "sleepstudy_corr": "lmer(Reaction ~ Days + (Days | Subject), d)",
    "sleepstudy_uncorr": "lmer(Reaction ~ Days + (Days || Subject), d)",
    "dyestuff": "lmer(Yield ~ 1 + (1 | Batch), d)",
    "penicillin": "lmer(diameter ~ 1 + (1 | plate) + (1 | sample), d)",
    "pastes": "lmer(strength ~ 1 + (1 | batch/cask), d)",
    "cbpp": "glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), d, family = binomial)",
    "insteval": "lmer(y ~ 1 + service + (1 | s) + (1 | d) + (1 | dept), d)",
    **{case: ("glmer(y ~ x + (1 + x | g), d, family = binomial)" if case.startswith("bernoulli")
              else "lmer(y ~ x + (1 + x | g), d)")
       for case in CASES if case.startswith(("gaussian_", "bernoulli_"))},
    "cbpp_probit": "glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), d, "
                   "family = binomial(link = 'probit'))",
    "cbpp_cloglog": "glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), d, "
                    "family = binomial(link = 'cloglog'))",
    "grouseticks_nb": "glmer.nb(TICKS ~ factor(YEAR) + scale(HEIGHT) + (1 | BROOD) + "
                      "(1 | LOCATION), d)",
    "grouseticks_obs": "glmer(TICKS ~ factor(YEAR) + scale(HEIGHT) + (1 | BROOD) + (1 | INDEX), "
                       "d, family = poisson)",
    "gamma_2e3": "glmer(y ~ x + (1 + x | g), d, family = Gamma(link = 'log'))",
    "poisson_2e4": "glmer(y ~ x + (1 + x | g), d, family = poisson)",
    "poisson_1e5": "glmer(y ~ x + (1 + x | g), d, family = poisson)",
    "verbagg": "glmer(factor(r2) ~ Anger + Gender + btype + situ + (1 | id) + (1 | item), d, "
               "family = binomial)",
}
LME4.update({  # the peers of the issue-15 models (namespaced: the script loads lme4 only)
    "wine_cumulative": "ordinal::clmm(factor(rating, ordered = TRUE) ~ temp + contact + "
                       "(1 | judge), data = d)",
    "sleepstudy_sigma": "glmmTMB::glmmTMB(Reaction ~ Days + (Days | Subject), "
                        "dispformula = ~ Days, data = d)",
    "salamanders_zinb": "glmmTMB::glmmTMB(count ~ mined + (1 | site), ziformula = ~1, "
                        "family = glmmTMB::nbinom2, data = d)",
    "salamanders_zi_mined": "glmmTMB::glmmTMB(count ~ mined + (1 | site), ziformula = ~mined, "
                            "family = poisson, data = d)",
    "categorical_600": "nnet::multinom(factor(mode, levels = c('walk', 'bike', 'car')) ~ x + "
                       "site, data = d, trace = FALSE)",
})
#: The fits lme4 does not offer (no Student-t or beta family in lme4).
LME4_NONE = {"sleepstudy_t": "no t family", "beta_2e3": "no beta family"}


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
        family = family.split("/")[0]
        if family == "gaussian":
            y = eta + rng.normal(0, 1.0, n)
        elif family == "poisson":
            y = rng.poisson(np.exp(0.5 * eta))
        elif family == "gamma":
            y = rng.gamma(5.0, np.exp(0.5 * eta) / 5.0)
        elif family == "beta":
            mu = 1 / (1 + np.exp(-0.5 * eta))
            y = np.clip(rng.beta(10 * mu, 10 * (1 - mu)), 1e-6, 1 - 1e-6)
        else:
            y = rng.binomial(1, 1 / (1 + np.exp(-eta)))
        return pd.DataFrame({"y": y, "x": x, "g": pd.Categorical(g)})
    if spec.startswith("csv:"):  # a file of the repository
        return pd.read_csv(HERE.parent / spec[4:])
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
    return {"max_rhat": float(rh), "min_ess_bulk": float(es),
            "min_ess_bulk_per_draw": float(es) / n, "divergences": div, "total_draws": n,
            "converged": bool(rh <= RHAT_OK and div == 0)}


def _bambi_priors(formula: str, data, family: str):
    """Bambi priors equal to mixedfit's defaults for the same model."""
    import bambi as bmb

    from mixedfit.design import build_design
    from mixedfit.families import get_family
    from mixedfit.priors import default_priors

    name, _, link = family.partition("/")
    fam = get_family(name, link=link or None)
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



def _announce_fit_start(**info) -> None:
    """Tell the parent process that the timed fit starts now (its time limit counts from here)."""
    print(FIT_START, json.dumps(info), flush=True)


def _peak_mb() -> dict:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    # peak_mb: this process (nutpie and numba run in threads, so that is all of mixedfit);
    # peak_children_mb: the largest child process (PyMC's parallel chains for Bambi).
    return {"peak_mb": own, "peak_children_mb": children}


def worker(tool: str, case: str, draws: int, tune: int | None, chains: int) -> dict:
    """Run one fit in this process and return its measurements."""
    t_start = time.perf_counter()
    mf_formula, bmb_formula, data_spec, family = CASES[case]
    setting = {"draws": draws, "tune": tune, "chains": chains}
    extra: dict = {}
    if tool == "mixedfit":
        import mixedfit as mf

        data = load_data(data_spec)
        # imports done, as in a notebook: what mixedfit's default fit loads (its compiled
        # backend never imports PyMC; a fallback to the PyMC model would, inside the fit)
        import arviz  # noqa: F401
        import nutpie  # noqa: F401

        import mixedfit.api  # noqa: F401
        import mixedfit.fast.kernel  # noqa: F401

        size = _data_size(data, data_spec)
        _announce_fit_start(startup_s=time.perf_counter() - t_start, **size)
        t0 = time.perf_counter()
        name, _, link = family.partition("/")
        fam = mf.families.get_family(name, link=link or None)
        res = mf.fit(mf_formula, data, family=fam, draws=draws, chains=chains,
                     random_seed=1, progressbar=False, warn=False,
                     **({} if tune is None else {"tune": tune}), **MF_OPTIONS.get(case, {}))
        str(res.summary())
        t1 = time.perf_counter()
        idata = res.idata
        info = getattr(res, "info", None) or {}
        extra = {"backend": info.get("backend"), "sampler": info.get("sampler"),
                 "tune_used": info.get("tune")}
    elif tool == "bambi":
        import arviz as az
        import bambi as bmb

        import mixedfit as mf  # only for the data and the matching priors

        data = load_data(data_spec)
        priors = _bambi_priors(bmb_formula, data, family)
        size = _data_size(data, data_spec)
        _announce_fit_start(startup_s=time.perf_counter() - t_start, **size)
        t0 = time.perf_counter()
        name, _, link = family.partition("/")
        model = bmb.Model(bmb_formula, data, family=name, link=link or None, priors=priors)
        idata = model.fit(draws=draws, tune=PEER_TUNE if tune is None else tune,
                          chains=chains, random_seed=1, progressbar=False)
        str(az.summary(idata))
        t1 = time.perf_counter()
        del mf
    else:
        raise ValueError(f"the worker runs mixedfit or bambi, not {tool!r}")
    out = {"tool": tool, "case": case, "fit_s": t1 - t0, "startup_s": t0 - t_start,
           **size, **setting, **extra}
    out.update(_convergence(idata, tool))
    out.update(_peak_mb())
    return out


def _data_size(data, data_spec: str) -> dict:
    size = {"n_rows": int(len(data))}
    if data_spec.startswith("sim:"):
        size["n_groups"] = int(data_spec.split(":")[3])
    return size


def _kill_group(proc: subprocess.Popen) -> None:
    """Kill the worker and everything it started (PyMC samples chains in child processes)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()
    proc.wait()


def run_one(tool: str, case: str, args: argparse.Namespace) -> dict:
    """Run one (case, tool) in a fresh process; the fit is stopped after its time limit."""
    limit = float(args.timeout if tool == "mixedfit" else args.peer_timeout)
    setup_limit = max(limit, SETUP_LIMIT_S)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", tool, case,
           "--draws", str(args.draws), "--chains", str(args.chains),
           *(["--tune", str(args.tune)] if args.tune is not None else [])]
    lines: list[str] = []
    fit_start: dict = {}
    started = threading.Event()

    start = time.perf_counter()
    with tempfile.TemporaryFile(mode="w+") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True, cwd=ROOT,
                                start_new_session=True)

        def read_stdout() -> None:
            for line in proc.stdout:
                if line.startswith(FIT_START):
                    fit_start.update(json.loads(line[len(FIT_START):]))
                    fit_start["at"] = time.perf_counter()
                    started.set()
                else:
                    lines.append(line)

        reader = threading.Thread(target=read_stdout, daemon=True)
        reader.start()
        phase = "startup"
        try:
            # The set-up (interpreter, imports, data, priors) has its own allowance.
            while not started.wait(timeout=0.2) and proc.poll() is None:
                if time.perf_counter() - start > setup_limit:
                    raise subprocess.TimeoutExpired(cmd, setup_limit)
            if started.is_set():
                phase = "fit"
                proc.wait(timeout=max(fit_start["at"] + limit - time.perf_counter(), 0.0))
            proc.wait()
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            reader.join(timeout=10)
            wall = time.perf_counter() - start
            return {"tool": tool, "case": case, "timed_out": True,
                    "limit_s": limit if phase == "fit" else setup_limit,
                    "phase": phase, "killed_after_s": wall,
                    **{k: v for k, v in fit_start.items() if k != "at"},
                    "draws": args.draws, "tune": args.tune, "chains": args.chains}
        except BaseException:  # Ctrl-C: leave no sampler behind
            _kill_group(proc)
            raise
        wall = time.perf_counter() - start
        reader.join(timeout=10)
        err.seek(0)
        stderr = err.read()
    if proc.returncode != 0:
        tail = [s for s in stderr.strip().splitlines() if s.strip()][-1:]
        return {"tool": tool, "case": case, "error": tail or [f"exit status {proc.returncode}"]}
    result = next((json.loads(s) for s in reversed(lines) if s.startswith("{")), None)
    if result is None:
        return {"tool": tool, "case": case, "error": ["no result printed"]}
    result["end_to_end_s"] = wall
    return result


def r_versions() -> str | None:
    """'R x.y.z, lme4 a.b.c' when Rscript is on the PATH, else None."""
    if shutil.which("Rscript") is None:
        return None
    script = ("cat(paste0('R ', R.version$major, '.', R.version$minor, ', lme4 ', "
              "tryCatch(as.character(packageVersion('lme4')), error = function(e) "
              "'not installed')))")
    try:
        proc = subprocess.run(["Rscript", "-e", script], capture_output=True, text=True,
                              check=False, timeout=60)
    except subprocess.TimeoutExpired:
        return "R (version unknown)"
    return proc.stdout.strip() or "R (version unknown)"


def run_lme4(case: str, limit: float) -> dict:
    """Time the lme4 fit of a case: {"lme4_s": seconds or None, "lme4_note": why not}."""
    if case not in LME4:
        return {"lme4_s": None, "lme4_note": LME4_NONE.get(case, "-")}
    if shutil.which("Rscript") is None:
        return {"lme4_s": None, "lme4_note": "R not installed"}
    df = load_data(CASES[case][2])
    path = Path(tempfile.gettempdir()) / f"mixedfit_bench_{case}_{os.getpid()}.csv"
    df.to_csv(path, index=False)
    factors = [c for c in df.columns if str(df[c].dtype) == "category"]
    conv = "".join(f"d${c} <- factor(d${c}); " for c in factors)
    script = (f"suppressMessages(library(lme4)); d <- read.csv('{path}'); {conv}"
              f"t <- system.time(m <- {LME4[case]})[['elapsed']]; cat(t)")
    try:
        proc = subprocess.run(["Rscript", "-e", script], capture_output=True, text=True,
                              check=False, timeout=limit)
    except subprocess.TimeoutExpired:  # subprocess.run has killed Rscript
        return {"lme4_s": None, "lme4_note": f"> {limit:g} (stopped)", "timed_out": True,
                "limit_s": limit}
    finally:
        path.unlink(missing_ok=True)
    try:
        return {"lme4_s": float(proc.stdout.strip().split()[-1]), "lme4_note": None}
    except (ValueError, IndexError):
        if "no package called" in proc.stderr:
            return {"lme4_s": None, "lme4_note": "lme4 not installed"}
        said = [s for s in proc.stderr.splitlines() if s.strip() not in ("", "Execution halted")]
        return {"lme4_s": None, "lme4_note": "error", "error": said[-1:]}


def cpu_name() -> str:
    """The processor's model name (``/proc/cpuinfo``), else what ``platform`` says."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return cpu


def machine_line(args: argparse.Namespace, r_version: str | None) -> str:
    from importlib.metadata import PackageNotFoundError, version

    cpu = cpu_name()
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
        ram_s = f"{ram:.0f} GiB RAM"
    except (ValueError, OSError, AttributeError):
        ram_s = "RAM unknown"
    vers = []
    for pkg in ("mixedfit", "bambi", "pymc", "nutpie", "numba"):
        try:
            vers.append(f"{pkg} {version(pkg)}")
        except PackageNotFoundError:
            vers.append(f"{pkg} not installed")
    if "lme4" in args.tools:
        vers.append(r_version or "R not installed")
    return (f"Machine: {cpu} ({platform.machine()}), {os.cpu_count()} cores, {ram_s}; Python "
            f"{platform.python_version()}; {', '.join(vers)}. {args.chains} chains x "
            f"{args.draws} draws after {_warmup(args.tune)}; time limits: mixedfit "
            f"{args.timeout:g} s, Bambi {args.peer_timeout:g} s.")


def _warmup(tune: int | None) -> str:
    """The warm-up as the reports state it."""
    if tune is not None:
        return f"{tune} warm-up"
    return (f"the default warm-up (mixedfit: 1000, or 300 for a near-Gaussian posterior, "
            f"as res.plan.tune records; Bambi: {PEER_TUNE})")


def _fmt(x: float | None, digits: int = 1) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{x:.{digits}f}"


def _state(d: dict | None) -> str:
    if d is None:
        return "not run"
    if d.get("timed_out"):
        return "stopped"
    if "error" in d:
        return "error"
    return "ok"


def _num(d: dict | None, key: str) -> float:
    return float(d.get(key, np.nan)) if d else np.nan


def _time_cell(d: dict | None, key: str, digits: int = 1) -> str:
    state = _state(d)
    if state == "ok":
        return _fmt(_num(d, key), digits)
    if state == "stopped":
        if d.get("phase") == "startup":
            return f"> {d['limit_s']:g} in set-up (stopped)"
        return f"> {d['limit_s']:g} (stopped)"
    return state


def _e2e_cell(d: dict | None) -> str:
    if _state(d) == "stopped":
        return f"> {d['killed_after_s']:.1f} (stopped)"
    return _time_cell(d, "end_to_end_s")


def _ratio_cell(m: dict | None, b: dict | None, key: str) -> str:
    """Bambi time / mixedfit time; a bound when one of them was stopped."""
    if _state(m) == "stopped" and _state(b) == "ok":
        bound = m["killed_after_s"] if key == "end_to_end_s" else m["limit_s"]
        return f"< {_num(b, key) / bound:.2f}" if m.get("phase") == "fit" else "-"
    if _state(m) != "ok":
        return "-"
    if _state(b) == "ok":
        return _fmt(_num(b, key) / _num(m, key), 2)
    if _state(b) == "stopped" and key == "end_to_end_s":
        return f"> {b['killed_after_s'] / _num(m, key):.2f}"
    if _state(b) == "stopped" and b.get("phase") == "fit":
        return f"> {b['limit_s'] / _num(m, key):.2f}"
    return "-"


def _pair(m: dict | None, b: dict | None, fn) -> str:
    return " / ".join(fn(d) if _state(d) == "ok" else _state(d) for d in (m, b))


def table_row(case: str, res: dict, lme4: dict) -> str:
    m, b = res.get("mixedfit"), res.get("bambi")
    errors = [f"{t}: {' '.join(d['error'])}" for t, d in res.items() if _state(d) == "error"]
    options = ", ".join(f"{k}={v!r}" for k, v in MF_OPTIONS.get(case, {}).items())
    if m and m.get("tune") is None and m.get("tune_used") not in (None, PEER_TUNE):
        # mixedfit's default warm-up, where it is not the peers' (a near-Gaussian posterior)
        options = ", ".join(o for o in (options, f"warm-up {m['tune_used']}") if o)
    cells = [
        f"{case} (mixedfit {options})" if options else case,
        _time_cell(m, "fit_s"), _time_cell(b, "fit_s"), _ratio_cell(m, b, "fit_s"),
        _e2e_cell(m), _e2e_cell(b), _ratio_cell(m, b, "end_to_end_s"),
        _fmt(lme4["lme4_s"], 2) if lme4.get("lme4_s") is not None else lme4["lme4_note"],
        _pair(m, b, lambda d: _fmt(_num(d, "min_ess_bulk") / _num(d, "fit_s"), 0)),
        _pair(m, b, lambda d: _fmt(_num(d, "min_ess_bulk_per_draw"), 3)),
        _pair(m, b, lambda d: _fmt(_num(d, "max_rhat"), 3)),
        _pair(m, b, lambda d: str(int(_num(d, "divergences")))),
        _pair(m, b, lambda d: "yes" if d.get("converged") else "no"),
        _pair(m, b, lambda d: _fmt(max(_num(d, "peak_mb"),
                                       float(d.get("peak_children_mb", 0.0))), 0)),
    ]
    if errors:
        cells[0] += " (" + "; ".join(errors).replace("|", "/") + ")"
    return "| " + " | ".join(cells) + " |"


HEADER = [
    "| case | mixedfit fit (s) | Bambi fit (s) | ratio | mixedfit end-to-end (s) | "
    "Bambi end-to-end (s) | ratio | lme4 (s) | bulk ESS/s mf / bmb | "
    "min bulk ESS per draw mf / bmb | max R-hat mf / bmb | divergences mf / bmb | "
    "converged mf / bmb | peak MB mf / bmb |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="small",
                        help="'small', 'large', 'all' (small + large), 'scaling' (every "
                             "gaussian_* case) or a comma-separated list of cases: "
                             + ", ".join(CASES))
    parser.add_argument("--tools", default=",".join(TOOLS),
                        help="comma-separated subset of mixedfit,bambi,lme4")
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--tune", type=int, default=None,
                        help="warm-up per chain (default: each tool's default; mixedfit's is "
                             "1000, or 300 for a near-Gaussian posterior)")
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=3600,
                        help="time limit of each mixedfit fit, in seconds")
    parser.add_argument("--peer-timeout", type=float, default=3600,
                        help="time limit of each Bambi (and lme4) fit, in seconds")
    parser.add_argument("--out", default=str(HERE / "results.md"))
    parser.add_argument("--worker", nargs=2, metavar=("TOOL", "CASE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        import warnings

        warnings.simplefilter("ignore")
        print(json.dumps(worker(args.worker[0], args.worker[1], args.draws, args.tune,
                                args.chains)))
        return 0
    cases = SELECTIONS.get(args.cases) or [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = [c for c in cases if c not in CASES]
    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    bad_tools = [t for t in tools if t not in TOOLS]
    if unknown or bad_tools:
        parser.error(f"unknown case(s) {unknown} or tool(s) {bad_tools}; cases: "
                     f"{', '.join(CASES)}; tools: {', '.join(TOOLS)}")
    args.tools = tools
    r_version = r_versions() if "lme4" in tools else None
    rows = []
    for case in cases:
        results = {tool: run_one(tool, case, args) for tool in tools if tool != "lme4"}
        lme4 = (run_lme4(case, args.peer_timeout) if "lme4" in tools
                else {"lme4_s": None, "lme4_note": "not run"})
        rows.append((case, results, lme4))
        print(case, json.dumps(results), "lme4:", json.dumps(lme4), flush=True)
    machine = machine_line(args, r_version)
    lines = [machine, "", *HEADER, *(table_row(c, r, lme) for c, r, lme in rows)]
    text = "\n".join(lines) + "\n"
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    out.with_suffix(".json").write_text(json.dumps(
        [{"case": c, "results": r, **lme, "machine": machine} for c, r, lme in rows], indent=2))
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
