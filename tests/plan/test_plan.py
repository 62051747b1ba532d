"""The fit plan: every resolved choice, recorded, saved and reused."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mixedfit as mf
from mixedfit.plan import FitPlan, make_plan
from mixedfit.spec import make_spec
from tests.conftest import QUICK, cached_fit


@pytest.fixture(scope="module")
def sleep_spec():
    return make_spec("Reaction ~ Days + (Days | Subject)", mf.load_dataset("sleepstudy"))


def test_the_defaults_resolve_every_choice(sleep_spec):
    plan = make_plan(sleep_spec, progressbar=False)
    assert (plan.backend, plan.sampler, plan.marginalized, plan.centered) == \
        ("compiled", "nutpie", True, None)
    assert plan.target_accept == 0.9 and plan.low_rank and plan.log_likelihood
    assert (plan.family, plan.link, plan.interval) == ("gaussian", "identity", 0.94)
    joint = make_plan(sleep_spec, marginalize=False, progressbar=False)
    assert joint.centered == [True] and not joint.marginalized  # 10 obs per subject
    pymc = make_plan(sleep_spec, backend="pymc", progressbar=False)
    assert pymc.backend == "pymc" and not pymc.marginalized and pymc.target_accept == 0.95


def test_the_mass_matrix_of_non_gaussian_models(sleep_spec):
    # Stan's variance-based diagonal mass matrix for non-Gaussian models without a
    # low-rank one (measured in mixedfit.plan); nutpie's gradient-based one otherwise
    assert not make_plan(sleep_spec, progressbar=False).variance_mass_matrix
    assert not make_plan(sleep_spec, marginalize=False, centered=False,
                         progressbar=False).variance_mass_matrix
    nb = make_spec("TICKS ~ C(YEAR) + scale(HEIGHT) + (1 | BROOD) + (1 | LOCATION)",
                   mf.load_dataset("grouseticks"), family="negativebinomial")
    plan = make_plan(nb, progressbar=False)
    assert plan.variance_mass_matrix and not plan.low_rank
    cbpp = make_spec("cbind(incidence, size - incidence) ~ period + (1 | herd)",
                     mf.load_dataset("cbpp"), family="binomial")
    plan = make_plan(cbpp, centered=True, progressbar=False)
    assert plan.low_rank and not plan.variance_mass_matrix  # low rank is gradient-based
    assert not make_plan(nb, backend="pymc", progressbar=False).variance_mass_matrix


def _bernoulli_spec(n_rows: int, n_groups: int):
    rng = np.random.default_rng(7)
    g = np.repeat(np.arange(n_groups), n_rows // n_groups)
    x = rng.standard_normal(g.size)
    eta = -0.5 + 0.8 * x + rng.normal(0, 0.7, n_groups)[g]
    y = (rng.random(g.size) < 1 / (1 + np.exp(-eta))).astype(float)
    return make_spec("y ~ x + (1 | g)", pd.DataFrame({"y": y, "x": x, "g": g}),
                     family="bernoulli")


def test_a_near_gaussian_posterior_gets_a_short_warm_up_and_longer_steps(sleep_spec):
    # every block centred (each level's data outweigh its prior), at least 1,000 rows:
    # 300 warm-up iterations and target_accept 0.9, 0.8 from 10,000 rows (measured in
    # docs/performance.md); whatever the user gives is kept
    mid = make_plan(_bernoulli_spec(2_000, 20), progressbar=False)
    assert mid.centered == [True] and (mid.tune, mid.target_accept) == (300, 0.9)
    large = make_plan(_bernoulli_spec(12_000, 40), progressbar=False)
    assert large.centered == [True] and (large.tune, large.target_accept) == (300, 0.8)
    given = make_plan(_bernoulli_spec(2_000, 20), tune=1000, target_accept=0.95,
                      progressbar=False)
    assert (given.tune, given.target_accept) == (1000, 0.95)
    # fewer rows, a non-centred block, or effects integrated out: 1000 as before
    small = make_plan(_bernoulli_spec(900, 30), progressbar=False)
    assert small.centered == [True] and (small.tune, small.target_accept) == (1000, 0.95)
    non_centred = make_plan(_bernoulli_spec(2_000, 20), centered=False, progressbar=False)
    assert (non_centred.tune, non_centred.target_accept) == (1000, 0.95)
    assert make_plan(sleep_spec, progressbar=False).tune == 1000  # integrated out
    with pytest.raises(mf.OptionError, match="tune must be an integer >= 0"):
        make_plan(sleep_spec, tune=-1)


def test_a_backend_that_does_not_cover_the_model_is_refused(sleep_spec):
    with pytest.raises(mf.OptionError, match="does not cover the correlated group effects"):
        make_plan(sleep_spec, backend="bambi")
    # the compiled backend needs nutpie: auto falls back to PyMC for PyMC's sampler
    with pytest.raises(mf.OptionError, match='backend="compiled" runs on nutpie'):
        make_plan(sleep_spec, backend="compiled", sampler="pymc")
    assert make_plan(sleep_spec, sampler="pymc", progressbar=False).backend == "pymc"


def test_the_plan_round_trips_and_reads_old_info(sleep_spec):
    plan = make_plan(sleep_spec, progressbar=False, random_seed=3)
    assert FitPlan.from_dict(plan.to_dict()) == plan
    old = {"sampler": "nutpie", "backend": "compiled", "draws": 10, "tune": 10, "chains": 1,
           "random_seed": None, "centered": [False], "marginalized": False,
           "target_accept": 0.95, "max_treedepth": 10, "time": 1.0}
    back = FitPlan.from_dict(old)  # the info of a file written before plans existed
    assert back.draws == 10 and back.interval == 0.94 and back.low_rank is False


def test_the_result_keeps_the_plan_and_refit_reuses_it(fit_cache, tmp_path):
    res = fit_cache("Yield ~ 1 + (1 | Batch)", mf.load_dataset("dyestuff"), key="plan",
                    random_seed=5, **QUICK)
    assert isinstance(res.plan, FitPlan) and res.info["backend"] == res.plan.backend
    assert res.plan.time > 0
    again = res.refit()
    assert again.plan.draws == res.plan.draws and again.plan.random_seed == 5
    assert again.plan.backend == res.plan.backend
    path = tmp_path / "fit.nc"
    res.save(path)
    loaded = mf.load(path)
    assert loaded.plan == res.plan


def test_cached_fit_is_reused():  # the suite's own cache, for the fits above
    a = cached_fit("Yield ~ 1 + (1 | Batch)", mf.load_dataset("dyestuff"), key="plan",
                   random_seed=5, **QUICK)
    assert a is cached_fit("Yield ~ 1 + (1 | Batch)", mf.load_dataset("dyestuff"), key="plan",
                           random_seed=5, **QUICK)
