"""Posterior predictions of the expected response."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mixedfit import names
from mixedfit.design import as_frame
from mixedfit.errors import DataError, OptionError
from mixedfit.formula import parse
from mixedfit.results.summaries import describe

if TYPE_CHECKING:
    from mixedfit.results.view import ResultView

__all__ = ["predict", "linear_predictor_draws", "family_parameter_draws"]


def _population_draws(res: ResultView, label: str, n_new: int, rng: np.random.Generator,
                      correlated: bool) -> np.ndarray:
    """Effects of ``n_new`` unseen levels, one draw per posterior draw: ``(S, n_new, p)``."""
    sd = res.draws(names.sd(label))
    S, p = sd.shape
    z = rng.standard_normal((S, n_new, p))
    if not correlated:
        return z * sd[:, None, :]
    cor = res.draws(names.cor(label))
    cov = cor * sd[:, :, None] * sd[:, None, :]
    chol = np.linalg.cholesky(cov + 1e-12 * np.eye(p))
    return np.einsum("snp,sqp->snq", z, chol)


def linear_predictor_draws(res: ResultView, data: pd.DataFrame | None, *,
                           include_random: bool = True, new_levels: str = "population",
                           random_seed: int | None = None, target: str = "") -> np.ndarray:
    """Draws of the linear predictor, ``(S, n)``: the mean's, or with ``target`` that of a
    family parameter with its own formula (on its link scale)."""
    d = res.design
    if new_levels not in ("population", "error"):
        raise OptionError("new_levels must be 'population' or 'error'.")
    cols = d.columns_of(target)
    if data is None:
        X, offset = d.X[:, cols], (None if target else d.offset)
        blocks = [(b, b.Z, b.index) for b in d.blocks_of(target)]
    else:
        X, offset = d.x_for(data, target), (None if target else d.offset_for(data))
        blocks = []
        if include_random:
            for b in d.blocks_of(target):
                missing = [g for g in b.term.group if g not in data.columns]
                if missing:
                    raise DataError(
                        f"newdata lacks the grouping column {missing[0]!r} needed for {b.term}; "
                        f"add it or use include_random=False.")
                blocks.append((b, b.z_for(data), b.index_for(data)))
    n = X.shape[0]
    S = res.n_draws
    eta = np.zeros((S, n))
    if cols.size:
        eta += res.draws(names.FIXED)[:, cols] @ X.T
    if offset is not None:
        eta += offset[None, :]
    if not include_random:
        return eta
    rng = np.random.default_rng(random_seed)
    for b, Z, idx in blocks:
        u = res.draws(names.effects(b.label))
        known = idx >= 0
        if known.any():
            eta[:, known] += np.einsum("snp,np->sn", u[:, idx[known], :], Z[known])
        if (~known).any():
            unseen = sorted(set(_labels(data, b)[~known]))
            if new_levels == "error":
                raise DataError(
                    f"newdata has level(s) of {b.group!r} not seen in fitting: "
                    f"{', '.join(map(repr, unseen[:5]))}{' ...' if len(unseen) > 5 else ''}. "
                    f"Use new_levels='population' to draw them from the population "
                    f"distribution, or include_random=False.")
            labels = _labels(data, b)
            pos = {lab: k for k, lab in enumerate(unseen)}
            new_u = _population_draws(res, b.label, len(unseen), rng, b.correlated)
            cols = np.where(~known)[0]
            which = np.array([pos[labels[i]] for i in cols])
            eta[:, cols] += np.einsum("snp,np->sn", new_u[:, which, :], Z[cols])
    return eta


def family_parameter_draws(res: ResultView, data: pd.DataFrame | None = None, *,
                           include_random: bool = True, new_levels: str = "population",
                           random_seed: int | None = None) -> dict[str, np.ndarray]:
    """Draws of each family parameter: ``(S,)``, or ``(S, n)`` for one with its own
    formula (its inverse link of its linear predictor, row by row)."""
    out: dict[str, np.ndarray] = {}
    for name in res.family.parameters:
        if name in res.design.dpar_formulas:
            eta = linear_predictor_draws(res, data, include_random=include_random,
                                         new_levels=new_levels, random_seed=random_seed,
                                         target=name)
            out[name] = res.family.dpar_inverse_link(name, eta)
        else:
            out[name] = res.draws(name)
    return out


def _labels(data: pd.DataFrame, block: Any) -> np.ndarray:
    parts = [data[g].astype(str).to_numpy() for g in block.term.group]
    out = parts[0].astype(object)
    for p in parts[1:]:
        out = out + ":" + p
    return out


def predict(res: ResultView, newdata: Any = None, *, include_random: bool = True,
            new_levels: str = "population", scale: str = "response",
            random_seed: int | None = None, parameter: str | None = None) -> pd.DataFrame:
    """See :meth:`mixedfit.MixedResult.predict`."""
    if scale not in ("response", "link"):
        raise OptionError("scale must be 'response' or 'link'.")
    if parameter is not None and parameter not in res.family.distribution_parameters:
        raise OptionError(f"parameter={parameter!r}: the {res.family.name} family's parameters "
                          f"are {', '.join(res.family.distribution_parameters) or 'none'}.")
    if scale == "link" and res.family.predictors_only:
        raise OptionError(f"A {res.family.name} model has one linear predictor per category "
                          f"({', '.join(res.family.parameters)}), not one link scale: use "
                          f"scale='response' for each category's probability.")
    data = None if newdata is None else as_frame(newdata)
    if data is not None:
        # the response and the grouping columns are optional in newdata
        optional = _response_vars(res) | {g for b in res.design.blocks for g in b.term.group}
        used = set(res.design.formula.variables).union(
            *(parse(f).variables for f in res.design.dpar_formulas.values()))
        missing = [c for c in sorted(used) if c not in data.columns and c not in optional]
        if missing:
            raise DataError(f"newdata lacks the column {missing[0]!r} used by the model.")
    eta = linear_predictor_draws(res, data, include_random=include_random,
                                 new_levels=new_levels, random_seed=random_seed)
    index = res.design.data.index if data is None else data.index
    params = family_parameter_draws(res, data, include_random=include_random,
                                    new_levels=new_levels, random_seed=random_seed)
    if parameter is not None:  # each row's value of a family parameter (sigma, zi...)
        values = np.broadcast_to(res.family.params_of(params, parameter), eta.shape)
        df = pd.DataFrame(describe(values, res.interval), index=index)
        df.attrs["interval"] = res.interval
        return df
    probs = res.family.category_probabilities(eta, params) if scale == "response" else None
    if probs is not None:  # a categorical response: each category's probability
        cats = list(res.design.categories or range(probs.shape[2]))
        stats = describe(probs.reshape(probs.shape[0], -1), res.interval)
        rows = pd.MultiIndex.from_product([index, cats],
                                          names=[index.name, res.design.response_name])
        df = pd.DataFrame(stats, index=rows)
        df.attrs["interval"] = res.interval
        return df
    if scale == "link":
        values = eta
    else:  # E[y]: the inverse link, or what the family says its response's mean is
        values = res.family.expected_response(eta, params)
    stats = describe(values, res.interval)
    df = pd.DataFrame(stats, index=index)
    df.attrs["interval"] = res.interval
    return df


def _response_vars(res: ResultView) -> set[str]:
    resp = res.design.formula.response or ""
    return parse(f"{resp} ~ 1").variables if resp else set()
