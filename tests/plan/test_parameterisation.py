"""The automatic choice of centred or non-centred group effects (mixedfit.parameterisation)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mixedfit as mf
from mixedfit.design import build_design
from mixedfit.parameterisation import (
    CENTRE_ABOVE,
    CENTRE_CORRELATED_ABOVE,
    FEW_LEVELS,
    MANY_LEVELS,
    choose_centering,
    information_ratios,
)

GAUSSIAN = mf.families.gaussian()


def _one_way(levels: int, per: int, sd: float, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(levels), per)
    y = rng.normal(0, sd, levels)[g] + rng.normal(0, 1.0, levels * per)
    return pd.DataFrame({"y": y, "g": g.astype(str), "b": (y > 0).astype(int)})


def test_many_levels_are_centred_from_ratio_one():
    # r = per * sd^2 / sigma^2 = 10 * 0.25 = 2.5: between 1 and CENTRE_ABOVE
    many = build_design("y ~ 1 + (1 | g)", _one_way(MANY_LEVELS * 3, 10, 0.5))
    few = build_design("y ~ 1 + (1 | g)", _one_way(30, 10, 0.5))
    for d in (many, few):
        assert 1.0 < information_ratios(d, GAUSSIAN)[0] < CENTRE_ABOVE
    assert choose_centering(many, GAUSSIAN) == [True]
    assert choose_centering(few, GAUSSIAN) == [False]


def test_many_levels_rule_is_for_gaussian_models_only():
    d = build_design("b ~ 1 + (1 | g)", _one_way(MANY_LEVELS * 3, 8, 0.5), family="bernoulli")
    ratio = information_ratios(d, mf.families.bernoulli())[0]
    assert 1.0 < ratio < CENTRE_ABOVE
    assert choose_centering(d, mf.families.bernoulli()) == [False]


def test_outer_factor_of_a_centred_nested_factor_is_centred():
    # 40 inner levels with much data each (centred) nested in 4 outer levels whose own
    # variation is small: by its ratio alone the outer block would be non-centred
    rng = np.random.default_rng(1)
    inner = np.repeat(np.arange(40), 50)
    outer = inner // 10
    y = rng.normal(0, 0.05, 4)[outer] + rng.normal(0, 1.0, 40)[inner] + rng.normal(size=2000)
    df = pd.DataFrame({"y": y, "a": outer.astype(str), "b": inner.astype(str)})
    d = build_design("y ~ 1 + (1 | a) + (1 | b)", df)
    ratios = information_ratios(d, GAUSSIAN)
    assert ratios[0] < CENTRE_ABOVE < ratios[1]
    assert choose_centering(d, GAUSSIAN) == [True, True]
    # crossed rather than nested: no propagation
    df["a"] = (np.arange(2000) % 4).astype(str)
    d = build_design("y ~ 1 + (1 | a) + (1 | b)", df)
    assert choose_centering(d, GAUSSIAN) == [False, True]


def _gamma_groups(levels: int, per: int, sd: float, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    g = np.repeat(np.arange(levels), per)
    mu = np.exp(0.5 + rng.normal(0, sd, levels)[g])
    return pd.DataFrame({"y": rng.gamma(4.0, mu / 4.0), "g": g.astype(str),
                         "k": rng.poisson(mu * 3), "b": rng.binomial(1, mu / (1 + mu))})


def test_families_with_a_dispersion_parameter_estimate_the_group_sd():
    # gamma (shape 4: working variance 1/4 on the log scale), 5 rows per level: with the
    # group sd taken as 1, r = 5 / 0.25 = 20 would centre a block whose sd is 0.2 (the
    # funnel, divergences); the sd estimated from the data (at most 1) says non-centred.
    # A large group sd with many rows per level stays centred.
    gamma = mf.families.get_family("gamma", link="log")
    small = build_design("y ~ 1 + (1 | g)", _gamma_groups(30, 5, 0.2), family=gamma)
    assert choose_centering(small, gamma) == [False]
    large = build_design("y ~ 1 + (1 | g)", _gamma_groups(30, 40, 1.0), family=gamma)
    assert choose_centering(large, gamma) == [True]
    for name in ("negativebinomial", "beta"):
        fam = mf.families.get_family(name)
        data = _gamma_groups(30, 5, 0.2)
        if name == "beta":
            data = data.assign(y=lambda d: d.y / (1 + d.y))
        else:
            data = data.assign(y=data.k)
        d = build_design("y ~ 1 + (1 | g)", data, family=fam)
        assert information_ratios(d, fam)[0] < CENTRE_ABOVE, name


def test_families_without_one_keep_a_group_sd_of_one():
    # Bernoulli, binomial and Poisson: r = n_j / working variance, whatever the data,
    # the working variance at the typical level (the median of the level means)
    data = _gamma_groups(30, 5, 0.2)
    for name, column in (("poisson", "k"), ("bernoulli", "b")):
        fam = mf.families.get_family(name)
        d = build_design(f"{column} ~ 1 + (1 | g)", data, family=fam)
        y = d.y.astype(float)
        typical = np.median(pd.Series(y).groupby(d.blocks[0].index).mean())
        expected = 5.0 / fam.working_variance(np.full_like(y, typical), d.trials)
        assert information_ratios(d, fam)[0] == pytest.approx(expected, rel=1e-12)


def test_a_block_is_centred_by_its_typical_level():
    # grouseticks' counts: mean 6.4 a chick, median 2. The observation-level INDEX
    # (a row a level): at the median level mean a row's information about its own
    # effect (Poisson: its mean) is 2.0, below CENTRE_ABOVE; at the overall mean 6.4,
    # above it. BROOD: 3 rows a brood (median), the median brood mean 1.73
    df = mf.load_dataset("grouseticks")
    formula = "TICKS ~ C(YEAR) + scale(HEIGHT) + (1 | BROOD) + (1 | INDEX)"
    d = build_design(formula, df)
    means = df.groupby("BROOD").TICKS.mean()
    sizes = df.groupby("BROOD").size()
    expected = [float(np.median(sizes)) * float(np.median(means)), float(np.median(df.TICKS))]
    np.testing.assert_allclose(information_ratios(d, mf.families.poisson()), expected,
                               rtol=1e-12)
    assert choose_centering(d, mf.families.poisson()) == [True, False]
    # large counts: every row's data outweigh the prior, the block stays centred
    d = build_design(formula, df.assign(TICKS=df.TICKS + 40))
    assert choose_centering(d, mf.families.poisson()) == [True, True]
    # levels with the same mean: the typical level's weight is the overall mean's
    g = np.repeat(np.arange(20), 5)
    y = np.tile([0.0, 1.0, 2.0, 3.0, 9.0], 20)
    even = build_design("y ~ 1 + (1 | g)", pd.DataFrame({"y": y, "g": g.astype(str)}))
    assert information_ratios(even, mf.families.poisson()) == pytest.approx([5 * 3.0])


def test_few_levels_of_other_families_need_more_information_to_be_centred():
    # cbpp: 15 herds, r = 5.4 (above CENTRE_ABOVE): with fewer than FEW_LEVELS levels a
    # binomial block is centred only above CENTRE_CORRELATED_ABOVE
    cbpp = build_design("cbind(incidence, size - incidence) ~ period + (1 | herd)",
                        mf.load_dataset("cbpp"), family=mf.families.binomial())
    (ratio,) = information_ratios(cbpp, mf.families.binomial())
    assert CENTRE_ABOVE < ratio < CENTRE_CORRELATED_ABOVE
    assert cbpp.blocks[0].n_levels < FEW_LEVELS
    assert choose_centering(cbpp, mf.families.binomial()) == [False]
    # the same information with FEW_LEVELS levels or more: centred
    rng = np.random.default_rng(2)
    g = np.repeat(np.arange(FEW_LEVELS), 6)
    k = rng.binomial(5, 0.5, g.size)  # r about 6 x 5 x 1/4 = 7.5
    data = pd.DataFrame({"k": k, "n": 5, "g": g.astype(str)})
    many = build_design("cbind(k, n - k) ~ 1 + (1 | g)", data, family=mf.families.binomial())
    assert information_ratios(many, mf.families.binomial())[0] > CENTRE_ABOVE
    assert choose_centering(many, mf.families.binomial()) == [True]
    few = build_design("cbind(k, n - k) ~ 1 + (1 | g)", data[data.g.astype(int) < 20],
                       family=mf.families.binomial())
    assert CENTRE_ABOVE < information_ratios(few, mf.families.binomial())[0] < 10.0
    assert choose_centering(few, mf.families.binomial()) == [False]
