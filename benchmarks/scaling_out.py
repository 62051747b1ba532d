"""Many fits and k-fold cross-validation, here and on a local Dask cluster (issue 18).

    python benchmarks/scaling_out.py                   # the full run (about 30 min, 2 cores)
    python benchmarks/scaling_out.py --responses 50    # a smoke run
    python benchmarks/scaling_out.py --cases kfold     # only the k-fold case

Case ``many``: ``--responses`` (default 1,000) sleepstudy-shaped responses, simulated
from ``Reaction ~ Days + (Days | Subject)`` on the sleepstudy design (lme4's estimates:
new subject effects and residuals for each response, seed fixed), fitted with the same
options (``random_seed=1``, the fit defaults of 4 chains x 1000 draws after 1000
warm-up unless ``--chains/--draws/--tune`` say otherwise) four ways:

``loop``
    a Python loop of ``mf.fit`` in this process;
``sequential``
    ``mf.fit_many(..., client="sequential")``;
``local1`` / ``local2``
    ``mf.fit_many(..., client=client)`` on a ``distributed.LocalCluster`` of 1 or 2
    worker processes with one thread each, every worker pinned to a core of its own
    (its CPU affinity), so that each fit, chains and all, uses one core: nutpie runs
    a fit's chains in threads, ``min(chains, cores)`` of them, which would otherwise
    spread a fit over both cores of a 2-core machine and leave nothing for a second
    worker.

For each: the wall time, the sum of the fits' sampling times (``res.plan.time``: nutpie
and turning its draws into the posterior), the sum of the fits' own times (the whole
``mf.fit`` call, as ``FitCollection.seconds`` records it), the share of the time
outside sampling (``1 - sampling / (slots x wall)``, slots = the fits that run at once:
1 here, one per worker on the cluster; the cluster's wall time includes each worker's
first-fit warm-up, not the cluster's start, reported apart), and the speed-up of 2
workers over 1. Every fit has the same seed, so every
variant must give the same draws: the script checks it (a hash of each posterior).
The machine may be shared: the CPU that other processes used meanwhile is reported (in
cores, from ``/proc/stat`` less this process and its workers), and ``--wait`` waits for
a quiet moment before each variant.
The pointwise log-likelihood is not stored (``log_likelihood=False``, in every variant)
unless ``--log-likelihood``: stored, it is 9 MB per sleepstudy fit, 9 GB for 1,000
fits held in one collection. A profile of 20 fits in this process says where a fit's
time goes (design, sampling, convergence checks, log-likelihood).

Case ``kfold``: ``res.kfold(10)`` and ``res.kfold(10, groups="Subject")`` of
``Reaction ~ Days + (Days | Subject)`` on sleepstudy, sequentially and on a local
cluster of 2 pinned one-thread workers (warmed up first by one fit each, timed apart):
wall times, elpd and its standard error (the same in both, checked).

Writes ``benchmarks/results-scaling-out-<date>.md`` and ``.json``.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime
import hashlib
import json
import logging
import os
import platform
import pstats
import resource
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import mixedfit as mf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import cpu_name  # noqa: E402

HERE = Path(__file__).resolve().parent
FORMULA = "Reaction ~ Days + (Days | Subject)"
RHS = "~ Days + (Days | Subject)"
VARIANTS = ("loop", "sequential", "local1", "local2")
SEED = 1


# ---------------------------------------------------------------------------- data
def simulate(n: int, seed: int = 20261130) -> pd.DataFrame:
    """Sleepstudy with ``n`` simulated response columns ``y0000``... drawn from lme4's
    fit of ``Reaction ~ Days + (Days | Subject)`` (fixed 251.4, 10.47; subject sds 24.7
    and 5.9, correlation 0.07; residual sd 25.6), new subject effects and residuals for
    each response."""
    df = mf.load_dataset("sleepstudy")
    rng = np.random.default_rng(seed)
    subj = pd.factorize(df["Subject"])[0]
    days = df["Days"].to_numpy(float)
    sd = np.array([24.7, 5.9])
    corr = np.array([[1.0, 0.07], [0.07, 1.0]])
    chol = np.linalg.cholesky(corr * np.outer(sd, sd))
    n_subj = subj.max() + 1
    cols = {}
    for j in range(n):
        u = rng.standard_normal((n_subj, 2)) @ chol.T
        mu = 251.4 + 10.47 * days + u[subj, 0] + u[subj, 1] * days
        cols[f"y{j:04d}"] = mu + rng.normal(0.0, 25.6, len(df))
    return pd.concat([df, pd.DataFrame(cols, index=df.index)], axis=1)


def fingerprint(res: Any) -> str:
    """A hash of every posterior draw: equal fits, equal hashes."""
    h = hashlib.sha1()
    post = res.idata.posterior
    for name in sorted(post.data_vars):
        h.update(np.ascontiguousarray(post[name].values).tobytes())
    return h.hexdigest()[:16]


def cpu_seconds() -> tuple[float, float]:
    """(CPU seconds the whole machine has been busy, CPU seconds of this process and its
    ended children): their difference over a span is what other processes used."""
    fields = [float(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    busy = sum(fields[:3]) + sum(fields[5:8])  # user nice system . . irq softirq steal
    own = sum(r.ru_utime + r.ru_stime for r in (resource.getrusage(resource.RUSAGE_SELF),
                                                 resource.getrusage(resource.RUSAGE_CHILDREN)))
    return busy / os.sysconf("SC_CLK_TCK"), own


def wait_quiet(limit: float, longest: float, window: float = 15.0) -> float:
    """Wait until other processes use less than ``limit`` cores over ``window`` seconds
    (a shared machine), at most ``longest`` seconds; the seconds waited."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < longest:
        busy0, own0 = cpu_seconds()
        time.sleep(window)
        busy1, own1 = cpu_seconds()
        if ((busy1 - busy0) - (own1 - own0)) / window < limit:
            break
    return time.perf_counter() - t0


