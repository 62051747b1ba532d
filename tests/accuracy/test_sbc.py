"""Simulation-based calibration (``scripts/sbc.py``; issue #7).

Fast tests of the rank and chi-square helpers (including an exactly calibrated and a
miscalibrated toy posterior), and a slow small SBC run of every model, its fits run by
mixedfit's executor (:mod:`mixedfit.parallel`: the machine's cores, as many fits at once
as their chains allow), whose ranks are the same wherever the fits ran.
"""

from __future__ import annotations

import importlib.util
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats

ROOT = Path(__file__).resolve().parents[2]


def _load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mixedfit_sbc_script", ROOT / "scripts" /
                                                  "sbc.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


sbc = _load_script()


# --------------------------------------------------------------------------- helpers


def test_thin_keeps_evenly_spaced_draws() -> None:
    draws = np.arange(500.0)
    kept = sbc.thin(draws, 99)
    assert kept.shape == (99,) and kept[0] == 0 and kept[-1] == 499
    assert np.all(np.diff(kept) >= 5)  # spread over all chains, not the first 99 draws
    assert np.array_equal(sbc.thin(draws, 500), draws)
    with pytest.raises(ValueError, match="cannot thin"):
        sbc.thin(np.arange(50.0), 99)


def test_rank_counts_the_draws_below_the_true_value() -> None:
    draws = np.linspace(0.0, 1.0, 99)
    assert sbc.sbc_rank(-1.0, draws, 99) == 0
    assert sbc.sbc_rank(2.0, draws, 99) == 99
    assert sbc.sbc_rank(0.505, draws, 99) == 50
    assert sbc.sbc_rank(0.505, np.linspace(0.0, 1.0, 991), 99) == 50  # thinned first


def test_rank_counts_in_equal_width_bins() -> None:
    counts = sbc.rank_counts(np.arange(100), n_thin=99, bins=20)
    assert counts.tolist() == [5] * 20
    assert sbc.rank_counts([0, 4, 5, 99], n_thin=99, bins=20).tolist() == [2, 1] + [0] * 17 + [1]
    with pytest.raises(ValueError, match="equal bins"):
        sbc.rank_counts([0, 1], n_thin=100, bins=10)  # 101 ranks do not split into 10
    with pytest.raises(ValueError, match="ranks must lie"):
        sbc.rank_counts([0, 100], n_thin=99, bins=10)


def test_chi_square_matches_scipy() -> None:
    rng = np.random.default_rng(0)
    ranks = rng.integers(0, 100, size=200)
    stat, df, p = sbc.chi_square_uniformity(ranks, n_thin=99, bins=10)
    ref = stats.chisquare(sbc.rank_counts(ranks, 99, 10))
    assert df == 9
    assert stat == pytest.approx(ref.statistic) and p == pytest.approx(ref.pvalue)


def test_chi_square_extremes() -> None:
    assert sbc.chi_square_uniformity(np.arange(100), 99, 10) == (0.0, 9, 1.0)
    stat, df, p = sbc.chi_square_uniformity(np.zeros(100, dtype=int), 99, 10)
    assert stat == pytest.approx(900.0) and p < 1e-100


def _toy_ranks(scale: float, reps: int = 400, seed: int = 1) -> np.ndarray:
    """Conjugate normal model, posterior drawn exactly; ``scale`` != 1 miscalibrates it.

    theta ~ N(0, 1), y | theta ~ N(theta, 1): theta | y ~ N(y / 2, 1 / 2).
    """
    rng = np.random.default_rng(seed)
    ranks = []
    for _ in range(reps):
        theta = rng.normal()
        y = rng.normal(theta, 1.0)
        draws = rng.normal(y / 2, scale * np.sqrt(0.5), size=500)
        ranks.append(sbc.sbc_rank(theta, draws, 99))
    return np.array(ranks)


def test_calibrated_toy_posterior_passes_and_miscalibrated_ones_fail() -> None:
    assert sbc.chi_square_uniformity(_toy_ranks(1.0), 99, 20)[2] > 0.01
    assert sbc.chi_square_uniformity(_toy_ranks(0.6), 99, 20)[2] < 0.01  # overconfident
    assert sbc.chi_square_uniformity(_toy_ranks(1.6), 99, 20)[2] < 0.01  # too wide


def test_summarize_table() -> None:
    import pandas as pd

    rng = np.random.default_rng(2)
    ranks = pd.DataFrame({"good": rng.integers(0, 100, 100), "bad": np.zeros(100, int),
                          "divergences": 0})
    table = sbc.summarize(ranks, n_thin=99, bins=10, alpha=0.01)
    assert table.columns.tolist() == ["parameter", "chi2", "df", "p_value", "result",
                                      "counts"]
    assert table.set_index("parameter")["result"].to_dict() == {"good": "pass",
                                                                "bad": "FAIL"}


def test_make_data_varies_x_within_groups() -> None:
    df = sbc.make_data(6, 5)
    assert df.shape == (30, 4) and df["g"].nunique() == 6
    assert (df.groupby("g")["x"].std() > 0).all()
    # h nested in g: one level in the odd groups, two in the even ones
    assert df.groupby("g")["h"].nunique().tolist() == [1, 2, 1, 2, 1, 2]
    assert (df.groupby("h")["g"].nunique() == 1).all()


