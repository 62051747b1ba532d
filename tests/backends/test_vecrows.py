"""The vectorised binomial-logit and Poisson-log row passes against numpy's functions.

Expected values come from numpy's ``exp``, ``log1p`` and ``logaddexp`` (correctly
rounded to within an ulp or two), never from the passes themselves. Tolerance: the
sum over rows is added in another order (reassociation), so 1e-12 relative on the
sum; 1e-13 relative (or absolute near 0) per row's derivative.
"""

from __future__ import annotations

import numpy as np
import pytest

from mixedfit.fast.vecrows import logistic_rows, poisson_log_rows

EXTREMES = np.array([0.0, 1e-300, -1e-12, 1e-12, 0.3465, -0.3466, 0.5 * np.log(2),
                     -36.7, 36.7, 40.0, -300.0, 300.0, -707.9, 708.5, -745.0, -1e4, 1e4])


def _etas(n: int, scale: float, seed: int) -> np.ndarray:
    eta = np.random.default_rng(seed).normal(0.0, scale, n)
    return np.concatenate([EXTREMES, eta])


@pytest.mark.parametrize("trials", [False, True])
@pytest.mark.parametrize("scale", [0.5, 3.0, 30.0])
def test_logistic_rows(trials: bool, scale: float) -> None:
    eta = _etas(5000, scale, 1)
    rng = np.random.default_rng(2)
    nt = rng.integers(1, 30, eta.size).astype(float) if trials else np.ones(eta.size)
    y = np.floor(rng.random(eta.size) * (nt + 1))
    d = np.empty_like(eta)
    value = logistic_rows(y, eta, nt if trials else np.empty(0), np.empty(0), d)
    expected = np.sum(y * eta - nt * np.logaddexp(0.0, eta))
    assert value == pytest.approx(expected, rel=1e-12)
    p = np.exp(-np.logaddexp(0.0, -eta))  # inverse logit, without overflow
    np.testing.assert_allclose(d, y - nt * p, rtol=1e-13, atol=1e-13 * nt.max())


@pytest.mark.parametrize("scale", [0.5, 3.0])
def test_poisson_log_rows(scale: float) -> None:
    eta = _etas(5000, scale, 3)
    eta = eta[eta < 700]  # exp overflows above 709.78
    y = np.random.default_rng(4).poisson(np.exp(np.minimum(eta, 5.0))).astype(float)
    d = np.empty_like(eta)
    value = poisson_log_rows(y, eta, np.empty(0), d)
    mu = np.exp(eta)
    assert value == pytest.approx(np.sum(y * eta - mu), rel=1e-12)
    # y - mu cancels where y is near mu: an error of a few ulps of y + mu
    # (below exp(-708) the pass gives exp(-708), about 3e-308, for 0)
    assert np.all(np.abs(d - (y - mu)) <= 4 * np.finfo(float).eps * (y + mu) + 1e-300)


def test_poisson_log_rows_overflow_is_infinite() -> None:
    d = np.empty(2)
    value = poisson_log_rows(np.array([1.0, 0.0]), np.array([0.0, 800.0]), np.empty(0), d)
    assert value == -np.inf
    assert d[1] == -np.inf


def test_exp_is_exact_to_an_ulp_or_two() -> None:
    # exp(a) through the Poisson pass: d = y - exp(eta) with y = 0
    a = np.linspace(-700.0, 700.0, 200_001)
    d = np.empty_like(a)
    poisson_log_rows(np.zeros_like(a), a, np.empty(0), d)
    ulps = np.abs(-d - np.exp(a)) / np.spacing(np.exp(a))
    assert ulps.max() <= 4


def test_prior_weights_multiply_each_row() -> None:
    rng = np.random.default_rng(6)
    eta = rng.normal(0.0, 2.0, 3000)
    w = rng.uniform(0.2, 3.0, eta.size)
    y = rng.integers(0, 2, eta.size).astype(float)
    d = np.empty_like(eta)
    value = logistic_rows(y, eta, np.empty(0), w, d)
    assert value == pytest.approx(np.sum(w * (y * eta - np.logaddexp(0.0, eta))), rel=1e-12)
    np.testing.assert_allclose(d, w * (y - np.exp(-np.logaddexp(0.0, -eta))), rtol=1e-13,
                               atol=1e-13)
    k = rng.poisson(3.0, eta.size).astype(float)
    value = poisson_log_rows(k, eta, w, d)
    assert value == pytest.approx(np.sum(w * (k * eta - np.exp(eta))), rel=1e-12)
    np.testing.assert_allclose(d, w * (k - np.exp(eta)), rtol=1e-12, atol=1e-12)