# ---------------------------------------------------------------------------- cluster
def _pin(core: int) -> list[int]:
    """Run on a worker: pin every thread of its process to ``core`` (threads started
    later, nutpie's, inherit it from the thread that starts them)."""
    for tid in os.listdir("/proc/self/task"):
        try:
            os.sched_setaffinity(int(tid), {core})
        except OSError:  # a thread that ended meanwhile
            pass
    return sorted(os.sched_getaffinity(0))


def _task_affinity() -> list[int]:
    return sorted(os.sched_getaffinity(0))


def _warm_up() -> float:
    """Run on a worker: import mixedfit and make one small fit (loads the compiled
    kernel); its seconds."""
    t = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mf.fit("Reaction ~ Days + (1 | Subject)", mf.load_dataset("sleepstudy"), draws=50,
               tune=50, chains=1, progressbar=False, random_seed=1)
    return time.perf_counter() - t


def start_cluster(workers: int) -> tuple[Any, Any, float, list[list[int]]]:
    """A LocalCluster of ``workers`` one-thread worker processes, each pinned to its own
    core; the client, the cluster, the seconds it took, and the cores a task sees."""
    from distributed import Client, LocalCluster

    cores = sorted(os.sched_getaffinity(0))
    t0 = time.perf_counter()
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                           dashboard_address=None, silence_logs=logging.ERROR)
    client = Client(cluster)
    client.wait_for_workers(workers)
    for i, addr in enumerate(sorted(client.scheduler_info()["workers"])):
        client.run(_pin, cores[i % len(cores)], workers=[addr])
    seen = client.gather([client.submit(_task_affinity, pure=False, workers=[addr])
                          for addr in sorted(client.scheduler_info()["workers"])])
    return client, cluster, time.perf_counter() - t0, seen


