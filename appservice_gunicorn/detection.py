"""The detection chain: which app in the folder to serve, and why.

Every rule reads files (directory entries, text, AST) and nothing else; the
user's code is imported only later, by the gunicorn worker.  The result is a
``Detection``: the decision plus one ``Rule`` per step, which ``--explain``,
the log and the default site all show.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from . import buildoutput, djangoproject, fs, platform, pysource, venv
from .search import Found, Search
from .startup import StartupCommand, StartupError, resolve_startup

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
    "app/main.py",
    "app/app.py",
    "app/api.py",
)

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
    """What to serve from ``app_dir``, with the rule trace that led there; immutable and
    hashable (equal folders and commands give equal detections).

    By ``kind``: ``wsgi`` and ``asgi`` set ``app`` and ``pythonpath``; ``command`` sets
    ``command`` and ``startup`` (a supervised command); ``default`` (the default site)
    sets neither ``app`` nor ``command``.  ``startup``, ``startup_error``, ``venv`` and
    ``notes`` may be set for any kind.

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
    build: buildoutput.BuildOutput | None = None

    @property
    def worker_class(self) -> str | None:
        """The worker class the app needs, when gunicorn's default would not do."""
        return "asgi" if self.kind == "asgi" else None

    @property
    def import_hint(self) -> str | None:
        """What to add to an import error: a venv for another Python, a missing archive."""
        hints = [self.venv.mismatch() if self.venv else None]
        hints.append(self.build.import_hint if self.build else None)
        return "; ".join(h for h in hints if h) or None


def detect(
    path: str | os.PathLike[str],
    startup: str | Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    *,
    build: buildoutput.BuildOutput | None = None,
) -> Detection:
    """Run the chain over ``path``; ``startup`` is App Service's startup command.

    ``build`` is the build output as prepared (archives extracted); without it the
    manifest is read and nothing is extracted.
    """
    env = os.environ if env is None else env
    deployed = Path(path).absolute()
    build = build if build is not None else buildoutput.inspect(deployed, env)
    app_dir = build.app_dir if build is not None else deployed
    words = [startup] if isinstance(startup, str) else list(startup or ())
    search = Search(app_dir=app_dir, env=env)
    found_venv = _venv(app_dir, env, build)
    if build is not None:
        search.notes.extend(build.notes)
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
            build=build,
            **kwargs,  # type: ignore[arg-type]
        )

    command: StartupCommand | None = None
    startup_error: str | None = None
    expansion_env = {**env, "PORT": platform.port(env)}
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
    search.want_asgi = platform.flag(env, "APPSVC_DJANGO_ASGI") or (
        command is not None and command.settings.get("worker_class") == "asgi"
    )
    django = djangoproject.find(search)
    if isinstance(django, Found):
        rules.append(Rule("django", True, django.reason, "a Django project"))
        return done(django.kind, "django", app=django.app, pythonpath=django.pythonpath, **common)
    rules.append(Rule("django", False, *django))

    app_file = _app_file(app_dir)
    if isinstance(app_file, Found):
        rules.append(Rule("app-file", True, app_file.reason, "an app file"))
        return done(
            app_file.kind, "app-file", app=app_file.app, pythonpath=app_file.pythonpath, **common
        )
    rules.append(Rule("app-file", False, *app_file))
    served = "no app found above: serving the default site"
    rules.append(Rule("default-site", True, served, served))
    return done("default", "default-site", **common)


def _venv(
    app_dir: Path, env: Mapping[str, str], build: buildoutput.BuildOutput | None
) -> venv.VirtualEnv | None:
    """``APPSVC_VIRTUAL_ENV``, then the build's virtualenv, then the folder scan, then the
    build's package folder."""
    if build is not None and not env.get("APPSVC_VIRTUAL_ENV"):
        if build.venv_path is not None:
            return venv.describe(build.venv_path)
        found = venv.find(app_dir, env)
        if found is None and build.package_path is not None:
            return venv.packages(build.package_path)
        return found
    return venv.find(app_dir, env)


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


def _app_file(app_dir: Path) -> Found | tuple[str, str]:
    """The first Flask-style file holding an app object; else (reason, public reason)."""
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
            public.append(f"{name}: no Flask/FastAPI object found")
            continue
        kind = scan.kind_of(variable.removesuffix("()"))
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


def _import_root(app_dir: Path, path: Path) -> tuple[Path, str]:
    """Where ``path`` is imported from, and as which module: ``app/main.py`` is ``app.main``
    from the app folder when ``app/`` is a package, else ``main`` from ``app/`` (as
    FastAPI's CLI does)."""
    if path.parent == app_dir:
        return app_dir, path.stem
    if fs.is_file(path.parent / "__init__.py"):
        return app_dir, f"{path.parent.name}.{path.stem}"
    return path.parent, path.stem
