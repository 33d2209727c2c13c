"""The detection chain: which app in the folder to serve, and why.

Every rule reads files (directory entries, text, AST) and nothing else; the
user's code is imported only later, by the gunicorn worker.  The result is a
``Detection``: the decision plus one ``Rule`` per step, which ``--explain``,
the log and the default site all show.
"""

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal, NamedTuple

from appservice_gunicorn import environment
from appservice_gunicorn.build import output
from appservice_gunicorn.build.output import BuildOutput
from appservice_gunicorn.detection import venv
from appservice_gunicorn.detection.context import Found, Search
from appservice_gunicorn.detection.rules import app_file as app_file_rule
from appservice_gunicorn.detection.rules import config_file, django_project, flask_app
from appservice_gunicorn.detection.venv import VirtualEnv
from appservice_gunicorn.errors import StartupError
from appservice_gunicorn.files import pysource
from appservice_gunicorn.startup.startup_file import (
    PROCFILE_SWITCH,
    procfile_command,
    unnamed_startup_files,
)

if TYPE_CHECKING:
    from appservice_gunicorn.startup.command import StartupCommand

Kind = Literal["wsgi", "asgi", "default", "command"]
RuleName = Literal[
    "startup", "procfile", "config-file", "flask-app", "django", "app-file", "default-site"
]


class Rule(NamedTuple):
    """One step of the chain: did it match, and the one-line reason.

    ``public`` is the reason for the public default site, built only from the launcher's
    own words and paths found in the app folder (relative to it): never from text that may
    hold a user's value (an environment variable, a command's arguments).
    """

    name: RuleName
    matched: bool
    reason: str
    public: str = ""


NO_VIRTUALENV = (
    "no virtualenv was found in the app folder (antenv, .venv, venv, or a folder holding "
    "pyvenv.cfg): packages come from the launcher's Python"
)


class Detection(NamedTuple):
    """What to serve from ``app_dir``, with the rule trace that led there; immutable and
    hashable (equal folders and commands give equal detections).  A named tuple, not a
    dataclass: it is built on every start, and a frozen dataclass costs a millisecond more
    to define; ``_replace`` makes a changed copy.

    By ``kind``: ``wsgi`` and ``asgi`` set ``app`` and ``pythonpath``; ``command`` sets
    ``command`` and ``startup`` (a supervised command); ``default`` (the default site)
    sets neither ``app`` nor ``command``.  ``startup``, ``startup_error``, ``venv`` and
    ``notes`` may be set for any kind.

    ``app`` is gunicorn's ``module:variable`` for the ``wsgi`` and ``asgi`` kinds (with
    ``paste``, PasteDeploy's ``config:FILE.ini[#name]``); ``command`` is the shell command
    for ``command``; ``pythonpath`` is the folder the app module is imported from.
    ``startup`` is the usable startup command (or Procfile command), whose gunicorn
    settings apply whatever rule matched.  ``build`` is App Service's build output.
    """

    app_dir: Path
    kind: Kind
    rule: RuleName
    rules: tuple[Rule, ...]
    app: str | None = None
    command: str | None = None
    pythonpath: Path | None = None
    startup: "StartupCommand | None" = None
    startup_error: str | None = None
    venv: VirtualEnv | None = None
    notes: tuple[str, ...] = ()
    build: BuildOutput | None = None
    paste: bool = False

    @property
    def worker_class(self) -> str | None:
        """The worker class the app needs, when gunicorn's default would not do."""
        return "asgi" if self.kind == "asgi" else None

    @property
    def import_hint(self) -> str | None:
        """What to add to an import error: a venv for another Python, or none at all, a
        missing archive."""
        build = self.build.import_hint if self.build else None
        if self.venv is None:
            return build or NO_VIRTUALENV  # a build's missing virtualenv says why itself
        return "; ".join(h for h in (self.venv.mismatch(), build) if h) or None


