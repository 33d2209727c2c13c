"""What the rules of the detection chain share: the context they read, and the one shape
of their answer (a ``Match`` or a ``Miss``)."""

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Literal, NamedTuple

from appservice_gunicorn.detection.listing import Search
from appservice_gunicorn.files import pysource

if TYPE_CHECKING:
    from appservice_gunicorn.build.output import BuildOutput
    from appservice_gunicorn.detection.venv import VirtualEnv
    from appservice_gunicorn.startup.command import StartupCommand

Kind = Literal["wsgi", "asgi", "default", "command"]
RuleName = Literal[
    "startup", "procfile", "config-file", "flask-app", "django", "app-file", "default-site"
]


class Found(NamedTuple):
    """An app a rule's search found (before the rule words its answer)."""

    app: str
    kind: Literal["wsgi", "asgi"]
    pythonpath: Path
    reason: str


class Match(NamedTuple):
    """A rule matched: what to serve (by ``kind``: ``app`` and ``pythonpath``, or the
    supervised ``command``), the one-line ``reason``, and ``public``, the reason for the
    public default site (the launcher's own words and paths relative to the app folder
    only: never a user's value)."""

    kind: Kind
    reason: str
    public: str
    app: str | None = None
    pythonpath: Path | None = None
    command: str | None = None
    paste: bool = False
    notes: tuple[str, ...] = ()


class Miss(NamedTuple):
    """A rule did not match, and why (``public``: as for ``Match``); ``notes`` are warnings
    worth a line in the log whatever matches later."""

    reason: str
    public: str
    notes: tuple[str, ...] = ()


class Startup(NamedTuple):
    """The startup command the chain starts from: the words given (``given``), else the
    Procfile's web process; ``error`` (and its public form) when it cannot be used;
    ``procfile``: why no Procfile command was read."""

    given: bool
    command: "StartupCommand | None" = None
    error: str | None = None
    public_error: str = ""
    procfile: str = ""


class Context(NamedTuple):
    """What every rule reads: the app folder, the environment (``expanded``: with what a
    startup command may use: ``PORT``, ``HOST``, ``APP_PATH``), the build output, the
    startup command, the virtualenv found, and the run's listings."""

    app_dir: Path
    env: Mapping[str, str]
    expanded: Mapping[str, str]
    build: "BuildOutput | None"
    startup: Startup
    venv: "VirtualEnv | None"
    search: Search


RuleFunction = Callable[[Context], Match | Miss]


def search_folders(root: Path, pythonpath: object = None) -> list[Path]:
    """``root`` and gunicorn's ``--pythonpath`` folders: where the app's import looks."""
    return [root, *(root / folder for folder in str(pythonpath or "").split(",") if folder)]


def app_module_file(root: Path, module: str, pythonpath: object = None) -> Path | None:
    """The file of ``module`` in the first of ``search_folders`` that holds it."""
    found = (pysource.module_file(folder, module) for folder in search_folders(root, pythonpath))
    return next((path for path in found if path), None)


def kind_of(root: Path, app: str, pythonpath: object = None) -> Literal["wsgi", "asgi"]:
    """The protocol of a ``module:variable`` found under ``root`` or a folder of gunicorn's
    ``--pythonpath`` (wsgi when unknown)."""
    module, _, variable = app.partition(":")
    path = app_module_file(root, module, pythonpath)
    if path is None:
        return "wsgi"
    scan = pysource.scan_module(path)
    name = (variable or "application").split("(")[0].strip()
    return scan.kind_of(name, search_folders(root, pythonpath))
