"""The startup rule: App Service's startup command, as a file or words.

``read_startup`` is the stage before the chain: the command given, else the Procfile's
web process, resolved once; the startup and procfile rules then judge it.
"""

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from appservice_gunicorn.base import environment
from appservice_gunicorn.base.errors import StartupError
from appservice_gunicorn.detection import app_variable
from appservice_gunicorn.detection.context import Context, Match, Miss, RuleName, Startup, kind_of
from appservice_gunicorn.startup.startup_file import (
    PROCFILE_SWITCH,
    procfile_command,
    why_supervised,
)

if TYPE_CHECKING:
    from appservice_gunicorn.startup.command import StartupCommand

NOT_GIVEN = "no startup command given"


def read_startup(words: Sequence[str], app_dir: Path, env: Mapping[str, str]) -> Startup:
    """The startup command given as ``words``, else the Procfile's web process (``env``
    holds what its ``$NAME`` may use)."""
    # The shell grammar and the command's classes load only for a command: 2 ms of
    # imports that most starts never need (the benchmark's CPU to the first answer).
    if words:
        from appservice_gunicorn.startup.command import resolve_startup

        try:
            given = resolve_startup(words, app_dir, env)
        except StartupError as exc:
            public = f"{_public_startup_name(words, app_dir)}: {exc.problem}"
            return Startup(True, error=str(exc), public_error=public)
        if given is not None:  # else blank: as if none was given
            return Startup(True, given)
    try:
        text, why = procfile_command(app_dir, environment.flag(env, PROCFILE_SWITCH))
        if text is None:
            return Startup(False, procfile=why)
        from appservice_gunicorn.startup.command import classify

        return Startup(False, classify(text, "Procfile (web)", env, app_dir))
    except StartupError as exc:
        return Startup(False, error=str(exc), public_error=f"Procfile: {exc.problem}")


def rule(context: Context) -> Match | Miss:
    startup = context.startup
    if not startup.given:
        return Miss(NOT_GIVEN, NOT_GIVEN)
    if startup.error is not None:
        return Miss(startup.error, startup.public_error)
    assert startup.command is not None
    return command_outcome("startup", startup.command, context)


def command_outcome(name: RuleName, command: "StartupCommand", context: Context) -> Match | Miss:
    """What a startup (or Procfile) command serves; a miss when it gives gunicorn settings
    only (they apply to the app found further down the chain)."""
    what = "startup" if name == "startup" else "Procfile's web"
    if command.kind != "gunicorn":
        runs = "shell script" if command.kind == "script" else "command"
        # Said when gunicorn is in it: its settings then do not show, which would surprise.
        told = command.kind == "script" or "gunicorn" in command.text
        why = f" ({why_supervised(command.text)})" if told else ""
        return Match(
            "command",
            f"{command.origin}: runs as a supervised {runs}{why}",
            f"the {what} {runs} runs supervised",
            command=command.shown,
            notes=_supervised_notes(command, context),
        )
    root = _startup_root(context.app_dir, command)
    paste = command.settings.get("paste") if not command.app else None
    if paste:
        reason = f"{command.origin}: gunicorn serves the PasteDeploy app of {paste}"
        public = f"the {what} command names the app"
        return Match("wsgi", reason, public, f"config:{paste}", root, paste=True)
    app = command.app or command.settings.get("wsgi_app")
    if app:
        steps = f" after {len(command.steps)} pre-start step(s)" if command.steps else ""
        reason = f"{command.origin}: gunicorn serves {app}{steps}"
        pythonpath = command.settings.get("pythonpath")
        kind = kind_of(root, str(app), pythonpath)
        undefined = app_variable.note(root, str(app), pythonpath, command.origin)
        notes = (undefined,) if undefined else ()
        public = f"the {what} command names the app"
        return Match(kind, reason, public, str(app), root, notes=notes)
    return Miss(
        f"{command.origin}: gunicorn settings only, no app module; "
        "they apply to the app found below",
        f"the {what} command gives gunicorn settings only, no app module",
    )


def _supervised_notes(command: "StartupCommand", context: Context) -> tuple[str, ...]:
    """Warnings read from a supervised command's text: calls left unquoted, and a server
    that would not listen where the platform's requests arrive."""
    from appservice_gunicorn.startup import programs, server_ports
    from appservice_gunicorn.startup.command import unquoted_calls

    venv = context.venv
    unseen = context.build is not None and context.build.venv_unseen
    return (
        *unquoted_calls(command.text, command.origin),
        *(
            []
            if unseen
            else programs.missing(
                command.text,
                command.origin,
                context.expanded,
                context.app_dir,
                venv.site_packages if venv else (),
                venv.path / "bin" if venv and not venv.packages_only else None,
            )
        ),
        *server_ports.warnings(command.text, command.origin, context.expanded, context.app_dir),
    )


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
