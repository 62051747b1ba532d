"""Many fits at once (``mf.fit_many``) and the executor under them (``mixedfit.parallel``).

One real ``distributed.LocalCluster`` (2 worker processes) serves the module. The fits
made on it must equal, draw for draw, ``mf.fit`` run here with the same seed; a failing
response is recorded without stopping the others.
"""

from __future__ import annotations

import json
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest

import mixedfit as mf
from mixedfit import parallel
from tests.conftest import forbid_sampling

distributed = pytest.importorskip("distributed")

OPTIONS = {"draws": 200, "tune": 200, "chains": 2, "random_seed": 17}
RHS = "x + (1 | g)"


def _data() -> pd.DataFrame:
    rng = np.random.default_rng(4)
    groups = np.repeat([f"g{j}" for j in range(5)], 6)
    x = np.tile(np.linspace(-1.0, 1.0, 6), 5)
    u = rng.normal(0.0, 0.8, 5)[np.repeat(np.arange(5), 6)]
    return pd.DataFrame({
        "g": groups, "x": x,
        "y1": 1.0 + 2.0 * x + u + rng.normal(0.0, 0.5, 30),
        "y2": -1.0 * x + u + rng.normal(0.0, 1.0, 30),
        "text": ["a", "b"] * 15,  # not numbers: that fit fails
        "flat": 3.0,  # constant: that fit fails too
        "study": np.where(np.arange(30) < 18, "north", "south"),
    })


