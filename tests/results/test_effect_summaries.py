"""Group effects kept as summaries, not draws (too many to keep: issue 18).

A marginalised Gaussian fit with more than ``mixedfit.plan.MAX_STORED_EFFECTS``
group-effect values keeps each effect's mean, sd, quantiles, R-hat and ESS
(``mixedfit.fast.sampler.effect_summaries``). Checked here: the summaries equal the
statistics of the very draws the chunked kernel makes (exactly, level chunk by level
chunk); a summarised sleepstudy fit (the limit lowered to 10 values, the chunks to
5 levels) gives the tables of the same fit with draws to Monte Carlo error; what
needs the draws refuses with ``DrawsNotKeptError`` naming itself; the summaries are
saved and loaded.
"""

from __future__ import annotations

import json
import os
import re
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import mixedfit as mf
import mixedfit.fast.sampler as sampler
import mixedfit.plan
from mixedfit import names
from mixedfit.api import MixedResult
from mixedfit.convergence import rhat_ess
from mixedfit.design import build_design
from mixedfit.errors import ConvergenceWarning, DrawsNotKeptError, RowsNeededError
from mixedfit.fast.layout import make_layout
from mixedfit.priors import resolve_priors
from mixedfit.results.diagnostics import diagnose, warn_if_problems
from mixedfit.results.summaries import describe_summary, kept_intervals
from mixedfit.results.tidy import result_tables

FORMULA = "Reaction ~ Days + (Days | Subject)"
OPTIONS = {"draws": 500, "tune": 500, "chains": 2, "random_seed": 20241130,
           "progressbar": False}
#: Levels per chunk of the summarised fit (18 subjects: chunks of 5, 5, 5 and 3).
LEVELS_PER_CHUNK = 5
NEW = pd.DataFrame({"Days": [0.0, 4.5, 9.0], "Subject": ["new1", "new2", "new1"]})
FITTED = pd.DataFrame({"Days": [0.0, 9.0], "Subject": ["308", "new"]})


@pytest.fixture(scope="module")
def pair():
    """The fit with its group effects' draws, and the same fit keeping summaries."""
    sleep = mf.load_dataset("sleepstudy")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        drawn = mf.fit(FORMULA, sleep, **OPTIONS)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(mixedfit.plan, "MAX_STORED_EFFECTS", 10)
        k = 2  # effects per level
        mp.setattr(sampler, "SUMMARY_CHUNK",
                   LEVELS_PER_CHUNK * OPTIONS["chains"] * OPTIONS["draws"] * k)
        calls = []
        original = sampler._chunk_buffer

        def counted(buf, c0, c1):
            calls.append((c0, c1))
            return original(buf, c0, c1)

        mp.setattr(sampler, "_chunk_buffer", counted)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            summarised = mf.fit(FORMULA, sleep, **OPTIONS)
        summarised._chunks = calls
        # (the limit stays lowered while the module's tests read the messages)
        yield drawn, summarised


# ------------------------------------------------------------------ exact summaries
def _small_data(seed: int = 3, n_groups: int = 11, per: int = 6) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(n_groups), per)
    x = rng.normal(size=g.size)
    y = 1.0 + 0.5 * x + rng.normal(0, 0.8, n_groups)[g] + rng.normal(0, 0.3, n_groups)[g] * x
    return pd.DataFrame({"y": y + rng.normal(0, 0.6, g.size), "x": x,
                         "z": 2000.0 + 3.0 * x, "g": [f"g{i}" for i in g]})


def _chunked_draws(x: np.ndarray, lay, per_chunk: int, seed: int) -> np.ndarray:
    """Every group effect's draws ``(chain, draw, effects)``, in the kernel's units, as
    effect_summaries draws them chunk by chunk: each chunk's normal deviates put at its
    effects' places in the whole layout (a level's conditional draw depends on its own
    deviates only), then one call of the kernel on the whole layout."""
    from mixedfit.fast.marginal import draw_effects as raw_draws

    chains, draws, _ = x.shape
    s_total = chains * draws
    n_levels = lay.blocks[0].m
    starts = np.cumsum([0] + [s.m * s.q for s in lay.blocks])
    eps = np.empty((s_total, lay.n_effects))
    for index, c0 in enumerate(range(0, n_levels, per_chunk)):
        c1 = min(c0 + per_chunk, n_levels)
        positions = np.concatenate([np.arange(start + c0 * s.q, start + c1 * s.q)
                                    for start, s in zip(starts, lay.blocks, strict=False)])
        rng = np.random.default_rng([seed, 2, index])
        eps[:, positions] = rng.standard_normal((s_total, positions.size))
    out = np.empty((s_total, lay.n_effects))
    raw_draws(np.ascontiguousarray(x.reshape(s_total, -1)), lay.buffer, eps, out)
    return out.reshape(chains, draws, -1)


