"""hypothesis(): brms-style hypothesis tests on the fixed effects and family parameters.

Structure and arithmetic use the shared short sleepstudy fit; the Savage-Dickey
Bayes factors are checked on models whose posterior is exactly Normal (known
standard errors, no group terms, Normal priors), where the factor is known in closed
form.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

import mixedfit as mf
from mixedfit.design import build_design
from mixedfit.results.hypothesis import (
    HYPOTHESIS_COLUMNS,
    _hypothesis,
    _linear_prior_density,
    hypothesis,
)

# ------------------------------------------------------------------ helpers


def _fixed(res, name):
    return res.draws("fixed")[:, res.design.fixed_columns.index(name)]


@pytest.fixture(scope="module")
def eight_schools():
    d = mf.load_dataset("eight_schools")
    return d.assign(x=np.arange(8) + 10.0)  # a predictor far from 0: its mean is 13.5


# Exactly Normal posteriors, 4 chains x 20,000 draws (half a second each). The
# Savage-Dickey ratio's error is then the posterior kernel density's: a Gaussian KDE
# with Scott's bandwidth h = n^(-1/5) (0.11 sd at n = 80,000) of a Normal posterior is
# the Normal widened by sqrt(1 + h^2), -0.6% at the mode, and its sampling error there
# (with the sd's, ESS about half the draws) is about 1.3%: sixteen fits with other
# seeds were off by -2.3% .. +2.2%. The points tested lie near the posterior mode, where
# an error in the posterior mean matters only at second order. 6% is four sd beyond
# the bias.
EXACT = {"chains": 4, "draws": 20_000, "tune": 1000}
SD_RTOL = 0.06


# --------------------------------------------------------- probabilities, summaries


def test_probabilities_are_the_shares_of_draws(sleep_quick):
    res = sleep_quick
    days, intercept = _fixed(res, "Days"), _fixed(res, "Intercept")
    sigma = res.draws("sigma")
    texts = ["Days > 10", "Days < 10", "Days >= 10.5", "2 * Days < Intercept / 12",
             "sigma > 25.5"]
    shares = [np.mean(days - 10 > 0), np.mean(days - 10 < 0), np.mean(days - 10.5 > 0),
              np.mean(2 * days - intercept / 12 < 0), np.mean(sigma - 25.5 > 0)]
    h = hypothesis(res, texts)
    for text, share in zip(texts, shares, strict=True):
        assert 0 < share < 1  # (the points were chosen inside the posterior)
        assert h.loc[text, "p"] == share
        assert h.loc[text, "evidence_ratio"] == pytest.approx(share / (1 - share), rel=1e-12)


def test_evidence_ratio_is_infinite_when_every_draw_agrees(sleep_quick):
    h = hypothesis(sleep_quick, ["Days > -100", "Days < -100"])
    assert h["p"].tolist() == [1.0, 0.0]
    assert h["evidence_ratio"].tolist() == [np.inf, 0.0]


def test_linear_combination_summary_matches_the_draws(sleep_quick):
    res = sleep_quick
    diff = _fixed(res, "Intercept") + 2 * _fixed(res, "Days") - 250
    h = hypothesis(res, "Intercept + 2 * Days = 250")
    row = h.loc["Intercept + 2 * Days = 250"]
    q = (1 - res.interval) / 2
    lower, upper = np.quantile(diff, [q, 1 - q])
    expected = {"mean": diff.mean(), "sd": diff.std(ddof=1), "lower": lower, "upper": upper}
    for key, value in expected.items():
        assert abs(row[key] - value) < 1e-10
    assert np.isnan(row["p"])
    assert row["star"] == ("" if lower <= 0 <= upper else "*")
    assert h.attrs["interval"] == res.interval


def test_star_follows_the_one_sided_interval(sleep_quick):
    res = sleep_quick
    days = _fixed(res, "Days")
    lo, hi = np.quantile(days, [1 - res.interval, res.interval])
    # just inside and just outside each one-sided interval
    cases = {f"Days > {float(lo) - 0.01!r}": "*", f"Days > {float(lo) + 0.01!r}": "",
             f"Days < {float(hi) + 0.01!r}": "*", f"Days < {float(hi) - 0.01!r}": ""}
    h = hypothesis(res, list(cases))
    assert h["star"].to_dict() == cases


def test_a_list_gives_one_row_per_hypothesis(sleep_quick):
    texts = ["Days > 5", "Intercept + 2*Days = 250", "(Intercept - 250) / sigma > 0",
             "Days > 5"]
    h = hypothesis(sleep_quick, texts)
    assert h.index.tolist() == texts and h.index.name == "hypothesis"
    assert h.columns.tolist() == HYPOTHESIS_COLUMNS
    assert h.iloc[0].equals(h.iloc[3])
    single = hypothesis(sleep_quick, "Days > 5")
    assert single.shape == (1, len(HYPOTHESIS_COLUMNS))


def test_point_hypotheses_without_a_savage_dickey_ratio_say_why(sleep_quick):
    h = hypothesis(sleep_quick, ["sigma = 25", "Days * Days = 100", "log(Intercept) = 5.6",
                                 "Days - Days = 0", "Days = 10"])
    assert h["evidence_ratio"].isna().tolist() == [True, True, True, True, False]
    assert "sigma is a family parameter" in h["note"].iloc[0]
    assert "not a linear combination" in h["note"].iloc[1]
    assert "not a linear combination" in h["note"].iloc[2]
    assert "does not depend on the fixed effects" in h["note"].iloc[3]
    assert h["note"].iloc[4] == ""


# ------------------------------------------------------------------ Savage-Dickey


def test_savage_dickey_matches_the_exact_bayes_factor_of_a_conjugate_model(eight_schools):
    # y_i ~ Normal(mu, s_i), s_i known, mu ~ Normal(0, 5): the posterior of mu is Normal
    # with precision 1/25 + sum 1/s_i^2, and the Bayes factor of mu = m0 is the ratio of
    # the posterior to the prior density at m0
    d = eight_schools
    res = mf.fit("y ~ 1", d, se="sigma", priors={"Intercept": mf.Prior("Normal", mu=0, sigma=5)},
                 random_seed=11, progressbar=False, warn=False, **EXACT)
    precision = 1 / 25 + np.sum(1 / d["sigma"] ** 2)
    mean = np.sum(d["y"] / d["sigma"] ** 2) / precision
    point = 5.0  # near the posterior mean (4.6; posterior sd 3.2)
    exact = stats.norm.pdf(point, mean, precision ** -0.5) / stats.norm.pdf(point, 0, 5)
    h = hypothesis(res, f"Intercept = {point}")
    assert h["evidence_ratio"].iloc[0] == pytest.approx(exact, rel=SD_RTOL)
    assert h["note"].iloc[0] == ""


def test_savage_dickey_with_the_intercept_prior_at_the_predictors_means(eight_schools):
    # y ~ x with known sds and the default Normal priors: the intercept's prior sits on
    # the intercept at the mean of x, theta0 = b0 + mean(x) b1, the slope's on b1
    # (mixedfit.standardize); so the prior of (b0, b1) is Normal with covariance
    # G^-1 diag(s^2) G^-T for G = [[1, mean(x)], [0, 1]], and the posterior is Normal too
    d = eight_schools
    res = mf.fit("y ~ x", d, se="sigma", random_seed=12, progressbar=False, warn=False,
                 **EXACT)
    assert res.design.fixed_columns == ["Intercept", "x"]
    p0, p1 = res.prior_set["Intercept"], res.prior_set["x"]
    assert p0.name == p1.name == "Normal"
    G = np.array([[1.0, d["x"].mean()], [0.0, 1.0]])
    G_inv = np.linalg.inv(G)
    prior_mean = G_inv @ [p0.values["mu"], p1.values["mu"]]
    prior_cov = G_inv @ np.diag([p0.values["sigma"] ** 2, p1.values["sigma"] ** 2]) @ G_inv.T
    X = np.column_stack([np.ones(8), d["x"]])
    W = np.diag(1 / d["sigma"].to_numpy() ** 2)
    post_cov = np.linalg.inv(np.linalg.inv(prior_cov) + X.T @ W @ X)
    post_mean = post_cov @ (np.linalg.solve(prior_cov, prior_mean) + X.T @ W @ d["y"])
    np.testing.assert_allclose(res.fixed_effects["mean"], post_mean, atol=0.1 * np.sqrt(
        np.diag(post_cov)).max())  # (the sampler draws from this posterior)
    c = np.array([1.0, 14.0])  # the line at x = 14
    point = float(np.round(c @ post_mean))  # near the posterior mode of c . beta
    exact = (stats.norm.pdf(point, c @ post_mean, np.sqrt(c @ post_cov @ c))
             / stats.norm.pdf(point, c @ prior_mean, np.sqrt(c @ prior_cov @ c)))
    # the prior sd of c . beta differs a lot from the one ignoring where the prior sits
    naive = np.sqrt(c**2 @ [p0.values["sigma"] ** 2, p1.values["sigma"] ** 2])
    assert abs(np.sqrt(c @ prior_cov @ c) / naive - 1) > 0.2
    h = hypothesis(res, f"Intercept + 14 * x = {point:g}")
    assert h["evidence_ratio"].iloc[0] == pytest.approx(exact, rel=SD_RTOL)
    # the Monte Carlo prior density (forced on Normal priors) agrees with the exact one
    mc = _hypothesis(res, f"Intercept + 14 * x = {point:g}", exact_normal=False)
    assert mc["evidence_ratio"].iloc[0] == pytest.approx(h["evidence_ratio"].iloc[0], rel=0.01)


def test_monte_carlo_prior_density_matches_the_exact_normal_one():
    priors = [mf.Prior("Normal", mu=8.75, sigma=24.4), mf.Prior("Normal", mu=0, sigma=10.7),
              mf.Prior("Normal", mu=1, sigma=3)]
    weights = np.array([1.0, 14.0, -2.0])
    for point in (0.0, 50.0, -120.0):
        exact, note = _linear_prior_density(priors, weights, point)
        mc, _ = _linear_prior_density(priors, weights, point, exact_normal=False)
        sd = np.sqrt(np.sum((weights * [24.4, 10.7, 3]) ** 2))
        assert exact == pytest.approx(stats.norm.pdf(point, 8.75 - 2, sd), rel=1e-12)
        assert note == ""
        # the average over 20,000 draws of the two narrower terms of the widest term's
        # density: its relative sd is well under 1% here
        assert mc == pytest.approx(exact, rel=0.02)


def test_prior_density_of_heavy_tailed_priors():
    cauchy, t3 = mf.Prior("Cauchy", alpha=1, beta=2), mf.Prior("StudentT", nu=3, mu=0, sigma=1)
    normal = mf.Prior("Normal", mu=0, sigma=1)
    # a single non-Normal term: its exact density, scaled
    dens, _ = _linear_prior_density([cauchy, normal], np.array([-3.0, 0.0]), 0.5)
    assert dens == pytest.approx(stats.cauchy(1, 2).pdf(0.5 / -3) / 3, rel=1e-12)

    # sums against a numerical convolution
    def convolution(f, g, point):
        return integrate.quad(lambda u: f(u) * g(point - u), -np.inf, np.inf, limit=200)[0]

    sum_ct = convolution(stats.cauchy(1, 2).pdf, stats.t(3, 0, 2).pdf, 0.7)
    dens, _ = _linear_prior_density([cauchy, t3], np.array([1.0, 2.0]), 0.7)
    assert dens == pytest.approx(sum_ct, rel=0.02)
    sum_cn = convolution(stats.cauchy(1, 2).pdf, stats.norm(0, 0.5).pdf, 0.7)
    dens, _ = _linear_prior_density([cauchy, normal], np.array([1.0, 0.5]), 0.7)
    assert dens == pytest.approx(sum_cn, rel=0.02)


# ------------------------------------------------------------------------- names


@pytest.fixture(scope="module")
def awkward():
    """A result stand-in with labels that hold brackets, colons, spaces and ``**`` (only
    what the one-sided path reads: names, draws, the interval)."""
    rng = np.random.default_rng(0)
    n = 60
    df = pd.DataFrame({"y": rng.normal(size=n), "x": rng.normal(size=n),
                       "z": rng.normal(size=n), "age": rng.uniform(20, 60, n),
                       "YEAR": rng.choice([95, 96, 97], n), "cohort": rng.choice(["A", "B"], n)})
    design = build_design("y ~ C(YEAR) + I(age ** 2) + x:cohort + log(age) + poly(z, 2)", df)
    fixed = rng.normal(size=(400, len(design.fixed_columns)))
    sigma = rng.gamma(5.0, size=400)
    draws = {"fixed": fixed, "sigma": sigma}
    return SimpleNamespace(design=design, family=mf.families.gaussian(), interval=0.9,
                           draws=draws.__getitem__)


def test_labels_with_brackets_colons_spaces_and_powers(awkward):
    cols = awkward.design.fixed_columns
    assert cols == ["Intercept", "C(YEAR)[96]", "C(YEAR)[97]", "I(age ** 2)", "x:cohort[A]",
                    "x:cohort[B]", "log(age)", "poly(z, 2)[1]", "poly(z, 2)[2]"]
    b = {c: awkward.draws("fixed")[:, j] for j, c in enumerate(cols)}
    cases = {
        "C(YEAR)[97] - C(YEAR)[96] > 0": b["C(YEAR)[97]"] - b["C(YEAR)[96]"],
        "(C(YEAR)[96] + C(YEAR)[97]) / 2 > Intercept": (b["C(YEAR)[96]"] + b["C(YEAR)[97]"]) / 2
        - b["Intercept"],
        "I(age**2) * 2 < x:cohort[B]": b["I(age ** 2)"] * 2 - b["x:cohort[B]"],
        # a label that looks like a call is the coefficient, not log() of a parameter
        "log(age) + exp(x:cohort[A]) > 1": b["log(age)"] + np.exp(b["x:cohort[A]"]) - 1,
        "poly(z, 2)[2] ** 2 - abs(poly(z, 2)[1]) > -sigma": b["poly(z, 2)[2]"] ** 2
        - np.abs(b["poly(z, 2)[1]"]) + awkward.draws("sigma"),
        "-x:cohort[A]>=-0.1": -b["x:cohort[A]"] + 0.1,
    }
    h = hypothesis(awkward, list(cases))
    for text, diff in cases.items():
        assert h.loc[text, "mean"] == pytest.approx(diff.mean(), rel=1e-12)
        share = np.mean(diff < 0) if "<" in text else np.mean(diff > 0)
        assert h.loc[text, "p"] == share
    assert h.attrs["interval"] == 0.9


def test_alternative_names(awkward):
    short = hypothesis(awkward, "age2 > x_b", alternative_names={"age2": "I(age ** 2)",
                                                                 "x_b": "x:cohort[B]"})
    long = hypothesis(awkward, "I(age ** 2) > x:cohort[B]")
    assert short.index.tolist() == ["age2 > x_b"]
    np.testing.assert_array_equal(short.iloc[0, :6].to_numpy(dtype=float),
                                  long.iloc[0, :6].to_numpy(dtype=float))
    with pytest.raises(mf.OptionError, match="I\\(age \\*\\* 2\\)"):
        hypothesis(awkward, "age2 > 0", alternative_names={"age2": "I(age**3)"})
    with pytest.raises(mf.OptionError, match="already a parameter"):
        hypothesis(awkward, "Intercept > 0", alternative_names={"Intercept": "log(age)"})


# ------------------------------------------------------------------------ errors


def test_an_unknown_name_is_refused_with_the_close_match(sleep_quick, awkward):
    with pytest.raises(mf.OptionError, match="'Dyas'.*Did you mean 'Days'.*Intercept, Days"):
        hypothesis(sleep_quick, "Dyas > 0")
    with pytest.raises(mf.OptionError, match="'C\\(YEAR\\)\\[98\\]'.*Did you mean 'C\\(YEAR"):
        hypothesis(awkward, "C(YEAR)[98] > 0")
    with pytest.raises(mf.OptionError, match="'x:cohort\\[C\\]'.*Did you mean 'x:cohort"):
        hypothesis(awkward, "x:cohort[C] = 0")
    with pytest.raises(ValueError, match="'Intercep'"):  # an OptionError is a ValueError
        hypothesis(sleep_quick, ["Days > 0", "Days + Intercep = 0"])


@pytest.mark.parametrize("text, message", [
    ("Days > 0 > 1", "2 comparisons"),
    ("Days = Intercept = 0", "2 comparisons"),
    ("(Days > 0) + 1 > 0", "2 comparisons"),
    ("Days + 1", "no comparison"),
    ("Days != 0", "'!='"),
])
def test_exactly_one_comparison(sleep_quick, text, message):
    with pytest.raises(mf.OptionError, match=message):
        hypothesis(sleep_quick, text)


@pytest.mark.parametrize("text", [
    "__import__('os') > 0",
    "__import__('os').system('true') > 0",
    "Days.__class__ > 0",
    "open('x') > Days",
    "lambda: Days > 0",
    "Days if 1 else 0 > 0",
    "[Days][0] > 0",
    "'a' > Days",
    "Days and Intercept > 0",
])
def test_other_syntax_is_refused_and_never_run(sleep_quick, monkeypatch, text):
    import builtins

    def trap(*args, **kwargs):
        raise AssertionError("user text reached eval/exec")

    monkeypatch.setattr(builtins, "eval", trap)
    monkeypatch.setattr(builtins, "exec", trap)
    with pytest.raises(mf.OptionError):
        hypothesis(sleep_quick, text)


def test_calls_other_than_the_four_functions_are_named(sleep_quick):
    with pytest.raises(mf.OptionError, match="__import__\\(\\), which is not allowed.*exp"):
        hypothesis(sleep_quick, "__import__('os') > 0")


def test_a_text_without_parameters_or_of_the_wrong_type(sleep_quick):
    with pytest.raises(mf.OptionError, match="names no parameter"):
        hypothesis(sleep_quick, "1 > 0")
    with pytest.raises(mf.InputTypeError):
        hypothesis(sleep_quick, ["Days > 0", 3])
    with pytest.raises(mf.OptionError, match="empty"):
        hypothesis(sleep_quick, [])
