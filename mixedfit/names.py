"""Every name mixedfit gives: posterior variables, their dims, prior keys, table labels.

Defined once here and used by every backend (the compiled kernel, PyMC, Bambi), by
the results and by saving, so that no module builds a name from an f-string and no
module parses one back.

Posterior variables (``res.idata.posterior``):

====================  =====================================  ==========================
name                  meaning                                dims
====================  =====================================  ==========================
``fixed``             fixed effects                          ``fixed_term``
``sd(L)``             sd of each term of block ``L``         ``term(L)``
``cor(L)``            correlation matrix of block ``L``      ``term(L)``, ``term(L)_``
``u(L)``              group deviations of block ``L``        ``level(G)``, ``term(L)``
``z(L)``              standardised deviations (non-centred)  ``level(G)``, ``term(L)``
``sd_at_means(L)``    sds at the means of the predictors     ``term(L)``
``cor_at_means(L)``   correlations there                     ``term(L)``, ``term(L)_``
``sigma``, ``nu``...  the family's own parameters
====================  =====================================  ==========================

``L`` is the block label (the grouping factor ``G``, or ``G.1``, ``G.2`` when a
factor has several random-effect terms).

Examples
--------
>>> sd("Subject"), term_dim("Subject"), sd_key("Days", "Subject")
('sd(Subject)', 'term(Subject)', 'sd(Days|Subject)')
>>> parse_sd_key("sd(Days|Subject)")
('Days', 'Subject')
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mixedfit.design import Design

__all__ = [
    "FIXED", "FIXED_DIM", "OBS_DIM", "RESPONSE", "sd", "cor", "effects", "std_effects",
    "sd_at_means", "cor_at_means", "term_dim", "term_dim_twin", "level_dim", "coords_for",
    "sd_key", "cor_key", "parse_sd_key", "is_cor_key", "sd_row", "cor_row", "row_kind",
    "PEER_RESULT_NAMES", "PEER_FUNCTION_NAMES", "peer_name_hint",
]

#: The fixed effects' variable, and its dim.
FIXED = "fixed"
FIXED_DIM = "fixed_term"
#: The observed response's variable and dim.
RESPONSE = "y"
OBS_DIM = "obs"


def sd(label: str) -> str:
    """The sds of block ``label``."""
    return f"sd({label})"


def cor(label: str) -> str:
    """The correlation matrices of block ``label``."""
    return f"cor({label})"


def effects(label: str) -> str:
    """The group deviations ``u`` of block ``label``."""
    return f"u({label})"


def std_effects(label: str) -> str:
    """The standardised deviations ``z`` of a non-centred block ``label``."""
    return f"z({label})"


def sd_at_means(label: str) -> str:
    """The sds of block ``label`` at its predictors' means (where their priors sit,
    :mod:`mixedfit.standardize`); only for blocks centred there."""
    return f"sd_at_means({label})"


def cor_at_means(label: str) -> str:
    """The correlations of block ``label`` at its predictors' means."""
    return f"cor_at_means({label})"


def term_dim(label: str) -> str:
    """The dim that indexes the terms of block ``label``."""
    return f"term({label})"


def term_dim_twin(label: str) -> str:
    """The second dim of a correlation matrix of block ``label``."""
    return term_dim(label) + "_"


def level_dim(group: str) -> str:
    """The dim that indexes the levels of grouping factor ``group``."""
    return f"level({group})"


def coords_for(design: Design) -> dict[str, list]:
    """Coordinates of every dim of a model."""
    # (an out-of-core design has no rows to label: no list of up to 1e8 numbers)
    coords: dict[str, list] = {FIXED_DIM: list(design.fixed_columns),
                               OBS_DIM: list(range(design.n_obs)) if design.has_rows else []}
    for block in design.blocks:
        coords[level_dim(block.group)] = list(block.levels)
        coords[term_dim(block.label)] = list(block.columns)
        coords[term_dim_twin(block.label)] = list(block.columns)
    return coords


def sd_key(column: str, group: str) -> str:
    """The prior key of the sd of ``column`` across levels of ``group``."""
    return f"sd({column}|{group})"


def cor_key(label: str) -> str:
    """The prior key of the correlations of block ``label``."""
    return f"cor({label})"


def parse_sd_key(key: str) -> tuple[str, str] | None:
    """``(column, group)`` of an sd's prior key, or None if ``key`` is not one."""
    if not (key.startswith("sd(") and key.endswith(")") and "|" in key):
        return None
    column, group = key[3:-1].split("|", 1)
    return column, group


def is_cor_key(key: str) -> bool:
    """Whether ``key`` names a correlation prior."""
    return key.startswith("cor(") and key.endswith(")")


