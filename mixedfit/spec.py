"""A model specification: the design, the family and the resolved priors, together.

What every backend receives. Which models can be fitted at all is decided when a
spec is made (:func:`mixedfit.design.build_design` and
:func:`mixedfit.priors.resolve_priors` check everything); a backend only says which
of them it covers (:meth:`mixedfit.backends.Backend.supports`).

Examples
--------
>>> import mixedfit as mf
>>> spec = make_spec("Reaction ~ Days + (Days | Subject)", mf.load_dataset("sleepstudy"))
>>> spec.family, spec.design.n_obs, len(spec.priors)
(Family(name='gaussian', link='identity'), 180, 6)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mixedfit.design import Design, build_design
from mixedfit.design.outofcore import is_out_of_core, out_of_core_design
from mixedfit.errors import OptionError
from mixedfit.families import Family, get_family
from mixedfit.priors import PriorSet, resolve_priors
from mixedfit.standardize import Standardization, standardize

__all__ = ["ModelSpec", "make_spec"]


@dataclass
class ModelSpec:
    """A checked model: design, family and priors.

    Attributes
    ----------
    design : Design
    family : Family
    priors : PriorSet
    """

    design: Design
    family: Family
    priors: PriorSet
    _standardization: Standardization | None = field(default=None, repr=False)

    @property
    def standardization(self) -> Standardization:
        """The internal coordinates of the model (:mod:`mixedfit.standardize`)."""
        if self._standardization is None:
            self._standardization = standardize(self.design, self.family, self.priors)
        return self._standardization


def make_spec(formula: Any, data: Any, *, family: str | Family = "gaussian",
              priors: Mapping[str, Any] | None = None, trials: Any = None, weights: Any = None,
              se: Any = None, na_action: str = "drop", check_response: bool = True,
              dpars: Mapping[str, str] | None = None) -> ModelSpec:
    """Design, family and resolved priors: everything checked before any sampling.

    ``weights`` has lme4's meaning: for the binomial family the number of trials of a
    proportion response (``glmer(y/n ~ ..., weights = n)``), for the Gaussian family
    precision weights (a row's residual variance ``sigma^2 / w``), for every other
    family prior weights (a row's log-likelihood times ``w``). ``se`` gives each row a
    known standard error (a Gaussian response with the identity link, no residual sd).
    """
    fam = get_family(family)
    if se is not None:
        if weights is not None:
            raise OptionError("Give se= or weights=, not both: se= fixes each row's sd "
                              "(its precision 1 / se^2), weights= scale an estimated one.")
        fam = fam.with_known_scale()
    elif fam.known_scale:
        raise OptionError(f"{fam!r} needs se=, the column of each row's standard error.")
    if weights is not None and fam.takes_trials:
        if trials is not None:
            raise OptionError("Give trials= or weights=, not both: for the binomial family "
                              "weights= are the trials of a proportion response, as in glmer.")
        trials, weights = weights, None
    if is_out_of_core(data):  # a Dask DataFrame or a Parquet dataset: statistics, no rows
        design = out_of_core_design(formula, data, family=fam, trials=trials,
                                    weights=weights, se=se, na_action=na_action,
                                    dpars=dict(dpars or {}))
    else:
        design = build_design(formula, data, family=fam, trials=trials, weights=weights,
                              se=se, na_action=na_action, check_response=check_response,
                              dpars=dict(dpars or {}))
    fam = fam.for_levels(design.categories)  # an ordinal family's thresholds
    return ModelSpec(design, fam, resolve_priors(design, fam, priors))
