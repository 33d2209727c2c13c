"""The detection chain's app-file rule: a Flask-style file holding an app object.

App Service's (Oryx's) file names first, then FastAPI's CLI discovery paths; the app object
is read from the file's AST (``pysource``), never imported.
"""

import re
import shlex
import sys
from pathlib import Path

from appservice_gunicorn.base import environment
from appservice_gunicorn.detection.context import Context, Found, Match, Miss
from appservice_gunicorn.detection.listing import Search, rel
from appservice_gunicorn.files import fs, pysource

# App Service's (Oryx's) order first, then the rest of FastAPI's CLI discovery paths.
APP_FILES = (
    "application.py",
    "app.py",
    "run.py",
    "index.py",
    "server.py",
    "wsgi.py",
    "main.py",
    "api.py",
    "asgi.py",  # App Service's FastAPI list has it
    "app/main.py",
    "app/app.py",
    "app/api.py",
)


FASTAPI_SWITCH = "DISABLE_FASTAPI_DETECTION"


def rule(context: Context) -> Match | Miss:
    """The app-file rule: a Flask-style file holding an app object (an ASGI one only when
    App Service's ``DISABLE_FASTAPI_DETECTION`` is not set)."""
    found = find(context.app_dir, asgi=not environment.flag(context.env, FASTAPI_SWITCH))
    if isinstance(found, Found):
        return Match(found.kind, found.reason, "an app file", found.app, found.pythonpath)
    reason, public = found
    return Miss(reason, public, tuple(other_top_file(context.search) + below(context.search)))


def find(app_dir: Path, *, asgi: bool = True) -> Found | tuple[str, str]:
    """The first Flask-style file holding an app object (``asgi``: FastAPI's too); else
    (reason, public reason)."""
    reasons: list[str] = []
    public: list[str] = []
    for name in APP_FILES:
        path = app_dir / name
        if not fs.is_file(path):
            continue
        root, module = _import_root(app_dir, path)
        scan = pysource.scan_module(path)
        if scan.error is not None:
            # Serve it anyway: loading will show the real error, which beats a default site.
            return Found(
                app=f"{module}:app",
                kind="wsgi",
                pythonpath=root,
                reason=f"{scan.error}; loading {module}:app will show the error",
            )
        variable = scan.choose()
        if variable is None:
            seen = ", ".join(scan.names[:8]) or "none"
            reasons.append(f"{name}: no Flask/FastAPI object found; names seen: {seen}")
            needs = [f for f in pysource.FACTORY_FUNCTIONS if f in scan.names]
            needs = [f for f in needs if f not in scan.factories]
            if needs:
                reasons[-1] += (
                    f" ({needs[0]}() needs arguments: name the call in a startup command, "
                    f"e.g. gunicorn '{module}:{needs[0]}(...)')"
                )
            public.append(f"{name}: no Flask/FastAPI object found")
            continue
        kind = scan.kind_of(variable.removesuffix("()"), [root])
        if kind == "asgi" and not asgi:
            reasons.append(f"{name} defines {variable!s} (ASGI): skipped, {FASTAPI_SWITCH} is set")
            public.append(f"{name}: an ASGI app, skipped ({FASTAPI_SWITCH} is set)")
            continue
        return Found(
            app=f"{module}:{variable}",
            kind=kind,
            pythonpath=root,
            reason=f"{name} defines {variable!s} ({kind.upper()})",
        )
    if not reasons:
        none = "none of " + ", ".join(APP_FILES) + " exists"
        return none, none
    return "; ".join(reasons), "; ".join(public)


TOP_FILES = tuple(name for name in APP_FILES if "/" not in name)
_RELATIVE_IMPORT = re.compile(rb"^[ \t]*from[ \t]+\.", re.MULTILINE)


