"""Choosing the centred or non-centred form of each block of group effects from the data.

Non-centred group effects (``u = sd * z``) sample well when each level has
little data, so that the prior dominates; centred ones (``u ~ Normal(0, sd)``)
when each level's data pin its effect down (Betancourt & Girolami, 2015;
Papaspiliopoulos, Roberts & Skold, 2007). The deciding quantity is the ratio
of a level's data precision to the prior precision of its effect:

``r = n_j * s^2 / sigma^2``

with ``n_j`` the median number of observations per level, ``s`` a rough
between-level sd and ``sigma`` the residual sd, both estimated by a one-way
analysis of variance of the fixed-effects residuals (Gaussian models). For
other families ``sigma^2`` is replaced by the inverse of the average working
weight of the family at the response's mean (binomial ``1 / (n p (1 - p))``,
Poisson ``1 / mu``, negative binomial ``1 / mu + 1 / alpha``). ``s`` is taken as 1
on the link scale for the Bernoulli, binomial and Poisson families, whose per-row
link-scale pseudo-data are too coarse to estimate it (a Bernoulli row's is
``logit(0.25)`` or ``logit(0.75)``: on a simulated 20,000-row Bernoulli model the
estimate made the block non-centred, and max R-hat rose from 1.006 to 1.014). For
the families with a dispersion parameter (negative binomial, gamma, beta, and the
Gaussian and Student-t with a log or inverse link) ``s`` is estimated, at most 1,
from the same analysis of variance of their link-scale pseudo-data: with ``s = 1``
their blocks of 5 rows per level and a group sd near 0.3 were centred, and 80 of 200
small simulated gamma data sets (87 negative binomial, 84 beta) had divergent
transitions; with the estimate, 4, 0 and 0 (``python scripts/sbc.py --model gamma``,
docs/calibration.md).

The working weight is that of the block's typical level: the family's at the median
of the levels' mean responses, not at the overall mean. A level's information varies
with its mean, and skewed counts put most levels below the overall mean: grouseticks'
ticks (mean 6.4 a chick, median 2) gave the observation-level Poisson
``TICKS ~ C(YEAR) + scale(HEIGHT) + (1 | BROOD) + (1 | INDEX)`` a ratio of 6.4 for
``INDEX`` at the mean (centred), 2.0 at the median (non-centred). With the sds of
non-centred blocks sampled signed (:func:`mixedfit.fast.layout.signed_blocks`) the
non-centred ``INDEX`` reaches min bulk ESS 1170 to 1558 in seeds 1-16 (``python
benchmarks/levers.py hard obs default 1,...,16``), against 423 to 662 centred before
this rule, in the same time (docs/performance.md, "Signed sds"). Of the benchmark cases only this
one changes its choice by this rule (cbpp's ratio 6.2 becomes 5.4, above 5; the
few-levels refinement below makes cbpp non-centred).

A block is centred when ``r`` exceeds :data:`CENTRE_ABOVE` (uncorrelated
blocks) or :data:`CENTRE_CORRELATED_ABOVE` (correlated blocks, whose centred
form with an LKJ prior is slower per draw), so the centred form must pay off
clearly. Three refinements:

- A Gaussian block with at least :data:`MANY_LEVELS` levels is centred when
  ``r > 1``, the crossover of the two forms' convergence rates for Gaussian
  models (Papaspiliopoulos, Roberts & Skold, 2007: the centred form mixes at rate
  ``1 / (1 + r)``, the non-centred at ``r / (1 + r)``). The higher thresholds
  above guard against the centred form's funnel, which needs a poorly identified
  sd; with hundreds of levels the sd is pinned down.
- A block of a family other than the Gaussian with fewer than :data:`FEW_LEVELS`
  levels is centred only when ``r`` exceeds :data:`CENTRE_CORRELATED_ABOVE`: with few
  levels its sd is poorly identified, which is what the centred form's funnel needs.
  cbpp (15 herds, ``r = 5.4``), 4 x 1000 draws, seeds 1-16 (``python
  benchmarks/levers.py hard cbpp,cbpp_probit,cbpp_cloglog default,nc 1,...,16``, with
  the sd of the non-centred block sampled signed): centred, one seed of 16 had
  divergent transitions with each link (1, 1 and 6), min bulk ESS 1351 to 2048;
  non-centred, none in any seed, min bulk ESS 1076 to 1190, and each fit a third faster
  (no low-rank mass matrix to adapt: 0.1 to 0.3 s against 0.3 to 0.4 s).
- A block whose grouping factor contains the levels of a centred block's factor
  (``dept`` above ``d`` in ``(1 | d) + (1 | dept)`` with every ``d`` in one
  ``dept``) is centred too: its effects are told apart from the sum of the nested
  ones only through them, and the rough variance estimate gives the outer factor
  little of its own. On InstEval (73,421 rows; ``s``: 2,972 levels, ``r = 2.1``;
  ``d``: 1,128 levels nested in ``dept``: 14) leaving ``s`` or ``dept``
  non-centred did not converge in 4 x 1000 draws (max R-hat 1.021 and 1.029),
  centring all three did (1.005).

Measured with the compiled backend (4 x 1000 draws, smallest bulk ESS
of the population-level parameters, non-centred against centred): cbpp
(``r = 6.2``) 1255 against 1623, sleepstudy ``(Days | Subject)`` (``r = 14.4``)
792 against 1574, dyestuff (``r = 3.6``) 904 non-centred.

Examples
--------
>>> import mixedfit as mf
>>> from mixedfit.design import build_design
>>> d = build_design("diameter ~ 1 + (1 | plate) + (1 | sample)", mf.load_dataset("penicillin"))
>>> choose_centering(d, mf.families.gaussian())
[True, True]

When every block is centred the sampler also adapts a low-rank mass matrix
(nutpie's ``low_rank_modified_mass_matrix``), which captures the correlation
between the fixed intercept and the mean of centred effects; with non-centred
blocks the diagonal mass matrix samples better.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from mixedfit.design import BlockDesign, Design
from mixedfit.design.nesting import nested_in
from mixedfit.families import Family

__all__ = ["choose_centering", "information_ratios", "CENTRE_ABOVE", "CENTRE_CORRELATED_ABOVE",
           "MANY_LEVELS", "FEW_LEVELS"]

CENTRE_ABOVE = 5.0
CENTRE_CORRELATED_ABOVE = 10.0
#: Levels from which a Gaussian block is centred as soon as ``r > 1``.
MANY_LEVELS = 100
#: Levels below which a block of another family is centred only when ``r`` exceeds
#: :data:`CENTRE_CORRELATED_ABOVE`: its sd is poorly identified, the centred form's funnel.
FEW_LEVELS = 30


def _residuals(design: Design) -> np.ndarray:
    y = design.y.astype(float)
    if design.offset is not None:
        y = y - design.offset
    if design.X.shape[1]:
        beta = np.linalg.lstsq(design.X, y, rcond=None)[0]
        return y - design.X @ beta
    return y - y.mean()


def _backfit(resid: np.ndarray, blocks: list[BlockDesign], sweeps: int = 5
             ) -> tuple[list[float], float]:
    """Rough between-level variances of every block and the residual variance.

    Backfitting of level means (a few Gauss-Seidel sweeps), so that crossed and
    nested factors do not inflate each other's residual variance.
    """
    r = resid.copy()
    effects = [np.zeros(b.n_levels) for b in blocks]
    counts = [np.maximum(np.bincount(b.index, minlength=b.n_levels), 1) for b in blocks]
    # finest factor first: in nested designs the inner factor's effects absorb what
    # the data cannot tell apart, so the outer factor keeps only what is left over
    order = sorted(range(len(blocks)), key=lambda k: -blocks[k].n_levels)
    for _ in range(sweeps):
        for k in order:
            b = blocks[k]
            partial = r + effects[k][b.index]
            effects[k] = np.bincount(b.index, weights=partial, minlength=b.n_levels) / counts[k]
            r = partial - effects[k][b.index]
    dof = max(len(r) - sum(b.n_levels for b in blocks), 1)
    sigma2 = float(r @ r) / dof
    between = []
    for k, b in enumerate(blocks):
        n_bar = float(np.median(counts[k]))
        var = float(np.var(effects[k], ddof=1)) if b.n_levels > 1 else 0.0
        between.append(max(var - sigma2 / n_bar, 0.0))
    return between, sigma2


def _link_residuals(design: Design, family: Family) -> np.ndarray:
    """Residuals of the family's rough linear predictor per row on the fixed effects."""
    z = np.asarray(family.link_scale_start(design.y.astype(float), design.trials), float)
    if design.offset is not None:
        z = z - design.offset
    if design.X.shape[1]:
        return z - design.X @ np.linalg.lstsq(design.X, z, rcond=None)[0]
    return z - z.mean()