@pytest.mark.parametrize("formula", ["y ~ x + (1 + x | g)", "y ~ x + (1 + x || g)",
                                     "y ~ z + (1 + z | g)"])
@pytest.mark.parametrize("per_chunk", [1, 4, 11])
def test_summaries_are_the_statistics_of_the_chunked_draws(formula, per_chunk, monkeypatch):
    data = _small_data()
    d = build_design(formula, data)
    family = mf.families.gaussian()
    lay = make_layout(d, family, resolve_priors(d, family, None), [False] * len(d.blocks),
                      marginal=True)
    chains, draws, seed = 2, 60, 9
    rng = np.random.default_rng(4)
    x = lay.initial_point(1) + rng.normal(0, 0.15, (chains, draws, lay.dim))
    k = lay.n_effects // lay.blocks[0].m
    monkeypatch.setattr(sampler, "SUMMARY_CHUNK", per_chunk * chains * draws * k)
    summary = sampler.effect_summaries(x.copy(), lay, d, seed)
    drawn = _chunked_draws(x, lay, per_chunk, seed)
    users = sampler.constrain(x.copy(), lay, d, effects=drawn)
    probs = np.array(names.SUMMARY_QUANTILES)
    col = {s: j for j, s in enumerate(names.SUMMARY_STATS)}
    for b in d.blocks:
        name = names.effects(b.label)
        dims, got = summary[name]
        assert dims == (names.level_dim(b.group), names.term_dim(b.label),
                        names.SUMMARY_STAT_DIM)
        u = users[name][1]  # (chain, draw, level, term), the user's scale
        assert got.shape == (b.n_levels, b.n_terms, len(names.SUMMARY_STATS))
        flat = u.reshape(chains * draws, b.n_levels, b.n_terms)
        np.testing.assert_allclose(got[..., col["mean"]], flat.mean(axis=0), rtol=1e-10,
                                   atol=1e-12)
        np.testing.assert_allclose(got[..., col["sd"]], flat.std(axis=0, ddof=1),
                                   rtol=1e-10)
        q = np.moveaxis(np.quantile(flat, probs, axis=0), 0, -1)
        np.testing.assert_allclose(got[..., col["q0.005"]:col["q0.995"] + 1], q,
                                   rtol=1e-10, atol=1e-12)
        # R-hat and ESS as mixedfit's own vectorised code computes them (ArviZ's, to
        # rounding); loosely: the folded draws of the tail R-hat tie in pairs around an
        # even count's median, and rounding (the effects mapped to the user's scale
        # chunk by chunk here, at once there) may order a tie either way
        r, bulk, tail = rhat_ess(u.reshape(chains, draws, -1))
        np.testing.assert_allclose(got[..., col["r_hat"]].ravel(), r, atol=2e-3)
        for key, ref in (("ess_bulk", bulk), ("ess_tail", tail)):
            np.testing.assert_allclose(got[..., col[key]].ravel(), ref, rtol=1e-6)
        quantiles = got[..., col["q0.005"]:col["q0.995"] + 1]
        assert np.all(np.diff(quantiles, axis=-1) >= 0)


