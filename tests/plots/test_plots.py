"""Plots: each renders to a PNG and draws what it should, on two cached short fits."""

from __future__ import annotations

import copy
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
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


@pytest.fixture(scope="module")
def bern() -> Any:
    rng = np.random.default_rng(7)
    g = rng.integers(0, 12, 240)
    x = rng.normal(size=240)
    eta = -0.3 + 0.8 * x + rng.normal(0, 0.7, 12)[g]
    data = pd.DataFrame({"y": (rng.uniform(size=240) < 1 / (1 + np.exp(-eta))).astype(int),
                         "x": x, "g": [f"g{i}" for i in g]})
    return cached_fit("y ~ x + (1 | g)", data, key="plots-bernoulli", family="bernoulli",
                      **QUICK)


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


def inside_figure(fig: Any, artist: Any) -> bool:
    """Whether ``artist`` is drawn within the figure's width (not cut at its edges)."""
    fig.canvas.draw()
    box = artist.get_window_extent(fig.canvas.get_renderer())
    return box.x0 >= 0 and box.x1 <= fig.bbox.width


def test_import_does_not_load_matplotlib_or_arviz() -> None:
    code = ("import sys, mixedfit.plots\n"
            "loaded = [m for m in sys.modules if m.split('.')[0] in ('matplotlib', 'arviz')]\n"
            "assert not loaded, loaded\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


# ----------------------------------------------------------------------------- jupyter
@pytest.fixture
def ipython_display(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """A stand-in for IPython.display.display that records what it was given."""
    shown: list[Any] = []
    package = types.ModuleType("IPython")
    module = types.ModuleType("IPython.display")
    module.display = lambda obj, **kwargs: shown.append((obj, kwargs))  # type: ignore[attr-defined]
    package.display = module  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "IPython", package)
    monkeypatch.setitem(sys.modules, "IPython.display", module)
    return shown


def pngs(shown: list[Any]) -> int:
    return sum(isinstance(obj, dict) and obj.get("image/png", b"").startswith(b"\x89PNG")
               for obj, _ in shown)


def test_every_plot_is_displayed_once_in_jupyter(sleep: Any, cbpp: Any) -> None:
    """Each plot returns its figure with an ``_ipython_display_``, which IPython calls
    both for a cell's value and for the inline backend's own display of open figures."""
    pp = PriorPredictive(y=np.random.default_rng(0).normal(300, 50, (5, sleep.n_obs)),
                         observed=sleep.design.y, idata=None, design=sleep.design,
                         family=sleep.family)
    figures = [plots.plot_trace(sleep, var_names=["sigma"]), plots.plot_caterpillar(sleep),
               plots.plot_shrinkage(sleep), plots.plot_shrinkage(sleep, terms="Days"),
               plots.plot_variance_components(sleep), plots.plot_ppc(sleep, draws=3),
               plots.plot_ppc(cbpp, draws=3, kind="bars"),
               plots.plot_ppc_grouped(sleep, "Subject", draws=5),
               plots.plot_prior_predictive(pp), plots.plot_effects(sleep, "Days", points=5),
               plots.plot_contrasts(cbpp, "period"), sleep.plot_caterpillar(), pp.plot()]
    for fig in figures:
        assert isinstance(fig, Figure)
        assert callable(getattr(fig, "_ipython_display_", None))


def test_displayed_once_with_the_inline_backend(sleep: Any, ipython_display: list[Any],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    fig = plots.plot_caterpillar(sleep)
    monkeypatch.setattr(matplotlib, "get_backend",
                        lambda *a, **k: "module://matplotlib_inline.backend_inline")
    # the cell's value: drawn once, and closed so the backend does not draw it again
    fig._ipython_display_()
    assert pngs(ipython_display) == 1 and len(ipython_display) == 1
    assert not plt.fignum_exists(fig.number)
    # shown again in a later cell, after the backend closed it: drawn once more
    fig._ipython_display_()
    assert pngs(ipython_display) == 2


def test_not_displayed_when_the_backend_shows_it(sleep: Any, ipython_display: list[Any],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    fig = plots.plot_ppc(sleep, draws=3)
    # an interactive backend (ipympl's widget, a window) shows its open figures itself
    monkeypatch.setattr(matplotlib, "get_backend", lambda *a, **k: "module://ipympl.backend_nbagg")
    monkeypatch.setattr(matplotlib, "is_interactive", lambda: True)
    fig._ipython_display_()
    assert ipython_display == []
    assert plt.fignum_exists(fig.number)
    # once closed, the backend no longer shows it: the figure is drawn once
    plt.close(fig)
    fig._ipython_display_()
    assert pngs(ipython_display) == 1


def test_displayed_once_with_a_backend_that_shows_nothing(sleep: Any,
                                                          ipython_display: list[Any]) -> None:
    fig = plots.plot_variance_components(sleep)  # Agg: pyplot's figure, never shown
    fig._ipython_display_()
    assert pngs(ipython_display) == 1 and len(ipython_display) == 1
    assert plt.fignum_exists(fig.number)
    fig, ax = plt.subplots()
    assert plots.plot_ppc(sleep, draws=3, ax=ax) is fig  # the caller's figure, too
    fig._ipython_display_()
    assert pngs(ipython_display) == 2


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


def test_caterpillar_title_fits_the_figure(sleep: Any, cbpp: Any) -> None:
    fig = plots.plot_caterpillar(cbpp)  # one panel: a narrow figure
    title = fig.get_suptitle()
    assert "deviations from the fixed effects" in title.replace("\n", " ")
    assert inside_figure(fig, fig._suptitle)
    fig = plots.plot_caterpillar(sleep, coefficients=True)
    assert inside_figure(fig, fig._suptitle)


def test_caterpillar_axes_say_what_and_in_which_units(sleep: Any, cbpp: Any) -> None:
    one_line = [ax.get_xlabel().replace("\n", " ") for ax in plots.plot_caterpillar(sleep).axes]
    assert one_line == ["deviation from the population Intercept (Reaction)",
                        "deviation from the population slope of Days (Reaction per Days)"]
    coefficients = plots.plot_caterpillar(sleep, coefficients=True).axes
    assert [ax.get_xlabel().replace("\n", " ") for ax in coefficients] == [
        "each Subject's Intercept (Reaction)",
        "each Subject's slope of Days (Reaction per Days)"]
    (ax,) = plots.plot_caterpillar(cbpp).axes
    assert ax.get_xlabel() == "deviation from the population Intercept\n(log-odds)"


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
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("Intercept (Reaction)",
                                                  "slope of Days (Reaction per Days)")
    texts = legend_texts(ax)
    assert {"own data (no pooling)", "partial pooling (model)",
            "population (fixed effects)"} <= set(texts)
    fig = plots.plot_shrinkage(sleep, terms=("Days", "Intercept"), ellipses=())
    assert not fig.axes[0].patches


def test_shrinkage_1d(sleep: Any, cbpp: Any, tmp_path: Path) -> None:
    fig = rendered(plots.plot_shrinkage(sleep, terms="Days"), tmp_path, "shrinkage_1d")
    (ax,) = fig.axes
    assert ax.get_xlabel() == "slope of Days (Reaction per Days)"
    assert arrows(ax) == 18
    assert len(ax.get_yticklabels()) == 18
    assert "population (fixed effect)" in legend_texts(ax)
    # a single random intercept gives the 1-D plot by default; sorted by n_obs
    fig = rendered(plots.plot_shrinkage(cbpp, sort="n_obs"), tmp_path, "shrinkage_cbpp")
    (ax,) = fig.axes
    assert ax.get_xlabel() == "Intercept (log-odds)"
    n_finite = int(cbpp.shrinkage["no_pooling"].notna().sum())
    assert arrows(ax) == n_finite
    labels = [t.get_text() for t in ax.get_yticklabels()]
    counts = [int(lab.split("n=")[1].rstrip(")")) for lab in labels]
    assert counts == sorted(counts)
    with pytest.raises(mf.OptionError, match="one term"):
        plots.plot_shrinkage(sleep, terms=("Intercept", "Days", "Intercept"))


def _fake_result(link: str, response: str = "y", **flags: Any) -> Any:
    family = types.SimpleNamespace(**{"link": link, "binary": False, "takes_trials": False,
                                      "probability": False, **flags})
    block = types.SimpleNamespace(columns=["sigma_Intercept"], target="sigma")
    design = types.SimpleNamespace(response_name=response, blocks=[block])
    return types.SimpleNamespace(family=family, design=design)


@pytest.mark.parametrize(("res", "term", "expected"), [
    (_fake_result("identity", "Reaction"), "Intercept", ("Intercept", "Reaction")),
    (_fake_result("identity", "Reaction"), "Days", ("slope of Days", "Reaction per Days")),
    (_fake_result("identity", binary=True), "x", ("slope of x", "probability per x")),
    (_fake_result("logit"), "period[2]", ("period[2]", "log-odds")),
    (_fake_result("log", "count"), "x", ("slope of x", "log count per x")),
    (_fake_result("probit"), "Intercept", ("Intercept", "probit scale")),
    (_fake_result("identity", "Reaction"), "Days:cohort[odd]",
     ("Days:cohort[odd]", "Reaction per Days")),
    (_fake_result("identity"), "sigma_Intercept", ("sigma_Intercept", "sigma, link scale")),
])
def test_term_labels_name_the_units(res: Any, term: str, expected: tuple[str, str]) -> None:
    assert plots._term_label(res, term) == expected


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


def dots_only(ax: Any) -> bool:
    """Whether every replicated data set is drawn as dots, with no line between values."""
    lines = [line for line in ax.lines if line.get_gid() == "replicated"]
    return bool(lines) and all(line.get_linestyle() == "None" and line.get_marker() == "o"
                               for line in lines)


def test_ppc_discrete(cbpp: Any, tmp_path: Path) -> None:
    fig = rendered(plots.plot_ppc(cbpp, draws=12, random_seed=1), tmp_path, "ppc_cbpp")
    (ax,) = fig.axes
    assert replicated_lines(ax) == 12
    assert dots_only(ax)  # counts have nothing in between either
    assert len(ax.patches) > 5  # observed counts as bars
    assert ax.get_ylabel() == "number of observations"
    assert ax.get_xlabel() == "incidence (successes)"
    fig = rendered(plots.plot_ppc(cbpp, draws=12, kind="proportion", random_seed=1),
                   tmp_path, "ppc_cbpp_proportion")
    ax = fig.axes[0]
    assert replicated_lines(ax) == 12
    xs = np.concatenate([line.get_xdata() for line in ax.lines])
    assert xs.min() >= 0 and xs.max() <= 1


def test_ppc_binary_draws_no_line_between_0_and_1(bern: Any, tmp_path: Path) -> None:
    y = np.asarray(bern.design.y)
    for kind, expected in (("counts", [np.sum(y == 0), np.sum(y == 1)]),
                           (None, [np.sum(y == 0), np.sum(y == 1)]),
                           ("proportion", [np.mean(y == 0), np.mean(y == 1)])):
        fig = rendered(plots.plot_ppc(bern, draws=20, kind=kind, random_seed=1), tmp_path,
                       f"ppc_bernoulli_{kind}")
        (ax,) = fig.axes
        assert replicated_lines(ax) == 20
        assert dots_only(ax)
        for line in ax.lines:  # each data set's dots over the bars at 0 and 1
            x = np.asarray(line.get_xdata())
            assert np.all((np.abs(x) < 0.3) | (np.abs(x - 1) < 0.3))
        bars = sorted(ax.patches, key=lambda p: p.get_x())
        assert [p.get_x() + p.get_width() / 2 for p in bars] == pytest.approx([0, 1])
        assert [p.get_height() for p in bars] == pytest.approx(expected)
        assert list(ax.get_xticks()) == [0, 1] and ax.get_xlabel() == "y"
    # the prior predictive check of a 0/1 response, likewise
    sims = np.random.default_rng(0).binomial(1, 0.4, size=(30, bern.n_obs)).astype(float)
    pp = PriorPredictive(y=sims, observed=bern.design.y, idata=None, design=bern.design,
                         family=bern.family)
    ax = rendered(plots.plot_prior_predictive(pp), tmp_path, "prior_bernoulli").axes[0]
    assert replicated_lines(ax) == 30 and dots_only(ax)
    assert sum(p.get_height() for p in ax.patches) == pytest.approx(1.0)


def test_counts_with_gaps() -> None:
    """Counts no row has get no bar; the replicated data sets' dots sit at 0 there."""
    y = np.array([0] * 30 + [1] * 12 + [2] * 6 + [5] * 4 + [9] * 2 + [14], dtype=float)
    sims = np.random.default_rng(1).negative_binomial(1, 0.35, size=(25, y.size))
    fig, ax = plt.subplots()
    plots._draw_distributions(ax, y, sims, "counts", sim_label="replicated")
    assert dots_only(ax) and replicated_lines(ax) == 25
    centers = sorted(round(p.get_x() + p.get_width() / 2) for p in ax.patches)
    assert centers == [0, 1, 2, 5, 9, 14]
    for line in ax.lines:  # a dot at every count of the range, gaps included
        x = np.round(line.get_xdata())
        assert len(x) >= 15 and np.array_equal(x, np.arange(len(x)))


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
    # the legend stands next to the axes, level with them, not below them
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    legend = ax.get_legend().get_window_extent(renderer)
    axes = ax.get_window_extent(renderer)
    assert legend.y0 >= axes.y0 and legend.y1 <= axes.y1 + 2
    assert legend.x0 >= axes.x1 - 2 and legend.x1 <= fig.bbox.width
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
