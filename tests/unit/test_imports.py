"""Import order never changes behaviour: every module imports on its own, in a fresh
interpreter, whatever the environment holds; gunicorn's settings come through one module."""

from __future__ import annotations

import ast
import os
import subprocess
import sys

import pytest

from tests.unit.test_layout import MODULES, PACKAGE

# What gunicorn.config reads when it is imported: a bad value must not crash the import.
HOSTILE = {"WEB_CONCURRENCY": "auto", "PORT": "abc", "GUNICORN_CMD_ARGS": "--workers=x"}
# The gunicorn modules that import gunicorn.config (and so read WEB_CONCURRENCY).
GUARDED = ("gunicorn.config", "gunicorn.app", "gunicorn.arbiter", "gunicorn.workers")


@pytest.mark.parametrize("name", sorted(MODULES))
def test_every_module_imports_alone_whatever_the_environment(name: str) -> None:
    env = {**os.environ, **HOSTILE}
    result = subprocess.run(
        [sys.executable, "-c", f"import {name}"],
        capture_output=True,
        text=True,
        env=env,
        cwd="/",
        timeout=60,
    )
    assert (result.returncode, result.stderr) == (0, ""), result.stderr


def test_an_import_leaves_the_environment_as_it_found_it() -> None:
    code = (
        "import os; before = dict(os.environ); import appservice_gunicorn.base.gunicorn_api; "
        "print(dict(os.environ) == before)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, **HOSTILE},
        cwd="/",
        check=True,
    ).stdout
    assert out.strip() == "True"


def test_gunicorns_settings_are_imported_through_one_module() -> None:
    for path in PACKAGE.rglob("*.py"):
        if path.name == "gunicorn_api.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            for name in names:
                where = f"{path.relative_to(PACKAGE.parent)}:{getattr(node, 'lineno', 0)}"
                assert not name.startswith(GUARDED), (
                    f"{where} imports {name}: take it from appservice_gunicorn.base.gunicorn_api"
                )
