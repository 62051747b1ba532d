"""The categorical family: an unordered outcome with more than two categories
(multinomial logit).

A response with categories ``c_1, ..., c_K`` (the first is the reference) has one
linear predictor per other category, the log odds of that category against the
reference::

    P(y = c_k) = exp(mu_k) / (1 + sum_j exp(mu_j)),    mu_1 = 0

Each ``mu_k`` has the whole formula's fixed and group terms, with its own coefficients
(brms' ``categorical()``: ``muB_Intercept``, ``muB_x``, ``sd(muB_Intercept|g)``;
Bambi's ``categorical`` family): ``y ~ x + (1 | g)`` is ``K - 1`` linear predictors,
each reported as a family parameter's own formula (:mod:`mixedfit.design`), named
``mu<category>``. The group effects of different categories are independent.

The categories come from the response: a categorical column in its category order, or
text and numbers sorted; ``categories=`` states them (and so the reference, first).

Examples
--------
>>> import numpy as np
>>> fam = Categorical(categories=["a", "b", "c"])
>>> fam.parameters
('mub', 'muc')
>>> p = fam.category_probabilities(np.zeros((1, 1)), {"mub": np.zeros((1, 1)),
...                                                   "muc": np.log(np.full((1, 1), 2.0))})
>>> np.round(p[0, 0], 3).tolist()
[0.25, 0.25, 0.5]
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy import special

from mixedfit.errors import FamilyError
from mixedfit.families.categories import CategoryFamily
from mixedfit.families.family import PriorSpec

__all__ = ["Categorical", "predictor_names"]


def predictor_names(categories: Sequence[str]) -> tuple[str, ...]:
    """The names of the linear predictors of the non-reference categories: ``mu`` and
    the category's label, other characters than letters, digits and ``.`` made ``_``.

    Examples
    --------
    >>> predictor_names(["no", "yes, often", "2"])
    ('muyes__often', 'mu2')
    """
    names = tuple("mu" + re.sub(r"[^0-9A-Za-z.]", "_", str(c)) for c in categories[1:])
    if len(set(names)) != len(names):
        raise FamilyError(f"The categories {list(categories)!r} give the same parameter name "
                          f"twice ({', '.join(names)}): relabel them with letters and digits.")
    return names


class Categorical(CategoryFamily):
    """``P(y = c_k) = softmax(0, mu_2, ..., mu_K)_k``: an unordered categorical response;
    link logit (the log odds against the first category).

    Parameters
    ----------
    link : {"logit"}, optional
    categories : sequence, optional
        The response's categories, the reference first. Given, the response's values
        (compared as text) must be among them; by default they come from the response.
    """

    name = "categorical"
    links = ("logit",)
    kind = "categorical (multinomial logit)"
    _compiled = "categorical"
    _order = "the reference first"

    def _check_categories(self, categories: tuple[str, ...]) -> None:
        predictor_names(categories)

    @property
    def parameters(self) -> tuple[str, ...]:  # type: ignore[override]
        """The linear predictors ``mu<category>`` of the non-reference categories."""
        return () if self.categories is None else predictor_names(self.categories)

    @property
    def predictors_only(self) -> bool:
        return True

    def dpar_link(self, name: str) -> str:
        return "identity"  # each predictor is a log odds itself

    def dpar_description(self, name: str) -> str:
        assert self.categories is not None
        label = self.categories[1 + self.parameters.index(name)]
        return f"log odds of {label!r} against {self.categories[0]!r}"

    def parameter_starts(self, y: np.ndarray, trials: np.ndarray | None) -> dict[str, float]:
        # the log odds of each category's share against the reference's
        k = len(self.parameters) + 1
        counts = np.bincount(np.asarray(y, dtype=int), minlength=k)[:k] + 0.5
        return dict(zip(self.parameters, np.log(counts[1:] / counts[0]).tolist(), strict=True))

    def dpar_priors(self, name: str, y: np.ndarray, trials: np.ndarray | None
                    ) -> tuple[PriorSpec, float]:
        """Each category's intercept ``Normal(log odds of its share, 2.5)`` (at the
        predictors' means), coefficients ``Normal(0, 2.5 / sd(x))`` and group sds
        ``HalfNormal(2.5 / sd(z))``, the logit scale's defaults (rstanarm's)."""
        start = self.parameter_starts(np.asarray(y, dtype=float), trials)[name]
        return ("Normal", {"mu": float(start), "sigma": 2.5}), 2.5

    def link_scale_start(self, y: np.ndarray, trials: np.ndarray | None) -> np.ndarray:
        return np.zeros(np.shape(y))

    def working_variance(self, y: np.ndarray, trials: np.ndarray | None) -> float:
        return 4.0  # a binary logit's at p = 1/2

    # ------------------------------------------------------------ the mean
    def _logits(self, params: dict[str, np.ndarray]) -> np.ndarray:
        """``(S, n, K)`` log odds against the reference (0 for it)."""
        mus = [np.asarray(params[p], dtype=float) for p in self.parameters]
        mus = [m if m.ndim == 2 else m[:, None] for m in mus]
        shape = np.broadcast_shapes(*(m.shape for m in mus))
        return np.stack([np.zeros(shape), *(np.broadcast_to(m, shape) for m in mus)], axis=2)

    def category_probabilities(self, eta: np.ndarray, params: dict[str, np.ndarray]
                               ) -> np.ndarray:
        """``P(y = k)`` ``(S, n, K)`` from the categories' predictors (``params``)."""
        logits = self._logits(params)
        return special.softmax(np.broadcast_to(logits, (*np.shape(eta), logits.shape[2])),
                               axis=2)

    # ------------------------------------------------------------ likelihood
    def pymc_likelihood(self, pm: Any, pt: Any, eta: Any, params: dict[str, Any],
                        y: np.ndarray, trials: np.ndarray | None) -> Any:
        logits = pt.stack([pt.zeros_like(eta), *(params[p] + pt.zeros_like(eta)
                                                 for p in self.parameters)], axis=1)
        return pm.Categorical("y", logit_p=logits, observed=np.asarray(y, dtype=int),
                              dims="obs")

    def log_likelihood(self, y, eta, params, trials):  # noqa: ANN001, ANN201 - as Family
        logits = np.broadcast_to(self._logits(params), (*np.shape(eta), len(self.parameters)
                                                        + 1))
        code = np.asarray(y, dtype=int)
        outside = (code < 0) | (code >= logits.shape[2])  # not a category: probability 0
        code = np.clip(code, 0, logits.shape[2] - 1)
        picked = np.take_along_axis(logits, np.broadcast_to(code[None, :, None],
                                                            (*logits.shape[:2], 1)), axis=2)
        out = picked[..., 0] - special.logsumexp(logits, axis=2)
        return np.where(outside, -np.inf, out)

    def simulate(self, mu, params, trials, rng):  # noqa: ANN001, ANN201 - as Family
        p = self.category_probabilities(np.asarray(mu, dtype=float), params)
        u = rng.uniform(size=p.shape[:2])
        return np.sum(np.cumsum(p, axis=2)[..., :-1] < u[..., None], axis=2).astype(float)

    def variance(self, mu: np.ndarray) -> np.ndarray:
        return np.ones_like(np.asarray(mu, dtype=float))
