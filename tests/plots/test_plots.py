"""Plots: each renders to a PNG and draws what it should, on two cached short fits."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

import mixedfit as mf  # noqa: E402
from mixedfit import plots  # noqa: E402
from mixedfit.api import PriorPredictive  # noqa: E402
from tests.conftest import QUICK, cached_fit  # noqa: E402


@pytest.fixture(scope="module")
def sleep() -> Any:
    return cached_fit("Reaction ~ Days + (Days | Subject)", mf.load_dataset("sleepstudy"),
                      key="sleepstudy", **QUICK)


@pytest.fixture(scope="module")
def cbpp() -> Any:
    return cached_fit("cbind(incidence, size - incidence) ~ period + (1 | herd)",
                      mf.load_dataset("cbpp"), key="cbpp-quick", family="binomial", **QUICK)


@pytest.fixture(autouse=True)
def _close_figures() -> Any:
    yield
    plt.close("all")


def rendered(fig: Any, tmp_path: Path, name: str) -> Figure:
    """Save ``fig`` as a PNG and check it is a real, non-trivial image."""
    assert isinstance(fig, Figure)
    path = tmp_path / f"{name}.png"
    fig.savefig(path, dpi=80)
    assert path.exists()
    assert path.stat().st_size > 5000
    return fig


def replicated_lines(ax: Any) -> int:
    return sum(line.get_gid() == "replicated" for line in ax.lines)


def arrows(ax: Any) -> int:
    return sum(t.get_gid() == "shrinkage-arrow" for t in ax.texts)


def legend_texts(ax: Any) -> list[str]:
    legend = ax.get_legend()
    return [] if legend is None else [t.get_text() for t in legend.get_texts()]


def test_import_does_not_load_matplotlib_or_arviz() -> None:
    code = ("import sys, mixedfit.plots\n"
            "loaded = [m for m in sys.modules if m.split('.')[0] in ('matplotlib', 'arviz')]\n"
            "assert not loaded, loaded\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


# ------------------------------------------------------------------------------- trace
def test_trace_shows_main_parameters_only(sleep: Any, tmp_path: Path) -> None:
    fig = rendered(plots.plot_trace(sleep), tmp_path, "trace")
    # 2 fixed effects, 2 sds, 1 correlation (upper triangle only), sigma: density + trace
    assert len(fig.axes) == 12
    titles = {ax.get_title() for ax in fig.axes}
    assert {"fixed[Intercept]", "sd(Subject)[Days]", "cor(Subject)[Intercept,Days]",
            "sigma"} <= titles
    assert not any(t.startswith(("z(", "u(")) for t in titles)


def test_rank_plot_and_var_names(sleep: Any, tmp_path: Path) -> None:
    fig = rendered(plots.plot_trace(sleep, kind="rank"), tmp_path, "rank")
    assert len(fig.axes) == 6
    fig = plots.plot_trace(sleep, var_names=["sigma"])
    assert len(fig.axes) == 2
    with pytest.raises(mf.OptionError, match="no variable"):
        plots.plot_trace(sleep, var_names=["nonsense"])
    with pytest.raises(mf.OptionError, match="kind"):
        plots.plot_trace(sleep, kind="pairs")


# -------------------------------------------------------------------------- caterpillar
def test_caterpillar_one_panel_per_term_sorted(sleep: Any, tmp_path: Path) -> None:
    fig = rendered(plots.plot_caterpillar(sleep), tmp_path, "caterpillar")
    assert len(fig.axes) == 2
    assert [ax.get_title() for ax in fig.axes] == ["Intercept", "Days"]
    for ax in fig.axes:
        assert len(ax.get_yticklabels()) == 18
        means = [line for line in ax.lines if line.get_marker() == "o"][0].get_xdata()
        assert np.all(np.diff(means) >= 0)  # sorted by posterior mean
        assert any(list(line.get_xdata()) == [0, 0] for line in ax.lines)  # line at 0


def test_caterpillar_coefficients_and_ax(sleep: Any, tmp_path: Path) -> None:
    fig, ax = plt.subplots()
    out = plots.plot_caterpillar(sleep, term="Days", coefficients=True, ax=ax)
    assert out is fig
    rendered(out, tmp_path, "caterpillar_days")
    days = float(sleep.fixed_effects.loc["Days", "mean"])
    assert any(np.allclose(line.get_xdata(), [days, days]) for line in ax.lines)
    with pytest.raises(mf.OptionError, match="single panel"):
        plots.plot_caterpillar(sleep, ax=ax)
    with pytest.raises(mf.OptionError, match="does not vary"):
        plots.plot_caterpillar(sleep, term="Reaction")
    with pytest.raises(mf.DataError, match="No grouping factor"):
        plots.plot_caterpillar(sleep, group="Days")
    assert isinstance(sleep.plot_caterpillar(term="Intercept"), Figure)  # the method


# ---------------------------------------------------------------------------- shrinkage
def test_shrinkage_2d_arrow_per_level(sleep: Any, tmp_path: Path) -> None:
    fig = rendered(plots.plot_shrinkage(sleep), tmp_path, "shrinkage_2d")
    (ax,) = fig.axes
    sh = sleep.shrinkage.loc["Subject"]
    finite = sh["no_pooling"].unstack("term").notna().all(axis=1).sum()
    assert arrows(ax) == finite == 18
    assert sum(p.get_gid() == "population-ellipse" for p in ax.patches) == 2
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("Intercept", "Days")
    texts = legend_texts(ax)
    assert {"own data (no pooling)", "partial pooling (model)",
            "population (fixed effects)"} <= set(texts)
    fig = plots.plot_shrinkage(sleep, terms=("Days", "Intercept"), ellipses=())
    assert not fig.axes[0].patches


def test_shrinkage_1d(sleep: Any, cbpp: Any, tmp_path: Path) -> None:
    fig = rendered(plots.plot_shrinkage(sleep, terms="Days"), tmp_path, "shrinkage_1d")
    (ax,) = fig.axes
    assert arrows(ax) == 18
    assert len(ax.get_yticklabels()) == 18
    assert "population (fixed effect)" in legend_texts(ax)
    # a single random intercept gives the 1-D plot by default; sorted by n_obs
    fig = rendered(plots.plot_shrinkage(cbpp, sort="n_obs"), tmp_path, "shrinkage_cbpp")
    (ax,) = fig.axes
    assert "logit" in ax.get_xlabel()
    n_finite = int(cbpp.shrinkage["no_pooling"].notna().sum())
    assert arrows(ax) == n_finite
    labels = [t.get_text() for t in ax.get_yticklabels()]
    counts = [int(lab.split("n=")[1].rstrip(")")) for lab in labels]
    assert counts == sorted(counts)
    with pytest.raises(mf.OptionError, match="one term"):
        plots.plot_shrinkage(sleep, terms=("Intercept", "Days", "Intercept"))


def test_shrinkage_skips_levels_without_own_estimate(sleep: Any) -> None:
    res = copy.copy(sleep)  # the shared fit keeps its own table
    res._cache = dict(sleep._cache)
    table = sleep.shrinkage.copy()
    for level in ("308", "309"):
        table.loc[("Subject", level, "Intercept"), "no_pooling"] = np.nan
        table.loc[("Subject", level, "Days"), "no_pooling"] = np.nan
    res._cache["shrinkage"] = table
    ax = plots.plot_shrinkage(res).axes[0]
    assert arrows(ax) == 16
    assert "2 levels without an own estimate not shown" in ax.get_title()
    ax = plots.plot_shrinkage(res, terms="Days").axes[0]
    assert arrows(ax) == 16
    assert len(ax.get_yticklabels()) == 16


# ------------------------------------------------------------------ variance components
def test_variance_components(sleep: Any, tmp_path: Path) -> None:
    fig = rendered(plots.plot_variance_components(sleep), tmp_path, "variance_components")
    sds, cors = fig.axes
    assert [t.get_text() for t in sds.get_yticklabels()] == [
        "Subject: sd(Intercept)", "Subject: sd(Days)", "Residual: sd"]
    assert [t.get_text() for t in cors.get_yticklabels()] == ["Subject: cor(Intercept,Days)"]
    assert cors.get_xlim() == (-1.05, 1.05)
    means = [line for line in sds.lines if line.get_marker() == "o"][0].get_xdata()
    vc = sleep.variance_components["mean"]
    expected = [vc[("Subject", "sd(Intercept)")], vc[("Subject", "sd(Days)")],
                vc[("Residual", "sd")]]
    assert np.allclose(means, expected)


def test_variance_components_without_correlation(cbpp: Any, tmp_path: Path) -> None:
    fig = rendered(plots.plot_variance_components(cbpp), tmp_path, "vc_cbpp")
    (ax,) = fig.axes
    assert [t.get_text() for t in ax.get_yticklabels()] == ["herd: sd(Intercept)"]
    assert "logit" in ax.get_xlabel()


# --------------------------------------------------------------------- predictive checks
def test_ppc_continuous(sleep: Any, tmp_path: Path) -> None:
    fig = rendered(plots.plot_ppc(sleep, draws=15, random_seed=1), tmp_path, "ppc")
    (ax,) = fig.axes
    assert replicated_lines(ax) == 15
    assert "observed" in legend_texts(ax)
    observed = [line for line in ax.lines if line.get_label() == "observed"]
    assert len(observed) == 1 and observed[0].get_linewidth() > 2
    fig = rendered(plots.plot_ppc(sleep, draws=10, kind="ecdf", random_seed=1), tmp_path,
                   "ppc_ecdf")
    assert replicated_lines(fig.axes[0]) == 10
    with pytest.raises(mf.OptionError, match="count response"):
        plots.plot_ppc(sleep, kind="counts")
    with pytest.raises(mf.OptionError, match="positive integer"):
        plots.plot_ppc(sleep, draws=0)


def test_ppc_discrete(cbpp: Any, tmp_path: Path) -> None:
    fig = rendered(plots.plot_ppc(cbpp, draws=12, random_seed=1), tmp_path, "ppc_cbpp")
    (ax,) = fig.axes
    assert replicated_lines(ax) == 12
    assert len(ax.patches) > 5  # observed counts as bars
    assert ax.get_ylabel() == "number of observations"
    assert ax.get_xlabel() == "incidence (successes)"
    fig = rendered(plots.plot_ppc(cbpp, draws=12, kind="proportion", random_seed=1),
                   tmp_path, "ppc_cbpp_proportion")
    ax = fig.axes[0]
    assert replicated_lines(ax) == 12
    xs = np.concatenate([line.get_xdata() for line in ax.lines])
    assert xs.min() >= 0 and xs.max() <= 1


def test_ppc_grouped(sleep: Any, tmp_path: Path) -> None:
    fig = rendered(plots.plot_ppc_grouped(sleep, "Subject", stat="sd", draws=100,
                                          random_seed=3), tmp_path, "ppc_grouped")
    (ax,) = fig.axes
    assert len(ax.get_yticklabels()) == 18
    table = sleep.ppc_grouped("Subject", stat="sd", draws=100, random_seed=3)
    outside = int(((table["observed"] < table["lower"])
                   | (table["observed"] > table["upper"])).sum())
    assert f"{outside} of 18 levels outside" in ax.get_title()
    flagged = [line for line in ax.lines if line.get_marker() == "D"][0]
    assert len(flagged.get_xdata()) == outside
    with pytest.raises(mf.DataError):
        plots.plot_ppc_grouped(sleep, "Days")


def test_prior_predictive(sleep: Any, cbpp: Any, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    y = rng.normal(300, 400, size=(60, sleep.n_obs))
    y[0, :5] = 1e7  # absurd draws stay off the axis, but are counted in the title
    pp = PriorPredictive(y=y, observed=sleep.design.y, idata=None, design=sleep.design,
                         family=sleep.family)
    fig = rendered(plots.plot_prior_predictive(pp, draws=40), tmp_path, "prior")
    (ax,) = fig.axes
    assert replicated_lines(ax) == 40
    assert ax.get_xlim()[1] < 1e6
    assert "beyond the shown range" in ax.get_title()
    assert isinstance(pp.plot(draws=5), Figure)  # the method
    trials = cbpp.design.trials.astype(int)
    sims = rng.binomial(trials[None, :], rng.uniform(size=(30, 1)), size=(30, len(trials)))
    pp = PriorPredictive(y=sims.astype(float), observed=cbpp.design.y, idata=None,
                         design=cbpp.design, family=cbpp.family)
    fig = rendered(plots.plot_prior_predictive(pp), tmp_path, "prior_cbpp")
    ax = fig.axes[0]
    assert replicated_lines(ax) == 30  # all there are, fewer than the 50 asked
    assert ax.get_xlabel() == "incidence / trials"


def test_effects_numeric_line_and_band(sleep: Any, tmp_path: Path) -> None:
    fig = rendered(sleep.plot_effects("Days", data=True, points=25), tmp_path, "effects")
    ax = fig.axes[0]
    line = ax.lines[0]
    means = sleep.means("Days", at={"Days": list(np.linspace(0, 9, 25))})
    np.testing.assert_allclose(line.get_ydata(), means["mean"], rtol=1e-12)
    assert len(ax.collections) == 2  # the band and the observed points
    assert ax.get_xlabel() == "Days" and "group effects at zero" in ax.get_title()


def test_effects_factor_points_by_level(cbpp: Any, tmp_path: Path) -> None:
    fig = rendered(cbpp.plot_effects("period"), tmp_path, "effects-factor")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "3", "4"]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), cbpp.means("period")["mean"])
    assert ax.get_ylabel() == "incidence / trials"


def test_effects_refuses_an_unknown_variable(cbpp: Any) -> None:
    with pytest.raises(mf.MixedFitError, match="not a variable of the model"):
        cbpp.plot_effects("size")


def test_contrasts_forest(cbpp: Any, tmp_path: Path) -> None:
    fig = rendered(cbpp.plot_contrasts("period", scale="response"), tmp_path, "contrasts")
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_xlabel() == "odds ratio"
    assert len(ax.get_yticklabels()) == 6
