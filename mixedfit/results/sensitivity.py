"""Prior and likelihood sensitivity by power-scaling (the priorsense diagnostic).

Power-scaling a component of the posterior, ``p(theta | y) ∝ p(theta)**alpha p(y | theta)``
(prior) or ``p(theta) p(y | theta)**alpha`` (likelihood), reweights every posterior draw by
``w_s ∝ exp((alpha - 1) * log_component[s])``. The weights are Pareto-smoothed (PSIS), and the
cumulative Jensen-Shannon distance (CJS) between the base and the reweighted draws of each scalar
parameter measures how far the posterior moves. Its derivative with respect to ``log2(alpha)`` at
``alpha = 1`` is the sensitivity diagnostic; a value of 0.05 or more flags a parameter.

This follows Kallioinen, Paananen, Bürkner and Vehtari (2023), "Detecting and diagnosing prior
and likelihood sensitivity with power-scaling", *Statistics and Computing* 34(57), and the
defaults of their R package priorsense (``powerscale_sensitivity``: ``lower_alpha = 0.99``,
``upper_alpha = 1.01``, ``div_measure = "cjs_dist"``, ``sensitivity_threshold = 0.05``).

The module needs only numpy, pandas and arviz (for :func:`arviz.psislw`); it works on any set of
posterior draws with per-draw log prior and log likelihood values.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

__all__ = [
    "cjs_dist",
    "power_scale_weights",
    "power_scale_sensitivity",
    "PRIOR_DATA_CONFLICT",
    "STRONG_PRIOR",
    "NO_PROBLEM",
]

PRIOR_DATA_CONFLICT = "prior-data conflict"
STRONG_PRIOR = "strong prior / weak likelihood"
NO_PROBLEM = "-"


# --------------------------------------------------------------------------- CJS distance
def _as_draw_vector(x: object, name: str) -> np.ndarray:
    arr = np.asarray(x, dtype=float)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array, got shape {arr.shape}.")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must contain only finite values.")
    return arr


def _as_weights(w: object, n: int, name: str) -> np.ndarray:
    if w is None:
        return np.full(n, 1.0 / n)
    arr = np.asarray(w, dtype=float)
    if arr.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},), got {arr.shape}.")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(f"{name} must be finite and non-negative.")
    return arr


def _ewcdf(sorted_x: np.ndarray, sorted_w: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Right-continuous weighted ECDF of ``sorted_x`` evaluated at ``at``."""
    cum = np.concatenate(([0.0], np.cumsum(sorted_w) / sorted_w.sum()))
    return cum[np.searchsorted(sorted_x, at, side="right")]


def _cjs_sq(width: np.ndarray | float, px: np.ndarray, qx: np.ndarray) -> np.ndarray:
    """Squared, normalised CJS distance of CDFs tabulated on common bins (along axis 0).

    ``(CJS(P||Q) + CJS(Q||P)) / (int P + int Q)`` with
    ``CJS(P||Q) = int P log2(P / M) + (int Q - int P) / (2 ln 2)`` and ``M = (P + Q) / 2``.
    The linear terms of the two directions cancel in the sum, which leaves
    ``int (P log2(P / M) + Q log2(Q / M))``, non-negative point by point.
    """
    m = 0.5 * (px + qx)
    with np.errstate(divide="ignore", invalid="ignore"):
        # 0 * log(0) terms are dropped, as priorsense does with ``na.rm = TRUE``
        t_p = np.where(px > 0, px * (np.log2(px) - np.log2(m)), 0.0)
        t_q = np.where(qx > 0, qx * (np.log2(qx) - np.log2(m)), 0.0)
        bound = np.sum((px + qx) * width, axis=0)
        num = np.sum((t_p + t_q) * width, axis=0)
        # bound == 0: both distributions are the same point mass
        return np.where(bound > 0, np.maximum(num, 0.0) / np.where(bound > 0, bound, 1.0), 0.0)


