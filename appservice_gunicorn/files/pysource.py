"""Answers about Python files read as text and AST, never imported or run."""

import ast
import functools
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Literal, NamedTuple

from appservice_gunicorn.files import fs

Kind = Literal["wsgi", "asgi"]

# Callables whose result is an app object, and the protocol that object speaks: by the
# name they are called with, or (names too common to trust alone) by their full name.
APP_FACTORIES: dict[str, Kind] = {
    "Flask": "wsgi",
    "Bottle": "wsgi",
    "get_wsgi_application": "wsgi",
    "make_wsgi_app": "wsgi",
    "FastAPI": "asgi",
    "Starlette": "asgi",
    "Quart": "asgi",
    "Sanic": "asgi",
    "Litestar": "asgi",
    "get_asgi_application": "asgi",
}
QUALIFIED_FACTORIES: dict[str, Kind] = {
    "falcon.App": "wsgi",
    "falcon.API": "wsgi",
    "falcon.app.App": "wsgi",
    "falcon.asgi.App": "asgi",
    "falcon.asgi.app.App": "asgi",
}
ASGI_PACKAGES = frozenset({"fastapi", "starlette", "quart", "sanic", "litestar", "falcon.asgi"})
CONVENTIONAL_NAMES = ("app", "application")
FACTORY_FUNCTIONS = ("create_app", "make_app")
MAX_SOURCE_BYTES = 4 * 1024 * 1024
# Modules followed from a name's import to where the app is built (a package re-exporting
# a module's app is one).
MAX_REEXPORTS = 3


class ModuleScan(NamedTuple):
    """What a module binds at top level, as far as its source tells."""

    path: Path
    objects: Mapping[str, Kind | None] = MappingProxyType({})
    names: tuple[str, ...] = ()
    factories: tuple[str, ...] = ()
    asgi_imports: bool = False
    error: str | None = None
    # What each top-level function returns when it builds an app (a factory's protocol).
    returns: Mapping[str, Kind] = MappingProxyType({})
    # Names imported from another module: (level of dots, module, name there).
    imported: Mapping[str, tuple[int, str, str]] = MappingProxyType({})

    def kind_of(self, name: str, roots: Sequence[Path] = (), _depth: int = 0) -> Kind:
        """The protocol of ``name``: its factory's when known; for a name imported from a
        module of the app's (``from .app import app`` in a package's ``__init__.py``, or
        ``from pkg.app import app`` under one of ``roots``), that module's; else guessed
        from imports."""
        known = self.objects.get(name) or self.returns.get(name)
        if known is not None:
            return known
        source = self.imported.get(name)
        if source is not None and _depth < MAX_REEXPORTS:
            level, module, original = source
            if level == 0:
                folders = list(roots)
            elif level <= len(self.path.parents):
                # Not above the import roots: Python would refuse it, and it is not the app's.
                above = self.path.parents[level - 1]
                folders = [above] if any(above.is_relative_to(r) for r in roots) else []
            else:
                folders = []
            for folder in folders:
                found = module_file(folder, module)
                if found is not None and found != self.path:
                    return scan_module(found).kind_of(original, roots, _depth + 1)
        return "asgi" if self.asgi_imports else "wsgi"

    def choose(self) -> str | None:
        """The app variable gunicorn should load: ``app``, then ``application`` (often the
        wrapped app), then an object made by a framework, then a ``create_app()``-style
        factory call."""
        for name in CONVENTIONAL_NAMES:
            if name in self.names:
                return name
        for name, kind in self.objects.items():
            if kind is not None:
                return name
        for name in self.factories:
            return f"{name}()"
        return None


def read_source(path: str | os.PathLike[str]) -> bytes:
    """The file's bytes, up to ``MAX_SOURCE_BYTES``; raises ``ValueError`` beyond it, and
    ``OSError`` (``fs.NotRegularFile`` for a FIFO or a device) when it cannot be read."""
    data = fs.read_regular(path, MAX_SOURCE_BYTES)
    if len(data) > MAX_SOURCE_BYTES:
        raise ValueError(f"larger than {MAX_SOURCE_BYTES // (1024 * 1024)} MiB")
    return data


