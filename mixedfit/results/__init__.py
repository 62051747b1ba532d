"""The results layer: tables, shrinkage, predictions, checks and reports of a fit.

:class:`~mixedfit.results.view.ResultView` reads a fit (posterior, design, priors,
plan) and never changes it; its siblings compute what it shows and receive it as an
argument, and the summaries they share live in :mod:`mixedfit.results.summaries`.
Plotting and saving read results and are never imported here.
"""

from mixedfit.results.view import ResultView

__all__ = ["ResultView"]
