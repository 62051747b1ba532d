"""The Bambi backend: the equivalent ``bambi.Model``, sampled by Bambi.

:meth:`BambiBackend.build` writes the model of a :class:`~mixedfit.spec.ModelSpec` as a
``bambi.Model`` with the same terms, family, link and priors, and
:meth:`BambiBackend.sample` fits it with Bambi (nutpie or PyMC's NUTS) and returns
the posterior in the layout of :mod:`mixedfit.names`, so that every result table
works as with the other backends.

How the model is written:

- the response is the design's (a column of the data when it is one, else a column
  ``mixedfit_y`` added to a copy of the rows used; binomial responses become
  ``p(successes, trials)``); the offsets are summed into a column ``mixedfit_offset``;
- fixed terms are written as in the formula (Bambi evaluates them with formulae, as
  mixedfit does, so ``C(x)``, ``scale(x)``, ``poly(x, 2)`` and ``I(x**2)`` give the
  same columns); an uncorrelated block ``(1 + x || g)`` is Bambi's ``(1 + x | g)``,
  whose terms ``1|g`` and ``x|g`` are independent;
- the grouping columns hold mixedfit's level labels, so that Bambi's levels are the
  design's (``1|a:b`` for a nested factor);
- every prior is mixedfit's, given explicitly, so that Bambi's own automatic priors
  never apply: a fixed term gets ``bmb.Prior(name, **values)`` (with vector parameters
  when its columns have different values of one distribution), a group term
  ``Normal(0, sigma=<the sd's prior>)``, a family parameter its prior by name. The
  default intercept prior sits at the predictors' means, as Bambi's intercept with
  ``center_predictors=True``; an intercept prior the user gives sits at zero, and the
  model is then built with ``center_predictors=False``.

Bambi estimates no correlations between group effects: a correlated block with more
than one term, ``(1 + x | g)``, is refused (:meth:`BambiBackend.supports`), as are
priors of different distributions on the columns of one term.

Examples
--------
>>> import mixedfit as mf
>>> from mixedfit.spec import make_spec
>>> spec = make_spec("Reaction ~ Days + (Days | Subject)", mf.load_dataset("sleepstudy"))
>>> print(BambiBackend().supports(spec, "nutpie"))  # doctest: +NORMALIZE_WHITESPACE
the correlated group effects of (1 + Days | Subject) (Bambi estimates no correlations):
write (1 + Days || Subject)
"""

from __future__ import annotations

import keyword
import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mixedfit import names
from mixedfit.backends.base import Backend
from mixedfit.design import SAFE_FUNCTIONS, BlockDesign, Design
from mixedfit.design.evaluate import design_matrices
from mixedfit.design.groups import level_label
from mixedfit.errors import OptionError
from mixedfit.formula.parser import quote_name
from mixedfit.formula.variables import expression_variables
from mixedfit.priors import Prior
from mixedfit.spec import ModelSpec

if TYPE_CHECKING:
    from mixedfit.plan import FitPlan

__all__ = ["BambiBackend", "BAMBI_LINKS"]

#: The links Bambi 0.17 takes for the mean of each family (its ``SUPPORTED_LINKS``);
#: Bambi's families have mixedfit's names.
BAMBI_LINKS: dict[str, tuple[str, ...]] = {
    "gaussian": ("identity", "log", "inverse"),
    "t": ("identity", "log", "inverse"),
    "bernoulli": ("identity", "logit", "probit", "cloglog"),
    "binomial": ("identity", "logit", "probit", "cloglog"),
    "poisson": ("identity", "log"),
    "negativebinomial": ("identity", "log", "cloglog"),
    "gamma": ("identity", "log", "inverse"),
    "beta": ("logit", "probit", "cloglog"),
}

#: Bambi's name of each family parameter of mixedfit (the same ones: Gaussian and t
#: ``sigma``, t ``nu``, negative binomial and gamma ``alpha``, beta ``kappa``).
BAMBI_PARAMETERS: dict[str, str] = {"sigma": "sigma", "nu": "nu", "alpha": "alpha",
                                    "kappa": "kappa"}

