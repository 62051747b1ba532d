"""Regenerate the outputs shown in the docs: pasted outputs of the pages and the
executed notebooks.

Run from the repository root (``make docs-outputs`` runs this, builds the site and
takes the screenshots)::

    python docs/render_outputs.py            # rewrite the pages' outputs, re-execute the notebooks
    python docs/render_outputs.py --check    # only report what is out of date (exit status 1)
    python docs/render_outputs.py --pages    # only the pages; --notebooks: only the notebooks

**Pages.** A doctest example of a page marked ``# doctest: +SKIP`` is a *shown
output*: pytest skips it (its numbers are posterior summaries, they move with the
machine), and this script runs the page's examples in order, in one namespace, as
doctest would, and writes what each skipped example prints as its expected output
(empty lines as ``<BLANKLINE>``; the site shows them as empty lines and drops the
directive, see ``docs/hooks/doctest_directives.py``). The other examples are
checked by pytest as usual; this script runs them only for the state they leave.

**Notebooks.** ``docs/notebooks/*.ipynb`` are stored executed, with their outputs,
and the site shows them as stored (mkdocs-jupyter with ``execute: false``). This
script clears and re-executes them with nbclient (kernel ``python3``).

``--check`` compares fresh outputs with the stored ones with every number masked and
whitespace collapsed (:func:`masked`), so that it reports a change of what the code
prints (a new column, a new line in the summary, a warning) and not the last digits
of a posterior summary; ``tests/docs/test_notebooks.py`` runs the same comparison.
"""

from __future__ import annotations

import argparse
import contextlib
import doctest
import io
import re
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
NOTEBOOKS = DOCS / "notebooks"

#: pages whose ``+SKIP`` examples this script writes
PAGES = ("getting-started.md", "results.md")

#: what pandas prints in the pages: every column, tables up to this wide
PANDAS_OPTIONS = {"display.width": 120, "display.max_columns": 30}

_NUMBER = re.compile(r"0x[0-9a-fA-F]+"  # an address, as in <... at 0x7f...>
                     r"|[-+]?(?:\d[\d,]*\.?\d*|\.\d+)(?:[eE][-+]?\d+)?%?|\bnan\b|\binf\b")


def masked(text: str) -> str:
    """``text`` with every number replaced by ``#`` and whitespace collapsed: what is
    compared to tell a changed output from a resampled one.

    >>> masked("Intercept   251.4  8.09\\n Days  10.43")
    'Intercept # # Days #'
    """
    return " ".join(_NUMBER.sub("#", text).split())


# ------------------------------------------------------------------------------ pages
@dataclass
class Shown:
    """A ``+SKIP`` example of a page: where its output sits, and the outputs."""

    source: str
    start: int  # the span of the expected output in the page's text
    end: int
    indent: str
    stored: str
    fresh: str = ""


def _options(source: str) -> dict[int, bool]:
    parser = doctest.DocTestParser()
    return parser._find_options(source, "page", 0)  # the directives, as doctest reads them


def _source(match: re.Match[str]) -> str:
    indent = len(match["indent"])
    lines = match["source"].split("\n")
    return "\n".join(line[indent + 4:] for line in lines) + "\n"


def _want(match: re.Match[str]) -> str:
    indent = len(match["indent"])
    lines = [line[indent:] for line in match["want"].split("\n")]
    text = "\n".join(lines).rstrip("\n")
    return "\n".join("" if line == "<BLANKLINE>" else line for line in text.split("\n"))


def _run(source: str, namespace: dict[str, Any], name: str) -> tuple[str, list[str]]:
    """Run one example as doctest does (compiled in ``single`` mode, so an
    expression's value is printed); return what it printed and its warnings."""
    out = io.StringIO()
    with (warnings.catch_warnings(record=True) as caught,
          contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO())):
        warnings.simplefilter("default")
        warnings.filterwarnings("ignore", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message="PyTensor could not link to a BLAS")
        code = compile(source, name, "single", dont_inherit=True)
        exec(code, namespace)
    shown = [f"{w.category.__name__}: {w.message}" for w in caught]
    return out.getvalue(), shown


