"""Every script in examples/ runs with short chains, prints its results and saves its figures."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"

#: script -> (lines its output must contain, figures it must write)
EXPECTED: dict[str, tuple[list[str], list[str]]] = {
    "pooling.py": (["Formula: y ~ x + (1 + x | id)", "RMSE intercept no_pooling=",
                    "RMSE slope no_pooling="],
                   ["pooling_shrinkage.png", "pooling_estimates.png"]),
    "sleepstudy.py": (["Formula: Reaction ~ Days + (Days | Subject)", "Shrinkage"],
                      ["sleepstudy_shrinkage.png", "sleepstudy_caterpillar.png"]),
    "cbpp.py": (["Family: binomial (link: logit", "Odds ratios against period 1",
                 "Population risk per period"],
                ["cbpp_ppc.png", "cbpp_shrinkage.png"]),
    "penicillin.py": (["Data: 144 observations; groups: plate, 24; sample, 6",
                       "Share of the variance"],
                      ["penicillin_samples.png", "penicillin_variance.png"]),
    "pastes.py": (["batch: 10, batch:cask: 30", "groups: batch, 10; batch:cask, 30",
                   "Share of the variance"],
                  ["pastes_variance.png", "pastes_casks.png"]),
    "growth.py": (["Formula: height ~ age + (1 + age | child)", "Growth rate of each child",
                   "new child"],
                  ["growth_lines.png", "growth_rates.png"]),
    "salamanders.py": (["60% are zero", "Family: zero_inflated_poisson (link: log",
                        "Observed share of zeros: 0.60", "hurdle_negativebinomial"],
                       ["salamanders_zeros.png"]),
    "meta_analysis.py": (["Known standard errors: sei", "Average risk ratio:",
                          "Risk ratio in a new trial", "Meta-regression on absolute latitude"],
                         ["meta_forest.png"]),
    "dispersion.py": (["sigma ~ Days + (1 | Subject) (link: log)", "sigma_Days",
                       "Residual sd of a typical subject", "LOO: sigma by Days and subject"],
                      ["dispersion_sigma.png"]),
    "travel_mode.py": (["categories walk, bike, car; reference 'walk'",
                        "mucar ~ distance + (1 | city) (log odds of 'car' against 'walk')",
                        "Coefficients against the simulated truth", "P(mode) for a typical"],
                       ["travel_mode.png"]),
    "interpreting.py": (["Expected share of new cases per period",
                         "Odds ratios between periods", "period1 / period2",
                         "Slope of Days per cohort", "P(slower growth in the odd cohort)",
                         "Prediction interval for a new subject"],
                        ["interpreting_effects.png", "interpreting_contrasts.png"]),
    "wine.py": (["categories 1 < 2 < 3 < 4 < 5", "Intercept[4]", "P(rating = k) for a typical",
                 "P(warm fermentation raises the bitterness)", "logit / probit"],
                ["wine_ppc.png"]),
}


def run_example(name: str, figures: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MIXEDFIT_QUICK": "1", "MIXEDFIT_FIGURES": str(figures),
           "MPLBACKEND": "Agg"}
    return subprocess.run([sys.executable, str(EXAMPLES / name)], capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=900, check=False)


def test_every_example_is_tested():
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_example_runs(name, tmp_path):
    lines, figures = EXPECTED[name]
    out = run_example(name, tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    for line in lines:
        assert line in out.stdout, f"{line!r} missing from the output of {name}"
    for fig in figures:
        path = tmp_path / fig
        assert path.is_file() and path.stat().st_size > 1000, f"{name} did not write {fig}"
    if name == "pooling.py":
        _check_pooling_beats_no_pooling(out.stdout)


def _check_pooling_beats_no_pooling(stdout: str) -> None:
    """The hierarchical estimates are closer to the simulated truth, intercepts and slopes."""
    found = re.findall(r"^RMSE (\w+) no_pooling=([\d.]+) partial_pooling=([\d.]+)$", stdout,
                       flags=re.MULTILINE)
    rmse = {what: (float(no), float(partial)) for what, no, partial in found}
    assert set(rmse) == {"intercept", "slope"}, stdout[-2000:]
    for what, (no, partial) in rmse.items():
        assert partial < no, f"partial pooling RMSE {partial} >= no pooling {no} ({what})"