# ---------------------------------------------------------------------------- many
def run_loop(df: pd.DataFrame, names: list[str], opts: dict) -> dict:
    samp, secs, prints = [], [], []
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in names:
            t = time.perf_counter()
            res = mf.fit(f"{name} {RHS}", df, **opts)
            secs.append(time.perf_counter() - t)
            samp.append(res.plan.time)
            prints.append(fingerprint(res))
            del res
    wall = time.perf_counter() - t0
    return {"wall_s": wall, "sampling_s": float(np.sum(samp)), "fit_s": float(np.sum(secs)),
            "n_ok": len(names), "n_failed": 0, "prints": prints}


def run_many(df: pd.DataFrame, names: list[str], opts: dict, client: Any) -> dict:
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        coll = mf.fit_many(RHS, df, responses=names, client=client, **opts)
    wall = time.perf_counter() - t0
    out = {"wall_s": wall,
           "sampling_s": float(sum(coll[n].plan.time for n in coll)),
           "fit_s": float(sum(coll.seconds.values())),
           "n_ok": len(coll), "n_failed": len(coll.failed),
           "errors": dict(list(coll.failed.items())[:3]),
           "prints": [fingerprint(coll[n]) if n in coll else None for n in names]}
    del coll
    return out


def profile_fits(df: pd.DataFrame, names: list[str], opts: dict) -> dict:
    """Where a fit's time goes: cProfile of ``len(names)`` fits (seconds per fit)."""
    prof = cProfile.Profile()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        prof.enable()
        for name in names:
            mf.fit(f"{name} {RHS}", df, **opts)
        prof.disable()
        wall = time.perf_counter() - t0
    stats = pstats.Stats(prof).stats  # (file, line, func) -> (cc, nc, tt, ct, callers)

    def cum(path_end: str, func: str) -> float:
        return sum(v[3] for (f, _, fn), v in stats.items()
                   if f.replace("\\", "/").endswith(path_end) and fn == func)

    n = len(names)
    parts = {
        "fit (whole call)": cum("mixedfit/api.py", "fit"),
        "design and plan (make_spec, make_plan)": cum("mixedfit/spec.py", "make_spec")
        + cum("mixedfit/plan.py", "make_plan"),
        "sampling (res.plan.time: backend sample)": cum("mixedfit/backends/compiled.py",
                                                        "sample"),
        "  of which nutpie itself (sampler wait)": cum("nutpie/sample.py", "wait"),
        "log-likelihood stored (res.log_likelihood_data)": cum("mixedfit/results/view.py",
                                                               "log_likelihood_data"),
        "convergence checks (res.diagnostics: R-hat, ESS)": cum("mixedfit/results/view.py",
                                                                 "diagnostics"),
    }
    return {"n_fits": n, "wall_per_fit_s": wall / n,
            "per_fit_s": {k: v / n for k, v in parts.items()}}


