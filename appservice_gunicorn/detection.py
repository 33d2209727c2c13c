"""The detection chain: which app in the folder to serve, and why.

Every rule reads files (directory entries, text, AST) and nothing else; the
user's code is imported only later, by the gunicorn worker.  The result is a
``Detection``: the decision plus one ``Rule`` per step, which ``--explain``,
the log and the default site all show.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, NamedTuple

from . import environment, fs, pysource, venv
from .startup import StartupCommand, StartupError, resolve_startup

APP_FILES = ("application.py", "app.py", "run.py", "index.py", "server.py", "main.py")
MAX_DEPTH = 3
MAX_MANAGE_DEPTH = 2
SKIPPED_DIRS = frozenset({"node_modules", "__pycache__", "site-packages"})

Kind = Literal["wsgi", "asgi", "default", "command"]
RuleName = Literal["startup", "django", "app-file", "default-site"]


@dataclass(frozen=True)
class Rule:
    """One step of the chain: did it match, and the one-line reason.

    ``public`` is the reason for the public default site, built only from the launcher's
    own words and paths found in the app folder (relative to it): never from text that may
    hold a user's value (an environment variable, a command's arguments).
    """

    name: RuleName
    matched: bool
    reason: str
    public: str = ""


@dataclass(frozen=True)
class Detection:
    """What to serve from ``app_dir``, with the rule trace that led there.

    ``app`` is gunicorn's ``module:variable`` for the ``wsgi`` and ``asgi``
    kinds; ``command`` is the shell command for ``command``; ``pythonpath`` is
    the folder the app module is imported from.  ``startup`` is the usable
    startup command, whose gunicorn settings apply whatever rule matched.
    """

    app_dir: Path
    kind: Kind
    rule: RuleName
    rules: tuple[Rule, ...]
    app: str | None = None
    command: str | None = None
    pythonpath: Path | None = None
    startup: StartupCommand | None = None
    startup_error: str | None = None
    venv: venv.VirtualEnv | None = None
    notes: tuple[str, ...] = ()
    dirs_listed: int = 0

    @property
    def worker_class(self) -> str | None:
        """The worker class the app needs, when gunicorn's default would not do."""
        return "asgi" if self.kind == "asgi" else None


class _Found(NamedTuple):
    app: str
    kind: Literal["wsgi", "asgi"]
    pythonpath: Path
    reason: str


class _Search:
    """Shared state of one detection run: what was listed, noticed and skipped."""

    def __init__(self, app_dir: Path, env: Mapping[str, str], want_asgi: bool = False) -> None:
        self.app_dir = app_dir
        self.env = env
        self.want_asgi = want_asgi
        self.notes: list[str] = []
        self.dirs_listed = 0

    def subdirs(self, path: Path) -> list[Path]:
        self.dirs_listed += 1
        found, error = fs.subdirs(path)
        if error is not None and path != self.app_dir:
            self.notes.append(
                f"{_rel(self.app_dir, path)} cannot be read ({error.strerror or error}); skipped it"
            )
        return found

    def skip_reason(self, path: Path) -> str | None:
        name = path.name
        # A virtualenv is named as such even when hidden (.venv): that is the useful reason.
        if venv.is_venv(path):
            return "virtualenv"
        if name.startswith("."):
            return "hidden"
        if name in SKIPPED_DIRS:
            return name
        return None


