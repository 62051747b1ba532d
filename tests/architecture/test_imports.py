"""The import graph (``scripts/import_graph.py``): no cycles, no import against the layers,
no import hidden in a function except to defer a heavy dependency; and generic code
that asks families rather than testing their names."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("mixedfit_import_graph",
                                               ROOT / "scripts" / "import_graph.py")
graph = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(graph)


def test_the_import_graph_follows_the_layers():
    edges, problems = graph.graph()
    assert problems == []
    assert len(edges) > 50  # the whole package was read


def test_the_checker_finds_what_it_must():
    # a cycle, an upward import and a hidden import are all reported
    edges = {"a": {"b"}, "b": {"a"}, "c": set()}
    assert graph.cycles(edges) == [["a", "b"]]
    assert graph.layer("mixedfit.results.view") > graph.layer("mixedfit.backends.pymc")
    assert graph.layer("mixedfit.design.frame") == graph.layer("mixedfit.design")


def test_every_module_has_a_layer():
    for path in (ROOT / "mixedfit").rglob("*.py"):
        assert graph.layer(graph.module_name(path)) >= 0, path


def test_generic_code_does_not_test_family_names():
    # a family's name may be shown or saved, not compared: outside mixedfit/families/
    # no code says family.name == ... or family.name in (...)
    pattern = re.compile(r"(family|fam)\.name\s*(==|!=|in\b|not in\b)")
    hits = []
    for path in (ROOT / "mixedfit").rglob("*.py"):
        if "families" in path.parts:
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if pattern.search(line):
                hits.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert hits == []
