"""Sufficient statistics of a Gaussian mixed model, computed part by part and added.

A Gaussian model whose blocks of group effects share one grouping factor depends on
its rows only through a few cross products (see :mod:`mixedfit.fast.marginal`):
``X'X``, ``X'y``, ``y'y`` and, level by level, ``Z'Z``, ``Z'y``, ``Z'X``. They add
across any split of the rows, which is what lets :mod:`mixedfit.design.outofcore` fit
data that do not fit in memory, one partition at a time, and
:meth:`mixedfit.MixedResult.update` add new rows to a fit without the old ones.

The statistics are kept *about a fixed origin* (the means of a first sample of the
rows, the same for every part): with ``W = [1, X - o_x, y - o_y]`` and, for each
level, ``V = [1, Z - o_z]`` (``Z`` the columns of every block side by side), they are
``W'W`` and, per level, ``V'V`` and ``V'W``. Sums of squares of raw columns far from
zero (a year counted from 0) would lose the digits that matter to cancellation;
about an origin near the data they keep them, and every quantity the model needs is
a linear map of ``W`` and ``V`` (``X = W P_x``, ``Z = V P_z``): its cross products are
``L' (W'W) L``, computed without cancellation because the maps' rows that multiply
the constant column are small.

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(1)
>>> X = np.column_stack([np.ones(6), rng.normal(size=6)])
>>> y, idx = rng.normal(size=6), np.array([0, 0, 1, 1, 2, 2])
>>> origin = Origin(x=X[:3].mean(0), y=y[:3].mean(), z=X[:3].mean(0))
>>> whole = partition_stats(X, y, X, idx, 3, origin)
>>> halves = partition_stats(X[:3], y[:3], X[:3], idx[:3], 3, origin).add(
...     partition_stats(X[3:], y[3:], X[3:], idx[3:], 3, origin))
>>> bool(np.allclose(whole.gram, halves.gram)), whole.n
(True, 6)
>>> bool(np.allclose(whole.raw_xx(), X.T @ X))
True
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

__all__ = ["Origin", "SufficientStats", "partition_stats", "InternalStats"]


@dataclass(frozen=True)
class Origin:
    """The fixed point the statistics are taken about: ``x`` (one value per fixed-effect
    column), ``y`` (the response, less any offset) and ``z`` (one per column of the
    blocks of group effects, side by side)."""

    x: np.ndarray
    y: float
    z: np.ndarray


@dataclass
class SufficientStats:
    """Sufficient statistics of rows about an :class:`Origin` (see the module docstring).

    Attributes
    ----------
    origin : Origin
    gram : numpy.ndarray
        ``W'W``, ``(p + 2, p + 2)`` with ``W = [1, X - o_x, y - o_y]``; ``gram[0, 0]``
        is the number of rows.
    vv : numpy.ndarray
        ``(m, k + 1, k + 1)``: each level's ``V'V``, ``V = [1, Z - o_z]``.
    vw : numpy.ndarray
        ``(m, k + 1, p + 2)``: each level's ``V'W``.
    shared : numpy.ndarray
        ``(p,)`` bool: fixed-effect column ``j`` equals, in every row, the column of the
        same name of a block of group effects (see :mod:`mixedfit.standardize`).
    partitions : int
        Number of parts added.
    source : str
        Where the rows came from, in words (``"20 Parquet files in data/"``).
    """

    origin: Origin
    gram: np.ndarray
    vv: np.ndarray
    vw: np.ndarray
    shared: np.ndarray
    partitions: int = 1
    source: str = ""
    #: rows dropped for missing values
    n_dropped: int = 0
    _extra: dict = field(default_factory=dict, repr=False)

    @property
    def n(self) -> int:
        """Number of rows."""
        return int(round(self.gram[0, 0]))

    @property
    def counts(self) -> np.ndarray:
        """Rows per level."""
        return np.rint(self.vv[:, 0, 0]).astype(np.int64)

    @property
    def p(self) -> int:
        """Number of fixed-effect columns."""
        return self.gram.shape[0] - 2

    def add(self, other: SufficientStats) -> SufficientStats:
        """The statistics of both sets of rows (taken about the same origin)."""
        if not (np.array_equal(self.origin.x, other.origin.x) and self.origin.y == other.origin.y
                and np.array_equal(self.origin.z, other.origin.z)):
            raise ValueError("statistics about different origins cannot be added")
        if self.vv.shape != other.vv.shape or self.gram.shape != other.gram.shape:
            raise ValueError("statistics of different designs cannot be added")
        return replace(self, gram=self.gram + other.gram, vv=self.vv + other.vv,
                       vw=self.vw + other.vw, shared=self.shared & other.shared,
                       partitions=self.partitions + other.partitions,
                       n_dropped=self.n_dropped + other.n_dropped)

    # ---------------------------------------------------------------- linear maps
    def x_map(self) -> np.ndarray:
        """``P_x`` ``(p + 2, p)``: ``X = W P_x``."""
        p = self.p
        P = np.zeros((p + 2, p))
        P[0] = self.origin.x
        P[1:p + 1] = np.eye(p)
        return P

    def y_map(self) -> np.ndarray:
        """``(p + 2,)``: ``y = W l`` (the response less any offset)."""
        out = np.zeros(self.p + 2)
        out[0], out[-1] = self.origin.y, 1.0
        return out

    def z_map(self) -> np.ndarray:
        """``P_z`` ``(k + 1, k)``: ``Z = V P_z``."""
        k = self.vv.shape[1] - 1
        P = np.zeros((k + 1, k))
        P[0] = self.origin.z
        P[1:] = np.eye(k)
        return P

    def quadratic(self, left: np.ndarray, right: np.ndarray | None = None) -> np.ndarray:
        """``(W a)'(W b)`` for maps ``a``, ``b`` (vectors or matrices of ``W``'s columns)."""
        return left.T @ self.gram @ (left if right is None else right)

    # ---------------------------------------------------------------- raw products
    def raw_xx(self) -> np.ndarray:
        """``X'X`` of the raw columns."""
        P = self.x_map()
        return P.T @ self.gram @ P

    def raw_xy(self) -> np.ndarray:
        """``X'y``."""
        return self.x_map().T @ self.gram @ self.y_map()

    def raw_yy(self) -> float:
        """``y'y``."""
        ly = self.y_map()
        return float(ly @ self.gram @ ly)

    def raw_zz(self) -> np.ndarray:
        """Each level's ``Z'Z`` ``(m, k, k)``."""
        P = self.z_map()
        return np.einsum("ai,mab,bj->mij", P, self.vv, P)

    def raw_zy(self) -> np.ndarray:
        """Each level's ``Z'y`` ``(m, k)``."""
        return np.einsum("ai,mab,b->mi", self.z_map(), self.vw, self.y_map())

    def raw_zx(self) -> np.ndarray:
        """Each level's ``Z'X`` ``(m, k, p)``."""
        return np.einsum("ai,mab,bj->mij", self.z_map(), self.vw, self.x_map())

    # ---------------------------------------------------------------- moments
    def x_means(self) -> np.ndarray:
        """Each fixed-effect column's mean."""
        return self.origin.x + self.gram[0, 1:self.p + 1] / self.gram[0, 0]

    def x_sd(self) -> np.ndarray:
        """Each fixed-effect column's sd (``ddof=0``, as :func:`numpy.std`)."""
        centred = self.x_map()
        centred[0] -= self.x_means()
        return np.sqrt(np.maximum(np.diag(self.quadratic(centred)), 0.0) / self.gram[0, 0])

    def y_mean(self) -> float:
        """The response's mean (less any offset)."""
        return float(self.origin.y + self.gram[0, -1] / self.gram[0, 0])

    def y_sd(self) -> float:
        """The response's sd (``ddof=0``)."""
        ly = self.y_map()
        ly[0] -= self.y_mean()
        return float(np.sqrt(max(float(ly @ self.gram @ ly), 0.0) / self.gram[0, 0]))

    def z_totals(self) -> np.ndarray:
        """``V'V`` summed over levels ``(k + 1, k + 1)``."""
        return self.vv.sum(axis=0)

    def z_means(self) -> np.ndarray:
        """Each block column's mean ``(k,)``."""
        tot = self.z_totals()
        return self.origin.z + tot[0, 1:] / tot[0, 0]

    def z_rms(self, center: np.ndarray) -> np.ndarray:
        """Root mean square of each block column less ``center`` ``(k,)``."""
        P = self.z_map()
        P[0] -= center
        tot = self.z_totals()
        return np.sqrt(np.maximum(np.diag(P.T @ tot @ P), 0.0) / tot[0, 0])

    def z_sd(self) -> np.ndarray:
        """Each block column's sd (``ddof=0``)."""
        return self.z_rms(self.z_means())

    def moment_response(self) -> np.ndarray:
        """Two values with the response's mean and sd (``ddof=0``): what the default
        priors and start values of a location-scale family read of the response."""
        m, s = self.y_mean(), self.y_sd()
        return np.array([m - s, m + s])

    # ---------------------------------------------------------------- saving
    def to_arrays(self) -> dict[str, np.ndarray]:
        """The statistics as named arrays (for saving; :meth:`from_arrays` inverts)."""
        return {"stats_gram": self.gram, "stats_vv": self.vv, "stats_vw": self.vw,
                "stats_shared": self.shared.astype(np.int8),
                "stats_origin_x": self.origin.x, "stats_origin_z": self.origin.z,
                "stats_scalars": np.array([self.origin.y, self.partitions, self.n_dropped],
                                          dtype=float)}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], source: str = "") -> SufficientStats:
        """The inverse of :meth:`to_arrays`."""
        scalars = np.asarray(arrays["stats_scalars"], dtype=float)
        origin = Origin(x=np.asarray(arrays["stats_origin_x"], dtype=float),
                        y=float(scalars[0]), z=np.asarray(arrays["stats_origin_z"], dtype=float))
        return cls(origin=origin, gram=np.asarray(arrays["stats_gram"], dtype=float),
                   vv=np.asarray(arrays["stats_vv"], dtype=float),
                   vw=np.asarray(arrays["stats_vw"], dtype=float),
                   shared=np.asarray(arrays["stats_shared"]).astype(bool),
                   partitions=int(scalars[1]), n_dropped=int(scalars[2]), source=source)


