"""mixedfit: hierarchical (mixed-effects) regression with lme4 formulas, fitted by NUTS.

>>> import mixedfit as mf
>>> res = mf.fit("Reaction ~ Days + (Days | Subject)", data=mf.load_dataset("sleepstudy"),
...              draws=200, tune=200, chains=2, random_seed=1, progressbar=False)
>>> res.fixed_effects.index.tolist()
['Intercept', 'Days']

Heavy modules (pandas, formulae, PyMC) load on first use, so ``import mixedfit``
is quick.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from mixedfit._version import __version__
from mixedfit.errors import (
    ConvergenceWarning,
    DataError,
    DrawsNotKeptError,
    FamilyError,
    FormulaError,
    InputTypeError,
    LooWarning,
    MixedFitError,
    MixedFitWarning,
    OptionError,
    PriorError,
    RowsNeededError,
    SamplingError,
    SingularFitWarning,
)
from mixedfit.names import peer_name_hint

_LAZY = {
    "fit": ("mixedfit.api", "fit"),
    "fit_many": ("mixedfit.many", "fit_many"),
    "FitCollection": ("mixedfit.many", "FitCollection"),
    "prior_predictive": ("mixedfit.api", "prior_predictive"),
    "parse": ("mixedfit.formula", "parse"),
    "compare": ("mixedfit.comparison", "compare"),
    "compare_pooling": ("mixedfit.comparison", "compare_pooling"),
    "Formula": ("mixedfit.formula", "Formula"),
    "RandomTerm": ("mixedfit.formula", "RandomTerm"),
    "Prior": ("mixedfit.priors", "Prior"),
    "load_dataset": ("mixedfit.datasets", "load_dataset"),
    "list_datasets": ("mixedfit.datasets", "list_datasets"),
    "MixedResult": ("mixedfit.api", "MixedResult"),
    "families": ("mixedfit.families", None),
    "load": ("mixedfit.api", "load"),
    "save": ("mixedfit.io", "save"),
}

__all__ = [
    "fit",
    "fit_many",
    "FitCollection",
    "prior_predictive",
    "compare",
    "compare_pooling",
    "parse",
    "Formula",
    "RandomTerm",
    "Prior",
    "load_dataset",
    "list_datasets",
    "MixedResult",
    "families",
    "load",
    "save",
    "MixedFitError",
    "FormulaError",
    "DataError",
    "PriorError",
    "FamilyError",
    "InputTypeError",
    "OptionError",
    "SamplingError",
    "RowsNeededError",
    "DrawsNotKeptError",
    "MixedFitWarning",
    "ConvergenceWarning",
    "SingularFitWarning",
    "LooWarning",
    "__version__",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attr = _LAZY[name]
        value = import_module(module) if attr is None else getattr(import_module(module), attr)
        globals()[name] = value
        return value
    hint = peer_name_hint(name, module=True)
    raise AttributeError(f"module 'mixedfit' has no attribute {name!r}"
                         + (f": {hint}" if hint else ""))


def __dir__() -> list[str]:
    return sorted(__all__)
