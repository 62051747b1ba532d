"""R-hat and ESS (``mixedfit.convergence``) against ArviZ, the reference they
reproduce (``az.rhat``, ``az.ess(method="bulk" | "tail")``), on draws of every kind
the sampler gives: independent, autocorrelated, stuck (repeated draws: ties), discrete,
constant, short, and chains that disagree."""

from __future__ import annotations

import arviz as az
import numpy as np
import pytest

from mixedfit.convergence import _ranks, rhat_ess


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


def test_ranks_average_ties_as_scipy() -> None:
    from scipy.stats import rankdata

    rng = np.random.default_rng(0)
    for trial in range(40):
        shape = (int(rng.integers(1, 6)), int(rng.integers(1, 40)))
        x = (rng.normal(size=shape) if trial % 2 else
             rng.integers(0, int(rng.integers(2, 9)), size=shape).astype(float))
        np.testing.assert_array_equal(_ranks(x), rankdata(x, method="average", axis=1))
