"""Reproducibility (issue #7): the same ``random_seed`` gives the same draws, run after run.

Checked for the default sampler (nutpie, several chains), in the same process and in a
fresh interpreter, for the prior predictive, and for every result method that draws
random numbers (``posterior_predictive``, ``ppc_grouped``, ``predict`` with new levels).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest

import mixedfit as mf
from tests.conftest import QUICK, cached_fit

FORMULA = "Reaction ~ Days + (Days | Subject)"
SEED = 20241122  # the seed conftest.cached_fit uses, so the cached fit is one of the pair


def _fit(seed: int | None) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return mf.fit(FORMULA, mf.load_dataset("sleepstudy"), random_seed=seed,
                      progressbar=False, **QUICK)


@pytest.fixture(scope="module")
def first() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cached_fit(FORMULA, mf.load_dataset("sleepstudy"), key="sleepstudy", **QUICK)


@pytest.fixture(scope="module")
def second() -> Any:
    return _fit(SEED)


@pytest.fixture(scope="module")
def other_seed() -> Any:
    return _fit(SEED + 1)


def _posterior_digest(idata: Any) -> str:
    """SHA-256 of every posterior array, in a fixed order."""
    h = hashlib.sha256()
    for name in sorted(idata.posterior.data_vars):
        h.update(name.encode())
        h.update(np.ascontiguousarray(idata.posterior[name].values).tobytes())
    return h.hexdigest()


def test_default_sampler_is_nutpie_with_several_chains(first: Any) -> None:
    assert first.info["sampler"] == "nutpie"
    assert first.idata.posterior.sizes["chain"] == QUICK["chains"] > 1
    assert first.info["random_seed"] == SEED


def test_same_seed_gives_identical_posterior_draws(first: Any, second: Any) -> None:
    assert set(first.idata.posterior.data_vars) == set(second.idata.posterior.data_vars)
    for name in first.idata.posterior.data_vars:
        a = first.idata.posterior[name].values
        b = second.idata.posterior[name].values
        assert np.array_equal(a, b), name  # bit for bit, every chain
    for name in ("diverging", "step_size", "n_steps"):
        if name in first.idata.sample_stats:
            assert np.array_equal(first.idata.sample_stats[name].values,
                                  second.idata.sample_stats[name].values), name
    pd.testing.assert_frame_equal(first.fixed_effects, second.fixed_effects)


def test_different_seed_gives_different_draws(first: Any, other_seed: Any) -> None:
    for name in ("fixed", "sigma", "u(Subject)"):
        assert not np.array_equal(first.idata.posterior[name].values,
                                  other_seed.idata.posterior[name].values), name
    # ... but the same posterior, up to Monte Carlo error
    a, b = first.fixed_effects, other_seed.fixed_effects
    assert np.all(np.abs(a["mean"] - b["mean"]) < 4 * np.maximum(a["sd"], b["sd"]))


def test_same_seed_in_a_fresh_interpreter(second: Any) -> None:
    """Run after run: a new process, with another hash seed, draws the same numbers."""
    code = textwrap.dedent(f"""
        import hashlib, warnings
        import numpy as np
        import mixedfit as mf
        warnings.simplefilter("ignore")
        res = mf.fit({FORMULA!r}, mf.load_dataset("sleepstudy"), random_seed={SEED},
                     progressbar=False, **{QUICK!r})
        h = hashlib.sha256()
        for name in sorted(res.idata.posterior.data_vars):
            h.update(name.encode())
            h.update(np.ascontiguousarray(res.idata.posterior[name].values).tobytes())
        print(h.hexdigest())
    """)
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, timeout=600, check=True)
    assert out.stdout.strip().splitlines()[-1] == _posterior_digest(second.idata)


def test_refit_with_the_recorded_seed_reproduces_the_draws(first: Any) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        again = first.refit()
    assert again.info["random_seed"] == SEED
    assert _posterior_digest(again.idata) == _posterior_digest(first.idata)


def test_prior_predictive_is_reproducible() -> None:
    df = mf.load_dataset("sleepstudy")
    a = mf.prior_predictive(FORMULA, df, draws=30, random_seed=5)
    b = mf.prior_predictive(FORMULA, df, draws=30, random_seed=5)
    c = mf.prior_predictive(FORMULA, df, draws=30, random_seed=6)
    assert np.array_equal(a.y, b.y)
    for name in a.idata.prior.data_vars:
        assert np.array_equal(a.idata.prior[name].values, b.idata.prior[name].values), name
    assert not np.array_equal(a.y, c.y)
    assert not np.array_equal(a.idata.prior["sigma"].values, c.idata.prior["sigma"].values)


def test_prior_predictive_without_a_seed_differs() -> None:
    df = mf.load_dataset("sleepstudy")
    a = mf.prior_predictive(FORMULA, df, draws=10)
    b = mf.prior_predictive(FORMULA, df, draws=10)
    assert not np.array_equal(a.y, b.y)


def test_posterior_predictive_is_reproducible(first: Any) -> None:
    a = first.posterior_predictive(draws=50, random_seed=3)
    b = first.posterior_predictive(draws=50, random_seed=3)
    c = first.posterior_predictive(draws=50, random_seed=4)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_grouped_check_is_reproducible(first: Any) -> None:
    a = first.ppc_grouped("Subject", stat="sd", draws=50, random_seed=8)
    b = first.ppc_grouped("Subject", stat="sd", draws=50, random_seed=8)
    pd.testing.assert_frame_equal(a, b)
    c = first.ppc_grouped("Subject", stat="sd", draws=50, random_seed=9)
    assert not a["replicated_mean"].equals(c["replicated_mean"])


def test_predictions_for_new_levels_are_reproducible(first: Any) -> None:
    new = pd.DataFrame({"Days": [0, 5, 9], "Subject": ["new1", "new2", "308"]})
    a = first.predict(new, random_seed=1)
    b = first.predict(new, random_seed=1)
    c = first.predict(new, random_seed=2)
    pd.testing.assert_frame_equal(a, b)
    assert not np.array_equal(a.loc[0:1].to_numpy(), c.loc[0:1].to_numpy())
    assert np.array_equal(a.loc[2].to_numpy(), c.loc[2].to_numpy())  # a seen level: no draws
