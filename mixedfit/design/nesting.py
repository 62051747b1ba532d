"""Nesting of grouping factors: whether one factor's levels lie within another's, and
the outer levels that hold a single nested level.

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

__all__ = ["nested_in", "singleton_nesting", "NestedPairs"]


def nested_in(inner: BlockDesign, outer: BlockDesign) -> bool:
    """Whether every level of ``inner``'s factor lies within one level of ``outer``'s."""
    if outer.n_levels >= inner.n_levels:
        return False
    parent = np.full(inner.n_levels, -1)
    parent[inner.index] = outer.index
    return bool(np.all(parent[inner.index] == outer.index))


@dataclasses.dataclass(frozen=True)
class NestedPairs:
    """Levels of an outer factor that hold a single level of a factor nested in it, and
    that level: their rows are the same, so the data see only the sum of the two
    effects (see :func:`singleton_nesting`)."""

    inner: int  # the nested block (its position among the design's blocks)
    outer: int  # the block of the factor it is nested in
    inner_levels: np.ndarray
    outer_levels: np.ndarray


def singleton_nesting(design: Design, centering: list[bool]) -> list[NestedPairs]:
    """The pairs of non-centred intercept blocks ``(1 | outer) + (1 | inner)``, ``inner``
    nested in ``outer``, with the outer levels that hold a single inner level.

    At such a level the likelihood reads only ``u_inner + u_outer``, and the two sds
    trade off against each other: with 35 of its 63 locations holding one brood, the
    grouseticks negative binomial's sd(LOCATION) mixed slowly. The compiled backend
    samples each such pair's standard normal effects rotated, as the direction of
    their sum and the one across it (``mixedfit.fast.kernel.logp_grad``); a rotation
    changes neither the prior nor the model. Each block is in one pair at most (the
    first in formula order), and both blocks add to the same linear predictor.

    Examples
    --------
    >>> import mixedfit as mf
    >>> from mixedfit.design import build_design
    >>> d = build_design("TICKS ~ 1 + (1 | BROOD) + (1 | LOCATION)",
    ...                  mf.load_dataset("grouseticks"))
    >>> [(p.inner, p.outer, p.outer_levels.size) for p in singleton_nesting(d, [False, False])]
    [(0, 1, 35)]
    """
    def plain(k: int) -> bool:
        b = design.blocks[k]
        return (not centering[k] and b.n_terms == 1 and bool(np.all(b.Z[:, 0] == 1.0)))

    out: list[NestedPairs] = []
    used: set[int] = set()
    for i, inner in enumerate(design.blocks):
        for j, outer in enumerate(design.blocks):
            if (i == j or i in used or j in used or not plain(i) or not plain(j)
                    or inner.target != outer.target or not nested_in(inner, outer)):
                continue
            parent = np.full(inner.n_levels, -1)
            parent[inner.index] = outer.index
            present = parent >= 0
            children = np.bincount(parent[present], minlength=outer.n_levels)
            outer_levels = np.flatnonzero(children == 1)
            if not outer_levels.size:
                continue
            child = np.full(outer.n_levels, -1)
            child[parent[present]] = np.flatnonzero(present)
            out.append(NestedPairs(inner=i, outer=j, inner_levels=child[outer_levels],
                                   outer_levels=outer_levels))
            used |= {i, j}
    return out
