"""How the package is layered: no module imports, however indirectly, one that imports it.

The graph is read from the source with ``ast``, so it counts every import statement, those
inside functions included (a lazy import hides a cycle, it does not remove it); only imports
under ``if TYPE_CHECKING:`` are left out, as they never run.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Optional

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "python" / "ignyx"


def module_names(root: Path) -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its ``__init__``), the
    compiled engine (``_core``, which imports none of them) included."""
    names = {}
    for path in [*root.rglob("*.py"), *root.rglob("*.so")]:
        parts = list(path.relative_to(root.parent).parts)
        parts[-1] = parts[-1].split(".")[0]
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def is_package(name: str, modules: dict[str, Path]) -> bool:
    return modules[name].name == "__init__.py"


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def import_statements(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement of a module, wherever it is, but those that never run."""
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def imported_modules(name: str, modules: dict[str, Path]) -> set[str]:
    """The package's modules that importing `name` runs directly: each target, the
    subpackages it lies in (their ``__init__`` runs first, unless `name` is inside them
    already), and for ``from pkg import x`` the submodule ``pkg.x`` when there is one."""
    if modules[name].suffix != ".py":
        return set()
    tree = ast.parse(modules[name].read_text(), filename=str(modules[name]))
    own_package = name if is_package(name, modules) else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in import_statements(tree):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
            continue
        if node.level:
            base = own_package.split(".")
            base = base[: len(base) - node.level + 1]
            source = ".".join(base + ([node.module] if node.module else []))
        else:
            source = node.module or ""
        for alias in node.names:
            submodule = f"{source}.{alias.name}"
            targets.add(submodule if submodule in modules else source)
    edges = set()
    for target in targets:
        parts = target.split(".")
        for end in range(1, len(parts) + 1):
            ancestor = ".".join(parts[:end])
            inside = name == ancestor or name.startswith(ancestor + ".")
            if ancestor in modules and (ancestor == target or not inside):
                edges.add(ancestor)
    edges.discard(name)
    return edges


def import_graph(root: Path = PACKAGE) -> dict[str, set[str]]:
    modules = module_names(root)
    return {name: imported_modules(name, modules) for name in sorted(modules)}


def find_cycle(graph: dict[str, set[str]]) -> Optional[list[str]]:
    """One import cycle as ``[a, b, ..., a]``, or None when the graph has none."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> Optional[list[str]]:
        state[node] = 1
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return path[path.index(target) :] + [target]
            if target not in state:
                cycle = visit(target)
                if cycle:
                    return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    stack = [start]
    while stack:
        for target in graph.get(stack.pop(), ()):
            if target not in seen:
                seen.add(target)
                stack.append(target)
    return seen


def test_the_import_graph_sees_lazy_imports_and_packages() -> None:
    graph = import_graph()
    assert "ignyx.routing" in graph["ignyx.app"]
    assert "ignyx.openapi.utils" in graph["ignyx.app"]  # imported inside a method
    assert "ignyx.openapi" in graph["ignyx.app"]  # its __init__ runs first
    assert "ignyx.params" in graph["ignyx.routing.api_route"]  # `from .. import params`


def test_the_package_has_no_import_cycle() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


@pytest.mark.parametrize(
    "lower, higher",
    [
        # The connection knows nothing of routes, plans or the app.
        ("ignyx.websockets", ["ignyx.dependencies", "ignyx.routing", "ignyx.app"]),
        # Plans are compiled and solved without knowing the routes that use them.
        ("ignyx.dependencies", ["ignyx.routing", "ignyx.app", "ignyx.openapi"]),
        ("ignyx.exception_handlers", ["ignyx.routing", "ignyx.app", "ignyx.websockets"]),
        ("ignyx.routing", ["ignyx.app", "ignyx.openapi", "ignyx.server"]),
    ],
)
def test_lower_layers_never_import_higher_ones(lower: str, higher: list[str]) -> None:
    reached = reachable(import_graph(), lower)
    assert not reached.intersection(higher), sorted(reached.intersection(higher))
