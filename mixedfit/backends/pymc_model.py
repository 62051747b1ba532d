"""The PyMC model of a mixed model: the one place that builds PyMC graphs.

:func:`build_model` turns a :class:`~mixedfit.design.Design`, a family and the
resolved priors into a PyMC model; :func:`sample` draws from it. PyMC, PyTensor and
nutpie are imported when a model is built, not with this module.

The posterior variables and their dims are those of :mod:`mixedfit.names`.

The variables the sampler moves in are the parameters the priors sit on
(:mod:`mixedfit.standardize`): the intercept at the predictors' means, and in a
correlated block with an intercept and slopes the sds, correlations and effects of
the group intercepts at the means of the block's predictors. They are named
``_fixed``, ``_cor(L)``, ``_u(L)`` and dropped from the posterior, which holds the
user's parameters above; for such a block it also holds the sds and correlations
where their priors sit, ``sd_at_means(L)`` and ``cor_at_means(L)``.

Correlated blocks are non-centred by default: ``u = z @ (diag(sd) L_corr)^T``
with ``z`` standard normal and an LKJ prior on the correlation matrix, sampled
as the canonical partial correlations of the compiled backend (Stan's
``cholesky_factor_corr``, :func:`cpc_cholesky`); ``centered=True`` draws ``u``
from the multivariate normal directly. Uncorrelated (``||``) blocks have
independent sds. The sds of a block may have priors of different distributions.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import numpy as np

from mixedfit import names
from mixedfit.design import BlockDesign, Design
from mixedfit.errors import PriorError
from mixedfit.families import Family
from mixedfit.names import cor_key, sd_key
from mixedfit.priors import Prior, thresholds_inside
from mixedfit.standardize import BlockScaling, standardize

__all__ = ["build_model", "sample", "sample_prior", "cpc_cholesky"]

# nutpie compiles the model through numba, which brings its own BLAS; PyTensor's warning
# that its C backend found none does not apply to the default sampler.
warnings.filterwarnings("ignore", message="PyTensor could not link to a BLAS")

def _stack_params(priors: list[Prior]) -> tuple[str, dict[str, Any]] | None:
    """One distribution with vector parameters, if every prior has the same form."""
    first = priors[0]
    if any(p.kind is not first.kind for p in priors):
        return None
    params = {k: np.array([p.values[k] for p in priors], dtype=float) for k in first.values}
    return first.kind.name, params


def _vector_rv(pm: Any, name: str, priors: list[Prior], dim: str) -> Any:
    """A vector of parameters with these priors: one variable when they share a
    distribution, else one per element (named ``_name[i]``, dropped from the posterior)."""
    stacked = _stack_params(priors)
    if stacked is not None:
        return getattr(pm, stacked[0])(name, **stacked[1], dims=dim)
    parts = [p.distribution()(f"_{name}[{i}]", **p.values) for i, p in enumerate(priors)]
    return pm.Deterministic(name, pm.math.stack(parts), dims=dim)


def cpc_cholesky(y: Any, n: int, pt: Any) -> tuple[Any, Any]:
    """Cholesky factor of a correlation matrix from unconstrained canonical partial
    correlations ``y`` (``n (n - 1) / 2``, row by row below the diagonal; Stan's
    ``cholesky_factor_corr``, as :func:`mixedfit.fast.kernel.corr_cholesky`), and the
    log Jacobian of ``y`` -> the correlations. ``pt`` is ``pytensor.tensor``."""
    w = pt.tanh(y)
    zero = pt.zeros(())
    rows = [[pt.ones(())] + [zero] * (n - 1)]
    logjac = pt.sum(2.0 * (np.log(2.0) - pt.abs(y) - pt.log1p(pt.exp(-2.0 * pt.abs(y)))))
    pos = 0
    for i in range(1, n):
        row = []
        sumsq = zero
        for j in range(i):
            if j >= 1:
                logjac = logjac + 0.5 * pt.log(1.0 - sumsq)
            lij = w[pos] * pt.sqrt(1.0 - sumsq)
            sumsq = sumsq + lij ** 2
            row.append(lij)
            pos += 1
        row.append(pt.sqrt(1.0 - sumsq))
        logjac = logjac + 0.5 * (n - i - 1) * pt.log(1.0 - sumsq)
        rows.append(row + [zero] * (n - i - 1))
    return pt.stack([pt.stack(r) for r in rows]), logjac


def _cpc_transform(n: int) -> Any:
    """PyMC transform of an LKJCorr variable (the upper triangle of the correlation
    matrix, row by row) to canonical partial correlations, as the compiled kernel's."""
    import pytensor.tensor as pt  # deferred: PyMC and PyTensor load only to build a model
    from pymc.logprob.transforms import Transform

    iu = np.triu_indices(n, 1)

    class CholeskyCorr(Transform):
        name = "cholesky_corr"

        def backward(self, value: Any, *inputs: Any) -> Any:
            chol, _ = cpc_cholesky(value, n, pt)
            return chol.dot(chol.T)[iu]

        def forward(self, value: Any, *inputs: Any) -> Any:
            corr = pt.eye(n)
            corr = pt.set_subtensor(corr[iu], value)
            corr = pt.set_subtensor(corr[iu[::-1]], value)
            chol = pt.linalg.cholesky(corr)
            out = []
            for i in range(1, n):
                sumsq = pt.zeros(())
                for j in range(i):
                    out.append(pt.arctanh(chol[i, j] / pt.sqrt(1.0 - sumsq)))
                    sumsq = sumsq + chol[i, j] ** 2
            return pt.stack(out)

        def log_jac_det(self, value: Any, *inputs: Any) -> Any:
            return cpc_cholesky(value, n, pt)[1]

    return CholeskyCorr()


