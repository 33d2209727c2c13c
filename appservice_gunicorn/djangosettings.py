"""Django's settings as files tell them: ``DJANGO_SETTINGS_MODULE`` where ``manage.py`` or a
``wsgi.py`` sets it, and a setting's value, following ``from .base import *``.  Read from
the AST: the settings module is never imported.
"""

from __future__ import annotations

import ast
from pathlib import Path

from . import pysource


def settings_module(path: Path) -> str | None:
    """``DJANGO_SETTINGS_MODULE`` as a file (``manage.py``, ``wsgi.py``) sets it:
    ``setdefault`` or assignment, of a string or of a name bound to one."""
    try:
        tree = pysource.parse(path)
    except (SyntaxError, ValueError, OSError):
        return None
    # One walk: the names bound to strings, and what DJANGO_SETTINGS_MODULE is set to.
    strings: dict[str, object] = {}
    values: list[ast.expr] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Subscript) and _is_str(
                    target.slice, "DJANGO_SETTINGS_MODULE"
                ):
                    values.append(node.value)
                elif isinstance(target, ast.Name) and isinstance(node.value, ast.Constant):
                    strings[target.id] = node.value.value
        elif (
            isinstance(node, ast.Call)
            and len(node.args) >= 2
            and _is_str(node.args[0], "DJANGO_SETTINGS_MODULE")
        ):
            values.append(node.args[1])
    for value in values:
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            return value.value
        if isinstance(value, ast.Name) and isinstance(strings.get(value.id), str):
            return str(strings[value.id])
    return None


def _is_str(node: ast.AST, text: str) -> bool:
    return isinstance(node, ast.Constant) and node.value == text


def setting(root: Path, module: str, name: str) -> str | None:
    """A string setting from a settings module, following ``from x import *`` (split settings)."""
    node = _assigned(root, module, name)
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def strings(root: Path, module: str, name: str) -> list[str]:
    """The strings in a setting's literal value (``MIDDLEWARE``'s paths, ``DATABASES``'s
    engines and names), in order; none when it is computed."""
    node = _assigned(root, module, name)
    if node is None:
        return []
    return [
        item.value
        for item in ast.walk(node)
        if isinstance(item, ast.Constant) and isinstance(item.value, str)
    ]


def _assigned(root: Path, module: str, name: str, _depth: int = 0) -> ast.expr | None:
    """The expression last assigned to ``name`` at the top of the settings module."""
    path = pysource.module_file(root, module)
    if path is None or _depth > 8:
        return None
    try:
        tree = pysource.parse(path)
    except (SyntaxError, ValueError, OSError):
        return None
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    value: ast.expr | None = None
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names):
            source = _absolute(package, node.module, node.level)
            if source:
                value = _assigned(root, source, name, _depth + 1) or value
        for target, assigned in pysource.assignments(node):
            if target == name and assigned is not None:
                value = assigned
    return value


def _absolute(package: str, module: str | None, level: int) -> str | None:
    if level == 0:
        return module
    parts = package.split(".") if package else []
    if level - 1 > len(parts):
        return None
    base = parts[: len(parts) - (level - 1)]
    return ".".join([*base, module] if module else base) or None
