"""The fit plan: every choice a fit makes, resolved once, recorded with the result.

:func:`make_plan` checks the options of :func:`mixedfit.fit`, asks the backends which
of them covers the model, and decides everything the defaults leave open (the
marginalisation, the parameterisation of each block, the mass matrix, target_accept);
the result keeps the :class:`FitPlan` (``res.plan``), saving writes it, and ``refit``,
``load`` and the command line read it back. Like MixedModels.jl's ``OptSummary``.

Examples
--------
>>> import mixedfit as mf
>>> from mixedfit.spec import make_spec
>>> spec = make_spec("Reaction ~ Days + (Days | Subject)", mf.load_dataset("sleepstudy"))
>>> plan = make_plan(spec)
>>> plan.backend, plan.marginalized, plan.target_accept, plan.centered
('compiled', True, 0.9, None)
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

import numpy as np

from mixedfit.backends import AUTO_ORDER, BACKEND_CHOICES, BACKENDS, SAMPLERS
from mixedfit.design.nesting import nested_groups
from mixedfit.errors import OptionError
from mixedfit.names import sd_key
from mixedfit.parameterisation import choose_centering
from mixedfit.spec import ModelSpec

__all__ = ["FitPlan", "make_plan", "check_options", "LOW_RANK_MAX_DIM", "LARGE_DATA_ROWS",
           "NEAR_GAUSSIAN_ROWS", "DEFAULT_TUNE", "NEAR_GAUSSIAN_TUNE", "MARGINAL_TARGET_ACCEPT",
           "check_int", "check_flag", "check_fraction", "check_seed"]

#: Largest number of parameters for which the compiled backend adapts a low-rank mass
#: matrix (when every block is centred).
LOW_RANK_MAX_DIM = 150
#: Rows from which a joint posterior whose blocks are all centred counts as near-Gaussian:
#: it gets target_accept 0.9 and :data:`NEAR_GAUSSIAN_TUNE` warm-up iterations.
NEAR_GAUSSIAN_ROWS = 1_000
#: Rows from which such a model gets target_accept 0.8.
LARGE_DATA_ROWS = 10_000
#: Warm-up iterations per chain when ``tune`` is not given.
DEFAULT_TUNE = 1000
#: ... and for a near-Gaussian posterior (nutpie's own default).
NEAR_GAUSSIAN_TUNE = 300
#: Default target_accept when the group effects are integrated out.
MARGINAL_TARGET_ACCEPT = 0.9


@dataclass
class FitPlan:
    """Every resolved choice of a fit.

    Attributes
    ----------
    backend : str
        The backend that ran (``"compiled"``, ``"pymc"`` or ``"bambi"``).
    sampler : str
        The NUTS implementation (``"nutpie"`` or ``"pymc"``).
    draws, tune, chains : int
        Draws kept and warm-up steps per chain, and the number of chains. ``tune`` not
        given: :data:`DEFAULT_TUNE`, or :data:`NEAR_GAUSSIAN_TUNE` for a near-Gaussian
        posterior (see :func:`make_plan`).
    random_seed : int or None
        The seed of the sampler (and of the drawn group effects).
    centered : list of bool or None
        Centred (True) or non-centred parameterisation of each block of group
        effects, in formula order; None when they are integrated out.
    marginalized : bool
        Whether the group effects are integrated out while sampling.
    low_rank : bool
        Whether nutpie adapts a low-rank modified mass matrix.
    effects_summarised : bool
        Whether the group effects are kept as summaries (mean, sd, quantiles, R-hat,
        ESS of each: :data:`mixedfit.names.SUMMARY_STATS`) instead of draws: a
        marginalised fit of one grouping factor whose draws of the group effects would
        be more than :data:`MAX_STORED_EFFECTS` values.
    reflected : bool
        Whether nested non-centred effects were sampled reflected (the compiled backend:
        per level of the outer factor, its effect and those of the levels nested in it,
        one coordinate along the direction the data do not see; see
        :func:`mixedfit.design.nesting.nested_groups`).
    signed_sds : bool
        Whether the sds of non-centred one-term blocks with a half-normal, half-Student-t
        or half-Cauchy prior were sampled as signed numbers (the compiled backend: the sd
        is the absolute value, the effects keep their sign, so that chains cross small
        sds freely; see :func:`mixedfit.fast.layout.signed_blocks`).
    variance_mass_matrix : bool
        Whether the diagonal mass matrix is adapted from the variances of the warm-up
        draws (Stan's estimate) instead of nutpie's gradient-based one: for models of
        the non-Gaussian families without a low-rank matrix, whose hard geometries (a
        negative binomial with nested factors, an observation-level Poisson effect) it
        samples twice as well.
    target_accept : float
        NUTS target acceptance rate.
    max_treedepth : int
        Maximum NUTS tree depth.
    interval : float
        Mass of the result's credible intervals.
    family, link : str
        The family and its link.
    trials : str or None
        The column the binomial trials came from, when given by name.
    weights : str or None
        The column of the observation weights, when given by name ("values" when
        given as values; the values are saved with the fit's data).
    se : str or None
        The column of the rows' known standard errors, likewise.
    log_likelihood : bool
        Whether the pointwise log-likelihood is stored at fit time.
    warn : bool
        Whether convergence problems are warned about.
    na_action : str
        What happened to rows with missing values.
    progressbar : bool
        Whether sampling progress was shown.
    time : float
        Seconds the sampling took (filled in after it).
    """

    backend: str
    sampler: str
    draws: int
    tune: int
    chains: int
    random_seed: int | None
    centered: list[bool] | None
    marginalized: bool
    low_rank: bool
    target_accept: float
    max_treedepth: int
    interval: float
    family: str
    link: str
    trials: str | None = None
    weights: str | None = None
    se: str | None = None
    log_likelihood: bool = True
    warn: bool = True
    na_action: str = "drop"
    progressbar: bool = False
    variance_mass_matrix: bool = False
    effects_summarised: bool = False
    reflected: bool = False
    signed_sds: bool = False
    time: float = float("nan")

    def to_dict(self) -> dict[str, Any]:
        """The plan as a JSON-friendly dict (what ``res.info`` shows and files keep)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> FitPlan:
        """A plan from :meth:`to_dict`'s output, or from the ``info`` of a file written
        before plans were recorded (missing choices take the values they then had)."""
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in values.items() if k in known}
        values.setdefault("low_rank", False)
        values.setdefault("interval", 0.94)
        values.setdefault("family", "gaussian")
        values.setdefault("link", "identity")
        return cls(**values)

    def options(self) -> dict[str, Any]:
        """The :func:`mixedfit.fit` options that reproduce this plan's sampling."""
        return {"draws": self.draws, "tune": self.tune, "chains": self.chains,
                "random_seed": self.random_seed, "sampler": self.sampler,
                "target_accept": self.target_accept, "max_treedepth": self.max_treedepth,
                "interval": self.interval}


# ---------------------------------------------------------------- option checks
def check_int(name: str, value: Any, minimum: int) -> int:
    """An integer of at least ``minimum``, or an :class:`OptionError` naming it."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        raise OptionError(f"{name} must be an integer >= {minimum}, got {value!r}.")
    return int(value)


def check_flag(name: str, value: Any, *, none: bool = False) -> bool | None:
    """True or False (or None when ``none``)."""
    if value is None and none:
        return None
    if not isinstance(value, bool | np.bool_):
        allowed = "True, False or None" if none else "True or False"
        raise OptionError(f"{name} must be {allowed}, got {value!r}.")
    return bool(value)


def check_fraction(name: str, value: Any) -> float:
    """A number strictly between 0 and 1."""
    if isinstance(value, bool) or not isinstance(value, Real) or not 0 < float(value) < 1:
        raise OptionError(f"{name} must be a number between 0 and 1, got {value!r}.")
    return float(value)


def check_seed(value: Any) -> int | None:
    """None or a non-negative integer."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 0:
        raise OptionError(f"random_seed must be a non-negative integer or None, got {value!r}.")
    return int(value)


def _check_centered(centered: Any, spec: ModelSpec) -> list[bool] | None:
    """``centered``: None, one bool for every block, or one bool per block in formula order."""
    if centered is None:
        return None
    n = len(spec.design.blocks)
    if isinstance(centered, bool | np.bool_):
        return [bool(centered)] * n
    labels = [str(b.term) for b in spec.design.blocks]
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


def check_sampling_options(*, sampler: Any, backend: Any) -> str:
    """The sampler's name, with the backend's and the sampler's checked."""
    sampler = "nutpie" if sampler is None else sampler
    if not isinstance(sampler, str) or sampler not in SAMPLERS:
        raise OptionError(f"Unknown sampler {sampler!r}; choose one of {', '.join(SAMPLERS)}.")
    if not isinstance(backend, str) or backend not in BACKEND_CHOICES:
        raise OptionError(f"Unknown backend {backend!r}; choose one of "
                          f"{', '.join(BACKEND_CHOICES)}.")
    if backend != "auto" and sampler not in BACKENDS[backend].samplers:
        raise OptionError(f'backend="{backend}" runs on '
                          f'{" or ".join(BACKENDS[backend].samplers)}: use sampler='
                          f'"{BACKENDS[backend].samplers[0]}" or another backend.')
    return sampler


def _progressbar(value: bool | None) -> bool:
    if value is not None:
        return value
    return "ipykernel" in sys.modules or bool(getattr(sys.stderr, "isatty", lambda: False)())


def _choose_backend(spec: ModelSpec, backend: str, sampler: str) -> str:
    if backend != "auto":
        reason = BACKENDS[backend].supports(spec, sampler)
        if reason is not None:
            others = [n for n in AUTO_ORDER if n != backend]
            raise OptionError(f'backend="{backend}" does not cover {reason}; use '
                              f'backend="{others[-1]}" (or the default "auto").')
        return backend
    for name in AUTO_ORDER:
        if BACKENDS[name].supports(spec, sampler) is None:
            return name
    raise OptionError(f"No backend covers this model with sampler={sampler!r}.")


def check_options(*, draws: Any = 1000, tune: Any = None, chains: Any = 4,
                  random_seed: Any = None, sampler: Any = None, backend: Any = "auto",
                  progressbar: Any = None, centered: Any = None, marginalize: Any = None,
                  target_accept: Any = None, max_treedepth: Any = 10, interval: Any = 0.94,
                  log_likelihood: Any = None, warn: Any = True, na_action: str = "drop"
                  ) -> dict[str, Any]:
    """The options of :func:`mixedfit.fit` that need no data, checked and normalised
    (``centered`` is checked against the model by :func:`make_plan`).

    Raises
    ------
    OptionError
        Naming the option and what it takes.
    """
    out = {"draws": check_int("draws", draws, 1),
           "tune": None if tune is None else check_int("tune", tune, 0),
           "chains": check_int("chains", chains, 1),
           "max_treedepth": check_int("max_treedepth", max_treedepth, 1),
           "random_seed": check_seed(random_seed),
           "interval": check_fraction("interval", interval),
           "target_accept": None if target_accept is None
           else check_fraction("target_accept", target_accept),
           "marginalize": check_flag("marginalize", marginalize, none=True),
           "log_likelihood": check_flag("log_likelihood", log_likelihood, none=True),
           "warn": check_flag("warn", warn),
           "progressbar": _progressbar(check_flag("progressbar", progressbar, none=True)),
           "sampler": check_sampling_options(sampler=sampler, backend=backend),
           "backend": backend, "centered": centered, "na_action": na_action}
    return out


def make_plan(spec: ModelSpec, *, trials: Any = None, weights: Any = None, se: Any = None,
              **options: Any) -> FitPlan:
    """Check the options of a fit of ``spec`` and resolve every choice they leave open.

    ``options`` are those of :func:`mixedfit.fit` (see :func:`check_options`).

    Raises
    ------
    OptionError
        Naming the option and what it takes.
    """
    o = check_options(**options)
    weights_name = None
    if spec.design.weights is not None:
        weights_name = weights if isinstance(weights, str) else "values"
    elif trials is None:  # a binomial's trials given as weights= (lme4's name)
        trials = weights
    draws, tune, chains = o["draws"], o["tune"], o["chains"]
    sampler, backend, centered = o["sampler"], o["backend"], o["centered"]
    marginalize, target_accept = o["marginalize"], o["target_accept"]
    log_likelihood = o["log_likelihood"]
    given = _check_centered(centered, spec)
    chosen = _choose_backend(spec, backend, sampler)
    compiled = BACKENDS["compiled"]
    marginal = False
    if chosen == "compiled" and marginalize is not False:
        reason = compiled.marginal_reason(spec)
        if marginalize and reason is not None:
            raise OptionError(f"marginalize=True: cannot integrate out the group effects of "
                              f"{reason}; leave marginalize unset.")
        marginal = reason is None and (marginalize or centered is None)
    elif marginalize:
        raise OptionError('marginalize=True needs the compiled backend (sampler="nutpie", '
                          'backend="auto" or "compiled", and priors it covers).')
    if marginal:  # the parameterisation of the effects does not arise
        centering = [False] * len(spec.design.blocks)
    elif given is None:
        centering = choose_centering(spec.design, spec.family)
    else:
        centering = given
    low_rank = bool(centering) and all(centering)
    # a joint posterior whose blocks are all centred (every level's data outweigh its
    # prior) on at least 1,000 rows is near-Gaussian: NUTS needs neither the small steps
    # that funnels ask for nor a long warm-up (measured in docs/performance.md, "Warm-up
    # and target_accept of near-Gaussian posteriors")
    near_gaussian = low_rank and spec.design.n_obs >= NEAR_GAUSSIAN_ROWS
    if tune is None:
        tune = NEAR_GAUSSIAN_TUNE if near_gaussian else DEFAULT_TUNE
    if target_accept is None:
        # 0.95 against the divergences of funnels (non-centred blocks, little data); a
        # near-Gaussian posterior gets 0.9, and from 10,000 rows Stan's default 0.8,
        # which halves the trajectory length
        if marginal:
            target_accept = MARGINAL_TARGET_ACCEPT
        elif not spec.design.blocks:
            target_accept = 0.8
        elif near_gaussian:
            target_accept = 0.8 if spec.design.n_obs >= LARGE_DATA_ROWS else 0.9
        else:
            target_accept = 0.95
    if chosen == "compiled":
        # nutpie's low-rank adaptation costs O(dim x window^2) per tuning step: with many
        # group effects it takes longer than it saves (centred blocks are centred on the
        # fixed effects, which removes the correlation it was there to capture)
        low_rank = (low_rank or marginal) and compiled.dimension(spec, marginal) \
            <= LOW_RANK_MAX_DIM
    # nutpie's gradient-based diagonal mass matrix against Stan's from the draws'
    # variances, 4 x 1000 draws (min bulk ESS): grouseticks negative binomial 163 and 211
    # against 388 and 338, observation-level Poisson 300 and 307 against 613 and 483
    # (seeds 1, 2), 20,000-row Bernoulli 3691 against 4285, verbagg 552 against 573
    variance_mass_matrix = (chosen == "compiled" and not low_rank
                            and not spec.family.integrates_out)
    # nested non-centred effects: reflected (the compiled kernel), when neither sd has a
    # Uniform prior (an interval transform, not the log)
    reflected = chosen == "compiled" and not marginal and any(
        all(spec.priors[sd_key(c, spec.design.blocks[k].group)].kind.name != "Uniform"
            for k in (grp.inner, grp.outer) for c in spec.design.blocks[k].columns)
        for grp in nested_groups(spec.design, centering))
    # sds of non-centred blocks sampled signed (the compiled kernel), where their prior
    # is smooth and flat at zero
    signed_sds = chosen == "compiled" and not marginal and any(
        compiled.signed_sds(spec, centering, marginal))
    stored = spec.design.n_obs * draws * chains
    n_effects = sum(b.n_levels * b.n_terms for b in spec.design.blocks)
    summarised = bool(marginal and n_effects * draws * chains > MAX_STORED_EFFECTS
                      and len({b.group for b in spec.design.blocks}) == 1
                      and len(spec.design.blocks[0].levels) > 1)
    return FitPlan(
        backend=chosen, sampler=sampler, draws=draws, tune=tune, chains=chains,
        random_seed=o["random_seed"], centered=None if marginal else centering,
        marginalized=marginal, low_rank=low_rank, target_accept=target_accept,
        max_treedepth=o["max_treedepth"], interval=o["interval"], family=spec.family.name,
        link=spec.family.link, trials=trials if isinstance(trials, str) else None,
        weights=weights_name,
        se=(se if isinstance(se, str) else "values") if spec.design.se is not None else None,
        # (no pointwise log-likelihood without rows or without the group effects' draws)
        log_likelihood=False if not spec.design.has_rows or summarised else log_likelihood
        if log_likelihood is not None else stored <= MAX_STORED_LOG_LIKELIHOOD,
        warn=o["warn"], na_action=o["na_action"], progressbar=o["progressbar"],
        variance_mass_matrix=variance_mass_matrix, effects_summarised=summarised,
        reflected=reflected, signed_sds=signed_sds)


#: Values of group-effect draws (chains x draws x effects) above which a marginalised
#: fit keeps each group effect's summary instead of its draws (see
#: :attr:`FitPlan.effects_summarised`): 1e8 values take 0.8 GB in double precision,
#: and the tables would copy them.
MAX_STORED_EFFECTS = 100_000_000

#: Largest number of (draw, observation) log-likelihood values stored at fit time by
#: default (200 MB of float64).
MAX_STORED_LOG_LIKELIHOOD = 25_000_000
