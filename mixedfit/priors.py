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

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from mixedfit.errors import PriorError

if TYPE_CHECKING:
    from mixedfit.design import Design
    from mixedfit.families import Family

__all__ = ["Prior", "as_prior", "default_priors", "resolve_priors", "LKJ_NAMES"]

#: Names accepted for the correlation prior.
LKJ_NAMES = ("LKJ", "LKJCorr", "LKJCholeskyCov")


def _fmt(value: Any) -> str:
    if isinstance(value, float | np.floating):
        return f"{float(value):.4g}"
    if isinstance(value, np.ndarray):
        return "[" + ", ".join(_fmt(v) for v in value.ravel()) + "]"
    return repr(value) if isinstance(value, str) else str(value)


class Prior:
    """A prior distribution, named as in PyMC, with its parameters.

    Parameters
    ----------
    name : str
        A PyMC distribution name (``"Normal"``, ``"StudentT"``, ``"HalfNormal"``,
        ``"Exponential"``...) or ``"LKJ"`` for correlation matrices.
    **params
        The distribution's parameters.

    Examples
    --------
    >>> p = Prior("HalfNormal", sigma=5)
    >>> p.name, p.params
    ('HalfNormal', {'sigma': 5})
    >>> p == Prior("HalfNormal", sigma=5)
    True
    """

    __slots__ = ("name", "params")

    def __init__(self, name: str, **params: Any) -> None:
        if not isinstance(name, str) or not name:
            raise PriorError(f"A prior needs a distribution name, got {name!r}.")
        self.name = name
        self.params = dict(params)

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
        """The PyMC distribution class (imports PyMC)."""
        import pymc as pm

        dist = getattr(pm, self.name, None)
        if dist is None or not hasattr(dist, "dist"):
            raise PriorError(
                f"{self.name!r} is not a PyMC distribution. Use a name such as 'Normal', "
                f"'StudentT', 'HalfNormal', 'HalfStudentT', 'Exponential' or 'LKJ'."
            )
        return dist


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


def _scale(values: np.ndarray) -> float:
    sd = float(np.std(values))
    return sd if sd > 0 and math.isfinite(sd) else 1.0


def sd_key(column: str, group: str) -> str:
    """Name of the standard deviation of ``column`` across levels of ``group``."""
    return f"sd({column}|{group})"


def cor_key(label: str) -> str:
    """Name of the correlation prior of a block."""
    return f"cor({label})"


def default_priors(design: Design, family: Family) -> dict[str, Prior]:
    """Data-scaled default priors for every parameter of the model.

    Returns
    -------
    dict
        Parameter name -> Prior, in display order: fixed effects, group-level
        standard deviations and correlations, then family parameters.
    """
    loc, scale = family.prior_location_scale(design.y, design.trials)
    priors: dict[str, Prior] = {}
    for j, col in enumerate(design.fixed_columns):
        if col == "Intercept":
            priors[col] = Prior("Normal", mu=loc, sigma=2.5 * scale)
        else:
            priors[col] = Prior("Normal", mu=0.0, sigma=2.5 * scale / _scale(design.X[:, j]))
    for block in design.blocks:
        for j, col in enumerate(block.columns):
            s = 1.0 if col == "Intercept" else _scale(block.Z[:, j])
            priors[sd_key(col, block.group)] = Prior("HalfNormal", sigma=2.5 * scale / s)
        if block.correlated:
            priors[cor_key(block.label)] = Prior("LKJ", eta=1.0)
    priors.update(family.default_priors(design.y))
    return priors


def resolve_priors(
    design: Design, family: Family, user: Mapping[str, Any] | None
) -> dict[str, Prior]:
    """Defaults with the user's priors applied by name.

    Raises
    ------
    PriorError
        If a name matches no parameter, or a correlation prior is not LKJ.
    """
    priors = default_priors(design, family)
    if not user:
        return priors
    for key, value in user.items():
        prior = as_prior(value, key)
        targets = _targets(design, priors, str(key).replace(" ", ""))
        if not targets:
            raise PriorError(
                f"The prior {key!r} names no parameter of this model. Parameters: "
                f"{', '.join(priors)}; 'sd(g)' sets every sd of factor g and a formula term "
                f"sets all its columns."
            )
        for target in targets:
            if target.startswith("cor(") and prior.name not in LKJ_NAMES:
                raise PriorError(
                    f"The prior for {target!r} must be an LKJ prior, e.g. Prior('LKJ', eta=2); "
                    f"got {prior!r}."
                )
            priors[target] = prior
    return priors


def _targets(design: Design, priors: dict[str, Prior], key: str) -> list[str]:
    if key in priors:
        return [key]
    if key in design.fixed_terms:
        return list(design.fixed_terms[key])
    if key.startswith(("sd(", "cor(")) and key.endswith(")"):
        kind, inner = key[: key.index("(")], key[key.index("(") + 1 : -1]
        if kind == "sd" and "|" in inner:
            col, group = inner.split("|", 1)
            col = "Intercept" if col in ("1", "(Intercept)") else col
            name = sd_key(col, group)
            return [name] if name in priors else []
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
