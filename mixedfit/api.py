"""The entry points: :func:`fit`, :func:`prior_predictive`, :func:`load`, and the result.

The top layer: it checks the options and builds the model specification
(:mod:`mixedfit.spec`), makes the fit plan (:mod:`mixedfit.plan`), asks the chosen
backend (:mod:`mixedfit.backends`) to sample, and returns a :class:`MixedResult`:
the read-only :class:`~mixedfit.results.view.ResultView` with the entry points to
plotting, saving and refitting, which live above the results layer.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from mixedfit import io, plots
from mixedfit.backends import BACKENDS
from mixedfit.design.frame import caller_level
from mixedfit.design.outofcore import update_reason, updated_design
from mixedfit.errors import (
    ConvergenceWarning,
    DataError,
    MixedFitError,
    OptionError,
    SamplingError,
)
from mixedfit.families import Family
from mixedfit.parallel import run_tasks, threads_for_chains
from mixedfit.plan import FitPlan, check_int, check_options, check_seed, make_plan
from mixedfit.priors import resolve_priors
from mixedfit.results.diagnostics import warn_if_problems
from mixedfit.results.heldout import (
    KFold,
    group_split,
    heldout_log_likelihood,
    kfold_estimate,
    kfold_split,
    log_mean_exp,
)
from mixedfit.results.predictive import PriorDraws
from mixedfit.results.view import LIKELIHOOD_HINT, ResultView, require_effect_draws, require_rows
from mixedfit.spec import ModelSpec, make_spec

__all__ = ["fit", "prior_predictive", "load", "MixedResult", "PriorPredictive"]

#: What a sampler's failure usually means, by a phrase of its message.
_FAILURE_HINTS = {
    "initialization points failed": (
        "the log density was not finite at any starting point. This happens when a prior "
        "is far from the data (an intercept prior centred far from the response, a very "
        "narrow prior on a coefficient that the data put elsewhere) or the data hold "
        "extreme values; look at res.priors and mf.prior_predictive(...), or loosen the "
        "priors you set"),
}


def _sampling_error(err: Exception, backend: str) -> SamplingError:
    """A :class:`SamplingError` for an exception raised inside a sampler or a backend."""
    text = f"{type(err).__name__}: {err}".strip()
    for phrase, hint in _FAILURE_HINTS.items():
        if phrase in text:
            return SamplingError(f"Sampling failed on the {backend} backend: {hint}. "
                                 f"(The sampler said: {text.splitlines()[0]})")
    other = "pymc" if backend == "compiled" else "compiled"
    return SamplingError(
        f"Sampling failed on the {backend} backend ({text.splitlines()[0][:300]}). Try "
        f"backend={other!r} if the model allows it, another random_seed, or more tune=; if "
        f"it persists it is a bug: please report it with the formula and this message.")


class MixedResult(ResultView):
    """A fitted mixed model: every table of :class:`~mixedfit.results.view.ResultView`,
    and the entry points to plotting (:mod:`mixedfit.plots`), saving
    (:mod:`mixedfit.io`) and refitting.

    Created by :func:`fit` and :func:`load`; not meant to be built by hand.
    """

    def refit(self, *, priors: Any = None, **options: Any) -> MixedResult:
        """Fit the same model again, with other priors or sampler options.

        Parameters
        ----------
        priors : dict, optional
            Priors by name, as in :func:`mixedfit.fit` (replacing the user priors of
            this fit; defaults fill the rest).
        **options
            Any other keyword of :func:`mixedfit.fit` (``draws=``, ``random_seed=``...).

        Returns
        -------
        MixedResult

        Raises
        ------
        RowsNeededError
            For a fit made out of core, which keeps no data rows to refit.
        """
        require_rows(self, "res.refit()")
        kwargs = {**self.plan.options(), "progressbar": False, "interval": self.interval,
                  "backend": self.plan.backend, **options}
        if priors is None:
            priors = {k: p for k, p in self.prior_set.items() if k in self.prior_set.user}
        trials = self.design.trials if self.family.takes_trials else None
        if trials is not None and self.design.formula.response.startswith("cbind("):
            trials = None
        return fit(self.formula, self.design.data, family=self.family, priors=priors,
                   trials=trials, weights=self.design.weights, se=self.design.se,
                   **{**({} if self.family.predictors_only else self.design.dpar_formulas),
                      **kwargs})

    def update(self, new_data: Any, **options: Any) -> MixedResult:
        """The posterior given this fit's rows and ``new_data``, without the old rows.

        For Gaussian models (identity link) whose group terms share one grouping
        factor (:data:`mixedfit.design.outofcore.OUT_OF_CORE_MODELS`): the sufficient
        statistics of the new rows (:mod:`mixedfit.design.stats`) are added to those
        of the fit's, and the population posterior is sampled again from the total,
        so the result is the fit of all the rows (to Monte Carlo error), with the
        default priors recomputed from all of them (the priors you gave are kept).
        Levels of the grouping factor that the fit did not have are added. The old
        rows are not needed: a fit made out of core, or one loaded from a file, can
        be updated.

        Parameters
        ----------
        new_data : pandas.DataFrame, Dask DataFrame or Parquet path
            Rows with the model's columns.
        **options
            Options of :func:`mixedfit.fit` for the new sampling (``draws=``,
            ``random_seed=``...); this fit's are kept otherwise.

        Returns
        -------
        MixedResult
            A result without rows (``res.design.has_rows`` is False): the tables that
            need rows raise :class:`~mixedfit.errors.RowsNeededError`.

        Raises
        ------
        FamilyError, OptionError, FormulaError
            For a model that cannot be updated from statistics.
        DataError
            For new rows that do not fit the model (a missing column, a factor level
            without a coefficient).

        Examples
        --------
        >>> import mixedfit as mf
        >>> df = mf.load_dataset("sleepstudy")
        >>> res = mf.fit("Reaction ~ Days + (Days | Subject)", df[df.Days < 7], draws=200,
        ...              tune=300, chains=2, random_seed=1, progressbar=False)
        >>> new = res.update(df[df.Days >= 7], random_seed=2)
        >>> new.design.n_obs, new.design.has_rows
        (180, False)
        """
        reason = update_reason(self.design, self.family)
        if reason is not None:
            raise OptionError(f"res.update() adds rows through sufficient statistics, which "
                              f"{reason}. Fit all the rows with mf.fit instead.")
        design = updated_design(self.design, self.family, new_data)
        user = {k: p for k, p in self.prior_set.items() if k in self.prior_set.user}
        spec = ModelSpec(design, self.family, resolve_priors(design, self.family, user))
        kwargs = {**self.plan.options(), "progressbar": False, "interval": self.interval,
                  "centered": None, "marginalize": True, **options}
        kwargs.pop("backend", None)
        plan = make_plan(spec, backend="compiled", **kwargs)
        return _run(spec, plan)

    def kfold(self, k: int | None = 10, *, groups: Any = None, client: Any = None,
              random_seed: int | None = None, progressbar: bool | None = None) -> KFold:
        """K-fold cross-validation: refit without each fold's rows, score the rows left out.

        The model is refitted ``k`` times, each time on the rows outside one fold, with
        this fit's formula, family, priors you set (defaults are scaled to each
        training set's data, as a fresh fit's) and sampler options (those
        :meth:`refit` reuses); each held-out row is scored by its log predictive
        density under the refit that did not see it, ``log mean_s p(y_i | draw s)``,
        its group effects those of the refit for a level it saw, and drawn from the
        population for a level it did not (see :mod:`mixedfit.results.heldout`). Use it
        where PSIS-LOO is unreliable (``res.loo()`` warns), or to ask how well the model
        predicts new groups (``groups=``).

        Parameters
        ----------
        k : int or None, default 10
            The number of folds. With ``groups``, None (or at least the number of
            levels) leaves out one level at a time.
        groups : str or array-like, optional
            Leave-group-out: a grouping column of the fitted data (``"herd"``), or one
            value per fitted row; the rows of a level are always left out together
            (brms' ``kfold(group = )``), its levels dealt to ``k`` folds at random.
            Default: rows dealt to ``k`` folds at random, in folds whose sizes differ by
            at most one.
        client : None, "sequential", distributed.Client or str, optional
            Where the refits run: by default on this machine's cores, as many at once
            as their chains allow (a local dask cluster, started for the call, when
            that is more than one: it costs some seconds, so for quick fits pass
            ``"sequential"``); ``"sequential"``: here, one after another; a
            ``distributed.Client`` or a scheduler's address: on that dask cluster.
            See :mod:`mixedfit.parallel`.
        random_seed : int, optional
            Seed of the folds, of every refit (each refit takes this seed, as
            ``mf.fit(..., random_seed=random_seed)`` on its rows would) and of the
            effects of levels a refit did not see. Default: this fit's seed (0 if it
            had none).
        progressbar : bool, optional
            Count the finished refits on stderr; default: on in a terminal.

        Returns
        -------
        KFold
            ``elpd_kfold``, ``se``, ``p_kfold``, ``pointwise`` (per row), ``folds`` (the
            fold of each row), ``fits`` (each refit's checks); ``.elpd_data()`` gives
            ArviZ's ``ELPDData`` for ``arviz.compare``.

        Raises
        ------
        MixedFitError
            When a refit fails (the refit's own error, noting the fold), or the held-out
            rows cannot be predicted (a level of a fixed factor that only they have).
        RowsNeededError
            For a fit made out of core, which keeps no data rows to fold.
        DrawsNotKeptError
            For a fit whose group effects are kept as summaries, not draws: the held-out
            rows' densities need them.

        Examples
        --------
        >>> import mixedfit as mf
        >>> res = mf.fit("Yield ~ 1 + (1 | Batch)", mf.load_dataset("dyestuff"), draws=100,
        ...              tune=200, chains=2, random_seed=3, progressbar=False, warn=False)
        >>> kf = res.kfold(3, client="sequential", progressbar=False)
        >>> kf.pointwise.shape, sorted(set(kf.folds.tolist()))
        ((30,), [0, 1, 2])
        >>> logo = res.kfold(None, groups="Batch", client="sequential", progressbar=False)
        >>> logo.k
        6
        """
        require_rows(self, "res.kfold()")
        require_effect_draws(self, "res.kfold()", LIKELIHOOD_HINT)
        d = self.design
        n = self.n_obs
        seed = self.plan.random_seed if random_seed is None else check_seed(random_seed)
        seed = 0 if seed is None else int(seed)
        group_name = None
        if groups is None:
            if k is None:
                raise OptionError("k=None (one fold per group) needs groups=.")
            folds = kfold_split(n, k, seed)
        else:
            if isinstance(groups, str):
                if groups not in d.data.columns:
                    raise DataError(
                        f"groups={groups!r} is not a column of the fitted data (the model's "
                        f"columns: {', '.join(map(str, d.data.columns))}); give the groups "
                        f"as values instead, one per fitted row ({n}).")
                group_name, values = groups, d.data[groups].to_numpy()
            else:
                values = np.asarray(groups, dtype=object).reshape(-1)
                if values.size != n:
                    raise DataError(f"groups= has {values.size} values; the fit has {n} "
                                    f"rows (res.n_obs), one value each.")
            folds = group_split(values, k, seed)
        n_folds = int(folds.max()) + 1
        options = {**self.plan.options(), "progressbar": False, "interval": self.interval,
                   "backend": self.plan.backend, "random_seed": seed,
                   "log_likelihood": False, "warn": self.plan.warn,
                   **({} if self.family.predictors_only else d.dpar_formulas)}
        priors = {key: p for key, p in self.prior_set.items() if key in self.prior_set.user}
        cbind = (d.formula.response or "").startswith("cbind(")
        trials = d.trials if self.family.takes_trials and not cbind else None
        tasks = []
        for j in range(n_folds):
            train = np.flatnonzero(folds != j)
            tasks.append({"formula": self.formula, "data": d.data.iloc[train],
                          "family": self.family, "priors": priors,
                          "trials": None if trials is None else trials[train],
                          "weights": None if d.weights is None else d.weights[train],
                          "se": None if d.se is None else d.se[train], **options})
        outcomes = run_tasks(fit, tasks, client=client,
                             threads_per_task=threads_for_chains(self.plan.chains),
                             keys=[f"fold{j}" for j in range(n_folds)],
                             progressbar=progressbar, label="k-fold refits")
        pointwise = np.empty(n)
        lik_weights = d.likelihood_weights()
        rows = []
        for j, outcome in enumerate(outcomes):
            where = f"the k-fold refit without fold {j} ({n_folds} folds)"
            if not outcome.ok:
                if outcome.exception is not None:
                    outcome.exception.add_note(f"(in {where})")
                outcome.result(where.capitalize())
            refit_j = outcome.value
            test = np.flatnonzero(folds == j)
            try:
                ll = heldout_log_likelihood(
                    refit_j, d.data.iloc[test], d.y[test],
                    trials=None if d.trials is None else d.trials[test],
                    weights=None if lik_weights is None else lik_weights[test],
                    random_seed=seed)
            except MixedFitError as err:
                err.add_note(f"(predicting the rows held out of {where})")
                raise
            pointwise[test] = log_mean_exp(ll, axis=0)
            conv = refit_j.convergence()
            rows.append({"fold": j, "n_train": refit_j.n_obs, "n_test": int(test.size),
                         "elpd": float(pointwise[test].sum()),
                         "ok": bool(refit_j.diagnostics().ok),
                         "max_r_hat": conv["max_r_hat"], "divergences": conv["divergences"],
                         "seconds": outcome.seconds})
            n_samples = refit_j.n_draws
            del refit_j, ll
        elpd, se = kfold_estimate(pointwise)
        full = np.asarray(self.log_likelihood_data().log_likelihood["y"].values)
        lppd = float(log_mean_exp(full.reshape(-1, n), axis=0).sum())
        table = pd.DataFrame(rows).set_index("fold")
        bad = table.index[~table["ok"]].tolist()
        if bad and self.plan.warn:
            warnings.warn(
                f"{len(bad)} of {n_folds} k-fold refits have convergence problems (folds "
                f"{', '.join(map(str, bad))}): the densities of their held-out rows are less "
                f"reliable. Their checks are in .fits; raise draws= and tune= (res.refit) "
                f"and run kfold again.", ConvergenceWarning, stacklevel=caller_level())
        return KFold(elpd_kfold=elpd, se=se, p_kfold=lppd - elpd, pointwise=pointwise,
                     folds=folds, k=n_folds, groups=group_name, random_seed=seed,
                     n_samples=n_samples, fits=table)

    def to_bambi(self) -> Any:
        """The equivalent unfitted ``bambi.Model`` (same terms, family, link and priors),
        for Bambi's own tools.

        Raises
        ------
        OptionError
            For a model Bambi cannot express (a correlated block, a prior it lacks),
            with the reason.
        RowsNeededError
            For a fit made out of core: a Bambi model holds the data rows.
        """
        require_rows(self, "res.to_bambi()")
        return BACKENDS["bambi"].build(ModelSpec(self.design, self.family, self.prior_set))

    # ---------------------------------------------------------------------- plots
    def plot_trace(self, **kwargs: Any) -> Any:
        """Trace (or ``kind="rank"``) plots of the main parameters; see :mod:`mixedfit.plots`."""
        return plots.plot_trace(self, **kwargs)

    def plot_caterpillar(self, **kwargs: Any) -> Any:
        """Caterpillar plot of the group effects with intervals."""
        return plots.plot_caterpillar(self, **kwargs)

    def plot_shrinkage(self, **kwargs: Any) -> Any:
        """No-pooling estimates with arrows to the partially pooled ones."""
        return plots.plot_shrinkage(self, **kwargs)

    def plot_variance_components(self, **kwargs: Any) -> Any:
        """Forest plot of the group sds, correlations and residual sd."""
        return plots.plot_variance_components(self, **kwargs)

    def plot_ppc(self, **kwargs: Any) -> Any:
        """Replicated data distributions overlaid on the observed one."""
        return plots.plot_ppc(self, **kwargs)

    def plot_effects(self, variable: str, by: str | None = None, **kwargs: Any) -> Any:
        """Conditional-effects plot (see :func:`mixedfit.plots.plot_effects`)."""
        return plots.plot_effects(self, variable, by, **kwargs)

    def plot_contrasts(self, variable: str, **kwargs: Any) -> Any:
        """Forest plot of contrasts (see :func:`mixedfit.plots.plot_contrasts`)."""
        return plots.plot_contrasts(self, variable, **kwargs)

    def plot_ppc_grouped(self, group: str, **kwargs: Any) -> Any:
        """A statistic per level: observed against its replicated interval."""
        return plots.plot_ppc_grouped(self, group, **kwargs)

    # ---------------------------------------------------------------------- saving
    def save(self, path: Any, *, log_likelihood: bool = False) -> None:
        """Save the fit to one NetCDF file; :func:`mixedfit.load` reads it back.

        The file holds the posterior (ArviZ's NetCDF layout), the formula, family,
        priors, fit options and the data rows used, so the loaded result prints the
        same summary, has the same tables and predicts. See :mod:`mixedfit.io`.

        Parameters
        ----------
        path : str or path-like
            File to write (overwritten); ``.nc`` is the usual suffix.
        log_likelihood : bool, default False
            Also store the pointwise log-likelihood (large: draws x observations);
            otherwise LOO recomputes it after loading.

        Examples
        --------
        >>> import os, tempfile
        >>> import mixedfit as mf
        >>> res = _example_result()
        >>> path = os.path.join(tempfile.mkdtemp(), "fit.nc")
        >>> res.save(path)
        >>> mf.load(path).summary().to_text() == res.summary().to_text()
        True
        """
        io.save(self, path, log_likelihood=log_likelihood)



class PriorPredictive(PriorDraws):
    """Data sets simulated from the priors alone (:func:`prior_predictive`), with a plot."""

    def plot(self, **kwargs: Any) -> Any:
        """Overlay simulated and observed distributions (see :mod:`mixedfit.plots`)."""
        return plots.plot_prior_predictive(self, **kwargs)


def prior_predictive(
    formula: str,
    data: Any,
    *,
    family: str | Family = "gaussian",
    priors: Mapping[str, Any] | None = None,
    draws: int = 500,
    random_seed: int | None = None,
    trials: Any = None,
    weights: Any = None,
    se: Any = None,
    na_action: str = "drop",
    **formulas: str,
) -> PriorPredictive:
    """Simulate responses from the priors alone, to see what they imply before fitting.

    Parameters are as in :func:`fit`; ``draws`` is the number of simulated data sets;
    ``sigma=``, ``zi=``... give family parameters their formulas, as in :func:`fit`.

    Returns
    -------
    PriorPredictive
        ``.y`` (draws x observations), ``.observed``, ``.summary()`` and ``.plot()``.

    Examples
    --------
    >>> import mixedfit as mf
    >>> pp = mf.prior_predictive("Reaction ~ Days + (Days | Subject)",
    ...                          mf.load_dataset("sleepstudy"), draws=50, random_seed=1)
    >>> pp.y.shape
    (50, 180)
    """
    draws = check_int("draws", draws, 1)
    random_seed = check_seed(random_seed)
    spec = make_spec(formula, data, family=family, priors=priors, trials=trials,
                     weights=weights, se=se, na_action=na_action, check_response=False,
                     dpars=formulas)
    try:
        idata = BACKENDS["pymc"].prior_draws(spec, draws, random_seed)
    except MixedFitError:
        raise
    except Exception as err:  # PyMC, PyTensor: explained, with the cause attached
        raise _sampling_error(err, "pymc") from err
    y = np.asarray(idata.prior_predictive["y"].values).reshape(draws, -1)
    return PriorPredictive(y=y, observed=spec.design.y, idata=idata, design=spec.design,
                           family=spec.family)


def fit(
    formula: str,
    data: Any,
    *,
    family: str | Family = "gaussian",
    priors: Mapping[str, Any] | None = None,
    draws: int = 1000,
    tune: int | None = None,
    chains: int = 4,
    random_seed: int | None = None,
    sampler: str | None = None,
    backend: str = "auto",
    progressbar: bool | None = None,
    centered: bool | list[bool] | None = None,
    marginalize: bool | None = None,
    target_accept: float | None = None,
    max_treedepth: int = 10,
    interval: float = 0.94,
    trials: Any = None,
    weights: Any = None,
    se: Any = None,
    log_likelihood: bool | None = None,
    warn: bool = True,
    na_action: str = "drop",
    sigma: str | None = None,
    nu: str | None = None,
    alpha: str | None = None,
    kappa: str | None = None,
    zi: str | None = None,
    hu: str | None = None,
) -> MixedResult:
    """Fit a mixed-effects model written as an lme4 formula.

    Parameters
    ----------
    formula : str
        lme4 syntax: fixed effects plus random-effect terms such as ``(1 | g)``,
        ``(1 + x | g)``, ``(1 + x || g)``, ``(0 + x | g)``, ``(1 | a/b)``.
    data : pandas.DataFrame, polars.DataFrame, dict of columns, Dask DataFrame or path
        The data; never modified. Rows with missing values in the model's
        columns are dropped with a warning (see ``na_action``). A Dask DataFrame or
        the path of a Parquet dataset (a file, a folder or a glob) is fitted out of
        core, from sufficient statistics computed partition by partition, for the
        models of :data:`mixedfit.design.outofcore.OUT_OF_CORE_MODELS` (Gaussian,
        one grouping factor); the result keeps no rows (see the "Scaling out" page).
    family : str or Family, default "gaussian"
        Response family (see :mod:`mixedfit.families`).
    priors : dict, optional
        Priors by parameter name, overriding the data-scaled defaults
        (see :mod:`mixedfit.priors`); ``res.priors`` lists every name.
    draws : int, default 1000
        Posterior draws per chain.
    tune : int, optional
        Warm-up (adaptation) steps per chain. Default 1000; 300 (nutpie's own default)
        for a near-Gaussian posterior: a model whose blocks of group effects are all
        sampled centred (each level's data outweigh its prior), not integrated out, on
        at least 1,000 rows (:data:`mixedfit.plan.NEAR_GAUSSIAN_ROWS`).
        ``res.plan.tune`` records the number used.
    chains : int, default 4
        Number of chains.
    random_seed : int, optional
        Seed for reproducible draws.
    sampler : {"nutpie", "pymc"}, optional
        NUTS implementation; default ``"nutpie"``.
    backend : {"auto", "compiled", "pymc", "bambi"}, default "auto"
        How the log posterior density and its gradient are computed. ``"compiled"``:
        mixedfit's own density, compiled once per installation (no per-model
        compilation; Gaussian models with one block of group effects use sufficient
        statistics, so a gradient costs O(levels), not O(rows)); it covers every
        family, link and prior (see :func:`mixedfit.fast.layout.unsupported_reason`)
        and needs ``sampler="nutpie"``. ``"pymc"``: the PyMC model of :mod:`mixedfit.model`.
        ``"auto"`` takes ``"compiled"`` when it covers the model and the sampler is
        nutpie. ``"bambi"``: the equivalent ``bambi.Model`` sampled by Bambi, for the
        models Bambi can express (no correlated blocks; see
        :mod:`mixedfit.backends.bambi`). ``res.plan.backend`` records the choice.
    progressbar : bool, optional
        Show sampling progress. Default: on in a terminal or notebook, off when
        stderr is redirected.
    centered : bool or list of bool, optional
        Parameterisation of the group effects: False for non-centred
        (``u = sd * z``), True for centred (``u ~ Normal(0, sd)``); one value for
        every block, or a list with one value per random-effect term in formula order
        (``centered=[True, False]`` for ``(1 | a) + (1 | b)``). By default each
        block is non-centred unless its levels have enough data to pin their effects
        down, in which case it is centred (see :mod:`mixedfit.parameterisation`);
        ``res.info["centered"]`` records the choice. Giving it turns off the default
        ``marginalize``.
    marginalize : bool, optional
        Integrate the group effects out analytically during sampling (NUTS then moves
        only in the fixed effects, sigma, sds and correlations) and draw them
        afterwards from their exact conditional posterior: the same posterior, with
        no funnels and far fewer dimensions. Possible for Gaussian models on the
        compiled backend whose blocks share one grouping factor, or that have few
        group effects in all (see :func:`mixedfit.fast.layout.marginal_reason`).
        Default: when possible and ``centered`` is not given;
        ``res.info["marginalized"]`` records the choice.
    target_accept : float, optional
        NUTS target acceptance rate. Default 0.95 for models with group effects (as
        rstanarm's mixed models: hierarchical posteriors have narrow regions that a
        larger step size skips, causing divergences), 0.9 when the group effects are
        integrated out (``marginalize``; 0.8 gave an occasional divergence on
        dyestuff, pastes and penicillin, 0.9 none in 24 fits), 0.8 for models without
        group effects. A near-Gaussian posterior (every block sampled centred, at
        least 1,000 rows: see ``tune``) gets 0.9, and 0.8 from 10,000 rows
        (:data:`mixedfit.plan.LARGE_DATA_ROWS`). Raise toward 0.99 when there are
        divergences.
    max_treedepth : int, default 10
        Maximum NUTS tree depth.
    interval : float, default 0.94
        Mass of the credible intervals in the result's tables.
    trials : str or array-like, optional
        Binomial family only: the number of trials of each row (a column name or
        values), when the response is a proportion or a count of successes rather
        than ``cbind(successes, failures)``.
    weights : str or array-like, optional
        Observation weights, one per row (a column name or values, positive), with
        lme4's meaning for each family: for the Gaussian, precision weights (a row's
        residual sd is ``sigma / sqrt(w)``, as ``lmer(weights=)``); for the binomial,
        the number of trials of a proportion response (``glmer(y/n ~ ..., weights =
        n)``, the same as ``trials=``); for every other family, prior weights (a row's
        log-likelihood counts ``w`` times, as ``glmer(weights=)``). They enter LOO and
        the posterior predictive checks (a Gaussian row's replicated sd is ``sigma /
        sqrt(w)``); ``predict`` on new data gives new rows weight 1.
    se : str or array-like, optional
        Each row's known standard error (a column name or values, positive), for a
        Gaussian response with the identity link: ``y_i ~ Normal(mu_i, se_i)`` with no
        residual sd (brms' ``y | se(sei)``, metafor's ``rma(yi, sei = ...)``), e.g. a
        random-effects meta-analysis ``mf.fit("yi ~ 1 + (1 | study)", df, se="sei")``.
    log_likelihood : bool, optional
        Store the pointwise log-likelihood in ``res.idata`` for LOO and WAIC. Default:
        when it takes at most 25 million values (else it is computed when needed).
    warn : bool, default True
        Warn (:class:`ConvergenceWarning`, :class:`SingularFitWarning`) when a
        convergence check fails or a variance component piles up at zero.
    na_action : {"drop", "error"}, default "drop"
        Rows with a missing value in a column the model uses (response, predictors,
        offsets, grouping factors, trials): ``"drop"`` them with a
        :class:`~mixedfit.design.MissingDataWarning` that counts them, or raise a
        :class:`DataError` that names the columns and rows.
    sigma, nu, alpha, kappa, zi, hu : str, optional
        A one-sided formula for the family parameter of that name, with fixed and group
        terms (``sigma="~ x + (1 | g)"``): the parameter varies by row, on its log scale
        (the logit scale for ``zi`` and ``hu``); brms' ``bf(y ~ ..., sigma ~ ...)``,
        glmmTMB's ``dispformula`` and ``ziformula``. Its coefficients are reported with
        the fixed effects as ``sigma_Intercept``, ``sigma_x``, its group effects under
        the parameter's name (``sigma_Intercept`` of ``g``).

    Returns
    -------
    MixedResult

    Raises
    ------
    MixedFitError
        Before any sampling, for a formula, data, family, prior or option that cannot
        be fitted (:class:`FormulaError`, :class:`DataError`, :class:`FamilyError`,
        :class:`PriorError`, :class:`OptionError`, :class:`InputTypeError`), each
        naming what is at fault and the fix; :class:`SamplingError` when the sampler
        itself fails (with the original error as its cause).

    Notes
    -----
    The model is sampled in internal coordinates where the response and the
    predictors are centred and scaled, and reported on the user's scale, so that
    neither the origin nor the units of a column change the posterior (see
    :mod:`mixedfit.standardize`). Which models can be fitted is decided once, by the
    design and the priors, for every backend and for :func:`prior_predictive`: the
    PyMC backend takes every such model, the compiled one the families and priors it
    covers (the others fall back to PyMC).

    Examples
    --------
    >>> import mixedfit as mf
    >>> res = mf.fit("Yield ~ 1 + (1 | Batch)", mf.load_dataset("dyestuff"), draws=200,
    ...              tune=300, chains=2, random_seed=3, progressbar=False)
    >>> res.random_effects["Batch"].shape[0]
    6
    """
    options = {"draws": draws, "tune": tune, "chains": chains, "random_seed": random_seed,
               "sampler": sampler, "backend": backend, "progressbar": progressbar,
               "centered": centered, "marginalize": marginalize,
               "target_accept": target_accept, "max_treedepth": max_treedepth,
               "interval": interval, "log_likelihood": log_likelihood, "warn": warn,
               "na_action": na_action}
    # the options that need no data first, so that a wrong one fails at once
    check_options(**options)
    dpars = {k: v for k, v in (("sigma", sigma), ("nu", nu), ("alpha", alpha),
                                ("kappa", kappa), ("zi", zi), ("hu", hu)) if v is not None}
    spec = make_spec(formula, data, family=family, priors=priors, trials=trials,
                     weights=weights, se=se, na_action=na_action, dpars=dpars)
    plan = make_plan(spec, trials=trials, weights=weights, se=se, **options)
    return _run(spec, plan)


def _run(spec: ModelSpec, plan: FitPlan) -> MixedResult:
    """Sample ``spec`` as ``plan`` says and make the result."""
    start = time.perf_counter()
    try:
        idata = BACKENDS[plan.backend].sample(spec, plan)
    except MixedFitError:
        raise
    except Exception as err:  # nutpie, PyTensor, numba, Bambi: explained, with the cause
        raise _sampling_error(err, plan.backend) from err
    plan.time = time.perf_counter() - start
    res = MixedResult(design=spec.design, family=spec.family, priors=spec.priors,
                      idata=idata, plan=plan)
    if plan.log_likelihood:
        res.log_likelihood_data()
    if plan.warn:
        warn_if_problems(res.diagnostics())
    return res


def load(path: Any) -> MixedResult:
    """Load a result saved with :meth:`MixedResult.save`.

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`mixedfit.save`.

    Returns
    -------
    MixedResult
        With the saved posterior, the design rebuilt from the saved data rows and
        formula, the same priors, fit plan and interval.

    Raises
    ------
    MixedFitError
        If the file does not exist, is not a NetCDF file, or was not written by
        mixedfit.
    """
    parts = io.read(path)
    return MixedResult(**parts)
