"""Priors: the :class:`Prior` type, the data-scaled defaults and user overrides.

Default priors, with ``m_y`` and ``s_y`` a location and scale of the response on
the link scale and ``s_x`` the standard deviation of a design column (1 for a
constant column). For the identity link ``m_y`` and ``s_y`` are the response's
mean and standard deviation; for the log, logit, probit and cloglog links
``m_y`` is the link of the response's mean and ``s_y = 1`` (so slopes get
rstanarm's ``Normal(0, 2.5 / s_x)``); for the inverse link ``m_y = s_y = 1 / mean``.

=========================  ====================================================
parameter                  default
=========================  ====================================================
``Intercept``              ``Normal(mu=m_y, sigma=2.5 * s_y)``
fixed slope ``x``          ``Normal(mu=0, sigma=2.5 * s_y / s_x)``
``sd(Intercept|g)``        ``HalfNormal(sigma=2.5 * s_y)``
``sd(x|g)``                ``HalfNormal(sigma=2.5 * s_y / s_x)``
``cor(g)``                 ``LKJ(eta=1)`` (uniform over correlation matrices)
``sigma``                  ``HalfStudentT(nu=4, sigma=s_y)``
=========================  ====================================================

This is the auto-scaling rule of rstanarm and Bambi (weakly informative:
a coefficient 2.5 response-sds per predictor-sd is plausible, much larger is
not), with half-normal priors on the group-level standard deviations as in
Bambi. Override any prior by name with ``priors={"Days": Prior("Normal",
mu=0, sigma=10)}``. ``"sd(g)"`` sets every sd of grouping factor ``g``,
``"sd(x|g)"`` one of them, ``"cor(g)"`` the correlation prior, and a formula
term such as ``"period"`` all of its columns.

Examples
--------
>>> from mixedfit import Prior
>>> Prior("Normal", mu=0, sigma=10)
Normal(mu=0, sigma=10)
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from mixedfit.design import Design
from mixedfit.errors import PriorError
from mixedfit.families import Family
from mixedfit.names import cor_key, is_cor_key, parse_sd_key, sd_key

__all__ = ["Prior", "PriorSet", "Distribution", "DISTRIBUTIONS", "as_prior", "default_priors",
           "resolve_priors", "parameter_support", "prior_set", "log_prior_draws", "LKJ_NAMES",
           "thresholds_inside"]

#: Names accepted for the correlation prior.
LKJ_NAMES = ("LKJ", "LKJCorr", "LKJCholeskyCov")


def _fmt(value: Any) -> str:
    if isinstance(value, float | np.floating):
        return f"{float(value):.4g}"
    if isinstance(value, np.ndarray):
        return "[" + ", ".join(_fmt(v) for v in value.ravel()) + "]"
    return repr(value) if isinstance(value, str) else str(value)


@dataclass(frozen=True)
class Distribution:
    """What mixedfit knows of a prior distribution: its parameters and its support.

    Each distribution declares its own valid parameter values and the values it puts
    mass on, and generic code asks it (as the distributions of glum do).

    Attributes
    ----------
    name : str
        The PyMC name.
    params : tuple of str
        Its parameters, in PyMC's main parameterisation.
    defaults : dict
        Parameters that may be left out, with PyMC's default.
    positive : tuple of str
        Parameters that must be positive (scales, shapes, rates, degrees of freedom).
    support : {"real", "positive", "interval", "unit", "correlation"}
        Where the distribution puts its mass.
    location : str or None
        The parameter that shifts the distribution (``v - location`` is what matters).
    alternatives : dict
        Other parameter names PyMC accepts, mapped to ``(main name, conversion)``.
    """

    name: str
    params: tuple[str, ...]
    support: str
    positive: tuple[str, ...] = ()
    defaults: Mapping[str, float] = field(default_factory=dict)
    location: str | None = None
    alternatives: Mapping[str, tuple[str, Callable[[float], float]]] = field(
        default_factory=dict)

    def canonical(self, given: Mapping[str, Any], label: str) -> dict[str, float]:
        """The parameters as floats in the main parameterisation, checked.

        Raises
        ------
        PriorError
            For an unknown or missing parameter, a value that is not a finite real
            number, or a scale, shape or rate that is not positive.
        """
        known = set(self.params) | set(self.alternatives)
        values: dict[str, float] = {}
        for key, raw in given.items():
            if key not in known:
                close = difflib.get_close_matches(key, sorted(known), n=1)
                hint = f" Did you mean {close[0]!r}?" if close else ""
                raise PriorError(
                    f"{label}: {self.name} has no parameter {key!r}.{hint} Its parameters: "
                    f"{', '.join(self.params)}.")
            values[key] = _real(raw, f"{label}: parameter {key}")
        for alt, (main, convert) in self.alternatives.items():
            if alt in values:
                if main in values:
                    raise PriorError(f"{label}: give {main} or {alt}, not both.")
                if values[alt] <= 0:
                    raise PriorError(f"{label}: {alt} must be positive, got {values[alt]:g}.")
                values[main] = float(convert(values.pop(alt)))
        for name, default in self.defaults.items():
            values.setdefault(name, float(default))
        missing = [k for k in self.params if k not in values]
        if missing:
            example = ", ".join(f"{k}=..." for k in self.params)
            raise PriorError(f"{label}: {self.name} needs {', '.join(missing)}, e.g. "
                             f"Prior({self.name!r}, {example}).")
        for name in self.positive:
            if not values[name] > 0:
                raise PriorError(
                    f"{label}: the {name} of a {self.name} prior must be positive, got "
                    f"{values[name]:g}. A scale, shape or rate of zero or less is no "
                    f"distribution; did you mean {abs(values[name]) or 1:g}?")
        if self.support == "interval" and not values["lower"] < values["upper"]:
            raise PriorError(f"{label}: Uniform needs lower < upper, got lower="
                             f"{values['lower']:g}, upper={values['upper']:g}.")
        return {k: values[k] for k in self.params}

    def lower_bound(self, values: Mapping[str, float]) -> float:
        """Smallest value with prior mass (``-inf`` for the real line)."""
        if self.support in ("positive", "unit"):
            return 0.0
        if self.support == "interval":
            return float(values["lower"])
        return -math.inf


def _real(value: Any, label: str) -> float:
    arr = np.asarray(value)
    if arr.shape != () or isinstance(value, bool) or arr.dtype.kind not in "iuf":
        if arr.shape == (1,) and arr.dtype.kind in "iuf":
            arr = arr.reshape(())
        else:
            raise PriorError(f"{label} must be one real number, got {value!r}.")
    out = float(arr)
    if not math.isfinite(out):
        raise PriorError(f"{label} must be finite, got {out!r}.")
    return out


def _inv_sqrt(tau: float) -> float:
    return tau ** -0.5


#: Every prior distribution mixedfit accepts, by PyMC name.
DISTRIBUTIONS: dict[str, Distribution] = {d.name: d for d in (
    Distribution("Normal", ("mu", "sigma"), "real", ("sigma",), {"mu": 0.0, "sigma": 1.0},
                 "mu", {"tau": ("sigma", _inv_sqrt)}),
    Distribution("StudentT", ("nu", "mu", "sigma"), "real", ("nu", "sigma"),
                 {"mu": 0.0, "sigma": 1.0}, "mu", {"lam": ("sigma", _inv_sqrt)}),
    Distribution("Cauchy", ("alpha", "beta"), "real", ("beta",), location="alpha"),
    Distribution("Laplace", ("mu", "b"), "real", ("b",), location="mu"),
    Distribution("Uniform", ("lower", "upper"), "interval"),
    Distribution("HalfNormal", ("sigma",), "positive", ("sigma",), {"sigma": 1.0},
                 alternatives={"tau": ("sigma", _inv_sqrt)}),
    Distribution("HalfStudentT", ("nu", "sigma"), "positive", ("nu", "sigma"),
                 {"sigma": 1.0}, alternatives={"lam": ("sigma", _inv_sqrt)}),
    Distribution("HalfCauchy", ("beta",), "positive", ("beta",)),
    Distribution("Exponential", ("lam",), "positive", ("lam",),
                 alternatives={"scale": ("lam", lambda s: 1.0 / s)}),
    Distribution("Gamma", ("alpha", "beta"), "positive", ("alpha", "beta")),
    Distribution("InverseGamma", ("alpha", "beta"), "positive", ("alpha", "beta")),
    Distribution("LogNormal", ("mu", "sigma"), "positive", ("sigma",), {"mu": 0.0},
                 alternatives={"tau": ("sigma", _inv_sqrt)}),
    Distribution("Beta", ("alpha", "beta"), "unit", ("alpha", "beta")),
    Distribution("LKJ", ("eta",), "correlation", ("eta",), {"eta": 1.0}),
)}


def _distribution(name: Any) -> Distribution:
    if not isinstance(name, str) or not name:
        raise PriorError(f"A prior needs a distribution name, got {name!r}.")
    key = "LKJ" if name in LKJ_NAMES else name
    if key not in DISTRIBUTIONS:
        close = difflib.get_close_matches(key, list(DISTRIBUTIONS), n=1, cutoff=0.6)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise PriorError(
            f"Unknown prior distribution {name!r}.{hint} mixedfit accepts "
            f"{', '.join(DISTRIBUTIONS)}.")
    return DISTRIBUTIONS[key]


class Prior:
    """A prior distribution, named as in PyMC, with its parameters.

    The name and the parameters are checked when the prior is made: the name must be
    one of :data:`DISTRIBUTIONS`, the parameters its own, finite, and positive where
    they are scales, shapes or rates.

    Parameters
    ----------
    name : str
        A distribution name from :data:`DISTRIBUTIONS` (``"Normal"``, ``"StudentT"``,
        ``"HalfNormal"``, ``"Exponential"``...) or ``"LKJ"`` for correlation matrices.
    **params
        The distribution's parameters.

    Raises
    ------
    PriorError
        For an unknown distribution or parameter, a missing parameter, or a value
        that is not allowed.

    Examples
    --------
    >>> p = Prior("HalfNormal", sigma=5)
    >>> p.name, p.params
    ('HalfNormal', {'sigma': 5})
    >>> p == Prior("HalfNormal", sigma=5)
    True
    >>> Prior("Normal", mu=0, sigma=-1)
    Traceback (most recent call last):
    ...
    mixedfit.errors.PriorError: Normal(mu=0, sigma=-1): the sigma of a Normal prior must ...
    """

    __slots__ = ("name", "params", "kind", "values")

    def __init__(self, name: str, **params: Any) -> None:
        self.kind = _distribution(name)
        self.name = name
        self.params = dict(params)
        #: the parameters as floats, in the distribution's main parameterisation
        self.values = self.kind.canonical(self.params, repr(self))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={_fmt(v)}" for k, v in self.params.items())
        return f"{self.name}({args})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Prior):
            return NotImplemented
        if self.name != other.name or set(self.params) != set(other.params):
            return False
        return all(np.array_equal(self.params[k], other.params[k]) for k in self.params)

    def __hash__(self) -> int:
        return hash((self.name, tuple(sorted(self.params))))

    def distribution(self) -> Any:
        """The PyMC distribution class (imports PyMC); build it with :attr:`values`."""
        import pymc as pm  # deferred: PyMC is heavy and only needed by its backend

        return getattr(pm, self.kind.name)


class PriorSet(dict):
    """Parameter name -> :class:`Prior`, remembering which names the user set.

    Attributes
    ----------
    user : frozenset of str
        The parameters whose prior the user gave (the others have the default).
    """

    def __init__(self, items: Any = (), user: Any = ()) -> None:
        super().__init__(items)
        self.user = frozenset(user)


def prior_set(priors: Mapping[str, Prior], design: Design, family: Family) -> PriorSet:
    """``priors`` as a :class:`PriorSet`; for a plain mapping (a result built by hand, a
    file written before the user's priors were recorded) the user's are those that
    differ from the defaults."""
    if isinstance(priors, PriorSet):
        return priors
    defaults = default_priors(design, family)
    return PriorSet(priors, user={k for k, p in priors.items() if defaults.get(k) != p})


def as_prior(value: Any, key: str = "") -> Prior:
    """Accept a :class:`Prior`, a ``bambi.Prior`` or a ``(name, params)`` pair.

    Examples
    --------
    >>> as_prior(("Normal", {"mu": 0, "sigma": 1}))
    Normal(mu=0, sigma=1)
    """
    if isinstance(value, Prior):
        return value
    name = getattr(value, "name", None)
    args = getattr(value, "args", None)
    if isinstance(name, str) and isinstance(args, Mapping):  # bambi.Prior
        if any(hasattr(v, "name") and hasattr(v, "args") for v in args.values()):
            raise PriorError(f"Prior for {key!r}: hierarchical bambi priors are not supported.")
        return Prior(name, **dict(args))
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], Mapping):
        return Prior(str(value[0]), **dict(value[1]))
    raise PriorError(
        f"The prior for {key!r} must be a mixedfit.Prior (or bambi.Prior), "
        f"e.g. Prior('Normal', mu=0, sigma=10); got {type(value).__name__}."
    )


def _positive(sd: float) -> float:
    return float(sd) if sd > 0 and math.isfinite(sd) else 1.0


def _scale(values: np.ndarray) -> float:
    return _positive(float(np.std(values)))


def default_priors(design: Design, family: Family) -> dict[str, Prior]:
    """Data-scaled default priors for every parameter of the model.

    Returns
    -------
    dict
        Parameter name -> Prior, in display order: fixed effects, group-level
        standard deviations and correlations, then family parameters.
    """
    y = design.y
    x_sd = z_sd = None
    if design.stats is not None:  # out of core: the moments these priors read, from statistics
        y = design.stats.moment_response()
        x_sd = design.stats.x_sd()
        z_sd = iter(design.stats.z_sd())
    loc, scale = family.prior_location_scale(y, design.trials)
    # a family parameter with its own formula: its intercept's prior and its scale
    dpar = {par: family.dpar_priors(par, design.y, design.trials) for par in design.dpars}
    targets = design.target_of_columns()
    priors: dict[str, Prior] = {}
    for j, col in enumerate(design.fixed_columns):
        target = targets[j]
        sd_j = _scale(design.X[:, j]) if x_sd is None else _positive(x_sd[j])
        if target:
            (dist, params), s = dpar[target]
            priors[col] = (Prior(dist, **params) if col == f"{target}_Intercept" else
                           Prior("Normal", mu=0.0, sigma=s / sd_j))
        elif col == "Intercept":
            priors[col] = Prior("Normal", mu=loc, sigma=2.5 * scale)
        else:
            priors[col] = Prior("Normal", mu=0.0, sigma=2.5 * scale / sd_j)
    for block in design.blocks:
        width = dpar[block.target][1] if block.target else 2.5 * scale
        intercept = f"{block.target}_Intercept" if block.target else "Intercept"
        for j, col in enumerate(block.columns):
            sd_z = _scale(block.Z[:, j]) if z_sd is None else _positive(next(z_sd))
            s = 1.0 if col == intercept else sd_z
            priors[sd_key(col, block.group)] = Prior("HalfNormal", sigma=width / s)
        if block.correlated:
            priors[cor_key(block.label)] = Prior("LKJ", eta=1.0)
    priors.update({name: Prior(dist, **params)
                   for name, (dist, params) in family.parameter_priors(y).items()
                   if name not in design.dpar_formulas})
    return priors


def log_prior_draws(priors: Mapping[str, Prior], values: Mapping[str, np.ndarray]
                    ) -> np.ndarray:
    """Sum over parameters of the log prior density at each posterior draw.

    ``values`` maps each prior's name to its draws where the prior sits (``(S,)``, or
    ``(S, p, p)`` correlation matrices for ``cor(...)``). LKJ densities are computed up
    to their normalising constant, ``(eta - 1) log det C``, which is all that
    power-scaling needs; the others by PyMC.
    """
    import pymc as pm  # deferred: PyMC is heavy and only needed here

    total: np.ndarray | None = None
    for key, prior in priors.items():
        v = np.asarray(values[key], dtype=float)
        if is_cor_key(key):
            lp = (prior.values["eta"] - 1.0) * np.linalg.slogdet(v)[1]
        else:
            dist = prior.distribution().dist(**prior.values)
            lp = np.asarray(pm.logp(dist, v).eval(), dtype=float)
        total = lp if total is None else total + lp
    return np.zeros(0) if total is None else total


def parameter_support(key: str, family: Family | None = None) -> str:
    """What values the parameter ``key`` takes: ``"correlation"`` for ``cor(...)``,
    ``"positive"`` for sds and the family's positive parameters (``sigma``, ``nu``,
    ``alpha``, ``kappa``), ``"unit"`` for its probabilities (``zi``, ``hu``: see
    :attr:`mixedfit.families.Family.unit_parameters`), ``"real"`` for fixed effects and
    an ordinal model's thresholds.

    Examples
    --------
    >>> parameter_support("sd(Days|Subject)"), parameter_support("Days")
    ('positive', 'real')
    """
    if is_cor_key(key):
        return "correlation"
    if family is not None and key in family.parameters:
        kind = family.parameter_transform(key)
        return "real" if kind in ("real", "increment") else kind
    if parse_sd_key(key) is not None:
        return "positive"
    return "real"


def check_support(key: str, prior: Prior, support: str) -> None:
    """Refuse a prior whose support does not suit the parameter it is put on.

    Raises
    ------
    PriorError
        Naming the parameter and a prior that fits it.
    """
    kind = prior.kind
    if support == "correlation":
        if kind.support != "correlation":
            raise PriorError(f"The prior for {key!r} must be an LKJ prior, e.g. "
                             f"Prior('LKJ', eta=2); got {prior!r}.")
        return
    if support == "unit":
        inside = kind.support == "unit" or (
            kind.support == "interval" and prior.values["lower"] >= 0
            and prior.values["upper"] <= 1)
        if not inside:
            raise PriorError(f"{key!r} is a probability, between 0 and 1, but {prior!r} puts "
                             f"mass outside; use e.g. Prior('Beta', alpha=1, beta=1).")
        return
    if kind.support == "unit" and support != "unit":
        raise PriorError(f"{prior!r} is a prior for probabilities; {key!r} is not one. Use "
                         f"e.g. Prior('Normal', ...) for a coefficient or "
                         f"Prior('HalfNormal', ...) for an sd.")
    if kind.support == "correlation":
        raise PriorError(f"{prior!r} is a prior for correlation matrices, 'cor(g)'; {key!r} is "
                         f"not one. Use e.g. Prior('Normal', mu=0, sigma=1) for a coefficient "
                         f"or Prior('HalfNormal', sigma=1) for an sd.")
    if support == "positive" and kind.lower_bound(prior.values) < 0:
        half = {"Normal": "HalfNormal", "StudentT": "HalfStudentT", "Cauchy": "HalfCauchy"}
        suggestion = half.get(kind.name, "HalfNormal")
        raise PriorError(
            f"{key!r} is positive, but {prior!r} puts mass on negative values. Use a prior "
            f"for positive values, e.g. Prior({suggestion!r}, ...) or Prior('Exponential', "
            f"lam=...).")
    if support == "real" and kind.support == "positive":
        raise PriorError(
            f"{key!r} is a coefficient that can take either sign, but {prior!r} allows only "
            f"positive values. Use e.g. Prior('Normal', mu=0, sigma=...) (mixedfit does not "
            f"constrain the sign of coefficients).")


def resolve_priors(
    design: Design, family: Family, user: Mapping[str, Any] | None
) -> PriorSet:
    """Defaults with the user's priors applied by name, each checked against the
    parameter it is put on.

    Raises
    ------
    PriorError
        If ``user`` is not a mapping, a name matches no parameter, or a prior's support
        does not suit its parameter (a distribution of either sign on an sd, an LKJ
        prior on anything but a correlation...).
    """
    priors = default_priors(design, family)
    if not user:
        if user is not None and not isinstance(user, Mapping):
            raise PriorError(f"priors must be a dict of parameter name -> Prior, got "
                             f"{type(user).__name__}.")
        return PriorSet(priors)
    if not isinstance(user, Mapping):
        raise PriorError(f"priors must be a dict of parameter name -> Prior, e.g. "
                         f"{{'Days': Prior('Normal', mu=0, sigma=10)}}; got "
                         f"{type(user).__name__}.")
    given: set[str] = set()
    for key, value in user.items():
        prior = as_prior(value, key)
        targets = _targets(design, priors, str(key).replace(" ", ""))
        if not targets:
            close = difflib.get_close_matches(str(key), list(priors), n=1, cutoff=0.6)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise PriorError(
                f"The prior {key!r} names no parameter of this model.{hint} Parameters: "
                f"{', '.join(priors)}; 'sd(g)' sets every sd of factor g and a formula term "
                f"sets all its columns."
            )
        for target in targets:
            check_support(target, prior, parameter_support(target, family))
            priors[target] = prior
            given.add(target)
    return PriorSet(priors, user=given)


def _targets(design: Design, priors: dict[str, Prior], key: str) -> list[str]:
    """The parameters a prior's name sets; ``key`` and the names compared without spaces
    (formulae writes ``I(x ** 2)`` where a user may write ``I(x**2)``)."""
    def bare(name: str) -> str:
        return name.replace(" ", "")

    for name in priors:
        if bare(name) == key:
            return [name]
    for term, columns in design.fixed_terms.items():
        if bare(term) == key:
            return list(columns)
    indexed = [name for name in priors if name.startswith(key + "[") and name.endswith("]")]
    if indexed:  # "Intercept": every threshold Intercept[k] of an ordinal model
        return indexed
    if key.startswith(("sd(", "cor(")) and key.endswith(")"):
        kind, inner = key[: key.index("(")], key[key.index("(") + 1 : -1]
        if kind == "sd" and "|" in inner:
            col, group = inner.split("|", 1)
            col = "Intercept" if col in ("1", "(Intercept)") else col
            name = sd_key(col, group)
            return [k for k in priors if bare(k) == bare(name)]
        if kind == "sd":
            return [
                sd_key(col, b.group) for b in design.blocks if inner in (b.group, b.label)
                for col in b.columns
            ]
        return [
            cor_key(b.label)
            for b in design.blocks
            if b.correlated and inner in (b.group, b.label)
        ]
    return []


def thresholds_inside(family: Family, priors: dict[str, Prior], starts: dict[str, float]
                       ) -> dict[str, float]:
    """Start values of an ordinal model's thresholds under Uniform priors (a flat density
    between bounds, zero outside: the thresholds keep their ordered transform): each
    moved inside its interval, 10% of its width from the bounds, and above the one
    before it. Thresholds without a Uniform prior are unbounded. Both backends start
    there.

    Examples
    --------
    >>> from mixedfit import families
    >>> fam = families.cumulative().for_levels(["1", "2", "3"])
    >>> priors = {"Intercept[1]": Prior("Uniform", lower=0, upper=1),
    ...           "Intercept[2]": Prior("Uniform", lower=0, upper=1)}
    >>> thresholds_inside(fam, priors, {"Intercept[1]": -1.2, "Intercept[2]": 0.5})
    {'Intercept[1]': 0.1, 'Intercept[2]': 0.5}
    """
    if not any(priors[n].kind.name == "Uniform" for n in family.intercepts):
        return {}
    out: dict[str, float] = {}
    previous = -np.inf
    for name in family.intercepts:
        value = float(starts[name])
        lo, hi = -np.inf, np.inf
        if priors[name].kind.name == "Uniform":
            lo, hi = float(priors[name].values["lower"]), float(priors[name].values["upper"])
            width = hi - lo
            value = min(max(value, lo + 0.1 * width), hi - 0.1 * width)
        if value <= previous:  # above the one before, below the upper bound
            value = previous + (0.1 * (hi - previous) if np.isfinite(hi) else 0.5)
        out[name] = previous = value
    return out