def detect(
    path: str | os.PathLike[str],
    startup: str | Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    *,
    build: BuildOutput | None = None,
) -> Detection:
    """Run the chain over ``path``; ``startup`` is App Service's startup command.

    ``build`` is the build output as prepared (archives extracted); without it the
    manifest is read and nothing is extracted.
    """
    env = os.environ if env is None else env
    deployed = Path(path).absolute()
    build = build if build is not None else output.inspect(deployed, env)
    app_dir = build.app_dir if build is not None else deployed
    words = [startup] if isinstance(startup, str) else list(startup or ())
    search = Search(app_dir=app_dir, env=env)
    found_venv = _venv(app_dir, env, build, search)
    if build is not None:
        search.notes.extend(build.notes)
    search.notes.extend(venv.problems(app_dir, env, found_venv))
    rules: list[Rule] = []

    def done(kind: Kind, rule: RuleName, **kwargs: object) -> Detection:
        served_venv = found_venv or venv.beside(app_dir, kwargs.get("pythonpath"), env, search)
        return Detection(
            app_dir=app_dir,
            kind=kind,
            rule=rule,
            rules=tuple(rules),
            venv=served_venv,
            notes=tuple(search.notes),
            build=build,
            **kwargs,  # type: ignore[arg-type]
        )

    command: StartupCommand | None = None
    startup_error: str | None = None
    expansion_env = environment.startup_env(env, app_dir)
    name: RuleName = "startup"
    try:
        if words:
            # Parsing a command (its shell grammar, gunicorn's options) loads only for one.
            from appservice_gunicorn.startup.command import resolve_startup

            command = resolve_startup(words, app_dir, expansion_env)
    except StartupError as exc:
        startup_error = str(exc)
        public = f"{_public_startup_name(words, app_dir)}: {exc.problem}"
        rules.append(Rule("startup", False, startup_error, public))
    if command is None and startup_error is None:
        rules.append(Rule("startup", False, "no startup command given", "no startup command given"))
        # A Procfile's web process is the startup command when none is given.
        name = "procfile"
        try:
            text, why = procfile_command(app_dir, environment.flag(env, PROCFILE_SWITCH))
            if text is not None:
                from appservice_gunicorn.startup.command import classify

                command = classify(text, "Procfile (web)", expansion_env, app_dir)
            else:
                rules.append(Rule("procfile", False, why, why))
        except StartupError as exc:
            startup_error = str(exc)
            rules.append(Rule("procfile", False, startup_error, f"Procfile: {exc.problem}"))
        if command is None:
            search.notes += unnamed_startup_files(app_dir)
    if command is not None:
        found = _command_rule(name, command, app_dir, rules)
        if found is not None:
            kind, fields = found
            if kind == "command":
                from appservice_gunicorn.startup import server_ports
                from appservice_gunicorn.startup.command import unquoted_calls

                search.notes += unquoted_calls(command.text, command.origin)
                search.notes += server_ports.warnings(
                    command.text, command.origin, expansion_env, app_dir
                )
            return done(kind, name, startup=command, **fields)
    if name == "startup" and (command is not None or startup_error is not None):
        unread = "not read: a startup command was given"
        rules.append(Rule("procfile", False, unread, unread))

    common = {"startup": command, "startup_error": startup_error}
    config_path, origin = config_file.find(app_dir, command.settings if command else {}, env)
    configured = config_file.wsgi_app(config_path)
    if configured and config_path is not None:
        where = _rel_name(app_dir, config_path)
        named = "" if origin == where else f" (from {origin})"  # not gunicorn.conf.py's own
        reason = f"{where}{named} sets wsgi_app = {configured!r}"
        rules.append(Rule("config-file", True, reason, "gunicorn's config file names the app"))
        kind = _kind_of(app_dir, configured)
        return done(kind, "config-file", app=configured, pythonpath=app_dir, **common)
    none = "no wsgi_app in gunicorn's config file"
    rules.append(Rule("config-file", False, none, none))

    flask = flask_app.flask_app(app_dir, env)
    if isinstance(flask, Found):
        rules.append(Rule("flask-app", True, flask.reason, "FLASK_APP names the app"))
        return done(flask.kind, "flask-app", app=flask.app, pythonpath=flask.pythonpath, **common)
    rules.append(Rule("flask-app", False, *flask))
    if flask[0] != flask_app.NOT_SET:
        search.notes.append(flask[0])

    common = {"startup": command, "startup_error": startup_error}
    # A startup command with only settings may ask for ASGI: for Django, that means asgi.py.
    search.want_asgi = environment.flag(env, "APPSVC_DJANGO_ASGI") or (
        command is not None and command.settings.get("worker_class") == "asgi"
    )
    django = django_project.find(search)
    if isinstance(django, Found):
        rules.append(Rule("django", True, django.reason, "a Django project"))
        return done(django.kind, "django", app=django.app, pythonpath=django.pythonpath, **common)
    rules.append(Rule("django", False, *django))

    app_file = app_file_rule.find(app_dir)
    if isinstance(app_file, Found):
        rules.append(Rule("app-file", True, app_file.reason, "an app file"))
        return done(
            app_file.kind, "app-file", app=app_file.app, pythonpath=app_file.pythonpath, **common
        )
    rules.append(Rule("app-file", False, *app_file))
    search.notes += app_file_rule.below(search)
    served = "no app found above: serving the default site"
    rules.append(Rule("default-site", True, served, served))
    return done("default", "default-site", **common)