def parse(path: Path) -> ast.Module:
    """Parse a file as Python would (bytes: a BOM or a PEP 263 coding line is honoured);
    raises ``SyntaxError``, ``ValueError`` or ``OSError``.  A file unchanged since it was
    last parsed gives the same tree (detection, the plan and the preload read the app
    module and the settings up to four times a start): readers must not change it."""
    info = os.stat(path)
    return _parse(str(path), info.st_ino, info.st_size, info.st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _parse(path: str, inode: int, size: int, mtime_ns: int) -> ast.Module:
    return ast.parse(read_source(Path(path)), filename=path)


def parsed(path: Path) -> ast.Module | None:
    """``parse``, or None where the file cannot be read or is not Python (the import says)."""
    try:
        return parse(path)
    except (SyntaxError, ValueError, OSError):
        return None


def walk(node: ast.AST) -> list[ast.AST]:
    """Every node under ``node`` (itself included), in ``ast.walk``'s order; a list built
    in one loop, two to three times faster than ``ast.walk``'s generators (detection walks
    manage.py, wsgi.py and settings on every start)."""
    nodes = [node]
    for current in nodes:  # appended to while iterated: breadth first, as ast.walk
        for field in current._fields:
            value = getattr(current, field, None)
            if isinstance(value, list):
                nodes += [item for item in value if isinstance(item, ast.AST)]
            elif isinstance(value, ast.AST):
                nodes.append(value)
    return nodes


def source_problem(path: Path) -> str | None:
    """Why a Python file cannot be read or parsed, or None when it can."""
    try:
        parse(path)
    except (SyntaxError, ValueError, OSError) as exc:
        return describe_error(path, exc)
    return None


def describe_error(path: Path, exc: Exception) -> str:
    if isinstance(exc, SyntaxError):
        where = f" at line {exc.lineno}" if exc.lineno else ""
        return f"{path.name}: syntax error{where}: {exc.msg}"
    if isinstance(exc, OSError):
        return f"{path.name}: cannot be read: {exc.strerror or exc}"
    return f"{path.name}: cannot be parsed: {exc}"


def scan_module(path: Path) -> ModuleScan:
    """Top-level names of a module and which of them are web app objects."""
    try:
        tree = parse(path)
    except (SyntaxError, ValueError, OSError) as exc:
        return ModuleScan(path=path, error=describe_error(path, exc))
    aliases: dict[str, str] = {}
    asgi_imports = False
    objects: dict[str, Kind | None] = {}
    names: list[str] = []
    factories: list[str] = []
    returns: dict[str, Kind] = {}
    imported: dict[str, tuple[int, str, str]] = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module:
            asgi_imports |= _is_asgi_package(node.module)
            for alias in node.names:
                aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
                names.append(alias.asname or alias.name)
                imported[alias.asname or alias.name] = (node.level, node.module, alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                asgi_imports |= _is_asgi_package(alias.name)
                # ``import a.b`` binds ``a``; ``import a.b as c`` binds ``c`` to ``a.b``.
                if alias.asname:
                    aliases[alias.asname] = alias.name
                else:
                    top = alias.name.split(".")[0]
                    aliases[top] = top
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            names.append(node.name)
            # A factory that needs arguments cannot be called by name alone.
            if node.name in FACTORY_FUNCTIONS and not _required_arguments(node):
                factories.append(node.name)
            built = _builds(node, aliases)
            if built is not None:
                returns[node.name] = built
            if node.name in CONVENTIONAL_NAMES and _is_asgi_callable(node):
                objects[node.name] = "asgi"  # async def app(scope, receive, send): ASGI itself
            imported.pop(node.name, None)
        elif isinstance(node, ast.ClassDef):
            names.append(node.name)
        for target, value in assignments(node):
            names.append(target)
            objects[target] = _factory_kind(value, aliases)
            imported.pop(target, None)  # bound again: no longer (only) the import
    ordered = tuple(dict.fromkeys(names))
    return ModuleScan(
        path=path,
        objects={k: v for k, v in objects.items() if v is not None or k in CONVENTIONAL_NAMES},
        names=ordered,
        factories=tuple(factories),
        asgi_imports=asgi_imports,
        returns=returns,
        imported=imported,
    )


def assignments(node: ast.stmt) -> Iterator[tuple[str, ast.expr | None]]:
    """The names a top-level statement binds on import, with the value assigned."""
    if isinstance(node, ast.Assign):
        for target in node.targets:
            if isinstance(target, ast.Name):
                yield target.id, node.value
    elif isinstance(node, ast.AnnAssign | ast.AugAssign) and isinstance(node.target, ast.Name):
        yield node.target.id, node.value
    elif isinstance(node, ast.If):
        # Both branches may run on import, except the body of ``if __name__ ==
        # "__main__":``, which only runs as a script (``app = create_app(); app.run()``).
        branches = [node.orelse] if _is_main_guard(node.test) else [node.body, node.orelse]
        for branch in branches:
            for child in branch:
                yield from assignments(child)
    elif isinstance(node, ast.Try):
        for branch in (node.body, *(h.body for h in node.handlers), node.orelse, node.finalbody):
            for child in branch:
                yield from assignments(child)


def _is_asgi_callable(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    positional = node.args.posonlyargs + node.args.args
    return isinstance(node, ast.AsyncFunctionDef) and len(positional) == 3


def _required_arguments(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    arguments = node.args
    positional = len(arguments.posonlyargs) + len(arguments.args) - len(arguments.defaults)
    keyword_only = sum(default is None for default in arguments.kw_defaults)
    return positional > 0 or keyword_only > 0


def _builds(node: ast.FunctionDef | ast.AsyncFunctionDef, aliases: dict[str, str]) -> Kind | None:
    """The protocol of the first framework app a function constructs (its own imports
    included: ``def create_app(): from litestar import Litestar; return Litestar(...)``)."""
    local = dict(aliases)
    for child in walk(node):
        if isinstance(child, ast.ImportFrom) and child.module:
            for alias in child.names:
                local[alias.asname or alias.name] = f"{child.module}.{alias.name}"
        elif isinstance(child, ast.Import):
            for alias in child.names:
                local[alias.asname or alias.name.split(".")[0]] = (
                    alias.name if alias.asname else alias.name.split(".")[0]
                )
    for child in walk(node):
        kind = _factory_kind(child, local) if isinstance(child, ast.Call) else None
        if kind is not None:
            return kind
    return None


def _is_main_guard(test: ast.expr) -> bool:
    """``__name__ == "__main__"`` (either way round)."""
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1):
        return False
    if not isinstance(test.ops[0], ast.Eq):
        return False
    sides = [test.left, test.comparators[0]]
    names = [s.id for s in sides if isinstance(s, ast.Name)]
    values = [s.value for s in sides if isinstance(s, ast.Constant)]
    return names == ["__name__"] and values == ["__main__"]


def _is_asgi_package(module: str) -> bool:
    parts = module.split(".")
    return parts[0] in ASGI_PACKAGES or ".".join(parts[:2]) in ASGI_PACKAGES


def _factory_kind(value: ast.expr | None, aliases: dict[str, str]) -> Kind | None:
    if not isinstance(value, ast.Call):
        return None
    qualified = qualified_name(value.func, aliases)
    if qualified is None:
        return None
    if qualified in QUALIFIED_FACTORIES:
        return QUALIFIED_FACTORIES[qualified]
    return APP_FACTORIES.get(qualified.rpartition(".")[2])


def qualified_name(func: ast.expr, aliases: dict[str, str]) -> str | None:
    """``falcon.asgi.App`` for ``asgi.App`` after ``from falcon import asgi``, and so on."""
    attributes: list[str] = []
    while isinstance(func, ast.Attribute):
        attributes.append(func.attr)
        func = func.value
    if not isinstance(func, ast.Name):
        # ``config.make_wsgi_app()`` on a call's result: the method's name is all there is.
        return attributes[0] if attributes else None
    base = aliases.get(func.id, func.id)
    return ".".join([base, *reversed(attributes)])


def module_file(root: Path, module: str) -> Path | None:
    """The file that ``import module`` would load from ``root``, if it is there."""
    parts = module.split(".")
    if not all(part.isidentifier() for part in parts):
        return None
    # As str: pathlib's joins cost more than the two stats (detection asks this often).
    base = os.path.join(root, *parts)
    # A package wins over a module of the same name, as Python's path finder decides.
    for candidate in (f"{base}/__init__.py", f"{base}.py"):
        if os.path.isfile(candidate):
            return Path(candidate)
    return None


def imported_packages(path: Path) -> set[str]:
    """The top-level packages a module imports at its top level (``import a.b`` -> ``a``)."""
    tree = parsed(path)
    if tree is None:
        return set()
    found: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def mentions(path: Path, name: str) -> bool:
    """Whether ``name`` appears in the file's source at all (a string or an identifier)."""
    try:
        return name.encode() in read_source(path)
    except (OSError, ValueError):
        return False
