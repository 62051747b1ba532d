"""The model layer: the one place that imports PyMC.

:func:`build_model` turns a :class:`~mixedfit.design.Design`, a family and the
resolved priors into a PyMC model; :func:`sample` draws from it.

Variables in the model (and in ``res.idata.posterior``):

================  =========================================  ==========================
name              meaning                                    dims
================  =========================================  ==========================
``fixed``         fixed effects                              ``fixed_term``
``sd(L)``         sd of each term of block ``L``             ``term(L)``
``cor(L)``        correlation matrix of block ``L``          ``term(L)``, ``term(L)_``
``u(L)``          group deviations of block ``L``            ``level(G)``, ``term(L)``
``z(L)``          standardised deviations (non-centred)      ``level(G)``, ``term(L)``
``sigma``         residual sd (Gaussian)
================  =========================================  ==========================

``L`` is the block label (the grouping factor ``G``, or ``G.1``, ``G.2`` when a
factor has several random-effect terms).

Correlated blocks are non-centred by default: ``u = z @ (diag(sd) L_corr)^T``
with ``z`` standard normal and an LKJ prior on the correlation's Cholesky
factor ``L_corr``; ``centered=True`` draws ``u`` from the multivariate normal
directly. Uncorrelated (``||``) blocks have independent sds.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from mixedfit.design import BlockDesign, Design
from mixedfit.errors import PriorError
from mixedfit.families import Family
from mixedfit.priors import Prior, cor_key, sd_key

__all__ = ["build_model", "sample", "sample_prior", "log_prior_draws", "SAMPLERS", "BACKENDS",
           "term_dim", "level_dim"]

# nutpie compiles the model through numba, which brings its own BLAS; PyTensor's warning
# that its C backend found none does not apply to the default sampler.
warnings.filterwarnings("ignore", message="PyTensor could not link to a BLAS")

#: Samplers ``fit`` accepts: ``"nutpie"`` (default, Rust NUTS with numba-compiled
#: gradients) and ``"pymc"`` (PyMC's own NUTS).
SAMPLERS = ("nutpie", "pymc")
#: Ways ``fit`` computes the log density: ``"auto"``, ``"compiled"`` (mixedfit's own,
#: :mod:`mixedfit.fast`) and ``"pymc"`` (the model built here).
BACKENDS = ("auto", "compiled", "pymc")


def term_dim(label: str) -> str:
    """Name of the dimension that indexes the terms of block ``label``."""
    return f"term({label})"


def level_dim(group: str) -> str:
    """Name of the dimension that indexes the levels of grouping factor ``group``."""
    return f"level({group})"


def _stack_params(priors: list[Prior]) -> tuple[str, dict[str, Any]] | None:
    """One distribution with vector parameters, if every prior has the same form."""
    first = priors[0]
    if any(p.name != first.name or set(p.params) != set(first.params) for p in priors):
        return None
    params = {k: np.array([p.params[k] for p in priors], dtype=float) for k in first.params}
    return first.name, params


def _vector_rv(pm: Any, name: str, priors: list[Prior], dim: str) -> Any:
    stacked = _stack_params(priors)
    if stacked is not None:
        dist = Prior(stacked[0]).distribution()
        return dist(name, **stacked[1], dims=dim)
    parts = [p.distribution()(f"{name}[{i}]", **p.params) for i, p in enumerate(priors)]
    return pm.Deterministic(name, pm.math.stack(parts), dims=dim)


def _block_effects(pm: Any, pt: Any, block: BlockDesign, priors: dict[str, Prior],
                   centered: bool) -> Any:
    L, G = block.label, block.group
    tdim, ldim = term_dim(L), level_dim(G)
    sd_priors = [priors[sd_key(col, G)] for col in block.columns]
    p = block.n_terms
    if block.correlated:
        stacked = _stack_params(sd_priors)
        if stacked is None:
            raise PriorError(
                f"The sd priors of the correlated block {block.term} must share one "
                f"distribution (parameters may differ): got {sd_priors}."
            )
        eta = float(priors[cor_key(L)].params.get("eta", 1.0))
        sd_dist = Prior(stacked[0]).distribution().dist(**stacked[1], shape=p)
        chol, corr, sd = pm.LKJCholeskyCov(
            f"chol({L})", n=p, eta=eta, sd_dist=sd_dist, compute_corr=True,
            store_in_trace=False,
        )
        pm.Deterministic(f"sd({L})", sd, dims=tdim)
        pm.Deterministic(f"cor({L})", corr, dims=(tdim, tdim + "_"))
        if centered:
            u = pm.MvNormal(f"u({L})", mu=np.zeros(p), chol=chol, dims=(ldim, tdim))
        else:
            z = pm.Normal(f"z({L})", 0.0, 1.0, dims=(ldim, tdim))
            u = pm.Deterministic(f"u({L})", pt.dot(z, chol.T), dims=(ldim, tdim))
        return u
    sd = _vector_rv(pm, f"sd({L})", sd_priors, tdim)
    if centered:
        return pm.Normal(f"u({L})", 0.0, sd, dims=(ldim, tdim))
    z = pm.Normal(f"z({L})", 0.0, 1.0, dims=(ldim, tdim))
    return pm.Deterministic(f"u({L})", z * sd, dims=(ldim, tdim))


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
    with pm.Model(coords=coords_for(design)) as model:
        eta = pt.zeros(design.n_obs)
        if design.fixed_columns:
            beta = _vector_rv(pm, "fixed", [priors[c] for c in design.fixed_columns],
                              "fixed_term")
            eta = pt.dot(pt.as_tensor_variable(design.X), beta)
        if design.offset is not None:
            eta = eta + design.offset
        for block, centre in zip(design.blocks, per_block, strict=True):
            u = _block_effects(pm, pt, block, priors, centre)
            idx = pt.as_tensor_variable(block.index)
            if block.columns == ["Intercept"]:
                eta = eta + u[idx, 0]
            else:
                eta = eta + (pt.as_tensor_variable(block.Z) * u[idx]).sum(axis=1)
        _likelihood(pm, family, priors, eta, design)
    return model


def _family_parameter(priors: dict[str, Prior], name: str) -> Any:
    prior = priors[name]
    return prior.distribution()(name, **prior.params)


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
        transformed = [v for v in idata.posterior.data_vars if str(v).endswith("__")]
        idata.posterior = idata.posterior.drop_vars(transformed)
        y = np.asarray(model.rvs_to_values[model["y"]].data)
        idata.add_groups(observed_data=xr.Dataset({"y": (("obs",), y)}))
        return idata
    with model:
        step = pm.NUTS(max_treedepth=max_treedepth, **kwargs)
        return pm.sample(draws=draws, tune=tune, chains=chains, random_seed=random_seed,
                         progressbar=progressbar, cores=min(chains, 2), step=step)


def sample_prior(model: Any, *, draws: int, random_seed: int | None) -> Any:
    """Draw parameters and responses from the prior; an InferenceData with ``prior``
    and ``prior_predictive`` groups."""
    import pymc as pm

    with model:
        return pm.sample_prior_predictive(draws=draws, random_seed=random_seed)


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
            eta = float(prior.params.get("eta", 1.0))
            lp = (eta - 1.0) * np.linalg.slogdet(v)[1]
        else:
            dist = prior.distribution().dist(**prior.params)
            lp = np.asarray(pm.logp(dist, v).eval(), dtype=float)
        total = lp if total is None else total + lp
    return np.zeros(0) if total is None else total
