"""The ``mixedfit`` command line, run in-process through ``main(argv)``."""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mixedfit as mf
from mixedfit.cli import main

SHORT = ["--draws", "100", "--tune", "100", "--chains", "2", "--seed", "1", "--no-progress"]
ROOT = Path(__file__).resolve().parents[2]


def run(argv: list[str]) -> tuple[int, str]:
    out = io.StringIO()
    code = main(argv, stdout=out)
    return code, out.getvalue()


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> tuple[Path, dict]:
    """A bundled-data fit printed as JSON and saved with --output."""
    path = tmp_path_factory.mktemp("cli") / "dyestuff.nc"
    code, out = run(["fit", "Yield ~ 1 + (1 | Batch)", "--data", "dyestuff", *SHORT,
                     "--format", "json", "--output", str(path)])
    assert code == 0
    return path, json.loads(out)


def test_fit_bundled_json_and_output(saved):
    path, doc = saved
    assert path.is_file()
    assert doc["model"]["formula"] == "Yield ~ 1 + (1 | Batch)"
    assert doc["model"]["info"]["draws"] == 100 and doc["model"]["info"]["chains"] == 2
    assert [r["term"] for r in doc["fixed_effects"]] == ["Intercept"]
    assert len(doc["random_effects"]["Batch"]) == 6
    assert {r["effect"] for r in doc["tidy"]} == {"fixed", "ran_pars", "ran_vals"}


def test_show_saved_result_every_format(saved):
    path, doc = saved
    code, text = run(["show", str(path)])
    assert code == 0
    assert "Formula: Yield ~ 1 + (1 | Batch)" in text and "Fixed effects" in text
    code, out = run(["show", str(path), "--format", "json"])
    assert code == 0 and json.loads(out) == doc
    code, out = run(["show", str(path), "--format", "csv"])
    assert code == 0
    table = pd.read_csv(io.StringIO(out))
    assert table.columns.tolist() == ["effect", "group", "term", "level", "estimate",
                                      "std_error", "lower", "upper", "r_hat", "ess_bulk"]
    assert len(table) == len(doc["tidy"])
    assert table["estimate"].iloc[0] == pytest.approx(doc["fixed_effects"][0]["mean"])


def test_fit_csv_file_text(tmp_path):
    path = tmp_path / "sleep.csv"
    mf.load_dataset("sleepstudy").to_csv(path, index=False)
    code, out = run(["fit", "Reaction ~ Days + (1 | Subject)", "--data", str(path), *SHORT])
    assert code == 0
    assert "Formula: Reaction ~ Days + (1 | Subject)" in out
    assert "Data: 180 observations; groups: Subject, 18" in out


def test_fit_parquet_file_csv_format(tmp_path):
    pytest.importorskip("pyarrow")
    path = tmp_path / "cbpp.parquet"
    mf.load_dataset("cbpp").to_parquet(path)
    code, out = run(["fit", "cbind(incidence, size - incidence) ~ period + (1 | herd)",
                     "--data", str(path), "--family", "binomial", *SHORT, "--format", "csv"])
    assert code == 0
    table = pd.read_csv(io.StringIO(out))
    fixed = table[table["effect"] == "fixed"]["term"].tolist()
    assert fixed == ["Intercept", "period[2]", "period[3]", "period[4]"]
    assert (table["effect"] == "ran_vals").sum() == 15


@pytest.mark.parametrize("fmt", ["text", "csv", "json"])
def test_datasets(fmt):
    code, out = run(["datasets", "--format", fmt])
    assert code == 0
    if fmt == "json":
        assert "sleepstudy" in [d["name"] for d in json.loads(out)]
    elif fmt == "csv":
        assert set(mf.list_datasets().index) == set(pd.read_csv(io.StringIO(out))["name"])
    else:
        assert "sleepstudy" in out and "model: Reaction ~ Days + (Days | Subject)" in out


@pytest.mark.parametrize(("argv", "message"), [
    (["fit", "Reaction ~ Days + (Days | Subject", "--data", "sleepstudy"], "Unmatched '\\('"),
    (["fit", "Reaction ~ Days + (1 | Subject)", "--data", "no/such/file.csv"],
     "does not exist"),
    (["fit", "Reaction ~ Days + (1 | Subject)", "--data", "nosuchdata"],
     "neither a data file nor a bundled data set"),
    (["fit", "Reaction ~ Dayz + (1 | Subject)", "--data", "sleepstudy"],
     r"Column 'Dayz' used in the formula is not in the data\. Did you mean 'Days'\?"),
    (["fit", "Reaction ~ Days + (1 | Subject)", "--data", "sleepstudy", "--family", "gausian"],
     "Unknown family"),
    (["fit", "Reaction ~ Days + (1 | Subject)", "--data", "sleepstudy", "--draws", "0"],
     "draws must be an integer"),
    (["fit", "Reaction ~ log(Subject) + (1 | Subject)", "--data", "sleepstudy"],
     "(?i)could not (evaluate|be built)"),
    (["show", "no_such_result.nc"], "does not exist"),
    (["fit", "Reaction ~ Days + (1 | Subject)", "--data", "sleepstudy", "--categories", "a,b"],
     "lists the categories of a categorical"),
    (["fit", "Reaction ~ Days + (1 | Subject)", "--data", "sleepstudy", "--alpha", "~ Days"],
     "gaussian family's parameters are: sigma"),
])
def test_errors_exit_2_with_a_message(argv, message, capsys):
    code, out = run(argv)
    err = capsys.readouterr().err
    assert code == 2
    assert out == ""
    assert err.startswith("mixedfit: error: ") and re.search(message, err)
    assert "Traceback" not in err


