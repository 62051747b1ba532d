"""Doctest fixtures for the package's and the docs' examples (the tests have their own)."""

from __future__ import annotations

from typing import Any

import pytest

_EXAMPLE: dict[str, Any] = {}


def example_result() -> Any:
    """A small sleepstudy fit, made once per session, for the examples in docstrings."""
    if "res" not in _EXAMPLE:
        import mixedfit as mf

        _EXAMPLE["res"] = mf.fit("Reaction ~ Days + (Days | Subject)",
                                 mf.load_dataset("sleepstudy"), draws=300, tune=300, chains=2,
                                 random_seed=2, progressbar=False)
    return _EXAMPLE["res"]


@pytest.fixture(autouse=True)
def _doctest_example(doctest_namespace: dict[str, Any]) -> None:
    doctest_namespace["_example_result"] = example_result
