"""Out-of-core designs: sufficient statistics of a Dask DataFrame or a Parquet dataset.

The statistics are checked against cross products computed here, directly from the
in-memory design's rows (numpy and ``bincount``, not :mod:`mixedfit.design.stats`);
the fits against in-memory fits of the same rows.
"""

from __future__ import annotations

import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest

import mixedfit as mf
from mixedfit.design import MissingDataWarning, build_design
from mixedfit.errors import DataError, FamilyError, FormulaError, OptionError
from mixedfit.fast.layout import make_layout
from mixedfit.fast.sampler import logp_and_grad
from mixedfit.spec import make_spec

FORMULA = "y ~ x + f + (1 + x | g)"


def _simulated(n: int, groups: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = rng.integers(0, groups, n)
    x = rng.normal(2000.0, 3.0, n)  # far from 0: the statistics are about an origin
    f = rng.choice(["a", "b", "c"], n)
    u0, u1 = rng.normal(0, 1.0, groups), rng.normal(0, 0.3, groups)
    y = 1e4 + 2.0 * (x - 2000) + u0[g] + u1[g] * (x - 2000) + (f == "b") + rng.normal(0, 1, n)
    return pd.DataFrame({"y": y, "x": x, "f": f, "g": g})


def _relative(a: np.ndarray, b: np.ndarray) -> float:
    """Largest difference relative to the largest value (entries near zero, such as
    cross products of centred columns, have no relative precision of their own)."""
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


@pytest.fixture(scope="module")
def parquet_million(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, pd.DataFrame]:
    """1,000,000 rows in 20 Parquet files."""
    df = _simulated(1_000_000, 1_000)
    folder = tmp_path_factory.mktemp("million")
    for i in range(20):
        df.iloc[i * 50_000:(i + 1) * 50_000].to_parquet(folder / f"part-{i:02d}.parquet")
    return str(folder), df


def test_million_rows_in_20_files_equal_in_memory_cross_products(parquet_million) -> None:
    folder, df = parquet_million
    spec = make_spec(FORMULA, folder)
    st = spec.design.stats
    assert st.partitions == 20 and st.n == 1_000_000 and not spec.design.has_rows
    assert "20 Parquet files" in st.source
    mem = build_design(FORMULA, df)
    X, y = mem.X, mem.y
    Z, idx, m = mem.blocks[0].Z, mem.blocks[0].index, mem.blocks[0].n_levels
    assert spec.design.fixed_columns == mem.fixed_columns
    assert spec.design.blocks[0].levels == mem.blocks[0].levels
    # 1e-10 relative: rounding of sums of 1e6 terms in another order and about another
    # origin (about 1e-13 seen)
    assert _relative(st.raw_xx(), X.T @ X) < 1e-10
    assert _relative(st.raw_xy(), X.T @ y) < 1e-10
    assert abs(st.raw_yy() - y @ y) / (y @ y) < 1e-10
    zz = np.stack([[np.bincount(idx, Z[:, a] * Z[:, b], m) for b in range(2)]
                   for a in range(2)]).transpose(2, 0, 1)
    zy = np.stack([np.bincount(idx, Z[:, a] * y, m) for a in range(2)], axis=1)
    zx = np.stack([[np.bincount(idx, Z[:, a] * X[:, b], m) for b in range(X.shape[1])]
                   for a in range(2)]).transpose(2, 0, 1)
    assert _relative(st.raw_zz(), zz) < 1e-10
    assert _relative(st.raw_zy(), zy) < 1e-10
    assert _relative(st.raw_zx(), zx) < 1e-10
    assert np.array_equal(st.counts, np.bincount(idx, minlength=m))
    # the moments the priors read
    assert np.allclose(st.x_sd(), X.std(axis=0), rtol=1e-10, atol=1e-12)
    assert st.y_sd() == pytest.approx(float(np.std(y)), rel=1e-10)


@pytest.fixture(scope="module")
def shifted_sleepstudy() -> pd.DataFrame:
    df = mf.load_dataset("sleepstudy")
    return df.assign(Days=df.Days + 2000.0, Reaction=df.Reaction * 1000 + 1e6)


@pytest.mark.parametrize("formula", [
    "Reaction ~ Days + (Days | Subject)",
    "Reaction ~ Days + (1 | Subject) + (0 + Days | Subject)",
    "Reaction ~ Days + I(Days ** 2) + (Days || Subject)",
])
def test_sampler_sees_the_same_model(shifted_sleepstudy, formula) -> None:
    """The packed statistics in internal coordinates and the log density equal the
    in-memory model's, with columns far from 0 (Days from 2000, Reaction near 1e6)."""
    mem = make_spec(formula, shifted_sleepstudy)
    ooc = make_spec(formula, dd.from_pandas(shifted_sleepstudy, npartitions=7))
    assert mem.priors == ooc.priors or all(
        str(mem.priors[k]) == str(ooc.priors[k]) for k in mem.priors)
    blocks = [False] * len(mem.design.blocks)
    la = make_layout(mem.design, mem.family, mem.priors, blocks, marginal=True)
    lb = make_layout(ooc.design, ooc.family, ooc.priors, blocks, marginal=True)
    assert la.buffer.size == lb.buffer.size
    # relative to the buffer's largest statistic; I(Days^2) with Days near 2000 has
    # correlation 0.99999 with Days: its QR step on rows and on cross products agree
    # to about 1e-10 of the largest value
    assert _relative(lb.buffer, la.buffer) < 1e-9
    x = la.initial_point(3)
    lpa, ga = logp_and_grad(la, x)
    lpb, gb = logp_and_grad(lb, x)
    assert lpb == pytest.approx(lpa, rel=1e-9)
    assert np.allclose(gb, ga, rtol=1e-6, atol=1e-8)


@pytest.fixture(scope="module")
def pair() -> tuple:
    df = mf.load_dataset("sleepstudy")
    kw = {"draws": 1000, "chains": 4, "random_seed": 5, "progressbar": False}
    formula = "Reaction ~ Days + (Days | Subject)"
    return (mf.fit(formula, dd.from_pandas(df, npartitions=3), **kw), mf.fit(formula, df, **kw))


def test_out_of_core_fit_equals_in_memory_fit(pair) -> None:
    ooc, mem = pair
    assert ooc.plan.marginalized and not ooc.design.has_rows
    # Monte Carlo error: the two chains' means differ by at most 4 joint MC standard
    # errors (sd / sqrt(ESS) of each, in quadrature)
    for a, b in ((ooc.fixed_effects, mem.fixed_effects),
                 (ooc.variance_components, mem.variance_components)):
        mcse = np.sqrt(a["sd"] ** 2 / a["ess_bulk"] + b["sd"] ** 2 / b["ess_bulk"])
        assert np.all(np.abs(a["mean"] - b["mean"]) < 4 * mcse), (a, b)
    a, b = ooc.random_effects["Subject"], mem.random_effects["Subject"]
    assert a.index.equals(b.index)
    for term in ("Intercept", "Days"):  # ESS above 1000 for each (drawn given each draw)
        mcse = np.sqrt(a[term]["sd"] ** 2 / 1000 + b[term]["sd"] ** 2 / 1000)
        assert np.all(np.abs(a[term]["mean"] - b[term]["mean"]) < 4 * mcse)


def test_update_equals_refit_within_monte_carlo_error() -> None:
    df = mf.load_dataset("sleepstudy")
    kw = {"draws": 1000, "chains": 4, "progressbar": False}
    formula = "Reaction ~ Days + (Days | Subject)"
    old = df[df.Subject.astype(str) != "308"]
    first = mf.fit(formula, old[old.Days < 6], random_seed=1, **kw)
    # new days of the old subjects, then a new subject (a level added)
    step = first.update(old[old.Days >= 6], random_seed=2)
    upd = step.update(df[df.Subject.astype(str) == "308"], random_seed=3)
    ref = mf.fit(formula, df, random_seed=4, **kw)
    assert upd.design.n_obs == 180 and not upd.design.has_rows
    assert sorted(upd.design.blocks[0].levels) == sorted(ref.design.blocks[0].levels)
    assert upd.priors["prior"].astype(str).tolist() == ref.priors["prior"].astype(str).tolist()
    for a, b in ((upd.fixed_effects, ref.fixed_effects),
                 (upd.variance_components, ref.variance_components)):
        mcse = np.sqrt(a["sd"] ** 2 / a["ess_bulk"] + b["sd"] ** 2 / b["ess_bulk"])
        assert np.all(np.abs(a["mean"] - b["mean"]) < 4 * mcse), (a, b)


@pytest.mark.parametrize(("kwargs", "error", "words"), [
    ({"family": "poisson"}, FamilyError, "Gaussian models with the identity link"),
    ({"weights": "w"}, OptionError, "weights= is not supported out of core"),
    ({"formula": "y ~ scale(x) + (1 | g)"}, FormulaError, "scale() computes"),
    ({"formula": "y ~ x + (1 | g) + (1 | f)"}, FormulaError, "several grouping factors"),
    ({"formula": "y ~ x"}, FormulaError, "no group term"),
    ({"formula": "y ~ z + (1 | g)"}, DataError, "'z' used in the formula is not in the data"),
    ({"formula": "y ~ x + offset(x) + (1 | g)"}, FormulaError, "Subtract the offset"),
])
def test_what_cannot_be_fitted_out_of_core_is_refused(kwargs, error, words) -> None:
    df = _simulated(200, 10).assign(w=1.0)
    formula = kwargs.pop("formula", "y ~ x + (1 | g)")
    with pytest.raises(error, match=words.replace("(", r"\(").replace(")", r"\)")):
        mf.fit(formula, dd.from_pandas(df, npartitions=2), **kwargs)


def test_missing_parquet_path_is_a_data_error(tmp_path) -> None:
    with pytest.raises(DataError, match="No Parquet files"):
        mf.fit("y ~ x + (1 | g)", str(tmp_path / "*.parquet"))


def test_rows_with_missing_values_are_dropped_and_counted() -> None:
    df = _simulated(300, 10)
    df.loc[[3, 50, 200], "x"] = np.nan
    with pytest.warns(MissingDataWarning, match="Dropped 3 of 300 rows"):
        spec = make_spec("y ~ x + (1 | g)", dd.from_pandas(df, npartitions=3))
    assert spec.design.n_obs == 297 and spec.design.n_dropped == 3
    with pytest.raises(DataError, match="3 of 300 rows have missing values"):
        make_spec("y ~ x + (1 | g)", dd.from_pandas(df, npartitions=3), na_action="error")


def test_update_refuses_a_model_without_statistics() -> None:
    df = mf.load_dataset("cbpp")
    res = mf.fit("cbind(incidence, size - incidence) ~ period + (1 | herd)", df,
                 family="binomial", draws=50, tune=50, chains=1, progressbar=False, warn=False)
    with pytest.raises(OptionError, match="sufficient statistics"):
        res.update(df)


def test_whole_data_checks_from_the_statistics() -> None:
    df = _simulated(400, 20)
    ddf = dd.from_pandas(df.assign(x2=2.0 * df.x + 1.0), npartitions=4)
    with pytest.raises(DataError, match="x2"):  # collinear with x (and the intercept)
        make_spec("y ~ x + x2 + (1 | g)", ddf)
    # a slope constant within every level of the group
    per_level = dd.from_pandas(df.assign(w=df.g * 0.5), npartitions=4)
    with pytest.raises(DataError, match="does not vary within any level"):
        make_spec("y ~ w + (1 + w | g)", per_level)


def test_many_levels_with_few_rows_each_keep_their_slopes() -> None:
    """Levels of 2 rows, one in each of 2 partitions, in opposite orders: the first rows
    of the partitions have no level twice (a slope would look constant within every
    level); the template also takes every row of a hashed subset of the levels."""
    rng = np.random.default_rng(1)
    m = 20_000
    g = np.concatenate([np.arange(m), np.arange(m)[::-1]])
    df = pd.DataFrame({"y": rng.normal(size=2 * m), "x": rng.normal(size=2 * m), "g": g})
    spec = make_spec("y ~ x + (1 + x | g)", dd.from_pandas(df, npartitions=2))
    assert spec.design.n_obs == 2 * m and spec.design.blocks[0].n_levels == m
