"""Posterior predictions of the expected response."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mixedfit import names
from mixedfit.design import as_frame
from mixedfit.design.response import cbind_parts, evaluate_response
from mixedfit.errors import DataError, OptionError
from mixedfit.families import Family
from mixedfit.formula import parse
from mixedfit.results.summaries import describe, require_effect_draws

if TYPE_CHECKING:
    from mixedfit.results.view import ResultView

__all__ = ["predict", "linear_predictor_draws", "family_parameter_draws", "PREDICT_KINDS",
           "default_seed", "trials_for", "simulate_response", "fitted_levels_used"]


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
        known = idx >= 0
        if known.all():  # (no masked copies of the draws)
            u = res.draws(names.effects(b.label))
            if Z.shape[1] == 1:
                eta += u[:, idx, 0] * Z[:, 0]
            else:
                eta += np.einsum("snp,np->sn", u[:, idx, :], Z)
        elif known.any():  # (new levels alone need no draws of the fitted ones)
            u = res.draws(names.effects(b.label))
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


def fitted_levels_used(res: ResultView, data: pd.DataFrame | None,
                       include_random: bool) -> list[str]:
    """The grouping factors whose fitted levels' effects a prediction of ``data`` (the
    fitted rows when None) takes: none without ``include_random``, nor for rows of new
    levels only (their effects are drawn from the population)."""
    if not include_random:
        return []
    out = []
    for b in res.design.blocks:
        if data is None:
            used = b.n_levels > 0
        else:
            used = (all(g in data.columns for g in b.term.group)
                    and bool(np.any(b.index_for(data) >= 0)))
        if used and b.group not in out:
            out.append(b.group)
    return out


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


def simulate_response(family: Family, eta: np.ndarray, params: dict[str, np.ndarray],
                      trials: np.ndarray | None, rng: np.random.Generator,
                      weights: np.ndarray | None = None) -> np.ndarray:
    """Draw responses given linear-predictor draws ``eta`` (S, n) and family parameters (S,)
    (a Gaussian row with precision weight ``w`` has sd ``sigma / sqrt(w)``).

    Examples
    --------
    >>> from mixedfit.families import poisson
    >>> rng = np.random.default_rng(0)
    >>> simulate_response(poisson(), np.zeros((2, 3)), {}, None, rng).shape
    (2, 3)
    """
    return family.weighted_simulate(family.inverse_link(eta), params, trials, weights, rng)


def _labels(data: pd.DataFrame, block: Any) -> np.ndarray:
    parts = [data[g].astype(str).to_numpy() for g in block.term.group]
    out = parts[0].astype(object)
    for p in parts[1:]:
        out = out + ":" + p
    return out


#: What :func:`predict` returns: a summary table, the draws of the expected response,
#: or draws of new responses (brms' ``posterior_epred`` and ``posterior_predict``).
PREDICT_KINDS = ("mean", "draws", "response")


def default_seed(res: ResultView, random_seed: int | None) -> int:
    """The seed of a result's random predictions: the one given, else the fit's own (so
    that a result predicts the same on every call)."""
    if random_seed is not None:
        return int(random_seed)
    seed = res.plan.random_seed
    return 0 if seed is None else int(seed)


def trials_for(res: ResultView, data: pd.DataFrame | None) -> np.ndarray | None:
    """Each row's binomial trials: the fitted rows', or evaluated on new data from the
    ``cbind()`` response or the trials column."""
    if not res.family.takes_trials:
        return None
    if data is None:
        return res.design.trials
    response = res.design.formula.response or ""
    parts = cbind_parts(res.design.formula)
    if parts is not None:
        # the successes are what is drawn: absent, they count as 0 (so that
        # cbind(y, n - y) needs only n)
        succ_vars = parse(f"~ I({parts[0]})").variables
        fail_vars = parse(f"~ I({parts[1]})").variables
        missing = sorted(c for c in fail_vars - succ_vars if c not in data.columns)
        if not missing:
            frame = data.assign(**{c: 0 for c in succ_vars if c not in data.columns})
            succ = np.asarray(evaluate_response(parts[0], frame), dtype=float)
            fail = np.asarray(evaluate_response(parts[1], frame), dtype=float)
            return succ + fail
        response = ", ".join(map(repr, missing))
    elif res.plan.trials and res.plan.trials in data.columns:
        return data[res.plan.trials].to_numpy(dtype=float)
    if res.design.trials is not None and np.all(res.design.trials == 1):
        return np.ones(len(data))
    what = (f"the column(s) {response}" if parts is not None else
            f"the trials column {res.plan.trials!r}" if res.plan.trials else "the trials")
    raise DataError(f"Drawing binomial responses for new rows needs each row's number of "
                    f"trials: newdata lacks {what}. Add it, or use kind='draws' for the "
                    f"expected proportion.")


def _new_weights(res: ResultView, data: pd.DataFrame | None) -> np.ndarray | None:
    """The weights the family's simulation takes, for the fitted rows or new ones."""
    if data is None:
        return res.design.likelihood_weights()
    if res.family.known_scale:
        col = res.plan.se
        if not col or col not in data.columns:
            raise DataError(f"The model's standard errors are known per row (se=): drawing "
                            f"responses for new rows needs newdata's column "
                            f"{col or 'of standard errors'!r}.")
        return 1.0 / data[col].to_numpy(dtype=float) ** 2
    col = res.plan.weights
    if col and col != "values" and col in data.columns:
        return data[col].to_numpy(dtype=float)
    return None