def _venv(
    app_dir: Path,
    env: Mapping[str, str],
    build: BuildOutput | None,
    search: Search,
) -> VirtualEnv | None:
    """``APPSVC_VIRTUAL_ENV``, then the build's virtualenv, then the folder scan, then the
    build's package folder."""
    if build is not None and not env.get("APPSVC_VIRTUAL_ENV"):
        if build.venv_path is not None:
            return venv.describe(build.venv_path)
        found = venv.find(app_dir, env, search)
        if found is None and build.package_path is not None:
            return venv.packages(build.package_path)
        return found
    return venv.find(app_dir, env, search)


def _command_rule(
    name: RuleName, command: "StartupCommand", app_dir: Path, rules: list[Rule]
) -> tuple[Kind, dict[str, object]] | None:
    """The startup (or Procfile) command's rule: what it serves, or None when it gives
    gunicorn settings only (they apply to the app found further down the chain)."""
    what = "startup" if name == "startup" else "Procfile's web"
    if command.kind != "gunicorn":
        runs = "shell script" if command.kind == "script" else "command"
        reason = f"{command.origin}: runs as a supervised {runs}"
        rules.append(Rule(name, True, reason, f"the {what} {runs} runs supervised"))
        return "command", {"command": command.shown}
    root = _startup_root(app_dir, command)
    paste = command.settings.get("paste") if not command.app else None
    if paste:
        reason = f"{command.origin}: gunicorn serves the PasteDeploy app of {paste}"
        rules.append(Rule(name, True, reason, f"the {what} command names the app"))
        return "wsgi", {"app": f"config:{paste}", "pythonpath": root, "paste": True}
    app = command.app or command.settings.get("wsgi_app")
    if app:
        steps = f" after {len(command.steps)} pre-start step(s)" if command.steps else ""
        reason = f"{command.origin}: gunicorn serves {app}{steps}"
        rules.append(Rule(name, True, reason, f"the {what} command names the app"))
        kind = _kind_of(root, str(app), command.settings.get("pythonpath"))
        return kind, {"app": str(app), "pythonpath": root}
    rules.append(
        Rule(
            name,
            False,
            f"{command.origin}: gunicorn settings only, no app module; "
            "they apply to the app found below",
            f"the {what} command gives gunicorn settings only, no app module",
        )
    )
    return None


def _rel_name(app_dir: Path, path: Path) -> str:
    return str(path.relative_to(app_dir)) if path.is_relative_to(app_dir) else str(path)


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


def _startup_root(app_dir: Path, command: "StartupCommand") -> Path:
    chdir = command.settings.get("chdir")
    if chdir:
        return (app_dir / str(chdir)).absolute()
    return app_dir


def _kind_of(root: Path, app: str, pythonpath: object = None) -> Literal["wsgi", "asgi"]:
    """The protocol of a ``module:variable`` found under ``root`` or a folder of gunicorn's
    ``--pythonpath`` (wsgi when unknown)."""
    module, _, variable = app.partition(":")
    folders = [root, *(root / folder for folder in str(pythonpath or "").split(",") if folder)]
    path = next(
        (found for folder in folders if (found := pysource.module_file(folder, module))),
        None,
    )
    if path is None:
        return "wsgi"
    scan = pysource.scan_module(path)
    name = (variable or "application").split("(")[0].strip()
    return scan.kind_of(name, folders)
