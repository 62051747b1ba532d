"""Simulation-based calibration (SBC) of mixedfit's Bayesian mixed models.

Talts, Betancourt, Simpson, Vehtari and Gelman (2018), "Validating Bayesian inference
algorithms with simulation-based calibration", arXiv:1804.06788.

For each replication ``r = 1..N``:

1. draw the parameters ``theta_r`` from the prior and a data set ``y_r`` from the model
   given ``theta_r`` (:func:`mixedfit.prior_predictive`, whose ``idata.prior`` group holds
   the parameters), with explicit priors that do not depend on the data (mixedfit's
   default priors are scaled to the observed response, which SBC must not do);
2. fit the same model, with the same priors, to ``y_r`` with NUTS (nutpie, short chains);
3. thin the posterior to ``L`` draws and record the rank of each true parameter among
   them: the number of thinned draws smaller than it, ``0..L``.

If the model is coded right and the sampler draws from the posterior, the rank of every
parameter is uniform on ``0..L``. The ranks are grouped into ``bins`` equal-width bins
and a chi-square test compares the counts with ``N / bins`` per parameter, at the 1%
level. ``L`` defaults to 99, so that the ``L + 1 = 100`` possible ranks split exactly
into 10 or 20 equal bins.

By default (``--backend compiled``) each replication calls :func:`mixedfit.fit` with its
default backend, mixedfit's compiled log density, which needs no per-model compilation;
for these Gaussian models that fit integrates the group effects out and draws them
afterwards (``marginalize``). ``--backend joint`` samples the joint posterior on the
compiled backend instead (``marginalize=False``).
``--backend pymc`` checks the PyMC model instead: each replication samples the very
model that ``mf.fit(..., backend="pymc")`` builds for its data (captured at the call to
the sampler), compiled by nutpie once per parameterisation and re-used with the new
response (``--via-fit`` calls ``mf.fit`` for every replication instead: the same result,
but each fit compiles the model again, about 5-10 s). A check at the first re-use makes
sure that the re-used model's log density equals that of the freshly built one.

Usage::

    python scripts/sbc.py                     # both models, N = 200 (a few minutes)
    python scripts/sbc.py --quick             # a tiny run (N = 20) to try it out
    python scripts/sbc.py --model slope --reps 100 --bins 10
    python scripts/sbc.py --client tcp://host:8786   # the fits on a dask cluster

The replications are fitted on this machine's cores, as many at once as their chains
allow (:mod:`mixedfit.parallel`; ``--client sequential`` fits them one after another);
each replication's ranks depend only on its data and seed, so they are the same
wherever it ran.

The table printed has one row per parameter: its chi-square statistic, degrees of
freedom, p-value and ``pass`` (p >= alpha) or ``FAIL``, and the bin counts.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "Parameter",
    "SBCModel",
    "MODELS",
    "thin",
    "sbc_rank",
    "rank_counts",
    "chi_square_uniformity",
    "make_data",
    "capture_model",
    "Refitter",
    "run_sbc",
    "summarize",
    "main",
]


# --------------------------------------------------------------------------- ranks


def thin(draws: np.ndarray, n_thin: int) -> np.ndarray:
    """``n_thin`` evenly spaced draws out of ``draws`` (chains concatenated).

    Parameters
    ----------
    draws : numpy.ndarray
        One-dimensional posterior draws of one parameter.
    n_thin : int
        Number of draws to keep, ``L``.

    Returns
    -------
    numpy.ndarray
        ``(n_thin,)`` draws.

    Examples
    --------
    >>> thin(np.arange(10.0), 4).tolist()
    [0.0, 3.0, 6.0, 9.0]
    """
    draws = np.asarray(draws, dtype=float).ravel()
    if n_thin < 1 or draws.size < n_thin:
        raise ValueError(f"cannot thin {draws.size} draws to {n_thin}")
    index = np.round(np.linspace(0, draws.size - 1, n_thin)).astype(int)
    return draws[index]


def sbc_rank(true_value: float, draws: np.ndarray, n_thin: int) -> int:
    """Rank of the true value among ``n_thin`` thinned posterior draws: ``0..n_thin``.

    The number of thinned draws strictly smaller than ``true_value``.

    Examples
    --------
    >>> sbc_rank(0.5, np.array([0.1, 0.7, 0.2, 0.9]), 4)
    2
    """
    return int(np.sum(thin(draws, n_thin) < true_value))


def rank_counts(ranks: Sequence[int] | np.ndarray, n_thin: int, bins: int) -> np.ndarray:
    """Counts of ranks ``0..n_thin`` in ``bins`` bins of equal width.

    ``n_thin + 1`` (the number of possible ranks) must be a multiple of ``bins``.

    Examples
    --------
    >>> rank_counts([0, 1, 2, 3, 99], n_thin=99, bins=10).tolist()
    [4, 0, 0, 0, 0, 0, 0, 0, 0, 1]
    """
    ranks = np.asarray(ranks, dtype=int)
    if (n_thin + 1) % bins:
        raise ValueError(f"{n_thin + 1} possible ranks do not split into {bins} equal bins; "
                         f"choose L so that L + 1 is a multiple of the number of bins")
    if ranks.size and (ranks.min() < 0 or ranks.max() > n_thin):
        raise ValueError(f"ranks must lie in 0..{n_thin}")
    width = (n_thin + 1) // bins
    return np.bincount(ranks // width, minlength=bins)


def chi_square_uniformity(ranks: Sequence[int] | np.ndarray, n_thin: int,
                          bins: int) -> tuple[float, int, float]:
    """Chi-square test that the ranks are uniform on ``0..n_thin``.

    Parameters
    ----------
    ranks : array-like of int
        One rank per replication.
    n_thin : int
        Number of thinned posterior draws ``L`` (ranks lie in ``0..L``).
    bins : int
        Number of equal-width bins (a divisor of ``L + 1``).

    Returns
    -------
    statistic : float
        ``sum((observed - expected)**2 / expected)`` over the bins.
    df : int
        Degrees of freedom, ``bins - 1``.
    p_value : float
        Upper tail probability of the chi-square distribution.

    Examples
    --------
    >>> stat, df, p = chi_square_uniformity(np.arange(100), n_thin=99, bins=10)
    >>> stat, df, round(p, 3)
    (0.0, 9, 1.0)
    """
    from scipy import stats

    counts = rank_counts(ranks, n_thin, bins)
    expected = counts.sum() / bins
    if expected == 0:
        raise ValueError("no ranks")
    statistic = float(np.sum((counts - expected) ** 2 / expected))
    df = bins - 1
    return statistic, df, float(stats.chi2.sf(statistic, df))


# --------------------------------------------------------------------------- models


@dataclass(frozen=True)
class Parameter:
    """One scalar parameter: its printed name, its variable in the InferenceData and the
    coordinates that pick it out."""

    name: str
    var: str
    sel: dict[str, str] = field(default_factory=dict)

    def values(self, dataset: Any) -> np.ndarray:
        """Draws of the parameter from a posterior or prior dataset, chains concatenated."""
        return np.asarray(dataset[self.var].sel(self.sel).values, dtype=float).ravel()


@dataclass(frozen=True)
class SBCModel:
    """A model to calibrate: formula, data-independent priors and the parameters to rank.

    ``defaults`` stand in for mixedfit's default priors (which are scaled to the data,
    which SBC must not do): priors that are not the user's sit where the defaults sit,
    the intercept's and a correlated block's at the predictors' means
    (:mod:`mixedfit.standardize`), so a model with ``defaults`` and a predictor far
    from its origin (``x_shift``) calibrates the internal coordinates of a default fit.
    """

    formula: str
    priors: dict[str, Any]
    parameters: tuple[Parameter, ...]
    family: str = "gaussian"
    defaults: dict[str, Any] = field(default_factory=dict)
    x_shift: float = 0.0
    #: family parameters' own formulas (``{"sigma": "~ x + (1 | g)"}``)
    dpars: dict[str, str] = field(default_factory=dict)


def _priors(correlated: bool) -> dict[str, Any]:
    from mixedfit import Prior

    priors = {
        "Intercept": Prior("Normal", mu=0.0, sigma=2.0),
        "x": Prior("Normal", mu=0.0, sigma=1.0),
        "sd(g)": Prior("HalfNormal", sigma=1.0),
        "sigma": Prior("HalfNormal", sigma=1.0),
    }
    if correlated:
        priors["cor(g)"] = Prior("LKJ", eta=2.0)
    return priors


def _models() -> dict[str, SBCModel]:
    from mixedfit import Prior

    common = (
        Parameter("Intercept", "fixed", {"fixed_term": "Intercept"}),
        Parameter("x", "fixed", {"fixed_term": "x"}),
        Parameter("sd(Intercept|g)", "sd(g)", {"term(g)": "Intercept"}),
    )
    first = {"level(g)": "g1"}
    sigma = (Parameter("sigma", "sigma"),)
    u_intercept = Parameter("u(g)[g1,Intercept]", "u(g)", {**first, "term(g)": "Intercept"})

    def slope(*extra: Parameter) -> tuple[Parameter, ...]:
        """The ranked parameters of ``y ~ x + (1 + x | g)`` (``extra``: the family's)."""
        return (*common,
                Parameter("sd(x|g)", "sd(g)", {"term(g)": "x"}),
                Parameter("cor(g)[Intercept,x]", "cor(g)", {"term(g)": "Intercept",
                                                            "term(g)_": "x"}),
                *extra, u_intercept,
                Parameter("u(g)[g1,x]", "u(g)", {**first, "term(g)": "x"}))

    at_means = {"sd(Intercept|g)": Prior("HalfNormal", sigma=1.0),
                "cor(g)": Prior("LKJ", eta=2.0)}
    return {
        "intercept": SBCModel("y ~ x + (1 | g)", _priors(correlated=False),
                              (*common, *sigma, u_intercept)),
        "slope": SBCModel("y ~ x + (1 + x | g)", _priors(correlated=True), slope(*sigma)),
        # x in [9, 11]; the intercept's and the block's priors sit at the mean of x, a
        # response near 1e4: every map of the internal coordinates is exercised
        "shifted": SBCModel(
            "y ~ x + (1 + x | g)",
            {"x": Prior("Normal", mu=0.0, sigma=1.0), "sd(x|g)": Prior("HalfNormal", sigma=1.0),
             "sigma": Prior("HalfNormal", sigma=1.0)},
            slope(*sigma),
            defaults={"Intercept": Prior("Normal", mu=1e4, sigma=2.0), **at_means},
            x_shift=10.0,
        ),
        "bernoulli": SBCModel(
            "y ~ x + (1 + x | g)",
            {"x": Prior("Normal", mu=0.0, sigma=1.0)},
            slope(),
            family="bernoulli",
            defaults={"Intercept": Prior("Normal", mu=0.0, sigma=1.0),
                      "sd(x|g)": Prior("HalfNormal", sigma=1.0), **at_means},
            x_shift=10.0,
        ),
        # every other family on the compiled backend: a random intercept, the family's
        # own parameter ranked with the others; priors that keep the simulated responses
        # inside the family's support with room to spare
        **{name: SBCModel("y ~ x + (1 | g)", {**_family_priors(), **extra}, (
            *common, *(Parameter(k, k) for k in own), u_intercept), family=family)
           for name, family, own, extra in (
               ("t", "t", ("sigma", "nu"), {"nu": Prior("Gamma", alpha=4.0, beta=0.4),
                                            "sigma": Prior("HalfNormal", sigma=1.0)}),
               ("probit", "bernoulli/probit", (), {}),
               ("poisson_identity", "poisson/identity", (),
                {"Intercept": Prior("Normal", mu=20.0, sigma=2.0),
                 "sd(g)": Prior("HalfNormal", sigma=2.0)}),
               ("negativebinomial", "negativebinomial", ("alpha",),
                {"Intercept": Prior("Normal", mu=1.5, sigma=0.5),
                 "alpha": Prior("Gamma", alpha=4.0, beta=1.0)}),
               ("gamma", "gamma/log", ("alpha",), {"alpha": Prior("Gamma", alpha=4.0, beta=1.0)}),
               ("beta", "beta", ("kappa",), {"kappa": Prior("Gamma", alpha=10.0, beta=0.5)}),
               ("zero_inflated_poisson", "zero_inflated_poisson", ("zi",),
                {"Intercept": Prior("Normal", mu=1.5, sigma=0.5),
                 "zi": Prior("Beta", alpha=2.0, beta=3.0)}),
               ("hurdle_negativebinomial", "hurdle_negativebinomial", ("alpha", "hu"),
                {"Intercept": Prior("Normal", mu=1.5, sigma=0.5),
                 "alpha": Prior("Gamma", alpha=4.0, beta=1.0),
                 "hu": Prior("Beta", alpha=2.0, beta=3.0)}),
           )},
        # a factor nested in g, one level in the odd groups and two in the even ones (the
        # compiled backend samples each group's effects reflected:
        # mixedfit.design.nesting.nested_groups); ranked: an effect of each kind of group
        "negativebinomial_nested": SBCModel(
            "y ~ x + (1 | g) + (1 | h)",
            {**_family_priors(), "sd(h)": Prior("HalfNormal", sigma=0.5),
             "Intercept": Prior("Normal", mu=1.5, sigma=0.5),
             "alpha": Prior("Gamma", alpha=4.0, beta=1.0)},
            (*common, Parameter("sd(Intercept|h)", "sd(h)", {"term(h)": "Intercept"}),
             Parameter("alpha", "alpha"), u_intercept,
             Parameter("u(h)[g1.a,Intercept]", "u(h)", {"level(h)": "g1.a",
                                                         "term(h)": "Intercept"}),
             Parameter("u(h)[g2.b,Intercept]", "u(h)", {"level(h)": "g2.b",
                                                         "term(h)": "Intercept"})),
            family="negativebinomial"),
        # ordinal: 4 categories, thresholds sampled as the first and the logs of the
        # differences, with one prior on each (set through "Intercept")
        "cumulative": SBCModel(
            "y ~ x + (1 | g)",
            {"Intercept": Prior("Normal", mu=0.0, sigma=2.0), "x": Prior("Normal", mu=0.0,
                                                                         sigma=0.5),
             "sd(g)": Prior("HalfNormal", sigma=0.5)},
            (*(Parameter(f"Intercept[{k}]", f"Intercept[{k}]") for k in (1, 2, 3)),
             *common[1:], u_intercept),
            family="cumulative"),
        # sigma with its own formula: a slope and a group effect on log sigma
        "sigma_formula": SBCModel(
            "y ~ x + (1 | g)",
            {"Intercept": Prior("Normal", mu=0.0, sigma=2.0),
             "x": Prior("Normal", mu=0.0, sigma=1.0), "sd(g)": Prior("HalfNormal", sigma=1.0),
             "sigma_Intercept": Prior("Normal", mu=0.0, sigma=0.5),
             "sigma_x": Prior("Normal", mu=0.0, sigma=0.5),
             "sd(sigma_Intercept|g)": Prior("HalfNormal", sigma=0.5)},
            (*common, Parameter("sigma_Intercept", "fixed", {"fixed_term": "sigma_Intercept"}),
             Parameter("sigma_x", "fixed", {"fixed_term": "sigma_x"}),
             Parameter("sd(sigma_Intercept|g)", "sd(sigma_g)",
                       {"term(sigma_g)": "sigma_Intercept"}),
             u_intercept),
            dpars={"sigma": "~ x + (1 | g)"}),
        # categorical: 4 categories, the log odds of each of 1, 2, 3 against 0 with its own
        # intercept, slope and group effects
        "categorical": SBCModel(
            "y ~ x + (1 | g)",
            {key: prior for k in (1, 2, 3) for key, prior in (
                (f"mu{k}_Intercept", Prior("Normal", mu=0.0, sigma=1.0)),
                (f"mu{k}_x", Prior("Normal", mu=0.0, sigma=0.5)),
                (f"sd(mu{k}_Intercept|g)", Prior("HalfNormal", sigma=0.5)))},
            (Parameter("mu1_Intercept", "fixed", {"fixed_term": "mu1_Intercept"}),
             Parameter("mu1_x", "fixed", {"fixed_term": "mu1_x"}),
             Parameter("mu3_x", "fixed", {"fixed_term": "mu3_x"}),
             Parameter("sd(mu1_Intercept|g)", "sd(mu1_g)", {"term(mu1_g)": "mu1_Intercept"}),
             Parameter("u(mu2_g)[g1,mu2_Intercept]", "u(mu2_g)",
                       {**first, "term(mu2_g)": "mu2_Intercept"})),
            family="categorical"),
    }


def with_placeholder(data: pd.DataFrame, family: str) -> pd.DataFrame:
    """``data`` with a placeholder response inside the family's support (0, or 0.5 for a
    family of positive values or of values in (0, 1))."""
    from mixedfit.errors import DataError

    fam = _family(family)
    if fam.categorical_response:  # every category once in a while
        return data.assign(y=np.arange(len(data)) % len(fam.categories))
    try:
        _family(family).check_values(np.zeros(1), "y")
    except DataError:
        return data.assign(y=0.5)
    return data


def _family(spec: str) -> Any:
    """The family of ``"name"`` or ``"name/link"``."""
    from mixedfit.families import get_family

    name, _, link = spec.partition("/")
    fam = get_family(name, link=link or None)
    if fam.categorical_response:  # ORDINAL_CATEGORIES categories (ordered or not)
        fam = fam.for_levels([str(k) for k in range(ORDINAL_CATEGORIES)])
    return fam


#: categories of the ordinal models' response (codes 0, 1, ...)
ORDINAL_CATEGORIES = 4


def _family_priors() -> dict[str, Any]:
    """Data-independent priors of ``y ~ x + (1 | g)`` on a link scale (log, logit, probit)."""
    from mixedfit import Prior

    return {"Intercept": Prior("Normal", mu=0.0, sigma=1.0),
            "x": Prior("Normal", mu=0.0, sigma=0.5),
            "sd(g)": Prior("HalfNormal", sigma=0.5)}


#: The calibrated models: a random intercept; correlated random intercepts and slopes;
#: the same with a predictor far from its origin and default-style priors, Gaussian and
#: Bernoulli.
MODELS: dict[str, SBCModel] = _models()


class stand_in_defaults:  # noqa: N801 - used as a context manager, like a function
    """Within the block, mixedfit's default priors are ``defaults`` (data-independent),
    for the parameters they name; the data-scaled defaults for the others."""

    def __init__(self, defaults: dict[str, Any]) -> None:
        self.defaults = defaults

    def __enter__(self) -> None:
        import mixedfit.priors as priors_module

        self.module = priors_module
        self.original = priors_module.default_priors

        def default_priors(design: Any, family: Any) -> dict[str, Any]:
            out = self.original(design, family)
            out.update({k: v for k, v in self.defaults.items() if k in out})
            return out

        priors_module.default_priors = default_priors

    def __exit__(self, *exc: Any) -> None:
        self.module.default_priors = self.original


def make_data(n_groups: int = 6, per_group: int = 5, x_shift: float = 0.0) -> pd.DataFrame:
    """The fixed design: groups ``g1..gJ`` of equal size, ``x`` evenly spaced in [-1, 1]
    within each group (so that slopes vary within groups) plus ``x_shift``, a factor
    ``h`` nested in ``g`` (one level in the odd groups, two in the even ones: groups of
    nested effects that the compiled backend samples reflected), and a placeholder
    ``y``.

    Examples
    --------
    >>> make_data(2, 3)
        g    x     h    y
    0  g1 -1.0  g1.a  0.0
    1  g1  0.0  g1.a  0.0
    2  g1  1.0  g1.a  0.0
    3  g2 -1.0  g2.a  0.0
    4  g2  0.0  g2.b  0.0
    5  g2  1.0  g2.b  0.0
    """
    g = np.repeat([f"g{j + 1}" for j in range(n_groups)], per_group)
    half = np.tile(np.arange(per_group) >= per_group // 2, n_groups)
    second = half & (np.repeat(np.arange(n_groups), per_group) % 2 == 1)
    return pd.DataFrame({
        "g": g,
        "x": np.tile(np.linspace(-1.0, 1.0, per_group), n_groups) + x_shift,
        "h": [f"{a}.{'b' if s else 'a'}" for a, s in zip(g, second, strict=True)],
        "y": 0.0,
    })


# --------------------------------------------------------------------------- fitting


class _Captured(BaseException):  # not an Exception: mf.fit explains those as SamplingError
    """Raised by the stand-in sampler to stop :func:`mixedfit.fit` once the model is built."""


def capture_model(formula: str, data: pd.DataFrame, priors: dict[str, Any],
                  **options: Any) -> tuple[Any, dict[str, Any]]:
    """The PyMC model :func:`mixedfit.fit` builds for these data, and its sampler options.

    ``mixedfit.backends.pymc_model.sample`` is replaced for the duration of the call, so everything
    ``fit`` does before sampling (checks, design, priors, parameterisation) runs as usual.
    """
    import mixedfit as mf
    import mixedfit.backends.pymc_model as model_module

    box: dict[str, Any] = {}

    def grab(model: Any, **kwargs: Any) -> Any:
        box.update(model=model, kwargs=kwargs)
        raise _Captured

    original = model_module.sample
    model_module.sample = grab
    try:
        mf.fit(formula, data, priors=priors, progressbar=False, warn=False, backend="pymc",
               **options)
    except _Captured:
        pass
    finally:
        model_module.sample = original
    if "model" not in box:  # pragma: no cover - fit always samples
        raise RuntimeError("mixedfit.fit did not reach the sampler")
    return box["model"], box["kwargs"]


def _with_shared_response(model: Any, name: str = "y_obs") -> tuple[Any, Any]:
    """A copy of ``model`` whose observed ``y`` is a shared variable (so nutpie can swap it)."""
    import pytensor
    from pymc.model.fgraph import ModelObservedRV, fgraph_from_model, model_from_fgraph

    fgraph, _ = fgraph_from_model(model, inlined_views=True)
    node = next(n for n in fgraph.apply_nodes
                if isinstance(n.op, ModelObservedRV) and n.outputs[0].name == "y")
    data = node.inputs[1]
    shared = pytensor.shared(np.asarray(data.data, dtype=data.dtype), name=name,
                             shape=data.type.shape)
    fgraph.replace(data, shared, import_missing=True)
    out = model_from_fgraph(fgraph, mutate_fgraph=True)
    out.check_bounds = model.check_bounds  # (not carried over by model_from_fgraph)
    return out, shared


@dataclass
class _Compiled:
    model: Any
    shared: Any
    nutpie_model: Any
    uses: int = 0


class Refitter:
    """Fits one formula with fixed priors to many responses, as :func:`mixedfit.fit` would.

    The model of each replication is the one ``mf.fit`` builds for its data
    (:func:`capture_model`); nutpie compiles each distinct parameterisation once and
    re-uses it with the new response. With ``via_fit=True`` every replication calls
    ``mf.fit`` instead.
    """

    def __init__(self, formula: str, data: pd.DataFrame, priors: dict[str, Any], *,
                 draws: int, tune: int, chains: int, via_fit: bool = False,
                 backend: str = "compiled", family: Any = "gaussian",
                 dpars: dict[str, str] | None = None) -> None:
        self.formula = formula
        self.data = data
        self.priors = priors
        self.options = {"draws": draws, "tune": tune, "chains": chains, "family": family,
                        **(dpars or {})}
        self.via_fit = via_fit or backend in ("compiled", "joint")
        self.backend = backend
        self._compiled: dict[tuple[str, ...], _Compiled] = {}
        self.logp_checks: list[float] = []

    def fit(self, y: np.ndarray, seed: int) -> tuple[Any, int]:
        """Posterior draws (an xarray Dataset) for response ``y``, and the number of
        divergent transitions."""
        data = self.data.assign(y=np.asarray(y, dtype=float))
        if self.via_fit:
            import mixedfit as mf

            joint = {"marginalize": False} if self.backend == "joint" else {}
            res = mf.fit(self.formula, data, priors=self.priors, random_seed=seed,
                         progressbar=False, warn=False, log_likelihood=False,
                         backend="pymc" if self.backend == "pymc" else "compiled",
                         **joint, **self.options)
            return res.idata.posterior, _divergences(res.idata)
        import nutpie

        model, kwargs = capture_model(self.formula, data, self.priors, random_seed=seed,
                                      **self.options)
        key = tuple(sorted(rv.name for rv in model.free_RVs))
        entry = self._compiled.get(key)
        if entry is None:
            shared_model, shared = _with_shared_response(model)
            entry = _Compiled(shared_model, shared, nutpie.compile_pymc_model(shared_model))
            self._compiled[key] = entry
        elif entry.uses == 1:
            self.logp_checks.append(_logp_difference(model, entry, data["y"].to_numpy()))
        entry.uses += 1
        options: dict[str, Any] = {}
        if kwargs.get("target_accept") is not None:
            options["target_accept"] = kwargs["target_accept"]
        nutpie_seed = int(np.random.SeedSequence(seed).generate_state(1)[0])
        idata = nutpie.sample(entry.nutpie_model.with_data(y_obs=np.asarray(y, dtype=float)),
                              draws=kwargs["draws"], tune=kwargs["tune"],
                              chains=kwargs["chains"], seed=nutpie_seed, progress_bar=False,
                              save_warmup=False, maxdepth=kwargs.get("max_treedepth", 10),
                              **options)
        return idata.posterior, _divergences(idata)


def _divergences(idata: Any) -> int:
    stats = getattr(idata, "sample_stats", None)
    if stats is None or "diverging" not in stats:
        return 0
    return int(np.asarray(stats["diverging"]).sum())


def _logp_difference(model: Any, entry: _Compiled, y: np.ndarray) -> float:
    """|log density of the freshly built model - that of the re-used one given y|."""
    point = model.initial_point()
    fresh = float(model.compile_logp()(point))
    entry.shared.set_value(np.asarray(y, dtype=entry.shared.dtype))
    reused = float(entry.model.compile_logp()(point))
    diff = abs(fresh - reused)
    if not diff <= 1e-8 * max(1.0, abs(fresh)):
        raise RuntimeError(f"the re-used model's log density differs from mf.fit's model by "
                           f"{diff:g}")
    return diff


# --------------------------------------------------------------------------- SBC


def _fit_replications(spec: SBCModel, data: pd.DataFrame, ys: np.ndarray,
                      seeds: Sequence[int], truths: Sequence[dict[str, float]], *,
                      draws: int, tune: int, chains: int, n_thin: int, via_fit: bool,
                      backend: str) -> dict[str, Any]:
    """Fit a run of replications and rank their true values: one task of :func:`run_sbc`
    (module level, so that it can run on a worker process).

    Returns the rows of ranks (with ``divergences``), the re-used models' log density
    checks and the number of models compiled.
    """
    import logging

    import pymc  # noqa: F401 - imported first: importing it sets its logger's level

    logging.getLogger("pymc").setLevel(logging.WARNING)
    rows = []
    with stand_in_defaults(spec.defaults):
        refitter = Refitter(spec.formula, data, spec.priors, draws=draws, tune=tune,
                            chains=chains, via_fit=via_fit, backend=backend,
                            family=_family(spec.family), dpars=spec.dpars)
        for y, seed, truth in zip(ys, seeds, truths, strict=True):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                posterior, divergent = refitter.fit(y, seed)
            row: dict[str, Any] = {p.name: sbc_rank(truth[p.name], p.values(posterior),
                                                    n_thin)
                                   for p in spec.parameters}
            row["divergences"] = divergent
            rows.append(row)
    return {"rows": rows, "logp_checks": refitter.logp_checks,
            "compiled": len(refitter._compiled)}


def run_sbc(model: str | SBCModel, *, reps: int, draws: int = 250, tune: int = 250,
            chains: int = 2, n_thin: int = 99, n_groups: int = 6, per_group: int = 5,
            seed: int = 2024, via_fit: bool = False, backend: str = "compiled",
            progress: bool = False, client: Any = None) -> pd.DataFrame:
    """Run SBC for one model and return the ranks.

    Parameters
    ----------
    model : str or SBCModel
        A key of :data:`MODELS` or a model.
    reps : int
        Number of replications ``N``.
    draws, tune, chains : int
        Sampler settings of each fit (``chains * draws >= n_thin``).
    n_thin : int, default 99
        ``L``: posterior draws kept (evenly spaced) to rank the true value among.
    n_groups, per_group : int
        Size of the simulated data.
    seed : int
        Seed of the prior draws; replication ``r`` is fitted with seed ``seed + 1 + r``.
    via_fit : bool
        Call ``mf.fit`` for every replication (always so with the compiled backend).
    backend : {"compiled", "joint", "pymc"}
        The posterior checked (see the module docstring).
    progress : bool
        Count the finished replications (or runs of them) on stderr.
    client : None, "sequential", distributed.Client or str
        Where the replications are fitted (:mod:`mixedfit.parallel`): by default on
        this machine's cores, as many fits at once as their chains allow. Each
        replication's ranks depend only on its data and seed, so they are the same
        wherever it ran. The PyMC path re-uses each compiled model within a run of
        replications: one run per worker.

    Returns
    -------
    pandas.DataFrame
        One row per replication: the rank of each parameter (columns named after them)
        and ``divergences``. ``attrs`` records the settings.
    """
    import logging

    import pymc  # noqa: F401 - imported first: importing it sets its logger's level

    import mixedfit as mf
    from mixedfit.parallel import Executor, chunks, run_tasks, threads_for_chains

    logging.getLogger("pymc").setLevel(logging.WARNING)  # "Sampling: [...]" of the prior
    spec = MODELS[model] if isinstance(model, str) else model
    if chains * draws < n_thin:
        raise ValueError(f"{chains} x {draws} draws are fewer than L = {n_thin}")
    data = with_placeholder(make_data(n_groups, per_group, spec.x_shift), spec.family)
    with stand_in_defaults(spec.defaults):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            prior = mf.prior_predictive(spec.formula, data, priors=spec.priors, draws=reps,
                                        random_seed=seed, family=_family(spec.family),
                                        **spec.dpars)
        truth = {p.name: p.values(prior.idata.prior) for p in spec.parameters}
    start = time.perf_counter()
    caches = backend == "pymc" and not via_fit  # compiles once per run of replications
    executor = client if isinstance(client, Executor) else Executor(
        client, threads_per_task=threads_for_chains(chains), n_tasks=reps)
    try:
        if executor.kind != "sequential":
            _pickle_this_script_by_value()
        runs = chunks(reps, executor.slots if caches else reps)
        tasks = [{"ys": prior.y[list(run)], "seeds": [seed + 1 + r for r in run],
                  "truths": [{name: float(values[r]) for name, values in truth.items()}
                             for r in run]} for run in runs]
        shared = {"spec": spec, "data": data, "draws": draws, "tune": tune,
                  "chains": chains, "n_thin": n_thin, "via_fit": via_fit, "backend": backend}
        outcomes = run_tasks(_fit_replications, tasks, client=executor, shared=shared,
                             progressbar=progress, label="SBC replications" if not caches
                             else "SBC runs of replications")
    finally:
        if executor is not client:
            executor.close()
    rows, logp_checks, compiled = [], [], 0
    for run, outcome in zip(runs, outcomes, strict=True):
        part = outcome.result(f"SBC replications {run.start}..{run.stop - 1}")
        rows += part["rows"]
        logp_checks += part["logp_checks"]
        compiled += part["compiled"]
    ranks = pd.DataFrame(rows)
    ranks.attrs.update(formula=spec.formula, family=spec.family, reps=reps, draws=draws,
                       tune=tune, chains=chains,
                       n_thin=n_thin, n_groups=n_groups, per_group=per_group, seed=seed,
                       seconds=time.perf_counter() - start, logp_checks=logp_checks,
                       compiled=compiled, backend=backend, executor=executor.kind)
    return ranks


def _pickle_this_script_by_value() -> None:
    """Let this script's functions and classes travel to worker processes by value:
    loaded from its path (not importable by name), the workers could not import it."""
    if __name__ == "__main__":  # cloudpickle sends __main__'s by value already
        return
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])


