"""Design matrices, data handling and the errors raised before any sampling."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import mixedfit as mf
from mixedfit.design import MissingDataWarning, build_design
from tests.conftest import forbid_sampling


def test_group_effects_use_an_index_not_a_dense_matrix():
    d = build_design("Reaction ~ Days + (Days | Subject)", mf.load_dataset("sleepstudy"))
    block = d.blocks[0]
    assert block.Z.shape == (180, 2)  # the block's own columns, not 180 x 18 indicators
    assert block.index.shape == (180,) and block.index.dtype.kind == "i"
    assert block.levels[:2] == ["308", "309"]
    assert np.array_equal(block.counts, np.full(18, 10))


def test_nested_group_levels_and_counts():
    d = build_design("strength ~ 1 + (1 | batch/cask)", mf.load_dataset("pastes"))
    assert [b.group for b in d.blocks] == ["batch", "batch:cask"]
    inner = d.blocks[1]
    assert inner.n_levels == 30 and inner.levels[:3] == ["A:a", "A:b", "A:c"]
    assert (inner.counts == 2).all()


def test_integer_grouping_column_is_a_category():
    df = pd.DataFrame({"y": np.arange(8.0), "g": [1, 1, 2, 2, 10, 10, 3, 3]})
    d = build_design("y ~ 1 + (1 | g)", df)
    assert d.blocks[0].levels == ["1", "2", "3", "10"]  # numeric order, like R factors


def test_transforms_offsets_and_interactions():
    df = mf.load_dataset("sleepstudy")
    d = build_design("log(Reaction) ~ scale(Days) + I(Days**2) + offset(Days) + (1 | Subject)",
                     df)
    np.testing.assert_allclose(d.y, np.log(df["Reaction"]))
    assert d.fixed_columns == ["Intercept", "scale(Days)", "I(Days**2)"]  # as written
    np.testing.assert_allclose(d.offset, df["Days"])
    d2 = build_design("Reaction ~ 0 + C(Days) + (1 | Subject)", df)
    assert len(d2.fixed_columns) == 10 and not d2.has_intercept


def test_several_terms_on_one_factor():
    d = build_design("Reaction ~ Days + (1 | Subject) + (0 + Days | Subject)",
                     mf.load_dataset("sleepstudy"))
    assert [b.label for b in d.blocks] == ["Subject", "Subject.1"]
    assert list(d.groups) == ["Subject"]


def test_missing_rows_dropped_with_warning_and_input_untouched():
    df = mf.load_dataset("sleepstudy")
    df.loc[[0, 5], "Reaction"] = np.nan
    before = df.copy()
    with pytest.warns(MissingDataWarning, match="Dropped 2 of 180 rows"):
        d = build_design("Reaction ~ Days + (1 | Subject)", df)
    assert d.n_obs == 178 and d.n_dropped == 2
    pd.testing.assert_frame_equal(df, before)


def test_missing_column_suggests_closest_name():
    with pytest.raises(mf.DataError, match="'Day'.*Did you mean 'Days'"):
        build_design("Reaction ~ Day + (1 | Subject)", mf.load_dataset("sleepstudy"))


def test_non_numeric_response_is_refused():
    df = mf.load_dataset("sleepstudy").assign(r=lambda d: np.where(d.Days > 4, "hi", "lo"))
    with pytest.raises(mf.DataError, match="not numeric"):
        build_design("r ~ Days + (1 | Subject)", df)


def test_single_level_grouping_factor_is_refused():
    df = mf.load_dataset("sleepstudy").assign(one="a")
    with pytest.raises(mf.DataError, match="only 1 level"):
        build_design("Reaction ~ Days + (1 | one)", df)


def test_formula_without_response_is_refused():
    with pytest.raises(mf.FormulaError, match="no response"):
        build_design("~ Days + (1 | Subject)", mf.load_dataset("sleepstudy"))


def test_empty_data_and_wrong_type():
    with pytest.raises(mf.DataError, match="empty"):
        build_design("y ~ x", pd.DataFrame({"y": [], "x": []}))
    with pytest.raises(mf.InputTypeError, match="DataFrame"):
        build_design("y ~ x", [[1, 2], [3, 4]])
    d = build_design("y ~ x + (1 | g)", {"y": [1.0, 2, 3, 4], "x": [1.0, 2, 3, 5],
                                         "g": ["a", "a", "b", "b"]})
    assert d.n_obs == 4


def test_same_term_twice_on_one_factor_is_refused():
    with pytest.raises(mf.FormulaError, match="more than one random-effect term"):
        build_design("Reaction ~ Days + (1 | Subject) + (Days | Subject)",
                     mf.load_dataset("sleepstudy"))


@pytest.mark.parametrize("kwargs, match", [
    ({"family": "quasi"}, "Unknown family"),
    ({"sampler": "gibbs"}, "Unknown sampler"),
    ({"backend": "jax"}, "Unknown backend"),
    ({"backend": "compiled", "sampler": "pymc"}, "runs on nutpie"),
    ({"draws": 0}, "draws must be"),
    ({"chains": 1.5}, "chains must be"),
    ({"interval": 2}, "interval"),
    ({"priors": {"Dayz": mf.Prior("Normal", mu=0, sigma=1)}}, "names no parameter"),
    ({"priors": {"cor(Subject)": mf.Prior("Normal", mu=0, sigma=1)}}, "LKJ"),
    ({"priors": {"Days": 3}}, "must be a mixedfit.Prior"),
])
def test_bad_options_fail_before_sampling(kwargs, match, monkeypatch):
    forbid_sampling(monkeypatch)  # sampling must never start
    with pytest.raises(mf.MixedFitError, match=match):
        mf.fit("Reaction ~ Days + (Days | Subject)", mf.load_dataset("sleepstudy"), **kwargs)


def test_errors_are_value_errors():
    for cls in (mf.FormulaError, mf.DataError, mf.PriorError, mf.FamilyError, mf.OptionError):
        assert issubclass(cls, mf.MixedFitError) and issubclass(cls, ValueError)
    assert issubclass(mf.InputTypeError, TypeError)


def test_load_dataset():
    for name in ["sleepstudy", "dyestuff", "penicillin", "pastes", "cbpp"]:
        df = mf.load_dataset(name)
        assert len(df) > 0
    assert mf.load_dataset("cbpp")["period"].cat.categories.tolist() == ["1", "2", "3", "4"]
    with pytest.raises(mf.DataError, match="No bundled data set"):
        mf.load_dataset("iris")
    a = mf.load_dataset("sleepstudy")
    a.loc[0, "Reaction"] = -1
    assert mf.load_dataset("sleepstudy").loc[0, "Reaction"] != -1


def test_no_warning_on_clean_data():
    with warnings.catch_warnings():
        warnings.simplefilter("error", MissingDataWarning)
        build_design("Reaction ~ Days + (1 | Subject)", mf.load_dataset("sleepstudy"))


def test_factor_is_c_as_lme4_users_write_it():
    df = mf.load_dataset("grouseticks")
    d = build_design("TICKS ~ factor(YEAR) * HEIGHT + (1 | BROOD)", df)
    ref = build_design("TICKS ~ C(YEAR) * HEIGHT + (1 | BROOD)", df)
    assert d.fixed_columns == [c.replace("C(YEAR)", "factor(YEAR)") for c in ref.fixed_columns]
    assert d.fixed_columns[1:3] == ["factor(YEAR)[96]", "factor(YEAR)[97]"]
    np.testing.assert_array_equal(d.X, ref.X)
    # new data take the levels seen in fitting, whatever levels they hold themselves
    new = d.x_for(df.iloc[[5, 0]].assign(YEAR=[97, 95]))
    np.testing.assert_array_equal(new[:, 1:3], [[0, 1], [0, 0]])
    # a grouping column is a factor anyway: (1 | factor(g)) groups by g
    g = build_design("TICKS ~ 1 + (1 | factor(YEAR)) + (1 | factor(YEAR):BROOD)", df)
    assert [b.group for b in g.blocks] == ["YEAR", "YEAR:BROOD"]


def test_labels_are_written_as_the_user_wrote_the_terms():
    """formulae prints I(Days ** 2) and numbers poly() columns from 0; the user wrote
    I(Days^2) and R numbers them from 1."""
    df = mf.load_dataset("sleepstudy")
    d = build_design("Reaction ~ I(Days^3) + poly(Days, 2) + log(Days + 1):C(Subject) "
                     "+ (1 + I(Days^2) | Subject)", df)
    assert d.fixed_columns[:4] == ["Intercept", "I(Days^3)", "poly(Days, 2)[1]",
                                   "poly(Days, 2)[2]"]
    assert d.fixed_columns[4].startswith("log(Days + 1):C(Subject)[")
    assert d.blocks[0].columns == ["Intercept", "I(Days^2)"]
    assert list(d.fixed_terms)[:3] == ["Intercept", "I(Days^3)", "poly(Days, 2)"]
