"""Saving and loading results (``res.save`` / ``mf.load``), and polars input."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import mixedfit as mf
from mixedfit.api import MixedResult
from mixedfit.design import build_design
from mixedfit.io import DATA_GROUP, SPEC_KEY, _decode, _decode_data, _encode, _encode_data
from mixedfit.priors import resolve_priors
from tests.conftest import QUICK

CBPP = "cbind(incidence, size - incidence) ~ period + (1 | herd)"


@pytest.fixture(scope="module")
def cbpp_quick(fit_cache):
    return fit_cache(CBPP, mf.load_dataset("cbpp"), key="cbpp-quick", family="binomial",
                     **QUICK)


def _roundtrip(res: MixedResult, tmp_path) -> MixedResult:
    path = tmp_path / "result.nc"
    res.save(path)
    return mf.load(path)


def _same_tables(a: MixedResult, b: MixedResult) -> None:
    """Every table of two results is identical."""
    assert b.formula == a.formula and b.family == a.family and b.interval == a.interval
    assert b.info == a.info and b.n_obs == a.n_obs and b.n_draws == a.n_draws
    pd.testing.assert_frame_equal(b.fixed_effects, a.fixed_effects)
    assert b.random_effects.keys() == a.random_effects.keys()
    for g in a.random_effects:
        pd.testing.assert_frame_equal(b.random_effects[g], a.random_effects[g])
        pd.testing.assert_frame_equal(b.coefficients[g], a.coefficients[g])
    pd.testing.assert_frame_equal(b.variance_components, a.variance_components)
    pd.testing.assert_frame_equal(b.family_parameters, a.family_parameters)
    pd.testing.assert_frame_equal(b.shrinkage, a.shrinkage)
    pd.testing.assert_frame_equal(b.priors, a.priors)
    pd.testing.assert_frame_equal(b.to_frame(), a.to_frame())
    assert b._priors == a._priors
    assert b.summary().to_text() == a.summary().to_text()
    np.testing.assert_array_equal(b.design.y, a.design.y)
    np.testing.assert_array_equal(b.design.X, a.design.X)
    pd.testing.assert_frame_equal(b.design.data, a.design.data)
    if a.design.trials is None:
        assert b.design.trials is None
    else:
        np.testing.assert_array_equal(b.design.trials, a.design.trials)


def test_gaussian_roundtrip(sleep_quick, tmp_path):
    back = _roundtrip(sleep_quick, tmp_path)
    _same_tables(sleep_quick, back)
    pd.testing.assert_series_equal(back.sigma, sleep_quick.sigma)
    new = pd.DataFrame({"Days": [0, 5, 9], "Subject": ["308", "335", "someone new"]})
    pd.testing.assert_frame_equal(back.predict(new, include_random=False),
                                  sleep_quick.predict(new, include_random=False))
    pd.testing.assert_frame_equal(back.predict(new, random_seed=1),
                                  sleep_quick.predict(new, random_seed=1))
    # the coordinates of the posterior survive, names with parentheses included
    assert "sd(Subject)" in back.idata.posterior
    assert "level(Subject)" in back.idata.posterior.dims
    assert SPEC_KEY not in back.idata.posterior.attrs
    assert DATA_GROUP not in back.idata.groups()


def test_binomial_cbind_roundtrip(cbpp_quick, tmp_path):
    back = _roundtrip(cbpp_quick, tmp_path)
    _same_tables(cbpp_quick, back)
    with pytest.raises(mf.MixedFitError, match="no residual sd"):
        back.sigma  # noqa: B018
    new = pd.DataFrame({"period": pd.Categorical(["1", "4"], categories=["1", "2", "3", "4"]),
                        "herd": ["1", "99"], "size": [10, 10]})
    pd.testing.assert_frame_equal(back.predict(new, include_random=False),
                                  cbpp_quick.predict(new, include_random=False))


def test_trials_dropped_rows_and_interval_survive(cbpp_quick, sleep_quick, tmp_path):
    # a proportion response with trials=: the trials come back without a cbind()
    data = mf.load_dataset("cbpp").assign(prop=lambda d: d["incidence"] / d["size"])
    design = build_design("prop ~ period + (1 | herd)", data, family="binomial",
                          trials=data["size"].to_numpy())
    res = MixedResult(design=design, family=cbpp_quick.family,
                      priors=resolve_priors(design, cbpp_quick.family, None),
                      idata=cbpp_quick.idata, info=cbpp_quick.info, interval=0.8)
    back = _roundtrip(res, tmp_path)
    np.testing.assert_array_equal(back.design.trials, data["size"].to_numpy())
    np.testing.assert_array_equal(back.design.y, data["incidence"].to_numpy())
    assert back.interval == 0.8
    pd.testing.assert_frame_equal(back.fixed_effects, res.fixed_effects)
    # rows dropped for missing values: reported the same after loading
    sleep = mf.load_dataset("sleepstudy")
    sleep.loc[3, "Reaction"] = np.nan
    sleep = pd.concat([sleep, sleep.iloc[[0]]], ignore_index=True)  # keep 180 complete rows
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        design = build_design(sleep_quick.formula, sleep)
    res = MixedResult(design=design, family=sleep_quick.family, priors=sleep_quick._priors,
                      idata=sleep_quick.idata, info=sleep_quick.info)
    back = _roundtrip(res, tmp_path)
    assert back.design.n_dropped == 1
    assert "1 dropped for missing values" in back.summary().to_text()


def test_user_priors_survive(sleep_quick, tmp_path):
    priors = dict(sleep_quick._priors)
    priors["Days"] = mf.Prior("Normal", mu=0, sigma=np.float64(10.5))
    priors["cor(Subject)"] = mf.Prior("LKJ", eta=2)
    res = MixedResult(design=sleep_quick.design, family=sleep_quick.family, priors=priors,
                      idata=sleep_quick.idata, info=sleep_quick.info)
    back = _roundtrip(res, tmp_path)
    assert back._priors == priors
    assert back.priors.loc["Days", "source"] == "user"
    pd.testing.assert_frame_equal(back.priors, res.priors)


def test_save_leaves_the_result_alone(sleep_quick, tmp_path):
    groups = list(sleep_quick.idata.groups())
    attrs = dict(sleep_quick.idata.posterior.attrs)
    sleep_quick.save(tmp_path / "a.nc")
    assert list(sleep_quick.idata.groups()) == groups
    assert dict(sleep_quick.idata.posterior.attrs) == attrs


def test_file_is_plain_arviz(sleep_quick, tmp_path):
    import arviz as az

    path = tmp_path / "fit.nc"
    sleep_quick.save(path)
    idata = az.from_netcdf(path)
    np.testing.assert_array_equal(idata.posterior["fixed"].values,
                                  sleep_quick.idata.posterior["fixed"].values)


def test_data_columns_of_every_kind_roundtrip():
    df = pd.DataFrame({
        "num": [1.5, 2.0, -3.25],
        "int": np.array([1, 2, 3], dtype=np.int64),
        "flag": [True, False, True],
        "text": pd.Series(["a", "b b", "ç"], dtype=object),
        "string": pd.Series(["x", "y", "z"], dtype="string"),
        "cat": pd.Categorical(["lo", "hi", "lo"], categories=["lo", "hi"], ordered=True),
        "intcat": pd.Categorical([3, 1, 3], categories=[3, 1, 2]),
        "when": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01"]),
        "odd name (1)": [0.1, 0.2, 0.3],
    })
    ds, columns = _encode_data(df, np.array([5.0, 6.0, 7.0]))
    back = _decode_data(ds, columns)
    pd.testing.assert_frame_equal(back, df)


def test_options_and_prior_parameters_roundtrip_through_json():
    import json

    value = {"centered": (True, False), "seed": np.int64(3), "mu": np.float64(0.5),
             "sigma": np.array([[1.0, 2.0], [3.0, 4.0]]), "nested": [None, ("a", 1.5)]}
    back = _decode(json.loads(json.dumps(_encode(value))))
    assert back.keys() == value.keys()
    assert back["centered"] == (True, False) and back["nested"] == [None, ("a", 1.5)]
    assert back["seed"] == 3 and back["mu"] == 0.5
    np.testing.assert_array_equal(back["sigma"], value["sigma"])


def test_load_refuses_foreign_files(tmp_path, sleep_quick):
    import arviz as az

    with pytest.raises(mf.MixedFitError, match="does not exist"):
        mf.load(tmp_path / "missing.nc")
    text = tmp_path / "notes.nc"
    text.write_text("not a netcdf file\n")
    with pytest.raises(mf.MixedFitError, match="not a result saved by mixedfit"):
        mf.load(text)
    plain = tmp_path / "plain.nc"
    az.InferenceData(posterior=sleep_quick.idata.posterior).to_netcdf(str(plain))
    with pytest.raises(mf.MixedFitError, match="no mixedfit model specification"):
        mf.load(plain)
    with pytest.raises(mf.MixedFitError, match="takes a fitted MixedResult"):
        mf.save("not a result", tmp_path / "x.nc")


def test_polars_data_fits():
    pl = pytest.importorskip("polars")
    df = mf.load_dataset("dyestuff")
    frame = pl.DataFrame({"Batch": df["Batch"].astype(str).tolist(),
                          "Yield": df["Yield"].tolist()})
    options = {"draws": 100, "tune": 100, "chains": 2, "random_seed": 4, "progressbar": False,
               "warn": False}
    res = mf.fit("Yield ~ 1 + (1 | Batch)", frame, **options)
    assert res.random_effects["Batch"].index.tolist() == list("ABCDEF")
    ref = mf.fit("Yield ~ 1 + (1 | Batch)", pd.DataFrame(frame.to_dict(as_series=False)),
                 **options)
    pd.testing.assert_frame_equal(res.fixed_effects, ref.fixed_effects)


def test_a_file_written_before_fit_plans_loads(sleep_quick, tmp_path):
    # files written before the fit plan (issue 13) kept an "info" dict of fewer choices
    # and no record of the user's priors: they load, with the choices they then had
    import json

    import arviz as az

    path = tmp_path / "new.nc"
    sleep_quick.save(path)
    idata = az.from_netcdf(str(path))
    spec = json.loads(idata.posterior.attrs[SPEC_KEY])
    spec["info"] = {k: spec["info"][k] for k in (
        "sampler", "backend", "draws", "tune", "chains", "random_seed", "centered",
        "marginalized", "target_accept", "max_treedepth", "time")}
    del spec["user_priors"]
    idata.posterior.attrs[SPEC_KEY] = json.dumps(spec)
    old = tmp_path / "old.nc"
    idata.to_netcdf(str(old))
    back = mf.load(old)
    assert back.plan.backend == sleep_quick.plan.backend
    assert back.plan.draws == sleep_quick.plan.draws
    assert back.plan.family == "gaussian" and back.plan.interval == sleep_quick.interval
    assert back._priors.user == frozenset()  # every prior was the default
    assert back.summary().to_text() == sleep_quick.summary().to_text()


def test_pointwise_log_likelihood_is_not_saved_unless_asked(tmp_path, fit_cache):
    """The log-likelihood (draws x rows) dominates a file; it is recomputed on demand."""
    res = fit_cache("Reaction ~ Days + (Days | Subject)", mf.load_dataset("sleepstudy"),
                    key="sleepstudy", draws=250, tune=300, chains=2)
    res.log_likelihood_data()
    small, full = tmp_path / "small.nc", tmp_path / "full.nc"
    res.save(small)
    res.save(full, log_likelihood=True)
    assert small.stat().st_size < 0.5 * full.stat().st_size
    back = mf.load(small)
    assert "log_likelihood" not in back.idata.groups()
    assert back.loo().elpd_loo == pytest.approx(res.loo().elpd_loo, rel=1e-12)
    assert "log_likelihood" in mf.load(full).idata.groups()


def test_load_reads_without_importing_arviz(tmp_path, fit_cache):
    """Loading reads the specification and the data rows with h5netcdf; the posterior is
    read with xarray and made ArviZ's InferenceData when the result is first used
    (importing them costs more than the rest of loading)."""
    import subprocess
    import sys

    res = fit_cache("Reaction ~ Days + (Days | Subject)", mf.load_dataset("sleepstudy"),
                    key="sleepstudy", draws=250, tune=300, chains=2)
    path = tmp_path / "fit.nc"
    res.save(path)
    code = ("import sys, mixedfit as mf\n"
            f"res = mf.load({str(path)!r})\n"
            "print('arviz' in sys.modules, 'xarray' in sys.modules)\n"
            "print(res.fixed_effects.shape, 'arviz' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split("\n")
    assert out[0] == "False False" and out[1] == "(2, 7) True"