@pytest.mark.parametrize("name", sorted(sbc.MODELS))
def test_model_parameters_exist_in_prior_draws(name: str) -> None:
    """Every ranked parameter picks one scalar out of mixedfit's prior draws, and the SBC
    priors are all explicit (none is scaled to the data)."""
    import mixedfit as mf
    from mixedfit.design import build_design
    from mixedfit.priors import resolve_priors

    spec = sbc.MODELS[name]
    data = sbc.with_placeholder(sbc.make_data(x_shift=spec.x_shift), spec.family)
    fam = sbc._family(spec.family)
    with sbc.stand_in_defaults(spec.defaults):
        pp = mf.prior_predictive(spec.formula, data, priors=spec.priors, draws=7,
                                 random_seed=1, family=fam, **spec.dpars)
        for parameter in spec.parameters:
            assert parameter.values(pp.idata.prior).shape == (7,), parameter.name
        design = build_design(spec.formula, data, family=fam, check_response=False,
                              dpars=spec.dpars)
        resolved = resolve_priors(design, fam, spec.priors)
        y = (np.arange(30.0) % 2 if fam.binary else (np.arange(30.0) + 1) / 31
             if fam.probability else np.arange(30.0) % 3 if fam.categorical_response
             else np.arange(30.0) * 9 + 1)
        other = resolve_priors(build_design(spec.formula, data.assign(y=y), family=fam,
                                            dpars=spec.dpars), fam, spec.priors)
    assert resolved == other  # the priors do not depend on the response
    if spec.defaults:  # the stand-ins are gone again
        assert resolve_priors(design, fam, spec.priors) != resolved


def test_captured_model_is_the_one_fit_builds(monkeypatch: pytest.MonkeyPatch) -> None:
    import mixedfit.backends.pymc_model as model_module

    spec = sbc.MODELS["intercept"]
    data = sbc.make_data().assign(y=np.linspace(-1, 1, 30))
    original = model_module.sample
    model, kwargs = sbc.capture_model(spec.formula, data, spec.priors, random_seed=3,
                                      draws=10, tune=10, chains=2)
    assert model_module.sample is original  # put back
    assert kwargs["draws"] == 10 and kwargs["random_seed"] == 3
    assert np.array_equal(np.asarray(model.rvs_to_values[model["y"]].data), data["y"])


# --------------------------------------------------------------------------- a small SBC


#: the models of every other family run on the compiled backend only here (their PyMC
#: density is checked against the kernel's in tests/backends/test_compiled.py)
FAMILY_MODELS = ("t", "probit", "poisson_identity", "negativebinomial", "gamma", "beta",
                 "zero_inflated_poisson", "hurdle_negativebinomial", "cumulative",
                 "sigma_formula", "categorical")


@pytest.fixture(scope="module")
def executor() -> Iterator[Any]:
    """The local default executor for fits of 2 chains, kept open for the module (a
    local cluster where the cores allow more than one such fit at once)."""
    from mixedfit.parallel import Executor, threads_for_chains

    with Executor(None, threads_per_task=threads_for_chains(2), n_tasks=80) as ex:
        yield ex


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["compiled", "pymc"])
def test_ranks_are_the_same_wherever_the_fits_ran(backend: str) -> None:
    distributed = pytest.importorskip("distributed")
    options = {"reps": 6, "draws": 100, "tune": 100, "chains": 2, "seed": 7,
               "backend": backend}
    here = sbc.run_sbc("intercept", client="sequential", **options)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None,
                                  silence_logs=logging.ERROR) as cluster, \
            distributed.Client(cluster) as client:
        there = sbc.run_sbc("intercept", client=client, **options)
    assert there.attrs["executor"] == "client"
    pd.testing.assert_frame_equal(here, there)
    if backend == "pymc":  # each worker's run of replications re-used its model
        assert there.attrs["logp_checks"] and max(there.attrs["logp_checks"]) < 1e-8


@pytest.mark.slow
@pytest.mark.parametrize(("name", "backend"), [
    (name, backend) for name in sorted(sbc.MODELS) for backend in ("compiled", "joint", "pymc")
    if not (sbc.MODELS[name].family != "gaussian" and backend == "joint")  # = compiled
    and not (name in FAMILY_MODELS and backend != "compiled")])
def test_small_sbc_is_uniform_at_the_one_percent_level(name: str, backend: str,
                                                       executor: Any) -> None:
    ranks = sbc.run_sbc(name, reps=80, draws=200, tune=200, chains=2, n_thin=99, seed=7,
                        backend=backend, client=executor)
    # Bonferroni over the model's parameters: each model's test is wrong with chance 1%
    # (at 0.01 per parameter a model of 8 parameters failed 8% of the time). 80
    # replications, 16 per bin: with 40, any change of the numerics drew new ranks and
    # the slope model's sigma failed at seed 7 twice (p = 0.0027, then 0.0008 on the
    # joint backend) while 1,000 replications at seeds 11, 21, 22, 23 and 400 at seed 7
    # (`python scripts/sbc.py --model slope --backend joint --reps 400 --seed 7`: p = 0.11)
    # passed
    alpha = 0.01 / len(sbc.MODELS[name].parameters)
    table = sbc.summarize(ranks, n_thin=99, bins=5, alpha=alpha)
    print(table.to_string(index=False))
    assert len(table) == len(sbc.MODELS[name].parameters)
    assert (table["result"] == "pass").all(), table.to_string()
    if backend == "pymc":  # the re-used compiled model has the density mf.fit builds
        assert ranks.attrs["logp_checks"] and max(ranks.attrs["logp_checks"]) < 1e-8