def detect(
    path: str | os.PathLike[str],
    startup: str | Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
) -> Detection:
    """Run the chain over ``path``; ``startup`` is App Service's startup command."""
    env = os.environ if env is None else env
    app_dir = Path(path).absolute()
    words = [startup] if isinstance(startup, str) else list(startup or ())
    search = _Search(app_dir=app_dir, env=env)
    found_venv = venv.find(app_dir, env)
    search.notes.extend(venv.problems(app_dir, env, found_venv))
    rules: list[Rule] = []

    def done(kind: Kind, rule: RuleName, **kwargs: object) -> Detection:
        return Detection(
            app_dir=app_dir,
            kind=kind,
            rule=rule,
            rules=tuple(rules),
            venv=found_venv,
            notes=tuple(search.notes),
            dirs_listed=search.dirs_listed,
            **kwargs,  # type: ignore[arg-type]
        )

    command: StartupCommand | None = None
    startup_error: str | None = None
    expansion_env = {**env, "PORT": environment.port(env)}
    try:
        command = resolve_startup(words, app_dir, expansion_env)
    except StartupError as exc:
        startup_error = str(exc)
        public = f"{_public_startup_name(words, app_dir)}: {exc.problem}"
        rules.append(Rule("startup", False, startup_error, public))
    if command is None and startup_error is None:
        rules.append(Rule("startup", False, "no startup command given", "no startup command given"))
    elif command is not None:
        if command.kind != "gunicorn":
            what = "shell script" if command.kind == "script" else "command"
            reason = f"{command.origin}: runs as a supervised {what}"
            rules.append(Rule("startup", True, reason, f"the startup {what} runs supervised"))
            return done("command", "startup", command=command.text, startup=command)
        app = command.app or command.settings.get("wsgi_app")
        if app:
            root = _startup_root(app_dir, command)
            kind = _kind_of(root, str(app))
            steps = f" after {len(command.steps)} pre-start step(s)" if command.steps else ""
            reason = f"{command.origin}: gunicorn serves {app}{steps}"
            rules.append(Rule("startup", True, reason, "the startup command names the app"))
            return done(kind, "startup", app=str(app), pythonpath=root, startup=command)
        rules.append(
            Rule(
                "startup",
                False,
                f"{command.origin}: gunicorn settings only, no app module; "
                "they apply to the app found below",
                "the startup command gives gunicorn settings only, no app module",
            )
        )

    common = {"startup": command, "startup_error": startup_error}
    # A startup command with only settings may ask for ASGI: for Django, that means asgi.py.
    search.want_asgi = environment.flag(env, "APPSVC_DJANGO_ASGI") or (
        command is not None and command.settings.get("worker_class") == "asgi"
    )
    django = _django(search)
    if isinstance(django, _Found):
        rules.append(Rule("django", True, django.reason, "a Django project"))
        return done(django.kind, "django", app=django.app, pythonpath=django.pythonpath, **common)
    rules.append(Rule("django", False, *django))

    app_file = _app_file(app_dir)
    if isinstance(app_file, _Found):
        rules.append(Rule("app-file", True, app_file.reason, "an app file"))
        return done(
            app_file.kind, "app-file", app=app_file.app, pythonpath=app_file.pythonpath, **common
        )
    rules.append(Rule("app-file", False, *app_file))
    served = "no app found above: serving the default site"
    rules.append(Rule("default-site", True, served, served))
    return done("default", "default-site", **common)


def _public_startup_name(words: Sequence[str], app_dir: Path) -> str:
    """The startup file's path relative to the app folder, when it is a file there."""
    if len(words) == 1:
        try:
            path = (app_dir / words[0]).resolve()
            if path.is_file() and path.is_relative_to(app_dir.resolve()):
                return str(path.relative_to(app_dir.resolve()))
        except (OSError, ValueError):
            pass
    return "the startup command"


def _startup_root(app_dir: Path, command: StartupCommand) -> Path:
    chdir = command.settings.get("chdir")
    if chdir:
        return (app_dir / str(chdir)).absolute()
    return app_dir


def _kind_of(root: Path, app: str) -> Literal["wsgi", "asgi"]:
    """The protocol of a ``module:variable`` found under ``root`` (wsgi when unknown)."""
    module, _, variable = app.partition(":")
    path = pysource.module_file(root, module)
    if path is None:
        return "wsgi"
    scan = pysource.scan_module(path)
    name = (variable or "application").split("(")[0].strip()
    return scan.kind_of(name)


