"""The one-line entry point: :func:`fit`."""

from __future__ import annotations

import time
from collections.abc import Mapping
from numbers import Integral
from typing import Any

from mixedfit.errors import OptionError
from mixedfit.families import Family, get_family

__all__ = ["fit"]


def _check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        raise OptionError(f"{name} must be an integer >= {minimum}, got {value!r}.")
    return int(value)


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
    progressbar: bool = True,
    centered: bool = False,
    target_accept: float | None = None,
    interval: float = 0.94,
    trials: Any = None,
    weights: Any = None,
) -> Any:
    """Fit a mixed-effects model written as an lme4 formula.

    Parameters
    ----------
    formula : str
        lme4 syntax: fixed effects plus random-effect terms such as ``(1 | g)``,
        ``(1 + x | g)``, ``(1 + x || g)``, ``(0 + x | g)``, ``(1 | a/b)``.
    data : pandas.DataFrame, polars.DataFrame or dict of columns
        The data; never modified. Rows with missing values in the model's
        columns are dropped with a warning.
    family : str or Family, default "gaussian"
        Response family (see :mod:`mixedfit.families`).
    priors : dict, optional
        Priors by parameter name, overriding the data-scaled defaults
        (see :mod:`mixedfit.priors`); ``res.priors`` lists every name.
    draws, tune, chains : int
        Posterior draws per chain, warm-up steps per chain, number of chains.
    random_seed : int, optional
        Seed for reproducible draws.
    sampler : {"nutpie", "pymc"}, optional
        NUTS implementation; default ``"nutpie"``.
    progressbar : bool, default True
        Show sampling progress.
    centered : bool, default False
        Centred parameterisation of the group effects (non-centred by default).
    target_accept : float, optional
        NUTS target acceptance rate (raise toward 0.95 when there are divergences).
    interval : float, default 0.94
        Mass of the credible intervals in the result's tables.
    trials : str or array-like, optional
        Binomial family only: the number of trials of each row (a column name or
        values), when the response is a proportion or a count of successes rather
        than ``cbind(successes, failures)``.
    weights : str or array-like, optional
        lme4's name for ``trials`` (``glmer(y/n ~ ..., weights = n)``); binomial only.

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
    from mixedfit.design import build_design
    from mixedfit.model import SAMPLERS, build_model, sample
    from mixedfit.priors import resolve_priors
    from mixedfit.results import MixedResult

    draws = _check_int("draws", draws, 1)
    tune = _check_int("tune", tune, 0)
    chains = _check_int("chains", chains, 1)
    sampler = sampler or "nutpie"
    if sampler not in SAMPLERS:
        raise OptionError(f"Unknown sampler {sampler!r}; choose one of {', '.join(SAMPLERS)}.")
    if not (isinstance(interval, float | int) and 0 < interval < 1):
        raise OptionError(f"interval must be between 0 and 1, got {interval!r}.")
    if target_accept is not None and not (0 < target_accept < 1):
        raise OptionError(f"target_accept must be between 0 and 1, got {target_accept!r}.")
    fam = get_family(family)
    if weights is not None:
        if trials is not None:
            raise OptionError("Give trials= or weights=, not both.")
        if fam.name != "binomial":
            raise OptionError(
                "weights= gives binomial trials; mixedfit has no observation weights for the "
                f"{fam.name} family.")
        trials = weights
    design = build_design(formula, data, family=fam, trials=trials)
    resolved = resolve_priors(design, fam, priors)
    model = build_model(design, fam, resolved, centered=centered)
    start = time.perf_counter()
    idata = sample(model, draws=draws, tune=tune, chains=chains, random_seed=random_seed,
                   sampler=sampler, progressbar=progressbar, target_accept=target_accept)
    info = {"sampler": sampler, "draws": draws, "tune": tune, "chains": chains,
            "random_seed": random_seed, "centered": centered,
            "time": time.perf_counter() - start}
    return MixedResult(design=design, family=fam, priors=resolved, idata=idata, info=info,
                       interval=interval)
