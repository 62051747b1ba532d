"""Internal coordinates: the model is sampled on centred and scaled data, reported on the user's.

A posterior must not depend on the units the user happened to record: a response
in milliseconds or seconds, a year counted from 0 or from 2000. Two things made it
depend on them. Sufficient statistics of raw data (``y'y`` of responses near 1e9)
lose every digit that matters to cancellation, and an origin far from the data
couples the intercept to every slope, so tightly that NUTS cannot move. The cure
is the one of rstanarm and brms: sample in coordinates where the data are centred
and scaled, and map the draws back. The maps are linear, so the posterior is the
same: priors are evaluated on the user's parameters (a linear map has a constant
Jacobian) and ``res.priors`` shows them on the user's scale.

**Fixed effects.** With ``m_j`` the mean of design column ``j`` (0 for the
intercept, and for every column when the model has no intercept) and ``d_j`` the
root mean square of ``X_j - m_j``, the columns are first centred and scaled,
``(X_j - m_j) / d_j``; then, as rstanarm's and brms' QR option, those that are not
also a column of a block of group effects are made orthogonal to the others (the
intercept and the shared columns first) with unit root mean square. The sampler sees
that design ``X* = X K`` and::

    beta = a + s K beta*

For a response whose family is a location-scale family (Gaussian or Student-t with
the identity link, :attr:`Family.location_scale <mixedfit.families.Family.location_scale>`)
``a`` are the least-squares coefficients of the response (less any offset) on
``X``, ``s`` the root mean square of the residuals, and the sampler's response is
``y* = (y - offset - X a) / s``, whose sufficient statistics are all of order 1;
``sigma = s sigma*``. For other families ``a = 0`` and ``s = 1``.

**Group effects.** A block's columns likewise: ``Z*_j = (Z_j - c_j) / e_j`` and
``u = s A u*`` with ``A[:, j] = (e_j - c_j e_0) / e_j``. The centre ``c_j`` is the
column's mean in a block *centred at the predictors' means*: a correlated block
with an intercept and slopes, ``(1 + x | g)``, whose covariance is the same model
in either basis. Elsewhere ``c_j = 0``: centring an uncorrelated block ``(1 + x ||
g)`` would change the model (independence at ``x = 0`` is not independence at the
mean of ``x``), and a block without an intercept cannot absorb a shift.

**Where the priors sit.** Each prior is evaluated on one parameter, a linear
function of the internal coordinates:

- a fixed effect's prior on the coefficient as reported, except the *default*
  intercept prior, which sits on the intercept at the predictors' means
  ``beta_0 + sum_j m_j beta_j`` (as brms and rstanarm put it), so that moving the
  origin of a predictor changes nothing;
- the sds and the correlation prior of a block centred at the predictors' means on
  the sds and correlations of the effects in that basis (the group intercepts at
  the means of the block's predictors); the slopes' sds are the same in both bases.
  A prior that the user gives on ``sd(Intercept|g)`` or ``cor(g)`` of such a block
  sits on the parameter as reported, at the predictors' zero, and that block is then
  not centred (its default priors sit at zero too);
- ``sigma`` on ``s sigma*``; every sd on ``s sd* / e_j``.

``res.priors`` says where each prior sits (:meth:`Standardization.site`).

Examples
--------
>>> import mixedfit as mf
>>> from mixedfit.design import build_design
>>> from mixedfit.priors import resolve_priors
>>> df = mf.load_dataset("sleepstudy")
>>> d = build_design("Reaction ~ Days + (Days | Subject)", df.assign(Days=df.Days + 2000))
>>> fam = mf.families.gaussian()
>>> st = standardize(d, fam, resolve_priors(d, fam, None))
>>> st.x_center.tolist(), st.blocks[0].center.tolist(), st.blocks[0].centred
([0.0, 2004.5], [0.0, 2004.5], True)
>>> st.site("Intercept")
"at the predictors' means (Days = 2004.5)"
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from mixedfit.design import BlockDesign, Design
from mixedfit.design.stats import InternalStats, SufficientStats
from mixedfit.families import Family
from mixedfit.names import cor_key, sd_key
from mixedfit.priors import PriorSet

__all__ = ["Standardization", "BlockScaling", "standardize"]


def _rms(values: np.ndarray) -> float:
    """Root mean square, safe from overflow; 1 for a column of zeros."""
    top = float(np.max(np.abs(values))) if values.size else 0.0
    if not np.isfinite(top) or top == 0.0:
        return 1.0
    return top * float(np.sqrt(np.mean((values / top) ** 2)))


def _column_means(values: np.ndarray) -> np.ndarray:
    """Each column's mean, computed on the column alone (the same bits whatever the
    array's memory order or the other columns)."""
    return np.array([float(np.mean(values[:, j])) for j in range(values.shape[1])])


