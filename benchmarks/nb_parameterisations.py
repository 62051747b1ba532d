"""Parameterisations of the grouseticks negative binomial's nested group effects, tried
as PyMC models before any change to the compiled kernel (issue 14's target 3).

``TICKS ~ C(YEAR) + scale(HEIGHT) + (1 | BROOD) + (1 | LOCATION)``: broods are nested in
locations, and 35 of the 63 locations have one brood only; sd(LOCATION) mixes slowest.
Each variant is the same model (mixedfit's default priors, written out; the predictors
centred) sampled by nutpie with mixedfit's settings for it (4 x 1000 draws after 1000
warm-up, target_accept 0.95, the variance-based diagonal mass matrix):

- ``noncentred``: both blocks non-centred (mixedfit's parameterisation of this model);
- ``rotated``: as ``noncentred``, but for a location with one brood the pair of standard
  normal effects is rotated so that one coordinate carries the sum of the two effects
  and the other their split (``z_B = c w - s v``, ``z_L = s w + c v`` with
  ``(c, s) = (sd_B, sd_L) / sqrt(sd_B^2 + sd_L^2)``: Jacobian 1, the likelihood reads
  ``w`` only);
- ``reflected``: the rotation extended to every location: for a location with broods
  ``1..k``, ``(z_L, z_B1..z_Bk) = H x`` with ``H`` the reflection that sends ``x_0`` to
  the one direction the data do not see, ``(sd_B, -sd_L, ..., -sd_L)`` (normalised), and
  ``x_1..x_k`` into the span of the brood sums ``sd_L z_L + sd_B z_Bi`` (for ``k = 1``
  the rotation above, up to signs): ``z_L = c x_0 - r sum_i x_i`` and ``z_Bi = x_i -
  r x_0 - (1 + c) / k sum_j x_j`` with ``(c, r) = (sd_B, sd_L) / sqrt(sd_B^2 + k
  sd_L^2)``; orthogonal, so Jacobian 1 and the same standard normal prior;
- ``polar``: ``rotated``, with the two sds sampled as their total ``log S`` and angle;
- ``partial``: each level centred or not by its own data (a brood when its Poisson-like
  information times sd^2 exceeds 1, a location likewise from its broods'), both blocks;
- ``partial-location``: the same for the locations only;
- ``signed``: ``reflected``, with sd(LOCATION) sampled as a signed number ``s ~
  Normal(0, 2.5)``, the sd being ``|s|`` (the same half-normal prior) and the effects
  ``s z`` (``(s, z)`` and ``(-s, -z)`` give the same model), so that sds near zero
  lie in the middle of ``s``'s range instead of the far tail of ``log sd``;
  ``signed-both``: both sds signed.

    python benchmarks/nb_parameterisations.py noncentred,rotated,partial 1,2,3 [TARGET_ACCEPT]

Prints seconds, min bulk ESS (and those of the two sds, and sd(LOCATION)'s tail ESS),
max R-hat, divergences and
leapfrog steps per draw (docs/performance.md, "Negative binomial convergence levers").
"""

from __future__ import annotations

import sys
import time
import warnings

import numpy as np
import pandas as pd

import mixedfit as mf

# mixedfit's default priors of this model (res.priors)
PRIOR_INTERCEPT = (1.852, 2.5)
PRIOR_SLOPES = np.array([5.139, 5.337, 2.5])
PRIOR_SD = 2.5  # HalfNormal
PRIOR_ALPHA = 1.0  # HalfCauchy
#: mixedfit's target_accept for this model; a third argument overrides it
TARGET_ACCEPT = float(sys.argv[3]) if len(sys.argv) > 3 else 0.95


def _data() -> dict:
    df = mf.load_dataset("grouseticks")
    years = pd.get_dummies(df.YEAR.astype(str), drop_first=True).values.astype(float)
    height = ((df.HEIGHT - df.HEIGHT.mean()) / df.HEIGHT.std()).values
    brood, _ = pd.factorize(df.BROOD)
    location, _ = pd.factorize(df.LOCATION)
    nb, nl = int(brood.max()) + 1, int(location.max()) + 1
    brood_location = np.zeros(nb, int)
    brood_location[brood] = location
    single = np.where(np.bincount(brood_location, minlength=nl) == 1)[0]
    single_brood = np.array([np.where(brood_location == loc)[0][0] for loc in single])
    # each level's information about its effect (rough: alpha 1.5, sds 0.77 and 0.55)
    mu = df.TICKS.values + 0.5
    info = np.bincount(brood, weights=mu / (1 + mu / 1.5), minlength=nb)
    info_loc = np.bincount(brood_location, weights=1 / (0.77**2 + 1 / info), minlength=nl)
    return {"y": df.TICKS.values, "X": np.column_stack([years - years.mean(0), height]),
            "brood": brood, "location": location, "nb": nb, "nl": nl, "single": single,
            "single_brood": single_brood, "brood_location": brood_location,
            "centre_brood": info * 0.77**2 > 1,
            "centre_location": info_loc * 0.55**2 > 1}


