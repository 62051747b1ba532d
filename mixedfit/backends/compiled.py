"""The compiled backend: mixedfit's own log density (:mod:`mixedfit.fast`) run by nutpie.

It covers every family and link (:mod:`mixedfit.fast.rowlik`) and every prior
(``Uniform`` through an interval transform, as PyMC's: see
:class:`mixedfit.fast.layout.FixedMap`; on an ordinal model's thresholds the interval
transform of their ordered values, as PyMC's model, see
:attr:`mixedfit.fast.layout.Layout.ordered_bounds`); it integrates the
group effects of Gaussian models (identity link) out when it can
(:func:`mixedfit.fast.layout.marginal_reason`), and needs no compilation per model: the
machine code is compiled once per installation and cached on disk.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mixedfit.backends.base import Backend
from mixedfit.fast.layout import (
    make_layout,
    marginal_reason,
    parameter_count,
    signed_blocks,
    unsupported_reason,
)
from mixedfit.fast.sampler import sample_compiled
from mixedfit.spec import ModelSpec

if TYPE_CHECKING:
    from mixedfit.plan import FitPlan

__all__ = ["CompiledBackend"]


class CompiledBackend(Backend):
    """mixedfit's compiled density, sampled by nutpie.

    Examples
    --------
    >>> import mixedfit as mf
    >>> from mixedfit.spec import make_spec
    >>> spec = make_spec("Yield ~ 1 + (1 | Batch)", mf.load_dataset("dyestuff"))
    >>> CompiledBackend().supports(spec, "nutpie") is None
    True
    >>> CompiledBackend().supports(spec, "pymc")
    "the 'pymc' sampler (it runs on nutpie)"
    """

    name = "compiled"
    samplers = ("nutpie",)

    def supports(self, spec: ModelSpec, sampler: str) -> str | None:
        return super().supports(spec, sampler) or unsupported_reason(
            spec.design, spec.family, spec.priors)

    def marginal_reason(self, spec: ModelSpec) -> str | None:
        """Why the group effects cannot be integrated out (None when they can)."""
        return marginal_reason(spec.design, spec.family)

    def signed_sds(self, spec: ModelSpec, centred: list[bool], marginal: bool) -> list[bool]:
        """Which blocks sample their sd signed (:func:`mixedfit.fast.layout.signed_blocks`)."""
        return signed_blocks(spec.design, spec.priors, centred, marginal)

    def dimension(self, spec: ModelSpec, marginal: bool) -> int:
        """The dimension of the space the sampler moves in."""
        return parameter_count(spec.design, marginal, spec.family)

    def sample(self, spec: ModelSpec, plan: FitPlan) -> Any:
        layout = make_layout(spec.design, spec.family, spec.priors,
                             plan.centered or [False] * len(spec.design.blocks),
                             stored_draws=plan.chains * (plan.tune + plan.draws),
                             marginal=plan.marginalized, reflect=plan.reflected,
                             signed=plan.signed_sds)
        return sample_compiled(layout, spec.design, draws=plan.draws, tune=plan.tune,
                               chains=plan.chains, random_seed=plan.random_seed,
                               progressbar=plan.progressbar, target_accept=plan.target_accept,
                               max_treedepth=plan.max_treedepth, low_rank=plan.low_rank,
                               variance_mass_matrix=plan.variance_mass_matrix,
                               summarise_effects=plan.effects_summarised)
