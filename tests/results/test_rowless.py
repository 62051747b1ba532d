"""A result fitted out of core keeps no data rows: what needs them refuses with
RowsNeededError at entry, naming itself; everything else gives the same values as the
result with rows.

The rowless result is the short sleepstudy fit with its design's rows emptied, as an
out-of-core design has them (``design.stats`` set, ``has_rows`` False), and its
``idata`` without ``observed_data`` and ``log_likelihood``.
"""

from __future__ import annotations

import dataclasses
import io
import json
import re
import types

import numpy as np
import pandas as pd
import pytest

import mixedfit as mf
from mixedfit.api import MixedResult
from mixedfit.errors import RowsNeededError
from mixedfit.results.tidy import result_tables
from mixedfit.results.view import AVAILABLE_WITHOUT_ROWS

NEW = pd.DataFrame({"Days": [0.0, 4.5, 9.0], "Subject": ["308", "372", "new"]})


def rowless_copy(res: MixedResult) -> MixedResult:
    """``res`` as an out-of-core fit would make it: no rows, no observed data."""
    import arviz as az

    d = res.design
    design = dataclasses.replace(
        d, y=np.zeros(0), X=np.zeros((0, len(d.fixed_columns))), data=d.data.iloc[:0],
        blocks=[dataclasses.replace(b, Z=np.zeros((0, b.n_terms)), index=np.zeros(0, int),
                                    _counts=b.counts) for b in d.blocks],
        stats=types.SimpleNamespace(n=d.n_obs, partitions=3, source="a test"))
    idata = az.InferenceData(**{g: getattr(res.idata, g) for g in res.idata.groups()
                                if g not in ("observed_data", "log_likelihood")})
    out = MixedResult(design=design, family=res.family, priors=res.prior_set, idata=idata,
                      plan=res.plan)
    # the standardization is computed from the rows (or, for a real out-of-core design,
    # from design.stats): give the copy the original's
    out._draw_cache["_standardization"] = res.standardization
    return out


@pytest.fixture(scope="module")
def pair(sleep_quick):
    return sleep_quick, rowless_copy(sleep_quick)


#: Each refused call, with the name its message must give.
REFUSED = [
    ("res.loo()", lambda r: r.loo()),
    ("res.waic()", lambda r: r.waic()),
    ("res.log_likelihood_data()", lambda r: r.log_likelihood_data()),
    ("res.prior_sensitivity()", lambda r: r.prior_sensitivity()),
    ("res.posterior_predictive()", lambda r: r.posterior_predictive(10)),
    ("res.ppc_grouped()", lambda r: r.ppc_grouped("Subject")),
    ("res.shrinkage", lambda r: r.shrinkage),
    ("res.predict() without newdata", lambda r: r.predict()),
    ("res.predict() without newdata", lambda r: r.predict(kind="response")),
    ("res.means()", lambda r: r.means("Days", at={"Days": [0, 9]})),
    ("res.contrasts()", lambda r: r.contrasts("Days", at={"Days": [0, 9]})),
    ("res.slopes()", lambda r: r.slopes("Days")),
    ("res.kfold()", lambda r: r.kfold(3, client="sequential", progressbar=False)),
    ("res.refit()", lambda r: r.refit(draws=10)),
    ("res.to_bambi()", lambda r: r.to_bambi()),
    ("res.plot_ppc()", lambda r: r.plot_ppc()),
    ("res.plot_ppc_grouped()", lambda r: r.plot_ppc_grouped("Subject")),
    ("res.plot_shrinkage()", lambda r: r.plot_shrinkage()),
    ("res.plot_effects()", lambda r: r.plot_effects("Days")),
    ("res.plot_contrasts()", lambda r: r.plot_contrasts("Days", at={"Days": [0, 9]})),
    ("res.plot_ppc()", lambda r: mf.plots.plot_ppc(r)),
    ("mf.compare() (of the fit 'a')", lambda r: mf.compare({"a": r, "b": r})),
]


@pytest.mark.parametrize(("what", "call"), REFUSED, ids=[f"{w}-{i}" for i, (w, _) in
                                                          enumerate(REFUSED)])
def test_refused_without_rows(pair, what, call):
    _, rowless = pair
    with pytest.raises(RowsNeededError, match=re.escape(what)) as info:
        call(rowless)
    message = str(info.value)
    assert message.startswith(f"{what} needs the data rows")
    assert "180 rows (a test)" in message
    assert "Available without rows: " + ", ".join(AVAILABLE_WITHOUT_ROWS) in message
    assert isinstance(info.value, mf.MixedFitError) and isinstance(info.value, ValueError)


def test_nothing_refused_with_rows(pair):
    res, _ = pair  # (the helper is silent for a result with its rows)
    mf.results.view.require_rows(res, "res.loo()")


