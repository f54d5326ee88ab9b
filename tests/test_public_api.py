"""Every module that declares ``__all__`` declares all of it: each public name it defines (or,
for a package, re-exports) is listed, and each listed name exists. Ruff (RUF022) keeps the
lists sorted."""
from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "fakecomfy"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def declared(tree: ast.Module) -> list[str] | None:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            return [ast.literal_eval(elt) for elt in node.value.elts]  # type: ignore[attr-defined]
    return None


def public_names(tree: ast.Module, package: str | None) -> set[str]:
    """Names a module defines at its top level (a package: also the names it imports from its
    own submodules, not the submodules themselves), leaving out private ones."""
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif package and isinstance(node, ast.ImportFrom) and (node.module or "").startswith(package + "."):
            names.update(alias.asname or alias.name for alias in node.names
                         if not is_module(f"{node.module}.{alias.name}"))
    return {n for n in names if not n.startswith("_")}


def is_module(name: str) -> bool:
    relative = Path(*name.split("."))
    return (PACKAGE.parent / relative).with_suffix(".py").is_file() or (PACKAGE.parent / relative).is_dir()


MODULES = [p for p in sorted(PACKAGE.rglob("*.py")) if declared(ast.parse(p.read_text(encoding="utf-8"))) is not None]


def test_the_public_modules_are_found() -> None:
    assert {"fakecomfy", "fakecomfy.executors", "fakecomfy.core.validation"} <= {module_name(p) for p in MODULES}


@pytest.mark.parametrize("path", MODULES, ids=module_name)
def test_all_lists_every_public_name_and_only_existing_ones(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    listed = declared(tree)
    assert listed is not None
    assert len(listed) == len(set(listed)), "a name is listed twice"
    missing = public_names(tree, module_name(path) if path.name == "__init__.py" else None) - set(listed)
    assert missing == set(), f"public but not in __all__: {sorted(missing)}"
    if module_name(path).startswith("fakecomfy.executors.torch"):
        pytest.importorskip("torch", reason="the torch family imports PyTorch (pip install 'fakecomfy[torch]')")
    module = importlib.import_module(module_name(path))
    assert [name for name in listed if not hasattr(module, name)] == []
