"""The results layer: tables, shrinkage, predictions and reports of a fit."""

from mixedfit.results.result import MixedResult

__all__ = ["MixedResult"]
