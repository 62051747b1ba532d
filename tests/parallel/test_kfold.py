"""K-fold and leave-group-out cross-validation (``res.kfold``), on a real local cluster.

The elpd is checked against a loop written here, independently of mixedfit's held-out
helpers: refit on each fold's training rows with the same seed, take the draws of the
expected response of the held-out rows (``predict(kind="draws")``) and the residual sd,
and average the Gaussian densities (scipy) over the draws.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import special, stats

import mixedfit as mf
from tests.conftest import forbid_sampling

distributed = pytest.importorskip("distributed")

FORMULA = "y ~ x + (1 | g)"
SAMPLING = {"draws": 200, "tune": 200, "chains": 2}
SEED = 11


def _data() -> pd.DataFrame:
    rng = np.random.default_rng(8)
    groups = np.repeat([f"g{j}" for j in range(4)], 6)
    x = np.tile(np.linspace(-1.0, 1.0, 6), 4)
    u = rng.normal(0.0, 1.0, 4)[np.repeat(np.arange(4), 6)]
    return pd.DataFrame({"g": groups, "x": x,
                         "y": 0.5 + 1.5 * x + u + rng.normal(0.0, 0.7, 24)})


@pytest.fixture(scope="module")
def res() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return mf.fit(FORMULA, _data(), random_seed=SEED, progressbar=False, **SAMPLING)


def _by_hand(res: Any, folds: np.ndarray) -> np.ndarray:
    """Each row's held-out log predictive density, from refits written out here."""
    df = _data()
    y = df["y"].to_numpy()
    out = np.full(len(df), np.nan)
    plan = res.plan
    for j in np.unique(folds):
        test = folds == j
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            refit = mf.fit(FORMULA, df[~test], random_seed=SEED, progressbar=False,
                           draws=plan.draws, tune=plan.tune, chains=plan.chains,
                           target_accept=plan.target_accept,
                           max_treedepth=plan.max_treedepth, backend=plan.backend)
        mu = refit.predict(df[test], kind="draws")  # (S, n_test), new levels drawn
        sigma = refit.draws("sigma")  # (S,)
        dens = stats.norm.logpdf(y[test][None, :], loc=mu, scale=sigma[:, None])
        out[test] = special.logsumexp(dens, axis=0) - np.log(dens.shape[0])
    return out


