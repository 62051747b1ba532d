"""The Bambi backend (placeholder while it is written)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mixedfit.backends.base import Backend
from mixedfit.spec import ModelSpec

if TYPE_CHECKING:
    from mixedfit.plan import FitPlan

__all__ = ["BambiBackend"]


class BambiBackend(Backend):
    """The equivalent ``bambi.Model``, sampled by Bambi."""

    name = "bambi"
    samplers = ("nutpie", "pymc")

    def supports(self, spec: ModelSpec, sampler: str) -> str | None:
        return "Bambi models (not written yet)"

    def sample(self, spec: ModelSpec, plan: FitPlan) -> Any:
        raise NotImplementedError
