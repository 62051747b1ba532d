"""K-fold cross-validation: the folds, the held-out log predictive density, the result.

:meth:`mixedfit.MixedResult.kfold` refits the model without each fold's rows and scores
the rows left out; this module holds what needs no refitting: which rows form each fold
(:func:`kfold_split`, :func:`group_split`), the log-likelihood of held-out rows under a
fit's posterior draws (:func:`heldout_log_likelihood`), and the result (:class:`KFold`),
which ``arviz.compare`` takes through :meth:`KFold.elpd_data`.

The log predictive density of a held-out row ``i`` is ``log (1/S) sum_s p(y_i | theta_s)``
over the ``S`` posterior draws of the fit that did not see it, with the group effects of
the levels that fit saw and, for a level it did not see (every level of a
leave-group-out fold), one draw of a new level's effects from the population per
posterior draw (``res.predict(newdata, new_levels="population")``; brms'
``kfold(sample_new_levels = "uncertainty")``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mixedfit.errors import DataError, OptionError
from mixedfit.results.loglik import pointwise_log_likelihood
from mixedfit.results.predict import family_parameter_draws, linear_predictor_draws

if TYPE_CHECKING:
    from mixedfit.results.view import ResultView

__all__ = ["KFold", "kfold_split", "group_split", "heldout_log_likelihood",
           "log_mean_exp", "kfold_estimate"]


def _check_k(k: Any, n: int, what: str) -> int:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 2:
        raise OptionError(f"k must be an integer >= 2 (the number of folds), got {k!r}.")
    if k > n:
        raise OptionError(f"k={k} folds need at least {k} {what}; there are {n}.")
    return int(k)


def kfold_split(n: int, k: int, random_seed: int | None) -> np.ndarray:
    """The fold (``0..k-1``) of each of ``n`` rows, at random, in folds whose sizes differ
    by at most one (loo's ``kfold_split_random``).

    Examples
    --------
    >>> folds = kfold_split(10, 3, random_seed=1)
    >>> sorted(np.bincount(folds).tolist())
    [3, 3, 4]
    """
    k = _check_k(k, n, "rows")
    rng = np.random.default_rng(random_seed)
    return rng.permutation(np.arange(n) % k)


def group_split(groups: Any, k: int | None, random_seed: int | None) -> np.ndarray:
    """The fold of each row when whole levels of ``groups`` are left out together.

    With ``k=None`` (or ``k`` at least the number of levels) each level is its own fold,
    in sorted order of the levels; else the levels are dealt to ``k`` folds at random,
    as evenly as possible (loo's ``kfold_split_grouped``).

    Examples
    --------
    >>> group_split(["a", "b", "a", "c"], None, random_seed=0).tolist()
    [0, 1, 0, 2]
    >>> folds = group_split(["a", "b", "a", "c", "d"], 2, random_seed=0)
    >>> bool(folds[0] == folds[2])
    True
    """
    values = pd.Series(np.asarray(groups, dtype=object))
    if values.isna().any():
        raise DataError("The grouping of the folds has missing values; give every row a group.")
    codes, levels = pd.factorize(values, sort=True)
    n_levels = len(levels)
    if n_levels < 2:
        raise OptionError("Leaving out whole groups needs at least 2 groups; there is "
                          f"{n_levels}.")
    if k is None or (isinstance(k, int | np.integer) and not isinstance(k, bool)
                     and k >= n_levels):
        return codes.astype(int)
    k = _check_k(k, n_levels, "groups")
    rng = np.random.default_rng(random_seed)
    level_fold = rng.permutation(np.arange(n_levels) % k)
    return level_fold[codes]


def log_mean_exp(values: np.ndarray, axis: int = 0) -> np.ndarray:
    """``log(mean(exp(values)))`` along ``axis``, computed without overflow.

    Examples
    --------
    >>> float(np.round(log_mean_exp(np.log(np.array([1.0, 3.0]))), 6))
    0.693147
    """
    values = np.asarray(values, dtype=float)
    top = np.max(values, axis=axis, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    out = np.log(np.mean(np.exp(values - top), axis=axis, keepdims=True)) + top
    return np.squeeze(out, axis=axis)


def heldout_log_likelihood(fit: ResultView, data: pd.DataFrame, y: np.ndarray, *,
                           trials: np.ndarray | None = None,
                           weights: np.ndarray | None = None,
                           random_seed: int | None = None) -> np.ndarray:
    """``log p(y_i | draw s)`` of rows the fit did not see, ``(S, n_rows)``.

    Parameters
    ----------
    fit : MixedResult
        The fit whose posterior draws predict the rows.
    data : pandas.DataFrame
        The rows' predictors and grouping columns.
    y : numpy.ndarray
        Their responses, coded as the fit's design codes them (a row of the original
        fit's ``design.y``).
    trials, weights : numpy.ndarray, optional
        Their binomial trials and observation weights (as the design holds them: for a
        model with known standard errors, ``1 / se**2``).
    random_seed : int, optional
        Seed of the draws of unseen levels' effects (the fit's own seed when None, as
        ``fit.predict``).

    Returns
    -------
    numpy.ndarray
    """
    seed = fit.plan.random_seed if random_seed is None else random_seed
    seed = 0 if seed is None else int(seed)
    eta = linear_predictor_draws(fit, data, include_random=True, new_levels="population",
                                 random_seed=seed)
    params = family_parameter_draws(fit, data, include_random=True,
                                    new_levels="population", random_seed=seed)
    return pointwise_log_likelihood(fit.family, np.asarray(y), eta, params, trials, weights)


def kfold_estimate(pointwise: np.ndarray) -> tuple[float, float]:
    """The elpd (sum of the pointwise values) and its standard error,
    ``sqrt(n * var(pointwise))`` (as ArviZ's ``loo``).

    Examples
    --------
    >>> kfold_estimate(np.array([-1.0, -2.0, -3.0]))[0]
    -6.0
    """
    pointwise = np.asarray(pointwise, dtype=float)
    return float(pointwise.sum()), float(np.sqrt(pointwise.size * np.var(pointwise)))


@dataclass
class KFold:
    """K-fold cross-validation of a fit (:meth:`mixedfit.MixedResult.kfold`).

    Attributes
    ----------
    elpd_kfold : float
        Expected log predictive density: the sum over rows of each row's log predictive
        density under the fit that left it out.
    se : float
        Its standard error, ``sqrt(n * var(pointwise))``.
    p_kfold : float
        Effective number of parameters: the full fit's in-sample log predictive density
        minus ``elpd_kfold`` (brms' ``p_kfold``).
    pointwise : numpy.ndarray
        Each row's held-out log predictive density, ``(n,)``, in the order of the fit's
        rows (``res.design.data``).
    folds : numpy.ndarray
        The fold of each row, ``(n,)``, ``0..k-1``.
    k : int
        The number of folds.
    groups : str or None
        The grouping column whose levels were left out together (None for random
        folds).
    random_seed : int
        The seed of the folds and of the refits.
    n_samples : int
        Posterior draws of each refit.
    fits : pandas.DataFrame
        One row per fold: ``n_train``, ``n_test``, ``elpd`` (the fold's sum), ``ok``
        (every convergence check of its refit passed), ``max_r_hat``, ``divergences``,
        ``seconds``.
    """

    elpd_kfold: float
    se: float
    p_kfold: float
    pointwise: np.ndarray
    folds: np.ndarray
    k: int
    groups: str | None = None
    random_seed: int | None = None
    n_samples: int = 0
    fits: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def n_data_points(self) -> int:
        """The number of rows scored."""
        return int(self.pointwise.size)

    def elpd_data(self) -> Any:
        """The estimate as an ``arviz.ELPDData``, for ``arviz.compare``.

        Labelled as ArviZ labels a LOO estimate (``elpd_loo``, ``p_loo``, ``loo_i``),
        the only labels ``arviz.compare`` takes; the numbers are the k-fold ones. Compare
        k-fold estimates with each other only (of the same rows, ideally the same
        folds), not with PSIS-LOO ones.

        Examples
        --------
        >>> kf = KFold(elpd_kfold=-3.0, se=0.5, p_kfold=1.0, pointwise=np.full(3, -1.0),
        ...            folds=np.arange(3), k=3)
        >>> float(kf.elpd_data()["elpd_loo"])
        -3.0
        """
        # deferred: ArviZ and xarray are heavy and only needed here
        import xarray as xr
        from arviz import ELPDData

        pointwise = xr.DataArray(np.asarray(self.pointwise, dtype=float), dims=("obs",),
                                 name="loo_i")
        return ELPDData(
            data=[self.elpd_kfold, self.se, self.p_kfold, self.n_samples,
                  self.n_data_points, False, pointwise, "log"],
            index=["elpd_loo", "se", "p_loo", "n_samples", "n_data_points", "warning",
                   "loo_i", "scale"])

    def to_frame(self) -> pd.DataFrame:
        """One row per observation: its ``fold`` and held-out ``elpd``.

        Examples
        --------
        >>> kf = KFold(elpd_kfold=-3.0, se=0.5, p_kfold=1.0, pointwise=np.full(3, -1.0),
        ...            folds=np.arange(3), k=3)
        >>> kf.to_frame().columns.tolist()
        ['fold', 'elpd']
        """
        return pd.DataFrame({"fold": self.folds, "elpd": self.pointwise})

    def __repr__(self) -> str:
        how = (f"{self.k} folds of whole levels of {self.groups!r}" if self.groups
               else f"{self.k} random folds")
        bad = 0 if self.fits.empty or "ok" not in self.fits else int((~self.fits["ok"]).sum())
        note = f"; {bad} refit(s) with convergence problems (.fits)" if bad else ""
        return (f"K-fold cross-validation ({how}, {self.n_data_points} observations{note})\n"
                f"  elpd_kfold {self.elpd_kfold:10.2f}  (se {self.se:.2f})\n"
                f"  p_kfold    {self.p_kfold:10.2f}")
