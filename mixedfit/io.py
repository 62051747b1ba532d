"""Saving and loading fitted models: one NetCDF file per result.

:func:`save` writes the result's ArviZ ``InferenceData`` (posterior, sample
statistics, observed data and, when computed, the pointwise log-likelihood) with
``idata.to_netcdf`` and adds what is needed to rebuild the result:

- the model specification as JSON in the posterior's attributes (key
  ``"mixedfit_spec"``): formula, family and link, every prior (name and
  parameters), the fit plan (``res.plan``, as ``info``), the interval mass and
  the number of rows dropped for missing values;
- the summaries of the group effects of a fit that kept them instead of their draws
  (the group :data:`mixedfit.names.EFFECTS_SUMMARY`, saved and loaded like the others);
- the data rows used in the fit (``res.design.data``), the binomial trials, the
  observation weights and the known standard errors, as
  a group ``mixedfit_data`` of the same file. Categorical columns keep their
  categories and their order, so group levels and factor codings come back
  unchanged.

:func:`read` reads the file's bytes, the specification and the data rows (with
h5netcdf) and rebuilds the design with :func:`mixedfit.design.build_design`;
:func:`mixedfit.load` makes of it a result whose tables, summary and predictions equal
those of the saved result. The posterior is read from those bytes (with xarray) and
made ArviZ's ``InferenceData`` when the result first needs it: importing xarray and
ArviZ takes longer than the rest of loading. The file holds data and numbers only:
loading it runs no code from it.

Examples
--------
>>> import tempfile, os
>>> import mixedfit as mf
>>> res = _example_result()
>>> path = os.path.join(tempfile.mkdtemp(), "sleep.nc")
>>> res.save(path)
>>> back = mf.load(path)
>>> back.formula
'Reaction ~ Days + (Days | Subject)'
>>> back.fixed_effects.equals(res.fixed_effects)
True
"""

from __future__ import annotations

import json
import os
import warnings
from io import BytesIO
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mixedfit._version import __version__
from mixedfit.design import build_design
from mixedfit.design.outofcore import rowless_from
from mixedfit.design.stats import SufficientStats
from mixedfit.errors import MixedFitError
from mixedfit.families import get_family
from mixedfit.plan import FitPlan
from mixedfit.priors import Prior, PriorSet, prior_set
from mixedfit.results.view import DeferredInferenceData, ResultView

__all__ = ["save", "read", "FORMAT", "FORMAT_VERSION", "SPEC_KEY", "DATA_GROUP"]

#: Marker stored in every file written by :func:`save`.
FORMAT = "mixedfit-result"
#: Version of the file layout; :func:`load` refuses newer versions.
FORMAT_VERSION = 1
#: Posterior attribute holding the JSON model specification.
SPEC_KEY = "mixedfit_spec"
#: InferenceData group holding the data rows used in the fit.
DATA_GROUP = "mixedfit_data"
#: InferenceData group holding the sufficient statistics of a fit made out of core.
STATS_GROUP = "mixedfit_stats"

_ROW_DIM = "row"
_TRIALS = "trials"
_WEIGHTS = "weights"
_SE = "se"