def information_ratios(design: Design, family: Family) -> list[float]:
    """``n_j s^2 / sigma^2`` of each block (see the module docstring)."""
    ratios = []
    gaussian = family.location_scale
    if gaussian and design.blocks:
        between, sigma2 = _backfit(_residuals(design), design.blocks)
    elif design.blocks and family.parameters:
        # a family with its own dispersion parameter (negative binomial, gamma, beta, a
        # Gaussian or Student-t with another link): s from its link-scale pseudo-data
        between, _ = _backfit(_link_residuals(design, family), design.blocks)
    for k, block in enumerate(design.blocks):
        n_bar = float(np.median(block.counts[block.counts > 0]))
        if gaussian:
            ratios.append(np.inf if sigma2 <= 0 else n_bar * between[k] / sigma2)
        else:
            s2 = min(between[k], 1.0) if family.parameters and n_bar > 1 else 1.0
            y = _typical_level(design.y.astype(float), block)
            ratios.append(n_bar * s2 / family.working_variance(y, design.trials))
    return ratios


def _typical_level(y: np.ndarray, block: BlockDesign) -> np.ndarray:
    """The response scaled so that its mean is the median of the block's level means: the
    working weight of the block's typical level, not that at the overall mean (a level's
    information varies with its mean, and skewed counts put most levels below it)."""
    mean = float(np.mean(y))
    present = block.counts > 0
    if not mean > 0 or not present.any():
        return y
    means = np.bincount(block.index, weights=y, minlength=block.n_levels)[present] \
        / block.counts[present]
    return y * (float(np.median(means)) / mean)


