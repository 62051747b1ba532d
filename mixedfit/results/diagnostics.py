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
from mixedfit.convergence import MIN_DRAWS, ebfmi, rhat_ess
from mixedfit.design.frame import caller_level
from mixedfit.errors import ConvergenceWarning, SingularFitWarning
from mixedfit.names import sd_key
from mixedfit.results.display import Report, Table, as_table

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
        Per scalar parameter, labelled as the result's tables show it (``Intercept``,
        ``Subject: sd(Days)``, ``Subject 308: Days`` for a group effect): ``r_hat``,
        ``ess_bulk``, ``ess_tail`` and ``level`` (``"population"`` or ``"group"``).
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
        pop = p[p["level"] == "population"]
        rep.add(f"Population-level parameters: R-hat max {pop['r_hat'].max():.3f} (<= "
                f"{RHAT_MAX}); bulk ESS min {pop['ess_bulk'].min():.0f}, tail ESS min "
                f"{pop['ess_tail'].min():.0f} (>= {ESS_MIN}). {self.divergences} divergent "
                f"transitions of {self.n_draws}; tree depth {self.max_treedepth} reached "
                f"{self.treedepth_saturated} times; E-BFMI "
                f"{', '.join(f'{v:.2f}' for v in self.ebfmi)} (>= {EBFMI_MIN})")
        for level, n in (("population", 8), ("group", 5)):
            rows = p[p["level"] == level]
            if not len(rows):
                continue
            worst = rows.loc[_severity(rows).sort_values(ascending=False).index[:n]]
            title = ("Population-level parameters, worst first" if level == "population"
                     else f"Group effects ({len(rows):,}), worst first")
            rep.add(Table(["parameter", "R-hat", "Bulk ESS", "Tail ESS"],
                          [[i, f"{r['r_hat']:.3f}", f"{r['ess_bulk']:.0f}",
                            f"{r['ess_tail']:.0f}"] for i, r in worst.iterrows()],
                          title=title))
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


def _severity(rows: pd.DataFrame) -> pd.Series:
    """How far each row is from passing: the larger of R-hat's excess over 1 in units
    of the threshold's (0.01) and the ESS threshold over the lower ESS."""
    r = (rows["r_hat"] - 1.0) / (RHAT_MAX - 1.0)
    e = ESS_MIN / rows[["ess_bulk", "ess_tail"]].min(axis=1).clip(lower=1.0)
    return np.maximum(r.fillna(np.inf), e.fillna(np.inf))


def _flat_names(name: str, da: Any) -> list[str]:
    dims = [d for d in da.dims if d not in ("chain", "draw")]
    if not dims:
        return [name]
    coords = [[str(v) for v in da.coords[d].values] for d in dims]
    grids = np.meshgrid(*[np.arange(len(c)) for c in coords], indexing="ij")
    return [f"{name}[{','.join(coords[k][g.ravel()[i]] for k, g in enumerate(grids))}]"
            for i in range(grids[0].size)]


def _coords(da: Any) -> list[list[str]]:
    """Each value's coordinates, flattened in C order."""
    dims = [d for d in da.dims if d not in ("chain", "draw")]
    values = [[str(v) for v in da.coords[d].values] for d in dims]
    grids = np.meshgrid(*[np.arange(len(c)) for c in values], indexing="ij")
    return [[values[k][g.ravel()[i]] for k, g in enumerate(grids)]
            for i in range(grids[0].size if grids else 1)]


def table_labels(res: ResultView, name: str, da: Any) -> tuple[list[str], str]:
    """Each value of posterior variable ``name`` labelled as the result's tables show it
    (``Intercept``, ``Subject: sd(Days)``, ``Subject: cor(Intercept,Days)``, ``Subject
    372: Days`` for a group effect), and whether it is ``"population"``- or
    ``"group"``-level.

    Examples
    --------
    >>> res = _example_result()
    >>> table_labels(res, "sd(Subject)", res.idata.posterior["sd(Subject)"])
    (['Subject: sd(Intercept)', 'Subject: sd(Days)'], 'population')
    """
    coords = _coords(da)
    if name == names.FIXED:
        return [c[0] for c in coords], "population"
    for b in res.design.blocks:
        if name == names.effects(b.label):
            return [f"{b.group} {lev}: {term}" for lev, term in coords], "group"
        if name in (names.sd(b.label), names.sd_at_means(b.label)):
            at = " at the predictors' means" if name == names.sd_at_means(b.label) else ""
            return [f"{b.group}: {names.sd_row(c[0])}{at}" for c in coords], "population"
        if name in (names.cor(b.label), names.cor_at_means(b.label)):
            at = " at the predictors' means" if name == names.cor_at_means(b.label) else ""
            return [f"{b.group}: {names.cor_row(c[0], c[1])}{at}" for c in coords], \
                "population"
    return _flat_names(name, da), "population"


#: Group-effect values above which the per-parameter table leaves the group effects out
#: (they are many, each cheap to estimate well, and their R-hat and ESS take longer
#: than the fit): the population-level parameters are always checked.
GROUP_EFFECTS_MAX = 5000


