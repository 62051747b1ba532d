"""Helpers shared by the backend tests."""

from __future__ import annotations

import warnings

import numpy as np


def assert_fits_agree(a, b, k: float = 4.0) -> None:  # noqa: ANN001 - two fit results
    """The variance components and fixed effects of two fits of one model (by two
    parameterisations) agree within ``k`` Monte Carlo standard errors of their
    difference (``sd / sqrt(bulk ESS)`` of each)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pairs = [(a.variance_components, b.variance_components),
                 (a.fixed_effects, b.fixed_effects)]
    for ta, tb in pairs:
        se = np.sqrt((ta["sd"] ** 2 / ta["ess_bulk"] + tb["sd"] ** 2 / tb["ess_bulk"]
                      ).astype(float))
        assert np.all(np.abs((ta["mean"] - tb["mean"]).astype(float)) <= k * se)