def _model(variant: str, d: dict):  # noqa: ANN202
    import pymc as pm
    import pytensor.tensor as pt

    nb, nl = d["nb"], d["nl"]
    with pm.Model() as model:
        b0 = pm.Normal("b0", *PRIOR_INTERCEPT)
        b = pm.Normal("b", 0, PRIOR_SLOPES, shape=3)
        alpha = pm.HalfCauchy("alpha", PRIOR_ALPHA)
        if variant == "polar":
            log_s = pm.Flat("log_s")
            angle = pm.Uniform("angle", 0, np.pi / 2)
            sd_b = pm.Deterministic("sdB", pt.exp(log_s) * pt.cos(angle))
            sd_l = pm.Deterministic("sdL", pt.exp(log_s) * pt.sin(angle))
            half = pm.HalfNormal.dist(PRIOR_SD)
            pm.Potential("sd_prior", pm.logp(half, sd_b) + pm.logp(half, sd_l) + 2 * log_s)
        elif variant.startswith("signed"):
            # a signed sd: s ~ Normal(0, PRIOR_SD), sd = |s| (the half-normal prior), the
            # effects s z unchanged by (s, z) -> (-s, -z)
            sd_l = pm.Normal("sL", 0, PRIOR_SD)
            pm.Deterministic("sdL", pt.abs(sd_l))
            if variant == "signed-both":
                sd_b = pm.Normal("sB", 0, PRIOR_SD)
                pm.Deterministic("sdB", pt.abs(sd_b))
            else:
                sd_b = pm.HalfNormal("sdB", PRIOR_SD)
        else:
            sd_b = pm.HalfNormal("sdB", PRIOR_SD)
            sd_l = pm.HalfNormal("sdL", PRIOR_SD)
        if variant == "noncentred":
            u_b = sd_b * pm.Normal("zB", 0, 1, shape=nb)
            u_l = sd_l * pm.Normal("zL", 0, 1, shape=nl)
        elif variant in ("rotated", "polar"):
            single, single_brood = d["single"], d["single_brood"]
            other_b = np.setdiff1d(np.arange(nb), single_brood)
            other_l = np.setdiff1d(np.arange(nl), single)
            w = pm.Normal("w", 0, 1, shape=single.size)
            v = pm.Normal("v", 0, 1, shape=single.size)
            total = pt.sqrt(sd_b**2 + sd_l**2)
            c, s = sd_b / total, sd_l / total
            z_b = pt.set_subtensor(pt.zeros(nb)[other_b],
                                   pm.Normal("zB", 0, 1, shape=other_b.size))
            z_b = pt.set_subtensor(z_b[single_brood], c * w - s * v)
            z_l = pt.set_subtensor(pt.zeros(nl)[other_l],
                                   pm.Normal("zL", 0, 1, shape=other_l.size))
            z_l = pt.set_subtensor(z_l[single], s * w + c * v)
            u_b, u_l = sd_b * z_b, sd_l * z_l
        elif variant in ("reflected", "signed", "signed-both"):
            loc_of = d["brood_location"]
            k = np.bincount(loc_of, minlength=nl).astype(float)
            M = np.zeros((nl, nb))
            M[loc_of, np.arange(nb)] = 1.0
            x_l = pm.Normal("xL", 0, 1, shape=nl)
            x_b = pm.Normal("xB", 0, 1, shape=nb)
            norm = pt.sqrt(sd_b**2 + k * sd_l**2)
            c, r = sd_b / norm, sd_l / norm
            total = pt.dot(M, x_b)
            z_l = c * x_l - r * total
            z_b = x_b - (r * x_l)[loc_of] - ((1 + c) / k * total)[loc_of]
            u_b, u_l = sd_b * z_b, sd_l * z_l
        else:  # partial centring, level by level
            def part(name, sd, mask, n):  # noqa: ANN001, ANN202
                out = pt.set_subtensor(pt.zeros(n)[np.where(~mask)[0]],
                                       sd * pm.Normal(name + "_z", 0, 1, shape=int((~mask).sum())))
                if mask.any():
                    out = pt.set_subtensor(out[np.where(mask)[0]],
                                           pm.Normal(name + "_c", 0, sd, shape=int(mask.sum())))
                return out

            brood_mask = d["centre_brood"] if variant == "partial" else np.zeros(nb, bool)
            u_b = part("B", sd_b, brood_mask, nb)
            u_l = part("L", sd_l, d["centre_location"], nl)
        eta = b0 + pt.dot(d["X"], b) + u_b[d["brood"]] + u_l[d["location"]]
        pm.NegativeBinomial("y", mu=pt.exp(eta), alpha=alpha, observed=d["y"])
    return model


def main() -> None:
    import arviz as az
    import nutpie

    warnings.simplefilter("ignore")
    variants = (sys.argv[1] if len(sys.argv) > 1 else "noncentred,rotated").split(",")
    seeds = [int(s) for s in (sys.argv[2] if len(sys.argv) > 2 else "1,2,3").split(",")]
    d = _data()
    print(f"{d['single'].size} of {d['nl']} locations have one brood; partial centring "
          f"centres {d['centre_brood'].sum()} broods and {d['centre_location'].sum()} "
          f"locations")
    for variant in variants:
        compiled = nutpie.compile_pymc_model(_model(variant, d))
        for seed in seeds:
            start = time.perf_counter()
            tr = nutpie.sample(compiled, draws=1000, tune=1000, chains=4, cores=2, seed=seed,
                               progress_bar=False, target_accept=TARGET_ACCEPT,
                               use_grad_based_mass_matrix=False)
            dt = time.perf_counter() - start
            post = tr.posterior[["b0", "b", "alpha", "sdB", "sdL"]]
            ess, rhat = az.ess(post), az.rhat(post)
            tail = az.ess(post, method="tail")
            print(f"{variant:17s} seed {seed}: {dt:5.1f} s  min bulk ESS "
                  f"{float(ess.to_array().min()):4.0f} (sdB {float(ess.sdB):4.0f}, sdL "
                  f"{float(ess.sdL):4.0f}; tail {float(tail.sdL):4.0f})  max R-hat "
                  f"{float(rhat.to_array().max()):.3f}  "
                  f"{int(tr.sample_stats.diverging.sum())} div  "
                  f"{float(tr.sample_stats.n_steps.mean()):.0f} steps a draw", flush=True)


if __name__ == "__main__":
    main()
