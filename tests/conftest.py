"""Shared fixtures: a session-wide cache of fitted models.

Structure tests use short chains (``quick``); accuracy tests use 4 chains x
1000 draws after 1000 warm-up steps (``long``). Each distinct fit runs once
per test session.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest

os.environ.setdefault("MIXEDFIT_QUICK", "1")

QUICK = {"draws": 250, "tune": 300, "chains": 2}
LONG = {"draws": 1000, "tune": 1000, "chains": 4}

_CACHE: dict[tuple, Any] = {}


def cached_fit(formula: str, data: Any, *, key: str, **kwargs: Any) -> Any:
    """Fit once per session per (key, formula, options)."""
    import mixedfit as mf

    options = {"random_seed": 20241122, "progressbar": False, **kwargs}
    cache_key = (key, formula, tuple(sorted((k, repr(v)) for k, v in options.items())))
    if cache_key not in _CACHE:
        _CACHE[cache_key] = mf.fit(formula, data, **options)
    return _CACHE[cache_key]


@pytest.fixture(scope="session")
def fit_cache() -> Callable[..., Any]:
    return cached_fit


@pytest.fixture(scope="session")
def sleep_quick() -> Any:
    import mixedfit as mf

    return cached_fit("Reaction ~ Days + (Days | Subject)", mf.load_dataset("sleepstudy"),
                      key="sleepstudy", **QUICK)


class SamplingStarted(BaseException):
    """Raised by a sampler that must not run; a BaseException, so that no ``except
    Exception`` in mixedfit (which explains a sampler's own failures) catches it."""


def forbid_sampling(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every sampler entry point (both backends, posterior and prior) fail the test."""
    from mixedfit.backends import BACKENDS

    def boom(*args: Any, **kwargs: Any) -> Any:
        raise SamplingStarted("sampling started")

    for backend in BACKENDS.values():
        monkeypatch.setattr(type(backend), "sample", boom)
    monkeypatch.setattr(type(BACKENDS["pymc"]), "prior_draws", boom)
