"""The one-line entry point: :func:`fit`."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from numbers import Integral, Real
from typing import Any

import numpy as np

from mixedfit.errors import MixedFitError, OptionError, SamplingError
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


def _check_flag(name: str, value: Any, *, none: bool = False) -> bool | None:
    if value is None and none:
        return None
    if not isinstance(value, bool | np.bool_):
        allowed = "True, False or None" if none else "True or False"
        raise OptionError(f"{name} must be {allowed}, got {value!r}.")
    return bool(value)


def _check_fraction(name: str, value: Any) -> float:
    """A number strictly between 0 and 1."""
    if isinstance(value, bool) or not isinstance(value, Real) or not 0 < float(value) < 1:
        raise OptionError(f"{name} must be a number between 0 and 1, got {value!r}.")
    return float(value)


def _check_seed(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 0:
        raise OptionError(f"random_seed must be a non-negative integer or None, got {value!r}.")
    return int(value)


def _check_centered(centered: Any, design: Any) -> list[bool] | None:
    """``centered``: None, one bool for every block, or one bool per block in formula order."""
    if centered is None:
        return None
    n = len(design.blocks)
    if isinstance(centered, bool | np.bool_):
        return [bool(centered)] * n
    labels = [str(b.term) for b in design.blocks]
    if isinstance(centered, str) or not isinstance(centered, Sequence | np.ndarray):
        raise OptionError(
            f"centered must be True, False, None or a list of one bool per block of group "
            f"effects ({', '.join(labels) or 'this model has none'}), got {centered!r}.")
    values = list(centered)
    if len(values) != n or not all(isinstance(v, bool | np.bool_) for v in values):
        raise OptionError(
            f"centered as a list needs one True/False per block of group effects, in formula "
            f"order: {n} for {', '.join(labels) or 'this model (it has none)'}; got "
            f"{centered!r}.")
    return [bool(v) for v in values]


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


def _prepare(formula: str, data: Any, family: str | Family, priors: Mapping[str, Any] | None,
             trials: Any, weights: Any, na_action: str = "drop", check_response: bool = True
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
    design = build_design(formula, data, family=fam, trials=trials, na_action=na_action,
                          check_response=check_response)
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
    from mixedfit.model import build_model, sample_prior
    from mixedfit.results.predictive import PriorPredictive

    draws = _check_int("draws", draws, 1)
    random_seed = _check_seed(random_seed)
    design, fam, resolved = _prepare(formula, data, family, priors, trials, weights, na_action,
                                     check_response=False)
    try:
        model = build_model(design, fam, resolved)
        idata = sample_prior(model, draws=draws, random_seed=random_seed)
    except MixedFitError:
        raise
    except Exception as err:
        raise _sampling_error(err, "pymc") from err
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
    from mixedfit.model import BACKENDS, SAMPLERS, build_model, sample
    from mixedfit.results import MixedResult
    from mixedfit.results.diagnostics import warn_if_problems
    from mixedfit.results.loglik import MAX_STORED

    progressbar = _check_flag("progressbar", progressbar, none=True)
    if progressbar is None:
        import sys

        progressbar = "ipykernel" in sys.modules or bool(
            getattr(sys.stderr, "isatty", lambda: False)())
    draws = _check_int("draws", draws, 1)
    tune = _check_int("tune", tune, 0)
    chains = _check_int("chains", chains, 1)
    max_treedepth = _check_int("max_treedepth", max_treedepth, 1)
    random_seed = _check_seed(random_seed)
    sampler = "nutpie" if sampler is None else sampler
    if not isinstance(sampler, str) or sampler not in SAMPLERS:
        raise OptionError(f"Unknown sampler {sampler!r}; choose one of {', '.join(SAMPLERS)}.")
    interval = _check_fraction("interval", interval)
    if target_accept is not None:
        target_accept = _check_fraction("target_accept", target_accept)
    if not isinstance(backend, str) or backend not in BACKENDS:
        raise OptionError(f"Unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}.")
    marginalize = _check_flag("marginalize", marginalize, none=True)
    log_likelihood = _check_flag("log_likelihood", log_likelihood, none=True)
    warn = _check_flag("warn", warn)
    if backend == "compiled" and sampler != "nutpie":
        raise OptionError('backend="compiled" runs on nutpie: use sampler="nutpie" (the '
                          'default) or backend="pymc".')
    design, fam, resolved = _prepare(formula, data, family, priors, trials, weights, na_action)
    centering_given = _check_centered(centered, design)
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
    elif centering_given is None:
        from mixedfit.parameterisation import choose_centering

        centering = choose_centering(design, fam)
    else:
        centering = centering_given
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
    try:
        if backend == "compiled":
            from mixedfit.fast.layout import make_layout
            from mixedfit.fast.sampler import sample_compiled

            layout = make_layout(design, fam, resolved, centering,
                                 stored_draws=chains * (tune + draws), marginal=marginal)
            # nutpie's low-rank adaptation costs O(dim x window^2) per tuning step: with
            # many group effects it takes longer than it saves (centred blocks are centred
            # on the fixed effects, which removes the correlation it was there to capture)
            low_rank = (low_rank or marginal) and layout.dim <= LOW_RANK_MAX_DIM
            idata = sample_compiled(layout, design, fam.name, draws=draws, tune=tune,
                                    chains=chains, random_seed=random_seed,
                                    progressbar=progressbar, target_accept=target_accept,
                                    max_treedepth=max_treedepth, low_rank=low_rank)
        else:
            model = build_model(design, fam, resolved, centered=centering)
            idata = sample(model, draws=draws, tune=tune, chains=chains,
                           random_seed=random_seed, sampler=sampler, progressbar=progressbar,
                           target_accept=target_accept, max_treedepth=max_treedepth,
                           low_rank=low_rank)
    except MixedFitError:
        raise
    except Exception as err:  # nutpie, PyTensor, numba: explained, with the cause attached
        raise _sampling_error(err, backend) from err
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
