"""Response families and their link functions.

A family says how the response is distributed around its expected value
``mu = g^{-1}(eta)``, where ``eta`` is the linear predictor (fixed plus group
effects) and ``g`` the link. The first link listed is the default. Each family is
one class in its own module (:class:`~mixedfit.families.family.Family` says what a
family knows of itself); adding a family is one such module, an entry in
:data:`FAMILIES` and its tests.

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
- ``zero_inflated_poisson``, ``zero_inflated_negativebinomial``, ``hurdle_poisson``,
  ``hurdle_negativebinomial``: counts with extra zeros (:mod:`~mixedfit.families.zeroinflated`).
- ``cumulative``: an ordered categorical response, ``P(y <= k) = F(Intercept[k] - eta)``;
  links logit, probit (:mod:`~mixedfit.families.cumulative`).
- ``categorical``: an unordered categorical response (multinomial logit), one linear
  predictor per category but the first (:mod:`~mixedfit.families.categorical`).

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

from mixedfit.errors import FamilyError
from mixedfit.families.bernoulli import Bernoulli
from mixedfit.families.beta import Beta
from mixedfit.families.binomial import Binomial
from mixedfit.families.categorical import Categorical
from mixedfit.families.cumulative import Cumulative
from mixedfit.families.family import Family
from mixedfit.families.gamma import Gamma
from mixedfit.families.gaussian import Gaussian
from mixedfit.families.links import LINKS, dmu_deta, inverse_link, link_function
from mixedfit.families.negativebinomial import NegativeBinomial
from mixedfit.families.poisson import Poisson
from mixedfit.families.t import StudentT
from mixedfit.families.zeroinflated import (
    HurdleNegativeBinomial,
    HurdlePoisson,
    ZeroInflatedNegativeBinomial,
    ZeroInflatedPoisson,
)

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
    "zero_inflated_poisson",
    "zero_inflated_negativebinomial",
    "hurdle_poisson",
    "hurdle_negativebinomial",
    "cumulative",
    "categorical",
    "get_family",
    "FAMILIES",
    "LINKS",
    "inverse_link",
    "link_function",
    "dmu_deta",
]

#: Every family, by name.
FAMILIES: dict[str, type[Family]] = {cls.name: cls for cls in (
    Gaussian, StudentT, Bernoulli, Binomial, Poisson, NegativeBinomial, Gamma, Beta,
    ZeroInflatedPoisson, ZeroInflatedNegativeBinomial, HurdlePoisson, HurdleNegativeBinomial,
    Cumulative, Categorical)}

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
    "zip": "zero_inflated_poisson",
    "zeroinflatedpoisson": "zero_inflated_poisson",
    "zinb": "zero_inflated_negativebinomial",
    "zero_inflated_negbinomial": "zero_inflated_negativebinomial",
    "zeroinflatednegativebinomial": "zero_inflated_negativebinomial",
    "hurdlepoisson": "hurdle_poisson",
    "hurdle_negbinomial": "hurdle_negativebinomial",
    "hurdlenegativebinomial": "hurdle_negativebinomial",
    "ordinal": "cumulative",
    "ordered": "cumulative",
    "multinomial": "categorical",
}


def gaussian(link: str = "identity") -> Family:
    """Normal response: ``y ~ Normal(mu, sigma)``.

    Examples
    --------
    >>> gaussian().parameters
    ('sigma',)
    """
    return Gaussian(link)


def t(link: str = "identity") -> Family:
    """Student-t response (robust regression): ``y ~ StudentT(nu, mu, sigma)``."""
    return StudentT(link)


def bernoulli(link: str = "logit") -> Family:
    """Binary response (0/1, booleans or a two-level factor): ``y ~ Bernoulli(mu)``."""
    return Bernoulli(link)


def binomial(link: str = "logit") -> Family:
    """Successes out of trials: ``cbind(successes, failures) ~ ...``.

    Examples
    --------
    >>> binomial("cloglog").link
    'cloglog'
    """
    return Binomial(link)


def poisson(link: str = "log") -> Family:
    """Counts: ``y ~ Poisson(mu)``."""
    return Poisson(link)


def negativebinomial(link: str = "log") -> Family:
    """Over-dispersed counts: ``y ~ NegativeBinomial(mu, alpha)``."""
    return NegativeBinomial(link)


def gamma(link: str = "inverse") -> Family:
    """Positive continuous response: ``y ~ Gamma(alpha, alpha / mu)``."""
    return Gamma(link)


def beta(link: str = "logit") -> Family:
    """Proportions strictly inside (0, 1): ``y ~ Beta(mu kappa, (1 - mu) kappa)``."""
    return Beta(link)


def zero_inflated_poisson(link: str = "log") -> Family:
    """Counts with structural zeros: ``y ~ ZeroInflatedPoisson(zi, mu)``."""
    return ZeroInflatedPoisson(link)


def zero_inflated_negativebinomial(link: str = "log") -> Family:
    """Over-dispersed counts with structural zeros:
    ``y ~ ZeroInflatedNegativeBinomial(zi, mu, alpha)``."""
    return ZeroInflatedNegativeBinomial(link)


def hurdle_poisson(link: str = "log") -> Family:
    """Zeros with probability ``hu``, else a Poisson count truncated at zero."""
    return HurdlePoisson(link)


def hurdle_negativebinomial(link: str = "log") -> Family:
    """Zeros with probability ``hu``, else a negative binomial count truncated at zero."""
    return HurdleNegativeBinomial(link)


def cumulative(link: str = "logit", categories: list | None = None) -> Family:
    """An ordered categorical response: ``P(y <= k) = F(Intercept[k] - eta)``.

    ``categories`` states the order of the response's values (lowest first) when the
    column does not carry it (strings, an unordered categorical).

    Examples
    --------
    >>> cumulative(categories=["disagree", "neutral", "agree"]).parameters
    ('Intercept[1]', 'Intercept[2]')
    """
    return Cumulative(link, categories)


def categorical(link: str = "logit", categories: list | None = None) -> Family:
    """An unordered categorical response (multinomial logit), the first category the
    reference; ``categories`` states them (the reference first).

    Examples
    --------
    >>> categorical(categories=["walk", "bike", "car"]).parameters
    ('mubike', 'mucar')
    """
    return Categorical(link, categories)


def get_family(spec: str | Family, link: str | None = None) -> Family:
    """A family from a name (with an optional link) or a Family object.

    Raises
    ------
    FamilyError
        If the name is unknown, or the family does not take the link.

    Examples
    --------
    >>> get_family("Normal")
    Family(name='gaussian', link='identity')
    >>> get_family("binomial", link="probit")
    Family(name='binomial', link='probit')
    """
    if isinstance(spec, Family):
        return spec if link is None else type(spec)(link).for_levels(spec.categories)
    if not isinstance(spec, str):
        raise FamilyError(f"family must be a name or a Family, not {type(spec).__name__}.")
    key = spec.lower().replace(" ", "")
    key = _ALIASES.get(key, key)
    if key not in FAMILIES:
        raise FamilyError(f"Unknown family {spec!r}; known families: {', '.join(FAMILIES)}.")
    return FAMILIES[key](link)
