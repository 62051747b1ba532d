"""Link functions: ``eta = g(mu)`` and back.

Every link mixedfit knows, with its inverse and its derivative ``d mu / d eta``;
families say which of them they take.

Examples
--------
>>> float(inverse_link("log", 0.0)), float(inverse_link("logit", 0.0))
(1.0, 0.5)
>>> float(link_function("logit", 0.5))
0.0
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import erf, ndtri

from mixedfit.errors import FamilyError

__all__ = ["LINKS", "inverse_link", "link_function", "dmu_deta"]

#: Every link mixedfit knows.
LINKS = ("identity", "log", "inverse", "logit", "probit", "cloglog")


def _unknown(link: str) -> FamilyError:
    return FamilyError(f"Unknown link {link!r}; known links: {', '.join(LINKS)}.")


def inverse_link(link: str, eta: Any, xp: Any = np) -> Any:
    """Apply the inverse of ``link`` to ``eta`` with the array module ``xp``.

    ``xp`` is ``numpy`` for results and ``pytensor.tensor`` inside a model.
    """
    if link == "identity":
        return eta
    if link == "log":
        return xp.exp(eta)
    if link == "inverse":
        return 1.0 / eta
    if link == "logit":
        return 1.0 / (1.0 + xp.exp(-eta))
    if link == "probit":
        f = xp.erf if hasattr(xp, "erf") else erf
        return 0.5 * (1.0 + f(eta / np.sqrt(2.0)))
    if link == "cloglog":
        return 1.0 - xp.exp(-xp.exp(eta))
    raise _unknown(link)


def link_function(link: str, mu: Any) -> Any:
    """Apply ``link`` to ``mu`` (numpy only)."""
    mu = np.asarray(mu, dtype=float)
    if link == "identity":
        return mu
    if link == "log":
        return np.log(mu)
    if link == "inverse":
        return 1.0 / mu
    if link == "logit":
        return np.log(mu) - np.log1p(-mu)
    if link == "probit":
        return ndtri(mu)
    if link == "cloglog":
        return np.log(-np.log1p(-mu))
    raise _unknown(link)


def dmu_deta(link: str, eta: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """``d mu / d eta`` at ``eta`` (with ``mu = g^-1(eta)`` already computed)."""
    if link == "identity":
        return np.ones_like(eta)
    if link == "log":
        return mu
    if link == "inverse":
        return -(mu**2)
    if link == "logit":
        return mu * (1.0 - mu)
    if link == "probit":
        return np.exp(-0.5 * eta**2) / np.sqrt(2 * np.pi)
    if link == "cloglog":
        return np.exp(eta - np.exp(eta))
    raise _unknown(link)
