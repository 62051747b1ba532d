"""Many fits of one model: :func:`fit_many` and the :class:`FitCollection` it returns.

One formula fitted to many response columns (``responses=["g1", "g2", ...]``: the
expression of genes, the items of a survey) or to each subset of the data
(``by="study"``: one fit per level), each a full :func:`mixedfit.fit` with its checks,
run at once on the machine's cores or on a dask cluster (:mod:`mixedfit.parallel`). A
fit that fails is recorded with its error and does not stop the others.
"""

from __future__ import annotations

import inspect
import json
import os
import re
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mixedfit.api import MixedResult, fit, load
from mixedfit.design import SharedPredictors, as_frame
from mixedfit.design.frame import caller_level
from mixedfit.errors import (
    ConvergenceWarning,
    DataError,
    FormulaError,
    InputTypeError,
    MixedFitError,
    OptionError,
)
from mixedfit.parallel import run_tasks, threads_for_chains
from mixedfit.plan import check_options

__all__ = ["fit_many", "FitCollection", "INDEX_FILE"]

#: The file of a saved collection that lists its fits.
INDEX_FILE = "collection.json"
#: The format marker of that file.
_FORMAT = "mixedfit-collection/1"
#: The options :func:`mixedfit.plan.check_options` checks before any fit starts.
_CHECKED = ("draws", "tune", "chains", "random_seed", "sampler", "backend", "progressbar",
            "centered", "marginalize", "target_accept", "max_treedepth", "interval",
            "log_likelihood", "warn", "na_action")