def test_code_in_a_formula_is_refused(capfd):
    code, _ = run(["fit", 'Reaction ~ __import__("os").system("echo hi") + (1 | Subject)',
                   "--data", "sleepstudy"])
    captured = capfd.readouterr()
    assert code == 2
    assert "'__import__' is not allowed" in captured.err
    assert "hi" not in captured.out


def test_show_refuses_a_foreign_file(tmp_path, capsys):
    path = tmp_path / "data.csv"
    path.write_text("a,b\n1,2\n")
    code, _ = run(["show", str(path)])
    assert code == 2
    assert "not a result saved by mixedfit" in capsys.readouterr().err


def test_usage_errors_and_help(capsys):
    assert run([])[0] == 2  # no command
    assert run(["fit", "y ~ x"])[0] == 2  # --data missing
    assert run(["fit", "--help"])[0] == 0
    assert "--format {text,json,csv}" in capsys.readouterr().out


def test_python_m_mixedfit_help():
    out = subprocess.run([sys.executable, "-m", "mixedfit", "--help"], capture_output=True,
                         text=True, cwd=ROOT, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("usage: mixedfit")
    for command in ("fit", "datasets", "show"):
        assert command in out.stdout


def test_fit_with_a_sigma_formula_and_an_ordinal_response(tmp_path):
    code, out = run(["fit", "Reaction ~ Days + (1 | Subject)", "--data", "sleepstudy",
                     "--sigma", "~ Days", *SHORT])
    assert code == 0
    assert "sigma ~ Days (link: log)" in out and "sigma_Days" in out
    path = tmp_path / "ratings.csv"
    pd.DataFrame({"r": ["low", "mid", "high", "mid", "low", "high", "mid", "low"] * 3,
                  "x": np.arange(24.0) % 5, "g": list("abcd") * 6}).to_csv(path, index=False)
    code, out = run(["fit", "r ~ x + (1 | g)", "--data", str(path), "--family", "cumulative",
                     "--categories", "low,mid,high", *SHORT])
    assert code == 0
    assert "categories low < mid < high" in out and "Intercept[2]" in out


@pytest.fixture(scope="module")
def saved_cbpp(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "cbpp.nc"
    code, _ = run(["fit", "cbind(incidence, size - incidence) ~ period + (1 | herd)",
                   "--data", "cbpp", "--family", "binomial", *SHORT, "--output", str(path),
                   "--format", "csv"])
    assert code == 0
    return path


def test_means_contrasts_and_slopes_of_a_saved_fit(saved_cbpp):
    res = mf.load(saved_cbpp)
    code, text = run(["means", str(saved_cbpp), "period"])
    assert code == 0
    assert text.startswith("Estimated marginal means of period (response scale")
    code, out = run(["means", str(saved_cbpp), "period", "--format", "csv"])
    table = pd.read_csv(io.StringIO(out))
    expected = res.means("period")
    assert table["period"].tolist() == [1, 2, 3, 4]
    np.testing.assert_allclose(table["mean"], expected["mean"], rtol=1e-7)
    code, out = run(["contrasts", str(saved_cbpp), "period", "--method", "trt.vs.ctrl",
                     "--scale", "response", "--format", "json"])
    rows = json.loads(out)
    assert code == 0 and [r["contrast"] for r in rows] == [
        "period2 / period1", "period3 / period1", "period4 / period1"]
    assert rows[0]["mean"] == pytest.approx(
        res.contrasts("period", method="trt.vs.ctrl", scale="response")["mean"][0])
    code, out = run(["means", str(saved_cbpp), "period", "--at", "period=1,4",
                     "--random", "marginal", "--format", "csv"])
    assert code == 0 and len(pd.read_csv(io.StringIO(out))) == 2


def test_effect_commands_explain_bad_input(saved_cbpp, capsys):
    assert run(["slopes", str(saved_cbpp), "period"])[0] == 2
    assert "a slope needs a numeric predictor" in capsys.readouterr().err
    assert run(["means", str(saved_cbpp), "perod"])[0] == 2
    assert "Did you mean 'period'" in capsys.readouterr().err
    assert run(["means", str(saved_cbpp), "period", "--at", "period"])[0] == 2
    assert "VARIABLE=V1,V2" in capsys.readouterr().err