def partition_stats(X: np.ndarray, y: np.ndarray, Z: np.ndarray, index: np.ndarray, m: int,
                    origin: Origin, shared: np.ndarray | None = None,
                    source: str = "") -> SufficientStats:
    """The statistics of one set of rows.

    Parameters
    ----------
    X : numpy.ndarray
        ``(n, p)`` fixed-effect columns.
    y : numpy.ndarray
        ``(n,)`` response, less any offset.
    Z : numpy.ndarray
        ``(n, k)`` the columns of every block of group effects, side by side.
    index : numpy.ndarray
        ``(n,)`` each row's level of the (one) grouping factor, ``0 .. m - 1``.
    m : int
        Number of levels (of the whole data, not only those these rows have).
    origin : Origin
    shared : numpy.ndarray, optional
        ``(p,)`` bool: which fixed columns equal a block column in these rows.
    """
    n, p = X.shape
    k = Z.shape[1]
    W = np.empty((n, p + 2))
    W[:, 0] = 1.0
    np.subtract(X, origin.x[None, :], out=W[:, 1:p + 1])
    W[:, -1] = y - origin.y
    V = np.empty((n, k + 1))
    V[:, 0] = 1.0
    np.subtract(Z, origin.z[None, :], out=V[:, 1:])
    vv = np.empty((m, k + 1, k + 1))
    vw = np.empty((m, k + 1, p + 2))
    idx = np.asarray(index, dtype=np.int64)
    for a in range(k + 1):
        for b in range(a, k + 1):
            vv[:, a, b] = vv[:, b, a] = np.bincount(idx, weights=V[:, a] * V[:, b], minlength=m)
        for b in range(p + 2):
            if a == 0 and b == 0:
                vw[:, 0, 0] = vv[:, 0, 0]
                continue
            vw[:, a, b] = np.bincount(idx, weights=V[:, a] * W[:, b], minlength=m)
    return SufficientStats(origin=origin, gram=W.T @ W, vv=vv, vw=vw,
                           shared=(np.ones(p, bool) if shared is None
                                   else np.asarray(shared, bool)), source=source)


@dataclass
class InternalStats:
    """Sufficient statistics in the sampler's internal coordinates
    (:mod:`mixedfit.standardize`), as :func:`mixedfit.fast.layout.make_layout` packs
    them for :mod:`mixedfit.fast.marginal`: ``n``, ``y*'y*``, ``X*'y*``, ``X*'X*`` and,
    per level, ``A = Z*'Z*``, ``Z*'y*``, ``Z*'X*``."""

    n: int
    yy: float
    xy: np.ndarray
    xx: np.ndarray
    zz: np.ndarray
    zy: np.ndarray
    zx: np.ndarray