def _cjs_one_sided(x: np.ndarray, y: np.ndarray, wx: np.ndarray, wy: np.ndarray) -> float:
    """priorsense's ``.cjs_dist`` with ``metric = TRUE`` (one orientation of the axis)."""
    ix, iy = np.argsort(x, kind="stable"), np.argsort(y, kind="stable")
    xs, ys, wp, wq = x[ix], y[iy], wx[ix], wy[iy]
    if xs.shape == ys.shape and np.array_equal(xs, ys):
        # y is a reweighting of x: integrate the exact step-function ECDFs on the draws' own
        # steps [x_(i), x_(i+1)), i = 1..S-1
        binwidth: np.ndarray | float = np.diff(xs)
        px = (np.cumsum(wp) / wp.sum())[:-1]
        qx = (np.cumsum(wq) / wq.sum())[:-1]
    else:
        # different draws: tabulate both ECDFs on max(len(x), len(y)) equally spaced points
        nbins = max(xs.size, ys.size)
        lo, hi = min(xs[0], ys[0]), max(xs[-1], ys[-1])
        bins = np.linspace(lo, hi, nbins)
        binwidth = float(bins[1] - bins[0]) if nbins > 1 else 0.0
        px = _ewcdf(xs, wp, bins)
        qx = _ewcdf(ys, wq, bins)
    return float(np.sqrt(_cjs_sq(binwidth, px, qx)))


def cjs_dist(
    x: np.ndarray | Sequence[float],
    y: np.ndarray | Sequence[float],
    x_weights: np.ndarray | Sequence[float] | None = None,
    y_weights: np.ndarray | Sequence[float] | None = None,
) -> float:
    """Cumulative Jensen-Shannon distance between two (weighted) samples.

    A port of priorsense's ``cjs_dist`` (defaults ``metric = TRUE``, ``unsigned = TRUE``).
    With ``P`` and ``Q`` the weighted empirical CDFs of ``x`` and ``y``, ``M = (P + Q) / 2`` and
    integrals over the real line,

    ``CJS(P || Q) = ∫ P log2(P / M) dt + (∫ Q dt - ∫ P dt) / (2 ln 2)``  (Nguyen & Vreeken 2015),

    ``d(P, Q) = sqrt((CJS(P || Q) + CJS(Q || P)) / (∫ P dt + ∫ Q dt))``,

    which lies in [0, 1]. The result is ``max(d(P, Q), d(P-, Q-))`` where ``P-`` and ``Q-`` are
    the CDFs of ``-x`` and ``-y`` (the CJS looks at CDFs, not survival functions, so it is not
    invariant to reflecting the axis; the maximum is). When ``y`` holds the same draws as ``x``
    (only the weights differ) the step-function ECDFs are integrated exactly between the
    smallest and largest draw; otherwise both ECDFs are tabulated on ``max(len(x), len(y))``
    equally spaced points spanning both samples, as in priorsense.

    Parameters
    ----------
    x, y : array_like
        1-D samples from the two distributions (finite values).
    x_weights, y_weights : array_like, optional
        Non-negative weights of ``x`` and ``y`` (normalised internally); equal weights if omitted.

    Returns
    -------
    float
        The distance in [0, 1]; 0 for identical samples with identical weights, NaN when every
        weight of ``y`` is zero.

    References
    ----------
    Nguyen H.-V., Vreeken J. (2015). Non-parametric Jensen-Shannon divergence. ECML PKDD 2015,
    LNCS 9285. Kallioinen N. et al. (2023). Statistics and Computing 34(57).

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> x = rng.normal(size=2000)
    >>> cjs_dist(x, x)
    0.0
    >>> bool(cjs_dist(x, x + 0.1) < cjs_dist(x, x + 1.0))
    True
    """
    xv = _as_draw_vector(x, "x")
    yv = _as_draw_vector(y, "y")
    wx = _as_weights(x_weights, xv.size, "x_weights")
    wy = _as_weights(y_weights, yv.size, "y_weights")
    if not wy.sum() > 0:
        return float("nan")
    if not wx.sum() > 0:
        raise ValueError("x_weights must not all be zero.")
    if xv.shape == yv.shape and np.array_equal(xv, yv) and np.array_equal(wx, wy):
        return 0.0
    return max(_cjs_one_sided(xv, yv, wx, wy), _cjs_one_sided(-xv, -yv, wx, wy))


