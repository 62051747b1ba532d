"""The lme4-like summary report of a fit."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from mixedfit import names
from mixedfit.results.display import Report, Table, fmt_num
from mixedfit.results.summaries import effects_size_text

if TYPE_CHECKING:
    from mixedfit.results.view import ResultView

__all__ = ["build_summary", "out_of_core_source"]


def out_of_core_source(stats: Any) -> str:
    """Where an out-of-core fit's sufficient statistics came from, in words, from
    :attr:`mixedfit.design.Design.stats`: its ``source`` (``"20 Parquet files in
    data/"``), else its number of ``partitions``; ``""`` when it has neither.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> out_of_core_source(SimpleNamespace(n=10, source="", partitions=2))
    '2 partitions'
    """
    source = str(getattr(stats, "source", None) or "")
    parts = getattr(stats, "partitions", None)
    if not source and parts:
        source = f"{int(parts):,} partition{'' if int(parts) == 1 else 's'}"
    return source


def _convergence_cells(r: Any) -> list[str]:
    """R-hat, bulk and tail ESS of a table row, as brms prints them on every row."""
    return [f"{r['r_hat']:.3f}", f"{r['ess_bulk']:.0f}", f"{r['ess_tail']:.0f}"]


CONVERGENCE_HEADER = ["R-hat", "Bulk ESS", "Tail ESS"]


def _random_table(res: ResultView, lo: str, hi: str) -> Table:
    """One row per sd and correlation of each grouping factor, then the residual sd
    (brms' layout: every population-level row with its R-hat and ESS)."""
    vc = res.variance_components
    rows = []
    for group, blocks in res.design.groups.items():
        keys = [names.sd_row(c) for b in blocks for c in b.columns]
        keys += [names.cor_row(b.columns[i], b.columns[j]) for b in blocks if b.correlated
                 for i in range(b.n_terms) for j in range(i + 1, b.n_terms)]
        for k, key in enumerate(keys):
            r = vc.loc[(group, key)]
            rows.append([group if k == 0 else "", key, fmt_num(r["mean"]), fmt_num(r["sd"]),
                         fmt_num(r["lower"]), fmt_num(r["upper"]), *_convergence_cells(r)])
    if res.has_residual_sd:
        r = vc.loc[("Residual", "sd")]
        rows.append(["Residual", "sd", fmt_num(r["mean"]), fmt_num(r["sd"]),
                     fmt_num(r["lower"]), fmt_num(r["upper"]), *_convergence_cells(r)])
    header = ["Groups", "Name", "Estimate", "Est.Error", lo, hi, *CONVERGENCE_HEADER]
    align = ["l", "l"] + ["r"] * (len(header) - 2)
    return Table(header, rows, title="Random effects (standard deviations and correlations)",
                 align=align)


def _origin_notes(res: ResultView) -> list[str]:
    """Where a block's intercept sd and correlations are reported and where their priors
    sit, for blocks sampled at the predictors' means (:mod:`mixedfit.standardize`)."""
    st = res.standardization
    notes = []
    for k, b in enumerate(res.design.blocks):
        bs = st.blocks[k]
        if not bs.centred or not np.any(bs.center):
            continue
        zero = ", ".join(f"{c} = 0" for c, m in zip(b.columns, bs.center, strict=True) if m)
        where = st.site(names.sd_key("Intercept", b.group)).removeprefix("at ")
        # (a block is centred only when the user set neither of those priors)
        notes.append(f"{b.group}: the intercept's sd and the correlations are at {zero}; "
                     f"their default priors sit at {where}.")
    return notes


def _fixed_table(res: ResultView, lo: str, hi: str) -> Table:
    fe = res.fixed_effects
    rows = [[name, fmt_num(r["mean"]), fmt_num(r["sd"]), fmt_num(r["lower"]),
             fmt_num(r["upper"]), *_convergence_cells(r)]
            for name, r in fe.iterrows()]
    header = ["", "Estimate", "Est.Error", lo, hi, *CONVERGENCE_HEADER]
    return Table(header, rows, title="Fixed effects")


def build_summary(res: ResultView) -> Report:
    """Assemble the summary report (text and HTML from the same tables)."""
    d, info = res.design, res.info
    lo, hi = res.quantile_labels()
    kind = res.family.kind
    rep = Report()
    rep.add(f"Bayesian {kind} mixed model (NUTS, {info['sampler']}: {info['chains']} chains x "
            f"{info['draws']} draws after {info['tune']} warm-up)")
    rep.add(f"Formula: {d.formula_text}")
    for par, text in d.dpar_formulas.items():  # a family parameter's own formula
        rep.add(f"         {par} {text} ({res.family.dpar_description(par)})")
    success = f"; success = {d.response_name} == {d.success!r}" if d.success else ""
    scale = "" if res.family.link == "identity" else "; coefficients on the link scale"
    if d.categories and res.family.ordered_categories:  # the categories and the convention
        success = (f"; categories {' < '.join(d.categories)}; P({d.response_name} <= k) = "
                   f"F(Intercept[k] - eta)")
    elif d.categories:
        success = f"; categories {', '.join(d.categories)}; reference {d.categories[0]!r}"
    rep.add(f"Family: {res.family.name} (link: {res.family.link}{scale}{success})")
    dropped = f", {d.n_dropped} dropped for missing values" if d.n_dropped else ""
    groups = "; ".join(f"{g}, {blocks[0].n_levels}" for g, blocks in d.groups.items())
    if d.has_rows:
        rep.add(f"Data: {d.n_obs} observations{dropped}; groups: {groups}")
    else:  # an out-of-core fit: the counts come from its sufficient statistics
        source = out_of_core_source(d.stats)
        rep.add(f"Data: {d.n_obs:,} observations{dropped}, out of core ("
                f"{source + '; ' if source else ''}no rows kept); groups: {groups}")
    if d.se is not None:
        rep.add(f"Known standard errors: {info.get('se') or 'values'}"
                + (f" ({float(d.se.min()):.4g} to {float(d.se.max()):.4g})" if d.se.size
                   else "") + "; no residual sd")
    if d.weights is not None:
        kind_w = "precision" if res.family.precision_weights else "prior"
        source = info.get("weights") or "values"
        span = (f", {float(d.weights.min()):.4g} to {float(d.weights.max()):.4g}"
                if d.weights.size else "")
        rep.add(f"Weights: {source} ({kind_w} weights{span})")
    rep.add(f"Intervals: {res.interval:.0%} equal-tailed ({lo} to {hi} quantiles)")
    centred = info.get("centered")
    if info.get("marginalized") and d.blocks and res.effects_summarised:
        rep.add(f"Group effects: integrated out while sampling, then drawn from their exact "
                f"conditional posterior and kept as summaries (mean, sd, quantiles, R-hat, "
                f"ESS of each), not draws: {effects_size_text(res)}. Tables that need their "
                f"draws (coefficients, predictions of fitted levels, LOO, WAIC, predictive "
                f"checks) are not available")
    elif info.get("marginalized") and d.blocks:
        rep.add("Group effects: integrated out while sampling, then drawn from their exact "
                "conditional posterior")
    elif isinstance(centred, list) and d.blocks:
        forms = ", ".join(f"{b.label} {'centred' if c else 'non-centred'}"
                          for b, c in zip(d.blocks, centred, strict=True))
        reflected = ("; nested effects sampled reflected, per outer level one coordinate "
                     "along the direction the data do not see" if info.get("reflected")
                     else "")
        signed = ("; sds of non-centred blocks sampled signed (chains cross small sds "
                  "freely)" if info.get("signed_sds") else "")
        rep.add(f"Group effects: {forms}{reflected}{signed}")
    rep.add("")
    if d.blocks or res.has_residual_sd:
        rep.add(_random_table(res, lo, hi))
        for note in _origin_notes(res):
            rep.add(note)
        rep.add("")
    rep.add(_fixed_table(res, lo, hi))
    rep.add("")
    extra = [p for p in res.family.distribution_parameters
             if p != "sigma" and p not in res.design.dpar_formulas]
    if extra:
        fp = res.family_parameters
        rows = [[p, fmt_num(fp.loc[p, "mean"]), fmt_num(fp.loc[p, "sd"]),
                 fmt_num(fp.loc[p, "lower"]), fmt_num(fp.loc[p, "upper"]),
                 *_convergence_cells(fp.loc[p])] for p in extra]
        rep.add(Table(["", "Estimate", "Est.Error", lo, hi, *CONVERGENCE_HEADER], rows,
                      title=f"Family parameters ({res.family.name})"))
        rep.add("")
    diag = res.diagnostics()
    conv = res.convergence()
    pop = diag.parameters[diag.parameters["level"] == "population"]
    rep.add(f"Sampling: {info.get('time', np.nan):.2g} s; population-level parameters: max "
            f"R-hat {pop['r_hat'].max():.3f}, min bulk ESS {pop['ess_bulk'].min():.0f}, min "
            f"tail ESS {pop['ess_tail'].min():.0f}; {conv['divergences']} divergent "
            f"transitions. "
            + ("No convergence problems." if diag.ok else
               f"{len(diag.problems)} convergence problem(s):"))
    for problem in diag.problems:
        rep.add(f"  - {problem}")
    for s in diag.singular:
        rep.add(f"boundary (singular) fit: {s}")
    return rep