def choose_centering(design: Design, family: Family) -> list[bool]:
    """Centred (True) or non-centred (False) for each block of the design; the blocks of
    a family parameter's own formula are non-centred (a level's rows carry little
    information about its scale)."""
    if design.dpars:
        mean = dataclasses.replace(design, X=design.X[:, design.columns_of("")],
                                   fixed_columns=[design.fixed_columns[j]
                                                  for j in design.columns_of("")],
                                   fixed_targets=[], dpar_formulas={},
                                   blocks=design.blocks_of(""))
        chosen = iter(choose_centering(mean, family))
        return [False if b.target else next(chosen) for b in design.blocks]
    gaussian = family.location_scale
    out = []
    for block, r in zip(design.blocks, information_ratios(design, family), strict=True):
        limit = CENTRE_CORRELATED_ABOVE if block.correlated and block.n_terms > 1 else CENTRE_ABOVE
        if gaussian and block.n_levels >= MANY_LEVELS:
            limit = 1.0
        elif not gaussian and block.n_levels < FEW_LEVELS:
            limit = max(limit, CENTRE_CORRELATED_ABOVE)
        out.append(bool(r > limit))
    for i, outer in enumerate(design.blocks):
        if not out[i] and any(out[j] and nested_in(inner, outer)
                              for j, inner in enumerate(design.blocks) if j != i):
            out[i] = True
    return out

