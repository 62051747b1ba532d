"""Plots of a fitted model: convergence, group effects, shrinkage and predictive checks.

Every function returns the matplotlib :class:`~matplotlib.figure.Figure` it drew
on, so it can be saved with ``fig.savefig(...)``. Functions that draw a single
panel accept ``ax=`` to draw into an existing axes instead (the returned figure is
then that axes' figure). In Jupyter the figure appears once, whether or not it is
the cell's value (see :func:`_display_once`). matplotlib and ArviZ are imported on
first use, not when this module is imported.

The same plots are methods of the result: ``res.plot_caterpillar()`` is
``plot_caterpillar(res)``, and ``mf.prior_predictive(...).plot()`` is
:func:`plot_prior_predictive`.

- :func:`plot_trace`: chains of the main parameters (trace or rank plots);
- :func:`plot_caterpillar`: each level's effect with its interval, sorted;
- :func:`plot_shrinkage`: each level's own estimate pulled toward the population;
- :func:`plot_variance_components`: group sds, correlations and residual sd;
- :func:`plot_ppc`: replicated data distributions against the observed one;
- :func:`plot_ppc_grouped`: a statistic per level, observed against replicated;
- :func:`plot_prior_predictive`: data simulated from the priors against the observed;
- :func:`plot_effects`: the expected outcome against a predictor (conditional effects);
- :func:`plot_contrasts`: contrasts between a factor's levels with their intervals.

See ``docs/plots.md`` for how to read each one.
"""

from __future__ import annotations

import functools
import textwrap
from collections.abc import Sequence
from io import BytesIO
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mixedfit import names
from mixedfit.errors import DataError, OptionError
from mixedfit.results.grid import model_variables
from mixedfit.results.predictive import PriorDraws as PriorPredictive
from mixedfit.results.view import (
    LIKELIHOOD_HINT,
    ResultView,
    require_effect_draws,
    require_rows,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "plot_trace",
    "plot_caterpillar",
    "plot_shrinkage",
    "plot_variance_components",
    "plot_ppc",
    "plot_ppc_grouped",
    "plot_prior_predictive",
    "plot_effects",
    "plot_contrasts",
]

# Colours shared by the plots.
_NO_POOL = "#d95f02"  # a level's own data (no pooling)
_PARTIAL = "#1f5fa8"  # the model's estimate (partial pooling)
_POPULATION = "#222222"  # the population (fixed effects)
_REPLICATED = "#4c8bd6"  # replicated / simulated data sets
_OBSERVED = "#111111"  # observed data
_FLAG = "#c62828"  # observed value outside its replicated interval

#: Above this many levels the level labels are left off the y axis.
_MAX_LABELS = 60


#: Backends that never show a figure by themselves (``matplotlib.use("Agg")``...).
_NON_INTERACTIVE = frozenset({"agg", "cairo", "pdf", "pgf", "ps", "svg", "template"})
#: Jupyter's default backend: it shows a cell's open figures when the cell ends.
_INLINE = frozenset({"inline", "module://matplotlib_inline.backend_inline"})


# ----------------------------------------------------------------------------- helpers
def _pyplot_state(fig: Figure) -> str:
    """How pyplot's backend treats ``fig``: ``"unmanaged"`` (not, or no longer, one of
    pyplot's figures, or a backend that shows nothing), ``"inline"`` (Jupyter's inline
    backend, which displays the open figures when a cell ends) or ``"shown"`` (an
    interactive backend that shows the figure itself: a widget, a window)."""
    import matplotlib  # deferred: matplotlib is heavy
    from matplotlib._pylab_helpers import Gcf

    manager = getattr(fig.canvas, "manager", None)
    if manager is None or not any(m is manager for m in Gcf.get_all_fig_managers()):
        return "unmanaged"
    backend = str(matplotlib.get_backend())
    if backend in _INLINE:
        return "inline"
    if backend.lower() in _NON_INTERACTIVE or not matplotlib.is_interactive():
        return "unmanaged"
    return "shown"


def _display_once(fig: Figure) -> None:
    """The ``_ipython_display_`` of a returned figure: show it once in IPython.

    Jupyter's inline backend displays every open figure when a cell ends, through this
    same hook, and a returned figure is also displayed as the cell's value: without
    this hook it would appear twice. Here the figure is drawn as a PNG and, under the
    inline backend, closed, so that it is not drawn again when the cell ends (the
    backend closes it then anyway). A backend that shows figures by itself (ipympl's
    widget, a window) is left to do so; a closed figure, or one of a backend that shows
    nothing, is drawn each time it is displayed (a figure shown again in a later cell).
    """
    state = _pyplot_state(fig)
    if state == "shown":
        return
    from IPython.display import display  # deferred: only called from IPython

    buffer = BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    display({"image/png": buffer.getvalue(), "text/plain": repr(fig)}, raw=True)
    if state == "inline":
        import matplotlib.pyplot as plt  # deferred: matplotlib is heavy

        plt.close(fig)


def _returned(fig: Figure) -> Figure:
    """``fig``, set to be displayed once in Jupyter (see :func:`_display_once`).

    IPython asks an object's ``_ipython_display_`` (an instance attribute will do)
    before any other way of displaying it."""
    fig._ipython_display_ = functools.partial(_display_once, fig)  # type: ignore[attr-defined]
    return fig


def _new_axes(ax: Axes | None, figsize: tuple[float, float] | None,
              default: tuple[float, float]) -> tuple[Figure, Axes]:
    import matplotlib.pyplot as plt  # deferred: matplotlib is heavy

    if ax is not None:
        return ax.figure, ax
    fig, ax = plt.subplots(figsize=figsize or default, layout="constrained")
    return fig, ax


def _group_of(res: ResultView, group: str | None) -> str:
    groups = list(res.design.groups)
    if not groups:
        raise DataError("The model has no group effects (no '(... | group)' term) to plot.")
    if group is None:
        return groups[0]
    if group not in groups:
        raise DataError(f"No grouping factor {group!r}; the model has {', '.join(groups)}.")
    return group


def _group_columns(res: ResultView, group: str) -> list[str]:
    return [c for b in res.design.groups[group] for c in b.columns]


def _scale_note(res: Any) -> str:
    link = res.family.link
    return "" if link == "identity" else f" ({link} scale)"


def _percent(interval: float) -> str:
    return f"{interval * 100:g}%"


def _response_label(design: Any, family: Any, proportion: bool = False) -> str:
    """Axis label of the response: ``incidence`` rather than ``cbind(incidence,size-...)``."""
    name = str(design.response_name)
    if family.takes_trials and name.startswith("cbind(") and "," in name:
        successes = name[len("cbind("):].split(",")[0].strip()
        return f"{successes} / trials" if proportion else f"{successes} (successes)"
    return f"{name} (proportion)" if proportion else name


def _link_units(res: ResultView) -> str:
    """What the linear predictor is measured in: the response's units for an identity
    link (``Reaction``; ``probability`` for a binary or binomial response), else the
    link's scale (``log-odds``, ``log y``...)."""
    fam = res.family
    if fam.link == "identity":
        if fam.binary or fam.takes_trials or fam.probability:
            return "probability"
        return _response_label(res.design, fam)
    if fam.link == "logit":
        return "log-odds"
    if fam.link == "log":
        return f"log {_response_label(res.design, fam)}"
    return f"{fam.link} scale"


def _term_label(res: ResultView, term: str) -> tuple[str, str]:
    """A group-effect term in words and its units: ``("Intercept", "Reaction")``,
    ``("slope of Days", "Reaction per Days")``, ``("period[2]", "log-odds")``."""
    target = next((b.target for b in res.design.blocks if term in b.columns), "")
    if target:  # a family parameter's effects, on that parameter's link scale
        return term, f"{target}, link scale"
    units = _link_units(res)
    if term == "Intercept":
        return term, units
    parts = term.split(":")
    numeric = [p for p in parts if "[" not in p]  # factor levels are differences
    if not numeric:
        return term, units
    what = f"slope of {term}" if len(parts) == 1 else term
    return what, units + "".join(f" per {p}" for p in numeric)