class FitCollection(Mapping[str, MixedResult]):
    """The fits of :func:`fit_many`: a mapping of name -> :class:`~mixedfit.MixedResult`.

    It maps the names of the fits that succeeded, in the order they were asked for
    (``coll["g1"]``, ``for name in coll``, ``coll.items()``, ``len(coll)``); the fits
    that failed are in :attr:`failed`, every name in :attr:`names`.

    Attributes
    ----------
    names : list of str
        Every fit's name (a response, or a level of ``by``), in order, failed ones
        included.
    failed : dict
        Name -> the error that stopped the fit (its message).
    formula : str
        The formula as given to :func:`fit_many`.
    by : str or None
        The column whose levels were fitted separately (None for ``responses=``).
    warnings : dict
        Name -> the warnings its fit gave (messages), for the fits that gave some.
    seconds : dict
        Name -> how long the fit took (sampling, checks and all).
    """

    def __init__(self, results: Mapping[str, MixedResult], failed: Mapping[str, str], *,
                 names: Sequence[str], formula: str, by: str | None = None,
                 warnings: Mapping[str, list[str]] | None = None,
                 seconds: Mapping[str, float] | None = None) -> None:
        self.names = list(names)
        self._results = {name: results[name] for name in self.names if name in results}
        self.failed = {name: failed[name] for name in self.names if name in failed}
        self.formula = formula
        self.by = by
        self.warnings = dict(warnings or {})
        self.seconds = dict(seconds or {})

    # ------------------------------------------------------------------ mapping
    def __getitem__(self, name: str) -> MixedResult:
        if name in self._results:
            return self._results[name]
        if name in self.failed:
            raise KeyError(f"The fit {name!r} failed: {self.failed[name]}")
        raise KeyError(f"No fit named {name!r}; the fits are {', '.join(map(repr, self.names))}.")

    def __iter__(self) -> Iterator[str]:
        return iter(self._results)

    def __len__(self) -> int:
        return len(self._results)

    def __repr__(self) -> str:
        how = f"by {self.by!r}" if self.by else "of response columns"
        failed = f", {len(self.failed)} failed" if self.failed else ""
        return (f"<FitCollection: {len(self.names)} fits {how} of {self.formula!r} "
                f"({len(self)} fitted{failed})>")

    # ------------------------------------------------------------------ tables
    def to_frame(self, effects: Any = None) -> pd.DataFrame:
        """Every fit's tidy table (:meth:`mixedfit.MixedResult.to_frame`) in one, with a
        first column ``fit`` (the fits that failed have no rows).

        Parameters
        ----------
        effects : str or sequence of str, optional
            As in :meth:`~mixedfit.MixedResult.to_frame`.

        Returns
        -------
        pandas.DataFrame
        """
        frames = [res.to_frame(effects).assign(fit=name) for name, res in self.items()]
        if not frames:
            return pd.DataFrame({"fit": pd.Series(dtype=object)})
        table = pd.concat(frames, ignore_index=True)
        return table[["fit", *[c for c in table.columns if c != "fit"]]]

    def diagnostics(self) -> pd.DataFrame:
        """One row per fit (failed ones included), indexed by its name: ``ok`` (it was
        fitted and every convergence check passed), ``max_r_hat``, ``min_ess_bulk``,
        ``min_ess_tail``, ``divergences``, ``n_obs``, ``seconds``, ``error`` (why the
        fit failed) and ``problems`` (the checks that did not pass, with their remedies,
        as :meth:`mixedfit.MixedResult.diagnostics` says them).

        Returns
        -------
        pandas.DataFrame
        """
        rows = []
        for name in self.names:
            row: dict[str, Any] = {"fit": name, "ok": False, "max_r_hat": np.nan,
                                   "min_ess_bulk": np.nan, "min_ess_tail": np.nan,
                                   "divergences": pd.NA, "n_obs": pd.NA,
                                   "seconds": self.seconds.get(name, np.nan),
                                   "error": self.failed.get(name, ""), "problems": ""}
            if name in self._results:
                res = self._results[name]
                diag = res.diagnostics()
                p = diag.parameters
                row.update(ok=bool(diag.ok), max_r_hat=float(p["r_hat"].max()),
                           min_ess_bulk=float(p["ess_bulk"].min()),
                           min_ess_tail=float(p["ess_tail"].min()),
                           divergences=int(diag.divergences), n_obs=int(res.n_obs),
                           problems=" ".join(diag.problems))
            rows.append(row)
        table = pd.DataFrame(rows).set_index("fit")
        for col in ("divergences", "n_obs"):
            table[col] = table[col].astype("Int64")
        return table

    # ------------------------------------------------------------------ saving
    def save(self, directory: Any, *, log_likelihood: bool = False) -> None:
        """Save every fit to a directory: one NetCDF file per fit
        (:meth:`mixedfit.MixedResult.save`) and an index, ``collection.json``, that lists
        the fits in order with their files, and the errors of the failed ones.

        :meth:`FitCollection.load` reads it back (each file also loads on its own with
        :func:`mixedfit.load`).

        Parameters
        ----------
        directory : str or path-like
            Created if needed; files of the same names are overwritten.
        log_likelihood : bool, default False
            Also store each fit's pointwise log-likelihood.
        """
        root = Path(directory)
        root.mkdir(parents=True, exist_ok=True)
        entries = []
        for i, name in enumerate(self.names):
            entry: dict[str, Any] = {"name": name, "file": None,
                                     "error": self.failed.get(name),
                                     "warnings": self.warnings.get(name, []),
                                     "seconds": self.seconds.get(name)}
            if name in self._results:
                file = f"{i:04d}_{_slug(name)}.nc"
                self._results[name].save(root / file, log_likelihood=log_likelihood)
                entry["file"] = file
            entries.append(entry)
        index = {"format": _FORMAT, "formula": self.formula, "by": self.by, "fits": entries}
        (root / INDEX_FILE).write_text(json.dumps(index, indent=1, default=_json_default))

    @classmethod
    def load(cls, directory: Any) -> FitCollection:
        """A collection saved with :meth:`save`.

        Parameters
        ----------
        directory : str or path-like

        Returns
        -------
        FitCollection

        Raises
        ------
        MixedFitError
            If the directory holds no collection written by mixedfit, or one of its
            files cannot be read.
        """
        root = Path(directory)
        path = root / INDEX_FILE
        if not path.is_file():
            raise MixedFitError(f"No saved collection at {os.fspath(directory)!r}: it has no "
                                f"{INDEX_FILE} (written by FitCollection.save).")
        try:
            index = json.loads(path.read_text())
        except ValueError as err:
            raise MixedFitError(f"{os.fspath(path)!r} is not valid JSON: {err}") from err
        if not isinstance(index, dict) or index.get("format") != _FORMAT:
            raise MixedFitError(f"{os.fspath(path)!r} was not written by "
                                f"FitCollection.save (no {_FORMAT!r} marker).")
        results, failed, warns, seconds, names = {}, {}, {}, {}, []
        for entry in index["fits"]:
            name = entry["name"]
            names.append(name)
            if entry.get("file"):
                results[name] = load(root / entry["file"])
            else:
                failed[name] = entry.get("error") or "failed"
            if entry.get("warnings"):
                warns[name] = list(entry["warnings"])
            if entry.get("seconds") is not None:
                seconds[name] = float(entry["seconds"])
        return cls(results, failed, names=names, formula=index.get("formula", ""),
                   by=index.get("by"), warnings=warns, seconds=seconds)