def below(search: Search, limit: int = 3, parse_limit: int = 20) -> list[str]:
    """Hints for an app folder without an app at its top: the app files one folder down (a
    repository's ``backend/``), each with how to serve it.  At most ``parse_limit`` folders
    are parsed: a folder of thousands of packages is not worth a slow start."""
    hints: list[str] = []
    parsed = 0
    if search.crowded(str(search.app_dir)):
        return hints
    folders = search.subdirs(str(search.app_dir))
    for folder in folders:
        if len(hints) >= limit or parsed >= parse_limit:
            break
        if search.skip_reason(folder) is not None:
            continue
        where = rel(search.app_dir, Path(folder))
        if where == "src" and not search.crowded(folder):
            folders += search.subdirs(folder)  # the src layout: the packages one more down
        holds = [name for name in TOP_FILES if search.has_file(folder, name)]
        package = where.startswith("src/") or "/" not in where
        if holds and package and search.has_file(folder, "__init__.py"):
            parsed += len(holds)
            hint = _package_hint(folder, where, holds)
            if hint is not None:
                hints.append(hint)
                continue
        # Asked of the folder's listing first: only a folder holding such a name is parsed.
        if parsed < parse_limit and (holds or f"{folder}/app" in search.subdirs(folder)):
            parsed += 1
            found = find(Path(folder))
            if isinstance(found, Found):
                chdir = rel(search.app_dir, found.pythonpath)
                hints.append(
                    f"no app at the top of the app folder, but {where}/ holds one "
                    f"({found.reason}): make {where} the app folder (--app-dir, APP_PATH) or "
                    "give a startup command such as: "
                    f"gunicorn --chdir {shlex.quote(chdir)} {shlex.quote(found.app)}"
                )
                continue
        # A package whose __init__.py builds the app (Flask's tutorial: create_app()).
        if parsed < parse_limit and search.has_file(folder, "__init__.py"):
            parsed += 1
            variable = pysource.scan_module(Path(folder) / "__init__.py").choose()
            if variable is not None and where.isidentifier():
                hints.append(
                    f"no app at the top of the app folder, but the package {where}/ defines "
                    f"{variable}: give a startup command such as: "
                    f"gunicorn {shlex.quote(f'{where}:{variable}')}"
                )
    return hints


# Top-level files that are a project's tooling, not its app.
_TOOLING = frozenset({"setup.py", "manage.py", "conftest.py", "gunicorn.conf.py", "noxfile.py"})


def other_top_file(search: Search, parse_limit: int = 10) -> list[str]:
    """A hint for an app in a top-level file of another name (``flask_app.py``, as a
    PythonAnywhere project has it): App Service looks for its own names only.  Only an
    object a framework makes, or a factory, counts; at most ``parse_limit`` files are read."""
    files = search.listing(search.app_dir).files or ()
    names = sorted(
        name
        for name in files
        if name.endswith(".py")
        and name[:-3].isidentifier()
        and name not in TOP_FILES
        and name not in _TOOLING
        and not name.startswith(("test", "_"))  # __main__, __init__: not served by that name
    )
    for name in names[:parse_limit]:
        scan = pysource.scan_module(search.app_dir / name)
        variable = scan.choose()
        if variable is not None and (variable.endswith("()") or scan.objects.get(variable)):
            spec = shlex.quote(f"{name.removesuffix('.py')}:{variable}")
            return [
                f"{name} defines {variable}, in a file App Service does not look for: give a "
                f"startup command such as: gunicorn {spec}"
            ]
    return []


def _package_hint(folder: str, where: str, holds: list[str]) -> str | None:
    """A package (one folder down, or in a src layout) whose app file imports relatively
    (``from .data import x``): imported as ``pkg.main``, from the app folder or src/.  Else
    None: served from its folder (``--chdir``), its sibling imports work, and a package
    named as the standard library's (``site/``) is no trouble."""
    chdir, _, package = where.rpartition("/")
    if not package.isidentifier() or package in sys.stdlib_module_names or package in sys.modules:
        return None
    for name in holds:
        variable = pysource.scan_module(Path(folder) / name).choose()
        if variable is not None and _imports_relatively(Path(folder) / name):
            spec = shlex.quote(f"{package}.{name.removesuffix('.py')}:{variable}")
            command = f"gunicorn --chdir {chdir} {spec}" if chdir else f"gunicorn {spec}"
            return (
                f"no app at the top of the app folder, but the package {where}/ holds one in "
                f"{name}: give a startup command such as: {command}"
            )
    return None


def _imports_relatively(path: Path) -> bool:
    try:
        return _RELATIVE_IMPORT.search(pysource.read_source(path)) is not None
    except (OSError, ValueError):
        return False


def _import_root(app_dir: Path, path: Path) -> tuple[Path, str]:
    """Where ``path`` is imported from, and as which module: ``app/main.py`` is ``app.main``
    from the app folder when ``app/`` is a package, else ``main`` from ``app/`` (as
    FastAPI's CLI does)."""
    if path.parent == app_dir:
        return app_dir, path.stem
    if fs.is_file(path.parent / "__init__.py"):
        return app_dir, f"{path.parent.name}.{path.stem}"
    return path.parent, path.stem