#: What a refusal suggests instead (as :func:`mixedfit.plan.make_plan` does).
_ALTERNATIVES = 'use backend="pymc" (or the default "auto")'
_INTERCEPT = "Intercept"
_SD_SUFFIX = "_sigma"  # Bambi's name of a group term's sd: "<term>_sigma"
_FACTOR_DIM = "__factor_dim"  # Bambi's dims of the levels of a grouping factor end so


@dataclass
class _GroupTerm:
    """One of Bambi's group terms (``1|g``, ``Days|g``): the block and columns it holds."""

    name: str
    block: BlockDesign
    columns: list[str]
    sd_priors: list[Prior]


@dataclass
class _Translation:
    """A mixedfit model written for Bambi: everything :meth:`BambiBackend.build` passes
    to ``bambi.Model``, and what maps Bambi's posterior back."""

    formula: str
    data: pd.DataFrame
    family: str
    link: str
    center_predictors: bool
    fixed: dict[str, list[str]]
    fixed_priors: dict[str, list[Prior]]
    group_terms: list[_GroupTerm]
    parameter_priors: dict[str, Prior]
    extra_namespace: dict[str, Any] = field(default_factory=dict)


# ------------------------------------------------------------------------ helpers
def _stack(priors: Sequence[Prior]) -> tuple[str, dict[str, Any]] | None:
    """One distribution for several parameters: its name and its parameters (a float
    where they agree, else a vector); None when the priors are of different
    distributions."""
    first = priors[0]
    if any(p.kind is not first.kind for p in priors):
        return None
    params: dict[str, Any] = {}
    for key in first.values:
        values = np.array([p.values[key] for p in priors], dtype=float)
        params[key] = float(values[0]) if np.all(values == values[0]) else values
    return first.kind.name, params


def _kinds(columns: Sequence[str], priors: Sequence[Prior]) -> str:
    return "; ".join(f"{c}: {p!r}" for c, p in zip(columns, priors, strict=True))


def _fresh(base: str, taken: set[str]) -> str:
    """A column name like ``base`` that is not in ``taken`` (and is then taken)."""
    name, k = base, 1
    while name in taken:
        name, k = f"{base}_{k}", k + 1
    taken.add(name)
    return name


def _plain(name: str) -> bool:
    """Whether formulae reads ``name`` as a column without quoting."""
    return quote_name(name) == name and name.isidentifier() and not keyword.iskeyword(name)


def _term_columns(block: BlockDesign, data: pd.DataFrame) -> dict[str, list[str]]:
    """formulae's terms of a block's left side and the block's columns of each."""
    common = design_matrices(block.term.lhs, data).common
    return {str(name): list(term.labels) for name, term in common.terms.items()}


def _correlation_reason(design: Design) -> str | None:
    correlated = [b.term for b in design.blocks if b.correlated]
    if not correlated:
        return None
    written = " and ".join(str(t) for t in correlated)
    rewritten = " and ".join(str(replace(t, correlated=False)) for t in correlated)
    return (f"the correlated group effects of {written} (Bambi estimates no correlations): "
            f"write {rewritten}")


def _family_reason(spec: ModelSpec) -> str | None:
    family = spec.family
    links = BAMBI_LINKS.get(family.name)  # Bambi's families and links, by their names
    if links is None:
        return f"the {family.name} family (Bambi's: {', '.join(BAMBI_LINKS)})"
    if family.link not in links:
        return (f"the {family.link} link of the {family.name} family (Bambi's: "
                f"{', '.join(links)})")
    unknown = [p for p in family.parameters if p not in BAMBI_PARAMETERS]
    if unknown:
        return f"the {family.name} family's parameter {unknown[0]!r}"
    return None


def _prior_reason(what: str, columns: Sequence[str], priors: Sequence[Prior]) -> str | None:
    if _stack(priors) is not None:
        return None
    return (f"priors of different distributions on the columns of {what} "
            f"({_kinds(columns, priors)}; Bambi takes one distribution per term): give them "
            f"one distribution")