def summarize(ranks: pd.DataFrame, *, n_thin: int, bins: int,
              alpha: float = 0.01) -> pd.DataFrame:
    """Chi-square uniformity test of each parameter's ranks.

    Returns
    -------
    pandas.DataFrame
        ``parameter``, ``chi2``, ``df``, ``p_value``, ``result`` ("pass" when
        ``p_value >= alpha``, else "FAIL") and ``counts`` (ranks per bin).
    """
    rows = []
    for name in ranks.columns:
        if name == "divergences":
            continue
        stat, df, p = chi_square_uniformity(ranks[name].to_numpy(), n_thin, bins)
        counts = rank_counts(ranks[name].to_numpy(), n_thin, bins)
        rows.append({"parameter": name, "chi2": round(stat, 2), "df": df,
                     "p_value": round(p, 4), "result": "pass" if p >= alpha else "FAIL",
                     "counts": " ".join(str(int(c)) for c in counts)})
    return pd.DataFrame(rows)


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns 0 when every parameter passes, else 1."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=[*MODELS, "all"], default="all")
    parser.add_argument("--reps", type=int, default=200, help="replications N (default 200)")
    parser.add_argument("--draws", type=int, default=250)
    parser.add_argument("--tune", type=int, default=250)
    parser.add_argument("--chains", type=int, default=2)
    parser.add_argument("--thin", type=int, default=99, help="L, thinned draws (default 99)")
    parser.add_argument("--bins", type=int, default=20, help="equal-width rank bins")
    parser.add_argument("--groups", type=int, default=6)
    parser.add_argument("--per-group", type=int, default=5)
    parser.add_argument("--alpha", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--backend", choices=["compiled", "joint", "pymc"], default="compiled",
                        help="the posterior checked: mf.fit's default (compiled, group effects "
                             "integrated out where possible), the compiled joint model, or "
                             "the PyMC model")
    parser.add_argument("--via-fit", action="store_true",
                        help="call mf.fit for every replication (recompiles each time)")
    parser.add_argument("--quick", action="store_true",
                        help="a tiny run: N = 20, 5 bins, 150 warm-up and 150 draws")
    parser.add_argument("--ranks", help="write the ranks to this CSV file")
    parser.add_argument("--client", default=None,
                        help="where the fits run: the address of a dask scheduler, or "
                             "'sequential'; default: this machine's cores "
                             "(mixedfit.parallel)")
    args = parser.parse_args(argv)
    if args.quick:
        args.reps, args.bins, args.draws, args.tune = 20, 5, 150, 150

    names = list(MODELS) if args.model == "all" else [args.model]
    tables, all_ranks = [], []
    total = time.perf_counter()
    failures = 0
    for name in names:
        ranks = run_sbc(name, reps=args.reps, draws=args.draws, tune=args.tune,
                        chains=args.chains, n_thin=args.thin, n_groups=args.groups,
                        per_group=args.per_group, seed=args.seed, via_fit=args.via_fit,
                        backend=args.backend, client=args.client)
        table = summarize(ranks, n_thin=args.thin, bins=args.bins, alpha=args.alpha)
        failures += int((table["result"] == "FAIL").sum())
        a = ranks.attrs
        divergent = int((ranks["divergences"] > 0).sum())
        print(f"\n== {name}: {a['formula']}, {a['family']}  ({args.groups} groups x "
              f"{args.per_group} obs; backend {a['backend']})")
        print(f"N = {a['reps']} replications, {a['chains']} chains x {a['draws']} draws "
              f"after {a['tune']} warm-up, L = {a['n_thin']}, {args.bins} bins, "
              f"alpha = {args.alpha}; {a['seconds']:.0f} s")
        print(f"replications with divergent transitions: {divergent} of {a['reps']}; "
              f"models compiled: {a['compiled']}"
              + (f"; re-used model log density check: max |diff| = "
                 f"{max(a['logp_checks']):.1e}" if a["logp_checks"] else ""))
        print(table.to_string(index=False))
        tables.append(table.assign(model=name))
        all_ranks.append(ranks.assign(model=name))
    n_tests = sum(len(t) for t in tables)
    print(f"\n{failures} of {n_tests} parameters fail at the {args.alpha:g} level "
          f"(expected by chance alone: {n_tests * args.alpha:.2f}); "
          f"total {time.perf_counter() - total:.0f} s")
    if args.ranks:
        pd.concat(all_ranks, ignore_index=True).to_csv(args.ranks, index=False)
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
