"""The package's imports point one way: the model (core/) knows neither the executors nor the
wire, and no two modules import each other, directly or round a longer loop.

Every ``import`` in every module counts, at module level or inside a function, under
``TYPE_CHECKING`` or not: a lazy import still ties two modules together.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "fakecomfy"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imported(name: str) -> set[str]:
    """The package's modules that module ``name`` imports (a ``from X import Y`` of a
    submodule Y counts as Y; of a name defined in X, as X)."""
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in MODULES)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                if submodule in MODULES:
                    found.add(submodule)
                elif node.module in MODULES:
                    found.add(node.module)
    found.discard(name)
    return found


GRAPH = {name: imported(name) for name in MODULES}


def test_the_import_graph_covers_the_package() -> None:
    assert {"fakecomfy.core.model", "fakecomfy.executors.engine", "fakecomfy.web.hub"} <= set(GRAPH)
    assert "fakecomfy.core.execution" in GRAPH["fakecomfy.executors.engine"]


@pytest.mark.parametrize("layer", ["fakecomfy.core", "fakecomfy.executors"])
def test_the_model_and_the_executors_know_nothing_of_the_wire(layer: str) -> None:
    wire = ("fakecomfy.web", "fakecomfy.routes", "fakecomfy.app", "fakecomfy.contract", "fakecomfy.cli")
    offenders = {name: sorted(i for i in deps if i.startswith(wire))
                 for name, deps in GRAPH.items() if name.startswith(layer)}
    assert {k: v for k, v in offenders.items() if v} == {}
    starlette = [name for name in GRAPH if name.startswith(layer)
                 if "starlette" in MODULES[name].read_text(encoding="utf-8")]
    assert starlette == []


def test_core_does_not_import_the_executors() -> None:
    offenders = {name: sorted(i for i in deps if i.startswith("fakecomfy.executors"))
                 for name, deps in GRAPH.items() if name.startswith("fakecomfy.core")}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_no_import_cycles() -> None:
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1 on the path, 2 done
    path: list[str] = []

    def visit(name: str) -> None:
        state[name] = 1
        path.append(name)
        for dep in sorted(GRAPH[name]):
            if state.get(dep) == 1:
                cycles.append([*path[path.index(dep):], dep])
            elif dep not in state:
                visit(dep)
        path.pop()
        state[name] = 2

    for name in sorted(GRAPH):
        if name not in state:
            visit(name)
    assert cycles == []
