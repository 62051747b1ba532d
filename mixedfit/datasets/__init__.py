"""Standard mixed-model data sets bundled with mixedfit.

The CSV files are exported unchanged from the R package lme4 (sleepstudy,
Dyestuff, Penicillin, Pastes, cbpp, VerbAgg, grouseticks) and written by
``tests/reference/weights_se_reference.R`` (eight_schools; bcg from metafor's dat.bcg
with escalc's log risk ratios) and ``tests/reference/zero_inflated_reference.R``
(glmmTMB's Salamanders) and ``tests/reference/cumulative_reference.R`` (ordinal's
wine); :func:`load_dataset` restores the column
types those packages use, so that a factor in R is a categorical column here.
Nothing is downloaded.

Examples
--------
>>> import mixedfit as mf
>>> df = mf.load_dataset("sleepstudy")
>>> df.shape
(180, 3)
>>> df["Subject"].dtype.name
'category'
"""

from __future__ import annotations

from importlib import resources

import pandas as pd

from mixedfit.errors import DataError

__all__ = ["load_dataset", "list_datasets", "DATASETS"]

#: Bundled data sets: name -> (description, typical model, categorical columns).
#: Categorical levels are sorted (numerically for numbers), as R's factor() does,
#: except the columns in ``_APPEARANCE`` whose R levels follow the design order.
DATASETS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "sleepstudy": (
        "Reaction times (ms) of 18 subjects over 10 days of sleep deprivation (lme4)",
        "Reaction ~ Days + (Days | Subject)",
        ("Subject",),
    ),
    "dyestuff": (
        "Yield of dyestuff from 6 batches, 5 preparations each (lme4 Dyestuff)",
        "Yield ~ 1 + (1 | Batch)",
        ("Batch",),
    ),
    "penicillin": (
        "Diameter of growth inhibition: 24 plates crossed with 6 samples (lme4 Penicillin)",
        "diameter ~ 1 + (1 | plate) + (1 | sample)",
        ("plate", "sample"),
    ),
    "pastes": (
        "Paste strength: 10 batches, 3 casks nested in each, 2 assays (lme4 Pastes)",
        "strength ~ 1 + (1 | batch/cask)",
        ("batch", "cask", "sample"),
    ),
    "cbpp": (
        "Contagious bovine pleuropneumonia: incidence in 15 herds over 4 periods (lme4)",
        "cbind(incidence, size - incidence) ~ period + (1 | herd)",
        ("herd", "period"),
    ),
    "verbagg": (
        "Verbal aggression: 316 people x 24 items, yes/no responses (lme4 VerbAgg)",
        "r2 ~ Anger + Gender + btype + situ + (1 | id) + (1 | item)",
        ("Gender", "item", "resp", "id", "btype", "situ", "mode", "r2"),
    ),
    "grouseticks": (
        "Ticks on 403 red grouse chicks in 118 broods at 63 locations, 1995-97 (lme4 "
        "grouseticks; YEAR kept numeric)",
        "TICKS ~ C(YEAR) + scale(HEIGHT) + (1 | BROOD) + (1 | INDEX), family='poisson'",
        ("INDEX", "BROOD", "LOCATION"),
    ),
    "eight_schools": (
        "Estimated effects y of coaching on SAT scores in 8 schools, with their standard "
        "errors sigma (Rubin 1981; Gelman et al., BDA 5.5)",
        "y ~ 1 + (1 | school), se='sigma'",
        ("school",),
    ),
    "bcg": (
        "BCG vaccine trials: log risk ratio yi of tuberculosis, its sampling variance vi "
        "and standard error sei, in 13 trials (metafor dat.bcg, escalc measure 'RR')",
        "yi ~ 1 + (1 | trial), se='sei'",
        ("trial", "alloc"),
    ),
    "salamanders": (
        "Salamander counts in 23 streams (sites), mined or not, 4 samples per site and "
        "species (glmmTMB Salamanders; mined's levels yes, no as in R)",
        "count ~ mined + (1 | site), family='zero_inflated_poisson'",
        ("site", "mined", "spp"),
    ),
    "wine": (
        "Bitterness ratings 1 (least) to 5 of 8 wines (temperature cold/warm x contact "
        "with skins no/yes x 2 bottles) by 9 judges (Randall 1989; ordinal's wine; rating "
        "an ordered categorical)",
        "rating ~ temp + contact + (1 | judge), family='cumulative'",
        ("temp", "contact", "bottle", "judge"),
    ),
}

#: ordered categorical columns (R's ordered factors), levels in sorted order
_ORDERED = {"wine": ("rating",)}

_APPEARANCE = {"verbagg": ("item", "mode"), "salamanders": ("mined", "spp")}


def list_datasets() -> pd.DataFrame:
    """List the bundled data sets.

    Returns
    -------
    pandas.DataFrame
        One row per data set with its description and typical model.

    Examples
    --------
    >>> import mixedfit as mf
    >>> "sleepstudy" in mf.list_datasets().index
    True
    """
    rows = {name: {"description": d, "model": m} for name, (d, m, _) in DATASETS.items()}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("name")


def load_dataset(name: str) -> pd.DataFrame:
    """Load a bundled data set as a pandas DataFrame.

    Parameters
    ----------
    name : str
        One of ``"sleepstudy"``, ``"dyestuff"``, ``"penicillin"``, ``"pastes"``, ``"cbpp"``,
        ``"verbagg"``, ``"grouseticks"``, ``"eight_schools"``, ``"bcg"``, ``"salamanders"``,
        ``"wine"``
        (case-insensitive).

    Returns
    -------
    pandas.DataFrame
        A fresh copy; grouping factors are ``category`` columns with levels in
        the order R uses.

    Raises
    ------
    DataError
        If no data set has that name.

    Examples
    --------
    >>> import mixedfit as mf
    >>> mf.load_dataset("dyestuff").head(2)
      Batch  Yield
    0     A   1545
    1     A   1440
    """
    key = str(name).lower()
    if key not in DATASETS:
        raise DataError(
            f"No bundled data set named {name!r}. Available: {', '.join(sorted(DATASETS))}."
        )
    with resources.files(__package__).joinpath(f"{key}.csv").open("r") as fh:
        df = pd.read_csv(fh)
    for col in DATASETS[key][2]:
        values = df[col]
        if col in _APPEARANCE.get(key, ()):
            levels = values.unique().tolist()
        else:
            levels = sorted(values.unique().tolist())
        df[col] = pd.Categorical(values.astype(str), categories=[str(v) for v in levels])
    for col in _ORDERED.get(key, ()):
        levels = sorted(df[col].unique().tolist())
        df[col] = pd.Categorical(df[col].astype(str), categories=[str(v) for v in levels],
                                 ordered=True)
    return df
