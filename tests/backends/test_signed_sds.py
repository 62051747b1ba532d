"""Signed sds: a non-centred one-term block whose sd has a prior smooth and flat at zero
(half-normal, half-Student-t, half-Cauchy) samples its sd as a signed number ``s``, the
sd being ``|s|`` and the effects ``s z`` (:func:`mixedfit.fast.layout.signed_blocks`).

The references are exact: the model is the same, so the signed density at ``(s, z)``
equals the log-sd density at ``(log |s|, sign(s) z)`` less the log-sd transform's
Jacobian ``log |s|`` (the log-sd kernel is itself checked against the PyMC model in
``test_compiled.py``), to rounding; the gradient equals central finite differences
(step 1e-6: 1e-6 relative); the draws are reported as ``|s|`` and ``sign(s) z``; and a
fit agrees with a log-sd fit within Monte Carlo error.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mixedfit as mf
from mixedfit.backends.compiled import CompiledBackend
from mixedfit.fast.layout import make_layout, signed_blocks
from mixedfit.fast.sampler import constrain, logp_and_grad
from mixedfit.plan import make_plan
from mixedfit.priors import Prior
from mixedfit.spec import make_spec
from tests.backends import assert_fits_agree


def _frame() -> pd.DataFrame:
    rng = np.random.default_rng(8)
    g = np.repeat(np.arange(12), 5)
    h = np.tile(np.arange(6), 10)
    x = rng.normal(size=g.size)
    eta = 0.5 + 0.4 * x + rng.normal(0, 0.5, 12)[g] + rng.normal(0, 0.3, 6)[h]
    return pd.DataFrame({"y": eta + rng.normal(0, 0.4, g.size), "x": x,
                         "k": rng.poisson(np.exp(eta)), "g": g.astype(str), "h": h.astype(str)})


SD_PRIORS = {
    "HalfNormal": Prior("HalfNormal", sigma=1.5),
    "HalfStudentT": Prior("HalfStudentT", nu=3, sigma=1.0),
    "HalfCauchy": Prior("HalfCauchy", beta=0.8),
}


def test_which_blocks_sample_their_sd_signed():
    spec = make_spec("k ~ x + (1 | g) + (1 | h)", _frame(), family="poisson")
    d, priors = spec.design, spec.priors
    assert signed_blocks(d, priors, [False, False]) == [True, True]
    assert signed_blocks(d, priors, [True, False]) == [False, True]  # a centred block: no
    assert signed_blocks(d, priors, [False, False], marginal=True) == [False, False]
    for kind, prior, expected in [
            ("Exponential", Prior("Exponential", lam=1.0), False),  # a kink at zero
            ("Gamma", Prior("Gamma", alpha=2.0, beta=1.0), False),  # no density at zero
            ("Uniform", Prior("Uniform", lower=0.0, upper=3.0), False),  # interval transform
            *[(k, p, True) for k, p in SD_PRIORS.items()]]:
        other = make_spec("k ~ x + (1 | g) + (1 | h)", _frame(), family="poisson",
                          priors={"sd(Intercept|g)": prior})
        assert signed_blocks(other.design, other.priors, [False, False]) == [expected, True], kind
    slopes = make_spec("k ~ x + (1 + x | g)", _frame(), family="poisson")
    assert signed_blocks(slopes.design, slopes.priors, [False]) == [False]  # two terms
    alone = make_spec("k ~ x + (0 + x | g)", _frame(), family="poisson")
    assert signed_blocks(alone.design, alone.priors, [False]) == [True]  # one term, a slope


@pytest.mark.parametrize("prior", list(SD_PRIORS))
@pytest.mark.parametrize("family, formula", [
    ("poisson", "k ~ x + (1 | g) + (1 | h)"),
    ("gaussian", "y ~ x + (1 | g) + (0 + x | h)"),
    ("negativebinomial", "k ~ x + (1 | g)"),
])
def test_the_signed_density_is_the_log_sd_one_and_its_gradient_exact(prior, family, formula):
    spec = make_spec(formula, _frame(), family=family,
                     priors={"sd(Intercept|g)": SD_PRIORS[prior]})
    centred = [False] * len(spec.design.blocks)
    signed = make_layout(spec.design, spec.family, spec.priors, centred, signed=True)
    plain = make_layout(spec.design, spec.family, spec.priors, centred)
    assert all(b.signed for b in signed.blocks) and not any(b.signed for b in plain.blocks)
    rng = np.random.default_rng(3)
    for trial in range(4):
        x = signed.initial_point(trial) + rng.normal(0.0, 0.5, signed.dim)
        for j, b in enumerate(signed.blocks):  # either sign, one near zero
            x[b.sd] = [0.9, -0.6, 0.03, -1.4][(trial + j) % 4]
        value, grad = logp_and_grad(signed, x)
        y = x.copy()
        jacobian = 0.0
        for b in signed.blocks:
            y[b.sd] = np.log(abs(x[b.sd]))
            y[b.effects:b.effects + b.m] *= np.sign(x[b.sd])
            jacobian += np.log(abs(x[b.sd]))
        assert value == pytest.approx(logp_and_grad(plain, y)[0] - jacobian, rel=1e-12,
                                      abs=1e-9)
        fd = np.array([(logp_and_grad(signed, x + e)[0] - logp_and_grad(signed, x - e)[0])
                       / 2e-6 for e in np.eye(signed.dim) * 1e-6])
        np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-6 * np.abs(grad).max())


def test_the_draws_report_the_sd_and_the_signed_effects():
    spec = make_spec("k ~ x + (1 | g) + (1 | h)", _frame(), family="poisson")
    signed = make_layout(spec.design, spec.family, spec.priors, [False, False], signed=True)
    plain = make_layout(spec.design, spec.family, spec.priors, [False, False])
    x = np.stack([signed.initial_point(s) for s in range(6)]).reshape(2, 3, signed.dim)
    g, h = signed.blocks
    x[0, :, g.sd] *= -1.0
    x[1, 2, h.sd] *= -1.0
    y = x.copy()
    for b in signed.blocks:
        y[..., b.sd] = np.log(np.abs(x[..., b.sd]))
        y[..., b.effects:b.effects + b.m] *= np.sign(x[..., b.sd])[..., None]
    a, b = constrain(x, signed, spec.design), constrain(y, plain, spec.design)
    assert set(a) == set(b)
    for name in a:
        np.testing.assert_allclose(a[name][1], b[name][1], rtol=1e-12, atol=1e-14)


def test_the_plan_records_signed_sds():
    df = _frame()
    spec = make_spec("k ~ x + (1 | g) + (1 | h)", df, family="poisson")
    assert make_plan(spec, centered=False).signed_sds
    assert not make_plan(spec, centered=True).signed_sds
    assert not make_plan(spec, centered=False, backend="pymc").signed_sds
    exp = make_spec("k ~ x + (1 | g)", df, family="poisson",
                    priors={"sd(Intercept|g)": Prior("Exponential", lam=1.0)})
    assert not make_plan(exp, centered=False).signed_sds
    gauss = make_spec("y ~ x + (1 | g)", df)  # integrated out: no sd is sampled signed
    assert make_plan(gauss).marginalized and not make_plan(gauss).signed_sds


@pytest.fixture(scope="module")
def fits():
    df = _frame()
    formula = "k ~ x + (1 | g) + (1 | h)"
    options = dict(family="poisson", centered=False, random_seed=4, warn=False,
                   progressbar=False)
    signed = mf.fit(formula, df, **options)
    with pytest.MonkeyPatch.context() as mp:  # every sd sampled as its log
        mp.setattr(CompiledBackend, "signed_sds",
                   lambda self, spec, centred, marginal: [False] * len(centred))
        plain = mf.fit(formula, df, **options)
    return signed, plain


def test_a_signed_fit_agrees_with_a_log_sd_one(fits):
    signed, plain = fits
    assert signed.plan.signed_sds and not plain.plan.signed_sds
    assert signed.info["signed_sds"] is True
    assert "sds of non-centred blocks sampled signed" in str(signed.summary())
    assert "signed" not in str(plain.summary())
    assert (signed.idata.posterior["sd(g)"].values > 0).all()
    assert_fits_agree(signed, plain)