def _django(search: _Search) -> _Found | tuple[str, str]:
    """A Django project: through ``manage.py`` and its settings, else any ``wsgi.py``.

    Not found: (the reason, the reason for the public page)."""
    reasons: list[str] = []
    public: list[str] = []
    manage = _find_manage(search)
    if manage is not None:
        found = _from_manage(search, manage, reasons, public)
        if found is not None:
            return found
    wsgi_files, skipped = _find_wsgi(search)
    if not wsgi_files:
        searched = f"no wsgi.py in folders up to {MAX_DEPTH} levels deep"
        if skipped:
            searched += f" (skipped {', '.join(skipped)})"
        return "; ".join([*reasons, searched]), "; ".join([*public, searched])
    chosen, *others = wsgi_files
    if others:
        search.notes.append(
            "several wsgi.py found; serving "
            f"{_rel(search.app_dir, chosen)}, passed over: "
            + ", ".join(_rel(search.app_dir, p) for p in others)
        )
    root, module = _module_of(search.app_dir, chosen)
    app, kind = _django_app(search, root, module, None)
    reasons.append(f"{_rel(search.app_dir, chosen)} -> {app}")
    return _Found(app=app, kind=kind, pythonpath=root, reason="; ".join(reasons))


def _find_manage(search: _Search) -> Path | None:
    queue: deque[tuple[Path, int]] = deque([(search.app_dir, 0)])
    while queue:
        folder, depth = queue.popleft()
        if fs.is_file(folder / "manage.py"):
            return folder / "manage.py"
        if depth < MAX_MANAGE_DEPTH:
            for sub in search.subdirs(folder):
                if search.skip_reason(sub) is None:
                    queue.append((sub, depth + 1))
    return None


def _from_manage(
    search: _Search, manage: Path, reasons: list[str], public: list[str]
) -> _Found | None:
    root = manage.parent
    rel = _rel(search.app_dir, manage)
    settings = search.env.get("DJANGO_SETTINGS_MODULE") or pysource.django_settings_module(manage)
    if not settings:
        problem = pysource.source_problem(manage)
        if problem is not None:
            reasons.append(f"{rel}: {problem.partition(': ')[2]}")
            public.append(f"{rel} cannot be read or parsed")
        else:
            reasons.append(f"{rel} does not set DJANGO_SETTINGS_MODULE")
            public.append(reasons[-1])
        return None
    if pysource.module_file(root, settings) is None:
        expected = settings.replace(".", "/")
        message = (
            f"{rel} names settings module {settings!r}, but neither {expected}.py nor "
            f"{expected}/__init__.py is in {root}; deploy the settings or fix "
            "DJANGO_SETTINGS_MODULE in manage.py"
        )
        reasons.append(message)
        public.append(f"{rel}: the settings module it names is missing")
        search.notes.append(message)
        return None
    wsgi_setting = pysource.django_setting(root, settings, "WSGI_APPLICATION")
    if wsgi_setting:
        module, _, variable = wsgi_setting.rpartition(".")
        if pysource.module_file(root, module) is not None:
            app, kind = _django_app(search, root, module, settings, variable)
            via = f"{rel} -> {settings}.WSGI_APPLICATION"
            return _Found(app=app, kind=kind, pythonpath=root, reason=f"{via} -> {app}")
        reasons.append(f"WSGI_APPLICATION {wsgi_setting!r} in {settings} names a missing module")
        public.append(f"{rel}: the settings' WSGI_APPLICATION names a missing module")
        return None
    module = settings.rpartition(".")[0].split(".")[0] + ".wsgi"
    if pysource.module_file(root, module) is not None:
        app, kind = _django_app(search, root, module, settings)
        return _Found(app=app, kind=kind, pythonpath=root, reason=f"{rel} -> {settings} -> {app}")
    reasons.append(f"{settings} sets no WSGI_APPLICATION")
    public.append(f"{rel}: the settings set no WSGI_APPLICATION")
    return None


