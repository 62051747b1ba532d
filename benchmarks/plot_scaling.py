"""Plot how the fit time grows with the number of rows, from results written by run.py.

Reads one or more results JSON files of ``benchmarks/run.py``, keeps the
``gaussian_*`` cases (the simulated random-slope model, 100 rows per group) and
draws fit time (s) against rows on log-log axes for mixedfit, Bambi and lme4
(when the run had R; lme4 maximises the likelihood, it does not sample). A Bambi
fit that was stopped at its time limit is drawn as an open upward triangle at
the limit (the true time is higher). Also prints a Markdown table.

Usage::

    python benchmarks/run.py --cases scaling --out benchmarks/results-scaling.md
    python benchmarks/plot_scaling.py benchmarks/results-scaling.json
    python benchmarks/plot_scaling.py a.json b.json --out /tmp/scaling.png

When a case appears in several files, a later file replaces an earlier one,
tool by tool (a tool that was not run, or failed, in the later file keeps the
earlier result).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOOLS = {"mixedfit": "mixedfit", "bambi": "Bambi", "lme4": "lme4 (maximum likelihood)"}


def _usable(result: dict | None) -> bool:
    return bool(result) and ("fit_s" in result or result.get("timed_out", False)
                             or "error" in result)


def _rows_of(case: str, result: dict) -> int:
    if "n_rows" in result:
        return int(result["n_rows"])
    return int(float(case.split("_", 1)[1]))  # "gaussian_3e5" -> 300000


def _case_rows(case: str, res: dict[str, dict]) -> int:
    return _rows_of(case, res.get("mixedfit") or res.get("bambi") or {})


def load(paths: list[str]) -> dict[str, dict[str, dict]]:
    """case -> tool -> result, for the gaussian_* cases of the given files."""
    cases: dict[str, dict[str, dict]] = {}
    for path in paths:
        data = json.loads(Path(path).read_text())
        rows = data["rows"] if isinstance(data, dict) else data
        for row in rows:
            case = row["case"]
            if not case.startswith("gaussian_"):
                continue
            slot = cases.setdefault(case, {})
            for tool in ("mixedfit", "bambi"):
                result = row.get("results", {}).get(tool)
                if _usable(result):
                    slot[tool] = result
            if row.get("lme4_s") is not None:
                slot["lme4"] = {"fit_s": float(row["lme4_s"])}
    return cases


def _fmt(x: float | None, digits: int = 1) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{x:.{digits}f}"


def _fit_cell(result: dict | None) -> str:
    if result is None:
        return "not run"
    if "error" in result:
        error = result["error"]
        text = error[-1] if isinstance(error, list) else str(error)
        return "error (out of memory)" if "Unable to allocate" in text else "error"
    if result.get("timed_out"):
        return f"> {result['limit_s']:g} (stopped)"
    return _fmt(result["fit_s"])


def table(cases: dict[str, dict[str, dict]]) -> str:
    lines = ["| rows | groups | mixedfit fit s | Bambi fit s | ratio | lme4 s | mixedfit peak MB |",
             "|---|---|---|---|---|---|---|"]
    for case, res in sorted(cases.items(), key=lambda kv: _case_rows(*kv)):
        m, b = res.get("mixedfit"), res.get("bambi")
        rows = _case_rows(case, res)
        groups = (m or b or {}).get("n_groups", rows // 100)
        ratio = "-"
        if m and "fit_s" in m and b and "error" not in b:
            if b.get("timed_out"):
                ratio = f"> {b['limit_s'] / m['fit_s']:.2f}"
            else:
                ratio = _fmt(b["fit_s"] / m["fit_s"], 2)
        peak = "-"
        if m and "fit_s" in m:
            peak = _fmt(max(m.get("peak_mb", float("nan")), m.get("peak_children_mb", 0.0)), 0)
        lme4 = _fmt(res["lme4"]["fit_s"]) if "lme4" in res else "not run"
        lines.append(f"| {rows:,} | {groups:,} | {_fit_cell(m)} | {_fit_cell(b)} | {ratio} | "
                     f"{lme4} | {peak} |")
    return "\n".join(lines)


def plot(cases: dict[str, dict[str, dict]], out: Path, title: str | None = None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    styles = {"mixedfit": {"color": "C0", "marker": "o"}, "bambi": {"color": "C1", "marker": "s"},
              "lme4": {"color": "C2", "marker": "D"}}
    for tool, label in TOOLS.items():
        done = sorted((_rows_of(c, r[tool]), r[tool]["fit_s"]) for c, r in cases.items()
                      if tool in r and "fit_s" in r[tool])
        stopped = sorted((_rows_of(c, r[tool]), r[tool]["limit_s"]) for c, r in cases.items()
                         if tool in r and r[tool].get("timed_out"))
        if done:
            ax.plot([x for x, _ in done], [y for _, y in done], linestyle="-", label=label,
                    **styles[tool])
        if stopped:
            ax.plot([x for x, _ in stopped], [y for _, y in stopped], linestyle="none",
                    marker="^", markersize=9, markerfacecolor="none",
                    markeredgecolor=styles[tool]["color"],
                    label=f"{label}: stopped at limit")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("rows (100 per group)")
    ax.set_ylabel("fit time (s)")
    ax.set_title(title or "Fit time against data size: y ~ x + (1 + x | g)")
    ax.margins(y=0.12)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=150)
    plt.close(fig)


def _settings(cases: dict[str, dict[str, dict]]) -> str | None:
    found = {(r.get("chains"), r.get("draws"), r.get("tune"))
             for res in cases.values() for tool, r in res.items()
             if tool != "lme4" and "error" not in r}
    if len(found) != 1 or None in next(iter(found)):
        return None
    chains, draws, tune = next(iter(found))
    return f"{chains} chains x {draws} draws after {tune} warm-up"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="+", help="results JSON file(s) written by run.py")
    parser.add_argument("--out", default=str(ROOT / "docs" / "images" / "scaling.png"),
                        help="PNG to write (default docs/images/scaling.png)")
    args = parser.parse_args(argv)
    cases = load(args.results)
    if not cases:
        parser.error("no gaussian_* rows with results in " + ", ".join(args.results))
    settings = _settings(cases)
    title = "Fit time against data size: y ~ x + (1 + x | g)"
    if settings:
        title += f"\n{settings}"
    plot(cases, Path(args.out), title)
    print(table(cases))
    if settings:
        print(f"\n{settings}.")
    print(f"\nPlot written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