def _n_group_effects(res: ResultView) -> int:
    post = res.idata.posterior
    per_draw = post.sizes["chain"] * post.sizes["draw"]
    return sum(int(post[names.effects(b.label)].size // per_draw) for b in res.design.blocks
               if names.effects(b.label) in post)


def _summarised_effects_table(res: ResultView) -> list[pd.DataFrame]:
    """The rows of the group effects kept as summaries, not draws (their R-hat and ESS
    were computed from all their draws while sampling): all of them, at no cost."""
    frames = []
    for b in res.design.blocks if res.effects_summarised else ():
        da = res._effect_summaries()[names.effects(b.label)].transpose(
            names.level_dim(b.group), names.term_dim(b.label), names.SUMMARY_STAT_DIM)
        labels, level = table_labels(res, names.effects(b.label),
                                     da.sel({names.SUMMARY_STAT_DIM: "mean"}))
        stat = {k: np.asarray(da.sel({names.SUMMARY_STAT_DIM: k}).values, dtype=float).ravel()
                for k in ("r_hat", "ess_bulk", "ess_tail")}
        frames.append(pd.DataFrame({**stat, "level": level}, index=labels))
    return frames


def _parameter_table(res: ResultView) -> pd.DataFrame:
    post = res.idata.posterior
    standardised = {names.std_effects(b.label) for b in res.design.blocks}
    effects = {names.effects(b.label) for b in res.design.blocks}
    variables = [str(v) for v in post.data_vars if v not in standardised]
    if _n_group_effects(res) > GROUP_EFFECTS_MAX:
        variables = [v for v in variables if v not in effects]
    correlations = {f(b.label) for b in res.design.blocks for f in (names.cor, names.cor_at_means)}
    blocks, rows = [], []
    n_chain, n_draw = int(post.sizes["chain"]), int(post.sizes["draw"])
    for v in variables:
        arr = np.asarray(post[v].values, dtype=float)
        labels, level = table_labels(res, v, post[v])
        flat = arr.reshape(n_chain, n_draw, -1)
        if v in correlations:
            # only the strict upper triangle of a correlation matrix is free
            p = post.sizes[post[v].dims[2]]
            iu = np.triu_indices(p, 1)
            keep = np.ravel_multi_index(iu, (p, p))
            flat = flat[:, :, keep]
            labels = list(np.array(labels)[keep])
        blocks.append(flat)
        rows.append((list(labels), level))
    frames = []
    if blocks:  # every parameter at once: one pass of sorting and FFTs, not one per variable
        with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            vals = rhat_ess(np.concatenate(blocks, axis=2))
        frames.append(pd.DataFrame(
            {"r_hat": vals[0], "ess_bulk": vals[1], "ess_tail": vals[2],
             "level": [level for labels, level in rows for _ in labels]},
            index=[label for labels, _ in rows for label in labels]))
    frames += _summarised_effects_table(res)
    df = frames[0] if len(frames) == 1 else pd.concat(frames)
    df.index.name = "parameter"
    return df


def _judged_at_means(res: ResultView) -> set[str]:
    """Rows of the table left to their counterparts at the predictors' means: the
    reported correlations of a block sampled there, which at an origin far from the
    data round to -1 or +1 (so that their ranks tie) while the sampled ones mix."""
    post = res.idata.posterior
    out: set[str] = set()
    for b in res.design.blocks:
        if names.cor_at_means(b.label) in post:
            out |= {f"{b.group}: {names.cor_row(b.columns[i], b.columns[j])}"
                    for i in range(b.n_terms) for j in range(i + 1, b.n_terms)}
    return out


def _switch_advice(res: ResultView) -> str:
    """What to try when sampling struggles, given the parameterisation each block had."""
    centred = res.info.get("centered")
    blocks = res.design.blocks
    if not blocks or not isinstance(centred, list) or len(centred) != len(blocks):
        return ("the other parameterisation (centered=True for groups with many "
                "observations, the default non-centred form for few)")
    if all(centred):
        return "the non-centred form (centered=False; it suits groups with few observations)"
    if not any(centred):
        return "the centred form (centered=True; it suits groups with many observations)"
    now = ", ".join(f"{b.label} {'centred' if c else 'non-centred'}"
                    for b, c in zip(blocks, centred, strict=True))
    return f"switching a block's parameterisation (now {now}; centered= takes one per block)"


def _worst_ess(rows: pd.DataFrame) -> tuple[str, str, float]:
    """The row with the lowest ESS, which ESS it is, and its value."""
    bulk, tail = rows["ess_bulk"], rows["ess_tail"]
    if bulk.min() <= tail.min():
        return str(bulk.idxmin()), "bulk", float(bulk.min())
    return str(tail.idxmin()), "tail", float(tail.min())


def _longer(res: ResultView) -> str:
    """"Run longer", with the warm-up and draws this fit had (a default warm-up may have
    been the near-Gaussian one, 300 iterations)."""
    tune, draws = res.info.get("tune"), res.info.get("draws")
    had = (f"; this fit had {tune} warm-up iterations and {draws} draws a chain"
           if tune is not None and draws is not None else "")
    return f"Run longer (more tune= and draws={had})"


def _population_problems(checked: pd.DataFrame, advice: str, longer: str) -> list[str]:
    out = []
    bad = checked[checked["r_hat"] > RHAT_MAX].sort_values("r_hat", ascending=False)
    if len(bad):
        out.append(
            f"R-hat above {RHAT_MAX} for {_count(len(bad), 'population-level parameter')} "
            f"(worst {bad.index[0]}, with R-hat {bad['r_hat'].iloc[0]:.3f}): the chains disagree. "
            f"{longer}" + (f"; if it persists, try {advice}." if advice else "."))
    low = checked[(checked["ess_bulk"] < ESS_MIN) | (checked["ess_tail"] < ESS_MIN)]
    if len(low):
        row, kind, value = _worst_ess(low)
        what = _count(len(low), "population-level parameter")
        tails = " of the tails and intervals" if kind == "tail" else ""
        out.append(
            f"Bulk or tail ESS below {ESS_MIN} for {what} (worst {row}, with {kind} ESS "
            f"{value:.0f}): too few effective draws for stable estimates{tails}. Increase "
            f"draws= (and tune=).")
    return out


def _group_problems(group: pd.DataFrame, advice: str, longer: str) -> list[str]:
    if not len(group):
        return []
    bad = group["r_hat"] > RHAT_MAX
    low = (group["ess_bulk"] < ESS_MIN) | (group["ess_tail"] < ESS_MIN)
    if not bad.any() and not low.any():
        return []
    parts = []
    if bad.any():
        worst = group.loc[bad, "r_hat"].idxmax()
        parts.append(f"{int(bad.sum()):,} with R-hat above {RHAT_MAX} (worst {worst}, "
                     f"{group.loc[worst, 'r_hat']:.3f})")
    if low.any():
        row, kind, value = _worst_ess(group[low])
        parts.append(f"{int(low.sum()):,} with bulk or tail ESS below {ESS_MIN} (worst {row}, "
                     f"{kind} ESS {value:.0f})")
    return [f"Group effects: {' and '.join(parts)}, of {len(group):,} group effects. "
            f"{longer}" + (f"; if it persists, try {advice}." if advice else ".")]


def _count(n: int, what: str) -> str:
    return f"{n:,} {what}{'' if n == 1 else 's'}"


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
                out.append(f"{block.group}: {names.sd_row(col)}{at} piles up at zero "
                           f"(posterior mean {sd[:, j].mean():.3g}): the data show little "
                           f"variation of {col} between levels of {block.group}; consider "
                           f"dropping the term")
        if cor is not None:
            for i in range(block.n_terms):
                for j in range(i + 1, block.n_terms):
                    m = float(cor[:, i, j].mean())
                    if abs(m) > 0.9:
                        pair = names.cor_row(block.columns[i], block.columns[j])
                        out.append(f"{block.group}: {pair}{where} is near "
                                   f"{np.sign(m):+.0f} (posterior mean {m:.2f})")
    return out


def diagnose(res: ResultView) -> Diagnostics:
    """Run every convergence check on a fit."""
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
    bfmi = ebfmi(np.asarray(stats["energy"].values))
    problems = []
    # with the group effects integrated out there is no parameterisation to switch
    marginal = bool(res.info.get("marginalized"))
    advice = "" if marginal else _switch_advice(res)
    skipped = _judged_at_means(res)
    checked = table.loc[[name not in skipped for name in table.index]]
    per_chain = int(res.idata.posterior.sizes["draw"])
    if per_chain < MIN_DRAWS:
        problems.append(f"{per_chain} draws a chain are too few to check convergence (R-hat "
                        f"and ESS need at least {MIN_DRAWS}): use more draws= (the default "
                        f"is 1000).")
    longer = _longer(res)
    problems += _population_problems(checked[checked["level"] == "population"], advice, longer)
    problems += _group_problems(checked[checked["level"] == "group"], advice, longer)
    if div:
        problems.append(
            f"{div} divergent transitions after warm-up: the posterior has regions the sampler "
            f"cannot explore and estimates may be biased. Raise target_accept (e.g. 0.95 or "
            f"0.99); if they persist, " + (
                "use tighter priors on the group sds." if marginal else
                f"try {advice}, or tighter priors on the group sds."))
    if sat:
        problems.append(
            f"{sat} draws hit the maximum tree depth {max_depth}: sampling is inefficient. "
            f"Rescale predictors (scale()), or raise max_treedepth=.")
    low_bfmi = [i for i, v in enumerate(bfmi) if v < EBFMI_MIN]
    if low_bfmi:
        problems.append(
            f"E-BFMI below {EBFMI_MIN} in chain(s) {', '.join(map(str, low_bfmi))}: the "
            f"sampler explores the energy distribution poorly (heavy tails or a funnel). Try " + (
                "more tune= and tighter priors." if marginal else
                f"{advice}, and more tune=."))
    return Diagnostics(parameters=as_table(table), divergences=div, n_draws=n_draws,
                       treedepth_saturated=sat, max_treedepth=max_depth, ebfmi=bfmi,
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
