"""Sampling a packed model with nutpie's NUTS and the compiled kernel.

nutpie's Rust sampler calls :func:`mixedfit.fast.callbacks.logp_cfunc` directly
(no Python, no GIL, one thread per chain) with a pointer to the model's buffer.
The draws come back as unconstrained vectors and :func:`constrain` turns them
into the variables of :mod:`mixedfit.model`, so results do not depend on the
backend.
"""

from __future__ import annotations

import dataclasses
import warnings
from typing import Any

import numpy as np

from mixedfit import names
from mixedfit.convergence import rhat_ess
from mixedfit.design import Design
from mixedfit.fast import buffer as B
from mixedfit.fast.layout import PACK_ABOVE, Layout

__all__ = ["sample_compiled", "constrain", "corr_cholesky_np", "draw_effects", "unreflect"]


def corr_cholesky_np(y: np.ndarray, k: int) -> np.ndarray:
    """Cholesky factors of correlation matrices from unconstrained values ``(..., nc)``."""
    w = np.tanh(y)
    out = np.zeros((*y.shape[:-1], k, k))
    out[..., 0, 0] = 1.0
    pos = 0
    for i in range(1, k):
        sumsq = np.zeros(y.shape[:-1])
        for j in range(i):
            out[..., i, j] = w[..., pos] * np.sqrt(1.0 - sumsq)
            sumsq = sumsq + out[..., i, j] ** 2
            pos += 1
        out[..., i, i] = np.sqrt(np.maximum(1.0 - sumsq, 0.0))
    return out


