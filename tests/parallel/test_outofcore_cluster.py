"""Out-of-core statistics and updates computed on a real ``distributed.LocalCluster``.

With a ``distributed.Client`` made, Dask runs every computation on its cluster: the
partitions' statistics are then computed in the worker processes (the template design
travels there pickled). They must equal the cross products of the rows computed here
(numpy and ``bincount``, not :mod:`mixedfit.design.stats`), and an update from Parquet
files must equal a refit on all the rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

import mixedfit as mf
from mixedfit.design import build_design
from mixedfit.spec import make_spec

distributed = pytest.importorskip("distributed")
dask = pytest.importorskip("dask")

FORMULA = "y ~ x + f + (1 + x | g)"


def _relative(a: np.ndarray, b: np.ndarray) -> float:
    """Largest difference relative to the largest value (entries near zero have no
    relative precision of their own)."""
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def test_million_rows_in_20_files_on_the_cluster(client: Any, tmp_path) -> None:
    rng = np.random.default_rng(3)
    n, m = 1_000_000, 1_000
    g = rng.integers(0, m, n)
    x = rng.normal(2000.0, 3.0, n)  # far from 0: the statistics are about an origin
    f = rng.choice(["p", "q", "r"], n)
    y = 1e4 + 2.0 * (x - 2000) + rng.normal(0, 1, m)[g] + (f == "q") + rng.normal(0, 1, n)
    df = pd.DataFrame({"y": y, "x": x, "f": f, "g": g})
    for i in range(20):
        df.iloc[i * 50_000:(i + 1) * 50_000].to_parquet(tmp_path / f"part-{i:02d}.parquet")
    assert distributed.default_client() is client
    st = make_spec(FORMULA, str(tmp_path)).design.stats
    assert st.partitions == 20 and st.n == n
    mem = build_design(FORMULA, df)
    X, yy = mem.X, mem.y
    Z, idx = mem.blocks[0].Z, mem.blocks[0].index
    zz = np.stack([[np.bincount(idx, Z[:, a] * Z[:, b], m) for b in range(2)]
                   for a in range(2)]).transpose(2, 0, 1)
    zy = np.stack([np.bincount(idx, Z[:, a] * yy, m) for a in range(2)], axis=1)
    zx = np.stack([[np.bincount(idx, Z[:, a] * X[:, b], m) for b in range(X.shape[1])]
                   for a in range(2)]).transpose(2, 0, 1)
    # 1e-10 relative: sums of 1e6 terms in another order, about another origin
    assert _relative(st.raw_xx(), X.T @ X) < 1e-10
    assert _relative(st.raw_xy(), X.T @ yy) < 1e-10
    assert abs(st.raw_yy() - yy @ yy) / (yy @ yy) < 1e-10
    assert _relative(st.raw_zz(), zz) < 1e-10
    assert _relative(st.raw_zy(), zy) < 1e-10
    assert _relative(st.raw_zx(), zx) < 1e-10
    # computed here, one partition after another: the same to rounding
    with dask.config.set(scheduler="sync"):
        local = make_spec(FORMULA, str(tmp_path)).design.stats
    for a, b in ((st.gram, local.gram), (st.vv, local.vv), (st.vw, local.vw)):
        assert _relative(a, b) < 1e-12


def test_update_from_parquet_on_the_cluster_equals_a_refit(client: Any, tmp_path) -> None:
    df = mf.load_dataset("sleepstudy")
    kw = {"draws": 1000, "chains": 4, "progressbar": False}
    formula = "Reaction ~ Days + (Days | Subject)"
    later = df[df.Days >= 6]
    for i, part in enumerate((later[later.Days < 8], later[later.Days >= 8])):
        part.to_parquet(tmp_path / f"new-{i}.parquet")
    first = mf.fit(formula, df[df.Days < 6], random_seed=1, **kw)
    upd = first.update(str(tmp_path), random_seed=2)
    ref = mf.fit(formula, df, random_seed=3, **kw)
    assert upd.design.n_obs == 180 and "2 Parquet files" in upd.design.stats.source
    for a, b in ((upd.fixed_effects, ref.fixed_effects),
                 (upd.variance_components, ref.variance_components)):
        # Monte Carlo error: within 4 joint MC standard errors (sd / sqrt(ESS) of each)
        mcse = np.sqrt(a["sd"] ** 2 / a["ess_bulk"] + b["sd"] ** 2 / b["ess_bulk"])
        assert np.all(np.abs(a["mean"] - b["mean"]) < 4 * mcse), (a, b)