def _slug(name: str) -> str:
    """A file-name-safe version of a fit's name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)[:60] or "fit"


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return str(value)


def _split_formula(formula: str) -> tuple[str, str]:
    """The left- and right-hand sides of ``formula``."""
    if not isinstance(formula, str):
        raise InputTypeError(f"formula must be a string, not {type(formula).__name__}.")
    if "~" not in formula:
        raise FormulaError("The formula has no '~'.", formula, None,
                           "Write it as 'y ~ x + (1 | g)' (or '~ x + (1 | g)' with "
                           "responses=).")
    left, right = formula.split("~", 1)
    return left.strip(), right.strip()


def _names(values: Any, what: str) -> list[str]:
    if isinstance(values, str) or not isinstance(values, Sequence | np.ndarray | pd.Index):
        raise InputTypeError(f"{what} takes a list of column names, e.g. {what}=['g1', 'g2'].")
    names = [v for v in values]
    if not names:
        raise OptionError(f"{what} is empty: give at least one response column.")
    bad = [v for v in names if not isinstance(v, str) or not v.strip()]
    if bad:
        raise InputTypeError(f"{what} takes column names (strings); got {bad[0]!r}.")
    seen = {v for v in names if names.count(v) > 1}
    if seen:
        raise OptionError(f"{what} names {sorted(seen)[0]!r} more than once.")
    return names


def fit_many(formula: str, data: Any, *, responses: Sequence[str] | None = None,
             by: str | None = None, client: Any = None, progressbar: bool | None = None,
             **fit_options: Any) -> FitCollection:
    """Fit one model to many responses, or to each subset of the data.

    Parameters
    ----------
    formula : str
        The model, as in :func:`mixedfit.fit`. With ``responses=`` its left-hand side
        is replaced by each response (it may be left out: ``"~ x + (1 | g)"``).
    data : pandas.DataFrame, polars.DataFrame or dict of columns
        The data; never modified.
    responses : list of str, optional
        Response columns (or expressions), one fit each, named after them: ``["g1",
        "g2"]`` fits ``g1 ~ rhs``, ``g2 ~ rhs``.
    by : str, optional
        A column: one fit per level, on that level's rows, named ``str(level)``; levels
        in sorted order; rows with a missing value of ``by`` belong to no fit.
        Exactly one of ``responses`` and ``by``.
    client : None, "sequential", distributed.Client or str, optional
        Where the fits run: by default on this machine's cores, as many at once as
        their chains allow (a local dask cluster, started for the call, when that is
        more than one: it costs some seconds, so for a few quick fits pass
        ``"sequential"``); ``"sequential"``: here, one after another; a
        ``distributed.Client`` or a scheduler's address: on that dask cluster. See
        :mod:`mixedfit.parallel`.
    progressbar : bool, optional
        Count the finished fits on stderr (each fit's own progress bar is off); default:
        on in a terminal or notebook.
    **fit_options
        Any keyword of :func:`mixedfit.fit` (``family=``, ``priors=``, ``draws=``...),
        the same for every fit. ``random_seed=`` seeds every fit with that same seed, so
        that each fit equals ``mf.fit(its formula, its data, random_seed=seed, ...)``
        draw for draw, wherever it ran; without it every fit is unseeded (as
        :func:`mixedfit.fit`).

    Returns
    -------
    FitCollection
        Name -> result for the fits that succeeded; ``.failed`` (name -> error) for the
        others, ``.diagnostics()``, ``.to_frame()``, ``.save(directory)``.

    Raises
    ------
    MixedFitError
        At once, before any fit, for a wrong option, an unknown keyword, or a ``by``
        column that is not in the data. Errors of a single fit (a response column of
        text, a constant one) are recorded in ``.failed`` instead.

    Notes
    -----
    With ``responses=`` the design's predictors (the fixed effects' matrix, the group
    effects' matrices and group indices, and their checks) are built once and shared by
    every fit with the same rows (:class:`mixedfit.design.SharedPredictors`; once per
    worker on a cluster); a response with missing values in other rows gets its own.
    Each fit builds its own response and everything after it (standardisation, priors,
    sampling, checks), and equals ``mf.fit`` of its formula draw for draw. The data are
    sent to a cluster once, not once per fit. The fits' warnings
    are collected: one :class:`~mixedfit.errors.ConvergenceWarning` says which fits
    have problems (``.diagnostics()`` says what), and ``.warnings`` keeps each fit's.

    Examples
    --------
    >>> import numpy as np
    >>> import mixedfit as mf
    >>> df = mf.load_dataset("sleepstudy")
    >>> df["Slow"] = df["Reaction"] + np.random.default_rng(1).normal(0, 20, len(df))
    >>> coll = mf.fit_many("~ Days + (1 | Subject)", df, responses=["Reaction", "Slow"],
    ...                    draws=100, tune=200, chains=2, random_seed=1,
    ...                    client="sequential", progressbar=False, warn=False)
    >>> list(coll), coll.failed
    (['Reaction', 'Slow'], {})
    >>> coll.to_frame().columns[:3].tolist()
    ['fit', 'effect', 'group']
    """
    if (responses is None) == (by is None):
        raise OptionError("fit_many() takes exactly one of responses= (a list of response "
                          "columns) and by= (a column whose levels are fitted separately).")
    left, right = _split_formula(formula)
    try:  # an unknown keyword or a misspelt option fails here, not in every fit
        inspect.signature(fit).bind(formula, data, **fit_options)
    except TypeError as err:
        raise OptionError(f"fit_many(): {err}; the options are those of mixedfit.fit.") from err
    check_options(**{k: fit_options[k] for k in _CHECKED if k in fit_options})
    options = {**fit_options, "progressbar": False}
    frame = as_frame(data)
    if responses is not None:
        names = _names(responses, "responses")
        tasks = [{"formula": f"{name} ~ {right}"} for name in names]
        # one right-hand side: the predictors' matrices are built once (per worker)
        shared: dict[str, Any] = {"data": frame, "predictors": SharedPredictors(), **options}
        task = _fit_sharing
    else:
        if not isinstance(by, str):
            raise InputTypeError(f"by takes one column name, not {type(by).__name__}.")
        if by not in frame.columns:
            raise DataError(f"by={by!r} is not a column of the data.")
        if not left:
            raise FormulaError("With by= the formula needs its response.", formula, None,
                               "Write it as 'y ~ x + (1 | g)'.")
        keys = frame[by]
        levels = pd.unique(keys.dropna())
        try:
            levels = sorted(levels)
        except TypeError:  # levels of mixed types keep their order of appearance
            levels = list(levels)
        names = [str(level) for level in levels]
        if len(set(names)) < len(names):
            raise DataError(f"Two levels of {by!r} print the same: name the levels apart.")
        if not names:
            raise DataError(f"by={by!r} has no values.")
        tasks = [{"formula": formula, "data": frame[(keys == level).to_numpy()]}
                 for level in levels]
        shared = dict(options)
        task = fit
    chains = fit_options.get("chains", inspect.signature(fit).parameters["chains"].default)
    outcomes = run_tasks(task, tasks, client=client, shared=shared,
                         threads_per_task=threads_for_chains(chains), keys=names,
                         progressbar=progressbar, label="fit_many")
    results = {n: o.value for n, o in zip(names, outcomes, strict=True) if o.ok}
    failed = {n: o.error or "" for n, o in zip(names, outcomes, strict=True) if not o.ok}
    warns = {n: [m for _, m in o.warnings] for n, o in zip(names, outcomes, strict=True)}
    coll = FitCollection(results, failed, names=names, formula=formula, by=by,
                         warnings={n: w for n, w in warns.items() if w},
                         seconds={n: o.seconds for n, o in zip(names, outcomes, strict=True)})
    _warn_collection(names, outcomes)
    return coll


def _fit_sharing(formula: str, data: Any, *, predictors: SharedPredictors,
                 **options: Any) -> MixedResult:
    """:func:`mixedfit.fit` with the predictors of the designs shared (``responses=``)."""
    with predictors.active():
        return fit(formula, data, **options)


def _listed(names: Sequence[str]) -> str:
    return ", ".join(map(repr, names[:5])) + (f" and {len(names) - 5} more" if len(names) > 5
                                              else "")


def _warn_collection(names: Sequence[str], outcomes: Sequence[Any]) -> None:
    """The fits' warnings, said once: one for the fits with convergence problems, and
    each other warning once, with the fits that gave it."""
    flagged: list[str] = []
    others: dict[tuple[type, str], list[str]] = {}
    for name, outcome in zip(names, outcomes, strict=True):
        if outcome.ok and any(issubclass(c, ConvergenceWarning) for c, _ in outcome.warnings):
            flagged.append(name)
        for category, message in outcome.warnings:
            if not issubclass(category, ConvergenceWarning):
                others.setdefault((category, message), []).append(name)
    level = caller_level()
    if flagged:
        warnings.warn(f"{len(flagged)} of {len(names)} fits have convergence problems "
                      f"({_listed(flagged)}): coll.diagnostics() says which checks failed, "
                      f"coll.warnings[name] gives each fit's warnings.", ConvergenceWarning,
                      stacklevel=level)
    for (category, message), who in others.items():
        warnings.warn(f"{'Fit' if len(who) == 1 else 'Fits'} {_listed(who)}: {message}",
                      category, stacklevel=level)