def _block_effects(pm: Any, pt: Any, block: BlockDesign, scaling: BlockScaling,
                   priors: dict[str, Prior], centered: bool) -> Any:
    """Block ``block``'s contribution to the linear predictor.

    The variables the sampler moves in are those the priors sit on: in a block
    centred at its predictors' means (:mod:`mixedfit.standardize`), the sds,
    correlations and effects of that basis (``sd_at_means(L)``, ``cor_at_means(L)``;
    ``_u(L)`` is dropped from the posterior), from which the user's ``sd(L)``, ``cor(L)`` and
    ``u(L)`` are computed."""
    L, G = block.label, block.group
    tdim, ldim = names.term_dim(L), names.level_dim(G)
    tdim2 = names.term_dim_twin(L)
    sd_priors = [priors[sd_key(col, G)] for col in block.columns]
    q = block.n_terms
    B = scaling.basis
    moved = scaling.centred
    sd = _vector_rv(pm, names.sd_at_means(L) if moved else names.sd(L), sd_priors, tdim)
    if block.correlated:
        eta = priors[cor_key(L)].values["eta"]
        corr = pm.LKJCorr("_" + names.cor(L), n=q, eta=eta, return_matrix=True,
                          default_transform=_cpc_transform(q))
        chol = sd[:, None] * pt.linalg.cholesky(corr)
        if centered:
            name = "_" + names.effects(L) if moved else names.effects(L)
            u = pm.MvNormal(name, mu=np.zeros(q), chol=chol, dims=(ldim, tdim))
        else:
            z = pm.Normal(names.std_effects(L), 0.0, 1.0, dims=(ldim, tdim))
            u = pt.dot(z, chol.T)
    elif centered:
        u = pm.Normal(names.effects(L), 0.0, sd, dims=(ldim, tdim))
    else:
        z = pm.Normal(names.std_effects(L), 0.0, 1.0, dims=(ldim, tdim))
        u = z * sd
    Zc = np.asarray(block.Z, dtype=float) @ B
    if moved:
        cov = pt.dot(pt.dot(B, chol.dot(chol.T)), B.T)
        sd_user = pt.sqrt(pt.diag(cov))
        pm.Deterministic(names.cor_at_means(L), corr, dims=(tdim, tdim2))
        pm.Deterministic(names.sd(L), sd_user, dims=tdim)
        cor = pt.clip(cov / pt.outer(sd_user, sd_user), -1.0, 1.0)
        pm.Deterministic(names.cor(L), pt.set_subtensor(cor[np.arange(q), np.arange(q)], 1.0),
                         dims=(tdim, tdim2))
        pm.Deterministic(names.effects(L), pt.dot(u, B.T), dims=(ldim, tdim))
    else:
        if block.correlated:
            pm.Deterministic(names.cor(L), corr, dims=(tdim, tdim2))
        if not centered:  # (a centred block's variable is u(L) itself)
            pm.Deterministic(names.effects(L), u, dims=(ldim, tdim))
    idx = pt.as_tensor_variable(block.index)
    if block.columns == ["Intercept"]:
        return u[idx, 0]
    return (pt.as_tensor_variable(Zc) * u[idx]).sum(axis=1)


