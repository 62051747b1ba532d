"""Response families and their link functions.

A family says how the response is distributed around its expected value
``mu = g^{-1}(eta)``, where ``eta`` is the linear predictor (fixed plus group
effects) and ``g`` the link. The first link listed is the default.

- ``gaussian``: ``y ~ Normal(mu, sigma)``; links identity, log, inverse;
  ``sigma ~ HalfStudentT(nu=4, sigma=sd(y))``.
- ``t``: ``y ~ StudentT(nu, mu, sigma)``; links identity, log, inverse;
  ``sigma ~ HalfStudentT(4, sd(y))``, ``nu ~ Gamma(alpha=2, beta=0.1)``.
- ``bernoulli``: ``y ~ Bernoulli(mu)`` with y in {0, 1}; links logit, probit, cloglog.
- ``binomial``: ``y ~ Binomial(n, mu)``, y successes of n trials; links logit,
  probit, cloglog.
- ``poisson``: ``y ~ Poisson(mu)``; links log, identity.
- ``negativebinomial``: ``y ~ NegativeBinomial(mu, alpha)``, variance
  ``mu + mu^2 / alpha``; links log, identity; ``alpha ~ HalfCauchy(beta=1)``.
- ``gamma``: ``y ~ Gamma(shape=alpha, rate=alpha / mu)``, variance ``mu^2 / alpha``;
  links inverse, log, identity; ``alpha ~ HalfCauchy(beta=1)``.
- ``beta``: ``y ~ Beta(mu * kappa, (1 - mu) * kappa)`` with y in (0, 1), variance
  ``mu (1 - mu) / (1 + kappa)``; links logit, probit, cloglog;
  ``kappa ~ HalfCauchy(beta=1)``.

The default priors of the coefficients are set on the link scale; see
:mod:`mixedfit.priors`.

Examples
--------
>>> import mixedfit as mf
>>> mf.families.binomial(link="probit")
Family(name='binomial', link='probit')
>>> mf.families.get_family("poisson").link
'log'
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from mixedfit.errors import FamilyError

__all__ = [
    "Family",
    "gaussian",
    "t",
    "bernoulli",
    "binomial",
    "poisson",
    "negativebinomial",
    "gamma",
    "beta",
    "get_family",
    "FAMILIES",
    "LINKS",
]

#: Every link mixedfit knows.
LINKS = ("identity", "log", "inverse", "logit", "probit", "cloglog")


def inverse_link(link: str, eta: Any, xp: Any = np) -> Any:
    """Apply the inverse of ``link`` to ``eta`` with the array module ``xp``.

    ``xp`` is ``numpy`` for results and ``pytensor.tensor`` inside a model.

    Examples
    --------
    >>> float(inverse_link("log", 0.0)), float(inverse_link("logit", 0.0))
    (1.0, 0.5)
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
        erf = xp.erf if hasattr(xp, "erf") else _np_erf
        return 0.5 * (1.0 + erf(eta / np.sqrt(2.0)))
    if link == "cloglog":
        return 1.0 - xp.exp(-xp.exp(eta))
    raise FamilyError(f"Unknown link {link!r}; known links: {', '.join(LINKS)}.")


def _np_erf(x: Any) -> Any:
    from scipy.special import erf

    return erf(x)


