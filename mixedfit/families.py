"""Response families and their link functions.

A family says how the response is distributed around its expected value
``mu = g^{-1}(eta)``, where ``eta`` is the linear predictor (fixed plus group
effects) and ``g`` the link.

=============  ==================================  ===========  ==================
family         likelihood                          links        extra parameters
=============  ==================================  ===========  ==================
``gaussian``   ``y ~ Normal(mu, sigma)``           identity,    ``sigma``
                                                   log, inverse
=============  ==================================  ===========  ==================

Examples
--------
>>> import mixedfit as mf
>>> mf.families.gaussian()
Family(name='gaussian', link='identity')
>>> mf.families.get_family("gaussian").link
'identity'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from mixedfit.errors import FamilyError

__all__ = ["Family", "gaussian", "get_family", "FAMILIES", "LINKS"]

#: Every link mixedfit knows.
LINKS = ("identity", "log", "inverse", "logit", "probit", "cloglog")


def inverse_link(link: str, eta: Any, xp: Any = np) -> Any:
    """Apply the inverse of ``link`` to ``eta`` with the array module ``xp``.

    ``xp`` is ``numpy`` for results and ``pytensor.tensor`` inside a model.

    Examples
    --------
    >>> float(inverse_link("log", 0.0))
    1.0
    """
    if link == "identity":
        return eta
    if link == "log":
        return xp.exp(eta)
    if link == "inverse":
        return 1.0 / eta
    if link == "logit":
        return 1.0 / (1.0 + xp.exp(-eta))
    if link == "probit":
        return 0.5 * (1.0 + xp.erf(eta / np.sqrt(2.0)))
    if link == "cloglog":
        return 1.0 - xp.exp(-xp.exp(eta))
    raise FamilyError(f"Unknown link {link!r}; known links: {', '.join(LINKS)}.")


@dataclass(frozen=True)
class Family:
    """A response distribution with a link function.

    Parameters
    ----------
    name : str
        Family name, e.g. ``"gaussian"``.
    link : str
        Link function name.
    """

    name: str
    link: str

    @property
    def links(self) -> tuple[str, ...]:
        """Links this family accepts."""
        return FAMILIES[self.name]["links"]

    @property
    def parameters(self) -> tuple[str, ...]:
        """Names of the family's own parameters (besides the mean)."""
        return FAMILIES[self.name]["parameters"]

    def inverse_link(self, eta: Any, xp: Any = np) -> Any:
        """Expected response for linear predictor ``eta``."""
        return inverse_link(self.link, eta, xp)

    def prior_location_scale(self, y: np.ndarray) -> tuple[float, float]:
        """Location and scale that set the default priors (see :mod:`mixedfit.priors`)."""
        if self.name == "gaussian" and self.link == "identity":
            sd = float(np.std(y))
            return float(np.mean(y)), sd if sd > 0 else 1.0
        return 0.0, 1.0

    def default_priors(self, y: np.ndarray) -> dict[str, Any]:
        """Default priors of the family's own parameters."""
        from mixedfit.priors import Prior

        if self.name == "gaussian":
            sd = float(np.std(y))
            return {"sigma": Prior("HalfStudentT", nu=4.0, sigma=sd if sd > 0 else 1.0)}
        return {}


FAMILIES: dict[str, dict[str, Any]] = {
    "gaussian": {"links": ("identity", "log", "inverse"), "parameters": ("sigma",)},
}

_ALIASES = {"normal": "gaussian", "linear": "gaussian"}


def _make(name: str, link: str | None) -> Family:
    spec = FAMILIES[name]
    link = spec["links"][0] if link is None else link
    if link not in spec["links"]:
        raise FamilyError(
            f"The {name} family does not take the {link!r} link; use one of "
            f"{', '.join(spec['links'])}."
        )
    return Family(name, link)


def gaussian(link: str = "identity") -> Family:
    """Normal response: ``y ~ Normal(mu, sigma)``.

    Examples
    --------
    >>> gaussian().parameters
    ('sigma',)
    """
    return _make("gaussian", link)


def get_family(spec: str | Family) -> Family:
    """A family from a name or a Family object.

    Raises
    ------
    FamilyError
        If the name is unknown.

    Examples
    --------
    >>> get_family("Normal")
    Family(name='gaussian', link='identity')
    """
    if isinstance(spec, Family):
        return spec
    if not isinstance(spec, str):
        raise FamilyError(f"family must be a name or a Family, not {type(spec).__name__}.")
    key = _ALIASES.get(spec.lower(), spec.lower())
    if key not in FAMILIES:
        raise FamilyError(f"Unknown family {spec!r}; known families: {', '.join(FAMILIES)}.")
    return _make(key, None)
