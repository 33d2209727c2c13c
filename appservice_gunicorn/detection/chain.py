"""The detection chain: which app in the folder to serve, and why.

Every rule reads files (directory entries, text, AST) and nothing else; the user's code
is imported only later, by the gunicorn worker.  The chain is data (``CHAIN``): each rule
takes the ``Context`` and answers with a ``Match`` or a ``Miss``; the first match wins.
The result is a ``Detection``: the decision plus one ``Rule`` per rule tried, which
``--explain``, the log and the default site all show.
"""

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from appservice_gunicorn.base import environment
from appservice_gunicorn.build import output
from appservice_gunicorn.build.output import BuildOutput
from appservice_gunicorn.detection import venv
from appservice_gunicorn.detection.context import (
    Context,
    Kind,
    Match,
    Miss,
    RuleFunction,
    RuleName,
)
from appservice_gunicorn.detection.listing import Search
from appservice_gunicorn.detection.rules import (
    app_file,
    config_file,
    django_project,
    flask_app,
    procfile,
    startup,
)
from appservice_gunicorn.detection.venv import VirtualEnv

if TYPE_CHECKING:
    from appservice_gunicorn.startup.command import StartupCommand

__all__ = ["CHAIN", "Detection", "Kind", "Rule", "RuleName", "detect"]


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


def default_site(context: Context) -> Match | Miss:
    """The last rule: nothing above matched."""
    served = "no app found above: serving the default site"
    return Match("default", served, served)


CHAIN: tuple[tuple[RuleName, RuleFunction], ...] = (
    ("startup", startup.rule),
    ("procfile", procfile.rule),
    ("config-file", config_file.rule),
    ("flask-app", flask_app.rule),
    ("django", django_project.rule),
    ("app-file", app_file.rule),
    ("default-site", default_site),
)


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
    context, notes = _context(path, startup, os.environ if env is None else env, build)
    tried: list[Rule] = []
    for name, rule in CHAIN:
        seen = len(context.search.observed)
        outcome = rule(context)
        notes += [*context.search.observed[seen:], *outcome.notes]
        tried.append(Rule(name, isinstance(outcome, Match), outcome.reason, outcome.public))
        if isinstance(outcome, Match):
            break
    assert isinstance(outcome, Match), "the default site always matches"
    return _detection(context, name, outcome, tried, notes)


def _detection(
    context: Context, name: RuleName, match: Match, tried: list[Rule], notes: list[str]
) -> Detection:
    """The decision: what ``match`` serves, with the startup command (whose gunicorn
    settings apply whatever rule matched) and the virtualenv the app is served with."""
    served_venv = context.venv
    if served_venv is None:
        seen = len(context.search.observed)
        served_venv, beside = venv.beside(
            context.app_dir, match.pythonpath, context.env, context.search
        )
        notes = [*notes, *context.search.observed[seen:], *beside]
    return Detection(
        app_dir=context.app_dir,
        kind=match.kind,
        rule=name,
        rules=tuple(tried),
        app=match.app,
        command=match.command,
        pythonpath=match.pythonpath,
        startup=context.startup.command,
        startup_error=context.startup.error,
        venv=served_venv,
        notes=tuple(notes),
        build=context.build,
        paste=match.paste,
    )


def _context(
    path: str | os.PathLike[str],
    words: str | Sequence[str] | None,
    env: Mapping[str, str],
    build: BuildOutput | None,
) -> tuple[Context, list[str]]:
    """What the rules read, and the notes found on the way: the build output, the startup
    command, the virtualenv."""
    deployed = Path(path).absolute()
    build = build if build is not None else output.inspect(deployed, env)
    app_dir = build.app_dir if build is not None else deployed
    expanded = environment.startup_env(env, app_dir)
    given = [words] if isinstance(words, str) else list(words or ())
    command_found = startup.read_startup(given, app_dir, expanded)
    command = command_found.command
    # A startup command with only settings may ask for ASGI: for Django, that means asgi.py.
    want_asgi = environment.flag(env, "APPSVC_DJANGO_ASGI") or (
        command is not None and command.settings.get("worker_class") == "asgi"
    )
    search = Search(app_dir=app_dir, env=env, want_asgi=want_asgi)
    found_venv = _venv(app_dir, env, build, search)
    notes = [*search.observed, *(build.notes if build is not None else ())]
    notes += venv.problems(app_dir, env, found_venv)
    return Context(app_dir, env, expanded, build, command_found, found_venv, search), notes


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