def _centring_matrix(center: np.ndarray, scale: np.ndarray, intercept: int) -> np.ndarray:
    """``M`` with ``W* = W M`` for ``W*_j = (W_j - center_j W_intercept) / scale_j``."""
    q = center.size
    M = np.eye(q)
    if intercept >= 0:
        M[intercept, :] -= center
    return M / scale[None, :]


@dataclass
class BlockScaling:
    """Internal coordinates of one block of group effects (see the module docstring).

    Attributes
    ----------
    center : numpy.ndarray
        ``c``: subtracted from each column (0 except in a block centred at the means).
    scale : numpy.ndarray
        ``e``: each centred column is divided by it.
    intercept : int
        Position of the intercept column, or -1.
    centred : bool
        Whether the block's covariance (and its default priors) sit at the means of
        its predictors.
    """

    center: np.ndarray
    scale: np.ndarray
    intercept: int
    centred: bool
    #: the response's scale ``s`` for a block of the mean's linear predictor, 1 for a
    #: family parameter's (on its log or logit scale, which has no units)
    factor: float = 1.0

    @property
    def internal_map(self) -> np.ndarray:
        """``A``: ``u = s A u*`` (and ``Z* = Z A``)."""
        return _centring_matrix(self.center, self.scale, self.intercept)

    @property
    def basis(self) -> np.ndarray:
        """``B``: the user's effects from the effects at the centre, ``u = B u_c``."""
        return _centring_matrix(self.center, np.ones_like(self.scale), self.intercept)