# --------------------------------------------------------------------------- JSON
def _encode(value: Any) -> Any:
    """JSON-ready copy of a prior parameter, fit option or category label."""
    if isinstance(value, np.ndarray):
        return {"__ndarray__": [_encode(v) for v in value.tolist()], "dtype": str(value.dtype),
                "shape": list(value.shape)}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {str(k): _encode(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(v) for v in value]}
    if isinstance(value, list):
        return [_encode(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _decode(value: Any) -> Any:
    if isinstance(value, dict) and "__ndarray__" in value:
        arr = np.asarray(value["__ndarray__"], dtype=value.get("dtype", None))
        return arr.reshape(value.get("shape", arr.shape))
    if isinstance(value, dict) and "__tuple__" in value:
        return tuple(_decode(v) for v in value["__tuple__"])
    if isinstance(value, dict):
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


# --------------------------------------------------------------------------- data
def _encode_data(data: pd.DataFrame, trials: np.ndarray | None,
                 weights: np.ndarray | None = None, se: np.ndarray | None = None
                 ) -> tuple[Any, list[dict[str, Any]]]:
    """The data rows as an xarray Dataset (one variable per column) and their descriptions."""
    import xarray as xr  # deferred: xarray loads with ArviZ, when first needed

    variables: dict[str, Any] = {}
    columns: list[dict[str, Any]] = []
    for j, name in enumerate(data.columns):
        col = data[name]
        var = f"column_{j}"
        entry: dict[str, Any] = {"name": str(name), "variable": var, "dtype": str(col.dtype)}
        if isinstance(col.dtype, pd.CategoricalDtype):
            entry["kind"] = "categorical"
            entry["categories"] = _encode(list(col.cat.categories))
            entry["categories_dtype"] = str(col.cat.categories.dtype)
            entry["ordered"] = bool(col.cat.ordered)
            values = col.cat.codes.to_numpy(dtype=np.int64)
        elif (pd.api.types.is_numeric_dtype(col.dtype) or pd.api.types.is_bool_dtype(col.dtype)
              or pd.api.types.is_datetime64_any_dtype(col.dtype)):
            entry["kind"] = "values"
            numpy_dtype = getattr(col.dtype, "numpy_dtype", None)  # nullable Int64, Float64...
            values = col.to_numpy(dtype=numpy_dtype) if numpy_dtype is not None else col.to_numpy()
        else:  # strings (object or pandas' string dtype) and anything else: text
            entry["kind"] = "text"
            values = np.asarray(col.astype(str).tolist(), dtype=object)
        variables[var] = xr.DataArray(values, dims=(_ROW_DIM,))
        columns.append(entry)
    if trials is not None:
        variables[_TRIALS] = xr.DataArray(np.asarray(trials, dtype=float), dims=(_ROW_DIM,))
    if weights is not None:
        variables[_WEIGHTS] = xr.DataArray(np.asarray(weights, dtype=float), dims=(_ROW_DIM,))
    if se is not None:
        variables[_SE] = xr.DataArray(np.asarray(se, dtype=float), dims=(_ROW_DIM,))
    return xr.Dataset(variables), columns


def _decode_data(ds: dict[str, np.ndarray], columns: list[dict[str, Any]]) -> pd.DataFrame:
    out: dict[str, Any] = {}
    for entry in columns:
        values = np.asarray(ds[entry["variable"]])
        if entry["kind"] == "categorical":
            cats = pd.Index(_decode(entry["categories"]))
            try:
                cats = cats.astype(entry.get("categories_dtype", cats.dtype))
            except (TypeError, ValueError):
                pass
            dtype = pd.CategoricalDtype(cats, ordered=entry.get("ordered", False))
            series = pd.Series(pd.Categorical.from_codes(values.astype(np.int64), dtype=dtype))
        else:
            series = pd.Series(values)
            if entry["kind"] == "text":
                series = series.astype(object)
            try:
                series = series.astype(entry["dtype"])
            except (TypeError, ValueError):
                pass
        out[entry["name"]] = series
    return pd.DataFrame(out)


# ----------------------------------------------------------------------- save/load
def _spec(res: ResultView, columns: list[dict[str, Any]]) -> dict[str, Any]:
    d = res.design
    pass_trials = (res.family.takes_trials and d.trials is not None
                   and not (d.formula.response or "").startswith("cbind("))
    return {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "mixedfit_version": __version__,
        "formula": res.formula,
        "dpars": {} if res.family.predictors_only else dict(d.dpar_formulas),
        "family": {"name": res.family.name, "link": res.family.link,
                   "categories": (None if res.family.categories is None
                                  else list(res.family.categories))},
        "priors": {key: {"name": p.name, "params": _encode(p.params)}
                   for key, p in res.prior_set.items()},
        "user_priors": sorted(getattr(res.prior_set, "user", ())),
        "info": _encode(res.info),
        "interval": res.interval,
        "n_dropped": int(d.n_dropped),
        "trials": bool(pass_trials),
        "columns": columns,
    }


def save(res: ResultView, path: str | os.PathLike[str], *,
         log_likelihood: bool = False) -> None:
    """Save a fitted model to one NetCDF file (overwriting it).

    Parameters
    ----------
    res : MixedResult
        The fit.
    path : str or path-like
        Where to write; ``.nc`` is the usual suffix.
    log_likelihood : bool, default False
        Also store the pointwise log-likelihood (draws x observations: most of the file
        for a large data set). Left out, it is recomputed from the posterior when LOO
        or WAIC first needs it after loading.

    Notes
    -----
    The file is ArviZ's NetCDF layout (compressed), so ``arviz.from_netcdf(path)``
    reads the posterior without mixedfit; :func:`load` rebuilds the full result. The
    result's own ``idata`` is not changed.
    """
    import arviz as az  # deferred: ArviZ is heavy and only needed here

    if not isinstance(res, ResultView):
        raise MixedFitError(f"save() takes a fitted MixedResult, not {type(res).__name__}.")
    rows = res.design.data
    stats = res.design.stats
    if stats is not None:  # out of core: the template's rows and the statistics
        rows = stats._extra["template_rows"]
    data, columns = _encode_data(rows, res.design.trials, res.design.weights,
                                 res.design.se)
    spec = _spec(res, columns)
    if stats is not None:
        spec["out_of_core"] = {"levels": list(res.design.blocks[0].levels),
                               "source": stats.source}
    skip = {DATA_GROUP} | (set() if log_likelihood else {"log_likelihood"})
    groups = {g: getattr(res.idata, g) for g in res.idata.groups() if g not in skip}
    posterior = groups["posterior"].copy()
    posterior.attrs = {**posterior.attrs, SPEC_KEY: json.dumps(spec)}
    groups["posterior"] = posterior
    groups[DATA_GROUP] = data
    if stats is not None:
        import xarray as xr  # deferred: only to save

        groups[STATS_GROUP] = xr.Dataset({k: (tuple(f"{k}_{i}" for i in range(v.ndim)), v)
                                          for k, v in stats.to_arrays().items()})
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*InferenceData scheme.*")
        idata = az.InferenceData(**groups)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    idata.to_netcdf(str(path), compress=True)


def _not_ours(path: str | os.PathLike[str], why: str) -> MixedFitError:
    return MixedFitError(
        f"{os.fspath(path)!r} is not a result saved by mixedfit ({why}). Save a fit with "
        f"res.save(path) and load it with mixedfit.load(path).")


def _xarray_groups(raw: bytes) -> dict[str, Any]:
    """Every group of a saved file (its bytes) as an xarray Dataset in memory, as ArviZ's
    ``from_netcdf`` reads them."""
    import h5netcdf  # deferred: only needed to read a file
    import xarray as xr  # deferred: xarray is heavy (it imports dask) and only needed here

    with h5netcdf.File(BytesIO(raw), "r") as f:
        names = list(f.groups)
    out = {}
    for name in names:
        with xr.open_dataset(BytesIO(raw), group=name, engine="h5netcdf") as ds:
            out[name] = ds.load()
    return out


def _posterior_groups(raw: bytes) -> dict[str, Any]:
    """The groups of the result's InferenceData: all but the data rows and the
    statistics (the summaries of group effects kept as summaries included), the
    posterior without the specification."""
    groups = _xarray_groups(raw)
    groups.pop(DATA_GROUP, None)
    groups.pop(STATS_GROUP, None)
    groups["posterior"].attrs = {k: v for k, v in groups["posterior"].attrs.items()
                                 if k != SPEC_KEY}
    return groups


def _text(values: np.ndarray) -> np.ndarray:
    """Variable-length strings as ``str`` (h5py gives bytes)."""
    if values.dtype == object:
        return np.array([v.decode("utf-8") if isinstance(v, bytes) else v for v in values],
                        dtype=object)
    return values


def _read_head(raw: bytes) -> tuple[list[str], str | None, dict[str, np.ndarray] | None]:
    """The group names, the model specification and the data rows' variables of a saved
    file, read with h5netcdf alone (xarray is not needed until the posterior is used). The
    data variables are None when one needs xarray's decoding (a date column)."""
    import h5netcdf  # deferred: only needed to read a file

    with h5netcdf.File(BytesIO(raw), "r") as f:
        names = list(f.groups)
        spec = f.groups["posterior"].attrs.get(SPEC_KEY) if "posterior" in f.groups else None
        data = None
        if DATA_GROUP in f.groups:
            variables = f.groups[DATA_GROUP].variables
            if not any({"units", "calendar"} & set(v.attrs) for v in variables.values()):
                data = {}
                for key, var in variables.items():
                    values = np.asarray(var[...])
                    fill = var.attrs.get("_FillValue")
                    if fill is not None and values.dtype.kind in "iu":  # as xarray decodes
                        values = np.where(values == fill, np.nan, values)
                    data[key] = _text(values)
    return names, spec, data


def read(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The parts of a result saved with :func:`save`: ``design``, ``family``, ``priors``,
    ``idata``, ``plan`` and ``interval`` (:func:`mixedfit.load` makes the result).

    Raises
    ------
    MixedFitError
        If the file does not exist, is not a NetCDF file, or was not written by
        mixedfit.
    """
    if not Path(path).is_file():
        raise MixedFitError(f"No saved result at {os.fspath(path)!r}: the file does not exist.")
    content = Path(path).read_bytes()  # the posterior is read from these when first used
    try:
        names, raw, rows = _read_head(content)
    except Exception as err:  # h5py/h5netcdf raise many kinds for a foreign file
        raise _not_ours(path, f"it cannot be read as NetCDF: {type(err).__name__}") from err
    if "posterior" not in names:
        raise _not_ours(path, "it has no posterior")
    if raw is None or DATA_GROUP not in names:
        raise _not_ours(path, "it has no mixedfit model specification")
    try:
        spec = json.loads(raw)
    except (TypeError, ValueError) as err:
        raise _not_ours(path, "its model specification is not valid JSON") from err
    if not isinstance(spec, dict) or spec.get("format") != FORMAT:
        raise _not_ours(path, "unknown format marker")
    if int(spec.get("version", 0)) > FORMAT_VERSION:
        raise MixedFitError(
            f"{os.fspath(path)!r} was written by a newer mixedfit (file format "
            f"{spec['version']}, this version reads up to {FORMAT_VERSION}); upgrade mixedfit.")

    if rows is None:  # a column that needs xarray's decoding (dates)
        rows = {k: np.asarray(v.values)
                for k, v in _xarray_groups(content)[DATA_GROUP].data_vars.items()}
    ds = rows
    data = _decode_data(ds, spec["columns"])
    trials = np.asarray(ds[_TRIALS], dtype=float) if spec["trials"] and _TRIALS in ds else None
    weights = np.asarray(ds[_WEIGHTS], dtype=float) if _WEIGHTS in ds else None
    se = np.asarray(ds[_SE], dtype=float) if _SE in ds else None
    try:
        fam = get_family(spec["family"]["name"], link=str(spec["family"]["link"])
                         ).for_levels(spec["family"].get("categories"))
    except MixedFitError as err:
        raise _not_ours(path, str(err)) from err
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if se is not None:  # known standard errors: the family without its sigma
            fam = fam.with_known_scale()
        design = build_design(spec["formula"], data, family=fam, trials=trials,
                              weights=weights, se=se, dpars=spec.get("dpars") or None)
        if "out_of_core" in spec:  # the template's rows, the statistics, the levels
            arrays = {k: np.asarray(v.values)
                      for k, v in _xarray_groups(content)[STATS_GROUP].data_vars.items()}
            stats = SufficientStats.from_arrays(arrays, spec["out_of_core"]["source"])
            design = rowless_from(design, fam, stats, spec["out_of_core"]["levels"])
    fam = fam.for_levels(design.categories)
    design.n_dropped = int(spec.get("n_dropped", 0))
    priors = {key: Prior(p["name"], **_decode(p["params"])) for key, p in spec["priors"].items()}
    # written before the user's priors were recorded: those that are not the default
    priors = (PriorSet(priors, user=spec["user_priors"]) if "user_priors" in spec
              else prior_set(priors, design, fam))

    # the posterior is read (xarray) and made ArviZ's InferenceData when the result first
    # needs it: importing them takes longer than the rest of loading
    idata = DeferredInferenceData(lambda: _posterior_groups(content))
    plan = FitPlan.from_dict({"family": fam.name, "link": fam.link,
                              "interval": float(spec["interval"]), **_decode(spec["info"])})
    return {"design": design, "family": fam, "priors": priors, "idata": idata, "plan": plan,
            "interval": float(spec["interval"])}
