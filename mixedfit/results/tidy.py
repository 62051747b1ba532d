"""Tidy output: every parameter of a fit as one row of one table, like broom.mixed.

:func:`tidy` (``res.to_frame()`` / ``res.tidy()``) returns a long table with the
columns

==============  ==================================================================
column          meaning
==============  ==================================================================
``effect``      ``"fixed"`` (fixed effects), ``"ran_pars"`` (group sds and
                correlations, and the residual sd under group ``"Residual"``),
                ``"ran_vals"`` (each level's deviation, lme4's ``ranef``),
                ``"ran_coefs"`` (each level's own coefficient, lme4's ``coef``;
                only when asked for), ``"family"`` (the family's own parameters
                besides the residual sd: ``nu``, ``alpha``, ``kappa``)
``group``       grouping factor (``None`` for fixed effects and family parameters)
``term``        column name (``"Days"``), or ``"sd(Days)"``, ``"cor(Intercept,Days)"``
``level``       level of the grouping factor (``ran_vals``/``ran_coefs`` only)
``estimate``    posterior mean
``std_error``   posterior standard deviation
``lower``       lower end of the equal-tailed interval (``res.interval``)
``upper``       upper end
``r_hat``       rank-normalised split R-hat
``ess_bulk``    bulk effective sample size
==============  ==================================================================

The numbers equal those of the result's tables (``fixed_effects``,
``variance_components`` without the ``var(...)`` rows, ``random_effects``,
``coefficients``, ``family_parameters``). For a fit whose group effects are kept as
summaries, not draws, the ``ran_vals`` rows come from the summaries and ``ran_coefs``
raises :class:`~mixedfit.errors.DrawsNotKeptError`. :func:`result_tables` gives every table as
plain JSON-ready Python objects (used by the command line's ``--format json``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mixedfit.convergence import rhat_ess
from mixedfit.errors import OptionError
from mixedfit.results.summaries import require_effect_draws

if TYPE_CHECKING:
    from mixedfit.results.view import ResultView

__all__ = ["tidy", "result_tables", "EFFECTS", "TIDY_COLUMNS"]

#: The kinds of rows :func:`tidy` can return (the first four by default).
EFFECTS = ("fixed", "ran_pars", "ran_vals", "family", "ran_coefs")
#: Columns of the tidy table.
TIDY_COLUMNS = ["effect", "group", "term", "level", "estimate", "std_error", "lower", "upper",
                "r_hat", "ess_bulk"]

_STATS = {"mean": "estimate", "sd": "std_error", "lower": "lower", "upper": "upper"}


def _convergence(res: ResultView, draws: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """R-hat and bulk ESS of each column of ``draws`` (chains * draws, k)."""
    post = res.idata.posterior
    n_chain, n_draw = int(post.sizes["chain"]), int(post.sizes["draw"])
    arr = np.asarray(draws, dtype=float).reshape(n_chain, n_draw, -1)
    r_hat, ess, _ = rhat_ess(arr)
    return r_hat, ess


def _rows(effect: str, group: str | None, terms: Sequence[str], levels: Sequence[Any] | None,
          table: pd.DataFrame, r_hat: np.ndarray, ess: np.ndarray) -> pd.DataFrame:
    out = pd.DataFrame({
        "effect": effect,
        "group": pd.Series([group] * len(terms), dtype=object),
        "term": pd.Series(list(terms), dtype=object),
        "level": pd.Series(list(levels) if levels is not None else [None] * len(terms),
                           dtype=object),
    })
    for stat, col in _STATS.items():
        out[col] = np.asarray(table[stat], dtype=float)
    out["r_hat"] = r_hat
    out["ess_bulk"] = ess
    return out


def _fixed(res: ResultView) -> list[pd.DataFrame]:
    fe = res.fixed_effects
    if fe.empty:
        return []
    return [_rows("fixed", None, list(fe.index), None, fe, fe["r_hat"].to_numpy(float),
                  fe["ess_bulk"].to_numpy(float))]


def _ran_pars(res: ResultView) -> list[pd.DataFrame]:
    """Group sds, correlations and the residual sd, in the order of ``variance_components``."""
    pieces = [(key, draws) for key, draws in res.variance_component_draws()
              if not key[1].startswith("var")]  # variances repeat the sds
    keys = [key for key, _ in pieces]
    if not keys:
        return []
    vc = res.variance_components.loc[keys]
    r_hat, ess = vc["r_hat"].to_numpy(float), vc["ess_bulk"].to_numpy(float)
    frames = []
    groups = [k[0] for k in keys]
    for group in dict.fromkeys(groups):
        sel = np.array([g == group for g in groups])
        frames.append(_rows("ran_pars", group, [k[1] for k, s in zip(keys, sel, strict=True) if s],
                            None, vc[sel], r_hat[sel], ess[sel]))
    return frames


def _ran_vals(res: ResultView, coefficients: bool) -> list[pd.DataFrame]:
    frames = []
    tables = res.coefficients if coefficients else res.random_effects
    effect = "ran_coefs" if coefficients else "ran_vals"
    for group in res.design.groups:
        table = tables[group]
        levels = [str(v) for v in table.index]
        n_levels = len(levels)
        if coefficients:
            cols, arr = res.coefficient_draws(group)
            r_hat, ess = _convergence(res, arr.reshape(arr.shape[0], -1))
            r_hat = r_hat.reshape(n_levels, len(cols))
            ess = ess.reshape(n_levels, len(cols))
        else:  # (from the summaries when the group effects' draws were not kept)
            cols = [c for b in res.design.groups[group] for c in b.columns]
            conv = res.group_convergence(group)
            r_hat, ess = conv["r_hat"], conv["ess_bulk"]
        for j, term in enumerate(cols):
            frames.append(_rows(effect, group, [term] * n_levels, levels, table[term],
                                r_hat[:, j], ess[:, j]))
    return frames


def _family(res: ResultView) -> list[pd.DataFrame]:
    names = [p for p in res.family.distribution_parameters
             if p != "sigma" and p not in res.design.dpar_formulas]
    if not names:
        return []
    fp = res.family_parameters.loc[names]
    r_hat, ess = fp["r_hat"].to_numpy(float), fp["ess_bulk"].to_numpy(float)
    return [_rows("family", None, names, None, fp, r_hat, ess)]


def tidy(res: ResultView, effects: str | Sequence[str] | None = None) -> pd.DataFrame:
    """Every parameter of a fit as one row, like ``broom.mixed::tidy`` in R.

    Parameters
    ----------
    res : MixedResult
        A fitted model.
    effects : str or sequence of str, optional
        Which kinds of rows, in this order: any of ``"fixed"``, ``"ran_pars"``,
        ``"ran_vals"``, ``"family"``, ``"ran_coefs"``. Default: the first four.

    Returns
    -------
    pandas.DataFrame
        Columns ``effect``, ``group``, ``term``, ``level``, ``estimate``,
        ``std_error``, ``lower``, ``upper``, ``r_hat``, ``ess_bulk`` (see the module
        docstring); the interval is ``res.interval``.

    Examples
    --------
    >>> res = _example_result()
    >>> t = tidy(res)
    >>> t.columns.tolist()  # doctest: +NORMALIZE_WHITESPACE
    ['effect', 'group', 'term', 'level', 'estimate', 'std_error', 'lower', 'upper',
     'r_hat', 'ess_bulk']
    >>> t["effect"].value_counts().to_dict()
    {'ran_vals': 36, 'ran_pars': 4, 'fixed': 2}
    >>> t.loc[t["effect"] == "ran_pars", ["group", "term"]].values.tolist()
    ... # doctest: +NORMALIZE_WHITESPACE
    [['Subject', 'sd(Intercept)'], ['Subject', 'sd(Days)'], ['Subject', 'cor(Intercept,Days)'],
     ['Residual', 'sd']]
    """
    if effects is None:
        wanted = list(EFFECTS[:4])
    else:
        wanted = [effects] if isinstance(effects, str) else list(effects)
        bad = [e for e in wanted if e not in EFFECTS]
        if bad:
            raise OptionError(f"Unknown effects {bad!r}; choose from {', '.join(EFFECTS)}.")
    if "ran_coefs" in wanted:
        require_effect_draws(res, "res.to_frame() with effects='ran_coefs'",
                             "Its ran_vals rows come from the summaries.")
    frames: list[pd.DataFrame] = []
    for kind in EFFECTS:
        if kind not in wanted:
            continue
        if kind == "fixed":
            frames += _fixed(res)
        elif kind == "ran_pars":
            frames += _ran_pars(res)
        elif kind == "ran_vals":
            frames += _ran_vals(res, coefficients=False)
        elif kind == "ran_coefs":
            frames += _ran_vals(res, coefficients=True)
        else:
            frames += _family(res)
    if not frames:
        return pd.DataFrame(columns=TIDY_COLUMNS)
    out = pd.concat(frames, ignore_index=True)[TIDY_COLUMNS]
    out.attrs["interval"] = res.interval
    return out


# ----------------------------------------------------------------------- JSON
def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as dicts of plain Python values (NaN -> None)."""
    return json.loads(df.to_json(orient="records", double_precision=15))