def constrain(x: np.ndarray, layout: Layout, design: Design, *,
              inplace: bool = False, effects: np.ndarray | None = None,
              skip_effects: bool = False
              ) -> dict[str, tuple[tuple[str, ...], np.ndarray]]:
    """Model variables (name -> (dims, values)) from unconstrained draws ``(chain, draw, dim)``.

    The draws are in the internal coordinates of :mod:`mixedfit.standardize`; the
    variables are the user's (``z(L)`` excepted: the standardised deviations the
    sampler moved in). With ``inplace=True`` the group effects of centred blocks may be
    computed in ``x`` (which is changed), saving a copy of the largest part of the
    draws. A marginal layout takes the group effects from ``effects``
    (``(chain, draw, effects)``, from :func:`draw_effects`).
    """
    st = layout.standardization
    cd = ("chain", "draw")
    out: dict[str, tuple[tuple[str, ...], np.ndarray]] = {}
    if layout.reflected is not None:  # the sampler's coordinates back to the effects
        x = unreflect(x if inplace else x.copy(), layout.reflected)
    beta_star = layout.fixed_internal(x)  # (the sampler's coordinates with Uniform priors)
    if layout.p:
        out[names.FIXED] = (cd + (names.FIXED_DIM,), st.fixed_to_user(beta_star))
    previous = None
    ordered: list[str] = []
    for name, (pos, factor) in layout.family_slots.items():
        kind = layout.family_kinds.get(name, "positive")
        if pos in layout.bounded:  # a Uniform prior: an interval transform
            lo, hi, _ = layout.bounded[pos]
            value = lo + (hi - lo) * _sigmoid(x[..., pos])
        elif kind == "unit":  # a probability, sampled as its logit
            value = 1.0 / (1.0 + np.exp(-x[..., pos]))
        elif kind == "real":
            value = x[..., pos].copy()
            ordered.append(name)
        elif kind == "increment":  # above the one before it
            value = previous + np.exp(x[..., pos])
            ordered.append(name)
        else:
            value = factor * np.exp(x[..., pos])
        previous = value
        if kind in ("real", "increment") and layout.ordered_bounds is not None:
            lo, hi = layout.ordered_bounds  # the ordered values into the prior's interval
            value = lo + (hi - lo) * _sigmoid(value)
        out[name] = (cd, value)
    if ordered and layout.p:  # thresholds sit at the predictors' means: to the user's
        cuts = st.intercepts_to_user(np.stack([out[n][1] for n in ordered], axis=-1),
                                     out[names.FIXED][1])
        for j, name in enumerate(ordered):
            out[name] = (cd, cuts[..., j])
    start = 0
    for k, (b, s) in enumerate(zip(design.blocks, layout.blocks, strict=True)):
        L, G = b.label, b.group
        tdim, ldim = names.term_dim(L), names.level_dim(G)
        tdim2 = names.term_dim_twin(L)
        if s.signed:  # |s|; the effects s z are |s| (sign(s) z)
            sd = np.abs(x[..., s.sd:s.sd + 1])
        else:
            sd = np.exp(x[..., s.sd:s.sd + s.q])
        for i in range(s.q):
            if s.sd + i in layout.bounded:  # a Uniform prior: an interval transform
                lo, hi, factor = layout.bounded[s.sd + i]
                sd[..., i] = (lo + (hi - lo) * _sigmoid(x[..., s.sd + i])) / factor
        if s.n_cor:
            lc = corr_cholesky_np(x[..., s.cor:s.cor + s.n_cor], s.q)
        else:
            lc = np.broadcast_to(np.eye(s.q), (*x.shape[:2], s.q, s.q))
        chol = sd[..., :, None] * lc
        if skip_effects:  # a marginal layout whose effects are summarised instead
            eff = None
        elif layout.marginal:
            if effects is None:
                raise ValueError("a marginal layout needs the drawn group effects")
            eff = effects[..., start:start + s.m * s.q].reshape(*x.shape[:2], s.m, s.q)
            start += s.m * s.q
        else:
            eff = x[..., s.effects:s.effects + s.m * s.q].reshape(*x.shape[:2], s.m, s.q)
        if eff is None:
            u = None
        elif layout.marginal or s.centred:
            u = eff
            if any(j >= 0 for j in s.fixed_of_term):
                shift = np.stack([beta_star[..., j] if j >= 0 else np.zeros(x.shape[:2])
                                  for j in s.fixed_of_term], axis=-1)
                if inplace:
                    eff -= shift[..., None, :]
                    u = eff
                else:
                    u = eff - shift[..., None, :]
        else:
            if s.signed:
                eff = eff * np.where(x[..., s.sd] < 0, -1.0, 1.0)[..., None, None]
            u = np.einsum("cdgj,cdij->cdgi", eff, chol)
            out[names.std_effects(L)] = (cd + (ldim, tdim), eff)
        if not skip_effects:
            out[names.effects(L)] = (cd + (ldim, tdim),
                                     _effects_to_user(st, k, u, inplace or u is not eff))
        cov = st.covariance_to_user(k, chol)
        sd_user = np.sqrt(np.einsum("...ii->...i", cov))
        out[names.sd(L)] = (cd + (tdim,), sd_user)
        if b.correlated:
            out[names.cor(L)] = (cd + (tdim, tdim2), _correlation(cov, sd_user))
        if st.blocks[k].centred:  # where the priors sit: sds and correlations at the means
            out[names.sd_at_means(L)] = (cd + (tdim,), sd * st.sd_factors(k))
            out[names.cor_at_means(L)] = (cd + (tdim, tdim2), _correlation(
                np.einsum("...ij,...kj->...ik", lc, lc), np.ones(s.q)))
    return out


