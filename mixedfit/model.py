"""The model layer: the one place that imports PyMC.

:func:`build_model` turns a :class:`~mixedfit.design.Design`, a family and the
resolved priors into a PyMC model; :func:`sample` draws from it.

Variables in the model (and in ``res.idata.posterior``):

====================  =====================================  ==========================
name                  meaning                                dims
====================  =====================================  ==========================
``fixed``             fixed effects                          ``fixed_term``
``sd(L)``             sd of each term of block ``L``         ``term(L)``
``cor(L)``            correlation matrix of block ``L``      ``term(L)``, ``term(L)_``
``u(L)``              group deviations of block ``L``        ``level(G)``, ``term(L)``
``z(L)``              standardised deviations (non-centred)  ``level(G)``, ``term(L)``
``sd_at_means(L)``    sds at the means of the predictors     ``term(L)``
``cor_at_means(L)``   correlations there                     ``term(L)``, ``term(L)_``
``sigma``             residual sd (Gaussian)
====================  =====================================  ==========================

``L`` is the block label (the grouping factor ``G``, or ``G.1``, ``G.2`` when a
factor has several random-effect terms).

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

import warnings
from typing import Any

import numpy as np

from mixedfit.design import BlockDesign, Design
from mixedfit.families import Family
from mixedfit.priors import Prior, cor_key, sd_key
from mixedfit.standardize import BlockScaling, standardize

__all__ = ["build_model", "sample", "sample_prior", "log_prior_draws", "SAMPLERS", "BACKENDS",
           "term_dim", "level_dim", "sd_at_means", "cor_at_means"]

# nutpie compiles the model through numba, which brings its own BLAS; PyTensor's warning
# that its C backend found none does not apply to the default sampler.
warnings.filterwarnings("ignore", message="PyTensor could not link to a BLAS")

#: Samplers ``fit`` accepts: ``"nutpie"`` (default, Rust NUTS with numba-compiled
#: gradients) and ``"pymc"`` (PyMC's own NUTS).
SAMPLERS = ("nutpie", "pymc")
#: Ways ``fit`` computes the log density: ``"auto"``, ``"compiled"`` (mixedfit's own,
#: :mod:`mixedfit.fast`) and ``"pymc"`` (the model built here).
BACKENDS = ("auto", "compiled", "pymc")


def sd_at_means(label: str) -> str:
    """Name of the sds of block ``label`` at its predictors' means (where their priors
    sit, :mod:`mixedfit.standardize`); only for blocks centred there."""
    return f"sd_at_means({label})"


def cor_at_means(label: str) -> str:
    """Name of the correlations of block ``label`` at its predictors' means."""
    return f"cor_at_means({label})"


def term_dim(label: str) -> str:
    """Name of the dimension that indexes the terms of block ``label``."""
    return f"term({label})"


def level_dim(group: str) -> str:
    """Name of the dimension that indexes the levels of grouping factor ``group``."""
    return f"level({group})"


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
    import pytensor.tensor as pt
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
    tdim, ldim = term_dim(L), level_dim(G)
    sd_priors = [priors[sd_key(col, G)] for col in block.columns]
    q = block.n_terms
    B = scaling.basis
    moved = scaling.centred
    sd = _vector_rv(pm, sd_at_means(L) if moved else f"sd({L})", sd_priors, tdim)
    if block.correlated:
        eta = priors[cor_key(L)].values["eta"]
        corr = pm.LKJCorr(f"_cor({L})", n=q, eta=eta, return_matrix=True,
                          default_transform=_cpc_transform(q))
        chol = sd[:, None] * pt.linalg.cholesky(corr)
        if centered:
            u = pm.MvNormal(f"_u({L})" if moved else f"u({L})", mu=np.zeros(q), chol=chol,
                            dims=(ldim, tdim))
        else:
            z = pm.Normal(f"z({L})", 0.0, 1.0, dims=(ldim, tdim))
            u = pt.dot(z, chol.T)
    elif centered:
        u = pm.Normal(f"u({L})", 0.0, sd, dims=(ldim, tdim))
    else:
        z = pm.Normal(f"z({L})", 0.0, 1.0, dims=(ldim, tdim))
        u = z * sd
    Zc = np.asarray(block.Z, dtype=float) @ B
    if moved:
        cov = pt.dot(pt.dot(B, chol.dot(chol.T)), B.T)
        sd_user = pt.sqrt(pt.diag(cov))
        pm.Deterministic(cor_at_means(L), corr, dims=(tdim, tdim + "_"))
        pm.Deterministic(f"sd({L})", sd_user, dims=tdim)
        cor = pt.clip(cov / pt.outer(sd_user, sd_user), -1.0, 1.0)
        pm.Deterministic(f"cor({L})", pt.set_subtensor(cor[np.arange(q), np.arange(q)], 1.0),
                         dims=(tdim, tdim + "_"))
        pm.Deterministic(f"u({L})", pt.dot(u, B.T), dims=(ldim, tdim))
    else:
        if block.correlated:
            pm.Deterministic(f"cor({L})", corr, dims=(tdim, tdim + "_"))
        if not centered:  # (a centred block's variable is u(L) itself)
            pm.Deterministic(f"u({L})", u, dims=(ldim, tdim))
    idx = pt.as_tensor_variable(block.index)
    if block.columns == ["Intercept"]:
        return u[idx, 0]
    return (pt.as_tensor_variable(Zc) * u[idx]).sum(axis=1)


