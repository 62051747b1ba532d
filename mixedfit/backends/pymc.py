"""The PyMC backend: the model of :mod:`mixedfit.backends.pymc_model`, sampled by nutpie
or PyMC.

It covers every model mixedfit accepts; nutpie compiles each model with numba (about
10 s), PyMC's own NUTS samples it without compiling.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mixedfit.backends import pymc_model
from mixedfit.backends.base import Backend
from mixedfit.spec import ModelSpec

if TYPE_CHECKING:
    from mixedfit.plan import FitPlan

__all__ = ["PyMCBackend"]


class PyMCBackend(Backend):
    """The PyMC model, the reference the other backends are tested against."""

    name = "pymc"
    samplers = ("nutpie", "pymc")

    def sample(self, spec: ModelSpec, plan: FitPlan) -> Any:
        model = pymc_model.build_model(spec.design, spec.family, spec.priors,
                                       centered=plan.centered or False)
        return pymc_model.sample(model, draws=plan.draws, tune=plan.tune, chains=plan.chains,
                                 random_seed=plan.random_seed, sampler=plan.sampler,
                                 progressbar=plan.progressbar,
                                 target_accept=plan.target_accept,
                                 max_treedepth=plan.max_treedepth, low_rank=plan.low_rank)

    def prior_draws(self, spec: ModelSpec, draws: int, random_seed: int | None) -> Any:
        """Parameters and responses drawn from the priors (``prior`` and
        ``prior_predictive`` groups)."""
        model = pymc_model.build_model(spec.design, spec.family, spec.priors)
        return pymc_model.sample_prior(model, draws=draws, random_seed=random_seed)