@dataclass
class Standardization:
    """The internal coordinates of a model and the maps to the user's parameters.

    Made by :func:`standardize`; see the module docstring for the algebra.

    Attributes
    ----------
    x_center, x_scale : numpy.ndarray
        ``m`` and ``d`` of the fixed-effects columns.
    x_intercept : int
        Position of the intercept column, or -1.
    K : numpy.ndarray
        ``beta = a + s K beta*`` and ``X* = X K`` (centring, scaling and the QR step).
    shift : numpy.ndarray
        ``a``: coefficients removed from a location-scale response (zeros otherwise).
    y_scale : float
        ``s``: the scale of a location-scale response (1 otherwise).
    functional : numpy.ndarray
        ``F`` (p x p): the fixed-effect priors sit on ``F beta`` (the identity, or the
        intercept at the predictors' means in the intercept's row).
    blocks : list of BlockScaling
        One per block of group effects.
    internal : Design
        The design in internal coordinates (``X*``, ``Z*``, ``y*``; the offset folded
        into ``y*`` for a location-scale response).
    """

    x_center: np.ndarray
    x_scale: np.ndarray
    x_intercept: int
    K: np.ndarray
    shift: np.ndarray
    y_scale: float
    functional: np.ndarray
    blocks: list[BlockScaling]
    internal: Design
    _labels: dict[str, str] = field(default_factory=dict, repr=False)
    #: the predictors' means that the family's intercepts (an ordinal model's
    #: thresholds) absorb: zeros unless the family has them
    intercept_center: np.ndarray = field(default_factory=lambda: np.zeros(0))
    #: each fixed column's factor: ``s`` for the mean's columns, 1 for those of a family
    #: parameter's own formula (empty: ``s`` for every column)
    column_factor: np.ndarray = field(default_factory=lambda: np.zeros(0))
    #: ``T`` of the QR step: ``X* = S T`` with ``S`` the centred and scaled columns
    #: (:meth:`scaled_columns`); empty when the design has no rows
    orth: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def scaled_columns(self, X: np.ndarray) -> np.ndarray:
        """``S``: the design's columns centred and scaled, before the QR step (each
        column's values computed as :func:`standardize` computes them, to the bit: a
        column constant within the levels of a factor stays so, which ``X*``, where the
        QR step mixes columns, need not)."""
        S = (np.asarray(X, dtype=float) - self.x_center[None, :]) / self.x_scale[None, :]
        if self.x_intercept >= 0:
            S[:, self.x_intercept] = 1.0
        return S

    @property
    def _factors(self) -> np.ndarray | float:
        return self.column_factor if self.column_factor.size else self.y_scale

    # ----------------------------------------------------------------- fixed effects
    def fixed_to_user(self, beta_star: np.ndarray) -> np.ndarray:
        """User's fixed effects from internal ones (any leading axes)."""
        return self.shift + self._factors * (beta_star @ self.K.T)

    def fixed_prior_rows(self) -> tuple[np.ndarray, np.ndarray]:
        """``(R, h)``: the parameter that fixed prior ``k`` sits on is ``h_k + R_k . beta*``."""
        F = self.functional
        factors = np.broadcast_to(self._factors, (self.K.shape[0],))
        return F @ (factors[:, None] * self.K), F @ self.shift

    def at_prior_sites(self, beta: np.ndarray) -> np.ndarray:
        """The parameters the fixed-effect priors sit on, ``F beta`` (any leading axes)."""
        return beta @ self.functional.T

    def fixed_design_at_sites(self, X: np.ndarray) -> np.ndarray:
        """``X F^-1``: the design whose coefficients are the parameters the priors sit on."""
        return X @ np.linalg.inv(self.functional)

    def intercepts_to_user(self, internal: np.ndarray, beta: np.ndarray) -> np.ndarray:
        """The family's intercepts (thresholds) on the user's scale from the sampler's,
        which sit at the predictors' means: ``c = c* + m . beta`` for the user's fixed
        effects ``beta`` (any leading axes; ``internal`` has one more, the thresholds)."""
        if not self.intercept_center.size:
            return internal
        return internal + (np.asarray(beta) @ self.intercept_center)[..., None]

    # ----------------------------------------------------------------- group effects
    def sd_factors(self, k: int) -> np.ndarray:
        """Block ``k``'s sds where its priors sit, per unit of internal sd: ``s / e``."""
        return self.blocks[k].factor / self.blocks[k].scale

    def effects_to_user(self, k: int, u_star: np.ndarray) -> np.ndarray:
        """User's group effects ``(..., q)`` of block ``k`` from internal ones."""
        return self.blocks[k].factor * u_star @ self.blocks[k].internal_map.T

    def covariance_to_user(self, k: int, chol_star: np.ndarray) -> np.ndarray:
        """User's covariance ``(..., q, q)`` of block ``k``'s effects from internal
        Cholesky factors ``(..., q, q)``."""
        a = self.blocks[k].factor * self.blocks[k].internal_map
        c = a @ chol_star
        return c @ np.swapaxes(c, -1, -2)

    def covariance_at_centre(self, k: int, cov: np.ndarray) -> np.ndarray:
        """Block ``k``'s covariance ``(..., q, q)`` in the basis its priors sit in."""
        binv = np.linalg.inv(self.blocks[k].basis)
        return binv @ cov @ binv.T

    # ----------------------------------------------------------------- descriptions
    def site(self, key: str) -> str:
        """Where the prior of parameter ``key`` sits: ``"as reported"`` or a description
        of the centred parameter (see the module docstring)."""
        return self._labels.get(key, "as reported")


def _means_text(names: list[str], means: np.ndarray, limit: int = 3) -> str:
    shown = [f"{n} = {m:.6g}" for n, m in zip(names, means, strict=True) if m != 0.0]
    if not shown:
        return "the predictors' means"
    more = ", ..." if len(shown) > limit else ""
    return f"the predictors' means ({', '.join(shown[:limit])}{more})"


def _block_scaling(block: BlockDesign, user: frozenset[str], factor: float) -> BlockScaling:
    q = block.n_terms
    name0 = f"{block.target}_Intercept" if block.target else "Intercept"
    i0 = block.columns.index(name0) if name0 in block.columns else -1
    pinned = {sd_key(name0, block.group), cor_key(block.label)} & user
    centred = bool(block.correlated and q > 1 and i0 >= 0 and not pinned)
    Z = np.asarray(block.Z, dtype=float)
    center = np.zeros(q)
    if centred:
        center = _column_means(Z)
        center[i0] = 0.0
    scale = np.array([_rms(Z[:, j] - center[j]) for j in range(q)])
    return BlockScaling(center=center, scale=scale, intercept=i0, centred=centred,
                        factor=factor)