def case_many(args: argparse.Namespace) -> dict:
    n = args.responses
    df = simulate(n)
    names = [f"y{j:04d}" for j in range(n)]
    opts = {"draws": args.draws, "tune": args.tune, "chains": args.chains,
            "random_seed": SEED, "progressbar": False,
            "log_likelihood": bool(args.log_likelihood)}
    with warnings.catch_warnings():  # the first fit: imports, the compiled kernel
        warnings.simplefilter("ignore")
        t = time.perf_counter()
        mf.fit(FORMULA, df, **opts)
        warm = time.perf_counter() - t
    print(f"many: {n} responses; warm-up fit {warm:.1f} s", flush=True)
    out: dict[str, Any] = {"responses": n, "options": opts, "warm_up_fit_s": warm,
                           "variants": {}}
    prof_names = names[: min(20, n)]
    out["profile"] = profile_fits(df, prof_names, opts)
    print("profile:", json.dumps(out["profile"]), flush=True)

    def one(variant: str) -> dict:
        waited = wait_quiet(args.quiet, args.wait) if args.wait > 0 else 0.0
        busy0, own0 = cpu_seconds()
        t0 = time.perf_counter()
        started = datetime.datetime.now().isoformat(timespec="seconds")
        if variant == "loop":
            r = run_loop(df, names, opts)
            r["slots"] = 1
        elif variant == "sequential":
            r = run_many(df, names, opts, "sequential")
            r["slots"] = 1
        else:
            workers = int(variant[-1])
            client, cluster, start_s, seen = start_cluster(workers)
            try:
                r = run_many(df, names, opts, client)
            finally:
                client.close()
                cluster.close()
            r.update(slots=workers, cluster_start_s=start_s, task_affinity=seen)
        busy1, own1 = cpu_seconds()
        span = time.perf_counter() - t0
        r.update(started=started, waited_s=waited, span_s=span, own_cpu_s=own1 - own0,
                 others_cores=max(0.0, (busy1 - busy0) - (own1 - own0)) / span)
        r["outside_sampling_share"] = 1 - r["sampling_s"] / (r["slots"] * r["wall_s"])
        print(variant, json.dumps({k: v for k, v in r.items() if k != "prints"}), flush=True)
        return r

    for variant in args.variants:
        out["variants"][variant] = one(variant)
    v = out["variants"]
    if "local1" in v and "local2" in v:
        speed = v["local1"]["wall_s"] / v["local2"]["wall_s"]
        out["speedup_2_over_1"] = speed
        if speed < args.retry_below:
            print(f"speed-up {speed:.2f} < {args.retry_below}: running local2 once more",
                  flush=True)
            again = one("local2")
            first = v.pop("local2")
            # the faster of the two runs counts (a shared machine slows, never speeds)
            v["local2"], v["local2_other"] = ((again, first) if again["wall_s"] < first["wall_s"]
                                              else (first, again))
            out["speedup_2_over_1"] = v["local1"]["wall_s"] / v["local2"]["wall_s"]
    ref = v.get("loop") or next(iter(v.values()))
    for r in v.values():
        r["same_draws_as_first"] = int(sum(a == b and a is not None
                                           for a, b in zip(r["prints"], ref["prints"],
                                                           strict=True)))
    for r in v.values():
        r.pop("prints")
    return out


# ---------------------------------------------------------------------------- k-fold
def case_kfold(args: argparse.Namespace) -> dict:
    df = mf.load_dataset("sleepstudy")
    waited = wait_quiet(args.quiet, args.wait) if args.wait > 0 else 0.0
    busy0, own0 = cpu_seconds()
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = mf.fit(FORMULA, df, random_seed=SEED, progressbar=False)
        rows = []
        for label, groups in (("10 random folds", None), ("10 folds of Subject", "Subject")):
            t = time.perf_counter()
            seq = res.kfold(10, groups=groups, client="sequential", progressbar=False)
            rows.append({"folds": label, "where": "sequential", "wall_s":
                         time.perf_counter() - t, "elpd": seq.elpd_kfold, "se": seq.se,
                         "p_kfold": seq.p_kfold, "k": seq.k})
            print("kfold", json.dumps(rows[-1]), flush=True)
        client, cluster, start_s, seen = start_cluster(2)
        t = time.perf_counter()
        client.run(_warm_up)
        warm_s = time.perf_counter() - t
        try:
            for i, (label, groups) in enumerate((("10 random folds", None),
                                                 ("10 folds of Subject", "Subject"))):
                t = time.perf_counter()
                kf = res.kfold(10, groups=groups, client=client, progressbar=False)
                same = rows[i]
                rows.append({"folds": label, "where": "local2",
                             "wall_s": time.perf_counter() - t, "elpd": kf.elpd_kfold,
                             "se": kf.se, "p_kfold": kf.p_kfold, "k": kf.k,
                             "same_as_sequential": bool(
                                 kf.elpd_kfold == same["elpd"] and kf.se == same["se"])})
                print("kfold", json.dumps(rows[-1]), flush=True)
        finally:
            client.close()
            cluster.close()
    busy1, own1 = cpu_seconds()
    others = max(0.0, (busy1 - busy0) - (own1 - own0)) / (time.perf_counter() - t0)
    return {"rows": rows, "cluster_start_s": start_s, "warm_up_s": warm_s,
            "task_affinity": seen, "waited_s": waited, "others_cores": others}


