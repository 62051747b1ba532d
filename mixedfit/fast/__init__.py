"""The compiled backend: mixedfit's own log density, compiled once, sampled by nutpie.

:mod:`~mixedfit.fast.layout` packs a model (design, family, priors) into a flat
buffer, :mod:`~mixedfit.fast.kernel` computes the log posterior density and its
gradient from it (numba, cached on disk), and :mod:`~mixedfit.fast.sampler` runs
nutpie's NUTS on it and returns the draws in the layout of :mod:`mixedfit.model`.
``mixedfit.fit(..., backend="compiled")`` uses it; the default ``"auto"`` does
whenever :func:`~mixedfit.fast.layout.unsupported_reason` finds nothing against it.
"""