def link_function(link: str, mu: Any) -> Any:
    """Apply ``link`` to ``mu`` (numpy only).

    Examples
    --------
    >>> float(link_function("logit", 0.5))
    0.0
    """
    mu = np.asarray(mu, dtype=float)
    if link == "identity":
        return mu
    if link == "log":
        return np.log(mu)
    if link == "inverse":
        return 1.0 / mu
    if link == "logit":
        return np.log(mu) - np.log1p(-mu)
    if link == "probit":
        from scipy.special import ndtri

        return ndtri(mu)
    if link == "cloglog":
        return np.log(-np.log1p(-mu))
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
        """Links this family accepts (the first is the default)."""
        return FAMILIES[self.name]["links"]

    @property
    def parameters(self) -> tuple[str, ...]:
        """Names of the family's own parameters (besides the mean)."""
        return FAMILIES[self.name]["parameters"]

    @property
    def discrete(self) -> bool:
        """Whether the response is a count."""
        return self.name in ("bernoulli", "binomial", "poisson", "negativebinomial")

    @property
    def location_scale(self) -> bool:
        """Whether shifting and rescaling the response keeps the model's form
        (``(y - c) / s`` is of the same family, with mean ``(mu - c) / s`` and scale
        ``sigma / s``): the identity-link Gaussian and Student-t families. Such a
        response is centred and scaled internally (:mod:`mixedfit.standardize`)."""
        return self.link == "identity" and self.name in ("gaussian", "t")

    def inverse_link(self, eta: Any, xp: Any = np) -> Any:
        """Expected response for linear predictor ``eta``."""
        return inverse_link(self.link, eta, xp)

    def link_function(self, mu: Any) -> Any:
        """Linear predictor for expected response ``mu``."""
        return link_function(self.link, mu)

    def prior_location_scale(self, y: np.ndarray, trials: np.ndarray | None = None
                             ) -> tuple[float, float]:
        """Location and scale on the link scale that set the default priors.

        Identity link: the response's mean and sd. Other links: the link of the
        response's mean (clipped into the link's domain) and scale 1, so that
        ``2.5 * scale`` gives the familiar ``Normal(0, 2.5)`` of rstanarm.
        """
        y = np.asarray(y, dtype=float)
        if self.link == "identity":
            sd = float(np.std(y / trials)) if trials is not None else float(np.std(y))
            mean = float(np.mean(y / trials)) if trials is not None else float(np.mean(y))
            return mean, sd if sd > 0 else 1.0
        if self.name in ("bernoulli", "binomial", "beta"):
            p = float(np.sum(y) / np.sum(trials)) if trials is not None else float(np.mean(y))
            p = min(max(p, 0.01), 0.99)
            return float(self.link_function(p)), 1.0
        mean = float(np.mean(y))
        if self.link == "log":
            return float(np.log(max(mean, 1e-3))), 1.0
        if self.link == "inverse":
            inv = 1.0 / max(mean, 1e-8)
            return inv, inv
        return 0.0, 1.0

    def default_priors(self, y: np.ndarray) -> dict[str, Any]:
        """Default priors of the family's own parameters."""
        from mixedfit.priors import Prior

        sd = float(np.std(y))
        sd = sd if sd > 0 else 1.0
        out: dict[str, Any] = {}
        if self.name in ("gaussian", "t"):
            out["sigma"] = Prior("HalfStudentT", nu=4.0, sigma=sd)
        if self.name == "t":
            out["nu"] = Prior("Gamma", alpha=2.0, beta=0.1)
        if self.name in ("negativebinomial", "gamma"):
            out["alpha"] = Prior("HalfCauchy", beta=1.0)
        if self.name == "beta":
            out["kappa"] = Prior("HalfCauchy", beta=1.0)
        return out


FAMILIES: dict[str, dict[str, Any]] = {
    "gaussian": {"links": ("identity", "log", "inverse"), "parameters": ("sigma",)},
    "t": {"links": ("identity", "log", "inverse"), "parameters": ("sigma", "nu")},
    "bernoulli": {"links": ("logit", "probit", "cloglog"), "parameters": ()},
    "binomial": {"links": ("logit", "probit", "cloglog"), "parameters": ()},
    "poisson": {"links": ("log", "identity"), "parameters": ()},
    "negativebinomial": {"links": ("log", "identity"), "parameters": ("alpha",)},
    "gamma": {"links": ("inverse", "log", "identity"), "parameters": ("alpha",)},
    "beta": {"links": ("logit", "probit", "cloglog"), "parameters": ("kappa",)},
}

_ALIASES = {
    "normal": "gaussian",
    "linear": "gaussian",
    "studentt": "t",
    "student_t": "t",
    "student": "t",
    "negbinomial": "negativebinomial",
    "negative_binomial": "negativebinomial",
    "negbin": "negativebinomial",
    "nb": "negativebinomial",
    "logistic": "bernoulli",
}


def _make(name: str, link: str | None) -> Family:
    spec = FAMILIES[name]
    link = spec["links"][0] if link is None else str(link).lower()
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


def t(link: str = "identity") -> Family:
    """Student-t response (robust regression): ``y ~ StudentT(nu, mu, sigma)``."""
    return _make("t", link)


def bernoulli(link: str = "logit") -> Family:
    """Binary response (0/1, booleans or a two-level factor): ``y ~ Bernoulli(mu)``."""
    return _make("bernoulli", link)


def binomial(link: str = "logit") -> Family:
    """Successes out of trials: ``cbind(successes, failures) ~ ...``.

    Examples
    --------
    >>> binomial("cloglog").link
    'cloglog'
    """
    return _make("binomial", link)


def poisson(link: str = "log") -> Family:
    """Counts: ``y ~ Poisson(mu)``."""
    return _make("poisson", link)


def negativebinomial(link: str = "log") -> Family:
    """Over-dispersed counts: ``y ~ NegativeBinomial(mu, alpha)``."""
    return _make("negativebinomial", link)


def gamma(link: str = "inverse") -> Family:
    """Positive continuous response: ``y ~ Gamma(alpha, alpha / mu)``."""
    return _make("gamma", link)


def beta(link: str = "logit") -> Family:
    """Proportions strictly inside (0, 1): ``y ~ Beta(mu kappa, (1 - mu) kappa)``."""
    return _make("beta", link)


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
    key = spec.lower().replace(" ", "")
    key = _ALIASES.get(key, key)
    if key not in FAMILIES:
        raise FamilyError(f"Unknown family {spec!r}; known families: {', '.join(FAMILIES)}.")
    return _make(key, None)