def test_chunk_sizes_agree_within_monte_carlo_error(monkeypatch):
    d = build_design("y ~ x + (1 + x | g)", _small_data())
    family = mf.families.gaussian()
    lay = make_layout(d, family, resolve_priors(d, family, None), [False], marginal=True)
    x = lay.initial_point(1) + np.random.default_rng(5).normal(0, 0.1, (2, 400, lay.dim))
    out = {}
    for per_chunk in (1, 3, 11):
        monkeypatch.setattr(sampler, "SUMMARY_CHUNK", per_chunk * 2 * 400 * 2)
        out[per_chunk] = sampler.effect_summaries(x.copy(), lay, d, 9)["u(g)"][1]
    col = {s: j for j, s in enumerate(names.SUMMARY_STATS)}
    one = out[11]
    for many in (out[1], out[3]):
        assert not np.array_equal(many, one)  # other deviates
        bound = 5 * one[..., col["sd"]] * np.sqrt(2 / one[..., col["ess_bulk"]])
        assert np.all(np.abs(many[..., col["mean"]] - one[..., col["mean"]]) < bound)
        np.testing.assert_allclose(many[..., col["sd"]], one[..., col["sd"]], rtol=0.2)


# ----------------------------------------------------------------- the summarised fit
def test_the_fit_kept_summaries(pair):
    drawn, res = pair
    assert res.plan.effects_summarised and res.effects_summarised
    assert not drawn.plan.effects_summarised
    assert "u(Subject)" not in res.idata.posterior
    assert names.EFFECTS_SUMMARY in res.idata.groups()
    ds = getattr(res.idata, names.EFFECTS_SUMMARY)
    assert list(ds.coords[names.SUMMARY_STAT_DIM].values) == list(names.SUMMARY_STATS)
    assert res._chunks == [(0, 5), (5, 10), (10, 15), (15, 18)]  # several chunks
    assert not res.plan.log_likelihood and "log_likelihood" not in res.idata.groups()
    # the population draws are the same fit's
    np.testing.assert_array_equal(res.draws("fixed"), drawn.draws("fixed"))


def test_random_effects_agree_with_the_draws(pair):
    drawn, res = pair
    assert res.interval == drawn.interval == 0.94
    ours, theirs = res.random_effects["Subject"], drawn.random_effects["Subject"]
    assert ours.columns.equals(theirs.columns) and ours.index.equals(theirs.index)
    assert ours.attrs["interval"] == 0.94
    conv = res.diagnostics().parameters
    for term in ("Intercept", "Days"):
        a, b = ours[term], theirs[term]
        labels = [f"Subject {lev}: {term}" for lev in ours.index]
        bulk = conv.loc[labels, "ess_bulk"].to_numpy()
        tail = conv.loc[labels, "ess_tail"].to_numpy()
        sd = a["sd"].to_numpy()
        # the means: within 4 Monte Carlo standard errors of a difference
        assert np.all(np.abs(a["mean"] - b["mean"]).to_numpy() < 4 * sd * np.sqrt(2 / bulk))
        np.testing.assert_allclose(a["sd"], b["sd"], rtol=0.15)
        # the interval ends (the 3% and 97% quantiles): a quantile's Monte Carlo sd is
        # sqrt(p (1 - p) / ESS) / density, in sds for a normal posterior
        p = 0.03
        se = np.sqrt(2 * p * (1 - p) / tail) / stats.norm.pdf(stats.norm.ppf(p))
        for end in ("lower", "upper"):
            z = np.abs(a[end] - b[end]).to_numpy() / (sd * se)
            assert z.max() < 5, (term, end, z.max())
            assert z.mean() < 1.5  # (|N(0, 1)| has mean 0.8)
            assert np.mean(np.abs(a[end] - b[end]).to_numpy() / sd) < 0.2


def test_the_interval_is_one_of_the_kept(pair):
    _, res = pair
    assert kept_intervals() == [0.99, 0.95, 0.94, 0.9, 0.8, 0.5]
    ds = getattr(res.idata, names.EFFECTS_SUMMARY)["u(Subject)"]
    try:
        res.interval = 0.5
        table = res.random_effects["Subject"]
        np.testing.assert_array_equal(table[("Days", "lower")],
                                      ds.sel(stat="q0.25").values[:, 1])
        np.testing.assert_array_equal(table[("Days", "upper")],
                                      ds.sel(stat="q0.75").values[:, 1])
        res.interval = 0.89
        with pytest.raises(DrawsNotKeptError, match=r"0\.99, 0\.95, 0\.94, 0\.9, 0\.8, "
                                                    r"0\.5") as info:
            res.random_effects  # noqa: B018
        assert "res.interval = 0.89" in str(info.value)
    finally:
        res.interval = 0.94
    with pytest.raises(DrawsNotKeptError):
        describe_summary(ds.values, 0.6)


