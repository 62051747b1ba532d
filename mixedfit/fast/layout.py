"""Packing a model into the flat buffer that :mod:`mixedfit.fast.kernel` reads.

Everything is packed in the internal coordinates of :mod:`mixedfit.standardize`
(centred and scaled data, so that neither the response's nor the predictors'
origin and units reach the kernel); :func:`mixedfit.fast.sampler.constrain` maps the
draws back to the user's parameters.

The parameter vector the sampler moves in (all unconstrained, internal units)::

    [ fixed effects (p) | logs of the family's parameters | block 1 | block 2 | ... ]

    family's parameters: sigma (Gaussian), sigma and nu (Student-t), alpha (negative
    binomial, gamma), kappa (beta), none (Bernoulli, binomial, Poisson)

    block:  [ log sd (q) | correlation (q (q - 1) / 2, correlated blocks) |
              effects (levels x q): z (non-centred) or u (centred) ]

A parameter under a ``Uniform(lower, upper)`` prior is moved by an interval transform
instead (PyMC's: the logit of where it lies in its interval): an sd or a family
parameter in its own slot (:attr:`Layout.bounded`), the fixed effects, whose priors sit
on linear combinations of them, through an affine change of their coordinates
(:class:`FixedMap`).

The correlation of a block is parameterised as Stan's ``cholesky_factor_corr``:
``tanh`` of the unconstrained values gives canonical partial correlations, which
build the Cholesky factor ``L`` of the correlation matrix; the LKJ prior is put
on the correlation matrix. Non-centred effects are ``u_g = diag(sd) L z_g``.
This is the same posterior as the PyMC model of :mod:`mixedfit.model`, moved to
the variables of :mod:`mixedfit.model` by
:func:`~mixedfit.fast.sampler.constrain`.

The buffer (float64) starts with a header of :data:`~mixedfit.fast.buffer.HEADER`
slots (lengths and offsets of the parts; every slot is named in
:mod:`mixedfit.fast.buffer`), then one descriptor of
:data:`~mixedfit.fast.buffer.BLOCK_WIDTH` slots per block,
then the priors (code, three parameters and the factor from the sampler's value
to the parameter the prior sits on; the fixed effects' priors sit on the rows of a
p x p map at slot ``H_BETA_MAP``), then the data: either the
rows (``X``, ``y``, trials, offset, each block's ``Z`` and level index; integer
values are stored exactly as floats) or, for a Gaussian model with one block,
the sufficient statistics ``y'y``, ``X'y``, ``X'X`` and per level ``Z_g'Z_g``,
``Z_g'y``, ``Z_g'X``, which make a gradient cost O(levels) whatever the
number of rows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import sparse

from mixedfit.design import Design
from mixedfit.design.nesting import nested_groups
from mixedfit.families import Family
from mixedfit.fast import buffer as B
from mixedfit.names import cor_key, sd_key
from mixedfit.priors import Prior, thresholds_inside
from mixedfit.standardize import Standardization, standardize

__all__ = ["Layout", "unsupported_reason", "marginal_reason", "make_layout", "parameter_count",
           "signed_blocks"]

#: kernel code of each prior distribution it evaluates, with its parameters in order
PRIOR_CODES = {
    "Normal": (B.NORMAL, ("mu", "sigma")),
    "HalfNormal": (B.HALFNORMAL, ("sigma",)),
    "HalfStudentT": (B.HALFSTUDENTT, ("nu", "sigma")),
    "Exponential": (B.EXPONENTIAL, ("lam",)),
    "HalfCauchy": (B.HALFCAUCHY, ("beta",)),
    "StudentT": (B.STUDENTT, ("nu", "mu", "sigma")),
    "Cauchy": (B.CAUCHY, ("alpha", "beta")),
    "Gamma": (B.GAMMA, ("alpha", "beta")),
    "InverseGamma": (B.INVGAMMA, ("alpha", "beta")),
    "LogNormal": (B.LOGNORMAL, ("mu", "sigma")),
    "Laplace": (B.LAPLACE, ("mu", "b")),
    "Beta": (B.BETA_PRIOR, ("alpha", "beta")),
    "Uniform": (B.UNIFORM, ("lower", "upper")),
}


def _prior_row(prior: Prior, factor: float = 1.0, shift: float = 0.0) -> list[float]:
    """The kernel's row of a prior: code, three parameters, factor. The prior sits on
    ``shift + factor * v`` for the sampler's value ``v``; the shift is moved into the
    distribution's location (so that large shifts cancel exactly here, not in the kernel)."""
    code, names = PRIOR_CODES[prior.kind.name]
    values = dict(prior.values)
    if shift:
        for key in (("lower", "upper") if prior.kind.name == "Uniform"
                    else (prior.kind.location,)):
            values[key] -= shift
    row = [float(values[k]) for k in names]
    out = [float(code), *row, *[0.0] * (3 - len(row)), float(factor)]
    assert len(out) == B.PRIOR_WIDTH
    return out


def unsupported_reason(design: Design, family: Family, priors: dict[str, Prior]) -> str | None:
    """Why the compiled kernel cannot fit this model (None when it can).

    Examples
    --------
    >>> import mixedfit as mf
    >>> from mixedfit.design import build_design
    >>> from mixedfit.priors import resolve_priors
    >>> fam = mf.families.gaussian()
    >>> d = build_design("Reaction ~ Days + (Days | Subject)", mf.load_dataset("sleepstudy"))
    >>> unsupported_reason(d, fam, resolve_priors(d, fam, None)) is None
    True
    >>> pri = resolve_priors(d, fam, {"Days": mf.Prior("Uniform", lower=-50, upper=50)})
    >>> unsupported_reason(d, fam, pri) is None  # (an interval transform, as PyMC's)
    True

    On an ordinal model's thresholds one ``Uniform`` prior maps their ordered values into
    its interval (:attr:`Layout.ordered_bounds`); an ordinal family needs its
    categories first:

    >>> wine = mf.load_dataset("wine")
    >>> fam = mf.families.cumulative()
    >>> d = build_design("rating ~ temp + (1 | judge)", wine, family=fam)
    >>> unsupported_reason(d, fam, {})[:54]
    'the cumulative family before its categories are known '
    >>> fam = fam.for_levels(d.categories)
    >>> pri = resolve_priors(d, fam, {"Intercept[2]": mf.Prior("Uniform", lower=-5, upper=5)})
    >>> unsupported_reason(d, fam, pri) is None
    True
    """
    if family.compiled not in B.FAMILIES or family.link not in B.LINKS:
        return f"the {family.name} family with the {family.link} link"
    if family.categorical_response and not family.parameters:
        return (f"the {family.name} family before its categories are known (bind them with "
                f"family.for_levels(design.categories))")
    if family.predictors_only and set(family.parameters) != set(design.dpar_formulas):
        return (f"the {family.name} family with a design not built for it (build it with "
                f"family={family.name!r})")
    keys = list(design.fixed_columns)
    keys += [sd_key(c, b.group) for b in design.blocks for c in b.columns]
    keys += [p for p in family.parameters if p not in design.dpar_formulas]
    for key in keys:
        if priors[key].kind.name not in PRIOR_CODES:
            return f"the prior {priors[key]} on {key}"
    return None


