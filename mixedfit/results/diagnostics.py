"""Convergence diagnostics: R-hat, ESS, divergences, tree depth, E-BFMI, singular fits.

Thresholds follow Vehtari et al. (2021) and Stan's defaults: rank-normalised
split R-hat <= 1.01, bulk and tail ESS >= 400, no divergent transitions, tree
depth not saturated, E-BFMI >= 0.3 in every chain.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mixedfit import names
from mixedfit.design.frame import caller_level
from mixedfit.errors import ConvergenceWarning, SingularFitWarning
from mixedfit.names import sd_key
from mixedfit.results.convergence import rhat_ess
from mixedfit.results.display import Report, Table, fmt_num

if TYPE_CHECKING:
    from mixedfit.results.view import ResultView

__all__ = ["Diagnostics", "diagnose", "RHAT_MAX", "ESS_MIN", "EBFMI_MIN"]

RHAT_MAX = 1.01
ESS_MIN = 400
EBFMI_MIN = 0.3


@dataclass
class Diagnostics:
    """Convergence diagnostics of a fit (from ``res.diagnostics()``).

    Attributes
    ----------
    parameters : pandas.DataFrame
        Per scalar parameter: ``r_hat``, ``ess_bulk``, ``ess_tail``.
    divergences : int
        Divergent transitions after warm-up.
    treedepth_saturated : int
        Draws whose trajectory hit the maximum tree depth.
    ebfmi : numpy.ndarray
        E-BFMI of each chain.
    singular : list of str
        Variance components that pile up at zero, correlations near +-1.
    problems : list of str
        One sentence per failed check, with the usual remedy.
    """

    parameters: pd.DataFrame
    divergences: int
    n_draws: int
    treedepth_saturated: int
    max_treedepth: int
    ebfmi: np.ndarray
    singular: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    #: Group-effect values left out of ``parameters`` (more than GROUP_EFFECTS_MAX).
    group_effects_unchecked: int = 0

    @property
    def ok(self) -> bool:
        """True when every check passed (singular fits are reported, not failures)."""
        return not self.problems

    def report(self) -> Report:
        """Text and HTML report."""
        rep = Report()
        p = self.parameters
        rep.add(f"R-hat max {p['r_hat'].max():.3f} (<= {RHAT_MAX}); bulk ESS min "
                f"{p['ess_bulk'].min():.0f}, tail ESS min {p['ess_tail'].min():.0f} "
                f"(>= {ESS_MIN}); {self.divergences} divergent transitions of {self.n_draws}; "
                f"tree depth {self.max_treedepth} reached {self.treedepth_saturated} times; "
                f"E-BFMI {', '.join(f'{v:.2f}' for v in self.ebfmi)} (>= {EBFMI_MIN})")
        worst = p.sort_values("r_hat", ascending=False).head(8)
        rep.add(Table(["parameter", "R-hat", "ESS bulk", "ESS tail"],
                      [[i, f"{r['r_hat']:.3f}", fmt_num(r["ess_bulk"]), fmt_num(r["ess_tail"])]
                       for i, r in worst.iterrows()], title="Worst parameters"))
        if self.group_effects_unchecked:
            rep.add(f"The {self.group_effects_unchecked} group effects are not in the table "
                    f"(more than {GROUP_EFFECTS_MAX}); the population-level parameters are.")
        for s in self.singular:
            rep.add(f"boundary (singular) fit: {s}")
        rep.add("Problems:" if self.problems else "No convergence problems.")
        for prob in self.problems:
            rep.add(f" - {prob}")
        return rep

    def __repr__(self) -> str:
        return self.report().to_text()

    def _repr_html_(self) -> str:
        return self.report()._repr_html_()


def _flat_names(name: str, da: Any) -> list[str]:
    dims = [d for d in da.dims if d not in ("chain", "draw")]
    if not dims:
        return [name]
    coords = [[str(v) for v in da.coords[d].values] for d in dims]
    grids = np.meshgrid(*[np.arange(len(c)) for c in coords], indexing="ij")
    return [f"{name}[{','.join(coords[k][g.ravel()[i]] for k, g in enumerate(grids))}]"
            for i in range(grids[0].size)]


#: Group-effect values above which the per-parameter table leaves the group effects out
#: (they are many, each cheap to estimate well, and their R-hat and ESS take longer
#: than the fit): the population-level parameters are always checked.
GROUP_EFFECTS_MAX = 5000


def _n_group_effects(res: ResultView) -> int:
    post = res.idata.posterior
    per_draw = post.sizes["chain"] * post.sizes["draw"]
    return sum(int(post[names.effects(b.label)].size // per_draw) for b in res.design.blocks
               if names.effects(b.label) in post)


def _parameter_table(res: ResultView) -> pd.DataFrame:
    post = res.idata.posterior
    standardised = {names.std_effects(b.label) for b in res.design.blocks}
    effects = {names.effects(b.label) for b in res.design.blocks}
    variables = [str(v) for v in post.data_vars if v not in standardised]
    if _n_group_effects(res) > GROUP_EFFECTS_MAX:
        variables = [v for v in variables if v not in effects]
    correlations = {f(b.label) for b in res.design.blocks for f in (names.cor, names.cor_at_means)}
    frames = []
    n_chain, n_draw = int(post.sizes["chain"]), int(post.sizes["draw"])
    for v in variables:
        arr = np.asarray(post[v].values, dtype=float)
        labels = _flat_names(v, post[v])
        flat = arr.reshape(n_chain, n_draw, -1)
        if v in correlations:
            # only the strict upper triangle of a correlation matrix is free
            p = post.sizes[post[v].dims[2]]
            iu = np.triu_indices(p, 1)
            keep = np.ravel_multi_index(iu, (p, p))
            flat = flat[:, :, keep]
            labels = list(np.array(labels)[keep])
        with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            vals = rhat_ess(flat)
        frames.append(pd.DataFrame({"r_hat": vals[0], "ess_bulk": vals[1], "ess_tail": vals[2]},
                                   index=list(labels)))
    df = pd.concat(frames)
    df.index.name = "parameter"
    return df


def _judged_at_means(res: ResultView) -> tuple[str, ...]:
    """Rows of the table left to their counterparts at the predictors' means: the
    reported correlations of a block sampled there, which at an origin far from the
    data round to -1 or +1 (so that their ranks tie) while the sampled ones mix."""
    post = res.idata.posterior
    return tuple(names.cor(b.label) + "[" for b in res.design.blocks
                 if names.cor_at_means(b.label) in post)


def _piles_at_zero(draws: np.ndarray) -> bool:
    """The posterior mode of an sd sits in the lowest of 20 bins below its 99% quantile."""
    top = np.quantile(draws, 0.99)
    if top <= 0:
        return True
    counts, _ = np.histogram(draws, bins=20, range=(0.0, top))
    return bool(counts[0] == counts.max())


def _singular(res: ResultView) -> list[str]:
    """Variance components at the boundary, judged where their priors sit: in a block
    centred at its predictors' means (:mod:`mixedfit.standardize`) the intercept's sd
    and the correlations at the means, since at a predictor's origin far from the data
    a correlation near -1 or +1 is what the model implies, not a boundary fit."""
    out = []
    for k, block in enumerate(res.design.blocks):
        sd, cor = res.block_at_prior_sites(k)
        where = ""
        if res.standardization.blocks[k].centred:
            where = " " + res.standardization.site(sd_key("Intercept", block.group))
        for j, col in enumerate(block.columns):
            if _piles_at_zero(sd[:, j]):
                at = where if col == "Intercept" else ""
                out.append(f"{names.sd_key(col, block.group)}{at} piles up at zero (posterior mean "
                           f"{sd[:, j].mean():.3g}): the data show little variation of {col} "
                           f"between levels of {block.group}; consider dropping the term")
        if cor is not None:
            for i in range(block.n_terms):
                for j in range(i + 1, block.n_terms):
                    m = float(cor[:, i, j].mean())
                    if abs(m) > 0.9:
                        pair = names.cor_row(block.columns[i], block.columns[j])
                        out.append(f"{pair[:-1]}|{block.group}){where} is near "
                                   f"{np.sign(m):+.0f} (posterior mean {m:.2f})")
    return out


def diagnose(res: ResultView) -> Diagnostics:
    """Run every convergence check on a fit."""
    import arviz as az  # deferred: ArviZ is heavy and only needed here

    table = _parameter_table(res)
    stats = res.idata.sample_stats
    div = int(np.asarray(stats["diverging"].values).sum())
    n_draws = int(np.asarray(stats["diverging"].values).size)
    max_depth = int(res.info.get("max_treedepth", 10))
    if "maxdepth_reached" in stats:
        sat = int(np.asarray(stats["maxdepth_reached"].values).sum())
    elif "reached_max_treedepth" in stats:
        sat = int(np.asarray(stats["reached_max_treedepth"].values).sum())
    else:
        sat = int((np.asarray(stats["tree_depth"].values) >= max_depth).sum())
    ebfmi = np.asarray(az.bfmi(res.idata), dtype=float)
    problems = []
    # with the group effects integrated out there is no parameterisation to switch
    marginal = bool(res.info.get("marginalized"))
    skipped = _judged_at_means(res)
    checked = table.loc[[not str(name).startswith(skipped) for name in table.index]] \
        if skipped else table
    bad_rhat = checked[checked["r_hat"] > RHAT_MAX].sort_values("r_hat", ascending=False)
    if len(bad_rhat):
        problems.append(
            f"R-hat above {RHAT_MAX} for {len(bad_rhat)} parameters (worst "
            f"{bad_rhat.index[0]}: {bad_rhat['r_hat'].iloc[0]:.3f}): the chains disagree. Run "
            f"longer (more tune= and draws=)" + (
                "." if marginal else
                "; if it persists, try centered=True (groups with many observations) or the "
                "default non-centred form (few observations)."))
    low = checked[(checked["ess_bulk"] < ESS_MIN) | (checked["ess_tail"] < ESS_MIN)]
    if len(low):
        worst = low[["ess_bulk", "ess_tail"]].min(axis=1).sort_values()
        problems.append(
            f"ESS below {ESS_MIN} for {len(low)} parameters (worst {worst.index[0]}: "
            f"{worst.iloc[0]:.0f}): too few effective draws for stable estimates. Increase "
            f"draws= (and tune=).")
    if div:
        problems.append(
            f"{div} divergent transitions after warm-up: the posterior has regions the sampler "
            f"cannot explore and estimates may be biased. Raise target_accept (e.g. 0.95 or "
            f"0.99); if they persist, " + (
                "use tighter priors on the group sds." if marginal else
                "switch the parameterisation (centered=True when groups have many "
                "observations, the default non-centred form otherwise) or use tighter priors "
                "on the group sds."))
    if sat:
        problems.append(
            f"{sat} draws hit the maximum tree depth {max_depth}: sampling is inefficient. "
            f"Rescale predictors (scale()), or raise max_treedepth=.")
    low_bfmi = [i for i, v in enumerate(ebfmi) if v < EBFMI_MIN]
    if low_bfmi:
        problems.append(
            f"E-BFMI below {EBFMI_MIN} in chain(s) {', '.join(map(str, low_bfmi))}: the "
            f"sampler explores the energy distribution poorly (heavy tails or a funnel). Try " + (
                "more tune= and tighter priors." if marginal else
                "the other parameterisation (centered=) and more tune=."))
    return Diagnostics(parameters=table, divergences=div, n_draws=n_draws,
                       treedepth_saturated=sat, max_treedepth=max_depth, ebfmi=ebfmi,
                       singular=_singular(res), problems=problems,
                       group_effects_unchecked=(n if (n := _n_group_effects(res))
                                                > GROUP_EFFECTS_MAX else 0))


def warn_if_problems(diag: Diagnostics) -> None:
    """Emit a ConvergenceWarning per failed check and a SingularFitWarning per boundary fit."""
    for prob in diag.problems:
        warnings.warn(prob, ConvergenceWarning, stacklevel=caller_level())
    for s in diag.singular:
        warnings.warn(f"boundary (singular) fit: {s}", SingularFitWarning,
                      stacklevel=caller_level())
