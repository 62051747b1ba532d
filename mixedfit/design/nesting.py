"""Nesting of grouping factors: whether one factor's levels lie within another's, and
which levels of a nested factor each outer level holds.

Examples
--------
>>> import mixedfit as mf
>>> from mixedfit.design import build_design
>>> d = build_design("strength ~ 1 + (1 | batch/cask)", mf.load_dataset("pastes"))
>>> [b.label for b in d.blocks], nested_in(d.blocks[1], d.blocks[0])
(['batch', 'batch:cask'], True)
"""

from __future__ import annotations

import dataclasses

import numpy as np

from mixedfit.design.design import BlockDesign, Design

__all__ = ["nested_in", "nested_groups", "NestedGroups"]


def nested_in(inner: BlockDesign, outer: BlockDesign) -> bool:
    """Whether every level of ``inner``'s factor lies within one level of ``outer``'s."""
    if outer.n_levels >= inner.n_levels:
        return False
    parent = np.full(inner.n_levels, -1)
    parent[inner.index] = outer.index
    return bool(np.all(parent[inner.index] == outer.index))


@dataclasses.dataclass(frozen=True)
class NestedGroups:
    """The levels of a factor nested in another, grouped by the outer level that holds
    them (see :func:`nested_groups`): outer level ``outer_levels[g]`` holds the inner
    levels ``inner_levels[starts[g]:starts[g + 1]]``."""

    inner: int  # the nested block (its position among the design's blocks)
    outer: int  # the block of the factor it is nested in
    outer_levels: np.ndarray
    starts: np.ndarray
    inner_levels: np.ndarray

    def members(self, g: int) -> np.ndarray:
        """The inner levels that outer level ``outer_levels[g]`` holds."""
        return self.inner_levels[self.starts[g]:self.starts[g + 1]]


def nested_groups(design: Design, centering: list[bool]) -> list[NestedGroups]:
    """The pairs of non-centred intercept blocks ``(1 | outer) + (1 | inner)``, ``inner``
    nested in ``outer``, with the inner levels each outer level holds.

    At an outer level holding inner levels ``1..k`` the likelihood reads only the ``k``
    sums ``u_outer + u_inner_i``; of the ``k + 1`` standard normal effects, one direction
    is seen by the prior alone, and the two sds trade off along it (the grouseticks
    negative binomial's sd(LOCATION) mixed slowly: its 63 locations hold 118 broods, 35
    of them one brood). The compiled backend samples each group's effects reflected, one
    coordinate along that direction (``mixedfit.fast.kernel.logp_grad``); a reflection
    changes neither the prior nor the model. Each block is in one pair at most (the
    first in formula order), and both blocks add to the same linear predictor.

    Examples
    --------
    >>> import mixedfit as mf
    >>> from mixedfit.design import build_design
    >>> d = build_design("TICKS ~ 1 + (1 | BROOD) + (1 | LOCATION)",
    ...                  mf.load_dataset("grouseticks"))
    >>> (grp,) = nested_groups(d, [False, False])
    >>> grp.inner, grp.outer, grp.outer_levels.size, int((np.diff(grp.starts) == 1).sum())
    (0, 1, 63, 35)
    """
    def plain(k: int) -> bool:
        b = design.blocks[k]
        return (not centering[k] and b.n_terms == 1 and bool(np.all(b.Z[:, 0] == 1.0)))

    out: list[NestedGroups] = []
    used: set[int] = set()
    for i, inner in enumerate(design.blocks):
        for j, outer in enumerate(design.blocks):
            if (i == j or i in used or j in used or not plain(i) or not plain(j)
                    or inner.target != outer.target or not nested_in(inner, outer)):
                continue
            parent = np.full(inner.n_levels, -1)
            parent[inner.index] = outer.index
            present = np.flatnonzero(parent >= 0)
            order = present[np.argsort(parent[present], kind="stable")]
            outer_levels, counts = np.unique(parent[order], return_counts=True)
            out.append(NestedGroups(inner=i, outer=j, outer_levels=outer_levels,
                                    starts=np.concatenate([[0], np.cumsum(counts)]),
                                    inner_levels=order))
            used |= {i, j}
    return out
