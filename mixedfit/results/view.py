"""The result of a fit: labelled pandas tables computed on access and cached.

Every table reports the posterior mean, the posterior sd and an equal-tailed
credible interval (``lower``, ``upper``) whose mass is :attr:`MixedResult.interval`
(0.94 unless set otherwise; setting it clears the cached tables).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from mixedfit import names
from mixedfit.convergence import rhat_ess
from mixedfit.design import Design
from mixedfit.errors import MixedFitError, OptionError, RowsNeededError
from mixedfit.families import Family
from mixedfit.names import cor_key, sd_key
from mixedfit.plan import FitPlan
from mixedfit.priors import Prior, log_prior_draws, prior_set
from mixedfit.results import display
from mixedfit.results.diagnostics import diagnose
from mixedfit.results.display import as_table
from mixedfit.results.effects import contrasts, means, slopes
from mixedfit.results.hypothesis import hypothesis
from mixedfit.results.loglik import log_likelihood_draws
from mixedfit.results.loo import loo
from mixedfit.results.predict import predict
from mixedfit.results.predictive import grouped_check, posterior_predictive
from mixedfit.results.report import build_summary, out_of_core_source
from mixedfit.results.sensitivity import power_scale_sensitivity
from mixedfit.results.shrinkage import shrinkage_table
from mixedfit.results.summaries import (
    STAT_COLUMNS,
    describe,
    describe_summary,
    require_effect_draws,
    summary_index,
)
from mixedfit.results.tidy import tidy
from mixedfit.standardize import Standardization, standardize

__all__ = ["ResultView", "STAT_COLUMNS", "describe", "AVAILABLE_WITHOUT_ROWS",
           "require_rows", "require_effect_draws"]

T = TypeVar("T")

#: What a result fitted out of core (from the sufficient statistics of a Dask DataFrame
#: or a Parquet dataset, keeping no data rows) still offers; everything else that reads
#: the rows (fitted values, residuals, predictive checks, LOO, WAIC, k-fold, shrinkage,
#: reference grids, refits...) raises :class:`~mixedfit.errors.RowsNeededError`, whose
#: message lists these.
AVAILABLE_WITHOUT_ROWS = (
    "fixed_effects", "variance_components", "family_parameters", "random_effects",
    "coefficients", "priors", "draws()", "summary()", "diagnostics()", "hypothesis()",
    "to_frame()", "predict(newdata)", "plot_trace()", "plot_caterpillar()",
    "plot_variance_components()",
)


#: Why the pointwise log-likelihood and the predictive draws of the fitted rows need the
#: group effects' draws (a sentence of :func:`require_effect_draws`' message).
LIKELIHOOD_HINT = ("Each row's likelihood and predictive distribution take its level's "
                   "group effects draw by draw, jointly with the other parameters.")


def require_rows(res: ResultView, what: str) -> None:
    """Raise :class:`~mixedfit.errors.RowsNeededError` when ``res`` was fitted out of
    core (its design keeps no rows), saying that ``what`` (``"res.loo()"``) needs them,
    what the result offers instead (:data:`AVAILABLE_WITHOUT_ROWS`) and how to get it;
    nothing for a result with rows."""
    design = res.design
    if design.has_rows:
        return
    source = out_of_core_source(design.stats)
    available = [a for a in AVAILABLE_WITHOUT_ROWS  # (the level coefficients need draws)
                 if not (res.plan.effects_summarised and a == "coefficients")]
    raise RowsNeededError(
        f"{what} needs the data rows, and this fit was made out of core, from the "
        f"sufficient statistics of {design.n_obs:,} rows{f' ({source})' if source else ''}: "
        f"it keeps none. Available without rows: {', '.join(available)}. For "
        f"{what}, fit an in-memory sample of the rows, e.g. mf.fit({res.formula!r}, "
        f"ddf.sample(frac=0.01).compute()) with ddf the data as a Dask DataFrame.")


class DeferredInferenceData:
    """An ArviZ ``InferenceData`` made when a result first needs it
    (:attr:`ResultView.idata`) from ``groups()``, a function returning its groups (xarray
    Datasets): a loaded result does not pay for reading the posterior and importing
    xarray and ArviZ until it is used."""

    def __init__(self, groups: Callable[[], dict[str, Any]]) -> None:
        self.groups = groups

    def build(self) -> Any:
        """The ``InferenceData``."""
        import arviz as az  # deferred: ArviZ is heavy and only needed here

        groups = self.groups()
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*InferenceData scheme.*")
            return az.InferenceData(**groups)


def _cached(func: Callable[[ResultView], T]) -> property:
    name = func.__name__

    def getter(self: ResultView) -> T:
        if name not in self._cache:
            self._cache[name] = func(self)
        return self._cache[name]

    getter.__doc__ = func.__doc__
    return property(getter)


class ResultView:
    """A fitted mixed model, read: every table, check and prediction.

    A view over the posterior, the design, the priors and the fit plan; it computes
    and never changes them (the ``interval`` of its tables excepted). The result
    :func:`mixedfit.fit` returns, :class:`mixedfit.MixedResult`, adds the entry
    points to plotting, saving and refitting.

    A result fitted out of core (from the sufficient statistics of a Dask DataFrame or
    a Parquet dataset) keeps no data rows (``design.has_rows`` is False): what reads
    them (fitted values, predictive checks, LOO, WAIC, shrinkage, reference grids,
    refits) raises :class:`~mixedfit.errors.RowsNeededError`; what it offers is listed
    in :data:`AVAILABLE_WITHOUT_ROWS`.

    A marginalised fit whose group effects' draws would be too many to keep
    (:attr:`effects_summarised`) keeps each group effect's summary instead (the
    InferenceData group :data:`mixedfit.names.EFFECTS_SUMMARY`): :attr:`random_effects`,
    the diagnostics, the tidy table's ``ran_vals`` rows, :attr:`shrinkage` and the
    caterpillar plot come from those; what needs the draws (:attr:`coefficients`,
    predictions of fitted levels, the log-likelihood, predictive checks) raises
    :class:`~mixedfit.errors.DrawsNotKeptError` (:func:`require_effect_draws`).

    Attributes
    ----------
    design : Design
        Matrices, group indices and the data rows used.
    family : Family
        Response family and link.
    idata : arviz.InferenceData
        The posterior draws, with group levels as coordinates.
    plan : FitPlan
        Every choice of the fit (backend, sampler, parameterisation...).
    formula : str
        The formula as written.
    """

    def __init__(self, *, design: Design, family: Family, priors: dict[str, Prior],
                 idata: Any, plan: FitPlan | None = None, info: dict[str, Any] | None = None,
                 interval: float | None = None) -> None:
        self.design = design
        self.family = family
        self._priors = prior_set(priors, design, family)
        self._idata = idata
        if plan is None:
            plan = FitPlan.from_dict({"family": family.name, "link": family.link,
                                      **(info or {})})
        self.plan = plan
        self._cache: dict[str, Any] = {}
        self._draw_cache: dict[str, Any] = {}
        self.interval = plan.interval if interval is None else interval

    @property
    def idata(self) -> Any:
        """The posterior draws and sampling statistics, an ArviZ ``InferenceData``."""
        if isinstance(self._idata, DeferredInferenceData):
            self._idata = self._idata.build()
        return self._idata

    @idata.setter
    def idata(self, value: Any) -> None:
        self._idata = value

    @property
    def prior_set(self) -> Any:
        """The resolved priors, parameter name -> :class:`~mixedfit.priors.Prior`, with the
        names the user set (``.user``); :attr:`priors` shows them as a table."""
        return self._priors

    @property
    def info(self) -> dict[str, Any]:
        """The fit plan as a dict (``res.info["backend"]``...); see :attr:`plan`."""
        return self.plan.to_dict()

    # ------------------------------------------------------------------ basics
    @property
    def formula(self) -> str:
        """The formula as written."""
        return self.design.formula_text

    @property
    def interval(self) -> float:
        """Mass of the credible intervals in every table (default 0.94)."""
        return self._interval

    @interval.setter
    def interval(self, value: float) -> None:
        if not (isinstance(value, float | int) and 0 < float(value) < 1):
            raise OptionError(f"interval must be a number between 0 and 1, got {value!r}.")
        self._interval = float(value)
        self._cache.clear()

    @property
    def n_obs(self) -> int:
        """Number of observations used in the fit."""
        return self.design.n_obs

    @property
    def n_draws(self) -> int:
        """Total number of posterior draws (chains x draws)."""
        post = self.idata.posterior
        return int(post.sizes["chain"] * post.sizes["draw"])

    def draws(self, name: str) -> np.ndarray:
        """Posterior draws of a model variable, shape ``(chains * draws, ...)``.

        Examples
        --------
        >>> res = _example_result()
        >>> res.draws("fixed").shape[1]
        2
        """
        if name not in self._draw_cache:
            if name not in self.idata.posterior:
                if name in self._effect_summaries():
                    require_effect_draws(self, f"res.draws({name!r})")
                raise MixedFitError(f"The posterior has no variable {name!r}.")
            da = self.idata.posterior[name]
            arr = np.asarray(da.values)
            self._draw_cache[name] = arr.reshape((-1,) + arr.shape[2:])
        return self._draw_cache[name]

    def quantile_labels(self) -> tuple[str, str]:
        q = (1.0 - self.interval) / 2.0 * 100
        return f"{q:g}%", f"{100 - q:g}%"

    def _frame(self, draws: np.ndarray, index: Any) -> pd.DataFrame:
        stats = describe(draws, self.interval)
        df = pd.DataFrame({k: np.asarray(v).reshape(-1) for k, v in stats.items()}, index=index)
        df.attrs["interval"] = self.interval
        return as_table(df)

    # ------------------------------------------------------------------ priors
    @_cached
    def priors(self) -> pd.DataFrame:
        """The prior of every parameter, whether it is the default or the user's, and
        where it sits.

        ``on`` is ``"as reported"`` when the prior is on the parameter as the tables
        show it, or says where it sits otherwise: the default intercept prior sits on
        the intercept at the predictors' means, and the default sd and correlation
        priors of a correlated block with slopes on the group intercepts at the means
        of its predictors (so that moving a predictor's origin changes nothing; see
        :mod:`mixedfit.standardize`). Priors are on the user's scale.

        Examples
        --------
        >>> res = _example_result()
        >>> res.priors.loc["Intercept", "on"]
        "at the predictors' means (Days = 4.5)"
        """
        st = self.standardization
        user = self._priors.user
        rows = [{"parameter": k, "prior": repr(p), "source": "user" if k in user else "default",
                 "on": st.site(k)} for k, p in self._priors.items()]
        return as_table(pd.DataFrame(rows).set_index("parameter"))

    @property
    def standardization(self) -> Standardization:
        """The internal coordinates of the fit (where each prior sits)."""
        if "_standardization" not in self._draw_cache:
            self._draw_cache["_standardization"] = standardize(self.design, self.family,
                                                               self._priors)
        return self._draw_cache["_standardization"]

    def block_at_prior_sites(self, k: int) -> tuple[np.ndarray, np.ndarray | None]:
        """Draws of block ``k``'s sds and correlations ``(S, q)``, ``(S, q, q)`` in the
        basis its priors sit in (the group intercepts at the predictors' means in a
        centred block; as reported otherwise)."""
        b = self.design.blocks[k]
        if names.sd_at_means(b.label) in self.idata.posterior:  # sampled there (and stored)
            return self.draws(names.sd_at_means(b.label)), self.draws(names.cor_at_means(b.label))
        sd = self.draws(names.sd(b.label))
        cor = self.draws(names.cor(b.label)) if b.correlated else None
        if cor is None or not self.standardization.blocks[k].centred:
            return sd, cor
        cov = self.standardization.covariance_at_centre(
            k, sd[:, :, None] * cor * sd[:, None, :])
        sd_c = np.sqrt(np.einsum("sii->si", cov))
        return sd_c, cov / (sd_c[:, :, None] * sd_c[:, None, :])

    def at_prior_sites(self) -> dict[str, np.ndarray]:
        """Draws of every parameter where its prior sits (see :attr:`priors`)."""
        d = self.design
        out: dict[str, np.ndarray] = {}
        if d.fixed_columns:
            theta = self.standardization.at_prior_sites(self.draws(names.FIXED))
            out.update({c: theta[:, j] for j, c in enumerate(d.fixed_columns)})
        for k, b in enumerate(d.blocks):
            sd, cor = self.block_at_prior_sites(k)
            out.update({sd_key(c, b.group): sd[:, j] for j, c in enumerate(b.columns)})
            if cor is not None:
                out[cor_key(b.label)] = cor
        for name in self.family.parameters:
            if name not in d.dpar_formulas:  # (their coefficients are fixed effects)
                out[name] = self.draws(name)
        if self.family.intercepts and d.fixed_columns:  # thresholds: at the predictors' means
            m = self.standardization.intercept_center
            shift = self.draws(names.FIXED) @ m if m.size else 0.0
            for name in self.family.intercepts:
                out[name] = out[name] - shift
        return out

    # ------------------------------------------------------------ fixed effects
    @_cached
    def fixed_effects(self) -> pd.DataFrame:
        """Fixed effects: posterior mean, sd, interval, R-hat and bulk/tail ESS.

        On the link scale for non-identity links.

        Examples
        --------
        >>> res = _example_result()
        >>> list(res.fixed_effects.columns)
        ['mean', 'sd', 'lower', 'upper', 'r_hat', 'ess_bulk', 'ess_tail']
        """
        cols = self.design.fixed_columns
        cuts = list(self.family.intercepts)  # an ordinal model's thresholds come first
        if not cols and not cuts:
            return pd.DataFrame(columns=[*STAT_COLUMNS, "r_hat", "ess_bulk", "ess_tail"])
        parts = [self.draws(c)[:, None] for c in cuts]
        diags = [self._diagnostics_of(c) for c in cuts]
        if cols:
            parts.append(self.draws(names.FIXED))
            diags.append(self._diagnostics_of(names.FIXED))
        df = self._frame(np.concatenate(parts, axis=1), pd.Index(cuts + cols, name="term"))
        for key in ("r_hat", "ess_bulk", "ess_tail"):
            df[key] = np.concatenate([np.asarray(d[key]).reshape(-1) for d in diags])
        return df

    def _with_convergence(self, df: pd.DataFrame, draws: np.ndarray) -> pd.DataFrame:
        """``df`` with R-hat and bulk and tail ESS of each column of ``draws`` (S, k)."""
        post = self.idata.posterior
        arr = np.asarray(draws, dtype=float).reshape(int(post.sizes["chain"]),
                                                     int(post.sizes["draw"]), -1)
        for key, values in zip(("r_hat", "ess_bulk", "ess_tail"), rhat_ess(arr), strict=True):
            df[key] = values
        return df

    def _diagnostics_of(self, name: str) -> dict[str, np.ndarray]:
        da = self.idata.posterior[name]
        arr = np.asarray(da.values, dtype=float)
        shape = arr.shape[2:]
        r, bulk, tail = rhat_ess(arr.reshape(arr.shape[0], arr.shape[1], -1))
        return {"r_hat": r.reshape(shape), "ess_bulk": bulk.reshape(shape),
                "ess_tail": tail.reshape(shape)}

    # ------------------------------------------------------------- group effects
    @property
    def effects_summarised(self) -> bool:
        """Whether the group effects are kept as summaries, not draws (too many to keep:
        :attr:`mixedfit.plan.FitPlan.effects_summarised`). Their tables, diagnostics and
        plots come from the summaries; what needs the draws raises
        :class:`~mixedfit.errors.DrawsNotKeptError`."""
        return bool(self.plan.effects_summarised)

    def _effect_summaries(self) -> Any:
        """The InferenceData group of the summaries (:data:`mixedfit.names.EFFECTS_SUMMARY`),
        or an empty dict when the draws were kept."""
        if not self.effects_summarised or names.EFFECTS_SUMMARY not in self.idata.groups():
            return {}
        return getattr(self.idata, names.EFFECTS_SUMMARY)

    def group_summary(self, group: str) -> tuple[list[str], np.ndarray]:
        """Columns and summaries ``(levels, terms, stats)`` of all blocks of a grouping
        factor whose group effects are kept as summaries (the statistics
        :data:`mixedfit.names.SUMMARY_STATS`)."""
        blocks = self.design.groups[group]
        ds = self._effect_summaries()
        cols = [c for b in blocks for c in b.columns]
        parts = [np.asarray(ds[names.effects(b.label)].transpose(
            names.level_dim(b.group), names.term_dim(b.label), names.SUMMARY_STAT_DIM
        ).sel({names.SUMMARY_STAT_DIM: list(names.SUMMARY_STATS)}).values, dtype=float)
            for b in blocks]
        return cols, np.concatenate(parts, axis=1)

    def group_draws(self, group: str) -> tuple[list[str], np.ndarray]:
        """Columns and draws ``(S, levels, terms)`` of all blocks of a grouping factor."""
        blocks = self.design.groups[group]
        cols = [c for b in blocks for c in b.columns]
        arr = np.concatenate([self.draws(names.effects(b.label)) for b in blocks], axis=2)
        return cols, arr

    def group_stats(self, group: str) -> tuple[list[str], dict[str, np.ndarray]]:
        """Columns and the posterior mean, sd and interval ends ``(levels, terms)`` of the
        group effects of a grouping factor: from their draws, or from their summaries."""
        if self.effects_summarised:
            cols, summary = self.group_summary(group)
            return cols, describe_summary(summary, self.interval)
        cols, arr = self.group_draws(group)
        return cols, describe(arr, self.interval)

    def group_convergence(self, group: str) -> dict[str, np.ndarray]:
        """R-hat, bulk and tail ESS ``(levels, terms)`` of the group effects of a grouping
        factor: from their draws, or from their summaries."""
        keys = ("r_hat", "ess_bulk", "ess_tail")
        if self.effects_summarised:
            _, summary = self.group_summary(group)
            return {k: summary[..., summary_index(k)] for k in keys}
        _, arr = self.group_draws(group)
        post = self.idata.posterior
        flat = np.asarray(arr, dtype=float).reshape(int(post.sizes["chain"]),
                                                   int(post.sizes["draw"]), -1)
        with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            values = rhat_ess(flat)
        return {k: v.reshape(arr.shape[1:]) for k, v in zip(keys, values, strict=True)}

    def effect_means(self, label: str) -> np.ndarray:
        """Posterior means ``(levels, terms)`` of a block's group effects: of their draws,
        or from their summaries."""
        if self.effects_summarised:
            group = next(b.group for b in self.design.blocks if b.label == label)
            da = self._effect_summaries()[names.effects(label)]
            return np.asarray(da.sel({names.SUMMARY_STAT_DIM: "mean"}).transpose(
                names.level_dim(group), names.term_dim(label)).values, dtype=float)
        return self.draws(names.effects(label)).mean(axis=0)

    def _group_table(self, group: str, stats: dict[str, np.ndarray],
                     cols: list[str]) -> pd.DataFrame:
        levels = self.design.groups[group][0].levels
        data = {(c, s): stats[s][:, j] for j, c in enumerate(cols) for s in STAT_COLUMNS}
        df = pd.DataFrame(data, index=pd.Index(levels, name=group))
        df.columns = pd.MultiIndex.from_tuples(df.columns, names=["term", "stat"])
        df.attrs["interval"] = self.interval
        return as_table(df)

    @_cached
    def random_effects(self) -> dict[str, pd.DataFrame]:
        """Group deviations from the fixed effects, one table per grouping factor.

        Rows are the factor's levels; columns are ``(term, stat)`` pairs, so
        ``res.random_effects["Subject"]["Days"]["mean"]`` is each subject's
        slope deviation. lme4's ``ranef()``. For a fit whose group effects are kept as
        summaries (:attr:`effects_summarised`), from those: the interval must then be
        one of :func:`~mixedfit.results.summaries.kept_intervals`.

        Examples
        --------
        >>> res = _example_result()
        >>> res.random_effects["Subject"].shape
        (18, 8)
        """
        out = {}
        for group in self.design.groups:
            cols, stats = self.group_stats(group)
            out[group] = self._group_table(group, stats, cols)
        return out

    def coefficient_draws(self, group: str) -> tuple[list[str], np.ndarray]:
        require_effect_draws(self, "res.coefficients")
        cols, arr = self.group_draws(group)
        arr = arr.copy()
        if self.design.fixed_columns:
            fixed = self.draws(names.FIXED)
            for j, c in enumerate(cols):
                if c in self.design.fixed_columns:
                    arr[:, :, j] += fixed[:, self.design.fixed_columns.index(c)][:, None]
        return cols, arr

    @_cached
    def coefficients(self) -> dict[str, pd.DataFrame]:
        """Each group's own coefficients (fixed effect plus the group's deviation).

        Same layout as :attr:`random_effects`; lme4's ``coef()`` restricted to the
        terms that vary by the factor. Needs the group effects' draws: a fit that kept
        only their summaries raises :class:`~mixedfit.errors.DrawsNotKeptError`.

        Examples
        --------
        >>> res = _example_result()
        >>> res.coefficients["Subject"]["Days"].columns.tolist()
        ['mean', 'sd', 'lower', 'upper']
        """
        require_effect_draws(self, "res.coefficients", "Each level's deviation is in "
                             "res.random_effects, the fixed effects in res.fixed_effects; "
                             "the sd and interval of their sum need their joint draws.")
        out = {}
        for group in self.design.groups:
            cols, arr = self.coefficient_draws(group)
            out[group] = self._group_table(group, describe(arr, self.interval), cols)
        return out

    # --------------------------------------------------------- variance components
    @_cached
    def variance_components(self) -> pd.DataFrame:
        """Standard deviations, variances and correlations of the group effects.

        Rows are indexed by ``(group, parameter)`` with parameters such as
        ``sd(Intercept)``, ``var(Days)`` and ``cor(Intercept,Days)``; the residual
        sd and variance of Gaussian models come last under group ``Residual``.
        lme4's ``VarCorr()``.

        Examples
        --------
        >>> res = _example_result()
        >>> res.variance_components.index.tolist()[:3]
        [('Subject', 'sd(Intercept)'), ('Subject', 'sd(Days)'), ('Subject', 'var(Intercept)')]
        """
        pieces = self.variance_component_draws()
        if not pieces:
            return pd.DataFrame(columns=STAT_COLUMNS)
        draws = np.column_stack([p[1] for p in pieces])
        index = pd.MultiIndex.from_tuples([p[0] for p in pieces], names=["group", "parameter"])
        return self._with_convergence(self._frame(draws, index), draws)

    def variance_component_draws(self) -> list[tuple[tuple[str, str], np.ndarray]]:
        """The draws of every row of :attr:`variance_components`, in its order, as
        ``((group, parameter), draws)``."""
        pieces: list[tuple[tuple[str, str], np.ndarray]] = []
        for group, blocks in self.design.groups.items():
            sds, columns = [], []
            for b in blocks:
                sds.append(self.draws(names.sd(b.label)))
                columns.extend(b.columns)
            sd = np.concatenate(sds, axis=1)
            for j, c in enumerate(columns):
                pieces.append(((group, names.sd_row(c)), sd[:, j]))
            for j, c in enumerate(columns):
                pieces.append(((group, f"var({c})"), sd[:, j] ** 2))
            for b in blocks:
                if not b.correlated:
                    continue
                cor = self.draws(names.cor(b.label))
                for i in range(b.n_terms):
                    for j in range(i + 1, b.n_terms):
                        pieces.append(((group, names.cor_row(b.columns[i], b.columns[j])),
                                       cor[:, i, j]))
        if self.has_residual_sd:
            sigma = self.draws("sigma")
            pieces.append((("Residual", "sd"), sigma))
            pieces.append((("Residual", "var"), sigma ** 2))
        return pieces

    @property
    def has_residual_sd(self) -> bool:
        """Whether the model has one residual sd (``sigma``): a family with it, not known
        (``se=``) and without its own formula (then it varies by row)."""
        return ("sigma" in self.family.parameters
                and "sigma" not in self.design.dpar_formulas)

    @_cached
    def sigma(self) -> pd.Series:
        """Residual standard deviation (Gaussian family): mean, sd and interval.

        Examples
        --------
        >>> res = _example_result()
        >>> bool(20 < res.sigma["mean"] < 32)
        True
        """
        if not self.has_residual_sd:
            if "sigma" in self.design.dpar_formulas:
                raise MixedFitError(
                    f"sigma has its own formula ({self.design.dpar_formulas['sigma']}): it "
                    f"varies by row; see the sigma_ rows of res.fixed_effects, and "
                    f"res.predict(..., parameter='sigma') for each row's sigma.")
            if self.family.known_scale:
                raise MixedFitError("This model has no residual sd (sigma): each row's sd "
                                    "is known (se=).")
            raise MixedFitError(f"The {self.family.name} family has no residual sd (sigma).")
        stats = describe(self.draws("sigma"), self.interval)
        s = pd.Series({k: float(v) for k, v in stats.items()}, name="sigma")
        s.attrs["interval"] = self.interval
        return s

    @_cached
    def family_parameters(self) -> pd.DataFrame:
        """The family's own parameters (``sigma``, ``nu``, ``alpha``, ``kappa``), if any.

        Examples
        --------
        >>> res = _example_result()
        >>> res.family_parameters.index.tolist()
        ['sigma']
        """
        names = [p for p in self.family.distribution_parameters
                 if p not in self.design.dpar_formulas]
        if not names:
            return pd.DataFrame(columns=STAT_COLUMNS)
        draws = np.column_stack([self.draws(n) for n in names])
        return self._with_convergence(self._frame(draws, pd.Index(names, name="parameter")),
                                      draws)

    # ------------------------------------------------------------------ shrinkage
    @_cached
    def shrinkage(self) -> pd.DataFrame:
        """How far each group's estimate was pulled from its own data toward the population.

        One row per ``(group, level, term)`` with columns:

        - ``n_obs``: observations in the level;
        - ``no_pooling``: the level's own least-squares fit of the terms that vary by
          the factor, after removing the other effects at their posterior means (NaN
          when the level has too few observations for its own fit);
        - ``partial_pooling``: the posterior mean of the level's coefficient;
        - ``population``: the fixed effect of the term (0 when there is none);
        - ``shrinkage``: the fraction of the distance from ``no_pooling`` to
          ``population`` that the estimate moved, ``(no - partial) / (no - population)``;
        - ``weight``: for random intercepts of Gaussian models, the analytic pooling
          weight ``w_j = (n_j / sigma^2) / (n_j / sigma^2 + 1 / sd^2)`` (posterior mean),
          the share of the level's own mean in its estimate; NaN for other terms;
        - ``note``: why ``no_pooling`` is NaN (too few observations, all successes...).

        For families with a non-identity link every column is on the link scale and
        the own fit is a maximum-likelihood GLM fit of the level's rows.

        Examples
        --------
        >>> res = _example_result()
        >>> list(res.shrinkage.columns)
        ['n_obs', 'no_pooling', 'partial_pooling', 'population', 'shrinkage', 'weight', 'note']
        """
        require_rows(self, "res.shrinkage")
        return as_table(shrinkage_table(self))

    # ----------------------------------------------------------------- prediction
    def predict(self, newdata: Any = None, *, include_random: bool = True,
                new_levels: str = "population", scale: str = "response",
                random_seed: int | None = None, parameter: str | None = None,
                kind: str = "mean") -> Any:
        """Predictions for the fitted rows or new ones: a summary of the expected
        response, its draws, or draws of new responses.

        Parameters
        ----------
        newdata : DataFrame, optional
            Rows to predict; the fitted rows when omitted.
        include_random : bool, default True
            Add the group effects (False: the population-level prediction).
        new_levels : {"population", "error"}, default "population"
            For a level not seen in fitting: draw its effects from the fitted
            population distribution (one draw per posterior draw), or raise.
        scale : {"response", "link"}, default "response"
            Expected response, or the linear predictor. For an ordered (cumulative)
            response, "response" gives the probability of each category.
        random_seed : int, optional
            Seed for the new levels' effects and the new responses; by default the fit's
            own seed, so that a result gives the same predictions on every call.
        parameter : str, optional
            Instead of the expected response, each row's value of this family parameter
            (``"sigma"``, ``"zi"``...): the same for every row unless it has its own
            formula (``sigma="~ x"``).
        kind : {"mean", "draws", "response"}, default "mean"
            "mean": the summary table. "draws": the posterior draws of the expected
            response (or of the linear predictor with ``scale="link"``), brms'
            ``posterior_epred``. "response": new responses drawn from the posterior
            predictive distribution, brms' ``posterior_predict`` (a binomial's new rows
            need their trials: the ``cbind()`` columns or the trials column).

        Returns
        -------
        pandas.DataFrame or numpy.ndarray
            ``kind="mean"``: ``mean``, ``sd``, ``lower``, ``upper`` per row, indexed like
            ``newdata``; for an ordered or categorical response one row per row and
            category (a two-level index: the row's label, then the category).
            ``kind="draws"`` and ``"response"``: an array ``(draws, rows)`` (for a
            categorical response's expected values ``(draws, rows, categories)``).

        Examples
        --------
        >>> import pandas as pd
        >>> res = _example_result()
        >>> new = pd.DataFrame({"Days": [0, 9], "Subject": ["308", "new"]})
        >>> res.predict(new).shape
        (2, 4)
        >>> res.predict(new, kind="response").shape == (res.n_draws, 2)
        True
        """
        if newdata is None:  # the fitted rows
            require_rows(self, "res.predict() without newdata")
        out = predict(self, newdata, include_random=include_random, new_levels=new_levels,
                      scale=scale, random_seed=random_seed, parameter=parameter, kind=kind)
        return as_table(out) if isinstance(out, pd.DataFrame) else out

    # ------------------------------------------------------------- interpreting
    def means(self, variables: Any, *, at: Any = None, scale: str = "response",
              weights: str = "equal", include_random: Any = False) -> pd.DataFrame:
        """Estimated marginal means (emmeans): the expected outcome per level of a factor.

        A reference grid is made of the named variables' values (a factor's levels; a
        numeric variable's mean, or ``at``'s values), every other factor's levels and
        every other numeric predictor at its mean in the data (or ``at``'s values). For
        each posterior draw the linear predictor is averaged over the grid rows of a
        cell on the link scale; on the response scale the result is put through the
        family's mean (the inverse link), as emmeans' ``type = "response"``.

        Parameters
        ----------
        variables : str or list of str
            The factor(s) (or numeric variables, with ``at``) whose cells are wanted;
            several give one row per combination (``["sex", "type"]``).
        at : dict, optional
            Values of variables in the grid: ``{"Days": [0, 9]}``, ``{"sex": "F"}``. A
            grouping factor given here (or named in ``variables``) adds the effects of
            those fitted levels: conditional means.
        scale : {"response", "link"}, default "response"
            The expected outcome, or the linear predictor. For a categorical response,
            each category's probability (one row per cell and category).
        weights : {"equal", "proportional"}, default "equal"
            How the factors averaged over are weighted: equally (emmeans' default), or
            by their combinations' frequencies in the data.
        include_random : {False, True, "marginal"}, default False
            False: group effects at zero (emmeans on lme4 fits; brms ``re_formula = NA``).
            True: the fitted levels' effects, averaged over the levels unless a grouping
            factor is named (brms ``re_formula = NULL`` for those levels). "marginal":
            the expected outcome averaged over the population distribution of the group
            effects (population-averaged means; for a non-identity link these differ
            from the means at zero effects), by Gauss-Hermite quadrature.

        Returns
        -------
        pandas.DataFrame
            One row per cell: the variables' values, then ``mean``, ``sd``, ``lower``,
            ``upper`` (``attrs["scale"]``, ``attrs["interval"]``).

        Examples
        --------
        >>> res = _example_result()
        >>> m = res.means("Days", at={"Days": [0, 9]})
        >>> m.columns.tolist(), m["Days"].tolist()
        (['Days', 'mean', 'sd', 'lower', 'upper'], [0, 9])
        """
        require_rows(self, "res.means()")
        return as_table(means(self, variables, at=at, scale=scale, weights=weights,
                              include_random=include_random))

    def contrasts(self, variable: str, *, method: Any = "pairwise", by: Any = None,
                  scale: str = "link", at: Any = None, weights: str = "equal",
                  include_random: Any = False) -> pd.DataFrame:
        """Contrasts among the estimated marginal means of a factor (emmeans' ``pairs``,
        ``contrast``), with their posterior.

        Parameters
        ----------
        variable : str
            The factor whose levels are compared (a numeric variable with its values in
            ``at``).
        method : {"pairwise", "revpairwise", "trt.vs.ctrl", "consecutive"} or dict
            Which differences: every pair (``"a - b"``), each level against the first
            (``"trt.vs.ctrl"``), each against the one before, or a dict of label ->
            weights over the levels (``{"avg - ctrl": [-1, 0.5, 0.5]}``).
        by : str or list of str, optional
            Factors within whose levels the contrasts are made.
        scale : {"link", "response"}, default "link"
            Differences of the linear predictor; on the response scale, ratios of the
            means for a log link (``"a / b"``), odds ratios for the logit link, and
            differences of the means otherwise.
        at, weights, include_random
            As in :meth:`means`.

        Returns
        -------
        pandas.DataFrame
            One row per contrast: the ``by`` values, ``contrast`` (labelled as emmeans
            labels it: ``"period1 - period2"``, ``"even - odd"``), ``mean``, ``sd``,
            ``lower``, ``upper`` and ``pd``, the posterior probability of the contrast's
            direction (the larger of P(> 0) and P(< 0); for ratios, of 1).

        Examples
        --------
        >>> import mixedfit as mf
        >>> res = _example_result()
        >>> res.contrasts("Days", at={"Days": [0, 9]})["contrast"].tolist()
        ['Days0 - Days9']
        """
        require_rows(self, "res.contrasts()")
        return as_table(contrasts(self, variable, method=method, by=by, scale=scale, at=at,
                                  weights=weights, include_random=include_random))

    def slopes(self, variable: str, *, by: Any = None, at: Any = None,
               scale: str = "response", weights: str = "equal",
               include_random: Any = False) -> pd.DataFrame:
        """The slope of the expected outcome in a numeric predictor, with its posterior.

        The derivative goes through whatever the formula does to the variable
        (``scale(x)``, ``poly(x, 2)``, ``I(x**2)``, interactions). Without ``at`` it is
        computed at every fitted row and averaged within each level of ``by``
        (marginaleffects' ``avg_slopes``); with ``at`` it is the slope of the estimated
        marginal means at the reference grid (emmeans' ``emtrends``; ``at="means"`` for
        every numeric predictor at its mean).

        Parameters
        ----------
        variable : str
            A numeric predictor.
        by : str or list of str, optional
            One slope per level (combination) of these variables.
        at : dict or "means", optional
            The reference grid's values (see :meth:`means`); None averages over the data.
        scale : {"response", "link"}, default "response"
            The slope of the expected outcome, or of the linear predictor (emtrends'
            default).
        weights, include_random
            As in :meth:`means`.

        Returns
        -------
        pandas.DataFrame
            ``variable``, the ``by`` values, ``mean``, ``sd``, ``lower``, ``upper`` and
            ``pd`` (the posterior probability of the slope's sign).

        Examples
        --------
        >>> res = _example_result()
        >>> slope = res.slopes("Days")["mean"].iloc[0]
        >>> bool(abs(slope - res.fixed_effects.loc["Days", "mean"]) < 1e-9)
        True
        """
        require_rows(self, "res.slopes()")
        return as_table(slopes(self, variable, by=by, at=at, scale=scale, weights=weights,
                               include_random=include_random))

    def hypothesis(self, expression: Any, *, alternative_names: Any = None) -> pd.DataFrame:
        """Posterior of an expression of the coefficients, tested against a value or a
        direction (brms' ``hypothesis()``).

        Parameters
        ----------
        expression : str or list of str
            ``"Days > 5"``, ``"period[2] - period[3] = 0"``, ``"sigma < 30"``: arithmetic
            (``+ - * / **``, ``exp``, ``log``, ``sqrt``, ``abs``) of the names in
            :attr:`fixed_effects` and :attr:`family_parameters`, one comparison.
        alternative_names : dict, optional
            Short names for long ones, ``{"age2": "I(age ** 2)"}``.

        Returns
        -------
        pandas.DataFrame
            One row per hypothesis: ``mean``, ``sd``, ``lower``, ``upper`` of
            ``left - right``; ``p``, the posterior probability of a one-sided hypothesis
            (the share of draws satisfying it); ``evidence_ratio``, ``p / (1 - p)``, or
            for a point hypothesis the Savage-Dickey Bayes factor in its favour
            (posterior over prior density at the point; needs a proper prior); ``star``
            and ``note``. See :func:`mixedfit.results.hypothesis.hypothesis`.

        Examples
        --------
        >>> res = _example_result()
        >>> h = res.hypothesis("Days > 5")
        >>> bool(h.loc["Days > 5", "p"] == (res.draws("fixed")[:, 1] > 5).mean())
        True
        """
        return as_table(hypothesis(self, expression, alternative_names=alternative_names))

    # ------------------------------------------------------------------- checking
    def posterior_predictive(self, draws: int = 100, *,
                             random_seed: int | None = None) -> np.ndarray:
        """Replicated data sets drawn from the posterior predictive distribution.

        Parameters
        ----------
        draws : int, default 100
            Number of replicated data sets (posterior draws picked at random).
        random_seed : int, optional
            Seed.

        Returns
        -------
        numpy.ndarray
            ``(draws, n_obs)``, comparable with the observed ``res.design.y``.

        Examples
        --------
        >>> res = _example_result()
        >>> res.posterior_predictive(draws=20, random_seed=1).shape
        (20, 180)
        """
        require_rows(self, "res.posterior_predictive()")
        require_effect_draws(self, "res.posterior_predictive()", LIKELIHOOD_HINT)
        return posterior_predictive(self, draws, random_seed=random_seed)

    def ppc_grouped(self, group: str, *, stat: str = "mean", draws: int = 200,
                    random_seed: int | None = None) -> pd.DataFrame:
        """Grouped posterior predictive check: a statistic per level, observed vs replicated.

        Parameters
        ----------
        group : str
            A grouping factor of the model.
        stat : {"mean", "sd", "median", "max", "min"}
            Statistic computed on each level's observations.
        draws : int
            Replicated data sets.

        Returns
        -------
        pandas.DataFrame
            Per level: ``n_obs``, ``observed``, ``replicated_mean``, ``lower``, ``upper``
            and ``p_value`` (share of replicated statistics >= observed).

        Examples
        --------
        >>> res = _example_result()
        >>> res.ppc_grouped("Subject", stat="sd", random_seed=1).shape
        (18, 6)
        """
        require_rows(self, "res.ppc_grouped()")
        require_effect_draws(self, "res.ppc_grouped()", LIKELIHOOD_HINT)
        return as_table(grouped_check(self, group, stat=stat, draws=draws,
                                      random_seed=random_seed))

    def diagnostics(self) -> Any:
        """Convergence diagnostics: R-hat, bulk and tail ESS, divergences, tree depth, E-BFMI.

        Also reports variance components whose posterior piles up at zero, like
        lme4's singular fit.

        Returns
        -------
        Diagnostics
            ``.parameters`` (table per parameter), ``.problems`` (each failed check with
            its remedy), ``.singular``, ``.ok``; prints as a report.

        Examples
        --------
        >>> res = _example_result()
        >>> d = res.diagnostics()
        >>> list(d.parameters.columns)
        ['r_hat', 'ess_bulk', 'ess_tail', 'level']
        """
        if "_diagnostics" not in self._draw_cache:
            self._draw_cache["_diagnostics"] = diagnose(self)
        return self._draw_cache["_diagnostics"]

    def log_likelihood_data(self) -> Any:
        require_rows(self, "res.log_likelihood_data()")
        require_effect_draws(self, "res.log_likelihood_data()", LIKELIHOOD_HINT)
        if "log_likelihood" not in self.idata.groups():
            import xarray as xr  # deferred: xarray loads with ArviZ, when first needed


            ll = log_likelihood_draws(self)
            self.idata.add_groups(log_likelihood=xr.Dataset(
                {"y": (("chain", "draw", "obs"), ll)},
                coords={"chain": self.idata.posterior.coords["chain"].values,
                        "draw": self.idata.posterior.coords["draw"].values}))
        return self.idata

    def loo(self) -> Any:
        """PSIS-LOO: expected log predictive density, with Pareto k diagnostics.

        Returns
        -------
        arviz.ELPDData
            ``elpd_loo``, ``se``, ``p_loo`` and pointwise ``pareto_k``. Computed once per
            result; when some k exceed their threshold (0.7, lower for few draws) a
            :class:`~mixedfit.errors.LooWarning` says, once, how many, why (an effect
            per observation makes them high by construction) and what to use instead.

        Examples
        --------
        >>> res = _example_result()
        >>> loo = res.loo()
        >>> bool(loo["elpd_loo"] < 0)
        True
        """
        require_rows(self, "res.loo()")
        require_effect_draws(self, "res.loo()", LIKELIHOOD_HINT)
        if "_loo" not in self._draw_cache:
            self._draw_cache["_loo"] = loo(self)
        return self._draw_cache["_loo"]

    def waic(self) -> Any:
        """WAIC (widely applicable information criterion), ArviZ's ``ELPDData``."""
        require_rows(self, "res.waic()")
        require_effect_draws(self, "res.waic()", LIKELIHOOD_HINT)
        import arviz as az  # deferred: ArviZ is heavy and only needed here

        return az.waic(self.log_likelihood_data(), pointwise=True)

    def log_prior(self) -> np.ndarray:
        """Log prior density of every posterior draw (the priors listed in :attr:`priors`,
        each evaluated where it sits)."""
        return log_prior_draws(self._priors, self.at_prior_sites())

    def prior_sensitivity(self, *, threshold: float = 0.05) -> pd.DataFrame:
        """Power-scaling sensitivity of each parameter to the prior and to the likelihood.

        The posterior is reweighted as if the prior (then the likelihood) were raised
        to a power near 1, with Pareto-smoothed importance sampling and no refit
        (Kallioinen et al., 2023, the method of the priorsense package). A parameter
        whose posterior moves with the prior *and* with the likelihood is flagged as a
        prior-data conflict; one that moves with the prior only, as a strong prior with
        a weak likelihood. Power-scaled are the priors listed in :attr:`priors` (fixed
        effects, group sds and correlations, family parameters), not the group effects'
        own normal distribution. A fixed slope that also varies by group is informed by
        the data only through the group slopes, so its likelihood sensitivity stays low
        even under a conflicting prior: read its flag as "strong prior".

        Returns
        -------
        pandas.DataFrame
            Per parameter: ``prior`` and ``likelihood`` sensitivity, ``diagnosis``, and
            how the posterior mean moves when the prior is weakened or strengthened.

        Examples
        --------
        >>> res = _example_result()
        >>> ps = res.prior_sensitivity()
        >>> "prior" in ps.columns and "diagnosis" in ps.columns
        True
        """
        require_rows(self, "res.prior_sensitivity()")
        require_effect_draws(self, "res.prior_sensitivity()", LIKELIHOOD_HINT)
        log_lik = self.log_likelihood_data().log_likelihood["y"].values
        log_lik = np.asarray(log_lik).reshape(self.n_draws, -1).sum(axis=1)
        d = self.design
        draws: dict[str, np.ndarray] = {}
        labels: dict[str, list[str]] = {}
        if d.fixed_columns:
            draws[names.FIXED] = self.draws(names.FIXED)
            labels[names.FIXED] = list(d.fixed_columns)
        for b in d.blocks:
            draws[names.sd(b.label)] = self.draws(names.sd(b.label))
            labels[names.sd(b.label)] = list(b.columns)
            if b.correlated:
                cor = self.draws(names.cor(b.label))
                iu = np.triu_indices(b.n_terms, 1)
                draws[names.cor(b.label)] = cor[:, iu[0], iu[1]]
                labels[names.cor(b.label)] = [f"{b.columns[i]},{b.columns[j]}"
                                             for i, j in zip(*iu, strict=True)]
        for name in self.family.parameters:
            if name not in d.dpar_formulas:  # (their coefficients are fixed effects)
                draws[name] = self.draws(name)
        return power_scale_sensitivity(
            draws, self.log_prior(), log_lik,
            n_chains=int(self.idata.posterior.sizes["chain"]), threshold=threshold,
            labels=labels)

    # -------------------------------------------------------------------- display
    def convergence(self) -> dict[str, float]:
        diag = self.diagnostics()
        p = diag.parameters
        return {"max_r_hat": float(p["r_hat"].max()),
                "min_ess_bulk": float(p["ess_bulk"].min()),
                "divergences": diag.divergences}

    def summary(self, *, interval: float | None = None) -> display.Report:
        """An lme4-like report of the fit.

        Parameters
        ----------
        interval : float, optional
            Interval mass for this report (default :attr:`interval`).

        Returns
        -------
        Report
            Prints as text; renders as HTML in notebooks.

        Examples
        --------
        >>> res = _example_result()
        >>> print(res.summary())  # doctest: +ELLIPSIS
        Bayesian linear mixed model (NUTS...)
        Formula: Reaction ~ Days + (Days | Subject)
        ...
        """
        if interval is not None and interval != self.interval:
            old = self.interval
            self.interval = interval
            try:
                return self.summary()
            finally:
                self.interval = old
        return build_summary(self)

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()

    def __repr__(self) -> str:
        post = self.idata.posterior
        return (f"<MixedResult {self.formula!r}: {self.family.name}, {self.n_obs} obs, "
                f"{post.sizes['chain']} chains x {post.sizes['draw']} draws; print() it for "
                f"the summary>")

    def __str__(self) -> str:
        """``print(res)`` prints the summary, as lme4's and brms' ``print(fit)``."""
        return self.summary().to_text()

    def __getattr__(self, name: str) -> Any:
        # only reached when the attribute does not exist: lme4's and brms' names say ours
        hint = names.peer_name_hint(name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}"
                             + (f": {hint}" if hint else ""))

    # ------------------------------------------------------------------ tidy output
    def to_frame(self, effects: Any = None) -> pd.DataFrame:
        """Every parameter as one row of a long table, like R's ``broom.mixed::tidy``.

        Parameters
        ----------
        effects : str or sequence of str, optional
            Kinds of rows: ``"fixed"``, ``"ran_pars"`` (group sds, correlations and the
            residual sd), ``"ran_vals"`` (level deviations), ``"family"`` (the family's
            other parameters) and, on request, ``"ran_coefs"`` (level coefficients).
            Default: the first four.

        Returns
        -------
        pandas.DataFrame
            Columns ``effect``, ``group``, ``term``, ``level``, ``estimate`` (posterior
            mean), ``std_error`` (posterior sd), ``lower``, ``upper``, ``r_hat``,
            ``ess_bulk``. See :mod:`mixedfit.results.tidy`.

        Examples
        --------
        >>> res = _example_result()
        >>> t = res.to_frame()
        >>> t.iloc[0][["effect", "term"]].tolist()
        ['fixed', 'Intercept']
        >>> res.to_frame("ran_vals").shape
        (36, 10)
        """
        return tidy(self, effects)

    def tidy(self, effects: Any = None) -> pd.DataFrame:
        """Alias of :meth:`to_frame` (the name broom users know)."""
        return self.to_frame(effects)