def _wrap_label(what: str, units: str, width: int) -> str:
    """``what (units)`` in lines of at most ``width`` characters, the units unbroken."""
    if len(what) + len(units) + 3 <= width:
        return f"{what} ({units})"
    lines = textwrap.wrap(what, width)
    if len(lines[-1]) + len(units) + 3 <= width:
        lines[-1] += f" ({units})"
    else:
        lines.append(f"({units})")
    return "\n".join(lines)


def _level_ticks(ax: Axes, labels: Sequence[str], ylabel: str) -> None:
    n = len(labels)
    if n <= _MAX_LABELS:
        ax.set_yticks(np.arange(n))
        ax.set_yticklabels(labels, fontsize=8 if n > 25 else 9)
    else:
        ax.set_yticks([])
    ax.set_ylim(-0.7, n - 0.3)
    ax.set_ylabel(ylabel)


def _check_choice(name: str, value: Any, choices: Sequence[str]) -> str:
    if value not in choices:
        raise OptionError(f"{name} must be one of {', '.join(map(repr, choices))}, "
                          f"got {value!r}.")
    return value


def _check_draws(draws: Any) -> int:
    if isinstance(draws, bool) or not isinstance(draws, int | np.integer) or draws < 1:
        raise OptionError(f"draws must be a positive integer, got {draws!r}.")
    return int(draws)


# ------------------------------------------------------------------------------- trace
def _trace_dataset(res: ResultView, var_names: Sequence[str] | None) -> Any:
    """The posterior variables worth watching, correlations as their upper triangle."""
    import xarray as xr  # deferred: xarray loads with ArviZ, when first needed

    post = res.idata.posterior
    derived: dict[str, Any] = {}
    if res.design.fixed_columns and names.FIXED in post:
        derived[names.FIXED] = post[names.FIXED]
    for b in res.design.blocks:
        name = names.sd(b.label)
        if name in post:
            derived[name] = post[name]
    for b in res.design.blocks:
        name = names.cor(b.label)
        if not (b.correlated and b.n_terms >= 2 and name in post):
            continue
        cor = np.asarray(post[name].values)
        pairs = [(i, j) for i in range(b.n_terms) for j in range(i + 1, b.n_terms)]
        values = np.stack([cor[:, :, i, j] for i, j in pairs], axis=-1)
        dim = f"pair({b.label})"
        derived[name] = xr.DataArray(
            values, dims=("chain", "draw", dim),
            coords={"chain": post["chain"].values, "draw": post["draw"].values,
                    dim: [f"{b.columns[i]},{b.columns[j]}" for i, j in pairs]})
    for name in res.family.parameters:
        if name in post:
            derived[name] = post[name]
    if var_names is None:
        if not derived:
            raise DataError("The posterior has no parameters to plot.")
        return xr.Dataset(derived)
    if isinstance(var_names, str):
        var_names = [var_names]
    chosen: dict[str, Any] = {}
    for name in var_names:
        if name in derived:
            chosen[name] = derived[name]
        elif name in post:
            chosen[name] = post[name]
        elif name in res._effect_summaries():
            require_effect_draws(res, f"res.plot_trace(var_names=[{name!r}])",
                                 "Their R-hat and ESS are in res.diagnostics().")
        else:
            raise OptionError(f"The posterior has no variable {name!r}; the main ones are "
                              f"{', '.join(derived)}.")
    return xr.Dataset(chosen)


