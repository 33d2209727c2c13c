"""Rules from App Service's neighbours: ``wsgi_app`` in gunicorn's config file and
Flask's ``FLASK_APP``.  Both read variables and files (AST) only."""

from __future__ import annotations

import ast
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from . import fs, pysource
from .search import Found

CONFIG_FILE = "gunicorn.conf.py"
CONFIG_PATH_VARIABLE = "PYTHON_USE_GUNICORN_CONFIG_FROM_PATH"


def config_file(
    app_dir: Path, startup: Mapping[str, Any], env: Mapping[str, str]
) -> tuple[Path | None, str]:
    """The gunicorn config file gunicorn will read, and what names it: ``-c`` in the startup
    command, then in ``GUNICORN_CMD_ARGS``, then ``PYTHON_USE_GUNICORN_CONFIG_FROM_PATH``,
    else ``gunicorn.conf.py``; the path is None when no file is named or found."""
    for name, origin in (
        (startup.get("config"), "-c"),
        (_cmd_args_config(env.get("GUNICORN_CMD_ARGS", "")), "-c in GUNICORN_CMD_ARGS"),
        (env.get(CONFIG_PATH_VARIABLE, "").strip(), CONFIG_PATH_VARIABLE),
    ):
        if name:
            text = str(name)
            if text.startswith("python:"):
                return None, origin
            path = Path(text.removeprefix("file:"))
            return (path if path.is_absolute() else app_dir / path), origin
    default = app_dir / CONFIG_FILE
    return (default if fs.is_file(default) else None), CONFIG_FILE


def _cmd_args_config(text: str) -> str | None:
    try:
        words = shlex.split(text)
    except ValueError:
        return None  # reported where the settings are layered
    for index, word in enumerate(words):
        if word in ("-c", "--config") and index + 1 < len(words):
            return words[index + 1]
        if word.startswith("--config="):
            return word.partition("=")[2]
        if word.startswith("-c") and len(word) > 2:
            return word[2:]
    return None


def config_wsgi_app(path: Path | None) -> str | None:
    """``wsgi_app = "module:variable"`` as a literal at the top of a gunicorn config file."""
    if path is None or not fs.is_file(path):
        return None
    try:
        tree = pysource.parse(path)
    except (SyntaxError, ValueError, OSError):
        return None  # layering the settings reports it
    value = None
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "wsgi_app" for t in node.targets
        ):
            literal = node.value
            if isinstance(literal, ast.Constant) and isinstance(literal.value, str):
                value = literal.value
    return value or None


def flask_app(app_dir: Path, env: Mapping[str, str]) -> Found | tuple[str, str]:
    """``FLASK_APP`` as Flask's CLI reads it: ``module``, ``module:name``,
    ``module:create_app(args)``, or a path (``src/hello.py``); else (reason, public)."""
    value = env.get("FLASK_APP", "").strip()
    if not value:
        return "FLASK_APP is not set", "FLASK_APP is not set"
    target, _, attribute = value.partition(":")
    root, module = _import_location(app_dir, target.strip())
    path = pysource.module_file(root, module) if module else None
    if path is None:
        reason = (
            f"FLASK_APP={value!r} names module {module or target!r}, which is not in {root}; "
            "fix FLASK_APP or deploy the module"
        )
        return reason, "FLASK_APP names a module that is not in the app folder"
    scan = pysource.scan_module(path)
    chosen = attribute.strip() or scan.choose()
    if chosen is None:
        seen = ", ".join(scan.names[:8]) or "none"
        reason = f"FLASK_APP={value!r}: {path.name} defines no app object; names seen: {seen}"
        return reason, "FLASK_APP names a module without an app object"
    kind = scan.kind_of(chosen.split("(")[0].strip())
    return Found(
        app=f"{module}:{chosen}",
        kind=kind,
        pythonpath=root,
        reason=f"FLASK_APP={value} -> {module}:{chosen} ({kind.upper()})",
    )


def _import_location(app_dir: Path, target: str) -> tuple[Path, str]:
    """(import root, dotted module) of FLASK_APP's module part, as Flask's
    ``prepare_import`` finds them: a path is imported from above its outermost package."""
    if "/" not in target and not target.endswith(".py"):
        return app_dir, target
    path = app_dir / target.removesuffix(".py")
    if path.name == "__init__":
        path = path.parent
    parts = [path.name]
    folder = path.parent
    while fs.is_file(folder / "__init__.py") and folder != app_dir.parent:
        parts.append(folder.name)
        folder = folder.parent
    return folder, ".".join(reversed(parts))
