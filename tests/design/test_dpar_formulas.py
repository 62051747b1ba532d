"""A family parameter's own formula (``sigma=``, ``zi=``...): the design it builds and
the errors, before any sampling."""

from __future__ import annotations

import numpy as np
import pytest

import mixedfit as mf
from mixedfit.design import build_design
from mixedfit.priors import resolve_priors
from mixedfit.spec import make_spec

SLEEP = "Reaction ~ Days + (Days | Subject)"


def test_columns_blocks_and_priors_of_a_sigma_formula():
    df = mf.load_dataset("sleepstudy")
    spec = make_spec(SLEEP, df, dpars={"sigma": "~ Days + (1 | Subject)"})
    d = spec.design
    assert d.fixed_columns == ["Intercept", "Days", "sigma_Intercept", "sigma_Days"]
    assert d.fixed_targets == ["", "", "sigma", "sigma"]
    assert [(b.label, b.group, b.columns, b.target) for b in d.blocks] == [
        ("Subject", "Subject", ["Intercept", "Days"], ""),
        ("sigma_Subject", "Subject", ["sigma_Intercept"], "sigma")]
    np.testing.assert_array_equal(d.x_for(df.head(2), "sigma"), [[1.0, 0.0], [1.0, 1.0]])
    np.testing.assert_array_equal(d.x_for(df.head(2)), [[1.0, 0.0], [1.0, 1.0]])
    pri = spec.priors
    assert "sigma" not in pri  # no single sigma: its intercept and slope instead
    assert pri["sigma_Intercept"].kind.name == "Normal"
    assert pri["sigma_Intercept"].values == {"mu": pytest.approx(
        np.log(df["Reaction"].std(ddof=0))), "sigma": 2.5}
    assert pri["sd(sigma_Intercept|Subject)"] == mf.Prior("HalfNormal", sigma=1.0)
    # the user's data are not modified, and "~" may be left out
    again = build_design(SLEEP, df, dpars={"sigma": "Days"})
    assert again.dpar_formulas == {"sigma": "~ Days"}


def test_priors_on_the_formulas_coefficients_by_name():
    df = mf.load_dataset("sleepstudy")
    d = build_design(SLEEP, df, dpars={"sigma": "~ Days"})
    fam = mf.families.gaussian()
    pri = resolve_priors(d, fam, {"sigma_Days": mf.Prior("Normal", mu=0, sigma=0.1)})
    assert pri["sigma_Days"].values["sigma"] == 0.1
    with pytest.raises(mf.PriorError, match="names no parameter"):
        resolve_priors(d, fam, {"sigma": mf.Prior("HalfNormal", sigma=1)})


@pytest.mark.parametrize(("kwargs", "error", "message"), [
    ({"family": "poisson", "dpars": {"sigma": "~ Days"}}, mf.OptionError,
     "poisson family's parameters are: none"),
    ({"dpars": {"alpha": "~ Days"}}, mf.OptionError, "gaussian family's parameters are: sigma"),
    ({"dpars": {"sigma": "~ Days + offset(Days)"}}, mf.FormulaError, "offset"),
    ({"dpars": {"sigma": "~ Dayz"}}, mf.DataError, "Did you mean 'Days'"),
    ({"dpars": {"sigma": 3}}, mf.OptionError, "one-sided formula as text"),
    ({"dpars": {"sigma": "~ Days"}, "se": "Days"}, mf.OptionError, "cannot be combined"),
])
def test_errors_name_the_parameter_and_the_fix(kwargs, error, message):
    df = mf.load_dataset("sleepstudy").assign(Days=lambda f: f["Days"] + 1.0)
    with pytest.raises(error, match=message):
        make_spec("Reaction ~ Days + (1 | Subject)", df, **kwargs)


def test_the_bambi_backend_refuses_them():
    with pytest.raises(mf.OptionError, match="bambi.*formula for sigma"):
        mf.fit("Reaction ~ Days + (1 | Subject)", mf.load_dataset("sleepstudy"),
               sigma="~ Days", backend="bambi", draws=10, tune=10)
