"""The design layer: a parsed formula plus a data frame to matrices and group indices.

Nothing here imports PyMC. Split by concept: the input table (:mod:`.frame`),
evaluation through formulae (:mod:`.evaluate`), group indices (:mod:`.groups`),
the response (:mod:`.response`), the checks before sampling (:mod:`.checks`), the
:class:`Design` itself (:mod:`.design`) and :func:`build_design` (:mod:`.build`).

Examples
--------
>>> import mixedfit as mf
>>> from mixedfit.design import build_design
>>> d = build_design("Reaction ~ Days + (Days | Subject)", mf.load_dataset("sleepstudy"))
>>> d.fixed_columns, d.blocks[0].columns, d.blocks[0].n_levels
(['Intercept', 'Days'], ['Intercept', 'Days'], 18)
"""

from __future__ import annotations

from mixedfit.design.build import SharedPredictors, build_design
from mixedfit.design.checks import OneSidedResponseWarning
from mixedfit.design.design import BlockDesign, Design
from mixedfit.design.evaluate import SAFE_FUNCTIONS, formula_namespace
from mixedfit.design.frame import NA_ACTIONS, MissingDataWarning, as_frame

__all__ = ["Design", "BlockDesign", "build_design", "SharedPredictors", "MissingDataWarning",
           "OneSidedResponseWarning", "formula_namespace", "SAFE_FUNCTIONS", "NA_ACTIONS",
           "as_frame"]