def _group_long(table: pd.DataFrame) -> list[dict[str, Any]]:
    terms = list(dict.fromkeys(table.columns.get_level_values("term")))
    frames = []
    for term in terms:
        part = table[term].copy()
        part.insert(0, "term", term)
        part.insert(0, "level", [str(v) for v in table.index])
        frames.append(part.reset_index(drop=True))
    return _records(pd.concat(frames, ignore_index=True))


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def result_tables(res: ResultView) -> dict[str, Any]:
    """Every table of a fit as JSON-ready Python objects (lists of row dicts).

    Keys: ``model`` (formula, family, link, observations, groups, interval, fit
    options), ``fixed_effects``, ``random_effects`` and ``coefficients`` (per
    grouping factor, one row per level and term; ``coefficients`` is ``None`` for a fit
    whose group effects are kept as summaries, not draws), ``variance_components``,
    ``sigma`` (``None`` when the family has none), ``family_parameters``,
    ``shrinkage`` (``None`` for a fit made out of core, which keeps no data rows),
    ``priors``, ``diagnostics`` and ``tidy``. Missing values are ``None``.

    Examples
    --------
    >>> import json
    >>> doc = result_tables(_example_result())
    >>> sorted(doc)  # doctest: +NORMALIZE_WHITESPACE
    ['coefficients', 'diagnostics', 'family_parameters', 'fixed_effects', 'model', 'priors',
     'random_effects', 'shrinkage', 'sigma', 'tidy', 'variance_components']
    >>> doc["random_effects"]["Subject"][0]["term"]
    'Intercept'
    >>> len(json.dumps(doc)) > 1000
    True
    """
    d = res.design
    diag = res.diagnostics()
    conv = res.convergence()
    model = {
        "formula": res.formula,
        "family": res.family.name,
        "link": res.family.link,
        "n_obs": d.n_obs,
        "n_dropped": d.n_dropped,
        "groups": {g: blocks[0].n_levels for g, blocks in d.groups.items()},
        "interval": res.interval,
        "info": _plain(res.info),
    }
    sigma = None
    if res.has_residual_sd:
        sigma = _plain(res.sigma.to_dict())
    return {
        "model": model,
        "fixed_effects": _records(res.fixed_effects.reset_index()),
        "random_effects": {g: _group_long(t) for g, t in res.random_effects.items()},
        # (the levels' coefficients need the group effects' draws)
        "coefficients": (None if res.effects_summarised else
                         {g: _group_long(t) for g, t in res.coefficients.items()}),
        "variance_components": _records(res.variance_components.reset_index()),
        "sigma": sigma,
        "family_parameters": _records(res.family_parameters.reset_index()),
        # (the own fits of each level need the data rows, which an out-of-core fit lacks)
        "shrinkage": _records(res.shrinkage.reset_index()) if d.has_rows else None,
        "priors": _records(res.priors.reset_index()),
        "diagnostics": {"max_r_hat": _plain(conv["max_r_hat"]),
                        "min_ess_bulk": _plain(conv["min_ess_bulk"]),
                        "divergences": int(diag.divergences), "ok": bool(diag.ok),
                        "problems": list(diag.problems), "singular": list(diag.singular)},
        "tidy": _records(tidy(res)),
    }
