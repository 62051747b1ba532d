"""Pointwise log-likelihood of each observation under each posterior draw.

Computed with NumPy and SciPy from the linear predictor and the family
parameters, stored in ``res.idata.log_likelihood`` at fit time for PSIS-LOO and
WAIC (when it fits in memory: at most ``MAX_STORED`` values).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from mixedfit.families import Family
from mixedfit.plan import MAX_STORED_LOG_LIKELIHOOD as MAX_STORED
from mixedfit.results.predict import family_parameter_draws, linear_predictor_draws

if TYPE_CHECKING:
    from mixedfit.results.view import ResultView

__all__ = ["pointwise_log_likelihood", "log_likelihood_draws", "MAX_STORED"]



def pointwise_log_likelihood(family: Family, y: np.ndarray, eta: np.ndarray,
                             params: dict[str, np.ndarray],
                             trials: np.ndarray | None = None,
                             weights: np.ndarray | None = None) -> np.ndarray:
    """``log p(y_i | draw s)`` for linear-predictor draws ``eta`` (S, n): the family's,
    with the rows' observation weights (precision or prior weights, as the family says).

    Examples
    --------
    >>> from mixedfit.families import gaussian
    >>> ll = pointwise_log_likelihood(gaussian(), np.zeros(2), np.zeros((1, 2)),
    ...                               {"sigma": np.ones(1)})
    >>> np.round(ll, 4).tolist()
    [[-0.9189, -0.9189]]
    """
    return family.weighted_log_likelihood(y, eta, params, trials, weights)


def log_likelihood_draws(res: ResultView) -> np.ndarray:
    """Pointwise log-likelihood of the fitted data, ``(chains, draws, n_obs)``."""
    post = res.idata.posterior
    eta = linear_predictor_draws(res, None)
    params = family_parameter_draws(res, None)
    ll = pointwise_log_likelihood(res.family, res.design.y, eta, params, res.design.trials,
                                  res.design.likelihood_weights())
    return ll.reshape(post.sizes["chain"], post.sizes["draw"], -1)
