"""What the families of a categorical response share: their categories.

An ordinal (:mod:`~mixedfit.families.cumulative`) or unordered
(:mod:`~mixedfit.families.categorical`) family learns the categories of its response
when the design reads it (:meth:`CategoryFamily.for_levels`), or is given them
(``categories=``); its parameters depend on how many there are. The design layer reads
such a response as codes ``0, ..., K - 1``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from mixedfit.errors import FamilyError
from mixedfit.families.family import Family

__all__ = ["CategoryFamily"]


class CategoryFamily(Family):
    """A family whose response is one of ``K`` categories.

    Parameters
    ----------
    link : str, optional
        One of :attr:`links`.
    categories : sequence, optional
        The response's categories in the family's order (lowest first for an ordinal
        one, the reference first for an unordered one); compared with the response's
        values as text. By default they come from the response.
    """

    discrete = True
    categorical_response = True
    #: how the order of ``categories=`` is described in messages
    _order: str = "lowest first"

    def __init__(self, link: str | None = None, categories: Sequence[Any] | None = None
                 ) -> None:
        super().__init__(link)
        self.categories: tuple[str, ...] | None = None
        if categories is not None:
            cats = tuple(str(c) for c in categories)
            if len(cats) < 2 or len(set(cats)) != len(cats):
                raise FamilyError(f"categories= must list at least two distinct categories, "
                                  f"{self._order}; got {list(categories)!r}.")
            self.categories = cats
            self._check_categories(cats)

    def _check_categories(self, categories: tuple[str, ...]) -> None:
        """Refuse categories the family cannot name its parameters after."""

    def __repr__(self) -> str:
        if self.categories is None:
            return super().__repr__()
        return (f"Family(name={self.name!r}, link={self.link!r}, "
                f"categories={list(self.categories)!r})")

    def __eq__(self, other: object) -> bool:
        return super().__eq__(other) and getattr(other, "categories", None) == self.categories

    def __hash__(self) -> int:
        return hash((self.name, self.link, self.categories))

    def for_levels(self, levels: Sequence[str] | None) -> CategoryFamily:
        """This family with the response's categories (in the family's order)."""
        return self if levels is None else type(self)(self.link, levels)

    def prior_location_scale(self, y: np.ndarray, trials: np.ndarray | None = None
                             ) -> tuple[float, float]:
        return 0.0, 1.0

    def degenerate(self, y: np.ndarray, trials: np.ndarray | None, name: str
                   ) -> tuple[str, str] | None:
        return None  # the response's categories are checked when they are read

    def own_fit_problem(self, y: np.ndarray, n: np.ndarray | None) -> str:
        return (f"no own fit is computed for a level of a {self.name} model (it would need "
                f"the level's own intercepts for every category)")

    def inverse_link(self, eta: Any, xp: Any = np) -> Any:
        """The linear predictor itself: the probabilities come from it and the family's
        parameters (:meth:`category_probabilities`)."""
        return eta

    def expected_response(self, eta: np.ndarray, params: dict[str, np.ndarray]) -> np.ndarray:
        """The expected code ``sum_k k P(y = k)``, counting the categories from 0 as the
        design's response and the simulator do; the probabilities of each category are
        :meth:`category_probabilities` (what ``res.predict`` reports)."""
        p = self.category_probabilities(eta, params)
        assert p is not None
        return p @ np.arange(float(p.shape[2]))
