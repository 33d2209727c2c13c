"""Whether the ``module:variable`` a command names is defined by its module, read from the
source: gunicorn's worker would fail with "Failed to find attribute" after ``--explain``
said all was well.  A note only when the source tells for sure."""

import ast
from pathlib import Path

from appservice_gunicorn.detection.context import app_module_file
from appservice_gunicorn.files import pysource

# What makes a module's names unknowable from its text: a star import, a module
# ``__getattr__``, or writing its namespace through globals(), vars(), setattr or exec.
SCOPES = (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
DYNAMIC_NAMES = frozenset({"globals", "vars", "setattr", "exec", "__getattr__", "__dict__"})


def note(root: Path, app: str, pythonpath: object, origin: str) -> str | None:
    """A note when ``app``'s module, a file under ``root`` (or gunicorn's ``--pythonpath``),
    binds no such variable: with the close match, when there is one."""
    module, _, variable = app.partition(":")
    name = variable.split("(")[0].strip()
    if not name.isidentifier():
        return None  # gunicorn's default ("application") or an expression it evaluates
    path = app_module_file(root, module, pythonpath)
    if path is None:
        return None  # an installed package, or a module the import will report missing
    names = bound_names(path)
    if names is None or name in names:
        return None
    shown = path.relative_to(root) if path.is_relative_to(root) else path
    import difflib  # only for a note: 1.5 ms off every start

    close = difflib.get_close_matches(name, sorted(names), n=1)
    hint = f"did you mean {close[0]!r}?" if close else "fix the startup command"
    return f"{origin}: {shown} defines no {name!r}; {hint} (gunicorn would fail to load it)"


def bound_names(path: Path) -> frozenset[str] | None:
    """Every name the module may bind at top level, generously (in any block, and through
    ``global`` in its functions); None when the source cannot tell."""
    tree = pysource.parsed(path)
    if tree is None:
        return None
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names):
            return None
        if isinstance(node, ast.Name | ast.Attribute):
            used = node.id if isinstance(node, ast.Name) else node.attr
            if used in DYNAMIC_NAMES:
                return None
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            if node.name in DYNAMIC_NAMES:
                return None
        elif isinstance(node, ast.Global):
            names.update(node.names)  # bound at module level by a function
    # What the module's own code binds: its statements, in any block, but not the names
    # local to its functions and classes (a create_app()'s own ``app``).
    pending: list[ast.AST] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
            pending.extend(node.decorator_list)
            continue
        elif isinstance(node, SCOPES):
            continue  # their own scopes
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.MatchAs | ast.MatchStar) and node.name:
            names.add(node.name)
        pending.extend(ast.iter_child_nodes(node))
    return frozenset(names)


def tornado_class(root: Path, app: str, pythonpath: object = None) -> str | None:
    """The Tornado class (``Application``) that ``app`` is made of, read from its module:
    an assignment of a ``tornado.*`` call, or a factory returning one; else None."""
    module, _, variable = app.partition(":")
    name = (variable or "application").split("(")[0].strip()
    path = app_module_file(root, module, pythonpath)
    if path is None:
        return None
    tree = pysource.parsed(path)
    if tree is None:
        return None
    aliases: dict[str, str] = {}
    values: list[ast.expr] = []
    # What each top-level function returns: ``app = make_app()`` is what make_app returns.
    returns = {node.name: _returns(node) for node in tree.body if isinstance(node, ast.FunctionDef)}
    for node in tree.body:
        if isinstance(node, ast.Import):
            for alias in node.names:
                aliases[alias.asname or alias.name.split(".")[0]] = (
                    alias.name if alias.asname else alias.name.split(".")[0]
                )
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.FunctionDef) and node.name == name:
            values += returns[node.name]
        values += [
            value for target, value in pysource.assignments(node) if target == name and value
        ]
    for value in list(values):
        if isinstance(value, ast.Call) and isinstance(value.func, ast.Name):
            values += returns.get(value.func.id, [])
    for value in values:
        if isinstance(value, ast.Call):
            qualified = pysource.qualified_name(value.func, aliases)
            if qualified and qualified.startswith("tornado."):
                return qualified.rpartition(".")[2]
    return None


def _returns(function: ast.FunctionDef) -> list[ast.expr]:
    """The values ``function`` itself returns (not those of functions defined in it)."""
    found: list[ast.expr] = []
    pending: list[ast.AST] = list(function.body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            continue
        if isinstance(node, ast.Return) and node.value is not None:
            found.append(node.value)
        pending.extend(ast.iter_child_nodes(node))
    return found