def build_model(design: Design, family: Family, priors: dict[str, Prior], *,
                centered: bool | list[bool] = False) -> Any:
    """Build the PyMC model.

    Parameters
    ----------
    design : Design
        Matrices and group indices.
    family : Family
        Response family and link.
    priors : dict
        Parameter name -> Prior, as returned by :func:`mixedfit.priors.resolve_priors`.
    centered : bool or list of bool, default False
        Centred instead of non-centred group effects: one value for every block, or
        one per block (see :mod:`mixedfit.parameterisation`).

    Returns
    -------
    pymc.Model
    """
    import pymc as pm  # deferred: PyMC and PyTensor load only to build a model
    import pytensor.tensor as pt

    per_block = ([bool(centered)] * len(design.blocks) if isinstance(centered, bool)
                 else list(centered))
    st = standardize(design, family, priors)
    # check_bounds=False: every parameter is kept in its support by its transform, and the
    # positive-definiteness check of LKJCorr would run in numba's object mode (with the
    # GIL) at every evaluation; its CPC transform only yields valid correlation matrices
    with pm.Model(coords=names.coords_for(design), check_bounds=False) as model:
        # one linear predictor for the mean ("") and one per family parameter with its own
        # formula; each fixed column and block adds to its own
        etas = {t: pt.zeros(design.n_obs) for t in ("", *design.dpars)}
        targets = design.target_of_columns()
        beta = None
        if design.fixed_columns:
            fixed_priors = [priors[c] for c in design.fixed_columns]
            if np.array_equal(st.functional, np.eye(len(fixed_priors))):
                beta = _vector_rv(pm, names.FIXED, fixed_priors, names.FIXED_DIM)
                coef, XF = beta, design.X
            else:  # the intercepts' priors sit at the predictors' means
                coef = _vector_rv(pm, "_" + names.FIXED, fixed_priors, names.FIXED_DIM)
                XF = st.fixed_design_at_sites(design.X)
                beta = pm.Deterministic(names.FIXED, pt.dot(np.linalg.inv(st.functional), coef),
                                        dims=names.FIXED_DIM)
            for t in etas:
                idx = np.flatnonzero(targets == t)
                if idx.size:
                    etas[t] = pt.dot(pt.as_tensor_variable(XF[:, idx]), coef[idx])
        if design.offset is not None:
            etas[""] = etas[""] + design.offset
        for block, scaling, centre in zip(design.blocks, st.blocks, per_block, strict=True):
            etas[block.target] = etas[block.target] + _block_effects(pm, pt, block, scaling,
                                                                     priors, centre)
        eta = etas[""]
        mean_beta = None if beta is None else beta[design.columns_of("")]
        params = _family_parameters(pm, pt, family, priors, design, st.intercept_center,
                                    mean_beta)
        params.update({par: family.dpar_inverse_link(par, etas[par], pt)
                       for par in design.dpars})
        family.pymc_weighted_likelihood(pm, pt, eta, params, design.y, design.trials,
                                        design.likelihood_weights())
    return model


#: the name of an ordinal model's thresholds where their priors sit (dropped from the
#: posterior, which holds each threshold on the user's scale by its own name)
THRESHOLDS = "_thresholds"