def test_summaries_are_ordered_and_sane(pair):
    _, res = pair
    s = getattr(res.idata, names.EFFECTS_SUMMARY)["u(Subject)"]
    q = s.sel(stat=[f"q{p:g}" for p in names.SUMMARY_QUANTILES]).values
    assert np.all(np.diff(q, axis=-1) > 0)
    mean, median = s.sel(stat="mean").values, s.sel(stat="q0.5").values
    assert np.all((s.sel(stat="q0.25").values < mean) & (mean < s.sel(stat="q0.75").values))
    assert np.all(np.abs(mean - median) < 0.2 * s.sel(stat="sd").values)
    n = OPTIONS["chains"] * OPTIONS["draws"]
    assert np.all((s.sel(stat="r_hat").values > 0.98) & (s.sel(stat="r_hat").values < 1.05))
    for key in ("ess_bulk", "ess_tail"):
        assert np.all((s.sel(stat=key).values > 100) & (s.sel(stat=key).values < 4 * n))


def test_diagnostics_count_the_group_effects(pair):
    drawn, res = pair
    diag = res.diagnostics()
    group = diag.parameters[diag.parameters["level"] == "group"]
    assert len(group) == 36
    s = getattr(res.idata, names.EFFECTS_SUMMARY)["u(Subject)"]
    np.testing.assert_array_equal(group["r_hat"], s.sel(stat="r_hat").values.ravel())
    np.testing.assert_array_equal(group["ess_tail"], s.sel(stat="ess_tail").values.ravel())
    assert group.index[0] == "Subject 308: Intercept"
    # the same rows as the fit with draws, to Monte Carlo error
    other = drawn.diagnostics().parameters.loc[group.index]
    assert np.all(np.abs(group["r_hat"] - other["r_hat"]) < 0.02)
    assert "Group effects (36), worst first" in diag.report().to_text()
    pop = diag.parameters[diag.parameters["level"] == "population"]
    pd.testing.assert_frame_equal(
        pop, drawn.diagnostics().parameters.loc[pop.index])


def test_group_problems_are_warned_from_the_summaries(pair):
    _, res = pair
    idata = res.idata.copy()
    ds = getattr(idata, names.EFFECTS_SUMMARY)
    values = ds["u(Subject)"].values.copy()
    values[3, 1, names.SUMMARY_STATS.index("r_hat")] = 1.2
    values[5, 0, names.SUMMARY_STATS.index("ess_bulk")] = 50.0
    ds["u(Subject)"] = (ds["u(Subject)"].dims, values)
    bad = MixedResult(design=res.design, family=res.family, priors=res.prior_set,
                      idata=idata, plan=res.plan)
    diag = diagnose(bad)
    text = " ".join(diag.problems)
    assert "Group effects: 1 with R-hat above 1.01 (worst Subject 330: Days, 1.200)" in text
    assert "1 with bulk or tail ESS below 400 (worst Subject 332: Intercept" in text
    assert "of 36 group effects" in text
    with pytest.warns(ConvergenceWarning, match="Group effects: 1 with R-hat"):
        warn_if_problems(diag)


def test_summary_says_summaries(pair):
    _, res = pair
    text = res.summary().to_text()
    line = next(ln for ln in text.splitlines() if ln.startswith("Group effects:"))
    assert "kept as summaries" in line
    assert "36 group effects x 1,000 draws would be 288 kB" in line
    assert "Tables that need their draws" in line and "not available" in line
    assert str(res) == text
    assert "<table" in res._repr_html_()
    # the population-level tables as the fit with draws
    ours = [ln for ln in text.splitlines() if not ln.startswith(("Group effects:",
                                                                 "Sampling:"))]
    theirs = [ln for ln in pair[0].summary().to_text().splitlines()
              if not ln.startswith(("Group effects:", "Sampling:"))]
    assert ours == theirs