def _grouping(design: Design, data: pd.DataFrame, taken: set[str]) -> dict[str, str]:
    """Grouping variable -> the column of ``data`` that Bambi groups by, holding
    mixedfit's level labels (``data`` is changed in place).

    A grouping column used nowhere else in the formula and named plainly is replaced
    by its labels; otherwise a copy is added under a new name."""
    formula = design.formula
    texts = [*formula.fixed, *formula.offsets]
    if formula.response is not None:
        texts.append(formula.response)
    for term in formula.random:
        texts.extend(term.terms)
    elsewhere: set[str] = set()
    for text in texts:
        elsewhere |= expression_variables(text)
    out: dict[str, str] = {}
    for block in design.blocks:
        for var in block.term.group:
            if var in out:
                continue
            labels = [level_label(v) for v in data[var].tolist()]
            column = var
            if var in elsewhere or not _plain(var):
                stem = "".join(ch if ch.isalnum() else "_" for ch in var).strip("_")
                column = _fresh(f"{stem or 'group'}_group", taken)
            data[column] = pd.Categorical(labels, categories=list(dict.fromkeys(labels)))
            out[var] = column
    return out


def _response(spec: ModelSpec, data: pd.DataFrame, taken: set[str]) -> str:
    """The left side of Bambi's formula, with its columns added to ``data``."""
    design = spec.design
    y = np.asarray(design.y, dtype=float)
    if spec.family.takes_trials:
        trials = np.ones_like(y) if design.trials is None else np.asarray(design.trials, float)
        ycol, ncol = _fresh("mixedfit_y", taken), _fresh("mixedfit_trials", taken)
        data[ycol] = y.astype(np.int64)
        data[ncol] = trials.astype(np.int64)
        return f"p({ycol}, {ncol})"
    name = design.response_name
    if (_plain(name) and name in data.columns and pd.api.types.is_numeric_dtype(data[name])
            and not pd.api.types.is_bool_dtype(data[name])
            and np.array_equal(np.asarray(data[name], dtype=float), y)):
        return name  # the response is a column of the data: Bambi reads it as it is
    ycol = _fresh("mixedfit_y", taken)
    data[ycol] = y.astype(np.int64) if spec.family.discrete else y
    return ycol


def _translate(spec: ModelSpec) -> _Translation:
    """Write ``spec`` for Bambi (after :meth:`BambiBackend.supports` accepted it)."""
    design, priors = spec.design, spec.priors
    data = design.data.reset_index(drop=True).copy()
    taken = {str(c) for c in data.columns}
    lhs = _response(spec, data, taken)
    rhs = [design.formula.fixed_formula]
    if design.offset is not None:
        off = _fresh("mixedfit_offset", taken)
        data[off] = np.asarray(design.offset, dtype=float)
        rhs.append(f"offset({off})")
    groups = _grouping(design, data, taken)
    group_terms: list[_GroupTerm] = []
    for block in design.blocks:
        factor = ":".join(groups[v] for v in block.term.group)
        rhs.append(f"({block.term.lhs} | {factor})")
        for term, columns in _term_columns(block, design.data).items():
            expr = "1" if term == _INTERCEPT else term
            sds = [priors[names.sd_key(c, block.group)] for c in columns]
            group_terms.append(_GroupTerm(f"{expr}|{factor}", block, columns, sds))
    fixed = {str(t): list(cols) for t, cols in design.fixed_terms.items()}
    user = getattr(priors, "user", frozenset())
    return _Translation(
        formula=f"{lhs} ~ {' + '.join(rhs)}", data=data, family=spec.family.name,
        link=spec.family.link,
        # the default intercept prior sits at the predictors' means: Bambi's centred
        # intercept; a user's sits at zero, on the intercept as reported
        center_predictors=_INTERCEPT not in user,
        fixed=fixed, fixed_priors={t: [priors[c] for c in cols] for t, cols in fixed.items()},
        group_terms=group_terms,
        parameter_priors={p: priors[p] for p in spec.family.parameters},
        extra_namespace=dict(SAFE_FUNCTIONS))


