"""The startup command: App Service's "Startup Command" setting, as file or words.

Reading and classifying never runs anything.  A command becomes either gunicorn
arguments (served in-process), possibly after pre-start steps (``migrate && gunicorn
...``: each step runs as a supervised child first), or a command the launcher
supervises as it runs (any other program, or shell text it cannot split with
certainty).  Anything unusable becomes one ``StartupError`` whose message names the
file and the fix.
"""

import os
import re
import shlex
import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, NamedTuple

from appservice_gunicorn.base.errors import StartupError as StartupError
from appservice_gunicorn.base.messages import show
from appservice_gunicorn.files import fs, pysource
from appservice_gunicorn.startup import expansion, gunicorn_options, shell
from appservice_gunicorn.startup.shell import Step
from appservice_gunicorn.startup.startup_file import names_file, read_startup_file, startup_path

# shlex is quadratic in the length of a word: longer text is refused before splitting.
MAX_COMMAND_CHARS = 64 * 1024
PYTHON_RE = re.compile(r"^python(\d+(\.\d+)?)?$")

Kind = Literal["gunicorn", "shell", "script"]


class StartupCommand(NamedTuple):
    """A usable startup command.

    ``kind`` is ``gunicorn`` (``settings`` and ``app`` apply in-process, after the
    pre-start ``steps``), ``shell`` (``text`` runs supervised through ``/bin/sh -c``) or
    ``script`` (``path`` runs supervised through its ``#!`` line's ``interpreter``, else
    ``/bin/sh``).
    """

    origin: str
    text: str
    kind: Kind
    app: str | None = None
    # Read-only, as the rest of the command (a copy behind MappingProxyType).
    settings: Mapping[str, Any] = MappingProxyType({})
    path: Path | None = None
    steps: tuple[Step, ...] = ()
    interpreter: tuple[str, ...] = ()

    def __hash__(self) -> int:
        # The settings (values may be lists) follow from the text: hashing it is enough.
        return hash((self.origin, self.text, self.kind, self.app, self.path, self.steps))

    def shell_argv(self) -> list[str]:
        """The command line of a supervised command."""
        if self.kind == "script":
            # Its text as read (a UTF-8 BOM, which the shell would take for a command, is
            # gone), with the file as $0, as `sh FILE` would set it, by the shell its '#!'
            # line names.
            return [*(self.interpreter or ("/bin/sh",)), "-c", self.text, str(self.path)]
        return ["/bin/sh", "-c", self.text]

    @property
    def shown(self) -> str:
        """The command as a person would type it: a script is its shell and its file."""
        if self.kind == "script":
            return " ".join([*(self.interpreter or ("/bin/sh",)), str(self.path)])
        return self.text


def resolve_startup(
    words: Sequence[str], app_dir: Path, env: Mapping[str, str]
) -> StartupCommand | None:
    """Turn the launcher's STARTUP words into a command, or None when there are none."""
    if not words or (len(words) == 1 and not words[0].strip()):
        return None
    if len(words) == 1 and names_file(words[0], app_dir):
        path = startup_path(words[0], app_dir)
        origin = words[0]
        text = read_startup_file(path, origin)
        if path.suffix == ".sh":
            interpreter = shell.interpreter(text)
            command = _in_process(text, origin, env, app_dir, errexit=shell.shebang_errexit(text))
            if command is not None:
                # Each step runs as in the script: its shell (-e is followed between the
                # steps already), the script's path as $0.
                shell_of = () if interpreter[:1] == ("/bin/sh",) else interpreter
                steps = tuple(s._replace(shell=shell_of, script=str(path)) for s in command.steps)
                return command._replace(steps=steps)
            return StartupCommand(
                origin=origin, text=text, kind="script", path=path, interpreter=interpreter
            )
        return classify(text, origin, env, app_dir)
    if len(words) == 1:
        return classify(words[0], "startup command", env, app_dir)
    # Several words are an argv (a Docker exec-form CMD): each stays one word, never split
    # again; only $NAME in a word is replaced, as App Service's shell would.
    try:
        values = dict(env)
        words = [expansion.VAR_RE.sub(lambda m: expansion.value(m, values), word) for word in words]
    except expansion.UnsetVariable as exc:
        raise _not_set("startup command", exc) from None
    return classify(shlex.join(words), "startup command", env, app_dir)


