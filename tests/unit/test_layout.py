"""The package's floor plan: no import circle (function-level imports included), every
module short; the layers themselves are import-linter's contract (pyproject.toml)."""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "appservice_gunicorn"
MAX_LINES = 350


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in PACKAGE.rglob("*.py")}


def imports(path: Path) -> set[str]:
    """The package's modules that ``path`` imports anywhere in it (in functions too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # ``from package import module`` imports that module, ``from module import name``
            # the module (a package's __init__ runs either way: not counted as an import).
            names = [
                f"{node.module}.{alias.name}"
                if f"{node.module}.{alias.name}" in MODULES
                else node.module
                for alias in node.names
            ]
        else:
            continue
        found |= {name for name in names if name in MODULES}
    return found - {module_name(path)}


def test_no_relative_imports() -> None:
    """Absolute imports: a module's imports read the same wherever it moves."""
    for path in MODULES.values():
        for node in ast.walk(ast.parse(path.read_text())):
            assert not (isinstance(node, ast.ImportFrom) and node.level), (
                f"{path.relative_to(PACKAGE.parent)}:{node.lineno}: relative import"
            )


def test_no_import_circle() -> None:
    graph = {name: imports(path) for name, path in MODULES.items()}
    try:
        order = list(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as exc:
        pytest.fail(f"import circle: {' -> '.join(exc.args[1])}")
    assert len(order) == len(graph)
    assert not any("appservice_gunicorn.__main__" in deps for deps in graph.values()), (
        "the entry point is imported by nothing"
    )


@pytest.mark.parametrize("name", sorted(MODULES))
def test_every_module_is_short(name: str) -> None:
    lines = len(MODULES[name].read_text().splitlines())
    assert lines <= MAX_LINES, f"{name}: {lines} lines; split it by what it holds"


def test_the_unit_tests_mirror_the_packages_folders() -> None:
    """tests/unit/<folder>/ for the package's <folder>/ (tests of the whole project at the
    top); a folder of tests with no package folder would mean a move was half done."""
    unit = Path(__file__).resolve().parent
    for folder in (path.parent for path in unit.rglob("test_*.py")):
        relative = folder.relative_to(unit)
        assert (PACKAGE / relative).is_dir(), f"tests/unit/{relative}: no package folder"