def _bambi_prior(bmb: Any, priors: Sequence[Prior]) -> Any:
    stacked = _stack(priors)
    if stacked is None:  # refused by supports(); here only if called around it
        raise OptionError("Bambi takes one prior distribution per term.")
    return bmb.Prior(stacked[0], **stacked[1])


@contextmanager
def _quiet(loud: bool) -> Iterator[None]:
    """Bambi's and PyMC's progress messages only when progress is shown."""
    loggers = [logging.getLogger(n) for n in ("bambi", "pymc")]
    levels = [log.level for log in loggers]
    if not loud:
        for log in loggers:
            log.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for log, level in zip(loggers, levels, strict=True):
            log.setLevel(level)


def _draws(da: Any, leading: Sequence[str]) -> np.ndarray:
    """A posterior variable as ``(chain, draw, *leading dims, rest flattened)``."""
    rest = [d for d in da.dims if d not in ("chain", "draw", *leading)]
    arr = np.asarray(da.transpose("chain", "draw", *leading, *rest).values, dtype=float)
    return arr.reshape(*arr.shape[: 2 + len(leading)], -1)


# ------------------------------------------------------------------------ backend
class BambiBackend(Backend):
    """The equivalent ``bambi.Model``, sampled by Bambi.

    Covers the models Bambi can express: every family and link of mixedfit, offsets,
    any fixed terms, uncorrelated blocks of group effects (and correlated blocks of one
    term, ``(1 | g)``), with every prior of mixedfit; not the correlations of a block
    ``(1 + x | g)``. Runs on nutpie (Bambi's ``inference_method="nutpie"``, through
    PyMC; numba compiles each model, a few seconds) or on PyMC's own NUTS.

    Examples
    --------
    >>> import mixedfit as mf
    >>> from mixedfit.spec import make_spec
    >>> spec = make_spec("Yield ~ 1 + (1 | Batch)", mf.load_dataset("dyestuff"))
    >>> BambiBackend().supports(spec, "nutpie") is None
    True
    """

    name = "bambi"
    samplers = ("nutpie", "pymc")

    def supports(self, spec: ModelSpec, sampler: str) -> str | None:
        """None when Bambi can express ``spec`` and run it on ``sampler``, else why not
        (a phrase that completes "does not cover ...")."""
        reason = (super().supports(spec, sampler) or _family_reason(spec)
                  or _correlation_reason(spec.design))
        if reason is None and spec.design.weights is not None:
            reason = ("observation weights (Bambi has no weights argument; the compiled "
                      "and PyMC backends take them)")
        if reason is None and spec.design.dpars:
            reason = (f"a formula for {', '.join(spec.design.dpars)} (mixedfit's Bambi "
                      f"backend builds one linear predictor; the compiled and PyMC backends "
                      f"take these formulas)")
        if reason is None and spec.design.se is not None:
            reason = ("known standard errors, se= (the compiled and PyMC backends take "
                      "them)")
        if reason is not None:
            return reason
        design, priors = spec.design, spec.priors
        for term, columns in design.fixed_terms.items():
            reason = _prior_reason(f"the term {term!r}", columns, [priors[c] for c in columns])
            if reason is not None:
                return reason
        seen: dict[str, BlockDesign] = {}
        for block in design.blocks:
            for term, columns in _term_columns(block, design.data).items():
                label = f"{'1' if term == _INTERCEPT else term}|{block.group}"
                if label in seen:
                    return (f"the group term {label} of both {seen[label].term} and "
                            f"{block.term} (Bambi has one term of that name)")
                seen[label] = block
                sds = [priors[names.sd_key(c, block.group)] for c in columns]
                reason = _prior_reason(f"{label} in {block.term}", columns, sds)
                if reason is not None:
                    return reason
        return None

    def build(self, spec: ModelSpec, *, noncentered: bool = True) -> Any:
        """The unfitted ``bambi.Model`` of ``spec``: the same terms, family, link and
        priors.

        Parameters
        ----------
        spec : ModelSpec
            The model.
        noncentered : bool, default True
            Bambi's parameterisation of the group effects (one for all blocks).

        Returns
        -------
        bambi.Model

        Raises
        ------
        OptionError
            When Bambi cannot express the model (the reason of :meth:`supports`), or
            builds a design that differs from mixedfit's.
        """
        reason = self.supports(spec, self.samplers[0])
        if reason is not None:
            raise OptionError(f'backend="bambi" does not cover {reason}; {_ALTERNATIVES}.')
        return self._model(spec, _translate(spec), noncentered)

    def _model(self, spec: ModelSpec, tr: _Translation, noncentered: bool) -> Any:
        import bambi as bmb  # deferred: Bambi is heavy and only needed by its backend

        priors: dict[str, Any] = {t: _bambi_prior(bmb, ps) for t, ps in tr.fixed_priors.items()}
        for gt in tr.group_terms:
            priors[gt.name] = bmb.Prior("Normal", mu=0.0, sigma=_bambi_prior(bmb, gt.sd_priors))
        for param, prior in tr.parameter_priors.items():
            priors[BAMBI_PARAMETERS[param]] = _bambi_prior(bmb, [prior])
        with _quiet(False):
            model = bmb.Model(tr.formula, tr.data, family=tr.family, link=tr.link,
                              priors=priors, center_predictors=tr.center_predictors,
                              noncentered=noncentered, extra_namespace=tr.extra_namespace)
        _check_terms(model, spec.design, tr)
        return model

    def sample(self, spec: ModelSpec, plan: FitPlan) -> Any:
        """Fit the Bambi model of ``spec`` as ``plan`` says; the posterior in the layout of
        :mod:`mixedfit.names`, with ``sample_stats`` and ``observed_data``.

        The group effects are non-centred unless the plan centres every block (Bambi
        has one parameterisation for all)."""
        reason = self.supports(spec, plan.sampler)
        if reason is not None:
            raise OptionError(f'backend="bambi" does not cover {reason}; {_ALTERNATIVES}.')
        tr = _translate(spec)
        centered = plan.centered or []
        model = self._model(spec, tr, noncentered=not (centered and all(centered)))
        kwargs: dict[str, Any] = {}
        if plan.sampler == "nutpie":
            kwargs["nuts_sampler_kwargs"] = {
                "maxdepth": plan.max_treedepth, "save_warmup": False,
                "low_rank_modified_mass_matrix": bool(plan.low_rank)}
        else:
            kwargs["nuts"] = {"max_treedepth": plan.max_treedepth}
            kwargs["cores"] = min(plan.chains, 2)
        with _quiet(plan.progressbar):
            idata = model.fit(draws=plan.draws, tune=plan.tune, chains=plan.chains,
                              random_seed=plan.random_seed, target_accept=plan.target_accept,
                              inference_method=plan.sampler, progressbar=plan.progressbar,
                              compute_convergence_checks=False, **kwargs)
        return _to_mixedfit(idata, spec, tr)


