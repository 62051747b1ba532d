"""The C callbacks through which nutpie's Rust sampler calls mixedfit's densities.

nutpie calls :func:`logp_cfunc` for the log density and its gradient (no Python, no
GIL, one thread per chain) and :func:`expand_cfunc` to store each draw; both get a
pointer to the model's buffer (:mod:`mixedfit.fast.layout`), whose header tells the
joint model (:mod:`mixedfit.fast.kernel`) from the marginal one
(:mod:`mixedfit.fast.marginal`).
"""

from __future__ import annotations

import numba
import numpy as np

from mixedfit.fast import cache
from mixedfit.fast.buffer import H_DIM, H_LEN, H_MARG, H_PACK, HEADER
from mixedfit.fast.kernel import logp_grad
from mixedfit.fast.marginal import marginal_logp_grad

cache.refresh()  # before numba compiles anything here or loads it from its cache

__all__ = ["logp_cfunc", "expand_cfunc"]

LOGP_SIG = numba.types.int64(numba.types.uint64, numba.types.CPointer(numba.types.double),
                             numba.types.CPointer(numba.types.double),
                             numba.types.CPointer(numba.types.double), numba.types.voidptr)
EXPAND_SIG = numba.types.int64(numba.types.uint64, numba.types.uint64,
                               numba.types.CPointer(numba.types.double),
                               numba.types.CPointer(numba.types.double), numba.types.voidptr)


@numba.cfunc(LOGP_SIG, cache=True, error_model="numpy")
def logp_cfunc(dim, x_, out_, logp_, user_data_):  # noqa: ANN001, ANN201
    """nutpie's logp callback: ``user_data`` points at the model's buffer, whose header
    says whether the group effects are integrated out (:data:`H_MARG`)."""
    head = numba.carray(user_data_, (HEADER,), dtype=np.float64)
    length = int(head[H_LEN])
    if dim != int(head[H_DIM]):
        return -1
    buf = numba.carray(user_data_, (length,), dtype=np.float64)
    x = numba.carray(x_, (dim,))
    out = numba.carray(out_, (dim,))
    if buf[H_MARG] >= 0:
        value = marginal_logp_grad(x, out, buf)
    else:
        value = logp_grad(x, out, buf)
    logp_[0] = value
    for i in range(dim):
        if not np.isfinite(out[i]):
            return 3
    if not np.isfinite(value):
        return 4
    return 0


@numba.cfunc(EXPAND_SIG, cache=True, error_model="numpy")
def expand_cfunc(dim, expanded, x_, out_, user_data_):  # noqa: ANN001, ANN201
    """nutpie's draw-storing callback.

    Stores the unconstrained vector as it is, or (when the buffer has packing
    information, for models with very many group effects) the population-level
    parameters in double precision followed by the group effects in single
    precision, two to a stored double, which halves the memory of the trace.
    """
    head = numba.carray(user_data_, (HEADER,), dtype=np.float64)
    length = int(head[H_LEN])
    buf = numba.carray(user_data_, (length,), dtype=np.float64)
    x = numba.carray(x_, (dim,))
    out = numba.carray(out_, (expanded,))
    pk = int(buf[H_PACK])
    if pk < 0:
        if dim != expanded:
            return -1
        for i in range(dim):
            out[i] = x[i]
        return 0
    n_pop = int(buf[pk])
    n_eff = int(buf[pk + 1])
    if expanded != n_pop + (n_eff + 1) // 2:
        return -1
    for i in range(n_pop):
        out[i] = x[int(buf[pk + 2 + i])]
    single = out[n_pop:].view(np.float32)
    for j in range(n_eff):
        single[j] = x[int(buf[pk + 2 + n_pop + j])]
    if n_eff % 2:
        single[n_eff] = 0.0
    return 0