#: Most group effects that a marginal model puts in one dense cluster (models whose
#: blocks do not share one grouping factor): the cost of a gradient grows as its cube.
MARGINAL_DENSE_MAX = 50


def _one_factor(design: Design) -> bool:
    """Whether every block has the same grouping factor (so levels are independent)."""
    first = design.blocks[0]
    return all(b.group == first.group and np.array_equal(b.index, first.index)
               for b in design.blocks[1:])


def marginal_reason(design: Design, family: Family) -> str | None:
    """Why the group effects of this model cannot be integrated out (None when they can).

    They can for Gaussian models (identity link) whose blocks share one grouping
    factor, whatever the size, or that have at most :data:`MARGINAL_DENSE_MAX` group
    effects in all (see :mod:`mixedfit.fast.marginal`).

    Examples
    --------
    >>> import mixedfit as mf
    >>> from mixedfit.design import build_design
    >>> d = build_design("Reaction ~ Days + (Days | Subject)", mf.load_dataset("sleepstudy"))
    >>> marginal_reason(d, mf.families.gaussian()) is None
    True
    >>> marginal_reason(d, mf.families.poisson())  # doctest: +NORMALIZE_WHITESPACE
    'the poisson family with the log link (only the group effects of a Gaussian response
    with the identity link integrate out)'
    """
    if not family.integrates_out:
        return (f"the {family.name} family with the {family.link} link (only the group effects "
                f"of a Gaussian response with the identity link integrate out)")
    if design.dpars:
        return (f"a formula for {', '.join(design.dpars)} (the residual variance varies by "
                f"row and group)")
    if not design.blocks:
        return "a model without group effects"
    if _one_factor(design):
        return None
    total = sum(b.n_levels * b.n_terms for b in design.blocks)
    if total > MARGINAL_DENSE_MAX:
        return (f"{total} group effects of crossed or nested factors (at most "
                f"{MARGINAL_DENSE_MAX} when the blocks do not share one grouping factor)")
    return None


@dataclass
class BlockSlots:
    """Where one block's parameters sit in the parameter vector."""

    sd: int
    cor: int
    n_cor: int
    effects: int
    q: int
    m: int
    centred: bool
    #: fixed-effect column of each term, for a centred block whose parameters are the
    #: group-level coefficients ``beta + u`` (hierarchical centring); -1 where none
    fixed_of_term: list[int] = field(default_factory=list)
    #: the block's one sd is sampled signed (:data:`SIGNED_PRIORS`): the sampler's value
    #: ``s`` at ``sd``, the sd ``|s|`` and the effects ``s z`` (else its log, or its
    #: interval transform under a Uniform prior)
    signed: bool = False


def _logit_inside(value: Any, lower: Any, upper: Any, margin: float = 0.05) -> Any:
    """The interval transform's coordinate of ``value`` in ``[lower, upper]``, moved
    ``margin`` of the width inside it (start values: a least-squares value outside the
    interval, or on its bound, starts near that bound)."""
    t = np.clip((np.asarray(value, dtype=float) - lower) / (np.asarray(upper) - lower),
                margin, 1.0 - margin)
    return np.log(t / (1.0 - t))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    from scipy.special import expit  # deferred: scipy.special only where used

    return expit(x)