def test_tidy_rows_from_the_summaries(pair):
    drawn, res = pair
    t = res.to_frame()
    assert t.columns.tolist() == drawn.to_frame().columns.tolist()
    vals = t[t["effect"] == "ran_vals"]
    assert len(vals) == 36
    table = res.random_effects["Subject"]
    days = vals[vals["term"] == "Days"]
    np.testing.assert_array_equal(days["estimate"], table[("Days", "mean")])
    np.testing.assert_array_equal(days["upper"], table[("Days", "upper")])
    s = getattr(res.idata, names.EFFECTS_SUMMARY)["u(Subject)"]
    np.testing.assert_array_equal(days["ess_bulk"], s.sel(stat="ess_bulk").values[:, 1])
    pd.testing.assert_frame_equal(t[t["effect"] != "ran_vals"],
                                  drawn.to_frame()[drawn.to_frame()["effect"] != "ran_vals"])
    doc = result_tables(res)
    assert doc["coefficients"] is None
    assert len(doc["random_effects"]["Subject"]) == 36
    json.dumps(doc, allow_nan=False)


def test_shrinkage_from_the_means(pair):
    drawn, res = pair
    ours, theirs = res.shrinkage, drawn.shrinkage
    assert ours.index.equals(theirs.index)
    pd.testing.assert_series_equal(ours["no_pooling"], theirs["no_pooling"])
    sd = res.random_effects["Subject"].stack("term", future_stack=True)["sd"]
    diff = (ours["partial_pooling"] - theirs["partial_pooling"]).abs()
    assert np.all(diff.to_numpy() < 0.3 * sd.reindex(diff.index.droplevel("group")).to_numpy())


def test_what_works_without_the_draws(pair):
    drawn, res = pair
    # population-level predictions, and those of new levels, need no fitted effects
    pd.testing.assert_frame_equal(res.predict(FITTED, include_random=False),
                                  drawn.predict(FITTED, include_random=False))
    pd.testing.assert_frame_equal(res.predict(NEW), drawn.predict(NEW))
    assert res.predict(NEW, kind="response").shape == (res.n_draws, 3)
    at = {"Days": [0, 9]}
    for inc in (False, "marginal"):
        pd.testing.assert_frame_equal(res.means("Days", at=at, include_random=inc),
                                      drawn.means("Days", at=at, include_random=inc))
    pd.testing.assert_frame_equal(res.slopes("Days", at="means"),
                                  drawn.slopes("Days", at="means"))
    pd.testing.assert_frame_equal(res.hypothesis(["Days > 5", "sigma < 30"]),
                                  drawn.hypothesis(["Days > 5", "sigma < 30"]))
    pd.testing.assert_frame_equal(res.variance_components, drawn.variance_components)


#: Each refused call, with the name its message must give.
REFUSED = [
    ("res.coefficients", lambda r: r.coefficients),
    ("res.draws('u(Subject)')", lambda r: r.draws("u(Subject)")),
    ("res.predict() for the fitted rows", lambda r: r.predict()),
    ("res.predict() for fitted levels of Subject", lambda r: r.predict(FITTED)),
    ("res.predict() for fitted levels of Subject",
     lambda r: r.predict(FITTED, kind="response")),
    ("res.log_likelihood_data()", lambda r: r.log_likelihood_data()),
    ("res.loo()", lambda r: r.loo()),
    ("res.waic()", lambda r: r.waic()),
    ("res.kfold()", lambda r: r.kfold(3, client="sequential", progressbar=False)),
    ("res.prior_sensitivity()", lambda r: r.prior_sensitivity()),
    ("res.posterior_predictive()", lambda r: r.posterior_predictive(10)),
    ("res.ppc_grouped()", lambda r: r.ppc_grouped("Subject")),
    ("res.means() with include_random=True",
     lambda r: r.means("Days", at={"Days": [0, 9]}, include_random=True)),
    ("res.means() with the fitted levels of Subject", lambda r: r.means("Subject")),
    ("res.contrasts() with include_random=True",
     lambda r: r.contrasts("Days", at={"Days": [0, 9]}, include_random=True)),
    ("res.slopes() with include_random=True", lambda r: r.slopes("Days", include_random=True)),
    ("res.to_frame() with effects='ran_coefs'", lambda r: r.to_frame("ran_coefs")),
    ("res.plot_caterpillar(coefficients=True)",
     lambda r: r.plot_caterpillar(coefficients=True)),
    ("res.plot_trace(var_names=['u(Subject)'])",
     lambda r: r.plot_trace(var_names=["u(Subject)"])),
    ("res.plot_ppc()", lambda r: r.plot_ppc()),
    ("res.plot_ppc_grouped()", lambda r: r.plot_ppc_grouped("Subject")),
    ("mf.compare() (of the fit 'a')", lambda r: mf.compare({"a": r, "b": r})),
]