def _shared_columns(design: Design) -> list[int]:
    """Fixed-effect columns that are also a column of a block of group effects (the same
    values): kept as they are, so that a centred block can be centred on them."""
    out = []
    for j, col in enumerate(design.fixed_columns):
        if col != "Intercept" and any(
                col in b.columns and np.array_equal(design.X[:, j], b.Z[:, b.columns.index(col)])
                for b in design.blocks):
            out.append(j)
    return out


def _orthogonalise(X: np.ndarray, keep: list[int], intercept: int
                   ) -> tuple[np.ndarray, np.ndarray]:
    """The QR step of rstanarm and brms, for the columns not in ``keep`` (nor the
    intercept): each is made orthogonal to the kept ones and to the others before it,
    with unit root mean square. Returns the new design and ``T`` with ``X_new = X T``.

    Collinear-looking predictors (``x`` and ``I(x^2)`` far from 0, dummies of a factor)
    then have uncorrelated coefficients in the sampler's coordinates, whatever their
    correlation in the data."""
    n, p = X.shape
    base = sorted(set(keep) | ({intercept} if intercept >= 0 else set()))
    others = [j for j in range(p) if j not in base]
    T = np.eye(p)
    if not others or n < p:
        return X, T
    M = X[:, others]
    C = np.zeros((len(base), len(others)))
    if base:
        C = np.linalg.lstsq(X[:, base], M, rcond=None)[0]
        M = M - X[:, base] @ C
    q, r = np.linalg.qr(M)
    signs = np.where(np.diag(r) < 0, -1.0, 1.0)  # keep each column's orientation
    q, r = q * signs, r * signs[:, None]
    rinv = np.linalg.inv(r) * np.sqrt(n)
    out = X.copy()
    out[:, others] = q * np.sqrt(n)
    T[np.ix_(others, others)] = rinv
    if base:
        T[np.ix_(base, others)] = -C @ rinv
    return out, T