# --------------------------------------------------------------------------- weights
def power_scale_weights(
    log_component: np.ndarray | Sequence[float], alpha: float, reff: float = 1.0
) -> tuple[np.ndarray, float]:
    """PSIS weights that power-scale one component of the posterior by ``alpha``.

    The raw log importance ratios are ``(alpha - 1) * log_component``; they are
    Pareto-smoothed with :func:`arviz.psislw` (right tail) and normalised.

    Parameters
    ----------
    log_component : array_like
        Per-draw log density of the scaled component, shape ``(S,)``: the summed log prior of
        the power-scaled priors, or the summed log likelihood.
    alpha : float
        The power (> 0); 1 leaves the posterior as it is.
    reff : float, default 1.0
        Relative efficiency ``ESS / S`` of the draws, which sets the length of the smoothed tail.

    Returns
    -------
    weights : numpy.ndarray
        Normalised weights, shape ``(S,)``, summing to 1.
    k : float
        Pareto shape estimate of the ratios' right tail; above about 0.7 the reweighting is
        unreliable. ``-inf`` when no reweighting is needed (``alpha == 1`` or a constant
        component), as in priorsense.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> lp = rng.normal(size=1000)
    >>> w, k = power_scale_weights(lp, 1.0)
    >>> bool(np.allclose(w, 1 / 1000)), k
    (True, -inf)
    >>> w, k = power_scale_weights(lp, 1.01)
    >>> bool(np.isclose(w.sum(), 1.0)), bool(k < 0.7)
    (True, True)
    """
    import arviz as az  # deferred: ArviZ is heavy and only needed here

    lc = _as_draw_vector(log_component, "log_component")
    if not (np.isfinite(alpha) and alpha > 0):
        raise ValueError(f"alpha must be a positive number, got {alpha!r}.")
    if not (np.isfinite(reff) and reff > 0):
        raise ValueError(f"reff must be a positive number, got {reff!r}.")
    n = lc.size
    log_ratio = (float(alpha) - 1.0) * lc
    if alpha == 1.0 or np.ptp(log_ratio) == 0.0:
        return np.full(n, 1.0 / n), float("-inf")
    lw, k = az.psislw(log_ratio, reff=float(reff))
    w = np.exp(np.asarray(lw, dtype=float) - np.max(lw))
    return w / w.sum(), float(k)


def _relative_efficiency(log_component: np.ndarray, n_chains: int) -> float:
    """Tail ESS / S of the draws' log component (priorsense passes ``r_eff = NULL`` to
    ``posterior::pareto_smooth``, which uses the tail ESS of the ratios; the ratios are a
    monotone function of the component, so their rank-based tail ESS is the same)."""
    import arviz as az  # deferred: ArviZ is heavy and only needed here

    n = log_component.size
    per_chain = n // n_chains
    if per_chain < 4 or np.ptp(log_component) == 0.0:
        return 1.0
    try:
        ess = float(az.ess(log_component.reshape(n_chains, per_chain), method="tail"))
    except Exception:  # a failed ESS estimate falls back to iid draws
        return 1.0
    if not np.isfinite(ess) or ess <= 0:
        return 1.0
    return ess / n


