"""mixedfit's import graph: cycles, imports against the layers, imports inside functions.

    python scripts/import_graph.py          # report; exit status 1 on any violation

Reads every module of the package with ``ast`` (nothing is imported). An import inside
a function is allowed only to defer a heavy dependency (PyMC, numba, matplotlib,
ArviZ, or a module of mixedfit that loads one), with a comment saying so on the
import line or the line above (``# deferred: ...``); it counts in the graph like any
other import, so it cannot hide a cycle or an import against the layers.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "mixedfit"

#: Layers, lowest first; a module may import only from its own layer or lower ones.
LAYERS: list[tuple[str, ...]] = [
    ("mixedfit.errors", "mixedfit.names", "mixedfit.datasets", "mixedfit._version",
     "mixedfit.convergence"),
    ("mixedfit.families",),
    ("mixedfit.formula",),
    ("mixedfit.design",),
    ("mixedfit.priors",),
    ("mixedfit.standardize", "mixedfit.spec"),
    ("mixedfit.backends", "mixedfit.fast"),
    ("mixedfit.plan", "mixedfit.parameterisation", "mixedfit.parallel"),
    ("mixedfit.results",),
    ("mixedfit.plots", "mixedfit.io"),
    ("mixedfit.api",),
    ("mixedfit.comparison", "mixedfit.many", "mixedfit.cli", "mixedfit"),
]


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def layer(module: str) -> int:
    best, rank = -1, -1
    for i, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, rank = len(prefix), i
    return rank


def _resolve(module: str, node: ast.ImportFrom, is_package: bool) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports(path: Path) -> list[tuple[str, int, bool, str]]:
    """``(imported module, line, inside a function, line text and the one above)``."""
    source = path.read_text()
    lines = source.splitlines()
    tree = ast.parse(source)
    module = module_name(path)
    out = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inner = in_function or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
            if isinstance(child, ast.Import | ast.ImportFrom):
                # the import, and the run of import lines and comments right above it
                first = child.lineno - 1
                while first > 0 and lines[first - 1].strip().startswith(
                        ("import ", "from ", "#")):
                    first -= 1
                context = " ".join(lines[first:child.end_lineno])
                if isinstance(child, ast.Import):
                    names = [a.name for a in child.names]
                else:
                    target = _resolve(module, child, path.name == "__init__.py")
                    names = []
                    # "from mixedfit.x import y" imports the module mixedfit.x.y when there
                    # is one, else the name y of mixedfit.x
                    base = ROOT.parent / target.replace(".", "/")
                    for alias in child.names:
                        if (base / alias.name).is_dir() or (base / f"{alias.name}.py").exists():
                            names.append(f"{target}.{alias.name}")
                        elif target not in names:
                            names.append(target)
                typing_only = _in_type_checking(tree, child)
                if not typing_only:
                    for name in names:
                        out.append((name, child.lineno, in_function, context))
            visit(child, inner)

    visit(tree, False)
    return out


def _in_type_checking(tree: ast.AST, target: ast.AST) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            if any(child is target for child in ast.walk(node)):
                return True
    return False


def graph() -> tuple[dict[str, set[str]], list[str]]:
    """The module graph (mixedfit modules only) and the list of violations."""
    edges: dict[str, set[str]] = {}
    problems = []
    modules = {module_name(p): p for p in ROOT.rglob("*.py")}
    for name, path in sorted(modules.items()):
        edges.setdefault(name, set())
        for target, line, in_function, context in imports(path):
            ours = target == "mixedfit" or target.startswith("mixedfit.")
            where = f"{path.relative_to(ROOT.parent)}:{line}"
            if in_function and "deferred" not in context:
                problems.append(f"{where}: import of {target} inside a function without a "
                                f"'# deferred' comment")
            if not ours:
                continue
            target = target if target in modules else target.rsplit(".", 1)[0]
            if target not in modules or target == name:
                continue
            edges[name].add(target)
            if layer(target) > layer(name) and not name == "mixedfit":
                problems.append(f"{where}: {name} (layer {layer(name)}) imports {target} "
                                f"(layer {layer(target)})")
    problems += [f"import cycle: {' -> '.join(c)}" for c in cycles(edges)]
    return edges, problems


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(10_000)
    for v in sorted(edges):
        if v not in index:
            strong(v)
    return out


def main() -> int:
    _, problems = graph()
    for p in problems:
        print(p)
    print(f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