def standardize(design: Design, family: Family, priors: Mapping[str, object]) -> Standardization:
    """The internal coordinates of ``design`` (see the module docstring).

    Parameters
    ----------
    design : Design
        The user's design.
    family : Family
        The family: a location-scale response is centred and scaled too.
    priors : PriorSet
        The resolved priors; the names the user set decide where the intercept's and
        the blocks' priors sit.

    Returns
    -------
    Standardization
    """
    user = priors.user if isinstance(priors, PriorSet) else frozenset()
    if design.stats is not None:
        return _standardize_stats(design, user)
    X = np.asarray(design.X, dtype=float)
    n, p = X.shape
    cols = design.fixed_columns
    targets = design.target_of_columns()
    i0 = cols.index("Intercept") if "Intercept" in cols else -1
    x_center = np.zeros(p)
    x_scale = np.ones(p)
    X_star = X.copy()
    K = np.eye(p)
    T = np.eye(p)
    functional = np.eye(p)
    labels: dict[str, str] = {}
    absorbs = bool(family.intercepts) and len(design.columns_of("")) > 0
    # each linear predictor (the mean's, and that of each family parameter with its own
    # formula) is centred, scaled and orthogonalised on its own columns
    for target in dict.fromkeys(targets.tolist()):
        idx = np.flatnonzero(targets == target)
        name0 = f"{target}_Intercept" if target else "Intercept"
        tcols = [cols[j] for j in idx]
        j0 = tcols.index(name0) if name0 in tcols else -1
        Xt = X[:, idx]
        center = np.zeros(idx.size)
        if (j0 >= 0 and idx.size > 1) or (absorbs and not target):
            # (an ordinal model's thresholds are its intercept: they absorb the centring);
            # column by column, so that a column shared with a block has the block's centre
            # to the last bit (hierarchical centring compares them)
            center = _column_means(Xt)
            if j0 >= 0:
                center[j0] = 0.0
        scale = np.array([_rms(Xt[:, j] - center[j]) for j in range(idx.size)])
        St = (Xt - center[None, :]) / scale[None, :] if idx.size else Xt
        if j0 >= 0:
            St[:, j0] = 1.0
        shared = [k for k, j in enumerate(idx) if j in _shared_columns(design)]
        St, orth = _orthogonalise(St, shared, j0)
        X_star[:, idx] = St
        K[np.ix_(idx, idx)] = _centring_matrix(center, scale, j0) @ orth
        T[np.ix_(idx, idx)] = orth
        x_center[idx], x_scale[idx] = center, scale
        others = [c for c in tcols if c != name0]
        if j0 >= 0 and idx.size > 1 and name0 not in user:
            functional[idx[j0], idx] += center
            labels[name0] = "at " + _means_text(others, np.delete(center, j0))
        if absorbs and not target:
            labels.update({name: "at " + _means_text(others, center)
                           for name in family.intercepts})
    mean_idx = design.columns_of("")

    shift = np.zeros(p)
    y_scale = 1.0
    y = np.asarray(design.y, dtype=float)
    offset = design.offset
    if family.location_scale:
        resid = y - offset if offset is not None else y.copy()
        # observation weights: weighted least squares and a weighted root mean square
        lw = design.likelihood_weights()
        root_w = np.sqrt(lw) if lw is not None else np.ones(n)
        if mean_idx.size:
            Xm = X_star[:, mean_idx]
            coef = np.zeros(mean_idx.size)
            for _ in range(2):  # one step of iterative refinement
                step = np.linalg.lstsq(Xm * root_w[:, None], resid * root_w, rcond=None)[0]
                coef += step
                resid = resid - Xm @ step
            shift[mean_idx] = K[np.ix_(mean_idx, mean_idx)] @ coef
        y_scale = _rms(resid * root_w)
        y = resid / y_scale
        offset = None
        if "sigma" in design.dpar_formulas:  # log sigma = log s + log sigma*
            shift[cols.index("sigma_Intercept")] = np.log(y_scale)
    column_factor = np.where(targets == "", y_scale, 1.0) if design.dpars else np.zeros(0)

    blocks = [_block_scaling(b, user, 1.0 if b.target else y_scale) for b in design.blocks]
    new_blocks = []
    for b, bs in zip(design.blocks, blocks, strict=True):
        Zs = (np.asarray(b.Z, dtype=float) - bs.center[None, :]) / bs.scale[None, :]
        if bs.intercept >= 0:
            Zs[:, bs.intercept] = 1.0
        new_blocks.append(dataclasses.replace(b, Z=Zs))
        if bs.centred:
            text = "at " + _means_text([c for k, c in enumerate(b.columns)
                                        if k != bs.intercept],
                                       np.delete(bs.center, bs.intercept))
            labels[sd_key(b.columns[bs.intercept], b.group)] = text
            labels[cor_key(b.label)] = text
    internal = dataclasses.replace(design, X=X_star, y=y, offset=offset, blocks=new_blocks)
    return Standardization(x_center=x_center, x_scale=x_scale, x_intercept=i0, K=K, shift=shift,
                           y_scale=y_scale, functional=functional, blocks=blocks,
                           internal=internal, _labels=labels,
                           intercept_center=(x_center[mean_idx] if absorbs else np.zeros(0)),
                           column_factor=column_factor, orth=T)


def _orthogonal_map(G: np.ndarray, n: float, keep: list[int], intercept: int) -> np.ndarray:
    """:func:`_orthogonalise`'s ``T`` from the design's cross products ``G = X'X``
    (``X'X = R'R`` for the ``R`` of its QR step, with the same positive diagonal)."""
    p = G.shape[0]
    base = sorted(set(keep) | ({intercept} if intercept >= 0 else set()))
    others = [j for j in range(p) if j not in base]
    T = np.eye(p)
    if not others or n < p:
        return T
    Goo = G[np.ix_(others, others)]
    C = np.zeros((len(base), len(others)))
    if base:
        C = np.linalg.lstsq(G[np.ix_(base, base)], G[np.ix_(base, others)], rcond=None)[0]
        Goo = Goo - G[np.ix_(others, base)] @ C
    r = np.linalg.cholesky((Goo + Goo.T) / 2).T
    rinv = np.linalg.inv(r) * np.sqrt(n)
    T[np.ix_(others, others)] = rinv
    if base:
        T[np.ix_(base, others)] = -C @ rinv
    return T


