"""Folders a Python file puts on ``sys.path``, read from its AST as Python would compute them.

``manage.py`` files often add a folder before Django reads its settings
(``sys.path.insert(0, os.path.join(os.path.dirname(__file__), "src"))``,
``sys.path.append(str(Path(__file__).parent.resolve() / "apps"))``).  The usual ``os.path``
and ``pathlib`` spellings built from ``__file__`` and string literals are evaluated; anything
else is left alone (never run).
"""

import ast
from pathlib import Path

from appservice_gunicorn.files import pysource

_SAME_PATH = frozenset({"abspath", "realpath", "normpath", "resolve", "absolute", "expanduser"})
_PATH_TYPES = frozenset({"Path", "PurePath", "PosixPath", "str", "fspath"})


def sys_path_additions(tree: ast.Module, file: Path) -> list[Path]:
    """The folders ``tree`` (the source of ``file``) adds to ``sys.path``, in order."""
    names: dict[str, Path] = {}
    added: list[Path] = []
    for node in pysource.walk(tree):
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            value = evaluate(node.value, file, names)
            if isinstance(target, ast.Name) and value is not None:
                names[target.id] = value
        elif isinstance(node, ast.Call) and _is_sys_path_call(node):
            argument = node.args[-1] if node.args else None
            value = evaluate(argument, file, names) if argument is not None else None
            if value is not None and value not in added:
                added.append(value)
    return added


def _is_sys_path_call(call: ast.Call) -> bool:
    func = call.func
    return (
        isinstance(func, ast.Attribute)
        and func.attr in ("insert", "append")
        and isinstance(func.value, ast.Attribute)
        and func.value.attr == "path"
        and isinstance(func.value.value, ast.Name)
        and func.value.value.id == "sys"
    )


def evaluate(node: ast.expr | None, file: Path, names: dict[str, Path]) -> Path | None:
    """The path ``node`` computes, or None when it is not one of the usual spellings."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return file.parent / node.value  # relative to where App Service runs it: its folder
    if isinstance(node, ast.Name):
        return file if node.id == "__file__" else names.get(node.id)
    if isinstance(node, ast.Attribute) and node.attr == "parent":
        base = evaluate(node.value, file, names)
        return base.parent if base is not None else None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        left = evaluate(node.left, file, names)
        right = node.right
        if left is not None and isinstance(right, ast.Constant) and isinstance(right.value, str):
            return left / right.value
        return None
    if isinstance(node, ast.Call):
        return _call(node, file, names)
    return None


def _call(node: ast.Call, file: Path, names: dict[str, Path]) -> Path | None:
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    if isinstance(func, ast.Attribute) and name in ("resolve", "absolute"):
        return evaluate(func.value, file, names)  # Path(...).resolve()
    args = [evaluate(arg, file, names) for arg in node.args]
    if name == "join" and args and args[0] is not None:
        parts = [a.value for a in node.args[1:] if isinstance(a, ast.Constant)]
        if len(parts) == len(node.args) - 1 and all(isinstance(p, str) for p in parts):
            return args[0].joinpath(*[str(p) for p in parts])
        return None
    if len(args) != 1 or args[0] is None:
        return None
    if name == "dirname":
        return args[0].parent
    if name in _SAME_PATH or name in _PATH_TYPES:
        return args[0]
    return None