@pytest.mark.parametrize(("what", "call"), REFUSED,
                         ids=[f"{w}-{i}" for i, (w, _) in enumerate(REFUSED)])
def test_refused_without_the_draws(pair, what, call):
    _, res = pair
    with pytest.raises(DrawsNotKeptError, match=re.escape(what)) as info:
        call(res)
    message = str(info.value)
    assert message.startswith(f"{what}")
    assert "needs the draws of the group effects" in message
    assert "36 group effects x 1,000 draws would be 288 kB (36,000 values, more than " \
           "mixedfit.plan.MAX_STORED_EFFECTS = 10)" in message
    assert "Available from the summaries: random_effects, plot_caterpillar()" in message
    assert "fit a subset of the levels of Subject" in message
    assert isinstance(info.value, mf.MixedFitError) and isinstance(info.value, ValueError)


def test_refusal_suggests_fewer_draws(pair, monkeypatch):
    _, res = pair
    monkeypatch.setattr(mixedfit.plan, "MAX_STORED_EFFECTS", 36 * 2 * 300 + 5)
    with pytest.raises(DrawsNotKeptError, match=re.escape(
            "fit again with fewer draws= or chains= (draws=300 at most with chains=2), "
            "or fit a subset of the levels of Subject")):
        res.coefficients  # noqa: B018


def test_nothing_refused_with_the_draws(pair):
    drawn, _ = pair
    mf.results.view.require_effect_draws(drawn, "res.loo()")
    assert not drawn.effects_summarised


def test_plots_from_the_summaries(pair):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    _, res = pair
    fig = res.plot_caterpillar()
    assert [a.get_title() for a in fig.axes] == ["Intercept", "Days"]
    # the dots are the summaries' means, sorted
    dots = np.sort(fig.axes[1].lines[-1].get_xdata())
    np.testing.assert_allclose(dots, np.sort(res.random_effects["Subject"][("Days", "mean")]))
    plt.close(fig)
    for fig in (res.plot_trace(), res.plot_shrinkage(), res.plot_variance_components(),
                res.plot_effects("Days")):
        assert fig.axes
        plt.close(fig)


def test_save_and_load_keep_the_summaries(pair, tmp_path):
    _, res = pair
    path = os.path.join(tmp_path, "summarised.nc")
    res.save(path)
    back = mf.load(path)
    assert back.plan.effects_summarised
    assert names.EFFECTS_SUMMARY in back.idata.groups()
    for group in ("Subject",):
        pd.testing.assert_frame_equal(back.random_effects[group], res.random_effects[group])
    pd.testing.assert_frame_equal(back.diagnostics().parameters, res.diagnostics().parameters)
    pd.testing.assert_frame_equal(back.to_frame(), res.to_frame())
    assert back.summary().to_text() == res.summary().to_text()
    with pytest.raises(DrawsNotKeptError, match=re.escape("res.coefficients")):
        back.coefficients  # noqa: B018


def test_out_of_core_and_summarised(pair):
    from tests.results.test_rowless import rowless_copy

    _, res = pair
    rowless = rowless_copy(res)
    assert names.EFFECTS_SUMMARY in rowless.idata.groups()
    pd.testing.assert_frame_equal(rowless.random_effects["Subject"],
                                  res.random_effects["Subject"])
    with pytest.raises(RowsNeededError, match=re.escape("res.loo() needs the data rows")) \
            as info:
        rowless.loo()
    assert "coefficients" not in str(info.value)  # (not offered: it needs the draws)
    with pytest.raises(DrawsNotKeptError, match=re.escape("res.coefficients")):
        rowless.coefficients  # noqa: B018
    with pytest.raises(DrawsNotKeptError, match=re.escape("fitted levels of Subject")):
        rowless.predict(FITTED)
    pd.testing.assert_frame_equal(rowless.predict(NEW), res.predict(NEW))
