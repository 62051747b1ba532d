"""Out-of-core statistics computed on a real ``distributed.LocalCluster``.

With a ``distributed.Client`` made, Dask runs every computation on its cluster: the
partitions' statistics are then computed in the worker processes (the template design
travels there pickled) and must equal those computed here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from mixedfit.spec import make_spec

distributed = pytest.importorskip("distributed")
dask = pytest.importorskip("dask")


def test_statistics_on_a_cluster_equal_those_computed_here(client: Any, tmp_path) -> None:
    rng = np.random.default_rng(3)
    n = 20_000
    df = pd.DataFrame({"y": rng.normal(size=n), "x": rng.normal(100.0, 2.0, n),
                       "f": rng.choice(["p", "q"], n), "g": rng.integers(0, 50, n)})
    for i in range(4):
        df.iloc[i * 5000:(i + 1) * 5000].to_parquet(tmp_path / f"part-{i}.parquet")
    formula = "y ~ x + f + (1 + x | g)"
    with dask.config.set(scheduler="sync"):  # here, one partition after another
        local = make_spec(formula, str(tmp_path)).design.stats
    assert distributed.default_client() is client
    remote = make_spec(formula, str(tmp_path)).design.stats
    assert remote.partitions == local.partitions == 4
    # the same sums, added in the order of the tree: equal to rounding
    for a, b in ((remote.gram, local.gram), (remote.vv, local.vv), (remote.vw, local.vw)):
        assert np.max(np.abs(a - b)) <= 1e-12 * np.max(np.abs(b))
    assert np.array_equal(remote.shared, local.shared)