def _django_app(
    search: _Search,
    root: Path,
    wsgi_module: str,
    settings: str | None,
    variable: str = "application",
) -> tuple[str, Literal["wsgi", "asgi"]]:
    """``module:application`` for Django: the WSGI one, or ASGI on request."""
    if search.want_asgi:
        asgi = settings and pysource.django_setting(root, settings, "ASGI_APPLICATION")
        if asgi:
            module, _, asgi_variable = asgi.rpartition(".")
        else:
            module, asgi_variable = wsgi_module.rpartition(".")[0] + ".asgi", "application"
        module = module.lstrip(".")
        if pysource.module_file(root, module) is not None:
            return f"{module}:{asgi_variable}", "asgi"
        search.notes.append(
            f"ASGI was asked for (APPSVC_DJANGO_ASGI or --worker-class asgi) but "
            f"{_rel(search.app_dir, root / module.replace('.', '/'))}.py does not exist; "
            "serving WSGI"
        )
    return f"{wsgi_module}:{variable}", "wsgi"


def _find_wsgi(search: _Search) -> tuple[list[Path], list[str]]:
    """``wsgi.py`` files in folders below the app folder, shallowest and then sorted first."""
    found: list[Path] = []
    skipped: list[str] = []
    queue: deque[tuple[Path, int]] = deque([(search.app_dir, 0)])
    while queue:
        folder, depth = queue.popleft()
        for sub in search.subdirs(folder):
            why = search.skip_reason(sub)
            if why is not None:
                skipped.append(f"{_rel(search.app_dir, sub)}: {why}")
                continue
            if fs.is_file(sub / "wsgi.py"):
                found.append(sub / "wsgi.py")
            if depth + 1 < MAX_DEPTH:
                queue.append((sub, depth + 1))
    # Shallowest first, then in sorted order of the path's folders.
    found.sort(key=lambda path: (len(path.parts), path.parts))
    return found, skipped


def _module_of(app_dir: Path, wsgi: Path) -> tuple[Path, str]:
    """The import root and dotted module of a ``wsgi.py``: above its outermost package."""
    parts = [wsgi.stem]
    folder = wsgi.parent
    parts.append(folder.name)
    root = folder.parent
    while root != app_dir and fs.is_file(root / "__init__.py"):
        parts.append(root.name)
        root = root.parent
    if not fs.is_file(wsgi.parent / "__init__.py"):
        # Not a package: import it by its path from the app folder (namespace packages).
        rel = wsgi.relative_to(app_dir).with_suffix("")
        return app_dir, ".".join(rel.parts)
    return root, ".".join(reversed(parts))


def _app_file(app_dir: Path) -> _Found | tuple[str, str]:
    """The first Flask-style file holding an app object; else (reason, public reason)."""
    reasons: list[str] = []
    public: list[str] = []
    for name in APP_FILES:
        path = app_dir / name
        if not fs.is_file(path):
            continue
        module = path.stem
        scan = pysource.scan_module(path)
        if scan.error is not None:
            # Serve it anyway: loading will show the real error, which beats a default site.
            return _Found(
                app=f"{module}:app",
                kind="wsgi",
                pythonpath=app_dir,
                reason=f"{scan.error}; loading {module}:app will show the error",
            )
        variable = scan.choose()
        if variable is None:
            seen = ", ".join(scan.names[:8]) or "none"
            reasons.append(f"{name}: no Flask/FastAPI object found; names seen: {seen}")
            public.append(f"{name}: no Flask/FastAPI object found")
            continue
        kind = scan.kind_of(variable.removesuffix("()"))
        return _Found(
            app=f"{module}:{variable}",
            kind=kind,
            pythonpath=app_dir,
            reason=f"{name} defines {variable!s} ({kind.upper()})",
        )
    if not reasons:
        none = "none of " + ", ".join(APP_FILES) + " exists"
        return none, none
    return "; ".join(reasons), "; ".join(public)


def _rel(app_dir: Path, path: Path) -> str:
    try:
        rel = path.relative_to(app_dir)
    except ValueError:
        return str(path)
    return str(rel) if str(rel) != "." else "."