@pytest.fixture(scope="module")
def random_folds(res: Any, client: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return res.kfold(3, client=client, random_seed=SEED, progressbar=False)


def test_random_folds_match_refits_by_hand(res: Any, random_folds: Any) -> None:
    kf = random_folds
    assert kf.k == 3 and kf.groups is None and kf.random_seed == SEED
    assert sorted(np.bincount(kf.folds).tolist()) == [8, 8, 8]  # sizes differ by <= 1
    # rows dealt at random with the seed: a permutation of 0, 1, 2, 0, 1, 2, ...
    expected = np.random.default_rng(SEED).permutation(np.arange(24) % 3)
    assert np.array_equal(kf.folds, expected)
    hand = _by_hand(res, kf.folds)
    np.testing.assert_allclose(kf.pointwise, hand, rtol=1e-10, atol=1e-10)
    assert kf.elpd_kfold == pytest.approx(hand.sum(), rel=1e-10)
    assert kf.se == pytest.approx(np.sqrt(24 * np.var(hand)), rel=1e-10)
    assert kf.fits["n_test"].tolist() == [8, 8, 8]
    assert kf.fits["n_train"].tolist() == [16, 16, 16]
    assert kf.fits["elpd"].sum() == pytest.approx(kf.elpd_kfold)
    # p_kfold: the full fit's in-sample lppd minus the held-out elpd
    ll = res.log_likelihood_data().log_likelihood["y"].values.reshape(-1, 24)
    lppd = (special.logsumexp(ll, axis=0) - np.log(ll.shape[0])).sum()
    assert kf.p_kfold == pytest.approx(lppd - kf.elpd_kfold)


def test_the_same_seed_gives_the_same_estimate_wherever_it_runs(res: Any,
                                                                random_folds: Any) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        here = res.kfold(3, client="sequential", random_seed=SEED, progressbar=False)
    assert np.array_equal(here.folds, random_folds.folds)
    assert np.array_equal(here.pointwise, random_folds.pointwise)


def test_leave_group_out_keeps_whole_groups_out(res: Any, client: Any) -> None:
    groups = _data()["g"].to_numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logo = res.kfold(None, groups="g", client=client, random_seed=SEED,
                         progressbar=False)
        halves = res.kfold(2, groups="g", client=client, random_seed=SEED,
                           progressbar=False)
    # one level per fold (in sorted order of the levels), every row of it
    assert logo.k == 4 and logo.groups == "g"
    for j, level in enumerate(sorted(set(groups))):
        assert np.array_equal(logo.folds == j, groups == level)
    # two folds of two whole levels each
    assert halves.k == 2
    for level in set(groups):
        assert len(set(halves.folds[groups == level])) == 1
    assert sorted(np.bincount(halves.folds).tolist()) == [12, 12]
    # the held-out levels are new to their refit: their effects come from the population
    hand = _by_hand(res, logo.folds)
    np.testing.assert_allclose(logo.pointwise, hand, rtol=1e-10, atol=1e-10)


def test_groups_as_values(res: Any) -> None:
    groups = _data()["g"].to_numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        by_values = res.kfold(None, groups=groups, client="sequential", random_seed=SEED,
                              progressbar=False)
    assert by_values.groups is None and by_values.k == 4


def test_elpd_data_goes_into_arviz_compare(res: Any, random_folds: Any) -> None:
    import arviz as az

    elpd = random_folds.elpd_data()
    assert elpd["elpd_loo"] == random_folds.elpd_kfold and elpd["se"] == random_folds.se
    assert np.array_equal(elpd["loo_i"].values, random_folds.pointwise)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = az.compare({"a": elpd, "b": random_folds.elpd_data()})
    assert table["elpd_diff"].tolist() == [0.0, 0.0]
    assert "elpd_kfold" in repr(random_folds)
    assert random_folds.to_frame().shape == (24, 2)


def test_compare_ranks_models_by_their_kfold_elpd(res: Any, random_folds: Any) -> None:
    """mf.compare takes k-fold estimates (the same folds) and ranks them by elpd_kfold;
    it refuses a mix of fits and k-fold estimates."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        flat = mf.fit("y ~ 1 + (1 | g)", _data(), random_seed=SEED, progressbar=False,
                      **SAMPLING)
        flat_folds = flat.kfold(3, client="sequential", random_seed=SEED, progressbar=False)
        table = mf.compare({"slope": random_folds, "flat": flat_folds})
    assert np.array_equal(flat_folds.folds, random_folds.folds)
    assert {"elpd_kfold", "p_kfold", "note"} <= set(table.columns)
    assert table.index[0] == "slope"  # y rises with x by 1.5 per unit: x predicts
    assert table.loc["slope", "elpd_kfold"] == pytest.approx(random_folds.elpd_kfold)
    assert table.loc["flat", "note"] == ""
    with pytest.raises(mf.OptionError, match="not both"):
        mf.compare({"fit": res, "kfold": random_folds})


def test_wrong_arguments_fail_before_any_refit(res: Any,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    forbid_sampling(monkeypatch)
    with pytest.raises(mf.OptionError, match="k must be an integer >= 2"):
        res.kfold(1)
    with pytest.raises(mf.OptionError, match="at least 30 rows"):
        res.kfold(30)
    with pytest.raises(mf.OptionError, match="needs groups="):
        res.kfold(None)
    with pytest.raises(mf.DataError, match="not a column of the fitted data"):
        res.kfold(groups="herd")
    with pytest.raises(mf.DataError, match="one value each"):
        res.kfold(groups=["a", "b"])
    with pytest.raises(mf.OptionError, match="random_seed"):
        res.kfold(3, random_seed=-1)
