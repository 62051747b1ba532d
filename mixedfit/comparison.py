"""Comparing models: PSIS-LOO / WAIC tables, and the three kinds of pooling side by side."""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mixedfit import names
from mixedfit.api import fit
from mixedfit.design import as_frame
from mixedfit.design.evaluate import design_matrices
from mixedfit.errors import FormulaError, InputTypeError, OptionError
from mixedfit.formula import parse
from mixedfit.results.display import as_table
from mixedfit.results.heldout import KFold
from mixedfit.results.loo import reliability_note
from mixedfit.results.summaries import require_effect_draws
from mixedfit.results.view import require_rows

__all__ = ["compare", "compare_pooling", "PoolingComparison"]


def _short(note: str) -> str:
    """The table's version of a LOO reliability note: how many k are high."""
    if not note:
        return ""
    return "LOO unreliable: " + note.split(": ", 1)[1].split(", so ")[0]


def compare(results: Mapping[str, Any], *, ic: str = "loo") -> pd.DataFrame:
    """Rank fitted models by expected log predictive density.

    Parameters
    ----------
    results : dict
        Name -> :class:`MixedResult`, fitted to the same observations; or name ->
        :class:`~mixedfit.results.heldout.KFold` (``res.kfold()`` of each), compared by
        their k-fold elpd (columns ``elpd_kfold``, ``p_kfold``).
    ic : {"loo", "waic"}, default "loo"
        PSIS-LOO (recommended) or WAIC.

    Returns
    -------
    pandas.DataFrame
        ArviZ's comparison table, best model first: ``elpd_loo`` (or ``elpd_waic``),
        ``p_loo``, ``elpd_diff`` (difference to the best), ``dse`` (standard error of
        that difference), ``weight`` (stacking), ``warning`` (ArviZ's flag: some Pareto
        k above their threshold) and ``note``, which says in words when a fit's LOO is
        unreliable (how many observations have a high k); such a fit's elpd should not
        decide the comparison: compare by k-fold cross-validation instead. Each fit's
        :class:`~mixedfit.errors.LooWarning` is given once.

    Examples
    --------
    >>> import mixedfit as mf
    >>> res = _example_result()
    >>> table = mf.compare({"slopes": res, "same": res})
    >>> list(table.columns[:3])
    ['rank', 'elpd_loo', 'p_loo']
    """
    import arviz as az  # deferred: ArviZ is heavy and only needed here

    if ic not in ("loo", "waic"):
        raise OptionError(f"ic must be 'loo' or 'waic', got {ic!r}.")
    if not isinstance(results, Mapping) or len(results) < 2:
        raise InputTypeError("compare() takes a dict of at least two named fits.")
    kfolds = [name for name, value in results.items() if isinstance(value, KFold)]
    if kfolds:
        return _compare_kfold(results, kfolds)
    for name, res in results.items():  # LOO and WAIC need each fit's rows and draws
        require_rows(res, f"mf.compare() (of the fit {name!r})")
        require_effect_draws(res, f"mf.compare() (of the fit {name!r})")
    sizes = {name: res.n_obs for name, res in results.items()}
    if len(set(sizes.values())) > 1:
        raise OptionError(f"The fits use different numbers of observations {sizes}; LOO "
                          f"compares models of the same data only.")
    if ic == "loo":  # each fit's LOO once, its warning (if any) said once, in our words
        elpds = {name: res.loo() for name, res in results.items()}
    else:
        elpds = {name: res.waic() for name, res in results.items()}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*Pareto.*")
        warnings.filterwarnings("ignore", message=".*shape parameter.*")
        warnings.filterwarnings("ignore", message=".*posterior variance of the log predictive.*")
        warnings.filterwarnings("ignore", message=".*inplace keyword.*")  # ArviZ on pandas 3
        table = az.compare(elpds, ic=ic)
    notes = {name: reliability_note(results[name], elpd) if ic == "loo" else ""
             for name, elpd in elpds.items()}
    table["note"] = [_short(notes[name]) for name in table.index]
    return as_table(table)


def _compare_kfold(results: Mapping[str, Any], kfolds: list[str]) -> pd.DataFrame:
    """:func:`compare` of k-fold estimates (``res.kfold()``): ArviZ's table, its columns
    named ``elpd_kfold`` and ``p_kfold``."""
    import arviz as az  # deferred: ArviZ is heavy and only needed here

    if len(kfolds) < len(results):
        others = [name for name in results if name not in kfolds]
        raise OptionError(
            f"compare() takes fits (compared by PSIS-LOO or WAIC) or k-fold estimates "
            f"(res.kfold()), not both; not k-fold estimates: {', '.join(map(repr, others))}. "
            f"Run .kfold() on every fit, with the same k, groups= and random_seed=, so "
            f"that they leave out the same rows.")
    sizes = {name: kf.n_data_points for name, kf in results.items()}
    if len(set(sizes.values())) > 1:
        raise OptionError(f"The k-fold estimates score different numbers of observations "
                          f"{sizes}; compare estimates of the same data only.")
    first = results[kfolds[0]]
    same = all(np.array_equal(kf.folds, first.folds) for kf in results.values())
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*inplace keyword.*")  # ArviZ on pandas 3
        table = az.compare({name: kf.elpd_data() for name, kf in results.items()}, ic="loo")
    table = table.rename(columns={"elpd_loo": "elpd_kfold", "p_loo": "p_kfold"})
    table["note"] = "" if same else "folds differ between the estimates"
    return as_table(table)


