"""The one-line entry point: :func:`fit`."""

from __future__ import annotations

import time
from collections.abc import Mapping
from numbers import Integral
from typing import Any

from mixedfit.errors import OptionError
from mixedfit.families import Family, get_family

__all__ = ["fit", "prior_predictive"]

#: Largest number of parameters for which the compiled backend adapts a low-rank mass
#: matrix (when every block is centred).
LOW_RANK_MAX_DIM = 150
#: Rows from which a model whose blocks are all centred gets target_accept 0.8.
LARGE_DATA_ROWS = 10_000
#: Default target_accept when the group effects are integrated out.
MARGINAL_TARGET_ACCEPT = 0.9


def _check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        raise OptionError(f"{name} must be an integer >= {minimum}, got {value!r}.")
    return int(value)


def _prepare(formula: str, data: Any, family: str | Family, priors: Mapping[str, Any] | None,
             trials: Any, weights: Any, na_action: str = "drop"
             ) -> tuple[Any, Family, dict[str, Any]]:
    """Design, family and resolved priors: everything checked before any sampling."""
    from mixedfit.design import build_design
    from mixedfit.priors import resolve_priors

    fam = get_family(family)
    if weights is not None:
        if trials is not None:
            raise OptionError("Give trials= or weights=, not both.")
        if fam.name != "binomial":
            raise OptionError(
                "weights= gives binomial trials; mixedfit has no observation weights for the "
                f"{fam.name} family.")
        trials = weights
    design = build_design(formula, data, family=fam, trials=trials, na_action=na_action)
    return design, fam, resolve_priors(design, fam, priors)


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
    na_action: str = "drop",
) -> Any:
    """Simulate responses from the priors alone, to see what they imply before fitting.

    Parameters are as in :func:`fit`; ``draws`` is the number of simulated data sets.

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
    import numpy as np

    from mixedfit.model import build_model, sample_prior
    from mixedfit.results.predictive import PriorPredictive

    draws = _check_int("draws", draws, 1)
    design, fam, resolved = _prepare(formula, data, family, priors, trials, weights, na_action)
    model = build_model(design, fam, resolved)
    idata = sample_prior(model, draws=draws, random_seed=random_seed)
    y = np.asarray(idata.prior_predictive["y"].values).reshape(draws, -1)
    return PriorPredictive(y=y, observed=design.y, idata=idata, design=design, family=fam)


def fit(
    formula: str,
    data: Any,
    *,
    family: str | Family = "gaussian",
    priors: Mapping[str, Any] | None = None,
    draws: int = 1000,
    tune: int = 1000,
    chains: int = 4,
    random_seed: int | None = None,
    sampler: str | None = None,
    backend: str = "auto",
    progressbar: bool | None = None,
    centered: bool | None = None,
    marginalize: bool | None = None,
    target_accept: float | None = None,
    max_treedepth: int = 10,
    interval: float = 0.94,
    trials: Any = None,
    weights: Any = None,
    log_likelihood: bool | None = None,
    warn: bool = True,
    na_action: str = "drop",
) -> Any:
    """Fit a mixed-effects model written as an lme4 formula.

    Parameters
    ----------
    formula : str
        lme4 syntax: fixed effects plus random-effect terms such as ``(1 | g)``,
        ``(1 + x | g)``, ``(1 + x || g)``, ``(0 + x | g)``, ``(1 | a/b)``.
    data : pandas.DataFrame, polars.DataFrame or dict of columns
        The data; never modified. Rows with missing values in the model's
        columns are dropped with a warning (see ``na_action``).
    family : str or Family, default "gaussian"
        Response family (see :mod:`mixedfit.families`).
    priors : dict, optional
        Priors by parameter name, overriding the data-scaled defaults
        (see :mod:`mixedfit.priors`); ``res.priors`` lists every name.
    draws : int, default 1000
        Posterior draws per chain.
    tune : int, default 1000
        Warm-up (adaptation) steps per chain.
    chains : int, default 4
        Number of chains.
    random_seed : int, optional
        Seed for reproducible draws.
    sampler : {"nutpie", "pymc"}, optional
        NUTS implementation; default ``"nutpie"``.
    backend : {"auto", "compiled", "pymc"}, default "auto"
        How the log posterior density and its gradient are computed. ``"compiled"``:
        mixedfit's own density, compiled once per installation (no per-model
        compilation; Gaussian models with one block of group effects use sufficient
        statistics, so a gradient costs O(levels), not O(rows)); it covers the
        Gaussian (identity link), Bernoulli/binomial (logit) and Poisson (log)
        families with the default priors and the common alternatives (see
        :func:`mixedfit.fast.layout.unsupported_reason`) and needs
        ``sampler="nutpie"``. ``"pymc"``: the PyMC model of :mod:`mixedfit.model`.
        ``"auto"`` takes ``"compiled"`` when it covers the model and the sampler is
        nutpie. ``res.info["backend"]`` records the choice.
    progressbar : bool, optional
        Show sampling progress. Default: on in a terminal or notebook, off when
        stderr is redirected.
    centered : bool, optional
        Parameterisation of the group effects: False for non-centred
        (``u = sd * z``), True for centred (``u ~ Normal(0, sd)``). By default each
        block is non-centred unless its levels have enough data to pin their effects
        down, in which case it is centred (see :mod:`mixedfit.parameterisation`);
        ``res.info["centered"]`` records the choice.
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
        dyestuff, pastes and penicillin, 0.9 none in 24 fits), 0.8 otherwise and for
        data sets of at least 10,000 rows whose blocks are all centred (their
        posterior is near-Gaussian). Raise toward 0.99 when there are divergences.
    max_treedepth : int, default 10
        Maximum NUTS tree depth.
    interval : float, default 0.94
        Mass of the credible intervals in the result's tables.
    trials : str or array-like, optional
        Binomial family only: the number of trials of each row (a column name or
        values), when the response is a proportion or a count of successes rather
        than ``cbind(successes, failures)``.
    weights : str or array-like, optional
        lme4's name for ``trials`` (``glmer(y/n ~ ..., weights = n)``); binomial only.
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

    Returns
    -------
    MixedResult

    Examples
    --------
    >>> import mixedfit as mf
    >>> res = mf.fit("Yield ~ 1 + (1 | Batch)", mf.load_dataset("dyestuff"), draws=200,
    ...              tune=300, chains=2, random_seed=3, progressbar=False)
    >>> res.random_effects["Batch"].shape[0]
    6
    """
    from mixedfit.model import BACKENDS, SAMPLERS, build_model, sample
    from mixedfit.results import MixedResult
    from mixedfit.results.diagnostics import warn_if_problems
    from mixedfit.results.loglik import MAX_STORED

    if progressbar is None:
        import sys

        progressbar = "ipykernel" in sys.modules or bool(
            getattr(sys.stderr, "isatty", lambda: False)())
    draws = _check_int("draws", draws, 1)
    tune = _check_int("tune", tune, 0)
    chains = _check_int("chains", chains, 1)
    max_treedepth = _check_int("max_treedepth", max_treedepth, 1)
    sampler = sampler or "nutpie"
    if sampler not in SAMPLERS:
        raise OptionError(f"Unknown sampler {sampler!r}; choose one of {', '.join(SAMPLERS)}.")
    if not (isinstance(interval, float | int) and 0 < interval < 1):
        raise OptionError(f"interval must be between 0 and 1, got {interval!r}.")
    if target_accept is not None and not (0 < target_accept < 1):
        raise OptionError(f"target_accept must be between 0 and 1, got {target_accept!r}.")
    if backend not in BACKENDS:
        raise OptionError(f"Unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}.")
    if backend == "compiled" and sampler != "nutpie":
        raise OptionError('backend="compiled" runs on nutpie: use sampler="nutpie" (the '
                          'default) or backend="pymc".')
    design, fam, resolved = _prepare(formula, data, family, priors, trials, weights, na_action)
    if backend != "pymc" and sampler == "nutpie":
        from mixedfit.fast.layout import unsupported_reason

        reason = unsupported_reason(design, fam, resolved)
        if reason is not None and backend == "compiled":
            raise OptionError(f'backend="compiled" does not cover {reason}; use '
                              f'backend="pymc" (or the default "auto").')
        backend = "compiled" if reason is None else "pymc"
    else:
        backend = "pymc"
    marginal = False
    if marginalize is not None and not isinstance(marginalize, bool):
        raise OptionError(f"marginalize must be True, False or None, got {marginalize!r}.")
    if backend == "compiled" and marginalize is not False:
        from mixedfit.fast.layout import marginal_reason

        mreason = marginal_reason(design, fam)
        if marginalize and mreason is not None:
            raise OptionError(f"marginalize=True: cannot integrate out the group effects of "
                              f"{mreason}; leave marginalize unset.")
        marginal = mreason is None and (marginalize or centered is None)
    elif marginalize:
        raise OptionError('marginalize=True needs the compiled backend (sampler="nutpie", '
                          'backend="auto" or "compiled", and priors it covers).')
    if marginal:  # the parameterisation of the effects does not arise
        centering = [False] * len(design.blocks)
    elif centered is None:
        from mixedfit.parameterisation import choose_centering

        centering = choose_centering(design, fam)
    else:
        centering = [bool(centered)] * len(design.blocks)
    low_rank = bool(centering) and all(centering)
    if target_accept is None:
        # 0.95 against the divergences of funnels (non-centred blocks, little data); a
        # large data set whose blocks are all centred has a near-Gaussian posterior
        # and gets Stan's default 0.8, which halves the trajectory length
        large = low_rank and design.n_obs >= LARGE_DATA_ROWS
        if marginal:
            target_accept = MARGINAL_TARGET_ACCEPT
        else:
            target_accept = 0.95 if design.blocks and not large else 0.8
    start = time.perf_counter()
    if backend == "compiled":
        from mixedfit.fast.layout import make_layout
        from mixedfit.fast.sampler import sample_compiled

        layout = make_layout(design, fam, resolved, centering,
                             stored_draws=chains * (tune + draws), marginal=marginal)
        # nutpie's low-rank adaptation costs O(dim x window^2) per tuning step: with many
        # group effects it takes longer than it saves (centred blocks are centred on the
        # fixed effects, which removes the correlation it was there to capture)
        low_rank = (low_rank or marginal) and layout.dim <= LOW_RANK_MAX_DIM
        idata = sample_compiled(layout, design, fam.name, draws=draws, tune=tune, chains=chains,
                                random_seed=random_seed, progressbar=progressbar,
                                target_accept=target_accept, max_treedepth=max_treedepth,
                                low_rank=low_rank)
    else:
        model = build_model(design, fam, resolved, centered=centering)
        idata = sample(model, draws=draws, tune=tune, chains=chains, random_seed=random_seed,
                       sampler=sampler, progressbar=progressbar, target_accept=target_accept,
                       max_treedepth=max_treedepth, low_rank=low_rank)
    info = {"sampler": sampler, "backend": backend, "draws": draws, "tune": tune, "chains": chains,
            "random_seed": random_seed, "centered": None if marginal else centering,
            "marginalized": marginal, "target_accept": target_accept,
            "max_treedepth": max_treedepth, "time": time.perf_counter() - start}
    res = MixedResult(design=design, family=fam, priors=resolved, idata=idata, info=info,
                      interval=interval)
    if log_likelihood or (log_likelihood is None
                          and design.n_obs * draws * chains <= MAX_STORED):
        res._ensure_log_likelihood()
    if warn:
        warn_if_problems(res.diagnostics())
    return res
