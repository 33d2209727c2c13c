"""Django's settings as files tell them: ``DJANGO_SETTINGS_MODULE`` where ``manage.py`` or a
``wsgi.py`` sets it, and a setting's value, following ``from .base import *``.  Read from
the AST: the settings module is never imported.
"""

import ast
import re
from pathlib import Path

from appservice_gunicorn.files import pysource


def settings_module(path: Path) -> str | None:
    """``DJANGO_SETTINGS_MODULE`` as a file (``manage.py``, ``wsgi.py``) sets it:
    ``setdefault`` or assignment, of a string or of a name bound to one."""
    tree = pysource.parsed(path)
    if tree is None:
        return None
    # One walk: the names bound to strings, and what DJANGO_SETTINGS_MODULE is set to.
    strings: dict[str, object] = {}
    values: list[ast.expr] = []
    for node in pysource.walk(tree):
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


def setting(
    root: Path, module: str, name: str, path: Path | None = None, default: str | None = None
) -> str | None:
    """A string setting from a settings module, following ``from x import *`` (split
    settings): the last string assigned to it (a value computed later, such as
    ``os.environ.get(..., WSGI_APPLICATION)``, keeps it as its default).  ``path``: the
    module's file, when the caller has found it.  ``default``: what the caller does when
    the setting is not set; when the text shows the module can only set it to that value,
    or does not name it, the module is not parsed (a startproject's settings: a third of a
    detection)."""
    path = path or pysource.module_file(root, module)
    if path is None:
        return None
    if default is not None:
        answered, value = _from_text(path, name, default)
        if answered:
            return value
    found = [
        value.value
        for value in _assigned(root, module, name, path=path)
        if isinstance(value, ast.Constant) and isinstance(value.value, str)
    ]
    return found[-1] if found else None


# ``from x import *`` (a backslash may end the line before the star).
_STAR_IMPORT = re.compile(rb"\bimport[\s\\]*\*")
# PEP 263: a declared encoding (utf-7, unicode_escape) may spell ASCII bytes as other names;
# one that reads ASCII as ASCII (utf-8, ascii, latin-1) may not.
_CODING = re.compile(
    rb"^[ \t\f]*#.*?coding[:=](?![ \t]*(?i:utf[-_]?8|ascii|latin[-_]?1)(?![-\w.]))",
    re.MULTILINE,
)


def _from_text(path: Path, name: str, default: str) -> tuple[bool, str | None]:
    """(True, the answer) when the module's text alone gives ``setting``'s answer for a
    caller that falls back to ``default``: no star import and, the source being ASCII with
    no encoding declared (no other spelling of the name), either no line naming the setting
    (None) or only lines ``NAME = "default"`` at the line's start (``default``: whether or
    not such a line really assigns it, in a string or within brackets, the caller serves
    the same).  Else (False, None): parse it."""
    try:
        source = pysource.read_source(path)
    except (OSError, ValueError):
        return False, None
    head = b"\n".join(source.split(b"\n", 2)[:2])  # where Python looks for a declaration
    if not source.isascii() or _CODING.search(head) or _STAR_IMPORT.search(source):
        return False, None
    key = name.encode()
    naming = [line for line in source.splitlines() if key in line]
    if not naming:
        return True, None
    assigns_default = re.compile(
        rb"%s\s*=\s*(['\"])%s\1\s*(#.*)?" % (re.escape(key), re.escape(default.encode()))
    )
    if all(assigns_default.fullmatch(line) for line in naming):
        return True, default
    return False, None


def strings(root: Path, module: str, name: str) -> list[str]:
    """The strings in what is assigned to a setting, ``+=`` included (``MIDDLEWARE``'s
    paths, ``DATABASES``'s engines and names), in order."""
    return [
        item.value
        for value in _assigned(root, module, name)
        for item in pysource.walk(value)
        if isinstance(item, ast.Constant) and isinstance(item.value, str)
    ]


def _assigned(
    root: Path, module: str, name: str, _depth: int = 0, path: Path | None = None
) -> list[ast.expr]:
    """Every expression assigned to ``name`` at the top of the settings module, in order."""
    path = path or pysource.module_file(root, module)
    if path is None or _depth > 8:
        return []
    tree = pysource.parsed(path)
    if tree is None:
        return []
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    values: list[ast.expr] = []
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names):
            source = _absolute(package, node.module, node.level)
            if source:
                values += _assigned(root, source, name, _depth + 1)
        values += [
            value for target, value in pysource.assignments(node) if target == name and value
        ]
    return values


def _absolute(package: str, module: str | None, level: int) -> str | None:
    if level == 0:
        return module
    parts = package.split(".") if package else []
    if level - 1 > len(parts):
        return None
    base = parts[: len(parts) - (level - 1)]
    return ".".join([*base, module] if module else base) or None