def run_page(path: Path) -> list[Shown]:
    """Run a page's examples in order; return its shown outputs, stored and fresh."""
    import pandas as pd

    text = path.read_text()
    namespace: dict[str, Any] = {"__name__": path.stem}
    shown: list[Shown] = []
    with pd.option_context(*[x for kv in PANDAS_OPTIONS.items() for x in kv]):
        for match in doctest.DocTestParser._EXAMPLE_RE.finditer(text):
            source = _source(match)
            options = _options(source)
            skipped = options.get(doctest.SKIP, False)
            name = f"{path.name}:{text.count(chr(10), 0, match.start()) + 1}"
            try:
                printed, caught = _run(source, namespace, name)
            except Exception as error:
                if match["want"].lstrip().startswith("Traceback") and not skipped:
                    continue  # an example that shows an error
                raise RuntimeError(f"{name}: {source!r} raised {error!r}") from error
            for line in caught:
                print(f"  {name}: {line}", file=sys.stderr)
            if skipped:
                # a user sees the warnings of a call as well (on stderr)
                fresh = "\n".join(filter(None, [printed.rstrip("\n"), *caught]))
                shown.append(Shown(source, match.start("want"), match.end("want"),
                                   match["indent"], _want(match), fresh))
    return shown


def _as_want(output: str, indent: str) -> str:
    if not output.strip():
        return ""
    lines = [line.rstrip() for line in output.strip("\n").split("\n")]
    return "".join(f"{indent}{line or '<BLANKLINE>'}\n" for line in lines)


def write_page(path: Path, shown: list[Shown]) -> None:
    text = path.read_text()
    for item in reversed(shown):  # from the end, so that the spans stay valid
        text = text[:item.start] + _as_want(item.fresh, item.indent) + text[item.end:]
    path.write_text(text)


def stale_outputs(path: Path, shown: list[Shown] | None = None) -> list[str]:
    """The shown outputs of a page that differ from a fresh run (numbers masked)."""
    shown = run_page(path) if shown is None else shown
    return [f"{path.name}: >>> {item.source.strip()}" for item in shown
            if masked(item.stored) != masked(item.fresh)]


# -------------------------------------------------------------------------- notebooks
def execute_notebook(path: Path, *, timeout: int = 600) -> Any:
    """The notebook at ``path`` cleared and executed (not written)."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            record_timing=False,
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    return nb


def _text_outputs(nb: Any) -> list[str]:
    texts = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        parts = []
        for output in cell.get("outputs", []):
            if output.output_type == "stream":
                parts.append(f"{output.name}: {output.text}")
            elif output.output_type in ("execute_result", "display_data"):
                data = output.get("data", {})
                kinds = sorted(k for k in data if k != "text/plain")
                plain = data.get("text/plain", "")
                # a figure's repr names its size and address: only its kind counts
                parts.append(" ".join(kinds) + ("" if "image/png" in data else f" {plain}"))
            elif output.output_type == "error":
                parts.append(f"error: {output.ename}: {output.evalue}")
        texts.append(masked("\n".join(parts)))
    return texts


def stale_notebook(path: Path, fresh: Any) -> list[str]:
    """The code cells of the stored notebook whose outputs differ from ``fresh``'s."""
    import nbformat

    stored = nbformat.read(path, as_version=4)
    sources = [c.source for c in stored.cells if c.cell_type == "code"]
    return [f"{path.name}: {source.splitlines()[0] if source else '(empty cell)'}"
            for source, old, new in zip(sources, _text_outputs(stored), _text_outputs(fresh),
                                        strict=True)
            if old != new]


def write_notebook(path: Path, nb: Any) -> None:
    import nbformat

    nbformat.write(nb, path)


# ---------------------------------------------------------------------------- command
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="report what is out of date; write nothing")
    parser.add_argument("--pages", action="store_true", help="only the pages")
    parser.add_argument("--notebooks", action="store_true", help="only the notebooks")
    args = parser.parse_args(argv)
    both = not (args.pages or args.notebooks)
    sys.path.insert(0, str(ROOT))
    stale: list[str] = []
    if args.pages or both:
        for name in PAGES:
            path = DOCS / name
            start = time.perf_counter()
            shown = run_page(path)
            stale += stale_outputs(path, shown)
            if not args.check:
                write_page(path, shown)
            print(f"{path.relative_to(ROOT)}: {len(shown)} outputs "
                  f"({time.perf_counter() - start:.0f} s)")
    if args.notebooks or both:
        for path in sorted(NOTEBOOKS.glob("*.ipynb")):
            start = time.perf_counter()
            nb = execute_notebook(path)
            stale += stale_notebook(path, nb)
            if not args.check:
                write_notebook(path, nb)
            print(f"{path.relative_to(ROOT)}: executed ({time.perf_counter() - start:.0f} s)")
    if stale:
        print(("Out of date:" if args.check else "Changed (not only numbers):")
              + "".join(f"\n  {line}" for line in stale))
    return 1 if (args.check and stale) else 0


if __name__ == "__main__":
    raise SystemExit(main())
