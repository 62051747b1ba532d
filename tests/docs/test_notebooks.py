"""The notebooks of the docs, executed as a reader runs them, and the outputs the docs
show, against what the code prints today.

``docs/notebooks/*.ipynb`` are stored executed and the site shows their stored
outputs; ``docs/render_outputs.py`` (``make docs-outputs``) regenerates them and the
outputs pasted in the pages. These tests execute the notebooks with nbclient (kernel
``python3``, the ipykernel of this environment) and check what a reader sees: one
figure per plot call, the summary of ``print(res)``, no warning from a healthy fit,
and that the stored outputs and the pages' pasted outputs are those of today's code
(every number masked: a posterior summary moves with the machine, the shape of an
output should not).
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("nbclient")
pytest.importorskip("nbformat")
pytest.importorskip("ipykernel")

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "docs" / "notebooks"
REGENERATE = "make docs-outputs (python docs/render_outputs.py)"

_PLOT_CALL = re.compile(r"\.plot_\w+\(")


def _render_outputs() -> Any:
    name = "_docs_render_outputs"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "docs" / "render_outputs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # (dataclasses look their module up)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def render() -> Any:
    return _render_outputs()


@pytest.fixture(scope="module", params=["getting-started.ipynb", "glmm.ipynb"])
def executed(request: pytest.FixtureRequest, render: Any) -> tuple[Path, Any]:
    path = NOTEBOOKS / request.param
    return path, render.execute_notebook(path, timeout=600)


def _code_cells(nb: Any) -> list[Any]:
    return [cell for cell in nb.cells if cell.cell_type == "code"]


def _images(cell: Any) -> int:
    return sum("image/png" in output.get("data", {}) for output in cell.outputs)


def _stream(cell: Any, name: str) -> str:
    return "".join(output.text for output in cell.outputs
                   if output.output_type == "stream" and output.name == name)


def test_one_image_per_plot_call(executed: tuple[Path, Any]) -> None:
    path, nb = executed
    plot_cells = [cell for cell in _code_cells(nb) if _PLOT_CALL.search(cell.source)]
    assert plot_cells, f"{path.name} draws no plot"
    for cell in plot_cells:
        calls = len(_PLOT_CALL.findall(cell.source))
        assert _images(cell) == calls, (
            f"{path.name}: {cell.source!r} shows {_images(cell)} images for {calls} plot "
            "call(s)")
    others = [cell.source for cell in _code_cells(nb)
              if not _PLOT_CALL.search(cell.source) and _images(cell)]
    assert not others, f"{path.name}: images from cells that draw no plot: {others}"


def test_print_shows_the_summary(executed: tuple[Path, Any]) -> None:
    path, nb = executed
    printed = [cell for cell in _code_cells(nb) if "print(res)" in cell.source]
    assert len(printed) == 1, f"{path.name} should print the result once"
    text = _stream(printed[0], "stdout")
    formula = {"getting-started.ipynb": "Reaction ~ Days + (Days | Subject)",
               "glmm.ipynb": "cbind(incidence, size - incidence) ~ period + (1 | herd)"}
    for part in (f"Formula: {formula[path.name]}", "Random effects", "Fixed effects",
                 "Sampling:", "4 chains x 1000 draws"):
        assert part in text, f"{path.name}: {part!r} is not in the output of print(res)"


def test_a_healthy_fit_shows_no_warning(executed: tuple[Path, Any]) -> None:
    path, nb = executed
    for cell in _code_cells(nb):
        stderr = _stream(cell, "stderr")
        assert "Warning" not in stderr, f"{path.name}: {cell.source!r} warns:\n{stderr}"
        errors = [output for output in cell.outputs if output.output_type == "error"]
        assert not errors, f"{path.name}: {cell.source!r} raised {errors[0].ename}"
        for output in cell.outputs:
            plain = output.get("data", {}).get("text/plain", "")
            assert "Warning" not in plain, f"{path.name}: {cell.source!r} shows {plain!r}"
    summary = next(cell for cell in _code_cells(nb) if "print(res)" in cell.source)
    assert "No convergence problems" in _stream(summary, "stdout")


def test_stored_notebook_is_current(executed: tuple[Path, Any], render: Any) -> None:
    path, nb = executed
    stale = render.stale_notebook(path, nb)
    assert not stale, (f"the stored outputs of these cells are not what the code prints "
                       f"today; run {REGENERATE}: {stale}")


@pytest.mark.parametrize("page", ["getting-started.md", "results.md"])
def test_pasted_outputs_are_current(page: str, render: Any) -> None:
    stale = render.stale_outputs(ROOT / "docs" / page)
    assert not stale, (f"the outputs pasted in docs/{page} are not what the code prints "
                       f"today; run {REGENERATE}: {stale}")
