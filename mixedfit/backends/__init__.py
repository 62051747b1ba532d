"""The backends: ways of computing a model's posterior, behind one contract.

Each backend (:class:`~mixedfit.backends.base.Backend`) says which models it covers
and samples a model into the posterior layout of :mod:`mixedfit.names`:

- ``"compiled"``: mixedfit's own log density, compiled once per installation
  (:mod:`mixedfit.fast`), the default where it applies;
- ``"pymc"``: the PyMC model (:mod:`mixedfit.backends.pymc_model`), for every model;
- ``"bambi"``: the equivalent ``bambi.Model``, for models Bambi can express.

``fit(backend="auto")`` takes the first of :data:`AUTO_ORDER` that covers the model.

Examples
--------
>>> sorted(BACKENDS)
['bambi', 'compiled', 'pymc']
"""

from __future__ import annotations

from mixedfit.backends.bambi import BambiBackend
from mixedfit.backends.base import Backend
from mixedfit.backends.compiled import CompiledBackend
from mixedfit.backends.pymc import PyMCBackend

__all__ = ["Backend", "BACKENDS", "AUTO_ORDER", "SAMPLERS", "BACKEND_CHOICES"]

#: Every backend, by name.
BACKENDS: dict[str, Backend] = {b.name: b for b in (CompiledBackend(), PyMCBackend(),
                                                     BambiBackend())}
#: What ``backend="auto"`` tries, in order.
AUTO_ORDER = ("compiled", "pymc")
#: The NUTS implementations: nutpie (Rust; the default) and PyMC's own.
SAMPLERS = ("nutpie", "pymc")
#: What ``fit(backend=...)`` accepts.
BACKEND_CHOICES = ("auto", *BACKENDS)