def unreflect(x: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """The standard normal effects ``z`` of reflected groups of nested effects, in place,
    from the sampler's coordinates (``(..., dim)`` draws; ``groups`` as
    :attr:`mixedfit.fast.layout.Layout.reflected`): ``z_l = c x_0 - r S`` and ``z_b,i =
    x_i - r x_0 - (1 + c) / k S`` (``S = sum_i x_i``, ``(c, r) = (sd_b, sd_l) / sqrt(sd_b^2
    + k sd_l^2)``, with the signs of signed sds), as the kernel computes them."""
    pos = 1
    for _ in range(int(groups[0])):
        sd_b, sd_l, signed_b, signed_l, el, k = (int(v) for v in groups[pos:pos + 6])
        members = groups[pos + 6:pos + 6 + k].astype(int)
        if signed_b or signed_l:
            b = x[..., sd_b] if signed_b else np.exp(x[..., sd_b])
            sl = x[..., sd_l] if signed_l else np.exp(x[..., sd_l])
            norm = np.sqrt(b * b + k * sl * sl)
            zero = ~(norm > 0)
            norm = np.where(zero, 1.0, norm)
            c = np.where(zero, 1.0, b / norm)
            r = np.where(zero, 0.0, sl / norm)
        else:
            lb, ll = x[..., sd_b], x[..., sd_l]
            t = np.exp(-np.abs(lb - ll))  # the smaller sd over the larger
            c = np.where(lb >= ll, 1.0 / np.sqrt(1.0 + k * t * t), t / np.sqrt(t * t + k))
            r = np.where(lb >= ll, t / np.sqrt(1.0 + k * t * t), 1.0 / np.sqrt(t * t + k))
        x0 = x[..., el].copy()
        total = x[..., members].sum(axis=-1)
        x[..., members] -= (r * x0 + (1.0 + c) / k * total)[..., None]
        x[..., el] = c * x0 - r * total
        pos += 6 + k
    return x


def _sigmoid(x: np.ndarray) -> np.ndarray:
    from scipy.special import expit  # deferred: scipy.special only where used

    return expit(x)


def _correlation(cov: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """Correlation matrices from covariances and sds, clipped to [-1, 1] (at an origin far
    from the data a correlation rounds to within a few units of 1e-16 of -1 or +1)."""
    cor = np.clip(cov / (sd[..., :, None] * sd[..., None, :]), -1.0, 1.0)
    idx = np.arange(cor.shape[-1])
    cor[..., idx, idx] = 1.0
    return cor


def _effects_to_user(st: Any, k: int, u: np.ndarray, own: bool) -> np.ndarray:
    """Block ``k``'s effects on the user's scale; in place when ``own`` and the map is
    a scaling (a block not centred at the predictors' means)."""
    A = st.blocks[k].internal_map
    if not np.count_nonzero(A - np.diag(np.diag(A))):
        factor = (st.blocks[k].factor * np.diag(A)).astype(u.dtype)
        if own:
            u *= factor
            return u
        return u * factor
    return st.blocks[k].factor * (u @ A.T.astype(u.dtype))


_COMPILED: dict[str, Any] = {}


def _kernel() -> Any:
    if "kernel" not in _COMPILED:
        from mixedfit.fast import kernel  # deferred: numba compiles or loads it from cache

        _COMPILED["kernel"] = kernel
    return _COMPILED["kernel"]


def _marginal() -> Any:
    if "marginal" not in _COMPILED:
        from mixedfit.fast import marginal  # deferred: numba compiles or loads it

        _COMPILED["marginal"] = marginal
    return _COMPILED["marginal"]


#: Values of group-effect draws computed at once while summarising.
SUMMARY_CHUNK = 20_000_000


def _one_factor_layout(layout: Layout) -> bool:
    """Whether a marginal layout's clusters are the levels of one grouping factor."""
    buf = layout.buffer
    p = int(buf[B.H_P])
    at = int(buf[B.H_MARG]) + 2 + p + p * p
    return bool(buf[at + 2] > 0) and int(buf[at]) > 1


def _chunk_buffer(buf: np.ndarray, c0: int, c1: int) -> tuple[np.ndarray, np.ndarray]:
    """A marginal buffer holding only clusters ``c0 .. c1 - 1`` of a one-factor layout
    (all of one size), their effects renumbered from 0; and each renumbered effect's
    position in the whole layout."""
    p = int(buf[B.H_P])
    mg = int(buf[B.H_MARG])
    at = mg + 2 + p + p * p
    first = mg + int(buf[at + 3 + c0])
    k = int(buf[first])
    size = 1 + 4 * k + k * k + k + k * p
    nc = c1 - c0
    rec = buf[first:first + nc * size].reshape(nc, size).copy()
    pos = rec[:, 1 + 3 * k:1 + 4 * k].astype(np.int64)
    order = np.argsort(pos.ravel(), kind="stable")
    local = np.empty(pos.size, dtype=np.int64)
    local[order] = np.arange(pos.size)
    rec[:, 1 + 3 * k:1 + 4 * k] = local.reshape(nc, k)
    head = buf[:at + 3].copy()
    head[at] = nc
    offsets = (at + 3 + nc - mg) + size * np.arange(nc)
    return np.concatenate([head, offsets, rec.ravel()]), np.sort(pos.ravel())


def effect_summaries(x: np.ndarray, layout: Layout, design: Design, seed: int
                     ) -> dict[str, tuple[tuple[str, ...], np.ndarray]]:
    """Each group effect's posterior summary (:data:`mixedfit.names.SUMMARY_STATS`),
    on the user's scale, for a marginal layout whose effects' draws are too many to
    keep (:data:`mixedfit.plan.MAX_STORED_EFFECTS`).

    The levels are taken a chunk at a time: every draw of a chunk's effects is drawn
    from its exact conditional posterior given each draw ``x`` ``(chain, draw, dim)``,
    summarised exactly (quantiles of all its draws, R-hat and ESS as ArviZ computes
    them, :func:`mixedfit.convergence.rhat_ess`) and dropped. Reproducible for a given ``seed``.
    """
    chains, draws, _ = x.shape
    st = layout.standardization
    buf = layout.buffer
    p = int(buf[B.H_P])
    ncl = int(buf[int(buf[B.H_MARG]) + 2 + p + p * p])
    k = layout.n_effects // ncl  # effects per level (every block's terms)
    per_chunk = max(1, SUMMARY_CHUNK // max(chains * draws * k, 1))
    probs = np.array(names.SUMMARY_QUANTILES)
    out = {names.effects(b.label): np.empty((s.m, s.q, len(names.SUMMARY_STATS)))
           for b, s in zip(design.blocks, layout.blocks, strict=True)}
    flat_x = np.ascontiguousarray(x.reshape(chains * draws, -1))
    fn = _marginal().draw_effects
    starts = np.cumsum([0] + [s.m * s.q for s in layout.blocks])
    for index, c0 in enumerate(range(0, ncl, per_chunk)):
        c1 = min(c0 + per_chunk, ncl)
        sub, positions = _chunk_buffer(buf, c0, c1)
        rng = np.random.default_rng([int(seed), 2, index])
        eps = rng.standard_normal((chains * draws, positions.size))
        drawn = np.empty((chains * draws, positions.size))
        fn(flat_x, sub, eps, drawn)
        at = 0
        for kb, (b, s) in enumerate(zip(design.blocks, layout.blocks, strict=True)):
            n = (c1 - c0) * s.q  # this block's effects of the chunk, level by level
            assert positions[at] == starts[kb] + c0 * s.q
            u = drawn[:, at:at + n].reshape(chains * draws, c1 - c0, s.q)
            u = _effects_to_user(st, kb, u, True).reshape(chains, draws, c1 - c0, s.q)
            at += n
            stats = out[names.effects(b.label)][c0:c1]
            stats[..., 0] = u.mean(axis=(0, 1))
            stats[..., 1] = u.std(axis=(0, 1), ddof=1)
            q = np.quantile(u.reshape(chains * draws, c1 - c0, s.q), probs, axis=0)
            stats[..., 2:2 + probs.size] = np.moveaxis(q, 0, -1)
            diag = rhat_ess(u.reshape(chains, draws, -1))  # vectorised, as ArviZ's
            for j, value in enumerate(diag):
                stats[..., 2 + probs.size + j] = value.reshape(c1 - c0, s.q)
    return {name: ((names.level_dim(b.group), names.term_dim(b.label),
                    names.SUMMARY_STAT_DIM), out[name])
            for name, b in zip(out, design.blocks, strict=True)}


def draw_effects(x: np.ndarray, layout: Layout, seed: int) -> np.ndarray:
    """Group effects ``(chain, draw, effects)`` drawn from their exact conditional
    posterior given each draw ``x`` ``(chain, draw, dim)`` of a marginal layout.

    Single precision above :data:`mixedfit.fast.layout.PACK_ABOVE` values, as for the
    stored draws of joint models (7 significant digits, far below the Monte Carlo
    error). Reproducible for a given ``seed``.
    """
    chains, draws, _ = x.shape
    k = layout.n_effects
    dtype = np.float32 if chains * draws * k > PACK_ABOVE else np.float64
    out = np.empty((chains, draws, k), dtype=dtype)
    rng = np.random.default_rng([int(seed), 1])
    flat_x = x.reshape(chains * draws, -1)
    flat_out = out.reshape(chains * draws, k)
    step = max(1, 2_000_000 // max(k, 1))  # bounded memory for the normal deviates
    fn = _marginal().draw_effects
    for a in range(0, chains * draws, step):
        b = min(a + step, chains * draws)
        eps = rng.standard_normal((b - a, k))
        fn(np.ascontiguousarray(flat_x[a:b]), layout.buffer, eps, flat_out[a:b])
    return out


def _model_class() -> Any:
    if "cls" in _COMPILED:
        return _COMPILED["cls"]
    from nutpie import _lib  # deferred: the sampler and numba load only to sample
    from nutpie.sample import CompiledModel

    from mixedfit.fast import callbacks  # deferred: numba

    @dataclasses.dataclass(frozen=True)
    class KernelModel(CompiledModel):
        layout: Any = None

        @property
        def n_dim(self) -> int:
            return self.layout.dim

        @property
        def shapes(self) -> dict[str, tuple[int, ...]]:
            return {"x": (self.layout.dim,)}

        @property
        def coords(self) -> dict[str, Any]:
            return {}

        def _make_sampler(self, settings: Any, init_mean: Any, cores: int, progress_type: Any,
                          store: Any) -> Any:
            return _lib.PySampler.from_pymc(settings, cores, self._make_model(init_mean),
                                            progress_type, store)

        def _make_model(self, init_mean: Any) -> Any:
            buf = self.layout.buffer
            dim = self.layout.dim
            logp_fn = _lib.LogpFunc(callbacks.logp_cfunc.address, buf.ctypes.data, self)
            n_exp = self.layout.n_expanded
            expand_fn = _lib.ExpandFunc(dim, n_exp, callbacks.expand_cfunc.address,
                                        buf.ctypes.data, self)
            sizes = {"param": n_exp}
            variables = _lib.PyVariable.new_variables(["x"], ["float64"], [(n_exp,)], sizes,
                                                      {"x": ["param"]})
            return _lib.PyMcModel(logp_fn, expand_fn, variables, dim, sizes, {},
                                  self.layout.initial_point, None)

    _COMPILED["cls"] = KernelModel
    return KernelModel


def logp_and_grad(layout: Layout, x: np.ndarray) -> tuple[float, np.ndarray]:
    """The kernel's log density and gradient at one point (for checks and tests)."""
    grad = np.zeros(layout.dim)
    fn = _marginal().marginal_logp_grad if layout.marginal else _kernel().logp_grad
    value = fn(np.ascontiguousarray(x, dtype=float), grad, layout.buffer)
    return float(value), grad


def sample_compiled(layout: Layout, design: Design, *, draws: int, tune: int,
                    chains: int, random_seed: int | None, progressbar: bool,
                    target_accept: float, max_treedepth: int, low_rank: bool,
                    variance_mass_matrix: bool = False, summarise_effects: bool = False
                    ) -> Any:
    """Run nutpie on the compiled kernel; an InferenceData laid out like the PyMC path's.

    ``variance_mass_matrix=True`` adapts the diagonal mass matrix from the warm-up
    draws' variances (Stan's estimate) instead of nutpie's gradient-based one (not with
    ``low_rank``, which is gradient-based). ``summarise_effects=True`` keeps the group
    effects of a marginal one-factor layout as summaries (:func:`effect_summaries`) in
    the InferenceData group :data:`mixedfit.names.EFFECTS_SUMMARY`, not as draws."""
    import arviz as az  # deferred: ArviZ and nutpie load only to sample
    import nutpie
    import xarray as xr

    model = _model_class()(dims={}, layout=layout)
    seed = int(np.random.SeedSequence(random_seed).generate_state(1)[0])
    raw = nutpie.sample(model, draws=draws, tune=tune, chains=chains, seed=seed,
                        progress_bar=progressbar, save_warmup=False,
                        low_rank_modified_mass_matrix=low_rank, maxdepth=max_treedepth,
                        target_accept=target_accept, return_raw_trace=True,
                        **({"use_grad_based_mass_matrix": False}
                           if variance_mass_matrix and not low_rank else {}))
    x, stats = _unpack(raw, layout, draws)
    del raw
    coords = names.coords_for(design)
    summarise = bool(summarise_effects and layout.marginal and _one_factor_layout(layout))
    effects = draw_effects(x, layout, seed) if layout.marginal and not summarise else None
    variables = constrain(x, layout, design, inplace=True, effects=effects,
                          skip_effects=summarise)
    summary = effect_summaries(x, layout, design, seed) if summarise else None
    posterior = xr.Dataset(
        {k: (dims, v) for k, (dims, v) in variables.items()},
        coords={"chain": np.arange(x.shape[0]), "draw": np.arange(x.shape[1]),
                **{k: v for k, v in coords.items() if k != names.OBS_DIM}})
    sample_stats = xr.Dataset(
        {k: (("chain", "draw"), v) for k, v in stats.items()},
        coords={"chain": np.arange(x.shape[0]), "draw": np.arange(x.shape[1])})
    groups: dict[str, Any] = {"posterior": posterior, "sample_stats": sample_stats}
    if summary is not None:  # the group effects' summaries, not their draws
        groups[names.EFFECTS_SUMMARY] = xr.Dataset(
            {k: (dims, v) for k, (dims, v) in summary.items()},
            coords={**{k: v for k, v in coords.items() if k != names.OBS_DIM},
                    names.SUMMARY_STAT_DIM: list(names.SUMMARY_STATS)})
    if design.has_rows:  # (out of core: no rows to observe)
        groups["observed_data"] = xr.Dataset(
            {names.RESPONSE: ((names.OBS_DIM,), np.asarray(design.y))},
            coords={names.OBS_DIM: np.arange(design.n_obs)})
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*InferenceData scheme.*")
        return az.InferenceData(**groups)


#: Sample statistics kept from nutpie's trace (as nutpie names them).
STATS = ("diverging", "energy", "depth", "maxdepth_reached", "n_steps", "step_size",
         "mean_tree_accept", "logp", "energy_error")


def _unpack(raw: Any, layout: Layout, draws: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Post-warm-up draws ``(chain, draw, dim)`` and sample statistics from nutpie's raw
    (Arrow) trace, decoding group effects stored in single precision."""
    import pyarrow  # deferred: only to read nutpie's trace

    draw_batches, stat_batches = raw.get_arrow_trace()
    chains = len(draw_batches)
    x = np.empty((chains, draws, layout.dim))
    stats: dict[str, np.ndarray] = {}
    for c, (db, sb) in enumerate(zip(draw_batches, stat_batches, strict=True)):
        tuning = np.asarray(sb.column("tuning"), dtype=bool)
        keep = np.flatnonzero(~tuning)[:draws]
        if keep.size < draws:
            raise RuntimeError(f"nutpie returned {keep.size} draws for chain {c}, not {draws}")
        col = pyarrow.array(db.column("x"))  # a list column: flatten it without copying
        flat = np.asarray(col.flatten().to_numpy(zero_copy_only=False), dtype=np.float64)
        stored = flat.reshape(len(tuning), layout.n_expanded)[keep]
        if layout.packed is None:
            x[c] = stored
        else:
            population, effects = layout.packed
            x[c][:, population] = stored[:, :population.size]
            single = np.ascontiguousarray(stored[:, population.size:]).view(np.float32)
            x[c][:, effects] = single[:, :effects.size]
        for name in STATS:
            if name in sb.column_names:
                values = np.asarray(sb.column(name))[keep]
                stats.setdefault(name, np.empty((chains, draws), dtype=values.dtype))[c] = values
    return x, stats