def plot_trace(res: ResultView, *, var_names: Sequence[str] | None = None,
               kind: str = "trace", figsize: tuple[float, float] | None = None) -> Figure:
    """Trace or rank plots of the main parameters, one row per scalar.

    The default parameters are the fixed effects (``fixed``), the group sds
    (``sd(<block>)``), the correlations (``cor(<block>)``, each pair once) and the
    family's own parameters (``sigma``...), not the per-level ``z``/``u`` effects.
    With ``kind="trace"`` each row shows the per-chain density (left) and the draws
    in order (right): well-mixed chains overlap and look like stationary noise.
    With ``kind="rank"`` each panel shows, per chain, a histogram of the ranks of
    its draws among all chains: they should all be close to uniform.

    Parameters
    ----------
    res : MixedResult
        A fitted model.
    var_names : sequence of str, optional
        Posterior variables to show instead of the default ones (e.g.
        ``["fixed", "sigma"]``, or ``["u(Subject)"]`` for the group effects).
    kind : {"trace", "rank"}, default "trace"
        Trace plots (``arviz.plot_trace``) or rank plots (``arviz.plot_rank``).
    figsize : tuple of float, optional
        Figure size in inches.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> res = _example_result()
    >>> fig = plot_trace(res)
    >>> len(fig.axes)  # 2 fixed effects, 2 sds, 1 correlation, sigma; density + trace
    12
    >>> plt.close(fig)
    """
    import arviz as az  # deferred: ArviZ is heavy and only needed here

    class _FlatLabeller(az.labels.BaseLabeller):
        """One-line titles: ``fixed[Intercept]`` rather than ``fixed`` over ``Intercept``."""

        def make_label_vert(self, var_name: Any, sel: dict, isel: dict) -> str:
            return self.make_label_flat(var_name, sel, isel)

    _check_choice("kind", kind, ("trace", "rank"))
    data = _trace_dataset(res, var_names)
    n_scalars = sum(int(np.prod(data[v].shape[2:])) for v in data.data_vars)
    if kind == "trace":
        size = figsize or (10.0, max(2.0, 1.45 * n_scalars))
        axes = az.plot_trace(data, compact=False, figsize=size, labeller=_FlatLabeller(),
                             backend_kwargs={"layout": "constrained"})
    else:
        size = figsize or (10.0, 2.6 * max(1, -(-n_scalars // 3)))
        axes = az.plot_rank(data, figsize=size, labeller=_FlatLabeller(),
                            backend_kwargs={"layout": "constrained"})
    return _returned(np.ravel(axes)[0].figure)


# -------------------------------------------------------------------------- caterpillar
def plot_caterpillar(res: ResultView, *, group: str | None = None,
                     term: str | Sequence[str] | None = None, coefficients: bool = False,
                     ax: Axes | None = None,
                     figsize: tuple[float, float] | None = None) -> Figure:
    """Caterpillar plot: each level's effect with its credible interval, sorted.

    One panel per term. Levels are sorted by posterior mean within each panel; the
    dot is the posterior mean and the line the interval (``res.interval``). By
    default the plot shows the deviations from the fixed effect (lme4's
    ``ranef``) with a dashed line at 0; with ``coefficients=True`` it shows each
    level's own coefficient (fixed effect plus deviation, lme4's ``coef``) with the
    dashed line at the fixed effect. Levels whose interval excludes the line
    differ credibly from the population.

    Parameters
    ----------
    res : MixedResult
        A fitted model.
    group : str, optional
        Grouping factor (default: the first of the formula).
    term : str or sequence of str, optional
        Term(s) to show (default: every term that varies by ``group``).
    coefficients : bool, default False
        Plot the levels' coefficients rather than their deviations.
    ax : matplotlib.axes.Axes, optional
        Axes to draw into; only when a single term is plotted.
    figsize : tuple of float, optional
        Figure size in inches.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> fig = plot_caterpillar(_example_result())
    >>> [a.get_title() for a in fig.axes]
    ['Intercept', 'Days']
    >>> plt.close(fig)
    """
    import matplotlib.pyplot as plt  # deferred: matplotlib is heavy

    group = _group_of(res, group)
    if coefficients:
        require_effect_draws(res, "res.plot_caterpillar(coefficients=True)",
                             "The deviations (coefficients=False) come from the summaries.")
    table = (res.coefficients if coefficients else res.random_effects)[group]
    available = list(dict.fromkeys(table.columns.get_level_values("term")))
    terms = available if term is None else [term] if isinstance(term, str) else list(term)
    for t in terms:
        if t not in available:
            raise OptionError(f"{t!r} does not vary by {group}; its terms are "
                              f"{', '.join(available)}.")
    if not terms:
        raise OptionError("term must name at least one term.")
    if ax is not None and len(terms) > 1:
        raise OptionError(f"ax= takes a single panel, but {len(terms)} terms are plotted; "
                          "pass term= as well.")
    n_levels = len(table)
    height = min(max(3.0, 0.2 * n_levels + 1.4), 14.0)
    if ax is None:
        fig, axes = plt.subplots(1, len(terms), figsize=figsize or (3.6 * len(terms) + 1.0,
                                                                   height),
                                 layout="constrained", squeeze=False)
        axes = list(axes[0])
    else:
        fig, axes = ax.figure, [ax]
    fixed = res.fixed_effects["mean"] if len(res.fixed_effects) else pd.Series(dtype=float)
    pct = _percent(res.interval)
    for a, t in zip(axes, terms, strict=True):
        df = table[t].sort_values("mean")
        y = np.arange(len(df))
        ref = float(fixed.get(t, 0.0)) if coefficients else 0.0
        a.axvline(ref, color=_POPULATION, lw=1, ls="--", zorder=1)
        a.hlines(y, df["lower"], df["upper"], color=_PARTIAL, lw=1.4, alpha=0.8, zorder=2)
        a.plot(df["mean"], y, "o", color=_PARTIAL, ms=4, zorder=3)
        _level_ticks(a, [str(v) for v in df.index], f"{group} (sorted)" if a is axes[0] else "")
        a.set_title(t)
        name, units = _term_label(res, t)
        what = (f"each {group}'s {name}" if coefficients
                else f"deviation from the population {name}")
        panel = fig.get_figwidth() * (1 / len(terms) if ax is None
                                      else 1.25 * a.get_position().width)
        a.set_xlabel(_wrap_label(what, units, max(25, int(10.5 * panel))))
        a.grid(axis="x", alpha=0.3)
    what = ("coefficients (dashed: fixed effect)" if coefficients
            else "deviations from the fixed effects (dashed: 0)")
    title = f"{group}: {what}, mean and {pct} interval".replace(": ", ":\xa0")
    if ax is None:
        # about 11 characters an inch at this size: wrapped to the figure's width
        fig.suptitle(textwrap.fill(title, max(25, int(10.5 * fig.get_figwidth()))),
                     fontsize=11)
    return _returned(fig)


# ---------------------------------------------------------------------------- shrinkage
def _resolve_shrinkage_terms(cols: list[str], terms: Any, group: str) -> list[str]:
    if terms is None:
        chosen = cols[:2]
    elif isinstance(terms, str):
        chosen = [terms]
    else:
        chosen = list(terms)
    if not 1 <= len(chosen) <= 2:
        raise OptionError(f"terms must name one term (1-D plot) or two (2-D plot), "
                          f"got {terms!r}.")
    for t in chosen:
        if t not in cols:
            raise OptionError(f"{t!r} does not vary by {group}; its terms are "
                              f"{', '.join(cols)}.")
    if len(chosen) == 2 and chosen[0] == chosen[1]:
        raise OptionError("The two terms of a 2-D shrinkage plot must differ.")
    return chosen


def _arrow(ax: Axes, start: tuple[float, float], end: tuple[float, float]) -> None:
    ann = ax.annotate("", xy=end, xytext=start, zorder=2,
                      arrowprops={"arrowstyle": "-|>", "color": "#777777", "lw": 0.9,
                                  "shrinkA": 3.5, "shrinkB": 3.5, "mutation_scale": 9})
    ann.set_gid("shrinkage-arrow")


def _skipped_note(n_skipped: int) -> str:
    if not n_skipped:
        return ""
    s = "" if n_skipped == 1 else "s"
    return f"\n{n_skipped} level{s} without an own estimate not shown"


def _legend_handles(two_d: bool, ellipses: Sequence[float]) -> list[Any]:
    from matplotlib.lines import Line2D  # deferred: matplotlib is heavy

    handles = [
        Line2D([], [], ls="", marker="o", mfc="white", mec=_NO_POOL, mew=1.5, ms=7,
               label="own data (no pooling)"),
        Line2D([], [], ls="", marker=r"$\rightarrow$", color="#777777", ms=12,
               label="moved by partial pooling"),
        Line2D([], [], ls="", marker="o", color=_PARTIAL, ms=6,
               label="partial pooling (model)"),
    ]
    if two_d:
        handles.append(Line2D([], [], ls="", marker="X", color=_POPULATION, ms=10,
                              mec="white", label="population (fixed effects)"))
        if ellipses:
            levels = ", ".join(_percent(p) for p in ellipses)
            handles.append(Line2D([], [], color="#888888", ls="--", lw=1,
                                  label=f"population distribution ({levels})"))
    else:
        handles.append(Line2D([], [], color=_POPULATION, ls="--", lw=1.2,
                              label="population (fixed effect)"))
    return handles


def _population_cov(res: ResultView, group: str, a: str, b: str) -> np.ndarray:
    vc = res.variance_components["mean"]
    sd_a = float(vc[(group, names.sd_row(a))])
    sd_b = float(vc[(group, names.sd_row(b))])
    cor = 0.0
    for key in ((group, names.cor_row(a, b)), (group, names.cor_row(b, a))):
        if key in vc.index:
            cor = float(vc[key])
    return np.array([[sd_a**2, cor * sd_a * sd_b], [cor * sd_a * sd_b, sd_b**2]])


def _ellipse(center: np.ndarray, cov: np.ndarray, mass: float, **kwargs: Any) -> Any:
    from matplotlib.patches import Ellipse  # deferred: matplotlib is heavy

    radius = np.sqrt(-2.0 * np.log1p(-mass))  # chi-square(2) quantile, square-rooted
    vals, vecs = np.linalg.eigh(cov)
    vals = np.maximum(vals, 0.0)
    angle = float(np.degrees(np.arctan2(vecs[1, 1], vecs[0, 1])))
    return Ellipse(tuple(center), 2 * radius * np.sqrt(vals[1]), 2 * radius * np.sqrt(vals[0]),
                   angle=angle, **kwargs)


def plot_shrinkage(res: ResultView, *, group: str | None = None,
                   terms: str | Sequence[str] | None = None, sort: str = "no_pooling",
                   ellipses: Sequence[float] = (0.5, 0.94), ax: Axes | None = None,
                   figsize: tuple[float, float] | None = None) -> Figure:
    """Shrinkage: each level's own estimate, with an arrow to its partially pooled one.

    Hollow markers are the levels' *no-pooling* estimates (each level fitted on its
    own data alone); arrows lead to the *partial-pooling* estimates of the model
    (filled markers), pulled toward the population value. Levels with few or noisy
    observations travel further. Values come from :attr:`MixedResult.shrinkage`
    (link scale for non-identity links).

    - 1-D (one term): one row per level (labelled with its number of observations),
      the population value (fixed effect) as a dashed vertical line.
    - 2-D (two terms, the default when the factor has two or more terms, e.g. a
      correlated intercept and slope): the first term against the second, the
      population point marked with a cross and, optionally, contour ellipses of
      the fitted population distribution of the levels' coefficients (normal with
      the posterior means of the group sds and correlation).

    Levels without a no-pooling estimate (too few observations, all successes...)
    are left out; the title says how many.

    Parameters
    ----------
    res : MixedResult
        A fitted model.
    group : str, optional
        Grouping factor (default: the first of the formula).
    terms : str or sequence of one or two str, optional
        One term for the 1-D plot, two for the 2-D plot. Default: the first two
        terms varying by ``group`` (2-D), or its only term (1-D).
    sort : {"no_pooling", "partial_pooling", "n_obs", "level"}, default "no_pooling"
        Order of the levels on the y axis of the 1-D plot.
    ellipses : sequence of float, default (0.5, 0.94)
        Probability masses of the population contours in the 2-D plot (empty: none).
    ax : matplotlib.axes.Axes, optional
        Axes to draw into.
    figsize : tuple of float, optional
        Figure size in inches.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> fig = plot_shrinkage(_example_result())  # intercept against slope
    >>> fig.axes[0].get_xlabel(), fig.axes[0].get_ylabel()
    ('Intercept (Reaction)', 'slope of Days (Reaction per Days)')
    >>> plt.close(fig)
    >>> fig = plot_shrinkage(_example_result(), terms="Days", sort="n_obs")  # 1-D
    >>> plt.close(fig)
    """
    require_rows(res, "res.plot_shrinkage()")
    group = _group_of(res, group)
    cols = [c for b in res.design.groups[group] if not b.target for c in b.columns]
    if not cols:  # (a family parameter's own group effects have no own fits to compare)
        raise DataError(
            f"The shrinkage plot compares the mean's group effects with each level's own "
            f"fit; the effects of {group!r} here are a family parameter's "
            f"({', '.join(b.label for b in res.design.groups[group])}): see "
            f"res.plot_caterpillar() instead.")
    chosen = _resolve_shrinkage_terms(cols, terms, group)
    _check_choice("sort", sort, ("no_pooling", "partial_pooling", "n_obs", "level"))
    ellipses = tuple(float(p) for p in (ellipses or ()))
    if any(not 0 < p < 1 for p in ellipses):
        raise OptionError(f"ellipses must be probabilities between 0 and 1, got {ellipses!r}.")
    sh = res.shrinkage.loc[group]
    if len(chosen) == 1:
        return _returned(_shrinkage_1d(res, group, sh, chosen[0], sort, ax, figsize))
    return _returned(_shrinkage_2d(res, group, sh, chosen[0], chosen[1], ellipses, ax,
                                   figsize))


def _shrinkage_1d(res: ResultView, group: str, sh: pd.DataFrame, term: str, sort: str,
                  ax: Axes | None, figsize: tuple[float, float] | None) -> Figure:
    d = sh.xs(term, level="term")
    finite = d[np.isfinite(d["no_pooling"].to_numpy(dtype=float))]
    n_skipped = len(d) - len(finite)
    if sort != "level":
        keys = [sort] if sort == "no_pooling" else [sort, "no_pooling"]
        finite = finite.sort_values(keys, kind="stable")
    n = len(finite)
    fig, ax = _new_axes(ax, figsize, (7.0, min(max(3.5, 0.24 * n + 1.8), 14.0)))
    y = np.arange(n)
    population = float(d["population"].iloc[0])
    ax.axvline(population, color=_POPULATION, ls="--", lw=1.2, zorder=1)
    no = finite["no_pooling"].to_numpy(dtype=float)
    partial = finite["partial_pooling"].to_numpy(dtype=float)
    for yi, a, b in zip(y, no, partial, strict=True):
        _arrow(ax, (a, yi), (b, yi))
    ax.plot(no, y, "o", mfc="white", mec=_NO_POOL, mew=1.5, ms=7, ls="", zorder=3)
    ax.plot(partial, y, "o", color=_PARTIAL, ms=6, ls="", zorder=4)
    labels = [f"{lev} (n={k})" for lev, k in zip(finite.index, finite["n_obs"], strict=True)]
    _level_ticks(ax, labels, f"{group} (observations)")
    ax.set_xlabel("{} ({})".format(*_term_label(res, term)))
    ax.grid(axis="x", alpha=0.3)
    ax.legend(handles=_legend_handles(False, ()), fontsize=8, loc="upper center",
              bbox_to_anchor=(0.5, -0.1), ncol=2, frameon=False)
    ax.set_title(f"Shrinkage of {term} by {group}" + _skipped_note(n_skipped), fontsize=11)
    return fig


def _shrinkage_2d(res: ResultView, group: str, sh: pd.DataFrame, a: str, b: str,
                  ellipses: tuple[float, ...], ax: Axes | None,
                  figsize: tuple[float, float] | None) -> Figure:
    da = sh.xs(a, level="term")
    db = sh.xs(b, level="term").reindex(da.index)
    no = np.column_stack([da["no_pooling"], db["no_pooling"]]).astype(float)
    partial = np.column_stack([da["partial_pooling"], db["partial_pooling"]]).astype(float)
    finite = np.all(np.isfinite(no), axis=1)
    n_skipped = int((~finite).sum())
    fig, ax = _new_axes(ax, figsize, (7.0, 6.0))
    center = np.array([float(da["population"].iloc[0]), float(db["population"].iloc[0])])
    if ellipses:
        cov = _population_cov(res, group, a, b)
        styles = ["--", ":", "-.", (0, (5, 5))]
        for i, mass in enumerate(sorted(ellipses)):
            e = _ellipse(center, cov, mass, fill=False, ec="#888888", lw=1,
                         ls=styles[i % len(styles)], zorder=1)
            e.set_gid("population-ellipse")
            ax.add_patch(e)
    for (x0, y0), (x1, y1) in zip(no[finite], partial[finite], strict=True):
        _arrow(ax, (x0, y0), (x1, y1))
    ax.plot(no[finite, 0], no[finite, 1], "o", mfc="white", mec=_NO_POOL, mew=1.5, ms=7,
            ls="", zorder=3)
    ax.plot(partial[finite, 0], partial[finite, 1], "o", color=_PARTIAL, ms=6, ls="",
            zorder=4)
    ax.plot(*center, "X", color=_POPULATION, mec="white", ms=12, ls="", zorder=5)
    ax.set_xlabel("{} ({})".format(*_term_label(res, a)))
    ax.set_ylabel("{} ({})".format(*_term_label(res, b)))
    ax.grid(alpha=0.3)
    ax.legend(handles=_legend_handles(True, ellipses), fontsize=8, loc="best",
              framealpha=0.9)
    ax.set_title(f"Shrinkage of ({a}, {b}) by {group}: {int(finite.sum())} levels"
                 + _skipped_note(n_skipped), fontsize=11)
    return fig


# ------------------------------------------------------------------ variance components
def plot_variance_components(res: ResultView, *,
                             figsize: tuple[float, float] | None = None) -> Figure:
    """Forest plot of the group sds, the correlations and the residual sd.

    One row per parameter of :attr:`MixedResult.variance_components` (the
    variances are left out: they repeat the sds): the dot is the posterior mean
    and the line the interval. Standard deviations are in the top panel, on the
    scale of the response (of the link for non-identity links), and correlations,
    if any, in a second panel from -1 to 1. An sd whose interval reaches near 0
    says the data hardly support variation between levels in that term; a wide
    correlation interval says the data say little about it.

    Parameters
    ----------
    res : MixedResult
        A fitted model.
    figsize : tuple of float, optional
        Figure size in inches.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> fig = plot_variance_components(_example_result())
    >>> [t.get_text() for t in fig.axes[0].get_yticklabels()]
    ['Subject: sd(Intercept)', 'Subject: sd(Days)', 'Residual: sd']
    >>> plt.close(fig)
    """
    import matplotlib.pyplot as plt  # deferred: matplotlib is heavy

    vc = res.variance_components
    if vc.empty:
        raise DataError("The model has no variance components to plot.")
    params = vc.index.get_level_values("parameter")
    kinds = params.map(names.row_kind)
    sds = vc[(kinds == "sd") | (params == "sd")]
    cors = vc[kinds == "cor"]
    panels = [(sds, "standard deviation" + _scale_note(res))]
    if len(cors):
        panels.append((cors, "correlation"))
    ratios = [len(p[0]) + 1.2 for p in panels]
    size = figsize or (6.5, 0.45 * sum(ratios) + 1.2)
    fig, axes = plt.subplots(len(panels), 1, figsize=size, layout="constrained",
                             squeeze=False, height_ratios=ratios)
    for ax, (df, xlabel) in zip(axes[:, 0], panels, strict=True):
        y = np.arange(len(df))[::-1]
        ax.hlines(y, df["lower"], df["upper"], color=_PARTIAL, lw=2)
        ax.plot(df["mean"], y, "o", color=_PARTIAL, ms=7)
        ax.set_yticks(y)
        ax.set_yticklabels([f"{g}: {p}" for g, p in df.index])
        ax.set_ylim(-0.6, len(df) - 0.4)
        ax.set_xlabel(xlabel)
        ax.grid(axis="x", alpha=0.3)
        if xlabel == "correlation":
            ax.set_xlim(-1.05, 1.05)
            ax.axvline(0, color=_POPULATION, ls="--", lw=1)
        else:
            ax.set_xlim(left=0)
    axes[0, 0].set_title(f"Variance components: posterior mean and {_percent(res.interval)} "
                         "interval", fontsize=11)
    return _returned(fig)


# --------------------------------------------------------------------- predictive checks
def _kde_curves(values: np.ndarray, grid: np.ndarray) -> np.ndarray | None:
    from scipy.stats import gaussian_kde  # deferred: only this plot needs it

    values = values[np.isfinite(values)]
    if values.size < 2 or np.ptp(values) == 0:
        return None
    try:
        return gaussian_kde(values)(grid)
    except (np.linalg.LinAlgError, ValueError):  # pragma: no cover - degenerate data
        return None


def _draw_frequencies(ax: Axes, observed: np.ndarray, sims: np.ndarray, edges: np.ndarray,
                      *, sim_label: str, shares: bool, bar_width: float = 0.9) -> None:
    """A discrete response, which has no values in between: bars for the observed number
    (or share) of rows at each value (or in each bin of values), and over each bar one
    dot per simulated data set, the dots spread sideways so that they can be told apart.
    Values no row has get no bar; the simulated data sets' dots sit at 0 there."""
    centers = (edges[:-1] + edges[1:]) / 2
    widths = np.diff(edges)

    def freq(v: np.ndarray) -> np.ndarray:
        counts = np.histogram(v[np.isfinite(v)], bins=edges)[0].astype(float)
        return counts / max(v.size, 1) if shares else counts

    heights = freq(observed)
    seen = heights > 0
    ax.bar(centers[seen], heights[seen], width=widths[seen] * bar_width, color="#d9d9d9",
           edgecolor=_OBSERVED, lw=1.2, zorder=1, label="observed", gid="observed")
    spread = np.linspace(-0.3, 0.3, len(sims)) if len(sims) > 1 else np.zeros(len(sims))
    for i, (s, dx) in enumerate(zip(sims, spread, strict=True)):
        (dots,) = ax.plot(centers + dx * bar_width * widths, freq(s), ls="", marker="o",
                          ms=3.0, mec="none", color=_REPLICATED, alpha=0.5, zorder=3,
                          label=sim_label if i == 0 else "_nolegend_")
        dots.set_gid("replicated")
    ax.set_ylabel("share of observations" if shares else "number of observations")
    ax.set_ylim(bottom=0)


def _draw_distributions(ax: Axes, observed: np.ndarray, sims: np.ndarray, kind: str, *,
                        sim_label: str, lo: float | None = None, hi: float | None = None,
                        bins: int = 40) -> None:
    """Thin lines for each simulated data set and a thick line for the observed one
    (``"kde"``, ``"ecdf"``, ``"hist"``), or bars for the observed frequencies and dots for
    the simulated ones (``"counts"``; ``"binary"``, ``"binary_shares"`` for 0s and 1s)."""
    observed = np.asarray(observed, dtype=float)
    sims = np.asarray(sims, dtype=float)
    if kind in ("binary", "binary_shares"):
        _draw_frequencies(ax, observed, sims, np.array([-0.5, 0.5, 1.5]), sim_label=sim_label,
                          shares=kind == "binary_shares", bar_width=0.6)
        ax.set_xticks([0, 1])
        ax.set_xlim(-0.6, 1.6)
        ax.grid(axis="y", alpha=0.25)
        return
    finite_sims = sims[np.isfinite(sims)]
    if lo is None:
        lo = float(min(observed.min(), np.quantile(finite_sims, 0.001)))
    if hi is None:
        hi = float(max(observed.max(), np.quantile(finite_sims, 0.999)))
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    if kind == "counts":  # every integer of the range, or bins of several (at most 40)
        start, stop = int(np.floor(lo)), int(np.ceil(hi))
        width = max(1, int(np.ceil((stop - start + 1) / 40)))
        edges = np.arange(start, stop + width + 1, width) - 0.5
        _draw_frequencies(ax, observed, sims, edges, sim_label=sim_label, shares=False)
        from matplotlib.ticker import MaxNLocator  # deferred: matplotlib is heavy

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.25)
        return
    rep_style = {"color": _REPLICATED, "lw": 0.7, "alpha": 0.35, "zorder": 2}
    obs_style = {"color": _OBSERVED, "lw": 2.4, "zorder": 4, "label": "observed"}

    def rep_line(x: np.ndarray, yv: np.ndarray, i: int, **kw: Any) -> None:
        (line,) = ax.plot(x, yv, label=sim_label if i == 0 else "_nolegend_",
                          **rep_style, **kw)
        line.set_gid("replicated")

    if kind == "kde":
        pad = 0.05 * (hi - lo)
        grid = np.linspace(lo - pad, hi + pad, 300)
        for i, s in enumerate(sims):
            curve = _kde_curves(s, grid)
            if curve is not None:
                rep_line(grid, curve, i)
        curve = _kde_curves(observed, grid)
        if curve is not None:
            ax.plot(grid, curve, **obs_style)
        ax.set_ylabel("density")
        ax.set_ylim(bottom=0)
    elif kind == "ecdf":
        grid = np.linspace(lo, hi, 400)
        for i, s in enumerate(sims):
            s = np.sort(s[np.isfinite(s)])
            rep_line(grid, np.searchsorted(s, grid, side="right") / max(s.size, 1), i,
                     drawstyle="steps-post")
        o = np.sort(observed)
        ax.plot(grid, np.searchsorted(o, grid, side="right") / o.size,
                drawstyle="steps-post", **obs_style)
        ax.set_ylabel("cumulative share of observations")
        ax.set_ylim(-0.02, 1.02)
    else:  # "hist": a continuous share (binomial proportions, prior draws) on common bins
        edges = np.linspace(lo, hi, bins + 1)

        def freq(v: np.ndarray) -> np.ndarray:
            counts = np.histogram(v[np.isfinite(v)], bins=edges)[0].astype(float)
            return counts / max(v.size, 1)

        # each simulated data set as a thin line through its bin heights, the observed
        # histogram drawn the same way, thick
        centers = (edges[:-1] + edges[1:]) / 2
        for i, s in enumerate(sims):
            rep_line(centers, freq(s), i)
        ax.plot(centers, freq(observed), **obs_style)
        ax.set_ylabel("share of observations")
        ax.set_ylim(bottom=0)
    ax.grid(alpha=0.25)


def _distribution_legend(ax: Axes) -> None:
    """Legend whose thin, faint replicated-data line is drawn visibly."""
    legend = ax.legend(fontsize=8, loc="best", framealpha=0.9)
    for handle in legend.legend_handles:
        if handle is not None and handle.get_alpha() is not None:
            handle.set_alpha(0.9)
            handle.set_linewidth(1.5)


def plot_ppc(res: ResultView, *, draws: int = 50, kind: str | None = None,
             random_seed: int | None = None, ax: Axes | None = None,
             figsize: tuple[float, float] | None = None) -> Figure:
    """Posterior predictive check: replicated data distributions over the observed one.

    Each thin line is the distribution of one data set replicated from the
    posterior (:meth:`MixedResult.posterior_predictive`); the thick line is the
    observed response. Counts are drawn as bars for the observed response and one
    dot per replicated data set over each bar (a 0/1 response: two bars), as they
    have no values in between. If the model captures the data, the
    observed distribution looks like one more replicated draw; systematic
    departures (the wrong skew, too many zeros, a second mode) show what the model
    misses.

    Parameters
    ----------
    res : MixedResult
        A fitted model.
    draws : int, default 50
        Number of replicated data sets (thin lines).
    kind : {"kde", "ecdf", "counts", "proportion", "bars", "rootogram"}, optional
        How each distribution is drawn: a kernel density (default for continuous
        families), an empirical cumulative distribution, the number of
        observations at each count (default for count families; binned when the
        counts span many values), for binomial models a histogram of the
        proportion of successes ``y / trials`` (for a 0/1 response, the shares of
        0s and 1s); ``"bars"``, the observed number of
        rows at each value (each category of an ordered response: the default there)
        with the replicated numbers' mean and interval; ``"rootogram"``, a hanging
        rootogram for counts (bars of sqrt(observed frequency) hanging from the curve of
        sqrt(expected frequency): a bar ending off the zero line is a count the model
        misses, such as excess zeros).
    random_seed : int, optional
        Seed for picking and simulating the replicated data sets.
    ax : matplotlib.axes.Axes, optional
        Axes to draw into.
    figsize : tuple of float, optional
        Figure size in inches.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> fig = plot_ppc(_example_result(), draws=20, random_seed=1)
    >>> sum(line.get_gid() == "replicated" for line in fig.axes[0].lines)
    20
    >>> plt.close(fig)
    """
    require_rows(res, "res.plot_ppc()")
    require_effect_draws(res, "res.plot_ppc()", LIKELIHOOD_HINT)
    draws = _check_draws(draws)
    fam = res.family
    if kind is None:
        kind = "bars" if fam.categorical_response else "counts" if fam.discrete else "kde"
    _check_choice("kind", kind, ("kde", "ecdf", "counts", "proportion", "bars", "rootogram"))
    if kind in ("counts", "rootogram") and (not fam.discrete or fam.categorical_response):
        raise OptionError(f"kind={kind!r} needs a count response; the {fam.name} family's is "
                          + ("categories (use 'bars')." if fam.categorical_response
                             else "continuous (use 'kde' or 'ecdf')."))
    if kind == "bars" and not fam.discrete:
        raise OptionError(f"kind='bars' needs a discrete response; the {fam.name} family is "
                          "continuous (use 'kde' or 'ecdf').")
    if kind in ("bars", "rootogram"):
        return _returned(_ppc_frequencies(res, kind, draws, random_seed, ax, figsize))
    if kind == "proportion" and not (fam.binary or fam.takes_trials):
        raise OptionError("kind='proportion' is for binomial and bernoulli models.")
    yrep = res.posterior_predictive(draws, random_seed=random_seed)
    y = np.asarray(res.design.y, dtype=float)
    xlabel = _response_label(res.design, fam, proportion=kind == "proportion")
    lo = hi = None
    draw_kind = kind
    if kind in ("counts", "proportion") and _binary(fam, res.design):
        # 0s and 1s: bars and dots, no line through the values in between
        draw_kind = "binary_shares" if kind == "proportion" else "binary"
        xlabel = _response_label(res.design, fam)
    elif kind == "proportion":
        trials = res.design.trials
        n = np.ones_like(y) if trials is None else np.asarray(trials, dtype=float)
        y, yrep = y / n, yrep / n[None, :]
        draw_kind, lo, hi = "hist", 0.0, 1.0
    fig, ax = _new_axes(ax, figsize, (7.0, 4.2))
    _draw_distributions(ax, y, yrep, draw_kind, lo=lo, hi=hi, bins=20,
                        sim_label=f"replicated (posterior predictive, {len(yrep)} draws)")
    ax.set_xlabel(xlabel)
    ax.set_title(f"Posterior predictive check: {res.design.response_name}", fontsize=11)
    _distribution_legend(ax)
    return _returned(fig)


def _binary(family: Any, design: Any) -> bool:
    """Whether the response is 0 or 1: bernoulli, or binomial with one trial a row."""
    if family.binary:
        return True
    trials = design.trials
    return bool(family.takes_trials and trials is not None and len(trials)
                and np.all(np.asarray(trials) == 1))


def _ppc_frequencies(res: ResultView, kind: str, draws: int, random_seed: int | None,
                     ax: Axes | None, figsize: tuple[float, float] | None) -> Figure:
    """The frequency of each response value, observed against replicated: bars of the
    observed counts with the replicated counts' mean and interval (``"bars"``, bayesplot's
    ``ppc_bars``), or a hanging rootogram (``"rootogram"``, Kleiber and Zeileis 2016):
    bars of sqrt(observed count) hanging from the curve of sqrt(expected count), so
    that a bar ending above or below the zero line is a value the model under- or
    over-predicts."""
    from matplotlib.lines import Line2D  # deferred: matplotlib is heavy
    from matplotlib.patches import Patch

    d = res.design
    yrep = res.posterior_predictive(draws, random_seed=random_seed)
    y = np.asarray(d.y, dtype=int)
    if d.categories:
        values = np.arange(len(d.categories))
        labels = list(d.categories)
    else:  # counts up to the largest observed (and the replicated 99th percentile)
        top = int(max(y.max(), np.quantile(yrep, 0.99)))
        values = np.arange(top + 1)
        labels = [str(v) for v in values]
    observed = np.bincount(y, minlength=values.size)[:values.size].astype(float)
    rep = np.stack([np.bincount(np.asarray(r, dtype=int).clip(0, values.size),
                                minlength=values.size + 1)[:values.size] for r in yrep])
    pct = _percent(res.interval)
    lo_q, hi_q = (1.0 - res.interval) / 2.0, 1.0 - (1.0 - res.interval) / 2.0
    fig, ax = _new_axes(ax, figsize, (7.0, 4.2))
    if kind == "bars":
        ax.bar(values, observed, color="#cfd8e3", edgecolor=_OBSERVED, lw=0.8, width=0.75,
               label="observed", gid="observed")
        mean = rep.mean(axis=0)
        ax.errorbar(values, mean, yerr=[mean - np.quantile(rep, lo_q, axis=0),
                                        np.quantile(rep, hi_q, axis=0) - mean],
                    fmt="o", color=_PARTIAL, ms=5, capsize=3, lw=1.6, gid="replicated",
                    label=f"replicated mean and {pct} interval ({len(yrep)} draws)")
        ax.set_ylabel("observations")
        ax.legend(fontsize=8, frameon=False, loc="best")
        title = "Posterior predictive check"
    else:
        expected = np.sqrt(rep.mean(axis=0))
        root = np.sqrt(observed)
        ax.bar(values, root, bottom=expected - root, color="#cfd8e3", edgecolor=_OBSERVED,
               lw=0.8, width=0.8, gid="observed")
        ax.plot(values, expected, "-o", color=_FLAG, ms=3.5, lw=1.5, gid="expected")
        ax.axhline(0.0, color=_OBSERVED, lw=0.8)
        ax.set_ylabel("sqrt(frequency)")
        ax.legend(handles=[Patch(facecolor="#cfd8e3", edgecolor=_OBSERVED,
                                 label="sqrt(observed), hanging from the curve"),
                           Line2D([], [], color=_FLAG, marker="o", ms=3.5,
                                  label=f"sqrt(expected), {len(yrep)} replicated data sets")],
                  fontsize=8, frameon=False, loc="best")
        title = "Hanging rootogram"
    step = max(1, -(-values.size // 15))  # at most 15 tick labels
    ax.set_xticks(values[::step])
    ax.set_xticklabels(labels[::step])
    ax.set_xlabel(_response_label(d, res.family))
    ax.set_title(f"{title}: {d.response_name}", fontsize=11)
    return fig


def plot_ppc_grouped(res: ResultView, group: str, *, stat: str = "mean", draws: int = 200,
                     random_seed: int | None = None, sort: str = "observed",
                     ax: Axes | None = None,
                     figsize: tuple[float, float] | None = None) -> Figure:
    """Grouped posterior predictive check: a statistic per level, observed vs replicated.

    For each level of ``group`` the statistic (mean, sd, ...) of its observations
    is computed on the observed data (black dot) and on each replicated data set;
    the line is the replicated statistics' interval (``res.interval``) and the
    open circle their mean (:meth:`MixedResult.ppc_grouped`). Observed values
    outside their interval are drawn in red: levels the model does not reproduce
    (a few are expected by chance: about ``1 - interval`` of them).

    Parameters
    ----------
    res : MixedResult
        A fitted model.
    group : str
        Grouping factor.
    stat : {"mean", "sd", "median", "max", "min"}, default "mean"
        Statistic of each level's observations.
    draws : int, default 200
        Number of replicated data sets.
    random_seed : int, optional
        Seed.
    sort : {"observed", "p_value", "n_obs", "level"}, default "observed"
        Order of the levels on the y axis.
    ax : matplotlib.axes.Axes, optional
        Axes to draw into.
    figsize : tuple of float, optional
        Figure size in inches.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> fig = plot_ppc_grouped(_example_result(), "Subject", stat="sd", random_seed=1)
    >>> len(fig.axes[0].get_yticklabels())
    18
    >>> plt.close(fig)
    """
    require_rows(res, "res.plot_ppc_grouped()")
    require_effect_draws(res, "res.plot_ppc_grouped()", LIKELIHOOD_HINT)
    from matplotlib.lines import Line2D  # deferred: matplotlib is heavy

    _check_choice("sort", sort, ("observed", "p_value", "n_obs", "level"))
    df = res.ppc_grouped(group, stat=stat, draws=_check_draws(draws), random_seed=random_seed)
    if sort != "level":
        df = df.sort_values(sort, kind="stable")
    n = len(df)
    fig, ax = _new_axes(ax, figsize, (8.5, min(max(3.5, 0.24 * n + 1.2), 14.0)))
    y = np.arange(n)
    obs = df["observed"].to_numpy(dtype=float)
    outside = (obs < df["lower"].to_numpy()) | (obs > df["upper"].to_numpy())
    pct = _percent(res.interval)
    ax.hlines(y, df["lower"], df["upper"], color=_REPLICATED, lw=2.2, alpha=0.8, zorder=1)
    ax.plot(df["replicated_mean"], y, "o", mfc="white", mec=_PARTIAL, ms=6, ls="", zorder=2)
    ax.plot(obs[~outside], y[~outside], "o", color=_OBSERVED, ms=4.5, ls="", zorder=3)
    ax.plot(obs[outside], y[outside], "D", color=_FLAG, ms=5.5, ls="", zorder=3)
    labels = [f"{lev} (n={k})" for lev, k in zip(df.index, df["n_obs"], strict=True)]
    _level_ticks(ax, labels, f"{group} (observations)")
    ax.set_xlabel(f"{stat} of {_response_label(res.design, res.family)}")
    ax.grid(axis="x", alpha=0.3)
    handles = [Line2D([], [], color=_REPLICATED, lw=2.2, label=f"replicated {pct} interval"),
               Line2D([], [], ls="", marker="o", mfc="white", mec=_PARTIAL, ms=6,
                      label="replicated mean"),
               Line2D([], [], ls="", marker="o", color=_OBSERVED, ms=4.5, label="observed")]
    if outside.any():
        handles.append(Line2D([], [], ls="", marker="D", color=_FLAG, ms=5.5,
                              label="observed, outside interval"))
    # to the right of the axes, level with its top: next to the levels it explains
    ax.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0),
              borderaxespad=0.0, frameon=False)
    ax.set_title(f"Grouped check: {stat} by {group}, {int(outside.sum())} of {n} levels "
                 f"outside the {pct} interval", fontsize=11)
    return _returned(fig)


def plot_prior_predictive(pp: PriorPredictive, *, draws: int = 50,
                          quantiles: tuple[float, float] = (0.01, 0.99),
                          ax: Axes | None = None,
                          figsize: tuple[float, float] | None = None) -> Figure:
    """Prior predictive check: data simulated from the priors against the observed data.

    Each thin line is a histogram of one data set simulated from the priors alone
    (:func:`mixedfit.prior_predictive`), the thick line the observed response,
    all on common bins. Priors are sensible when the simulated data sets cover
    the plausible range of the response, somewhat wider than the observed data but
    not by orders of magnitude. The x range runs over the ``quantiles`` of all
    simulated values (and the whole observed range), so that a few absurd draws
    do not squash the plot; the title gives the share of simulated values beyond
    it. Binomial responses are shown as proportions ``y / trials``; a 0/1 response as
    the shares of 0s and 1s (bars for the observed, a dot per simulated data set).

    Parameters
    ----------
    pp : PriorPredictive
        The result of :func:`mixedfit.prior_predictive`.
    draws : int, default 50
        Number of simulated data sets to draw (at most those in ``pp``).
    quantiles : tuple of float, default (0.01, 0.99)
        Quantiles of the simulated values that bound the x axis.
    ax : matplotlib.axes.Axes, optional
        Axes to draw into.
    figsize : tuple of float, optional
        Figure size in inches.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import mixedfit as mf
    >>> pp = mf.prior_predictive("Reaction ~ Days + (Days | Subject)",
    ...                          mf.load_dataset("sleepstudy"), draws=30, random_seed=1)
    >>> fig = plot_prior_predictive(pp, draws=30)
    >>> sum(line.get_gid() == "replicated" for line in fig.axes[0].lines)
    30
    >>> plt.close(fig)
    """
    draws = _check_draws(draws)
    q0, q1 = (float(q) for q in quantiles)
    if not 0 <= q0 < q1 <= 1:
        raise OptionError(f"quantiles must be two increasing probabilities, got {quantiles!r}.")
    sims = np.asarray(pp.y, dtype=float)[:draws]
    observed = np.asarray(pp.observed, dtype=float)
    binomial = pp.family.takes_trials and pp.design.trials is not None
    xlabel = _response_label(pp.design, pp.family, proportion=binomial)
    if binomial:
        n = np.asarray(pp.design.trials, dtype=float)
        sims, observed = sims / n[None, :], observed / n
    finite = sims[np.isfinite(sims)]
    if finite.size == 0:
        raise DataError("Every simulated value is infinite or NaN; the priors are too wide "
                        "for the link.")
    lo = float(min(observed.min(), np.quantile(finite, q0)))
    hi = float(max(observed.max(), np.quantile(finite, q1)))
    bins = 60
    if binomial or pp.family.binary or pp.family.probability:
        lo, hi, bins = 0.0, 1.0, 20
    beyond = float(np.mean(~np.isfinite(sims) | (sims < lo) | (sims > hi)))
    kind = "hist"
    if _binary(pp.family, pp.design):  # 0s and 1s: bars and dots, nothing in between
        kind, xlabel = "binary_shares", _response_label(pp.design, pp.family)
    fig, ax = _new_axes(ax, figsize, (7.0, 4.2))
    _draw_distributions(ax, observed, sims, kind, lo=lo, hi=hi, bins=bins,
                        sim_label=f"simulated from the priors ({len(sims)} data sets)")
    ax.set_xlabel(xlabel)
    title = f"Prior predictive check: {pp.design.response_name}"
    if beyond > 0:
        title += f"\n{beyond:.1%} of simulated values beyond the shown range"
    ax.set_title(title, fontsize=11)
    _distribution_legend(ax)
    return _returned(fig)


# ------------------------------------------------------------------ interpreting
_SERIES = ("#1f5fa8", "#d95f02", "#1b9e77", "#7570b3", "#e7298a", "#66a61e", "#a6761d",
           "#666666")


def _observed_response(res: ResultView) -> np.ndarray:
    """The response as the expected outcome is on its scale (a proportion for a binomial)."""
    y = np.asarray(res.design.y, dtype=float)
    trials = res.design.trials
    return y / trials if trials is not None and res.family.takes_trials else y


def plot_effects(res: ResultView, variable: str, by: str | None = None, *,
                 at: dict[str, Any] | None = None, include_random: Any = False,
                 data: bool = False, points: int = 100, ax: Axes | None = None,
                 figsize: tuple[float, float] | None = None) -> Figure:
    """Conditional-effects plot (brms' ``conditional_effects``): the expected outcome
    against one predictor, with its interval.

    A numeric ``variable`` gives a line (the posterior mean) and a band (the interval)
    over its observed range; a factor gives a point and an interval per level. The
    values are :meth:`MixedResult.means` on the response scale: other factors averaged
    over, other numeric predictors at their means, group effects at zero unless
    ``include_random`` says otherwise. ``by`` draws one line (or one point per level)
    for each level of a second factor; a categorical response draws one per category.

    Parameters
    ----------
    res : MixedResult
        A fitted model.
    variable : str
        The predictor on the x axis.
    by : str, optional
        A factor: one curve per level.
    at : dict, optional
        Values of other variables (see :meth:`MixedResult.means`).
    include_random : {False, True, "marginal"}
        As in :meth:`MixedResult.means`.
    data : bool, default False
        Overlay the observed responses (proportions for a binomial response).
    points : int, default 100
        Points along a numeric variable's range.
    ax : matplotlib Axes, optional
        Draw into this axes.
    figsize : tuple of float, optional
        Figure size in inches.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> fig = plot_effects(_example_result(), "Days", data=True)
    >>> fig.axes[0].get_xlabel(), fig.axes[0].get_ylabel()
    ('Days', 'Reaction')
    >>> plt.close(fig)
    """
    require_rows(res, "res.plot_effects()")
    kinds = model_variables(res)
    if variable not in kinds:
        raise OptionError(f"{variable!r} is not a variable of the model (its variables: "
                          f"{', '.join(kinds) or 'none'}).")
    if by is not None and not isinstance(by, str):
        raise OptionError(f"by must be one variable's name, got {by!r}.")
    points = _check_draws(points)
    at = dict(at or {})
    numeric = kinds[variable] == "numeric"
    if numeric and variable not in at:
        x = res.design.data[variable].astype(float)
        at[variable] = list(np.linspace(x.min(), x.max(), max(points, 2)))
    names_ = [variable] + ([by] if by else [])
    m = res.means(names_, at=at, include_random=include_random)
    category = res.design.response_name if res.family.categorical_response else None
    series_col = category or by
    if category and by:
        raise OptionError("A categorical response draws one curve per category: by= is "
                          "not available; use at= to fix the other variable.")
    fig, ax = _new_axes(ax, figsize, (6.5, 4.2))
    series = list(dict.fromkeys(m[series_col])) if series_col else [None]
    levels = None if numeric else list(dict.fromkeys(m[variable]))
    if data and not category:
        xs = res.design.data[variable]
        if not numeric:  # each level's rows spread a little around its position
            where = {str(v): i for i, v in enumerate(levels)}
            pos = xs.astype(str).map(where).to_numpy(dtype=float)
            keep = ~np.isnan(pos)
            jitter = np.random.default_rng(0).uniform(-0.18, 0.18, pos.size)
            xs, ys = (pos + jitter)[keep], _observed_response(res)[keep]
        else:
            ys = _observed_response(res)
        ax.scatter(xs, ys, s=10, color=_OBSERVED, alpha=0.25, lw=0, label="observed",
                   zorder=1)
    for k, level in enumerate(series):
        part = m if level is None else m[m[series_col] == level]
        colour = _SERIES[k % len(_SERIES)]
        label = None if level is None else f"{series_col} = {level}"
        if numeric:
            ax.plot(part[variable], part["mean"], color=colour, lw=2, label=label, zorder=3)
            ax.fill_between(part[variable], part["lower"], part["upper"], color=colour,
                            alpha=0.2, lw=0, zorder=2)
        else:
            shift = (k - (len(series) - 1) / 2) * 0.12
            pos = np.array([levels.index(v) for v in part[variable]]) + shift
            ax.vlines(pos, part["lower"], part["upper"], color=colour, lw=2, zorder=3)
            ax.plot(pos, part["mean"], "o", color=colour, ms=7, label=label, zorder=4)
    if not numeric:
        ax.set_xticks(np.arange(len(levels)))
        ax.set_xticklabels([str(v) for v in levels])
    ax.set_xlabel(variable)
    ylabel = ("probability" if category else
              _response_label(res.design, res.family, proportion=True)
              if res.family.takes_trials else str(res.design.response_name))
    ax.set_ylabel(ylabel)
    if series_col or data:
        ax.legend(fontsize=8, frameon=False)
    ax.grid(alpha=0.3)
    note = {False: "group effects at zero", True: "with the fitted group effects",
            "marginal": "averaged over the group effects"}[include_random]
    ax.set_title(f"Expected {ylabel} by {variable}\nmean and {_percent(res.interval)} "
                 f"interval, {note}", fontsize=10)
    return _returned(fig)


def plot_contrasts(res: ResultView, variable: str, *, method: Any = "pairwise",
                   by: Any = None, scale: str = "link", ax: Axes | None = None,
                   figsize: tuple[float, float] | None = None, **options: Any) -> Figure:
    """Forest plot of :meth:`MixedResult.contrasts`: each contrast's posterior mean and
    interval, against the line of no difference (0, or 1 for a ratio).

    Parameters
    ----------
    res : MixedResult
        A fitted model.
    variable, method, by, scale
        As in :meth:`MixedResult.contrasts`; ``options`` passes ``at``, ``weights`` and
        ``include_random`` on.
    ax : matplotlib Axes, optional
        Draw into this axes.
    figsize : tuple of float, optional
        Figure size in inches.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> fig = plot_contrasts(_example_result(), "Days", at={"Days": [0, 5, 9]})
    >>> [t.get_text() for t in fig.axes[0].get_yticklabels()]
    ['Days0 - Days5', 'Days0 - Days9', 'Days5 - Days9']
    >>> plt.close(fig)
    """
    require_rows(res, "res.plot_contrasts()")
    c = res.contrasts(variable, method=method, by=by, scale=scale, **options)
    ratio = c.attrs.get("estimate") in ("ratio", "odds.ratio")
    by_cols = [col for col in c.columns if col not in
               ("contrast", "mean", "sd", "lower", "upper", "pd")]
    labels = [" | ".join([row["contrast"], *(f"{b} = {row[b]}" for b in by_cols)])
              for _, row in c.iterrows()]
    fig, ax = _new_axes(ax, figsize, (6.5, 0.45 * len(c) + 1.4))
    y = np.arange(len(c))[::-1]
    ax.hlines(y, c["lower"], c["upper"], color=_PARTIAL, lw=2)
    ax.plot(c["mean"], y, "o", color=_PARTIAL, ms=7)
    ax.axvline(1.0 if ratio else 0.0, color=_POPULATION, ls="--", lw=1)
    ax.set_yticks(y)
    ax.set_yticklabels(labels)
    ax.set_ylim(-0.6, len(c) - 0.4)
    if ratio:
        from matplotlib import ticker  # deferred: matplotlib is heavy

        ax.set_xscale("log")
        ax.xaxis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(ticker.NullFormatter())
    what = {"ratio": "ratio of means", "odds.ratio": "odds ratio"}.get(
        c.attrs.get("estimate"), "difference" + ("" if scale == "response"
                                                   else _scale_note(res)))
    ax.set_xlabel(what)
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(f"Contrasts of {variable}: mean and {_percent(res.interval)} interval",
                 fontsize=10)
    return _returned(fig)