@dataclass
class FixedMap:
    """The sampler's coordinates of the fixed effects when some of their priors are
    ``Uniform`` (an interval transform of a linear combination of them).

    Fixed prior ``k`` sits on ``h_k + R_k . beta*`` (``(R, h)`` from
    :meth:`mixedfit.standardize.Standardization.fixed_prior_rows`): for a slope of a
    centred predictor ``R_k`` is one coordinate, for an intercept at the origin (a user's
    prior) or at the predictors' means a combination of several. For the rows ``U`` under
    ``Uniform(lower, upper)`` priors, ``|U|`` pivot coordinates ``P`` are chosen by QR with
    column pivoting of ``R_U`` (so that ``R_UP`` is well conditioned); the sampler's
    coordinate at ``P_j`` is the logit of where the value under prior ``U_j`` lies in its
    interval, the others are ``beta*``'s own::

        v_j = lower_j - h_j + width_j sigmoid(x[P_j])   (the prior's value, less h_j)
        y = x[:p] with y[P_j] = v_j;  beta* = M y

    with ``M`` the identity on the other coordinates and ``beta*_P = R_UP^-1 (v - R_UN
    beta*_N)``. The linear part has a constant determinant, so the log Jacobian is
    ``sum_j log(sigmoid(x[P_j]) (1 - sigmoid(x[P_j])))`` up to a constant. As PyMC's
    interval transform, which the PyMC model puts on each such value directly.
    """

    rows: np.ndarray  # U: the fixed columns with a Uniform prior
    pivots: np.ndarray  # P
    lower: np.ndarray  # lower_j - h_j
    width: np.ndarray  # upper_j - lower_j
    matrix: np.ndarray  # M (p x p)
    prior_rows: np.ndarray  # R_U (|U| x p)

    @classmethod
    def build(cls, R: np.ndarray, shifts: np.ndarray, priors: list[Prior]) -> FixedMap | None:
        """The map for fixed priors ``priors`` (in column order), None without a Uniform."""
        rows = np.array([k for k, pr in enumerate(priors) if pr.kind.name == "Uniform"],
                        dtype=np.int64)
        if not rows.size:
            return None
        from scipy.linalg import qr  # deferred: only with Uniform priors

        p = R.shape[1]
        RU = np.asarray(R[rows], dtype=float)
        pivots = np.asarray(qr(RU, mode="r", pivoting=True)[1][:rows.size], dtype=np.int64)
        others = np.setdiff1d(np.arange(p), pivots)
        inv = np.linalg.inv(RU[:, pivots])
        M = np.eye(p)
        M[np.ix_(pivots, pivots)] = inv
        M[np.ix_(pivots, others)] = -inv @ RU[:, others]
        lower = np.array([priors[k].values["lower"] for k in rows]) - shifts[rows]
        width = np.array([priors[k].values["upper"] - priors[k].values["lower"]
                          for k in rows])
        return cls(rows=rows, pivots=pivots, lower=lower, width=width, matrix=M,
                   prior_rows=RU)

    def packed(self) -> np.ndarray:
        """The map as the kernel reads it (:mod:`mixedfit.fast.buffer`)."""
        return np.concatenate([[self.rows.size], self.pivots, self.lower, self.width,
                               self.matrix.ravel()])

    def to_internal(self, x: np.ndarray) -> np.ndarray:
        """``beta*`` from the sampler's fixed-effect coordinates ``(..., p)``."""
        y = np.array(x, dtype=float, copy=True)
        y[..., self.pivots] = self.lower + self.width * _sigmoid(y[..., self.pivots])
        return y @ self.matrix.T

    def start(self, beta: np.ndarray, scale: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Start values and jitter in the sampler's coordinates from those of ``beta*``:
        each value under a Uniform prior moved inside its interval, its jitter the
        coordinate's jitter carried through the interval transform (at most 0.5)."""
        x = np.array(beta, dtype=float, copy=True)
        sc = np.array(scale, dtype=float, copy=True)
        v = self.prior_rows @ beta
        x[self.pivots] = _logit_inside(v, self.lower, self.lower + self.width)
        s = _sigmoid(x[self.pivots])
        spread = sc[self.pivots] * np.linalg.norm(self.prior_rows, axis=1)
        sc[self.pivots] = np.minimum(0.5, spread / (self.width * s * (1.0 - s)))
        return x, sc


@dataclass
class Layout:
    """A packed model: the buffer, the parameter slots and the start values."""

    buffer: np.ndarray
    dim: int
    p: int
    #: the family's own parameters: name -> (position of its log in the parameter
    #: vector, the factor from the sampler's value to the user's: the response's scale
    #: for the sigma of a standardised response, else 1)
    family_slots: dict[str, tuple[int, float]] = field(default_factory=dict)
    #: how the sampler moves each family parameter (its slot holds the log, the logit,
    #: the value, or the log of its difference from the parameter before it): name ->
    #: :meth:`mixedfit.families.Family.parameter_transform`
    family_kinds: dict[str, str] = field(default_factory=dict)
    blocks: list[BlockSlots] = field(default_factory=list)
    sufficient: bool = False
    init_center: np.ndarray | None = None
    init_scale: np.ndarray | None = None
    #: positions of the population-level parameters and of the group effects when the
    #: stored draws pack the group effects in single precision (else None)
    packed: tuple[np.ndarray, np.ndarray] | None = None
    #: the group effects are integrated out (:mod:`mixedfit.fast.marginal`): the
    #: parameter vector has no effects and ``n_effects`` are drawn after sampling
    marginal: bool = False
    n_effects: int = 0
    #: the internal coordinates and the maps back to the user's parameters
    standardization: Standardization | None = None
    #: the fixed effects' coordinates when some of their priors are Uniform (else None:
    #: the sampler's first p coordinates are ``beta*``)
    fixed_map: FixedMap | None = None
    #: the sds and family parameters under a Uniform prior, moved by an interval
    #: transform: position -> (lower, upper, factor), the value where the prior sits
    #: ``lower + (upper - lower) sigmoid(x)``, the internal value that over ``factor``
    bounded: dict[int, tuple[float, float, float]] = field(default_factory=dict)
    #: an ordinal model's thresholds under one Uniform prior, ``(lower, upper)``: the
    #: values of their ordered transform are mapped into it by an interval transform
    #: (PyMC's chain of the two); None otherwise
    ordered_bounds: tuple[float, float] | None = None
    #: groups of nested effects sampled reflected (see nested_groups in
    #: mixedfit.design.nesting): their records as the buffer holds them,
    #: ``[n, then n groups of (sd_b, sd_l, signed_b, signed_l, effect_l, k, effect_b
    #: (k))]`` (positions in the parameter vector, and 1 for a signed sd;
    #: :data:`mixedfit.fast.buffer.H_REFLECT`), or None
    reflected: np.ndarray | None = None

    def fixed_internal(self, x: np.ndarray) -> np.ndarray:
        """The fixed effects ``beta*`` from the sampler's coordinates ``(..., dim)``."""
        if self.fixed_map is None:
            return x[..., :self.p]
        return self.fixed_map.to_internal(x[..., :self.p])

    @property
    def sigma(self) -> int:
        """Position of log sigma in the parameter vector, or -1 (no sigma)."""
        return self.family_slots["sigma"][0] if "sigma" in self.family_slots else -1

    @property
    def n_expanded(self) -> int:
        """Doubles stored per draw."""
        if self.packed is None:
            return self.dim
        return len(self.packed[0]) + (len(self.packed[1]) + 1) // 2

    def initial_point(self, seed: Any) -> np.ndarray:
        """Start values: rough estimates jittered by the seed (one call per chain)."""
        rng = np.random.default_rng(int(seed) % (2 ** 63))
        assert self.init_center is not None and self.init_scale is not None
        return self.init_center + self.init_scale * rng.uniform(-1.0, 1.0, self.dim)


def _kind_code(family: Family, name: str, design: Design) -> int:
    """The kernel's code of how family parameter ``name`` is moved (buffer.PARAM_*)."""
    if name in design.dpar_formulas:  # its own linear predictor, on its link's scale
        return {"logit": B.PARAM_LINKED_LOGIT, "identity": B.PARAM_LINKED_IDENTITY}.get(
            family.dpar_link(name), B.PARAM_LINKED_LOG)
    return B.PARAM_KINDS[family.parameter_transform(name)]


def _precision_weighted(design: Design, family: Family) -> Design:
    """The rows with precision weights folded in: for a Gaussian response with the
    identity link, ``y ~ Normal(X b + Z u, sigma^2 / w)`` is ``sqrt(w) y ~ Normal(sqrt(w)
    (X b + Z u), sigma^2)``, so the marginal, sufficient-statistics and row densities
    need no weights of their own (up to the constant ``sum log w / 2``). Other
    families keep their (prior) weights for the kernel's row pass."""
    w = design.likelihood_weights()  # precisions 1 / se^2 for known standard errors
    if w is None or not (family.precision_weights and family.integrates_out) or design.dpars:
        return design  # (sigma with its own formula: the row pass takes the weights)
    root = np.sqrt(np.asarray(w, dtype=float))
    offset = None if design.offset is None else design.offset * root
    blocks = [dataclasses.replace(b, Z=np.asarray(b.Z, dtype=float) * root[:, None])
              for b in design.blocks]
    return dataclasses.replace(design, X=design.X * root[:, None],
                               y=np.asarray(design.y, dtype=float) * root, offset=offset,
                               blocks=blocks, weights=None, se=None)


#: priors of an sd whose density is smooth and flat at zero: a non-centred one-term
#: block with one samples its sd signed (:mod:`mixedfit.fast.buffer`, "signed sds"), so
#: that chains cross small sds as freely as large ones (``python
#: benchmarks/nb_parameterisations.py reflected,signed``). Not an Exponential (a kink
#: at zero), nor priors with no density (Gamma, LogNormal...) or an infinite one at
#: zero, nor a Uniform (its interval transform)
SIGNED_PRIORS = frozenset({"HalfNormal", "HalfStudentT", "HalfCauchy"})


def _negbin_counts(y: np.ndarray, weights: np.ndarray | None) -> np.ndarray | None:
    """The negative binomial's count table (:data:`mixedfit.fast.buffer.H_NB_COUNTS`):
    ``S_j``, the rows' weight with a count above ``j`` for ``j`` up to the largest
    count; None when that is too large for the table (the kernel then takes the general
    pass over the rows, as :func:`mixedfit.fast.vecrows.negbin_log_rows` would)."""
    top = float(np.max(y)) if y.size else 0.0
    if not top < max(B.NB_TABLE_MAX, 2 * y.size):
        return None
    counts = np.bincount(y.astype(np.int64), weights=weights, minlength=int(top) + 1)
    above = np.cumsum(counts[::-1])[::-1]  # weight with a count of at least j
    return np.append(above[1:], 0.0).astype(float)


def signed_blocks(design: Design, priors: dict[str, Prior], centred: Sequence[bool],
                  marginal: bool = False) -> list[bool]:
    """Which blocks sample their sd signed (:data:`SIGNED_PRIORS`): the non-centred
    blocks of one term whose sd's prior is smooth and flat at zero (none when the
    effects are integrated out)."""
    return [bool(not marginal and not c and b.n_terms == 1
                 and priors[sd_key(b.columns[0], b.group)].kind.name in SIGNED_PRIORS)
            for b, c in zip(design.blocks, centred, strict=True)]


#: a block's rows are read run by run (:mod:`mixedfit.fast.buffer`, "runs") when its
#: runs of rows of one level are at least this long on average: shorter runs cost more
#: than reading the rows one by one (``python benchmarks/levers.py runs``)
RUN_MIN = 8


def row_order(blocks: list[Any], n: int) -> np.ndarray | None:
    """The order in which the kernel's buffer holds the rows, so that blocks have runs:
    sorted first by the level of the block with the most terms (ties: the fewest
    levels) among those whose levels average at least :data:`RUN_MIN` rows, then by
    the level of the one of the others that splits the rows into the fewest groups with
    those before it (a factor nested in the first adds no split of its own), and so on;
    None (the data's own order) when no block qualifies. The likelihood is a sum over the
    rows, so their order does not change the density, only the rounding of its sums."""
    left = sorted((b for b in blocks if n >= RUN_MIN * b.n_levels),
                  key=lambda b: (-b.n_terms, b.n_levels))
    if not left:
        return None
    keys = [np.asarray(left.pop(0).index)]
    group = keys[0]
    while left:
        splits = [np.unique(group * b.n_levels + np.asarray(b.index), return_inverse=True)
                  for b in left]
        best = min(range(len(left)), key=lambda i: splits[i][0].size)
        keys.append(np.asarray(left.pop(best).index))
        group = splits[best][1]
    return np.lexsort(keys[::-1])


def _runs(index: np.ndarray) -> np.ndarray | None:
    """A block's runs ``[R, start (R + 1), level (R)]`` (:data:`B.B_RUNS`), or None when
    they average fewer than :data:`RUN_MIN` rows."""
    n = index.size
    starts = np.flatnonzero(np.diff(index)) + 1
    r = starts.size + 1
    if n == 0 or n < RUN_MIN * r:
        return None
    bounds = np.concatenate([[0], starts, [n]])
    return np.concatenate([[r], bounds, index[bounds[:-1]]]).astype(float)


def folded_columns(X: np.ndarray, blocks: list[Any], indexes: list[np.ndarray]
                   ) -> dict[int, list[tuple[int, np.ndarray]]]:
    """The fixed columns the row pass folds into a block's effects (:data:`B.B_FOLD`):
    for each block (its position), the columns whose value is the same on every row of
    each of its levels, with those values (0 for a level without rows). Each column goes
    to the block with the fewest levels among those whose first term is an intercept
    and over whose levels it is constant (the intercept: to that block)."""
    found: dict[int, list[tuple[int, np.ndarray]]] = {}
    hosts = sorted((k for k, b in enumerate(blocks)
                    if not _block_uses_z(b) or np.all(np.asarray(b.Z)[:, 0] == 1.0)),
                   key=lambda k: blocks[k].n_levels)
    for j in range(X.shape[1]):
        col = X[:, j]
        for k in hosts:
            values = np.zeros(blocks[k].n_levels)
            values[indexes[k]] = col
            if np.array_equal(values[indexes[k]], col):
                found.setdefault(k, []).append((j, values))
                break
    return found


def _block_uses_z(block: Any) -> bool:
    return not (block.n_terms == 1 and np.all(block.Z[:, 0] == 1.0))


def _hierarchical_centring(design: Design, slots: list[BlockSlots]) -> None:
    """Centre centred blocks on the fixed effects of the same columns.

    A centred block whose term ``x`` is also a fixed-effect column (same values) is
    sampled as the group-level coefficients ``b_g = beta_x + u_g`` (Gelfand, Sahu and
    Carlin, 1995), which removes the strong posterior correlation between ``beta_x``
    and the mean of the ``u_g``. Each fixed column serves one block: the centred block
    with the fewest levels (where that correlation is strongest).
    """
    X = design.X
    order = sorted(range(len(slots)), key=lambda k: slots[k].m)
    taken: set[int] = set()
    for k in order:
        s, b = slots[k], design.blocks[k]
        s.fixed_of_term = [-1] * s.q
        if not s.centred:
            continue
        for i, col in enumerate(b.columns):
            if col in design.fixed_columns:
                j = design.fixed_columns.index(col)
                if j not in taken and np.array_equal(X[:, j], b.Z[:, i]):
                    s.fixed_of_term[i] = j
                    taken.add(j)


def _link_response(design: Design, family: Family) -> np.ndarray:
    """A rough linear predictor per row (the family's), less the offset."""
    out = family.link_scale_start(design.y, design.trials)
    if design.offset is not None:
        out = out - design.offset
    return out


#: Stored group-effect values (draws x effects, warm-up included) above which they are
#: stored in single precision (7 significant digits, far below Monte Carlo error).
PACK_ABOVE = 20_000_000


def _level_records(blocks: list[Any], A: np.ndarray, zy: np.ndarray, zx: np.ndarray
                   ) -> list[np.ndarray]:
    """One cluster record per level of the (one) grouping factor, its terms of every
    block, from each level's ``A = Z'Z`` ``(m, k, k)``, ``Z'y`` and ``Z'X``."""
    m, k = zy.shape
    starts = np.cumsum([0] + [b.n_levels * b.n_terms for b in blocks])
    blk = np.concatenate([[j] * b.n_terms for j, b in enumerate(blocks)])
    term = np.concatenate([np.arange(b.n_terms) for b in blocks])
    levels = np.arange(m)[:, None]
    position = starts[blk][None, :] + levels * np.array(
        [blocks[j].n_terms for j in blk])[None, :] + term[None, :]
    table = np.hstack([np.full((m, 1), k), np.broadcast_to(blk, (m, k)),
                       np.broadcast_to(term, (m, k)), np.broadcast_to(levels, (m, k)),
                       position, A.reshape(m, -1), zy, zx.reshape(m, -1)])
    return list(table)


def _pack_marginal(head: list[float], records: list[np.ndarray], shared: bool) -> np.ndarray:
    """The marginal part of the buffer from its head and cluster records."""
    k_max = max(int(r[0]) for r in records)
    start = len(head) + 3 + len(records)
    offsets = start + np.cumsum([0] + [r.size for r in records[:-1]])
    return np.concatenate([head, [len(records), k_max, float(shared)], offsets, *records])


def _marginal_data(design: Design) -> np.ndarray:
    """The sufficient statistics of a marginal model (layout in :mod:`mixedfit.fast.marginal`)."""
    if design.stats is not None:  # out of core: statistics in internal coordinates, one
        st = design.stats         # cluster per level (InternalStats)
        return _pack_marginal([float(st.n), float(st.yy), *st.xy, *st.xx.ravel()],
                              _level_records(design.blocks, st.zz, st.zy, st.zx), True)
    X = design.X
    n, p = X.shape
    y = np.asarray(design.y, dtype=float)
    if design.offset is not None:
        y = y - design.offset
    blocks = design.blocks
    starts = np.cumsum([0] + [b.n_levels * b.n_terms for b in blocks])
    head = [float(n), float(y @ y), *(X.T @ y), *(X.T @ X).ravel()]
    records: list[np.ndarray] = []
    if _one_factor(design):
        # one cluster per level: that level's terms of every block
        idx, m = blocks[0].index, blocks[0].n_levels
        Z = np.hstack([np.asarray(b.Z, dtype=float) for b in blocks])
        k = Z.shape[1]
        A = np.empty((m, k, k))
        zy = np.empty((m, k))
        zx = np.empty((m, k, p))
        for i in range(k):
            zy[:, i] = np.bincount(idx, weights=Z[:, i] * y, minlength=m)
            for j in range(i, k):
                A[:, i, j] = A[:, j, i] = np.bincount(idx, weights=Z[:, i] * Z[:, j],
                                                      minlength=m)
            for j in range(p):
                zx[:, i, j] = np.bincount(idx, weights=Z[:, i] * X[:, j], minlength=m)
        records = _level_records(blocks, A, zy, zx)
    else:
        # one dense cluster of every effect (few effects, see MARGINAL_DENSE_MAX)
        cols, vals, rows = [], [], []
        blk, term, level = [], [], []
        for j, b in enumerate(blocks):
            Zb = np.asarray(b.Z, dtype=float)
            for t in range(b.n_terms):
                rows.append(np.arange(n))
                cols.append(starts[j] + b.index * b.n_terms + t)
                vals.append(Zb[:, t])
            for g in range(b.n_levels):
                for t in range(b.n_terms):
                    blk.append(j)
                    term.append(t)
                    level.append(g)
        k = int(starts[-1])
        Zs = sparse.csr_matrix((np.concatenate(vals), (np.concatenate(rows),
                                                        np.concatenate(cols))), shape=(n, k))
        A = (Zs.T @ Zs).toarray()
        records = [np.concatenate([[k], blk, term, level, np.arange(k), A.ravel(),
                                   Zs.T @ y, np.asarray(Zs.T @ X).ravel()])]
    return _pack_marginal(head, records, _one_factor(design))


def parameter_count(design: Design, marginal: bool, family: Family) -> int:
    """The dimension of the sampler's space for ``design`` (see the module docstring)."""
    dim = len(design.fixed_columns) + len([p for p in family.parameters
                                           if p not in design.dpar_formulas])
    for b in design.blocks:
        q = b.n_terms
        dim += q + (q * (q - 1) // 2 if b.correlated else 0) + (0 if marginal else q * b.n_levels)
    return dim


def make_layout(design: Design, family: Family, priors: dict[str, Prior],
                centred: list[bool], *, sufficient: bool | None = None,
                stored_draws: int = 0, marginal: bool = False, reflect: bool = False,
                signed: bool = False) -> Layout:
    """Pack ``design``, ``family`` and ``priors`` for the kernel.

    The kernel works in the internal coordinates of :mod:`mixedfit.standardize`
    (centred and scaled data, priors evaluated on the parameters they sit on);
    ``layout.standardization`` maps its draws back to the user's parameters.
    ``sufficient`` forces (True) or forbids (False) the sufficient-statistics form of
    a one-block Gaussian model; by default it is used when it is cheaper than a pass
    over the rows. ``stored_draws`` (chains x (tune + draws)) decides whether the
    group effects are stored in single precision (above :data:`PACK_ABOVE` values).
    ``marginal=True`` integrates the group effects out (see :func:`marginal_reason`);
    ``centred`` is then ignored. ``reflect=True`` samples the groups of nested effects
    of :func:`mixedfit.design.nesting.nested_groups` reflected (those whose sds have no
    Uniform prior). ``signed=True`` samples the sd of each non-centred one-term block
    whose prior is one of :data:`SIGNED_PRIORS` signed.
    """
    reason = unsupported_reason(design, family, priors)
    if reason is not None:
        raise ValueError(f"the compiled kernel does not support {reason}")
    if marginal:
        reason = marginal_reason(design, family)
        if reason is not None:
            raise ValueError(f"cannot integrate out the group effects of {reason}")
        centred = [False] * len(design.blocks)
    nesting = nested_groups(design, centred) if reflect and not marginal else []
    st = standardize(design, family, priors)
    user_X = design.X
    design = st.internal  # everything below is in internal coordinates
    fam_code = B.FAMILIES[family.compiled]
    p = design.X.shape[1]
    n = design.n_obs
    blocks = design.blocks
    if sufficient is None:
        sufficient = (family.integrates_out and len(blocks) == 1
                      and blocks[0].n_levels * blocks[0].n_terms * 4 < n)
    sufficient = bool(sufficient and family.integrates_out and len(blocks) == 1
                      and not marginal and not design.dpars)

    # parameter slots
    pos = p
    family_slots = {}
    bounded: dict[int, tuple[float, float, float]] = {}  # Uniform priors: (lower, upper, f)
    for name in family.parameters:  # a standardised response's sigma is in its units
        if name in design.dpar_formulas:  # its own linear predictor: no slot
            continue
        factor = st.y_scale if name == "sigma" and family.location_scale else 1.0
        family_slots[name] = (pos, factor)
        if priors[name].kind.name == "Uniform" and family.parameter_transform(name) not in (
                "real", "increment"):  # (thresholds keep their ordered transform)
            bounded[pos] = _bounds(priors[name], factor)
        pos += 1
    slots = []
    for b, c in zip(blocks, centred, strict=True):
        q, m = b.n_terms, b.n_levels
        nc = q * (q - 1) // 2 if b.correlated else 0
        slots.append(BlockSlots(sd=pos, cor=pos + q, n_cor=nc,
                                effects=-1 if marginal else pos + q + nc, q=q, m=m,
                                centred=bool(c)))
        pos += q + nc + (0 if marginal else m * q)
    dim = pos
    _hierarchical_centring(design, slots)
    if signed:
        for s, flag in zip(slots, signed_blocks(design, priors, centred, marginal),
                           strict=True):
            s.signed = flag
    for k, (b, s) in enumerate(zip(blocks, slots, strict=True)):
        for i, c in enumerate(b.columns):
            if priors[sd_key(c, b.group)].kind.name == "Uniform":
                bounded[s.sd + i] = _bounds(priors[sd_key(c, b.group)], st.sd_factors(k)[i])

    parts: list[np.ndarray] = []
    cursor = B.HEADER + B.BLOCK_WIDTH * len(blocks)

    def put(values: Any) -> int:
        nonlocal cursor
        arr = np.ascontiguousarray(values, dtype=np.float64).ravel()
        at = cursor
        parts.append(arr)
        cursor += arr.size
        return at

    header = np.zeros(B.HEADER)
    descr = np.zeros((len(blocks), B.BLOCK_WIDTH))
    header[B.H_P], header[B.H_FAMILY], header[B.H_NBLOCKS] = p, fam_code, len(blocks)
    header[B.H_LINK], header[B.H_NFAM] = B.LINKS[family.link], len(family.parameters)
    header[B.H_SS], header[B.H_DIM] = float(sufficient), dim
    header[B.H_NOBS] = n
    header[B.H_FAM_POS] = p if family_slots else -1
    # known standard errors (se=): sigma is 1 on the user's scale, their precisions are
    # folded into the rows (_precision_weighted)
    header[B.H_FIXED_SIGMA] = 1.0 / st.y_scale if family.known_scale else 0.0
    rows, shifts = st.fixed_prior_rows()
    header[B.H_BETA_PRIOR] = put([_prior_row(priors[c], 1.0, shifts[k])
                                  for k, c in enumerate(design.fixed_columns)] or np.zeros(0))
    header[B.H_BETA_MAP] = put(rows)
    fixed_map = FixedMap.build(rows, shifts, [priors[c] for c in design.fixed_columns])
    header[B.H_FIXED_X] = put(fixed_map.packed()) if fixed_map is not None else -1
    groups: list[list[float]] = []
    for grp in nesting:
        inner, outer = slots[grp.inner], slots[grp.outer]
        if inner.sd in bounded or outer.sd in bounded:
            continue
        for g, level in enumerate(grp.outer_levels):
            members = grp.members(g)
            groups.append([inner.sd, outer.sd, float(inner.signed), float(outer.signed),
                           outer.effects + level, members.size, *(inner.effects + members)])
    # sorted by their sds and k: the kernel computes (c, r) once per run of groups that
    # share them
    groups.sort(key=lambda rec: (rec[0], rec[1], rec[5], rec[4]))
    reflected = (np.array([len(groups), *(v for rec in groups for v in rec)], dtype=float)
                 if groups else None)
    header[B.H_REFLECT] = put(reflected) if reflected is not None else -1
    ordered_bounds = _ordered_bounds(family, priors)
    fam_rows = [_prior_row(priors[name], factor) for name, (_, factor) in family_slots.items()]
    if ordered_bounds is not None:  # the interval transform of the ordered values
        for row, name in zip(fam_rows, family_slots, strict=True):
            if name in family.intercepts:
                row[3] = 1.0
    header[B.H_FAM_PRIOR] = put(fam_rows or [0.0] * B.PRIOR_WIDTH)
    header[B.H_FAM_KIND] = put([float(_kind_code(family, name, design))
                                for name in family.parameters] or [0.0])
    header[B.H_BLOCKS] = B.HEADER
    header[[B.H_X, B.H_Y, B.H_TRIALS, B.H_OFFSET, B.H_SSDATA, B.H_MARG, B.H_WEIGHTS,
            B.H_XPRED, B.H_FOLDED, B.H_XMAP, B.H_NB_COUNTS]] = -1
    # each linear predictor: 0 the mean's, 1 + i that of family parameter i's formula
    pred_of = {"": 0, **{name: 1 + i for i, name in enumerate(family.parameters)}}
    if design.dpars:
        header[B.H_XPRED] = put([pred_of[t] for t in design.target_of_columns()])
    rowdata = _precision_weighted(design, family)  # the rows the likelihood reads
    y = np.asarray(rowdata.y, dtype=float)
    offset = rowdata.offset
    for k, (b, s) in enumerate(zip(blocks, slots, strict=True)):
        d = descr[k]
        d[B.B_Q], d[B.B_M] = s.q, s.m
        d[B.B_CORR], d[B.B_CENTRED] = float(b.correlated and s.q > 1), float(s.centred)
        factors = st.sd_factors(k)
        d[B.B_SD_PRIOR] = put([_prior_row(priors[sd_key(c, b.group)], factors[i])
                               for i, c in enumerate(b.columns)])
        d[B.B_ETA] = priors[cor_key(b.label)].values["eta"] if b.correlated else 1.0
        d[B.B_SD_POS], d[B.B_COR_POS], d[B.B_EFF_POS] = s.sd, s.cor, s.effects
        d[B.B_SIGNED] = float(s.signed)
        d[[B.B_Z, B.B_INDEX, B.B_MAP, B.B_RUNS, B.B_FOLD]] = -1
        d[B.B_PRED] = pred_of[b.target]
        if any(k >= 0 for k in s.fixed_of_term):
            d[B.B_MAP] = put(s.fixed_of_term)
    if marginal:
        header[B.H_NROWS] = 0
        header[B.H_MARG] = put(_marginal_data(rowdata))
    elif sufficient:
        b = rowdata.blocks[0]
        yr = y - offset if offset is not None else y
        X, Z, idx, m, q = rowdata.X, b.Z.astype(float), b.index, b.n_levels, b.n_terms
        zz = np.zeros((m, q, q))
        zy = np.zeros((m, q))
        zx = np.zeros((m, q, p))
        for i in range(q):
            zy[:, i] = np.bincount(idx, weights=Z[:, i] * yr, minlength=m)
            for j in range(q):
                zz[:, i, j] = np.bincount(idx, weights=Z[:, i] * Z[:, j], minlength=m)
            for j in range(p):
                zx[:, i, j] = np.bincount(idx, weights=Z[:, i] * X[:, j], minlength=m)
        header[B.H_SSDATA] = put(np.concatenate([[yr @ yr], X.T @ yr, (X.T @ X).ravel(),
                                                 zz.ravel(), zy.ravel(), zx.ravel()]))
        header[B.H_NROWS] = 0
    else:
        order = row_order(rowdata.blocks, n)

        def rows(values: Any) -> np.ndarray:  # in the buffer's order of the rows
            values = np.asarray(values)
            return values if order is None else values[order]

        header[B.H_NROWS] = n
        indexes = [rows(b.index) for b in rowdata.blocks]
        # fixed columns folded into blocks (B.B_FOLD; not with a family parameter's own
        # formula, whose columns and blocks have other targets): of X*, or of the columns
        # before the QR step with its T (B.H_XMAP) when they fold more (rows without
        # precision weights folded in)
        X_rows = rows(rowdata.X)
        folds = {} if design.dpars else folded_columns(X_rows, rowdata.blocks, indexes)
        if not design.dpars and rowdata is design and not np.array_equal(st.orth, np.eye(p)):
            S_rows = rows(st.scaled_columns(user_X))
            before_qr = folded_columns(S_rows, rowdata.blocks, indexes)
            if sum(map(len, before_qr.values())) > sum(map(len, folds.values())):
                X_rows, folds = S_rows, before_qr
                header[B.H_XMAP] = put(st.orth)
        header[B.H_X] = put(X_rows.T)  # by column: the kernel's loops run down them
        header[B.H_Y] = put(rows(y))
        if design.trials is not None and fam_code == B.BINOMIAL:
            header[B.H_TRIALS] = put(rows(design.trials))
        if offset is not None:
            header[B.H_OFFSET] = put(rows(offset))
        if rowdata.weights is not None:  # prior weights (precision weights are in the rows)
            header[B.H_WEIGHTS] = put(rows(rowdata.weights))
        if fam_code == B.NEGATIVEBINOMIAL and family.link == "log":
            table = _negbin_counts(y, rowdata.weights)
            if table is not None:
                header[B.H_NB_COUNTS] = put(np.concatenate([[table.size], table]))
        for k, b in enumerate(rowdata.blocks):
            if _block_uses_z(b):
                descr[k, B.B_Z] = put(rows(b.Z).T)
            descr[k, B.B_INDEX] = put(indexes[k])
            runs = _runs(indexes[k])
            if runs is not None:
                descr[k, B.B_RUNS] = put(runs)
        flags = np.zeros(p)
        for k, cols in folds.items():
            flags[[j for j, _ in cols]] = 1.0
            descr[k, B.B_FOLD] = put(np.concatenate([[len(cols)], [j for j, _ in cols],
                                                     *[v for _, v in cols]]))
        header[B.H_FOLDED] = put(flags) if folds else -1
    effects = np.concatenate([np.arange(s.effects, s.effects + s.m * s.q) for s in slots]
                             ) if slots and not marginal else np.zeros(0, int)
    packed = None
    header[B.H_PACK] = -1
    if effects.size * stored_draws > PACK_ABOVE:
        population = np.setdiff1d(np.arange(dim), effects)
        packed = (population, effects)
        header[B.H_PACK] = put(np.concatenate([[population.size, effects.size], population,
                                               effects]))
    header[B.H_LEN] = cursor
    buffer = np.concatenate([header, descr.ravel(), *parts])
    assert buffer.size == cursor

    center, scale = _start_values(design, family, priors, st, slots, p, family_slots,
                                  marginal, bounded, ordered_bounds)
    if fixed_map is not None:
        center[:p], scale[:p] = fixed_map.start(center[:p], scale[:p])
    return Layout(buffer=buffer, dim=dim, p=p, family_slots=family_slots,
                  family_kinds={name: family.parameter_transform(name)
                                for name in family_slots}, blocks=slots,
                  sufficient=sufficient, init_center=center, init_scale=scale, packed=packed,
                  marginal=marginal, n_effects=sum(s.m * s.q for s in slots),
                  standardization=st, fixed_map=fixed_map, bounded=bounded,
                  ordered_bounds=ordered_bounds, reflected=reflected)


def _ordered_bounds(family: Family, priors: dict[str, Prior]) -> tuple[float, float] | None:
    """``(lower, upper)`` when every threshold of an ordinal model has the same Uniform
    prior (then their ordered values are mapped into it, as PyMC's model does), else
    None (thresholds under different Uniform priors, or some only, keep the ordered
    transform, with a density of 0 outside their bounds)."""
    bounds = {(float(priors[n].values["lower"]), float(priors[n].values["upper"]))
              if priors[n].kind.name == "Uniform" else None for n in family.intercepts}
    if len(bounds) != 1 or None in bounds:
        return None
    return bounds.pop()


def _bounds(prior: Prior, factor: float) -> tuple[float, float, float]:
    """``(lower, upper, factor)`` of a Uniform prior on ``factor`` x an internal value."""
    return float(prior.values["lower"]), float(prior.values["upper"]), float(factor)


def _prior_scale(prior: Prior) -> float:
    """A rough scale of a positive prior, for start values."""
    v = prior.values
    for key in ("sigma", "beta"):
        if key in v and prior.kind.name not in ("Gamma", "InverseGamma", "LogNormal"):
            return float(v[key])
    if prior.kind.name == "Exponential":
        return 1.0 / v["lam"]
    if prior.kind.name == "Gamma":
        return v["alpha"] / v["beta"]
    if prior.kind.name == "InverseGamma":
        return v["beta"] / max(v["alpha"] - 1.0, 1.0)
    if prior.kind.name == "LogNormal":
        return float(np.exp(v["mu"]))
    if prior.kind.name == "Uniform":
        return 0.5 * (v["lower"] + v["upper"])
    return 1.0


def _start_values(design: Design, family: Family, priors: dict[str, Prior],
                  st: Standardization, slots: list[BlockSlots], p: int,
                  family_slots: dict[str, tuple[int, float]],
                  marginal: bool, bounded: dict[int, tuple[float, float, float]] | None = None,
                  ordered_bounds: tuple[float, float] | None = None
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Start values in internal coordinates: least squares on the link scale, effects near
    zero, sds a fraction of their prior's scale, the family's parameters from moments of
    the response; and the width of their jitter. A parameter under a Uniform prior
    (``bounded``, see :attr:`Layout.bounded`) starts inside its interval."""
    bounded = bounded or {}
    dim = len(design.fixed_columns) + len(family_slots) + sum(
        s.q + s.n_cor + (0 if marginal else s.m * s.q) for s in slots)
    center = np.zeros(dim)
    scale = np.zeros(dim)
    if design.stats is not None:  # out of core: the internal y* is least squares' residual
        ss = design.stats
        mean_cols = design.columns_of("")
        beta = np.linalg.lstsq(ss.xx, ss.xy, rcond=None)[0] if p else np.zeros(0)
        resid_sd = float(np.sqrt(max(ss.yy - beta @ ss.xy, 0.0) / max(ss.n, 1))) or 1.0
        if p:
            center[mean_cols] = beta[mean_cols]
        starts = {name: 1.0 for name in family.parameters}  # (sigma: resid_sd below)
    else:
        target = _link_response(design, family)
        resid_sd = float(np.std(target)) or 1.0
        mean_cols = design.columns_of("")
        if mean_cols.size:
            Xm = design.X[:, mean_cols]
            beta = np.linalg.lstsq(Xm, target, rcond=None)[0]
            center[mean_cols] = beta
            resid_sd = float(np.std(target - Xm @ beta)) or resid_sd
        starts = family.parameter_starts(np.asarray(design.y, dtype=float), design.trials)
    scale[:p] = 0.1 * max(resid_sd, 0.1)
    for par in design.dpars:  # a family parameter's own formula: its intercept at its start
        value = resid_sd if par == "sigma" and family.location_scale else starts[par]
        j = design.fixed_columns.index(f"{par}_Intercept") if (
            f"{par}_Intercept" in design.fixed_columns) else -1
        if j >= 0:
            link = family.dpar_link(par)
            center[j] = (np.log(value / (1.0 - value)) if link == "logit" else value
                         if link == "identity" else np.log(value))
    starts = {**starts, **thresholds_inside(family, priors, starts)}
    narrowest = np.inf  # (thresholds between the bounds of different Uniform priors)
    if ordered_bounds is None:
        narrowest = min([float(priors[n].values["upper"]) - float(priors[n].values["lower"])
                         for n in family.intercepts if priors[n].kind.name == "Uniform"],
                        default=np.inf)
    previous = 0.0
    for name, (pos, _) in family_slots.items():
        # a standardised response's sigma: the residual sd of the least-squares start
        value = resid_sd if name == "sigma" and family.location_scale else starts[name]
        kind = family.parameter_transform(name)
        if ordered_bounds is not None and kind in ("real", "increment"):
            # thresholds under one Uniform prior: where the value lies in its interval,
            # on the logit scale, is what the ordered transform moves
            value = float(_logit_inside(value, *ordered_bounds))
        if pos in bounded:  # an interval transform
            lo, hi, factor = bounded[pos]
            center[pos] = _logit_inside(factor * value, lo, hi)
        elif kind == "unit":
            center[pos] = np.log(value / (1.0 - value))
        elif kind == "real":
            center[pos] = value
        elif kind == "increment":  # above the parameter before it
            center[pos] = np.log(max(value - previous, 1e-3))
        else:
            center[pos] = np.log(value)
        previous = value
        scale[pos] = 0.5 if kind != "increment" else 0.1
        if kind in ("real", "increment") and narrowest < np.inf:
            # thresholds between bounds: a jitter that keeps them there (the first moves
            # by at most 1% of the narrowest interval, each gap by at most 2%)
            scale[pos] = 0.02 if kind == "increment" else min(0.5, 0.01 * narrowest)
    for k, (b, s) in enumerate(zip(design.blocks, slots, strict=True)):
        factors = st.sd_factors(k)
        for i, col in enumerate(b.columns):
            # a fraction of the prior's scale, at most 1 in internal units (the columns
            # have unit rms, so an effect's part of the linear predictor stays moderate)
            sd0 = min(0.3 * _prior_scale(priors[sd_key(col, b.group)]) / factors[i], 1.0)
            scale[s.sd + i] = 0.5
            if s.sd + i in bounded:  # an interval transform
                lo, hi, factor = bounded[s.sd + i]
                center[s.sd + i] = _logit_inside(factor * sd0, lo, hi)
            elif s.signed:  # the sd itself (positive at the start), jittered by half
                center[s.sd + i] = sd0
                scale[s.sd + i] = 0.5 * sd0
            else:
                center[s.sd + i] = np.log(sd0)
        scale[s.cor:s.cor + s.n_cor] = 0.5
        if marginal:
            continue
        eff = slice(s.effects, s.effects + s.m * s.q)
        if s.centred:
            sd_start = np.exp(center[s.sd:s.sd + s.q])
            for i in range(s.q):
                if s.sd + i in bounded:
                    lo, hi, factor = bounded[s.sd + i]
                    sd_start[i] = (lo + (hi - lo) * _sigmoid(center[s.sd + i])) / factor
            sds = np.tile(sd_start, s.m)
            scale[eff] = 0.5 * sds
            fixed = np.array([center[k2] if k2 >= 0 else 0.0 for k2 in s.fixed_of_term])
            center[eff] = np.tile(fixed, s.m) if s.fixed_of_term else 0.0
        else:
            scale[eff] = 0.5
    return center, scale
