"""R-hat, ESS and E-BFMI (``mixedfit.convergence``) against ArviZ, the reference they
reproduce (``az.rhat``, ``az.ess(method="bulk" | "tail")``, ``az.bfmi``), on draws of every kind
the sampler gives: independent, autocorrelated, stuck (repeated draws: ties), discrete,
constant, short, and chains that disagree."""

from __future__ import annotations

import arviz as az
import numpy as np
import pytest

from mixedfit.convergence import _kernel, _score_table, ebfmi, rhat_ess


def _ar1(rng: np.random.Generator, chains: int, draws: int, phi: float) -> np.ndarray:
    out = np.empty((chains, draws))
    out[:, 0] = rng.normal(size=chains)
    for t in range(1, draws):
        out[:, t] = phi * out[:, t - 1] + rng.normal(size=chains)
    return out


def _cases() -> list[tuple[str, np.ndarray]]:
    rng = np.random.default_rng(11)
    stuck = rng.normal(size=(4, 300))
    stuck[:, 1::3] = stuck[:, 0::3][:, :stuck[:, 1::3].shape[1]]  # repeated draws
    shifted = rng.normal(size=(4, 200)) + np.array([0, 0, 0, 1.5])[:, None]
    return [
        ("independent", rng.normal(size=(4, 500))),
        ("ar1 0.5", _ar1(rng, 4, 400, 0.5)),
        ("ar1 0.95", _ar1(rng, 4, 400, 0.95)),
        ("ar1 0.999", _ar1(rng, 2, 300, 0.999)),
        ("anticorrelated", _ar1(rng, 4, 300, -0.7)),
        ("stuck", stuck),
        ("discrete", rng.integers(0, 3, size=(4, 250)).astype(float)),
        ("constant", np.full((4, 100), 2.5)),
        ("short", rng.normal(size=(2, 7))),
        ("odd draws", rng.normal(size=(3, 101))),
        ("chains disagree", shifted),
    ]


@pytest.mark.parametrize(("name", "x"), _cases(), ids=[c[0] for c in _cases()])
def test_rhat_and_ess_equal_arviz(name: str, x: np.ndarray) -> None:
    r, bulk, tail = rhat_ess(x[:, :, None])
    ds = az.convert_to_dataset(x)
    expected = (float(az.rhat(ds)["x"]), float(az.ess(ds, method="bulk")["x"]),
                float(az.ess(ds, method="tail")["x"]))
    # rounding only: the same algorithm on the same numbers in another order
    np.testing.assert_allclose([r[0], bulk[0], tail[0]], expected, rtol=1e-9,
                               equal_nan=True)


def test_many_columns_at_once_equal_one_at_a_time() -> None:
    rng = np.random.default_rng(5)
    x = np.stack([_ar1(rng, 4, 300, phi) for phi in np.linspace(-0.5, 0.99, 40)], axis=2)
    together = rhat_ess(x)
    for j in range(x.shape[2]):
        alone = rhat_ess(x[:, :, j:j + 1])
        for a, b in zip(together, alone, strict=True):
            assert a[j] == pytest.approx(b[0], rel=1e-12)


def _score(v: np.ndarray) -> np.ndarray:
    from scipy.special import ndtri
    from scipy.stats import rankdata

    return ndtri((rankdata(v, method="average", axis=1) - 0.375) / (v.shape[1] + 0.25))


def test_scores_rank_ties_as_scipy_and_fold_at_the_median() -> None:
    """The rank-normalised draws and folded draws against scipy's ``rankdata`` (ties
    averaged) and ``ndtri`` of ``|x - np.median(x)|``, on draws with many ties."""
    rng = np.random.default_rng(0)
    for trial in range(40):
        shape = (int(rng.integers(1, 6)), int(rng.integers(1, 40)))
        x = (rng.normal(size=shape) if trial % 2 else
             rng.integers(0, int(rng.integers(2, 9)), size=shape).astype(float))
        n = shape[1]
        ordered, z, folded = _kernel()[0](x, np.argsort(x, axis=1), _score_table(n))
        np.testing.assert_array_equal(ordered, np.sort(x, axis=1))
        np.testing.assert_array_equal(z, _score(x))
        np.testing.assert_array_equal(folded, _score(np.abs(x - np.median(x, axis=1)[:, None])))


def test_lag_by_lag_equals_the_transform_and_hands_over_long_sequences(monkeypatch) -> None:
    from mixedfit import convergence

    rng = np.random.default_rng(3)
    x = np.stack([_ar1(rng, 8, 250, phi) for phi in (-0.6, 0.0, 0.5, 0.9, 0.99, 0.999)])
    x = np.concatenate([x, np.full((1, 8, 250), 1.5)])  # and a constant row
    by_lags = convergence._kernel()[1](x, convergence.MAX_LAG)
    # the slowest chains need more lags than summed one by one: left to the transform
    assert by_lags[-2] == -1.0 and np.all(by_lags[:3] > 0)
    both = convergence._ess(x)
    np.testing.assert_allclose(both, convergence._ess_fft(x), rtol=1e-10)
    monkeypatch.setattr(convergence, "MAX_LAG", 2)  # every row through the transform
    np.testing.assert_allclose(convergence._ess(x), both, rtol=1e-10)


def test_quantiles_from_the_sort_equal_numpy() -> None:
    from mixedfit.convergence import _quantiles

    rng = np.random.default_rng(8)
    for n in (2, 3, 7, 20, 101, 4000):
        x = np.sort(rng.normal(size=(5, n)), axis=1)
        got = _quantiles(x, (0.05, 0.5, 0.95))
        expected = np.quantile(x, [0.05, 0.5, 0.95], axis=1)
        for g, e in zip(got, expected, strict=True):
            np.testing.assert_array_equal(g, e)


def test_too_few_draws_give_nan_and_a_problem_not_an_exception() -> None:
    # ArviZ's minimum is 4 draws a chain (two per split chain); below it R-hat and ESS
    # are NaN, and a fit says it could not check convergence
    import warnings

    import mixedfit as mf

    for draws in (1, 2, 3):
        r, bulk, tail = rhat_ess(np.random.default_rng(0).normal(size=(4, draws, 3)))
        assert np.isnan(r).all() and np.isnan(bulk).all() and np.isnan(tail).all()
    assert np.isfinite(rhat_ess(np.random.default_rng(0).normal(size=(2, 4, 3)))[0]).all()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mf.fit("Reaction ~ Days + (1 | Subject)", mf.load_dataset("sleepstudy"), draws=2,
               tune=50, chains=2, random_seed=1, progressbar=False)
    said = [str(w.message) for w in caught if issubclass(w.category, mf.ConvergenceWarning)]
    assert any("2 draws a chain are too few to check convergence" in m for m in said)


@pytest.mark.parametrize("phi", [0.0, 0.9, -0.5])
def test_ebfmi_equals_arviz(phi: float) -> None:
    # energies far from 0, as a sampler's are; ArviZ's variance is a one-pass sum that
    # loses about 1e-11 of it there (numpy's two passes do not): 1e-9 relative
    energy = _ar1(np.random.default_rng(3), 4, 500, phi) * 7.0 + 300.0
    np.testing.assert_allclose(ebfmi(energy), az.bfmi(energy), rtol=1e-9)
    np.testing.assert_allclose(ebfmi(energy[0]), az.bfmi(energy[0]), rtol=1e-9)
