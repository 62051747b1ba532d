"""The contract every backend keeps.

A backend declares which models it covers (:meth:`Backend.supports`: None, or the
reason it does not) and samples a model (:meth:`Backend.sample`) into an
``arviz.InferenceData`` with the posterior laid out as :mod:`mixedfit.names` says,
whatever it computes internally; :func:`mixedfit.plan.make_plan` asks the backends
instead of branching on them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mixedfit.spec import ModelSpec

if TYPE_CHECKING:
    from mixedfit.plan import FitPlan

__all__ = ["Backend"]


class Backend:
    """A way of computing the posterior.

    Attributes
    ----------
    name : str
        What ``fit(backend=...)`` calls it.
    samplers : tuple of str
        The NUTS implementations it runs on.
    """

    name: str = ""
    samplers: tuple[str, ...] = ()

    def supports(self, spec: ModelSpec, sampler: str) -> str | None:
        """None when this backend can fit ``spec`` with ``sampler``, else why not (a
        phrase that completes "does not cover ...")."""
        if sampler not in self.samplers:
            return f"the {sampler!r} sampler (it runs on {', '.join(self.samplers)})"
        return None

    def sample(self, spec: ModelSpec, plan: FitPlan) -> Any:
        """Draw from the posterior of ``spec`` as ``plan`` says; an InferenceData with
        ``posterior``, ``sample_stats`` and ``observed_data``."""
        raise NotImplementedError
