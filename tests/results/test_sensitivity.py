"""Power-scaling prior/likelihood sensitivity on exact posterior draws of a conjugate model.

Model: y_i ~ N(theta, 1), i = 1..n, theta ~ N(mu0, tau0). Power-scaling the prior by alpha gives
the prior N(mu0, tau0 / sqrt(alpha)); power-scaling the likelihood multiplies the data precision
by alpha. Both scaled posteriors are normal and known exactly, so no MCMC is needed.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from mixedfit.results.sensitivity import (
    NO_PROBLEM,
    PRIOR_DATA_CONFLICT,
    STRONG_PRIOR,
    cjs_dist,
    power_scale_sensitivity,
    power_scale_weights,
)

S = 4000
LOG_2PI = math.log(2 * math.pi)


def _data(n: int, centre: float, seed: int = 1) -> np.ndarray:
    """n observations whose sample mean is exactly ``centre``."""
    z = np.random.default_rng(seed).normal(size=n)
    return z - z.mean() + centre if n > 1 else np.array([centre])


def _posterior(mu0: float, tau0: float, y: np.ndarray, *, prior_alpha: float = 1.0,
               lik_alpha: float = 1.0) -> tuple[float, float]:
    """Mean and sd of theta given the prior raised to prior_alpha and likelihood to lik_alpha."""
    prec = prior_alpha / tau0**2 + lik_alpha * y.size
    return (prior_alpha * mu0 / tau0**2 + lik_alpha * y.sum()) / prec, prec**-0.5


def _conjugate(mu0: float, tau0: float, y: np.ndarray, seed: int = 0):
    """Exact posterior draws of theta with their log prior and log likelihood."""
    m, sd = _posterior(mu0, tau0, y)
    theta = np.random.default_rng(seed).normal(m, sd, size=S)
    log_prior = -0.5 * ((theta - mu0) / tau0) ** 2 - math.log(tau0) - 0.5 * LOG_2PI
    log_lik = (-0.5 * (y[None, :] - theta[:, None]) ** 2).sum(axis=1) - 0.5 * y.size * LOG_2PI
    return theta, log_prior, log_lik


WEAK = (0.0, 100.0, _data(50, 1.0))        # vague prior, 50 observations
CONFLICT = (10.0, 0.2, _data(50, 0.0))     # tight prior 50 prior-sds away from the data
STRONG = (0.0, 0.1, _data(1, 0.0))         # tight prior, one observation agreeing with it


def _table(case, **kwargs):
    theta, lp, ll = _conjugate(*case)
    return power_scale_sensitivity({"theta": theta}, lp, ll, **kwargs)


# ----------------------------------------------------------------- diagnoses (tests 1-3)
def test_weak_prior_is_not_flagged():
    row = _table(WEAK, n_chains=4).loc["theta"]
    # seen: prior 2e-6, likelihood 0.086
    assert row["prior"] < 0.05
    assert row["likelihood"] > 0.05
    assert row["diagnosis"] == NO_PROBLEM == "-"


def test_conflicting_prior_is_a_prior_data_conflict():
    tab = _table(CONFLICT)
    row = tab.loc["theta"]
    # seen: prior 2.98, likelihood 2.93 (an extreme conflict: both pull hard)
    assert row["prior"] >= 0.05
    assert row["likelihood"] >= 0.05
    assert row["diagnosis"] == PRIOR_DATA_CONFLICT == "prior-data conflict"
    # the prior pulls the mean up towards mu0 = 10 as it is strengthened
    assert row["mean_prior_down"] < row["mean"] < row["mean_prior_up"]
    assert tab.attrs["note"] == ""


def test_strong_prior_weak_likelihood():
    row = _table(STRONG).loc["theta"]
    # posterior precision 100 (prior) + 1 (data): scaling the prior changes the posterior sd by
    # about alpha**-0.5, scaling the likelihood hardly changes anything.
    # seen: prior 0.086, likelihood 0.0009
    assert row["prior"] >= 0.05
    assert row["likelihood"] < 0.05
    assert row["diagnosis"] == STRONG_PRIOR == "strong prior / weak likelihood"
    # the data agree with the prior mean, so only the spread moves
    assert row["sd_prior_up"] < row["sd"] < row["sd_prior_down"]


def test_threshold_is_used():
    row = _table(WEAK, threshold=1.0).loc["theta"]
    assert row["diagnosis"] == "-"
    row = _table(STRONG, threshold=0.0).loc["theta"]
    assert row["diagnosis"] == PRIOR_DATA_CONFLICT


# ----------------------------------------------------------------- cjs_dist (test 4)
def test_cjs_identical_samples_is_zero():
    x = np.random.default_rng(3).normal(size=1000)
    assert cjs_dist(x, x) == 0.0
    assert cjs_dist(x, x.copy(), np.ones(1000), np.ones(1000)) == 0.0
    # equal weights given explicitly on one side only: zero up to rounding
    assert cjs_dist(x, x, None, np.full(1000, 5.0)) == pytest.approx(0.0, abs=1e-7)


def test_cjs_symmetric_reflection_and_scale_invariant():
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=1500), rng.normal(0.3, 1.5, size=1000)
    d = cjs_dist(x, y)
    assert 0 < d <= 1
    assert cjs_dist(y, x) == pytest.approx(d, rel=1e-12)
    assert cjs_dist(-x, -y) == pytest.approx(d, rel=1e-12)
    assert cjs_dist(7.0 * x + 3.0, 7.0 * y + 3.0) == pytest.approx(d, rel=1e-9)
    # weighted, same draws
    w = np.exp(0.5 * x)
    dw = cjs_dist(x, x, None, w)
    assert dw > 0
    assert cjs_dist(x, x, w, None) == pytest.approx(dw, rel=1e-12)


def test_cjs_grows_with_shift():
    x = np.random.default_rng(5).normal(size=2000)
    shifts = [0.05, 0.2, 0.5, 1.0, 2.0, 5.0]
    d = [cjs_dist(x, x + s) for s in shifts]
    # seen: 0.012, 0.046, 0.11, 0.21, 0.36, 0.60
    assert all(a < b for a, b in zip(d, d[1:], strict=False))
    assert d[-1] <= 1.0
    assert d[0] < 0.05


def test_cjs_matches_the_formula_on_a_hand_example():
    # same draws 0, 1, 2; P puts 1/3 on each, Q puts 1/2 on 0 and 1. On the steps [0, 1) and
    # [1, 2): P = 1/3, 2/3; Q = 1/2, 1. Reflected axis (draws 0, -1, -2): on [-2, -1) and
    # [-1, 0): P = 1/3, 2/3; Q = 0, 1/2.
    def plogp(a, b):
        return a * math.log2(2 * a / (a + b)) if a > 0 else 0.0

    def d2(p, q):
        num = sum(plogp(a, b) + plogp(b, a) for a, b in zip(p, q, strict=True))
        return num / (sum(p) + sum(q))

    expected = math.sqrt(max(d2([1 / 3, 2 / 3], [1 / 2, 1]), d2([1 / 3, 2 / 3], [0, 1 / 2])))
    got = cjs_dist([0.0, 1.0, 2.0], [0.0, 1.0, 2.0], None, [0.5, 0.5, 0.0])
    assert got == pytest.approx(expected, rel=1e-12)


def test_cjs_input_checks():
    assert math.isnan(cjs_dist([0.0, 1.0], [0.0, 1.0], None, [0.0, 0.0]))
    with pytest.raises(ValueError, match="finite"):
        cjs_dist([0.0, np.nan], [0.0, 1.0])
    with pytest.raises(ValueError, match="shape"):
        cjs_dist([0.0, 1.0], [0.0, 1.0], [1.0], None)
    with pytest.raises(ValueError, match="non-negative"):
        cjs_dist([0.0, 1.0], [0.0, 1.0], [1.0, -1.0], None)


# ----------------------------------------------------------------- weights (test 5)
def test_weights_alpha_one_are_equal():
    lp = np.random.default_rng(6).normal(size=S)
    w, k = power_scale_weights(lp, 1.0)
    np.testing.assert_allclose(w, 1.0 / S)
    assert k == -np.inf
    w, k = power_scale_weights(np.full(S, -3.0), 1.5)  # a constant component: nothing to scale
    np.testing.assert_allclose(w, 1.0 / S)


def test_weights_are_normalised_and_tilt_the_right_way():
    lp = np.random.default_rng(7).normal(size=S)
    up, k_up = power_scale_weights(lp, 1.01)
    down, k_down = power_scale_weights(lp, 0.99)
    assert up.sum() == pytest.approx(1.0) and down.sum() == pytest.approx(1.0)
    assert k_up < 0.7 and k_down < 0.7
    # alpha > 1 up-weights draws with a high log component
    assert np.corrcoef(up, lp)[0, 1] > 0.99 and np.corrcoef(down, lp)[0, 1] < -0.99
    with pytest.raises(ValueError, match="alpha"):
        power_scale_weights(lp, 0.0)


# ----------------------------------------------------------------- analytic check (test 6)
def test_weighted_mean_matches_the_analytic_power_scaled_posterior():
    mu0, tau0, y = CONFLICT
    theta, lp, _ = _conjugate(mu0, tau0, y)
    m_base, _ = _posterior(mu0, tau0, y)
    m_up, _ = _posterior(mu0, tau0, y, prior_alpha=1.01)
    w, k = power_scale_weights(lp, 1.01)
    assert k < 0.7
    est = float(w @ theta)
    mcse = math.sqrt(float(np.sum(w**2 * (theta - est) ** 2)))
    # seen: est - m_up = -0.0017, mcse 0.0019
    assert abs(est - m_up) < 3 * mcse
    # sharper: the estimated shift sum_s (w_s - 1/S) theta_s against the exact one; the
    # shift (0.0222) is ~44 of its standard errors (0.0005), so equal weights would fail
    shift = est - theta.mean()
    mcse_shift = float(np.std((S * w - 1) * (theta - theta.mean()))) / math.sqrt(S)
    assert abs(m_up - m_base) > 20 * mcse_shift
    assert abs(shift - (m_up - m_base)) < 3 * mcse_shift


def test_table_means_match_the_analytic_posteriors():
    mu0, tau0, y = CONFLICT
    theta, lp, ll = _conjugate(mu0, tau0, y)
    row = power_scale_sensitivity({"theta": theta}, lp, ll).loc["theta"]
    assert row["mean"] == pytest.approx(theta.mean())
    assert row["sd"] == pytest.approx(theta.std(ddof=1))
    m_base, sd_base = _posterior(mu0, tau0, y)
    for col, a in (("mean_prior_down", 0.99), ("mean_prior_up", 1.01)):
        m_a, _ = _posterior(mu0, tau0, y, prior_alpha=a)
        shift = row[col] - row["mean"]
        assert shift == pytest.approx(m_a - m_base, abs=3 * 0.0006)


# ----------------------------------------------------------------- index and labels (test 7)
def _multi():
    rng = np.random.default_rng(8)
    theta, lp, ll = _conjugate(*STRONG)
    draws = {
        "fixed": np.column_stack([theta, rng.normal(size=S)]),
        "sigma": np.abs(rng.normal(size=S)),
        "u": rng.normal(size=(S, 2, 3)),
    }
    return draws, lp, ll


def test_default_index_flattens_components():
    draws, lp, ll = _multi()
    tab = power_scale_sensitivity(draws, lp, ll, n_chains=4)
    assert tab.index.name == "parameter"
    assert tab.index.tolist() == [
        "fixed[0]", "fixed[1]", "sigma",
        "u[0,0]", "u[0,1]", "u[0,2]", "u[1,0]", "u[1,1]", "u[1,2]",
    ]
    assert tab.columns.tolist() == [
        "prior", "likelihood", "diagnosis", "mean", "mean_prior_down", "mean_prior_up",
        "sd", "sd_prior_down", "sd_prior_up",
    ]
    # only fixed[0] (theta) depends on the prior and the likelihood
    assert tab.loc["fixed[0]", "diagnosis"] == STRONG_PRIOR
    assert (tab.drop(index="fixed[0]")["diagnosis"] == "-").all()
    # a component's row equals the table of that component alone
    alone = power_scale_sensitivity({"v": draws["u"][:, 1, 2]}, lp, ll, n_chains=4)
    np.testing.assert_allclose(
        tab.loc["u[1,2]", ["prior", "likelihood", "mean_prior_up"]].to_numpy(float),
        alone.loc["v", ["prior", "likelihood", "mean_prior_up"]].to_numpy(float),
    )
    assert set(tab.attrs) >= {"pareto_k_prior", "pareto_k_likelihood", "note"}
    assert tab.attrs["alpha"] == (0.99, 1.01)


def test_labels_flat_and_per_axis():
    draws, lp, ll = _multi()
    tab = power_scale_sensitivity(
        draws, lp, ll,
        labels={"fixed": ["Intercept", "Days"], "u": [["a", "b"], ["x", "y", "z"]]},
    )
    assert tab.index.tolist() == [
        "fixed[Intercept]", "fixed[Days]", "sigma",
        "u[a,x]", "u[a,y]", "u[a,z]", "u[b,x]", "u[b,y]", "u[b,z]",
    ]
    flat = power_scale_sensitivity({"u": draws["u"]}, lp, ll, labels={"u": list("pqrstu")})
    assert flat.index.tolist() == [f"u[{c}]" for c in "pqrstu"]
    with pytest.raises(ValueError, match="labels"):
        power_scale_sensitivity(draws, lp, ll, labels={"fixed": ["Intercept"]})
    with pytest.raises(ValueError, match="unknown"):
        power_scale_sensitivity(draws, lp, ll, labels={"beta": ["a"]})


def test_independent_parameters_stay_near_the_noise_floor():
    # Parameters independent of theta are reweighted by noise only; their CJS is not zero
    # (a distance of noisy ECDFs is biased upwards) and grows with the spread of the weights.
    # In the extreme conflict the log prior varies by ~19 nats over the draws, and the noise
    # alone reaches ~0.1, above the 0.05 threshold, but stays far below theta's ~3.
    theta, lp, ll = _conjugate(*CONFLICT)
    noise = np.random.default_rng(10).normal(size=(S, 3))
    tab = power_scale_sensitivity({"theta": theta, "noise": noise}, lp, ll)
    assert (tab.loc[["noise[0]", "noise[1]", "noise[2]"], "prior"]
            < 0.1 * tab.loc["theta", "prior"]).all()
    theta, lp, ll = _conjugate(*STRONG)
    tab = power_scale_sensitivity({"theta": theta, "noise": noise}, lp, ll)
    assert (tab.loc[["noise[0]", "noise[1]", "noise[2]"], ["prior", "likelihood"]] < 0.02).all(
        axis=None
    )


# ----------------------------------------------------------------- diagnostics and checks
def test_large_pareto_k_leaves_a_note():
    rng = np.random.default_rng(9)
    theta = rng.normal(size=S)
    # an exponential tail with scale 200 makes exp(0.01 * log_prior) Pareto with k near 2
    log_prior = 200.0 * rng.exponential(size=S)
    tab = power_scale_sensitivity({"theta": theta}, log_prior, -0.5 * theta**2)
    assert tab.attrs["pareto_k_prior"] > 0.7
    assert tab.attrs["pareto_k_likelihood"] < 0.7
    assert "unreliable" in tab.attrs["note"] and "prior" in tab.attrs["note"]


def test_input_checks():
    theta, lp, ll = _conjugate(*WEAK)
    with pytest.raises(ValueError, match="n_chains"):
        power_scale_sensitivity({"theta": theta}, lp, ll, n_chains=3)
    with pytest.raises(ValueError, match="log_lik"):
        power_scale_sensitivity({"theta": theta}, lp, ll[:-1])
    with pytest.raises(ValueError, match="draws"):
        power_scale_sensitivity({"theta": theta[:-1]}, lp, ll)
    with pytest.raises(ValueError, match="alpha"):
        power_scale_sensitivity({"theta": theta}, lp, ll, alpha=0.99)
    with pytest.raises(ValueError, match="mapping"):
        power_scale_sensitivity({}, lp, ll)