def classify(
    text: str, origin: str, env: Mapping[str, str], app_dir: Path | None = None
) -> StartupCommand:
    """Decide whether a command is gunicorn's (in-process, maybe after pre-start steps)
    or another program's (supervised).

    A relative ``--chdir`` is taken from ``app_dir``, where App Service runs the command.
    """
    text = shell.join_continuations(text).strip()
    if not text:
        raise StartupError(
            f"{origin}: the startup command is empty", problem="the startup command is empty"
        )
    if "\0" in text:
        raise StartupError(
            f"{origin}: the startup command contains a NUL character; remove it "
            "(was the file saved as UTF-16?)",
            problem="the startup command holds a NUL character",
        )
    if len(text) > MAX_COMMAND_CHARS:
        raise StartupError(
            f"{origin}: the startup command is {len(text)} characters long, more than "
            f"{MAX_COMMAND_CHARS}; a startup command is one line (put longer "
            "scripts in a startup file ending in .sh)",
            problem="the startup command is too long",
        )
    if "\n" in text or shell.has_syntax(text):
        command = _in_process(text, origin, env, app_dir)
        return command or StartupCommand(origin=origin, text=text, kind="shell")
    words = _split(text, origin)
    if not words:
        raise StartupError(
            f"{origin}: the startup command is empty (only a comment)",
            problem="the startup command is empty",
        )
    script = _app_script(words[0], app_dir) if len(words) > 1 or "/" in words[0] else None
    if script is not None:
        return StartupCommand(origin=origin, text=_runnable(script, text, words), kind="shell")
    if _gunicorn_args(words, app_dir) is None:
        return StartupCommand(origin=origin, text=text, kind="shell")
    return _gunicorn_command(text, origin, env, app_dir)


def _app_script(word: str, app_dir: Path | None) -> Path | None:
    """The app folder's file a command's first word runs (``startup.sh prod``, ``./start.sh``:
    App Service puts the app folder on ``PATH`` for a command), never gunicorn's argument."""
    if app_dir is None or ":" in word or os.path.isabs(word) or ".." in Path(word).parts:
        return None
    path = app_dir / word
    return path if fs.is_file(path) else None


def _runnable(script: Path, text: str, words: list[str]) -> str:
    """``text`` as it runs: a script without its execute bit (which App Service would add)
    is run by the shell its ``#!`` line names, else /bin/sh, with the same arguments."""
    if os.access(script, os.X_OK):
        return text
    interpreter = shell.interpreter(fs.read_regular(script, 256).decode(errors="replace"))
    return shlex.join([*(interpreter or ("/bin/sh",)), str(script), *words[1:]])


def _gunicorn_command(
    text: str,
    origin: str,
    env: Mapping[str, str],
    app_dir: Path | None,
    steps: tuple[Step, ...] = (),
    full_text: str | None = None,
) -> StartupCommand:
    expanded = _gunicorn_args(_split(expand_vars(text, env, origin), origin), app_dir) or []
    app, settings = parse_gunicorn_args(expanded, origin, app_dir)
    return StartupCommand(
        origin=origin,
        text=full_text or text,
        kind="gunicorn",
        app=app,
        settings=MappingProxyType(dict(settings)),
        steps=steps,
    )


def _in_process(
    text: str,
    origin: str,
    env: Mapping[str, str],
    app_dir: Path | None,
    *,
    errexit: bool = False,
) -> StartupCommand | None:
    """A command list whose last command is gunicorn: pre-start steps, then gunicorn.

    None when the list is anything else, or uses shell grammar that cannot be split
    with certainty (it then runs supervised, whole).
    """
    text = shell.join_continuations(text)
    split = shell.split_steps(text, errexit=errexit)
    if split is None:
        return None
    steps, final = split
    words = shell.words_of(final)
    if not words or shell.has_syntax(final) or not _names_gunicorn(words):
        return None
    try:
        return _gunicorn_command(final, origin, env, app_dir, steps, full_text=text.strip())
    except StartupError as exc:
        if not steps:
            raise
        # The whole command is set aside: the steps before gunicorn do not run either.
        skipped = "; ".join(step.command for step in steps)
        raise StartupError(
            f"{exc}. The pre-start steps before it will not run either: {skipped}", exc.problem
        ) from None