def sd_row(column: str) -> str:
    """The variance-components row of the sd of ``column``."""
    return f"sd({column})"


def cor_row(first: str, second: str) -> str:
    """The variance-components row of the correlation of two columns."""
    return f"cor({first},{second})"


def row_kind(row: str) -> str:
    """What a variance-components row is: ``"sd"``, ``"var"``, ``"cor"`` or ``""``.

    Examples
    --------
    >>> row_kind("sd(Days)"), row_kind("cor(Intercept,Days)"), row_kind("sd")
    ('sd', 'cor', '')
    """
    for kind in ("sd", "var", "cor"):
        if row.startswith(kind + "(") and row.endswith(")"):
            return kind
    return ""


#: What users of lme4, brms and Bambi reach for on a fitted model, and mixedfit's one
#: name for it (the message of the AttributeError they get).
PEER_RESULT_NAMES: dict[str, str] = {
    "fixef": "res.fixed_effects (lme4's and brms' fixef())",
    "ranef": "res.random_effects (lme4's and brms' ranef())",
    "coef": "res.coefficients (lme4's and brms' coef())",
    "VarCorr": "res.variance_components (lme4's and brms' VarCorr())",
    "varcorr": "res.variance_components (lme4's VarCorr())",
    "var_corr": "res.variance_components (lme4's VarCorr())",
    "nobs": "res.n_obs",
    "fitted": "res.predict() (the expected response of each fitted row)",
    "posterior_epred": "res.predict(newdata, kind='draws')",
    "posterior_linpred": "res.predict(newdata, kind='draws', scale='link')",
    "posterior_predict": "res.predict(newdata, kind='response')",
    "pp_check": "res.plot_ppc()",
    "conditional_effects": "res.plot_effects(variable)",
    "emmeans": "res.means(variables)",
    "pairs": "res.contrasts(variable)",
    "contrast": "res.contrasts(variable, method=...)",
    "emtrends": "res.slopes(variable, by=..., at='means')",
    "avg_slopes": "res.slopes(variable)",
    "confint": "the lower and upper columns of every table (res.interval sets their mass)",
    "rhat": "res.diagnostics() (and the r_hat column of the tables)",
    "neff_ratio": "res.diagnostics() (and the ess_bulk, ess_tail columns of the tables)",
    "prior_summary": "res.priors",
    "posterior": "res.idata.posterior, or res.draws(name)",
    "isSingular": "res.diagnostics().singular",
}

#: The same for functions of the package (``mf.summary(res)``...).
PEER_FUNCTION_NAMES: dict[str, str] = {
    "summary": "res.summary(), or print(res)",
    "lmer": "mf.fit(formula, data)",
    "glmer": "mf.fit(formula, data, family=...)",
    "glmmTMB": "mf.fit(formula, data, family=...)",
    "brm": "mf.fit(formula, data, family=...)",
    "stan_glmer": "mf.fit(formula, data, family=...)",
    "Model": "mf.fit(formula, data, family=...) (Bambi's bmb.Model(...).fit())",
    **{k: v for k, v in PEER_RESULT_NAMES.items() if k not in ("posterior", "contrast")},
    "hypothesis": "res.hypothesis(expression)",
    "loo": "res.loo()",
    "loo_compare": "mf.compare({...})",
}


def peer_name_hint(name: str, *, module: bool = False) -> str | None:
    """The mixedfit name for an lme4, brms or Bambi one, as a sentence (None if none).

    Examples
    --------
    >>> peer_name_hint("fixef")
    "mixedfit calls it res.fixed_effects (lme4's and brms' fixef())."
    """
    table = PEER_FUNCTION_NAMES if module else PEER_RESULT_NAMES
    target = table.get(name)
    return None if target is None else f"mixedfit calls it {target}."


#: InferenceData group of a fit whose group effects are kept as summaries, not draws
#: (too many to keep: :data:`mixedfit.fast.sampler.MAX_STORED_EFFECTS`); one variable
#: per block, named as its draws would be, with dims (level, term, stat).
EFFECTS_SUMMARY = "group_effects_summary"
#: The dim of :data:`EFFECTS_SUMMARY`'s statistics.
SUMMARY_STAT_DIM = "stat"
#: The quantiles kept: the ends of the 99%, 95%, 94%, 90%, 80% and 50% intervals and
#: the median.
SUMMARY_QUANTILES = (0.005, 0.025, 0.03, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.97,
                     0.975, 0.995)
#: The statistics kept for each group effect, in order.
SUMMARY_STATS = ("mean", "sd", *(f"q{q:g}" for q in SUMMARY_QUANTILES), "r_hat",
                 "ess_bulk", "ess_tail")