def _check_terms(model: Any, design: Design, tr: _Translation) -> None:
    """Refuse a Bambi model whose terms are not mixedfit's (a safeguard: the formula is
    evaluated by formulae in both)."""
    component = model.components[model.family.likelihood.parent]

    def differ(what: str) -> OptionError:
        return OptionError(f'backend="bambi" does not cover this model: Bambi builds {what} '
                           f'(mixedfit\'s design differs); {_ALTERNATIVES}.')

    common = dict(component.common_terms)
    expected = {t for t in tr.fixed if t != _INTERCEPT}
    if set(common) != expected or (component.intercept_term is not None) != (
            _INTERCEPT in tr.fixed):
        got = sorted(common) + ([_INTERCEPT] if component.intercept_term is not None else [])
        raise differ(f"the fixed terms {', '.join(got) or 'none'}")
    for term, bterm in common.items():
        values = np.asarray(bterm.data, dtype=float).reshape(design.n_obs, -1)
        pos = [design.fixed_columns.index(c) for c in tr.fixed[term]]
        if values.shape[1] != len(pos) or not np.allclose(values, design.X[:, pos]):
            raise differ(f"other columns for the fixed term {term!r}")
    group = dict(component.group_specific_terms)
    wanted = [gt.name for gt in tr.group_terms]
    if sorted(group) != sorted(wanted):
        raise differ(f"the group terms {', '.join(sorted(group)) or 'none'}, not "
                     f"{', '.join(wanted)}")
    for gt in tr.group_terms:
        bterm, block = group[gt.name], gt.block
        levels = np.array([str(g) for g in bterm.groups], dtype=object)
        rows = levels[np.asarray(bterm.grouper).argmax(axis=1)]
        if not np.array_equal(rows, np.array(block.levels, dtype=object)[block.index]):
            raise differ(f"other levels for the group term {gt.name}")
        values = np.asarray(bterm.predictor, dtype=float).reshape(design.n_obs, -1)
        pos = [block.columns.index(c) for c in gt.columns]
        if values.shape[1] != len(pos) or not np.allclose(values, block.Z[:, pos]):
            raise differ(f"other columns for the group term {gt.name}")


