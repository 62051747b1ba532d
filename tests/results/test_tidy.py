"""Tidy output: ``res.to_frame()`` / ``res.tidy()`` rows agree with the result's tables."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import mixedfit as mf
from mixedfit.results.tidy import EFFECTS, TIDY_COLUMNS, result_tables
from tests.conftest import QUICK

STATS = {"mean": "estimate", "sd": "std_error", "lower": "lower", "upper": "upper"}


def _values(rows: pd.DataFrame) -> np.ndarray:
    return rows[list(STATS.values())].to_numpy(dtype=float)


def test_columns_and_default_effects(sleep_quick):
    t = sleep_quick.to_frame()
    assert t.columns.tolist() == TIDY_COLUMNS
    assert list(dict.fromkeys(t["effect"])) == ["fixed", "ran_pars", "ran_vals"]
    assert t.equals(sleep_quick.tidy())
    assert t.attrs["interval"] == sleep_quick.interval
    n_levels = sleep_quick.random_effects["Subject"].shape[0]
    assert len(t) == 2 + 4 + 2 * n_levels


def test_fixed_rows_match_fixed_effects(sleep_quick):
    t = sleep_quick.to_frame("fixed")
    fe = sleep_quick.fixed_effects
    assert t["term"].tolist() == fe.index.tolist()
    assert t["group"].isna().all() and t["level"].isna().all()
    np.testing.assert_array_equal(_values(t), fe[list(STATS)].to_numpy())
    np.testing.assert_array_equal(t["r_hat"], fe["r_hat"])
    np.testing.assert_array_equal(t["ess_bulk"], fe["ess_bulk"])


def test_ran_pars_rows_match_variance_components(sleep_quick):
    t = sleep_quick.to_frame("ran_pars")
    vc = sleep_quick.variance_components
    keys = [k for k in vc.index if not k[1].startswith("var")]
    assert list(zip(t["group"], t["term"], strict=True)) == keys
    np.testing.assert_allclose(_values(t), vc.loc[keys, list(STATS)].to_numpy(), rtol=1e-12)
    # convergence columns agree with the diagnostics table of the same parameters
    diag = sleep_quick.diagnostics().parameters
    names = {"sd(Intercept)": "Subject: sd(Intercept)", "sd(Days)": "Subject: sd(Days)",
             "cor(Intercept,Days)": "Subject: cor(Intercept,Days)", "sd": "sigma"}
    for _, row in t.iterrows():
        d = diag.loc[names[row["term"]]]
        assert row["r_hat"] == pytest.approx(d["r_hat"], rel=1e-9)
        assert row["ess_bulk"] == pytest.approx(d["ess_bulk"], rel=1e-9)


@pytest.mark.parametrize(("effect", "table"), [("ran_vals", "random_effects"),
                                                ("ran_coefs", "coefficients")])
def test_group_rows_match_group_tables(sleep_quick, effect, table):
    t = sleep_quick.to_frame(effect)
    tab = getattr(sleep_quick, table)["Subject"]
    assert set(t["effect"]) == {effect} and set(t["group"]) == {"Subject"}
    for term in ("Intercept", "Days"):
        rows = t[t["term"] == term]
        assert rows["level"].tolist() == [str(v) for v in tab.index]
        np.testing.assert_array_equal(_values(rows), tab[term][list(STATS)].to_numpy())
    if effect == "ran_vals":
        diag = sleep_quick.diagnostics().parameters
        first = t.iloc[0]
        d = diag.loc[f"Subject {first['level']}: {first['term']}"]
        assert first["r_hat"] == pytest.approx(d["r_hat"], rel=1e-9)


def test_family_rows_and_interval(fit_cache):
    res = fit_cache("Reaction ~ Days + (1 | Subject)", mf.load_dataset("sleepstudy"),
                    key="tidy-t", family="t", **QUICK)
    t = res.to_frame()
    fam = t[t["effect"] == "family"]
    assert fam["term"].tolist() == ["nu"]  # sigma is the Residual sd of ran_pars
    np.testing.assert_array_equal(_values(fam), res.family_parameters.loc[["nu"], list(STATS)])
    assert t[(t["group"] == "Residual")]["term"].tolist() == ["sd"]
    old = res.interval
    try:
        res.interval = 0.5
        narrow = res.to_frame("fixed")
        assert (narrow["upper"] - narrow["lower"] < t[t.effect == "fixed"]["upper"]
                - t[t.effect == "fixed"]["lower"]).all()
    finally:
        res.interval = old


def test_effect_selection_and_errors(sleep_quick):
    both = sleep_quick.to_frame(["ran_vals", "fixed"])
    assert list(dict.fromkeys(both["effect"])) == ["fixed", "ran_vals"]  # canonical order
    assert len(sleep_quick.to_frame(list(EFFECTS))) > len(sleep_quick.to_frame())
    with pytest.raises(mf.OptionError, match="Unknown effects"):
        sleep_quick.to_frame("random")


def test_result_tables_is_plain_json(sleep_quick):
    doc = result_tables(sleep_quick)
    text = json.dumps(doc, allow_nan=False)
    back = json.loads(text)
    assert back["model"]["formula"] == "Reaction ~ Days + (Days | Subject)"
    assert [r["term"] for r in back["fixed_effects"]] == ["Intercept", "Days"]
    assert len(back["random_effects"]["Subject"]) == 2 * 18
    assert back["sigma"]["mean"] == pytest.approx(sleep_quick.sigma["mean"])
    assert len(back["tidy"]) == len(sleep_quick.to_frame())
    assert back["diagnostics"]["divergences"] >= 0
