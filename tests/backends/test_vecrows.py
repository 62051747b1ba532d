"""The vectorised binomial-logit, Poisson-log and negative binomial-log row passes
against numpy's and scipy's functions.

Expected values come from numpy's ``exp``, ``log``, ``log1p`` and ``logaddexp``
(correctly rounded to within an ulp or two) and scipy's ``nbinom``, ``gammaln`` and
``digamma``, never from the passes themselves. Tolerance: the sum over rows is added
in another order (reassociation), so 1e-12 relative on the sum; 1e-13 relative (or
absolute near 0) per row's derivative; other tolerances are stated where they differ.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special, stats

from mixedfit.fast.buffer import NB_TABLE_MAX
from mixedfit.fast.layout import _negbin_counts
from mixedfit.fast.vecrows import (
    log_rows,
    logistic_rows,
    negbin_log_rows,
    poisson_log_rows,
)

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


def test_log_is_exact_to_a_few_ulps() -> None:
    # the negative binomial pass's log(u), u >= 1: around 1, around sqrt(2) (where the
    # mantissa is halved), at powers of two and up to 1e300
    u = np.concatenate([1.0 + np.logspace(-16, 0, 20_001), np.geomspace(1.0, 1e300, 200_001),
                        np.sqrt(2.0) * (1.0 + np.linspace(-1e-12, 1e-12, 201)),
                        2.0 ** np.arange(0, 900), np.nextafter(2.0 ** np.arange(1, 900), 0)])
    out = log_rows(u, np.empty_like(u))
    ref = np.log(u)
    ulps = np.abs(out - ref) / np.spacing(np.maximum(np.abs(ref), np.finfo(float).tiny))
    assert ulps.max() <= 4


def _nb_reference(y: np.ndarray, eta: np.ndarray, a: float, w: np.ndarray
                  ) -> tuple[float, np.ndarray, float]:
    """Log-likelihood less log y!, derivative in eta, derivative in alpha, from scipy."""
    mu = np.exp(eta)
    logp = np.sum(w * (stats.nbinom.logpmf(y, a, a / (a + mu)) + special.gammaln(y + 1)))
    d = w * (y - (y + a) * mu / (a + mu))
    ga = np.sum(w * (special.digamma(y + a) - special.digamma(a) - np.log1p(mu / a)
                     + (mu - y) / (a + mu)))
    return float(logp), d, float(ga)


def _table(y: np.ndarray, w: np.ndarray | None = None) -> np.ndarray:
    """The count table the layout writes once (H_NB_COUNTS); empty where it writes none."""
    table = _negbin_counts(y, w)
    return np.empty(0) if table is None else table


@pytest.mark.parametrize("alpha", [0.05, 1.5, 40.0])
@pytest.mark.parametrize("weighted", [False, True])
def test_negbin_log_rows(alpha: float, weighted: bool) -> None:
    rng = np.random.default_rng(7)
    eta = np.concatenate([[-40.0, -5.0, 0.0, 1e-9, 12.0, 30.0], rng.normal(1.5, 1.5, 4000)])
    mu = np.exp(eta)
    y = rng.negative_binomial(alpha, alpha / (alpha + np.minimum(mu, 50.0))).astype(float)
    y = np.minimum(y, 250.0)
    w = rng.uniform(0.2, 3.0, eta.size) if weighted else np.ones(eta.size)
    d = np.empty_like(eta)
    wr = w if weighted else np.empty(0)
    value, ga, done = negbin_log_rows(y, eta, alpha, wr, d, _table(y, w if weighted else None))
    assert done
    expected, d_ref, ga_ref = _nb_reference(y, eta, alpha, w)
    assert value == pytest.approx(expected, rel=1e-12)
    # y - (y + a) mu / (a + mu) cancels near y = mu: a few ulps of y + mu
    assert np.all(np.abs(d - d_ref) <= 8 * np.finfo(float).eps * w * (y + mu + alpha))
    # the reference's digamma(y + a) - digamma(a) cancels: 1e-10 relative
    assert ga == pytest.approx(ga_ref, rel=1e-10, abs=1e-10)


def test_negbin_log_rows_near_the_poisson() -> None:
    # alpha large: log1p(mu / alpha) tiny; the pass must not lose it to cancellation
    rng = np.random.default_rng(8)
    eta = rng.normal(1.0, 1.0, 2000)
    y = rng.poisson(np.exp(eta)).astype(float)
    d = np.empty_like(eta)
    a = 1e6
    value, _, done = negbin_log_rows(y, eta, a, np.empty(0), d, _table(y))
    _, d_ref, _ = _nb_reference(y, eta, a, np.ones(eta.size))
    # scipy's nbinom.logpmf loses about 1e-9 a row here (gammaln(y + a) - gammaln(a) of
    # numbers near 1.3e7); the same terms, written without that cancellation:
    # sum_{j < y} log1p(j / a) + y eta - (y + a) log1p(mu / a)
    l1p = np.log1p(np.exp(eta) / a)
    gam = np.array([np.sum(np.log1p(np.arange(int(k)) / a)) for k in y])
    expected = np.sum(gam + y * eta - (y + a) * l1p)
    assert done and value == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(d, d_ref, rtol=1e-9, atol=1e-12)


def test_the_count_table_holds_the_weight_above_each_count() -> None:
    rng = np.random.default_rng(4)
    y = rng.poisson(3.0, 500).astype(float)
    w = rng.uniform(0.5, 2.0, 500)
    for weights in (None, w):
        wt = np.ones(y.size) if weights is None else weights
        expected = [wt[y > j].sum() for j in range(int(y.max()) + 1)]
        np.testing.assert_allclose(_negbin_counts(y, weights), expected, rtol=1e-14)
    big = np.zeros(10)
    big[0] = float(NB_TABLE_MAX)  # too large a count for a table: none is written
    assert _negbin_counts(big, None) is None


def test_negbin_log_rows_hands_what_it_cannot_do_to_the_general_pass() -> None:
    eta = np.zeros(10)
    d = np.full(10, 7.0)
    y = np.zeros(10)
    big = y.copy()
    big[0] = float(NB_TABLE_MAX)  # a count above both NB_TABLE_MAX and twice the rows
    assert negbin_log_rows(big, eta, 1.0, np.empty(0), d, _table(big)) == (0.0, 0.0, False)
    for bad in (800.0, -800.0):  # a mean outside the range of normal floats
        e = eta.copy()
        e[3] = bad
        assert not negbin_log_rows(y, e, 1.0, np.empty(0), d, _table(y))[2]
    # mu / alpha overflows
    assert not negbin_log_rows(y, eta, 1e-310, np.empty(0), d, _table(y))[2]
    assert not negbin_log_rows(y, eta, 0.0, np.empty(0), d, _table(y))[2]
    assert np.all(d == 7.0)  # nothing written
    many = np.zeros(300)
    many[0] = float(NB_TABLE_MAX)  # below twice the rows: summed by count
    assert negbin_log_rows(many, np.zeros(300), 1.0, np.empty(0), np.empty(300),
                           _table(many))[2]