def _to_mixedfit(idata: Any, spec: ModelSpec, tr: _Translation) -> Any:
    """Bambi's posterior in the layout of :mod:`mixedfit.names`."""
    import arviz as az  # deferred: ArviZ and xarray load with the sampler
    import xarray as xr

    design = spec.design
    post = idata.posterior
    n_chain, n_draw = int(post.sizes["chain"]), int(post.sizes["draw"])
    cd = ("chain", "draw")
    variables: dict[str, tuple[tuple[str, ...], np.ndarray]] = {}
    if design.fixed_columns:
        fixed = np.empty((n_chain, n_draw, len(design.fixed_columns)))
        for term, columns in tr.fixed.items():
            pos = [design.fixed_columns.index(c) for c in columns]
            fixed[:, :, pos] = _draws(post[term], ())
        variables[names.FIXED] = ((*cd, names.FIXED_DIM), fixed)
    for block in design.blocks:
        q, n_levels = block.n_terms, block.n_levels
        sd = np.empty((n_chain, n_draw, q))
        u = np.empty((n_chain, n_draw, n_levels, q))
        for gt in (g for g in tr.group_terms if g.block is block):
            pos = [block.columns.index(c) for c in gt.columns]
            sd[:, :, pos] = _draws(post[gt.name + _SD_SUFFIX], ())
            da = post[gt.name]
            factor = next(d for d in da.dims if str(d).endswith(_FACTOR_DIM))
            where = {str(lev): i for i, lev in enumerate(da.coords[factor].values)}
            order = [where[lev] for lev in block.levels]
            u[:, :, :, pos] = _draws(da, (factor,))[:, :, order, :]
        variables[names.sd(block.label)] = ((*cd, names.term_dim(block.label)), sd)
        variables[names.effects(block.label)] = (
            (*cd, names.level_dim(block.group), names.term_dim(block.label)), u)
    for param in spec.family.parameters:
        variables[param] = (cd, _draws(post[BAMBI_PARAMETERS[param]], ())[:, :, 0])
    chains, draws = np.arange(n_chain), np.arange(n_draw)
    coords = {k: v for k, v in names.coords_for(design).items() if k != names.OBS_DIM}
    posterior = xr.Dataset(variables, coords={"chain": chains, "draw": draws, **coords},
                           attrs=_attrs(post.attrs))
    stats = idata.sample_stats
    kept = {k: (cd, np.asarray(v.transpose(*cd).values)) for k, v in stats.data_vars.items()
            if set(v.dims) == set(cd) and k != "tuning"}
    sample_stats = xr.Dataset(kept, coords={"chain": chains, "draw": draws},
                              attrs=_attrs(stats.attrs))
    observed = xr.Dataset({names.RESPONSE: ((names.OBS_DIM,), np.asarray(design.y))},
                          coords={names.OBS_DIM: np.arange(design.n_obs)})
    return az.InferenceData(posterior=posterior, sample_stats=sample_stats,
                            observed_data=observed)


def _attrs(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """The sampler's attributes worth keeping (library, versions, sampling time)."""
    return {k: v for k, v in attrs.items() if isinstance(v, str | int | float)}