def predict(res: ResultView, newdata: Any = None, *, include_random: bool = True,
            new_levels: str = "population", scale: str = "response",
            random_seed: int | None = None, parameter: str | None = None,
            kind: str = "mean") -> Any:
    """See :meth:`mixedfit.MixedResult.predict`."""
    if scale not in ("response", "link"):
        raise OptionError("scale must be 'response' or 'link'.")
    if kind not in PREDICT_KINDS:
        raise OptionError(f"kind must be one of {', '.join(map(repr, PREDICT_KINDS))} (a "
                          f"summary, the draws of the expected response, draws of new "
                          f"responses), got {kind!r}.")
    if kind == "response" and (scale != "response" or parameter is not None):
        raise OptionError("kind='response' draws new responses: it takes neither "
                          "scale='link' nor parameter=.")
    random_seed = default_seed(res, random_seed)
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
    if res.plan.effects_summarised and (used := fitted_levels_used(res, data, include_random)):
        rows = "the fitted rows" if data is None else f"fitted levels of {' and '.join(used)}"
        require_effect_draws(
            res, f"res.predict() for {rows} with include_random=True",
            "Predictions without the group effects (include_random=False) and those of "
            "new levels (their effects drawn from the population) need none.")
    eta = linear_predictor_draws(res, data, include_random=include_random,
                                 new_levels=new_levels, random_seed=random_seed)
    index = res.design.data.index if data is None else data.index
    params = family_parameter_draws(res, data, include_random=include_random,
                                    new_levels=new_levels, random_seed=random_seed)
    if kind == "response":  # posterior predictive draws for these rows
        rng = np.random.default_rng([random_seed, 1])
        return simulate_response(res.family, eta, params, trials_for(res, data), rng,
                                 _new_weights(res, data))
    if parameter is not None:  # each row's value of a family parameter (sigma, zi...)
        values = np.broadcast_to(res.family.params_of(params, parameter), eta.shape)
        if kind == "draws":
            return np.array(values)
        df = pd.DataFrame(describe(values, res.interval), index=index)
        df.attrs["interval"] = res.interval
        return df
    probs = res.family.category_probabilities(eta, params) if scale == "response" else None
    if kind == "draws":
        if probs is not None:
            return probs
        return eta if scale == "link" else res.family.expected_response(eta, params)
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
