"""The :class:`Family` base class: what every response family knows of itself.

A family is an object that knows its support, its links, its own parameters and
their default priors, and its likelihood in every form the rest of mixedfit needs:
the PyMC distribution, the compiled kernel's code, the pointwise log-likelihood, a
simulator, the variance function of its GLM. Generic code asks the family; it does
not test its name. Each family is one subclass in its own module of this package.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from mixedfit.errors import DataError, FamilyError
from mixedfit.families.links import dmu_deta, inverse_link, link_function

__all__ = ["Family", "PriorSpec", "integers"]

#: A default prior as ``(distribution name, parameters)``; the priors layer makes it a
#: :class:`mixedfit.priors.Prior`.
PriorSpec = tuple[str, dict[str, float]]


def integers(y: np.ndarray, what: str, family: str) -> None:
    """Refuse negative or non-integer counts, naming the column."""
    if np.any(y < 0):
        raise DataError(f"The {family} response {what!r} has negative values (e.g. "
                        f"{y[y < 0][0]:g}); counts must be 0, 1, 2, ...")
    frac = np.abs(y - np.round(y)) > 1e-8
    if np.any(frac):
        raise DataError(f"The {family} response {what!r} has non-integer values (e.g. "
                        f"{y[frac][0]:g}); counts must be whole numbers.")


def scipy_stats() -> Any:
    """``scipy.stats``, imported when a likelihood is first evaluated (importing it takes
    longer than loading a saved fit)."""
    from scipy import stats  # deferred: scipy.stats is heavy and only the likelihoods need it

    return stats


class Family:
    """A response distribution with a link function.

    Parameters
    ----------
    link : str, optional
        One of :attr:`links`; the first is the default.

    Attributes
    ----------
    name : str
        The family's name (``"gaussian"``...), for display and for saving.
    link : str
        The link function's name.
    links : tuple of str
        Links this family takes; the first is the default.
    parameters : tuple of str
        The family's own parameters besides the mean (``"sigma"``...), all positive.
    discrete : bool
        Whether the response is a count.
    binary : bool
        Whether the response is 0/1, coded from booleans or a two-level factor.
    takes_trials : bool
        Whether the response is a count of successes out of known trials.
    probability : bool
        Whether the mean is a probability (default priors from the share of
        successes).
    kind : str
        How the summary names the model ("linear", "generalized linear"...).

    Examples
    --------
    >>> from mixedfit.families import get_family
    >>> fam = get_family("binomial", link="probit")
    >>> fam, fam.takes_trials, fam.parameters
    (Family(name='binomial', link='probit'), True, ())
    """

    name: ClassVar[str] = ""
    links: ClassVar[tuple[str, ...]] = ()
    parameters: ClassVar[tuple[str, ...]] = ()
    discrete: ClassVar[bool] = False
    binary: ClassVar[bool] = False
    takes_trials: ClassVar[bool] = False
    probability: ClassVar[bool] = False
    kind: ClassVar[str] = "generalized linear"
    #: a location-scale family with the identity link (see :attr:`location_scale`)
    _location_scale: ClassVar[bool] = False
    #: the compiled kernel's likelihood of this family (every link it takes)
    _compiled: ClassVar[str | None] = None
    #: how observation weights act (lme4's ``weights``): ``True``, precision weights (a
    #: row's scale divided by ``sqrt(w)``, the Gaussian's); ``False``, prior weights (a
    #: row's log-likelihood times ``w``)
    precision_weights: ClassVar[bool] = False
    #: each row's scale is known (``se=``), so the family has no scale parameter
    known_scale: ClassVar[bool] = False
    #: those of :attr:`parameters` that are probabilities (``zi``, ``hu``: sampled on the
    #: logit scale); the others are positive (sampled on the log scale)
    unit_parameters: ClassVar[tuple[str, ...]] = ()
    #: the response is categories (read as codes 0, ..., K - 1 by the design layer; see
    #: :meth:`for_levels`), ordered or not
    categorical_response: ClassVar[bool] = False
    #: those categories are ordered (an ordinal response)
    ordered_categories: ClassVar[bool] = False
    #: the response's categories, lowest first, once known (ordered-categories families)
    categories: tuple[str, ...] | None = None

    def __init__(self, link: str | None = None) -> None:
        chosen = self.links[0] if link is None else str(link).lower()
        if chosen not in self.links:
            raise FamilyError(f"The {self.name} family does not take the {chosen!r} link; use "
                              f"one of {', '.join(self.links)}.")
        self.link = chosen

    def __repr__(self) -> str:
        return f"Family(name={self.name!r}, link={self.link!r})"

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Family) and other.name == self.name
                and other.link == self.link)

    def __hash__(self) -> int:
        return hash((self.name, self.link))

    def for_levels(self, levels: Any) -> Family:
        """This family with the response's categories (lowest first), for a family whose
        parameters depend on them (:attr:`categorical_response`); the family itself
        otherwise."""
        return self

    @property
    def intercepts(self) -> tuple[str, ...]:
        """Those of :attr:`parameters` that take the intercept's place (the thresholds of
        an ordinal model): the fixed part then has no ``Intercept`` column, they are
        reported with the fixed effects and, like an intercept, their priors sit at the
        predictors' means."""
        return ()

    @property
    def distribution_parameters(self) -> tuple[str, ...]:
        """:attr:`parameters` less :attr:`intercepts`: those reported as the family's own
        (``res.family_parameters``), the intercepts being reported with the fixed effects."""
        return tuple(p for p in self.parameters if p not in self.intercepts)

    def parameter_transform(self, name: str) -> str:
        """How the sampler moves parameter ``name``: ``"positive"`` (on the log scale),
        ``"unit"`` (a probability, on the logit scale), ``"real"`` (as it is) or
        ``"increment"`` (above the parameter before it: the log of the difference)."""
        return "unit" if name in self.unit_parameters else "positive"

    def category_probabilities(self, eta: np.ndarray, params: dict[str, np.ndarray]
                               ) -> np.ndarray | None:
        """``P(y = k)`` ``(S, n, K)`` for a categorical response (None otherwise)."""
        return None

    # ------------------------------------------------------------ the mean
    @property
    def location_scale(self) -> bool:
        """Whether shifting and rescaling the response keeps the model's form
        (``(y - c) / s`` is of the same family, with mean ``(mu - c) / s`` and scale
        ``sigma / s``): the identity-link Gaussian and Student-t families. Such a
        response is centred and scaled internally (:mod:`mixedfit.standardize`)."""
        return self._location_scale and self.link == "identity"

    @property
    def compiled(self) -> str | None:
        """The compiled kernel's likelihood for this family (with any of its links), or
        None when the kernel does not cover it (:mod:`mixedfit.fast`)."""
        return self._compiled

    @property
    def integrates_out(self) -> bool:
        """Whether the group effects can be integrated out exactly: a Gaussian response
        with the identity link (the marginal model of :mod:`mixedfit.fast.marginal`)."""
        return False

    def parameter_starts(self, y: np.ndarray, trials: np.ndarray | None
                         ) -> dict[str, float]:
        """Rough values of the family's own parameters from the response, for the
        sampler's start (moment estimates; 1 where there is none)."""
        return {name: 1.0 for name in self.parameters}

    def inverse_link(self, eta: Any, xp: Any = np) -> Any:
        """Expected response for linear predictor ``eta``."""
        return inverse_link(self.link, eta, xp)

    def expected_response(self, eta: np.ndarray, params: dict[str, np.ndarray]) -> np.ndarray:
        """``E[y]`` for linear-predictor draws ``eta`` (S, n) and the family's parameters
        (S,): the inverse link of ``eta``, except where the family's mean is not the
        mean of its response (zero-inflated and hurdle families)."""
        return self.inverse_link(eta)

    def link_function(self, mu: Any) -> Any:
        """Linear predictor for expected response ``mu``."""
        return link_function(self.link, mu)

    # ------------------------------------------------------------ priors
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
        if self.probability:
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

    def parameter_priors(self, y: np.ndarray) -> dict[str, PriorSpec]:
        """Default priors of the family's own parameters, as ``(name, parameters)``."""
        return {}

    # ------------------------------------------------------------ the response
    def check_values(self, y: np.ndarray, name: str) -> None:
        """Refuse response values outside the family's support (a :class:`DataError`
        naming the column)."""

    def degenerate(self, y: np.ndarray, trials: np.ndarray | None, name: str
                   ) -> tuple[str, str] | None:
        """A response with nothing (or half of nothing) to fit: ``("error", message)``
        or ``("warning", message)``; None when the response is fit to be fitted."""
        if y.size and np.all(y == y[0]):
            return ("error", f"The response {name!r} is constant (every value is "
                             f"{float(y[0]):g}): a {self.name} model has nothing to fit, its "
                             f"scale would be 0. Check the column and any filtering of rows.")
        return None

    # ------------------------------------------------------------ likelihood
    def pymc_likelihood(self, pm: Any, pt: Any, eta: Any, params: dict[str, Any],
                        y: np.ndarray, trials: np.ndarray | None) -> Any:
        """The observed variable ``y`` of the PyMC model (``pm``, ``pt``: the ``pymc`` and
        ``pytensor.tensor`` modules, passed in so that this layer imports neither)."""
        raise NotImplementedError

    def log_likelihood(self, y: np.ndarray, eta: np.ndarray, params: dict[str, np.ndarray],
                       trials: np.ndarray | None) -> np.ndarray:
        """``log p(y_i | draw s)`` for linear-predictor draws ``eta`` (S, n) and the
        family's parameters (S,)."""
        raise NotImplementedError

    def simulate(self, mu: np.ndarray, params: dict[str, np.ndarray],
                 trials: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
        """Responses drawn given means ``mu`` (S, n) and parameters (S,)."""
        raise NotImplementedError

    def with_known_scale(self) -> Family:
        """This family with each row's standard error known (``se=``): only the Gaussian
        with the identity link has one (brms' ``y | se(sei)``)."""
        raise FamilyError(
            f"se= gives each row a known standard error of a normal response; the "
            f"{self.name} family (link {self.link}) has none. Use family='gaussian' (with "
            f"the identity link), or weights= for weighted rows.")

    # ------------------------------------------------------------ observation weights
    def pymc_weighted_likelihood(self, pm: Any, pt: Any, eta: Any, params: dict[str, Any],
                                 y: np.ndarray, trials: np.ndarray | None,
                                 weights: np.ndarray | None) -> Any:
        """:meth:`pymc_likelihood` with observation weights: prior weights add
        ``(w - 1) log p(y_i)`` as a potential, so that the model's density has
        ``sum w_i log p(y_i)``."""
        rv = self.pymc_likelihood(pm, pt, eta, params, y, trials)
        if weights is not None:
            pm.Potential("y_weights", pt.sum((np.asarray(weights) - 1.0) * pm.logp(rv, y)))
        return rv

    def weighted_log_likelihood(self, y: np.ndarray, eta: np.ndarray,
                                params: dict[str, np.ndarray], trials: np.ndarray | None,
                                weights: np.ndarray | None) -> np.ndarray:
        """Each row's term of the model's log-likelihood: :meth:`log_likelihood` times
        the row's prior weight."""
        ll = self.log_likelihood(y, eta, params, trials)
        return ll if weights is None else ll * np.asarray(weights)[None, :]

    def weighted_simulate(self, mu: np.ndarray, params: dict[str, np.ndarray],
                          trials: np.ndarray | None, weights: np.ndarray | None,
                          rng: np.random.Generator) -> np.ndarray:
        """Responses drawn given the means; prior weights do not change a row's
        distribution."""
        return self.simulate(mu, params, trials, rng)

    # ------------------------------------------------------------ GLM pieces
    def variance(self, mu: np.ndarray) -> np.ndarray:
        """The GLM variance function ``V(mu)``."""
        return np.ones_like(mu)

    def dmu_deta(self, eta: np.ndarray, mu: np.ndarray) -> np.ndarray:
        """``d mu / d eta`` of the link."""
        return dmu_deta(self.link, eta, mu)

    def irls_start(self, y: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The working target and the starting mean of an IRLS fit."""
        mu = np.maximum(y, 1e-8) if self.link in ("log", "inverse") else y.astype(float)
        return y, mu

    def clip_mean(self, mu: np.ndarray) -> np.ndarray:
        """The mean kept inside the support during IRLS."""
        return mu

    def own_fit_problem(self, y: np.ndarray, n: np.ndarray | None) -> str:
        """Why a group level's own GLM fit has no finite estimate, or ''."""
        return ""

    def working_variance(self, y: np.ndarray, trials: np.ndarray | None) -> float:
        """The inverse of the average working weight at the response's mean (the
        information per observation that sets the centring of group effects)."""
        return 1.0

    def link_scale_start(self, y: np.ndarray, trials: np.ndarray | None) -> np.ndarray:
        """A rough linear predictor per row, for start values: the link of the
        starting mean of an IRLS fit."""
        y = np.asarray(y, dtype=float)
        n = np.ones_like(y) if trials is None else np.asarray(trials, dtype=float)
        mu = self.clip_mean(self.irls_start(y, n)[1])
        if self.link in ("log", "inverse"):
            mu = np.maximum(mu, 1e-3 * max(float(np.mean(np.abs(y))), 1e-8))
        return self.link_function(mu)

    def params_of(self, params: dict[str, Any], key: str) -> Any:
        """Draws ``(S,)`` of a parameter as a column ``(S, 1)`` against rows; a parameter
        with its own formula has draws per row ``(S, n)`` already."""
        values = np.asarray(params[key])
        return values if values.ndim == 2 else values[:, None]

    # ------------------------------------------------------------ distributional parameters
    def dpar_link(self, name: str) -> str:
        """The link of parameter ``name`` when it has its own formula: ``"logit"`` for a
        probability, ``"log"`` for a positive parameter (brms' and glmmTMB's)."""
        return "logit" if self.parameter_transform(name) == "unit" else "log"

    def dpar_inverse_link(self, name: str, eta: Any, xp: Any = np) -> Any:
        """Parameter ``name`` from its linear predictor."""
        link = self.dpar_link(name)
        if link == "logit":
            return 1.0 / (1.0 + xp.exp(-eta))
        if link == "identity":
            return eta
        return xp.exp(eta)

    def dpar_description(self, name: str) -> str:
        """What the linear predictor of parameter ``name`` is, for the summary."""
        return f"link: {self.dpar_link(name)}"

    @property
    def predictors_only(self) -> bool:
        """Whether every parameter is a linear predictor built from the formula itself
        (the categories of a categorical response, :meth:`formula_parameters`): the
        formula then has no mean of its own."""
        return False

    def dpar_priors(self, name: str, y: np.ndarray, trials: np.ndarray | None
                    ) -> tuple[PriorSpec, float]:
        """Default priors of parameter ``name`` with its own formula: the intercept's (on
        the link scale, at the predictors' means), and the scale ``s`` that gives a
        coefficient ``Normal(0, s / sd(x))`` and a group sd ``HalfNormal(s / sd(z))``.

        The intercept's prior is centred at the link of a moment estimate of the
        parameter (so that it moves with the response's units, as the parameter does):
        ``Normal(log(start), 2.5)`` on the log scale, ``Normal(logit(start), 1.5)`` on
        the logit scale; the scale ``s`` is 1 on the log scale (a coefficient of 2 per sd
        of ``x`` multiplies the parameter by e^2) and 2.5 on the logit scale."""
        start = float(self.parameter_starts(np.asarray(y, dtype=float), trials)[name])
        if self.dpar_link(name) == "logit":
            start = min(max(start, 0.02), 0.98)
            return ("Normal", {"mu": float(np.log(start / (1.0 - start))), "sigma": 1.5}), 2.5
        return ("Normal", {"mu": float(np.log(max(start, 1e-8))), "sigma": 2.5}), 1.0