def coords_for(design: Design) -> dict[str, list[str]]:
    """Coordinates of every dimension of the model."""
    coords: dict[str, list[str]] = {"fixed_term": list(design.fixed_columns),
                                    "obs": list(range(design.n_obs))}
    for block in design.blocks:
        coords[level_dim(block.group)] = list(block.levels)
        coords[term_dim(block.label)] = list(block.columns)
        coords[term_dim(block.label) + "_"] = list(block.columns)
    return coords


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
    import pymc as pm
    import pytensor.tensor as pt

    per_block = ([bool(centered)] * len(design.blocks) if isinstance(centered, bool)
                 else list(centered))
    st = standardize(design, family, priors)
    # check_bounds=False: every parameter is kept in its support by its transform, and the
    # positive-definiteness check of LKJCorr would run in numba's object mode (with the
    # GIL) at every evaluation; its CPC transform only yields valid correlation matrices
    with pm.Model(coords=coords_for(design), check_bounds=False) as model:
        eta = pt.zeros(design.n_obs)
        if design.fixed_columns:
            fixed_priors = [priors[c] for c in design.fixed_columns]
            if np.array_equal(st.functional, np.eye(len(fixed_priors))):
                beta = _vector_rv(pm, "fixed", fixed_priors, "fixed_term")
                eta = pt.dot(pt.as_tensor_variable(design.X), beta)
            else:  # the intercept's prior sits at the predictors' means
                theta = _vector_rv(pm, "_fixed", fixed_priors, "fixed_term")
                eta = pt.dot(pt.as_tensor_variable(st.fixed_design_at_sites(design.X)), theta)
                pm.Deterministic("fixed", pt.dot(np.linalg.inv(st.functional), theta),
                                 dims="fixed_term")
        if design.offset is not None:
            eta = eta + design.offset
        for block, scaling, centre in zip(design.blocks, st.blocks, per_block, strict=True):
            eta = eta + _block_effects(pm, pt, block, scaling, priors, centre)
        _likelihood(pm, family, priors, eta, design)
    return model


def _family_parameter(priors: dict[str, Prior], name: str) -> Any:
    prior = priors[name]
    return prior.distribution()(name, **prior.values)


def _likelihood(pm: Any, family: Family, priors: dict[str, Prior], eta: Any,
                design: Design) -> None:
    import pytensor.tensor as pt

    y, name = design.y, family.name
    mu = family.inverse_link(eta, pt)
    if name == "gaussian":
        pm.Normal("y", mu=mu, sigma=_family_parameter(priors, "sigma"), observed=y, dims="obs")
    elif name == "t":
        sigma = _family_parameter(priors, "sigma")
        nu = _family_parameter(priors, "nu")
        pm.StudentT("y", nu=nu, mu=mu, sigma=sigma, observed=y, dims="obs")
    elif name == "bernoulli":
        if family.link == "logit":
            pm.Bernoulli("y", logit_p=eta, observed=y, dims="obs")
        else:
            pm.Bernoulli("y", p=pt.clip(mu, 1e-12, 1 - 1e-12), observed=y, dims="obs")
    elif name == "binomial":
        n = design.trials
        if family.link == "logit":
            pm.Binomial("y", n=n, logit_p=eta, observed=y, dims="obs")
        else:
            pm.Binomial("y", n=n, p=pt.clip(mu, 1e-12, 1 - 1e-12), observed=y, dims="obs")
    elif name == "poisson":
        pm.Poisson("y", mu=mu, observed=y, dims="obs")
    elif name == "negativebinomial":
        pm.NegativeBinomial("y", mu=mu, alpha=_family_parameter(priors, "alpha"), observed=y,
                            dims="obs")
    elif name == "gamma":
        alpha = _family_parameter(priors, "alpha")
        pm.Gamma("y", alpha=alpha, beta=alpha / mu, observed=y, dims="obs")
    elif name == "beta":
        kappa = _family_parameter(priors, "kappa")
        mu = pt.clip(mu, 1e-12, 1 - 1e-12)
        pm.Beta("y", alpha=mu * kappa, beta=(1 - mu) * kappa, observed=y, dims="obs")
    else:  # pragma: no cover - families are validated when the Family is made
        raise ValueError(name)


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
    import pymc as pm

    kwargs: dict[str, Any] = {}
    if target_accept is not None:
        kwargs["target_accept"] = target_accept
    if sampler == "nutpie":
        import nutpie
        import xarray as xr

        compiled = nutpie.compile_pymc_model(model)
        seed = int(np.random.SeedSequence(random_seed).generate_state(1)[0])
        idata = nutpie.sample(compiled, draws=draws, tune=tune, chains=chains, seed=seed,
                              progress_bar=progressbar, save_warmup=False,
                              low_rank_modified_mass_matrix=low_rank,
                              maxdepth=max_treedepth, **kwargs)
        idata.posterior = _user_variables(idata.posterior)
        y = np.asarray(model.rvs_to_values[model["y"]].data)
        idata.add_groups(observed_data=xr.Dataset({"y": (("obs",), y)}))
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
    import logging

    import pymc as pm

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


def log_prior_draws(priors: dict[str, Prior], values: dict[str, np.ndarray]) -> np.ndarray:
    """Sum over parameters of the log prior density at each posterior draw.

    ``values`` maps each prior's name to its draws (``(S,)``, or ``(S, p, p)``
    correlation matrices for ``cor(...)``). LKJ densities are computed up to their
    normalising constant, ``(eta - 1) log det C``, which is all that power-scaling needs.
    """
    import pymc as pm

    total: np.ndarray | None = None
    for key, prior in priors.items():
        v = np.asarray(values[key], dtype=float)
        if key.startswith("cor("):
            lp = (prior.values["eta"] - 1.0) * np.linalg.slogdet(v)[1]
        else:
            dist = prior.distribution().dist(**prior.values)
            lp = np.asarray(pm.logp(dist, v).eval(), dtype=float)
        total = lp if total is None else total + lp
    return np.zeros(0) if total is None else total