@dataclass
class PoolingComparison:
    """Complete, no and partial pooling of the same data, side by side.

    Attributes
    ----------
    estimates : pandas.DataFrame
        Per ``(level, term)``: ``n_obs`` and the estimate under ``complete_pooling``
        (one value for every level), ``no_pooling`` (each level on its own) and
        ``partial_pooling`` (the hierarchical model): posterior means.
    loo : pandas.DataFrame
        The PSIS-LOO comparison of the three models.
    fits : dict
        The three fits, keyed ``"complete_pooling"``, ``"no_pooling"``,
        ``"partial_pooling"``.
    """

    estimates: pd.DataFrame
    loo: pd.DataFrame
    fits: dict[str, Any]

    def __repr__(self) -> str:
        return (f"Pooling comparison ({self.estimates.index.get_level_values(0).nunique()} "
                f"levels)\n\nLOO:\n{self.loo.iloc[:, :6].round(2)}\n\nEstimates (first rows):\n"
                f"{self.estimates.head(10).round(3)}")


def _constant_within(term: str, frame: pd.DataFrame, gcol: str) -> bool:
    """Whether a fixed term is a group-level predictor (constant within every level).

    Such a term cannot be told apart from the levels' own intercepts, so the
    no-pooling fit leaves it out.
    """
    try:
        X = np.asarray(design_matrices(f"0 + {term}", frame).common).astype(float)
    except Exception:  # noqa: BLE001 - a term formulae cannot evaluate alone is kept
        return False
    groups = frame[gcol]
    keep = groups.notna().to_numpy() & np.isfinite(X).all(axis=1)
    df = pd.DataFrame(X[keep]).groupby(groups[keep].to_numpy())
    return bool((df.nunique() <= 1).all().all())


def _safe(name: str) -> str:
    return "grp_" + re.sub(r"\W", "_", name)


def compare_pooling(formula: str, data: Any, **options: Any) -> PoolingComparison:
    """Fit complete-pooling, no-pooling and partial-pooling versions of a model.

    The formula must have random-effect terms on one grouping factor, e.g.
    ``y ~ x + (1 + x | g)``. Complete pooling drops the random terms (one line for
    everybody); no pooling gives each level its own fixed coefficients for those
    terms (``0 + C(g) + C(g):x``), fitted without any sharing between levels;
    partial pooling is the hierarchical model itself.

    Parameters
    ----------
    formula : str
        The hierarchical model.
    data : DataFrame
        The data (never modified).
    **options
        Passed to every :func:`mixedfit.fit` call (``family=``, ``draws=``...).

    Returns
    -------
    PoolingComparison
    """
    parsed = parse(formula)
    groups = {t.group for t in parsed.random}
    if len(groups) != 1:
        raise FormulaError(
            "compare_pooling() needs random-effect terms on exactly one grouping factor; "
            f"this formula has {len(groups)}.", formula, None,
            "For example 'y ~ x + (1 + x | g)'.")
    group = next(iter(groups))
    terms = [t for rt in parsed.random for t in rt.terms]
    intercept = any(rt.intercept for rt in parsed.random)
    frame = as_frame(data).copy()
    gcol = _safe(":".join(group))
    complete_rows = frame[list(group)].notna().all(axis=1)
    frame[gcol] = frame[list(group)].astype(str).agg(":".join, axis=1).where(complete_rows)
    other = [f for f in parsed.fixed if f not in terms and not _constant_within(f, frame, gcol)]
    response = parsed.response
    offsets = [f"offset({o})" for o in parsed.offsets]

    fixed_rhs = " + ".join(["1" if parsed.intercept else "0", *parsed.fixed, *offsets])
    complete = f"{response} ~ {fixed_rhs}"
    pieces = (["0", f"C({gcol})"] if intercept else ["1" if parsed.intercept else "0"])
    pieces += [f"C({gcol}):{t}" for t in terms] + other + offsets
    nopool = f"{response} ~ {' + '.join(pieces)}"

    options = {"progressbar": False, **options}
    fits = {
        "complete_pooling": fit(complete, frame, **options),
        "no_pooling": fit(nopool, frame, **options),
        "partial_pooling": fit(formula, frame, **options),
    }
    partial = fits["partial_pooling"]
    gname = ":".join(group)
    coef = partial.coefficients[gname]
    levels = list(coef.index)
    counts = partial.design.groups[gname][0].counts
    fixed_cp = fits["complete_pooling"].fixed_effects["mean"]
    np_fit = fits["no_pooling"]
    np_means = pd.Series(np_fit.draws(names.FIXED).mean(axis=0), index=np_fit.design.fixed_columns)
    rows = []
    for term in ["Intercept", *terms] if intercept else terms:
        for j, level in enumerate(levels):
            if term == "Intercept":
                key = f"C({gcol})[{level}]"
            else:
                key = f"C({gcol})[{level}]:{term}"
            rows.append({"level": level, "term": term, "n_obs": int(counts[j]),
                         "complete_pooling": float(fixed_cp.get(term, 0.0)),
                         "no_pooling": float(np_means.get(key, np.nan)),
                         "partial_pooling": float(coef.loc[level, (term, "mean")])})
    estimates = pd.DataFrame(rows).set_index(["level", "term"])
    loo = compare(fits)
    return PoolingComparison(estimates=estimates, loo=loo, fits=fits)