def _names_gunicorn(words: list[str]) -> bool:
    first = os.path.basename(words[0])
    if first == "gunicorn":
        return True
    return bool(PYTHON_RE.match(first)) and words[1:3] == ["-m", "gunicorn"]


def _split(text: str, origin: str) -> list[str]:
    try:
        return shlex.split(text, comments=True)
    except ValueError as exc:
        raise StartupError(
            f"{origin}: cannot split {show(text)} into words ({exc}); check the quotes",
            problem="its quotes do not match",
        ) from None


def _gunicorn_args(words: list[str], app_dir: Path | None = None) -> list[str] | None:
    """The gunicorn arguments of a command, or None when it runs another program."""
    if words[0] == "exec" and len(words) > 1 and _names_gunicorn(words[1:]):
        words = words[1:]  # the shell would become gunicorn: the launcher serves it itself
    first = os.path.basename(words[0])
    if first == "gunicorn":
        return words[1:]
    if PYTHON_RE.match(first):
        # Any other "python ..." runs a program (uvicorn, manage.py), found on PATH or not.
        return words[3:] if words[1:3] == ["-m", "gunicorn"] else None
    if words[0].startswith("-") or ":" in words[0]:
        return words
    if shell.ASSIGNMENT_RE.match(words[0]) or "/" in words[0] or is_program(words[0]):
        return None
    # A bare word is gunicorn's app module: dotted ("mysite.wsgi") or a module in the app folder.
    if "." in words[0] or app_dir is None or pysource.module_file(app_dir, words[0]) is not None:
        return words
    return None


def is_program(word: str) -> bool:
    """On PATH, or next to the launcher's Python (where the shell command will find it too)."""
    return bool(shutil.which(word) or shutil.which(word, path=os.path.dirname(sys.executable)))


def parse_gunicorn_args(
    args: Sequence[str], origin: str, base: Path | None = None
) -> tuple[str | None, dict[str, Any]]:
    """gunicorn's own parsing and validation, with its errors as ``StartupError``."""
    try:
        return gunicorn_options.parse(args, origin, base)
    except gunicorn_options.OptionError as exc:
        raise StartupError(
            str(exc), problem="gunicorn does not accept one of its options or values"
        ) from None


def expand_vars(text: str, env: Mapping[str, str], origin: str) -> str:
    """``expansion.expand_vars`` with an unset variable reported as a ``StartupError``."""
    try:
        return expansion.expand_vars(text, env)
    except expansion.UnsetVariable as exc:
        raise _not_set(origin, exc) from None


def _not_set(origin: str, exc: expansion.UnsetVariable) -> StartupError:
    name, said, empty = exc.args
    state = "is empty" if empty else "is not set in the environment"
    return StartupError(
        f"{origin}: ${name} {state}{f' ({said})' if said else ''}; set it, or write its value "
        "in the command",
        problem="a variable it uses is not set",
    )


# gunicorn's app argument calling a factory, left unquoted: "module:create_app()".
_UNQUOTED_CALL = re.compile(r"(?:^|[\s;&|])([A-Za-z_][\w.]*:[A-Za-z_]\w*\([^'\"\s]*\))")


def unquoted_calls(text: str, origin: str) -> list[str]:
    """Why a command with an app factory call runs supervised and fails in sh: the shell
    reads the parentheses as its own grammar ("Syntax error: Bad function name")."""
    # Quoted text and comments are not the shell's grammar.
    bare = re.sub(r"'[^']*'|\"(?:[^\"\\]|\\.)*\"|(?:^|(?<=\s))#[^\n]*", " ", text)
    return [
        f"{origin}: {call} is read by the shell, for which parentheses are grammar: quote it "
        f"(gunicorn '{call}') to have gunicorn call the factory"
        for call in _UNQUOTED_CALL.findall(bare)
    ]