def _standardize_stats(design: Design, user: frozenset[str]) -> Standardization:
    """:func:`standardize` for an out-of-core design (a Gaussian response with the
    identity link, one linear predictor, no weights), from its sufficient statistics
    (:mod:`mixedfit.design.stats`): every step is the same linear algebra on cross
    products instead of rows, and the internal design carries
    :class:`~mixedfit.design.stats.InternalStats`."""
    stats: SufficientStats = design.stats
    n = float(stats.gram[0, 0])
    cols = design.fixed_columns
    p = len(cols)
    i0 = cols.index("Intercept") if "Intercept" in cols else -1
    Px = stats.x_map()
    center = np.zeros(p)
    if i0 >= 0 and p > 1:
        center = stats.x_means()
        center[i0] = 0.0
    L = Px.copy()
    L[0] -= center  # X - center = W L
    scale = np.sqrt(np.maximum(np.diag(stats.quadratic(L)), 0.0) / n)
    scale = np.where((scale > 0) & np.isfinite(scale), scale, 1.0)
    L = L / scale[None, :]
    if i0 >= 0:
        L[:, i0] = 0.0
        L[0, i0] = 1.0
    keep = list(np.flatnonzero(stats.shared))
    T = _orthogonal_map(stats.quadratic(L), n, keep, i0)
    # twice (CholeskyQR2): the second pass removes the first's rounding, which grows as
    # the square of the condition number of the cross products
    T = T @ _orthogonal_map(stats.quadratic(L @ T), n, keep, i0)
    Lx = L @ T  # X* = W Lx
    K = _centring_matrix(center, scale, i0) @ T
    functional = np.eye(p)
    labels: dict[str, str] = {}
    if i0 >= 0 and p > 1 and "Intercept" not in user:
        functional[i0] += center
        labels["Intercept"] = "at " + _means_text([c for c in cols if c != "Intercept"],
                                                  np.delete(center, i0))
    # the response: least squares on X*, then its residual's root mean square
    ly = stats.y_map()
    shift = np.zeros(p)
    lr = ly
    if p:
        A = stats.quadratic(Lx)
        coef = np.linalg.lstsq(A, stats.quadratic(Lx, ly), rcond=None)[0]
        lr = ly - Lx @ coef
        shift = K @ coef
    rms = float(np.sqrt(max(float(stats.quadratic(lr)), 0.0) / n))
    y_scale = rms if rms > 0 and np.isfinite(rms) else 1.0
    lys = lr / y_scale  # y* = W lys

    # the blocks: columns side by side in the statistics
    Pz = stats.z_map()
    z_means = stats.z_means()
    Lz = np.zeros_like(Pz)
    blocks: list[BlockScaling] = []
    at = 0
    for b in design.blocks:
        q = b.n_terms
        sl = slice(at, at + q)
        j0 = b.columns.index("Intercept") if "Intercept" in b.columns else -1
        pinned = {sd_key("Intercept", b.group), cor_key(b.label)} & user
        centred = bool(b.correlated and q > 1 and j0 >= 0 and not pinned)
        c = np.zeros(q)
        if centred:
            c = z_means[sl].copy()
            c[j0] = 0.0
        e = stats.z_rms(np.concatenate([np.zeros(at), c, np.zeros(Pz.shape[1] - at - q)]))[sl]
        e = np.where((e > 0) & np.isfinite(e), e, 1.0)
        Lb = Pz[:, sl].copy()
        Lb[0] -= c
        Lb = Lb / e[None, :]
        if j0 >= 0:
            Lb[:, j0] = 0.0
            Lb[0, j0] = 1.0
        Lz[:, sl] = Lb
        blocks.append(BlockScaling(center=c, scale=e, intercept=j0, centred=centred,
                                   factor=y_scale))
        if centred:
            text = "at " + _means_text([x for t, x in enumerate(b.columns) if t != j0],
                                       np.delete(c, j0))
            labels[sd_key(b.columns[j0], b.group)] = text
            labels[cor_key(b.label)] = text
        at += q
    internal_stats = InternalStats(
        n=stats.n, yy=float(stats.quadratic(lys)), xy=stats.quadratic(Lx, lys),
        xx=stats.quadratic(Lx),
        zz=np.einsum("ai,mab,bj->mij", Lz, stats.vv, Lz),
        zy=np.einsum("ai,mab,b->mi", Lz, stats.vw, lys),
        zx=np.einsum("ai,mab,bj->mij", Lz, stats.vw, Lx))
    internal = dataclasses.replace(design, stats=internal_stats, offset=None)
    return Standardization(x_center=center, x_scale=scale, x_intercept=i0, K=K, shift=shift,
                           y_scale=y_scale, functional=functional, blocks=blocks,
                           internal=internal, _labels=labels)