def _quiet_fit(formula: str, data: Any, **options: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return mf.fit(formula, data, progressbar=False, **{**OPTIONS, **options})


@pytest.fixture(scope="module")
def collection(client: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return mf.fit_many(f"~ {RHS}", _data(), responses=["y1", "text", "flat", "y2"],
                           client=client, progressbar=False, **OPTIONS)


def test_fits_on_the_cluster_equal_sequential_fits(collection: Any) -> None:
    df = _data()
    assert list(collection) == ["y1", "y2"] and len(collection) == 2
    for name in ("y1", "y2"):
        here = _quiet_fit(f"{name} ~ {RHS}", df)
        there = collection[name]
        assert there.formula == f"{name} ~ {RHS}"
        assert np.array_equal(there.draws("fixed"), here.draws("fixed"))
        assert np.array_equal(there.draws("u(g)"), here.draws("u(g)"))
        assert np.array_equal(there.draws("sigma"), here.draws("sigma"))


def test_the_predictors_are_built_once_and_shared() -> None:
    # responses with the same rows share one design's predictors (read-only arrays); a
    # response missing other rows gets its own; every fit still equals mf.fit's draws
    df = _data()
    df["y3"] = df["y1"].where(np.arange(30) >= 3)  # rows 0-2 missing
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        coll = mf.fit_many(f"~ {RHS}", df, responses=["y1", "y2", "y3"],
                           client="sequential", progressbar=False, **OPTIONS)
    d1, d2, d3 = (coll[n].design for n in ("y1", "y2", "y3"))
    assert d2.X is d1.X and d2.blocks[0].Z is d1.blocks[0].Z
    assert d2.blocks[0].index is d1.blocks[0].index
    assert not d1.X.flags.writeable
    assert d3.X is not d1.X and d3.n_obs == 27
    assert d2.response_name == "y2" and np.array_equal(d2.y, df["y2"].to_numpy())
    for name in ("y2", "y3"):
        here = _quiet_fit(f"{name} ~ {RHS}", df)
        assert np.array_equal(coll[name].draws("fixed"), here.draws("fixed"))
        assert np.array_equal(coll[name].draws("u(g)"), here.draws("u(g)"))


def test_a_failing_response_is_recorded_and_the_others_fitted(collection: Any) -> None:
    assert collection.names == ["y1", "text", "flat", "y2"]
    assert set(collection.failed) == {"text", "flat"}
    assert "'text' is not numeric" in collection.failed["text"]
    assert "constant" in collection.failed["flat"]
    assert "text" not in collection
    with pytest.raises(KeyError, match="failed"):
        collection["text"]
    assert dict(collection.items()).keys() == {"y1", "y2"}


def test_tidy_table_of_every_fit(collection: Any) -> None:
    table = collection.to_frame()
    assert table.columns[0] == "fit"
    assert table["fit"].unique().tolist() == ["y1", "y2"]
    one = collection["y2"].to_frame()
    mine = table[table["fit"] == "y2"].drop(columns="fit").reset_index(drop=True)
    pd.testing.assert_frame_equal(mine, one)


def test_diagnostics_table(collection: Any) -> None:
    diag = collection.diagnostics()
    assert diag.index.tolist() == ["y1", "text", "flat", "y2"]
    assert {"ok", "max_r_hat", "min_ess_bulk", "divergences", "error",
            "problems"} <= set(diag.columns)
    assert not diag.loc["text", "ok"] and "not numeric" in diag.loc["text", "error"]
    res = collection["y1"]
    assert diag.loc["y1", "max_r_hat"] == pytest.approx(res.convergence()["max_r_hat"])
    assert diag.loc["y1", "divergences"] == res.diagnostics().divergences
    assert diag.loc["y1", "ok"] == res.diagnostics().ok
    assert diag.loc["y1", "error"] == ""
    assert diag.loc["y1", "n_obs"] == 30


def test_save_and_load_round_trip(collection: Any, tmp_path: Any) -> None:
    collection.save(tmp_path / "coll")
    index = json.loads((tmp_path / "coll" / "collection.json").read_text())
    assert [e["name"] for e in index["fits"]] == collection.names
    back = mf.FitCollection.load(tmp_path / "coll")
    assert back.names == collection.names and back.failed == collection.failed
    assert back.formula == collection.formula
    for name in collection:
        assert np.array_equal(back[name].draws("fixed"), collection[name].draws("fixed"))
        # each file is an ordinary saved fit
        entry = next(e for e in index["fits"] if e["name"] == name)
        assert mf.load(tmp_path / "coll" / entry["file"]).formula == f"{name} ~ {RHS}"
    with pytest.raises(mf.MixedFitError, match="No saved collection"):
        mf.FitCollection.load(tmp_path / "nothing")


def test_by_fits_each_level_on_its_rows(client: Any) -> None:
    df = _data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        coll = mf.fit_many(f"y1 ~ {RHS}", df, by="study", progressbar=False,
                           client=client.scheduler.address, **OPTIONS)  # an address works
    assert coll.names == ["north", "south"] and not coll.failed
    for level in ("north", "south"):
        rows = df[df["study"] == level]
        assert coll[level].n_obs == len(rows)
        here = _quiet_fit(f"y1 ~ {RHS}", rows)
        assert np.array_equal(coll[level].draws("fixed"), here.draws("fixed"))
    assert "by 'study'" in repr(coll)


def test_convergence_problems_are_said_once(client: Any) -> None:
    with pytest.warns(mf.ConvergenceWarning, match=r"2 of 2 fits have convergence problems"):
        coll = mf.fit_many(f"~ {RHS}", _data(), responses=["y1", "y2"], client=client,
                           progressbar=False, **{**OPTIONS, "draws": 30, "tune": 30})
    assert coll.warnings["y1"]  # each fit's own warnings are kept


def test_wrong_calls_fail_before_any_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    forbid_sampling(monkeypatch)
    df = _data()
    with pytest.raises(mf.OptionError, match="exactly one of"):
        mf.fit_many(f"~ {RHS}", df)
    with pytest.raises(mf.OptionError, match="exactly one of"):
        mf.fit_many(f"y1 ~ {RHS}", df, responses=["y1"], by="study")
    with pytest.raises(mf.OptionError, match="drawz"):
        mf.fit_many(f"~ {RHS}", df, responses=["y1"], drawz=10)
    with pytest.raises(mf.OptionError, match="draws"):
        mf.fit_many(f"~ {RHS}", df, responses=["y1"], draws=0)
    with pytest.raises(mf.DataError, match="not a column"):
        mf.fit_many(f"y1 ~ {RHS}", df, by="nope")
    with pytest.raises(mf.InputTypeError, match="list of column names"):
        mf.fit_many(f"~ {RHS}", df, responses="y1")
    with pytest.raises(mf.OptionError, match="more than once"):
        mf.fit_many(f"~ {RHS}", df, responses=["y1", "y1"])
    with pytest.raises(mf.InputTypeError, match="client must be"):
        mf.fit_many(f"~ {RHS}", df, responses=["y1"], client=3)


def test_sequential_client_and_the_local_default(monkeypatch: pytest.MonkeyPatch) -> None:
    # the local default runs sequentially when one fit fills the machine
    monkeypatch.setattr(parallel, "cpu_count", lambda: 2)
    with parallel.Executor(None, threads_per_task=2, n_tasks=8) as ex:
        assert ex.kind == "sequential" and ex.slots == 1
    with parallel.Executor(None, threads_per_task=1, n_tasks=1) as ex:
        assert ex.kind == "sequential"
    with parallel.Executor("sequential") as ex:
        assert ex.slots == 1
    assert parallel.threads_for_chains(4) == 2  # at most the cores


def test_outcomes_keep_the_order_of_the_tasks(client: Any) -> None:
    out = parallel.run_tasks(_slow_square, [{"v": v} for v in (3, 0, 2, -1, 1)],
                             client=client, progressbar=False)
    assert [o.value for o in out[:3]] == [9, 0, 4] and out[4].value == 1
    assert not out[3].ok and out[3].error == "ValueError: negative" and out[3].seconds >= 0
    with pytest.raises(ValueError, match="negative"):
        out[3].result()


def test_progress_counter(capsys: pytest.CaptureFixture[str]) -> None:
    parallel.run_tasks(_slow_square, [{"v": 1}, {"v": 2}], client="sequential",
                       progressbar=True, label="squares")
    assert "squares: 2/2 done" in capsys.readouterr().err
    parallel.run_tasks(_slow_square, [{"v": 1}], client="sequential", progressbar=False)
    assert capsys.readouterr().err == ""


def _slow_square(v: int) -> int:
    """A task for the executor tests (module level: it travels to the workers)."""
    import time

    time.sleep(0.05 * (v % 3))  # finish out of order
    if v < 0:
        raise ValueError("negative")
    return v * v