def _family_parameters(pm: Any, pt: Any, family: Family, priors: dict[str, Prior],
                       design: Design, center: np.ndarray, beta: Any) -> dict[str, Any]:
    """The family's own parameters with their priors.

    Ordered thresholds (:meth:`~mixedfit.families.Family.parameter_transform` ``"real"``
    then ``"increment"``) are one vector with PyMC's ordered transform (the first value
    and the logs of the differences, as the compiled kernel's), sitting at the
    predictors' means; each threshold on the user's scale is ``c + center . beta``."""
    cuts = [n for n in family.parameters
            if family.parameter_transform(n) in ("real", "increment")]
    params = {name: priors[name].distribution()(name, **priors[name].values)
              for name in family.parameters
              if name not in cuts and name not in design.dpar_formulas}
    if not cuts:
        return params
    stacked = _stack_params([priors[n] for n in cuts])
    if stacked is None:
        raise PriorError(
            f"backend='pymc' needs one prior distribution for all the thresholds "
            f"({', '.join(cuts)}), with any parameters; use the compiled backend (the "
            f"default) for thresholds with different distributions.")
    starts = family.parameter_starts(np.asarray(design.y, dtype=float), design.trials)
    starts = {**starts, **thresholds_inside(family, priors, starts)}  # (Uniform priors)
    from pymc.distributions import transforms  # deferred: PyMC loads only to build a model

    raw = getattr(pm, stacked[0])(THRESHOLDS, **stacked[1], shape=len(cuts),
                                  transform=transforms.ordered,
                                  initval=np.array([starts[n] for n in cuts]))
    values = pt.sort(raw)  # the identity where sampled; orders prior predictive draws
    if beta is not None and center.size:
        values = values + pt.dot(beta, center)
    for j, name in enumerate(cuts):
        params[name] = pm.Deterministic(name, values[j])
    return params


def sample(model: Any, *, draws: int, tune: int, chains: int, random_seed: int | None,
           sampler: str, progressbar: bool, target_accept: float | None = None,
           max_treedepth: int = 10, low_rank: bool = False) -> Any:
    """Draw from the posterior with NUTS.

    ``low_rank`` adapts a low-rank modified mass matrix (nutpie only).

    Returns
    -------
    arviz.InferenceData
        With ``posterior``, ``sample_stats`` and ``observed_data`` groups.
    """
    import pymc as pm  # deferred: PyMC loads only to sample

    kwargs: dict[str, Any] = {}
    if target_accept is not None:
        kwargs["target_accept"] = target_accept
    if sampler == "nutpie":
        import nutpie  # deferred: the sampler loads only to sample
        import xarray as xr

        compiled = nutpie.compile_pymc_model(model)
        seed = int(np.random.SeedSequence(random_seed).generate_state(1)[0])
        idata = nutpie.sample(compiled, draws=draws, tune=tune, chains=chains, seed=seed,
                              progress_bar=progressbar, save_warmup=False,
                              low_rank_modified_mass_matrix=low_rank,
                              maxdepth=max_treedepth, **kwargs)
        idata.posterior = _user_variables(idata.posterior)
        y = np.asarray(model.rvs_to_values[model[names.RESPONSE]].data)
        idata.add_groups(observed_data=xr.Dataset({names.RESPONSE: ((names.OBS_DIM,), y)}))
        return idata
    with model:
        step = pm.NUTS(max_treedepth=max_treedepth, **kwargs)
        idata = pm.sample(draws=draws, tune=tune, chains=chains, random_seed=random_seed,
                          progressbar=progressbar, cores=min(chains, 2), step=step)
    idata.posterior = _user_variables(idata.posterior)
    return idata


def _user_variables(ds: Any) -> Any:
    """The variables of :data:`mixedfit.model` only: without the sampler's transformed
    values (``..._log__``) and the helper variables (``_...``) the priors sit on."""
    drop = [v for v in ds.data_vars if str(v).endswith("__") or str(v).startswith("_")]
    return ds.drop_vars(drop)


def sample_prior(model: Any, *, draws: int, random_seed: int | None) -> Any:
    """Draw parameters and responses from the prior; an InferenceData with ``prior``
    and ``prior_predictive`` groups."""
    import pymc as pm  # deferred: PyMC loads only to sample

    log = logging.getLogger("pymc")
    level = log.level
    log.setLevel(logging.WARNING)  # not "Sampling: [...]" with the helper variables' names
    try:
        with model:
            idata = pm.sample_prior_predictive(draws=draws, random_seed=random_seed)
    finally:
        log.setLevel(level)
    idata.prior = _user_variables(idata.prior)
    return idata