# ---------------------------------------------------------------------------- report
def machine_line() -> str:
    from importlib.metadata import PackageNotFoundError, version

    cpu = cpu_name()
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    vers = []
    for pkg in ("mixedfit", "nutpie", "dask", "distributed"):
        try:
            vers.append(f"{pkg} {version(pkg)}")
        except PackageNotFoundError:
            vers.append(f"{pkg} not installed")
    return (f"Machine: {cpu} ({platform.machine()}), {os.cpu_count()} cores, {ram:.0f} GiB "
            f"RAM; Python {platform.python_version()}; {', '.join(vers)}; mixedfit "
            f"imported from {Path(mf.__file__).parent} at commit {commit()}.")


def commit() -> str:
    """The git commit of the mixedfit that ran (``-dirty`` with uncommitted changes)."""
    where = Path(mf.__file__).resolve().parent.parent
    try:
        head = subprocess.run(["git", "-C", str(where), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(where), "status", "--porcelain",
                                "mixedfit"], capture_output=True, text=True,
                               check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return head + ("-dirty" if dirty else "")


LABELS = {"loop": "Python loop of `mf.fit`", "sequential": "`fit_many`, sequential",
          "local1": "`fit_many`, LocalCluster 1 worker x 1 thread (pinned)",
          "local2": "`fit_many`, LocalCluster 2 workers x 1 thread (pinned)",
          "local2_other": "(the slower of two runs of 2 workers: re-run once)"}


def report(results: dict, args: argparse.Namespace, started: str, finished: str) -> str:
    lines = [results["machine"], "",
             f"Command: `{results['command']}`; run from {started} to {finished}."]
    for case, k in results.get("kept", {}).items():
        lines.append(f"The {case} case is kept from an earlier run: `{k['command']}`, run "
                     f"from {k['started']} to {k['finished']}.")
    lines.append("")
    many = results.get("many")
    if many:
        o = many["options"]
        lines += [f"## Many fits: {many['responses']} sleepstudy-shaped responses", "",
                  f"`{RHS}` with responses=, {o['chains']} chains x {o['draws']} draws after "
                  f"{o['tune']} warm-up, random_seed={o['random_seed']}, "
                  f"log_likelihood={o['log_likelihood']}; warm-up fit in this process "
                  f"{many['warm_up_fit_s']:.1f} s (not counted).", "",
                  "| variant | wall (s) | per fit (ms) | cluster start (s) | sampling, sum (s) "
                  "| fits' own time, sum (s) | outside sampling | fitted / failed "
                  "| draws as the loop | other processes' CPU (cores) |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for name, r in many["variants"].items():
            start = f"{r['cluster_start_s']:.1f}" if "cluster_start_s" in r else "-"
            lines.append(
                f"| {LABELS.get(name, name)} | {r['wall_s']:.1f} | "
                f"{1000 * r['wall_s'] / many['responses']:.0f} | {start} | "
                f"{r['sampling_s']:.1f} | {r['fit_s']:.1f} | "
                f"{100 * r['outside_sampling_share']:.0f}% | "
                f"{r['n_ok']} / {r['n_failed']} | {r['same_draws_as_first']} of "
                f"{many['responses']} | {r['others_cores']:.2f} |")
        if "speedup_2_over_1" in many:
            v, n = many["variants"], many["responses"]
            lines += ["", f"Speed-up of 2 workers over 1: {many['speedup_2_over_1']:.2f}x "
                      f"(a fit's own time: {1000 * v['local1']['fit_s'] / n:.0f} ms on 1 worker, "
                      f"{1000 * v['local2']['fit_s'] / n:.0f} ms on each of 2)."]
        p = many["profile"]
        lines += ["", f"Where a fit's time goes (cProfile of {p['n_fits']} fits in this "
                  f"process, seconds per fit; {p['wall_per_fit_s']:.3f} s per fit under the "
                  f"profiler):", "", "| part | s per fit |", "|---|---|"]
        lines += [f"| {k} | {v:.3f} |" for k, v in p["per_fit_s"].items()]
        lines.append("")
    kf = results.get("kfold")
    if kf:
        lines += ["## k-fold on sleepstudy", "",
                  f"`{FORMULA}`, fit defaults (4 chains x 1000 draws), random_seed={SEED}; "
                  f"2-worker LocalCluster (pinned, one thread each) started in "
                  f"{kf['cluster_start_s']:.1f} s and warmed up (one small fit per worker) "
                  f"in {kf['warm_up_s']:.1f} s, neither counted below. Other processes "
                  f"used {kf['others_cores']:.2f} cores on average during the case.", "",
                  "| folds | where | wall (s) | elpd_kfold | se | p_kfold | same as "
                  "sequential |", "|---|---|---|---|---|---|---|"]
        for r in kf["rows"]:
            same = {True: "yes", False: "no"}.get(r.get("same_as_sequential"), "-")
            lines.append(f"| {r['folds']} (k={r['k']}) | {r['where']} | {r['wall_s']:.1f} | "
                         f"{r['elpd']:.2f} | {r['se']:.2f} | {r['p_kfold']:.2f} | {same} |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", default="many,kfold", help="many,kfold (comma-separated)")
    ap.add_argument("--responses", type=int, default=1000)
    ap.add_argument("--variants", default=",".join(VARIANTS),
                    help=f"of the many case, comma-separated: {','.join(VARIANTS)}")
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--tune", type=int, default=1000)
    ap.add_argument("--log-likelihood", action="store_true",
                    help="store each fit's pointwise log-likelihood (9 MB per fit)")
    ap.add_argument("--retry-below", type=float, default=1.5,
                    help="re-run the 2-worker case once when its speed-up is below this")
    ap.add_argument("--wait", type=float, default=0.0,
                    help="before each variant wait (at most this many seconds) until other "
                    "processes use less than --quiet cores: a shared machine")
    ap.add_argument("--quiet", type=float, default=0.3)
    ap.add_argument("--keep", default=None, metavar="JSON",
                    help="a results file of this script: the cases not run now are kept "
                    "from it (to re-run one case)")
    ap.add_argument("--out", default=None, help="default: benchmarks/results-scaling-out-"
                    "<date>.md (and .json)")
    args = ap.parse_args(argv)
    args.variants = [v for v in args.variants.split(",") if v]
    bad = [v for v in args.variants if v not in VARIANTS]
    if bad:
        ap.error(f"unknown variant {bad[0]!r}")
    cases = [c for c in args.cases.split(",") if c]
    started = datetime.datetime.now().isoformat(timespec="seconds")
    results: dict[str, Any] = {
        "machine": machine_line(),
        "command": " ".join(["python", "benchmarks/scaling_out.py", *sys.argv[1:]]),
        "started": started}
    if "many" in cases:
        results["many"] = case_many(args)
    if "kfold" in cases:
        results["kfold"] = case_kfold(args)
    finished = datetime.datetime.now().isoformat(timespec="seconds")
    results["finished"] = finished
    if args.keep:
        kept = json.loads(Path(args.keep).read_text())
        for case in ("many", "kfold"):
            if case not in cases and case in kept:
                results[case] = kept[case]
                results.setdefault("kept", {})[case] = kept.get("kept", {}).get(case) or {
                    k: kept[k] for k in ("command", "started", "finished")}
    out = Path(args.out) if args.out else HERE / f"results-scaling-out-{datetime.date.today()}.md"
    text = report(results, args, started, finished)
    out.write_text(text)
    out.with_suffix(".json").write_text(json.dumps(results, indent=2, default=str))
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