def _reweighted_cjs(x: np.ndarray, w: np.ndarray, chunk_elems: int = 1_000_000) -> np.ndarray:
    """``cjs_dist(x[:, j], x[:, j], None, w[:, i])`` for every column ``j`` of ``x`` (S, p) and
    weight vector ``i`` of ``w`` (S, m), vectorised; returns shape (p, m).

    The base draws have equal weights, so their CDF at the i-th smallest draw is ``i / S`` in
    both orientations of the axis.
    """
    n, p = x.shape
    base = (np.arange(1, n) / n)[:, None, None]
    w = w / w.sum(axis=0)
    out = np.empty((p, w.shape[1]))
    step = max(1, chunk_elems // (n * w.shape[1]))
    for lo in range(0, p, step):
        cols = slice(lo, min(lo + step, p))
        order = np.argsort(x[:, cols], axis=0, kind="stable")
        width = np.diff(np.take_along_axis(x[:, cols], order, axis=0), axis=0)[:, :, None]
        ws = w[order]  # (S, c, m): weights in the sorted order of each column
        fwd = _cjs_sq(width, base, np.cumsum(ws, axis=0)[:-1])
        bwd = _cjs_sq(width[::-1], base, np.cumsum(ws[::-1], axis=0)[:-1])
        out[cols] = np.sqrt(np.maximum(fwd, bwd))
    return out


# --------------------------------------------------------------------------- labels
def _row_labels(name: str, shape: tuple[int, ...], labels: Sequence | None) -> list[str]:
    size = int(np.prod(shape)) if shape else 1
    if labels is None:
        if not shape:
            return [name]
        idx = np.unravel_index(np.arange(size), shape)
        return [f"{name}[{','.join(str(int(a[i])) for a in idx)}]" for i in range(size)]
    labels = list(labels)
    if labels and all(isinstance(lab, str) for lab in labels):
        if len(labels) != size:
            raise ValueError(
                f"labels[{name!r}] has {len(labels)} entries but {name!r} has {size} components."
            )
        return [f"{name}[{lab}]" for lab in labels]
    # one sequence of labels per axis
    axes = [[str(lab) for lab in axis] for axis in labels]
    if tuple(len(a) for a in axes) != shape:
        raise ValueError(
            f"labels[{name!r}] must be {size} strings or one list per axis of shape {shape}."
        )
    idx = np.unravel_index(np.arange(size), shape)
    return [f"{name}[{','.join(axes[d][int(idx[d][i])] for d in range(len(shape)))}]"
            for i in range(size)]


def _weighted_mean_sd(x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted mean and sd of the columns of ``x`` (S, p); ``w`` sums to 1.

    The variance uses the reliability-weights correction ``1 / (1 - sum w**2)``, which is the
    usual ``ddof=1`` estimate when the weights are equal.
    """
    mean = w @ x
    var = w @ (x - mean) ** 2
    denom = 1.0 - float(np.sum(w**2))
    if denom > 0:
        var = var / denom
    return mean, np.sqrt(var)


# --------------------------------------------------------------------------- main entry
def power_scale_sensitivity(
    draws: Mapping[str, np.ndarray],
    log_prior: np.ndarray,
    log_lik: np.ndarray,
    *,
    n_chains: int = 1,
    alpha: float = 1.01,
    threshold: float = 0.05,
    labels: Mapping[str, Sequence] | None = None,
) -> pd.DataFrame:
    """Prior and likelihood power-scaling sensitivity of every scalar parameter.

    For each component (prior, likelihood) the posterior is power-scaled by ``2 - alpha`` and
    ``alpha`` (0.99 and 1.01 by default, as in priorsense) through PSIS weights
    (:func:`power_scale_weights`). The sensitivity of a parameter is the finite-difference
    derivative of its CJS distance (:func:`cjs_dist`) from the base posterior with respect to
    ``log2(alpha)``, computed as priorsense does::

        (cjs(2 - alpha) + cjs(alpha)) / (2 * log2(alpha))

    Parameters
    ----------
    draws : mapping of str to numpy.ndarray
        Posterior draws by variable, each of shape ``(S,)`` or ``(S, ...)`` with the
        ``S = chains * draws`` draws in chain-major order.
    log_prior : numpy.ndarray
        Per-draw log density of the priors to power-scale, summed, shape ``(S,)``.
    log_lik : numpy.ndarray
        Per-draw log likelihood summed over observations, shape ``(S,)``.
    n_chains : int, default 1
        Number of chains the draws come from; used for the relative efficiency (tail ESS / S)
        that sets the PSIS tail length.
    alpha : float, default 1.01
        Upper power, in (1, 2); the lower one is ``2 - alpha``.
    threshold : float, default 0.05
        Sensitivity at or above which a component counts as influential.
    labels : mapping of str to sequence, optional
        Component labels per variable: either one string per component (C order), as in
        ``{"fixed": ["Intercept", "Days"]}`` giving rows ``fixed[Intercept]``, ``fixed[Days]``,
        or one list of labels per axis for multi-dimensional variables. Unlabelled variables
        get ``name[i]`` or ``name[i,j]`` (0-based).

    Returns
    -------
    pandas.DataFrame
        One row per scalar parameter (index ``parameter``) with columns

        - ``prior``, ``likelihood``: the two sensitivities;
        - ``diagnosis``: ``"prior-data conflict"`` (both >= ``threshold``),
          ``"strong prior / weak likelihood"`` (prior >= ``threshold`` > likelihood) or ``"-"``;
        - ``mean``, ``mean_prior_down``, ``mean_prior_up``: posterior mean at the base posterior
          and with the prior power-scaled by ``2 - alpha`` and ``alpha``;
        - ``sd``, ``sd_prior_down``, ``sd_prior_up``: the same for the posterior sd.

        ``attrs`` holds ``pareto_k_prior`` and ``pareto_k_likelihood`` (the larger Pareto k of
        the two powers), ``k_threshold`` (``min(1 - 1 / log10(S), 0.7)``, Vehtari et al. 2024),
        ``alpha`` (the two powers), ``threshold``, and ``note``: an empty string, or a warning
        that the importance sampling is unreliable because a Pareto k exceeds ``k_threshold``
        (then refit the model with the prior actually scaled instead of trusting the values).

    Notes
    -----
    ``log_prior`` should hold the priors one would consider changing: in a mixed model the
    priors of the top-level parameters (fixed effects, group-level sds and correlations,
    residual scale), not the ``N(0, sigma)`` densities of the group-level effects themselves,
    which are part of the model (brms' ``lprior``, which priorsense scales, leaves them out).
    The sum over many group-level effects also varies a lot between draws, which spreads the
    weights.

    The sensitivity of a parameter unrelated to the scaled component is not exactly 0: the
    reweighted ECDF differs from the base one by Monte Carlo noise, and a distance is never
    negative. This floor grows with the spread of the weights; with S = 4000 draws and a log
    component whose sd over the draws is ~19 nats it is ~0.1, above the 0.05 threshold (the
    clearly sensitive parameters are then much larger).

    Diagnoses use ``>=`` for both categories; priorsense uses ``>`` for the strong-prior one,
    which differs only at equality. priorsense's labels are "potential prior-likelihood
    conflict" and "potential strong prior / weak likelihood".

    Examples
    --------
    Exact posterior draws of a normal mean with a N(0, 100) prior and 50 observations:

    >>> rng = np.random.default_rng(2)
    >>> y = rng.normal(1.0, 1.0, size=50)
    >>> prec = 1 / 100**2 + y.size
    >>> theta = rng.normal(y.sum() / prec, prec**-0.5, size=4000)
    >>> log_prior = -0.5 * (theta / 100) ** 2
    >>> log_lik = -0.5 * ((y[None, :] - theta[:, None]) ** 2).sum(axis=1)
    >>> tab = power_scale_sensitivity({"theta": theta}, log_prior, log_lik)
    >>> tab.loc["theta", "diagnosis"], bool(tab.loc["theta", "prior"] < 0.05)
    ('-', True)
    """
    if not isinstance(draws, Mapping) or not draws:
        raise ValueError("draws must be a non-empty mapping of name -> array.")
    lp = _as_draw_vector(log_prior, "log_prior")
    ll = _as_draw_vector(log_lik, "log_lik")
    n = lp.size
    if ll.size != n:
        raise ValueError(f"log_prior has {n} draws but log_lik has {ll.size}.")
    if n < 2:
        raise ValueError("At least two draws are needed.")
    if int(n_chains) != n_chains or n_chains < 1 or n % int(n_chains):
        raise ValueError(f"n_chains={n_chains!r} must be a positive integer dividing S={n}.")
    n_chains = int(n_chains)
    if not (np.isfinite(alpha) and 1.0 < alpha < 2.0):
        raise ValueError(f"alpha must lie in (1, 2), got {alpha!r}.")
    labels = {} if labels is None else dict(labels)
    unknown = set(labels) - set(draws)
    if unknown:
        raise ValueError(f"labels given for unknown variables: {sorted(unknown)}.")

    names: list[str] = []
    columns: list[np.ndarray] = []
    for name, arr in draws.items():
        a = np.asarray(arr, dtype=float)
        if a.ndim == 0 or a.shape[0] != n:
            raise ValueError(f"draws[{name!r}] must have {n} draws along axis 0, got {a.shape}.")
        if not np.all(np.isfinite(a)):
            raise ValueError(f"draws[{name!r}] contains non-finite values.")
        names.extend(_row_labels(name, a.shape[1:], labels.get(name)))
        columns.append(a.reshape(n, -1))
    x = np.concatenate(columns, axis=1)

    powers = (2.0 - float(alpha), float(alpha))
    weights: dict[str, list[np.ndarray]] = {}
    k_max: dict[str, float] = {}
    for comp, values in (("prior", lp), ("likelihood", ll)):
        reff = _relative_efficiency(values, n_chains)
        ws, ks = zip(*(power_scale_weights(values, a, reff) for a in powers), strict=True)
        weights[comp] = list(ws)
        k_max[comp] = float(max(ks))

    base_w = np.full(n, 1.0 / n)
    denom = 2.0 * np.log2(alpha)
    dist = _reweighted_cjs(x, np.stack(weights["prior"] + weights["likelihood"], axis=1))
    prior_s = (dist[:, 0] + dist[:, 1]) / denom
    lik_s = (dist[:, 2] + dist[:, 3]) / denom

    mean, sd = _weighted_mean_sd(x, base_w)
    mean_dn, sd_dn = _weighted_mean_sd(x, weights["prior"][0])
    mean_up, sd_up = _weighted_mean_sd(x, weights["prior"][1])

    diagnosis = np.where(
        (prior_s >= threshold) & (lik_s >= threshold),
        PRIOR_DATA_CONFLICT,
        np.where((prior_s >= threshold) & (lik_s < threshold), STRONG_PRIOR, NO_PROBLEM),
    )
    out = pd.DataFrame(
        {
            "prior": prior_s,
            "likelihood": lik_s,
            "diagnosis": diagnosis.astype(object),
            "mean": mean,
            "mean_prior_down": mean_dn,
            "mean_prior_up": mean_up,
            "sd": sd,
            "sd_prior_down": sd_dn,
            "sd_prior_up": sd_up,
        },
        index=pd.Index(names, name="parameter"),
    )

    k_threshold = min(1.0 - 1.0 / np.log10(n), 0.7)
    bad = [f"{comp} (k = {k:.2f})" for comp, k in k_max.items() if k > k_threshold]
    note = ""
    if bad:
        note = (
            f"Pareto k of the power-scaling weights exceeds {k_threshold:.2f} for the "
            f"{' and the '.join(bad)}: the importance sampling is unreliable and so are the "
            "sensitivities. Refit the model with the component actually power-scaled instead."
        )
    out.attrs.update(
        pareto_k_prior=k_max["prior"],
        pareto_k_likelihood=k_max["likelihood"],
        k_threshold=float(k_threshold),
        alpha=powers,
        threshold=float(threshold),
        note=note,
    )
    return out