def test_refusal_is_before_any_computation(pair, monkeypatch):
    _, rowless = pair
    from mixedfit import api

    def boom(*args, **kwargs):
        raise AssertionError("refits started")

    monkeypatch.setattr(api, "run_tasks", boom)
    monkeypatch.setattr(api, "fit", boom)
    with pytest.raises(RowsNeededError):
        rowless.kfold(3, client="sequential")
    with pytest.raises(RowsNeededError):
        rowless.refit()
    assert "log_likelihood" not in rowless.idata.groups()


def test_tables_equal_the_original(pair):
    res, rowless = pair
    pd.testing.assert_frame_equal(rowless.fixed_effects, res.fixed_effects)
    pd.testing.assert_frame_equal(rowless.variance_components, res.variance_components)
    pd.testing.assert_frame_equal(rowless.family_parameters, res.family_parameters)
    pd.testing.assert_series_equal(rowless.sigma, res.sigma)
    pd.testing.assert_frame_equal(rowless.priors, res.priors)
    for group in ("Subject",):
        pd.testing.assert_frame_equal(rowless.random_effects[group], res.random_effects[group])
        pd.testing.assert_frame_equal(rowless.coefficients[group], res.coefficients[group])
    pd.testing.assert_frame_equal(rowless.to_frame(["fixed", "ran_pars", "ran_vals",
                                                    "ran_coefs"]),
                                  res.to_frame(["fixed", "ran_pars", "ran_vals", "ran_coefs"]))
    np.testing.assert_array_equal(rowless.draws("fixed"), res.draws("fixed"))
    assert rowless.n_obs == res.n_obs == 180
    np.testing.assert_array_equal(rowless.log_prior(), res.log_prior())


def test_hypothesis_and_diagnostics_equal_the_original(pair):
    res, rowless = pair
    hyps = ["Days > 5", "Intercept = 250", "sigma < 30"]
    pd.testing.assert_frame_equal(rowless.hypothesis(hyps), res.hypothesis(hyps))
    d0, d1 = res.diagnostics(), rowless.diagnostics()
    pd.testing.assert_frame_equal(d1.parameters, d0.parameters)
    assert (d1.problems, d1.singular, d1.divergences) == (d0.problems, d0.singular,
                                                          d0.divergences)


def test_predict_on_new_data_equals_the_original(pair):
    res, rowless = pair
    pd.testing.assert_frame_equal(rowless.predict(NEW), res.predict(NEW))
    for kind in ("draws", "response"):
        np.testing.assert_array_equal(rowless.predict(NEW, kind=kind, random_seed=4),
                                      res.predict(NEW, kind=kind, random_seed=4))
    pd.testing.assert_frame_equal(rowless.predict(NEW, include_random=False),
                                  res.predict(NEW, include_random=False))
    pd.testing.assert_frame_equal(rowless.predict(NEW, parameter="sigma"),
                                  res.predict(NEW, parameter="sigma"))


def test_level_counts_come_from_the_statistics(pair):
    res, rowless = pair
    block = rowless.design.blocks[0]
    assert block.index.size == 0
    np.testing.assert_array_equal(block.counts, res.design.blocks[0].counts)
    assert block.counts.sum() == 180


def test_summary_renders_with_the_row_count(pair):
    res, rowless = pair
    text = rowless.summary().to_text()
    assert "Data: 180 observations, out of core (a test; no rows kept); " \
           "groups: Subject, 18" in text
    assert str(rowless) == text
    assert "<table" in rowless._repr_html_()
    assert "180 obs" in repr(rowless)
    # every other line as the original's
    ours = [line for line in text.splitlines() if not line.startswith("Data:")]
    theirs = [line for line in res.summary().to_text().splitlines()
              if not line.startswith("Data:")]
    assert ours == theirs


def test_json_tables_leave_out_shrinkage(pair):
    _, rowless = pair
    doc = result_tables(rowless)
    assert doc["shrinkage"] is None
    assert doc["model"]["n_obs"] == 180
    json.dumps(doc, allow_nan=False)


def test_plots_without_rows(pair):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    _, rowless = pair
    for fig in (rowless.plot_trace(), rowless.plot_caterpillar(),
                rowless.plot_caterpillar(coefficients=True),
                rowless.plot_variance_components()):
        assert fig.axes
        plt.close(fig)


def test_cli_output_of_a_rowless_result(pair):
    from mixedfit import cli

    _, rowless = pair
    out = io.StringIO()
    cli._print_result(rowless, "text", out)
    assert "out of core" in out.getvalue()
    out = io.StringIO()
    cli._print_result(rowless, "json", out)
    assert json.loads(out.getvalue())["shrinkage"] is None
