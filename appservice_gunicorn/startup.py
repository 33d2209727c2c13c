"""The startup command: App Service's "Startup Command" setting, as file or words.

Reading and classifying never runs anything.  A command becomes either gunicorn
arguments (served in-process), possibly after pre-start steps (``migrate && gunicorn
...``: each step runs as a supervised child first), or a command the launcher
supervises as it runs (any other program, or shell text it cannot split with
certainty).  Anything unusable becomes one ``StartupError`` whose message names the
file and the fix.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from . import fs, gunicorn_options, pysource, shell
from .messages import one_line, show
from .shell import Step

# Words with one of these endings name a startup file even when it is missing,
# so that a typo in the file name is reported rather than run as a command.
FILE_SUFFIXES = frozenset({".txt", ".sh", ".cmd", ".conf", ".cfg", ".ini", ".bash"})
MAX_FILE_BYTES = 1024 * 1024
# shlex is quadratic in the length of a word: longer text is refused before splitting.
MAX_COMMAND_CHARS = 64 * 1024
PYTHON_RE = re.compile(r"^python(\d+(\.\d+)?)?$")

Kind = Literal["gunicorn", "shell", "script"]


class StartupError(Exception):
    """A startup command that cannot be used; the message is one line.

    ``problem`` says what is wrong in words of the launcher's own, never a user's value:
    the public default site shows it (the message, with the values, goes to the log).
    """

    def __init__(self, message: str, problem: str = "it cannot be used") -> None:
        super().__init__(one_line(message))
        self.problem = problem


@dataclass(frozen=True)
class StartupCommand:
    """A usable startup command.

    ``kind`` is ``gunicorn`` (``settings`` and ``app`` apply in-process, after the
    pre-start ``steps``), ``shell`` (``text`` runs supervised through ``/bin/sh -c``) or
    ``script`` (``path`` runs supervised through ``/bin/sh``).
    """

    origin: str
    text: str
    kind: Kind
    app: str | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)
    path: Path | None = None
    steps: tuple[Step, ...] = ()

    def __post_init__(self) -> None:
        # Read-only, as the rest of the (frozen) command.
        object.__setattr__(self, "settings", MappingProxyType(dict(self.settings)))

    def __hash__(self) -> int:
        # The settings (values may be lists) follow from the text: hashing it is enough.
        return hash((self.origin, self.text, self.kind, self.app, self.path, self.steps))

    def shell_argv(self) -> list[str]:
        """The command line of a supervised command."""
        if self.kind == "script":
            # Its text as read (a UTF-8 BOM, which the shell would take for a command, is
            # gone), with the file as $0, as `sh FILE` would set it.
            return ["/bin/sh", "-c", self.text, str(self.path)]
        return ["/bin/sh", "-c", self.text]


def resolve_startup(
    words: Sequence[str], app_dir: Path, env: Mapping[str, str]
) -> StartupCommand | None:
    """Turn the launcher's STARTUP words into a command, or None when there are none."""
    if not words or (len(words) == 1 and not words[0].strip()):
        return None
    if len(words) == 1 and _names_file(words[0], app_dir):
        path = _startup_path(words[0], app_dir)
        origin = words[0]
        text = read_startup_file(path, origin)
        if path.suffix == ".sh":
            command = _in_process(text, origin, env, app_dir, errexit=shell.shebang_errexit(text))
            return command or StartupCommand(origin=origin, text=text, kind="script", path=path)
        return classify(text, origin, env, app_dir)
    if len(words) == 1:
        return classify(words[0], "startup command", env, app_dir)
    # Several words are an argv (a Docker exec-form CMD): each stays one word, never split
    # again; only $NAME in a word is replaced, as App Service's shell would.
    try:
        words = [shell.VAR_RE.sub(lambda m: _value(m, env), word) for word in words]
    except shell.UnsetVariable as exc:
        raise StartupError(
            f"startup command: ${exc} is not set in the environment; set it or write it",
            problem="a variable it uses is not set",
        ) from None
    return classify(shlex.join(words), "startup command", env, app_dir)


def _value(match: re.Match[str], env: Mapping[str, str]) -> str:
    name = match.group("braced") or match.group("plain")
    if name not in env:
        raise shell.UnsetVariable(name)
    return env[name]


def _names_file(word: str, app_dir: Path) -> bool:
    if any(ch.isspace() for ch in word.strip()):
        return False
    candidate = Path(word)
    if "/" in word or candidate.suffix.lower() in FILE_SUFFIXES:
        return True
    return not os.path.isabs(word) and fs.is_file(app_dir / word)


def _startup_path(word: str, app_dir: Path) -> Path:
    """Where a startup file is, refusing anything that leaves the app folder."""
    root = app_dir.resolve()
    name = show(word)
    if ".." in Path(word).parts:
        raise StartupError(
            f"startup file {name}: '..' leaves the app folder {root}; put the file in the app "
            "folder and give its name relative to it (e.g. startup.txt)",
            problem="its name leaves the app folder",
        )
    candidate = Path(word) if os.path.isabs(word) else root / word
    try:
        resolved = candidate.resolve()
        is_link = candidate.is_symlink()
        exists = resolved.exists()
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise StartupError(
            f"startup file {name}: cannot look it up in the app folder {root} ({reason}); "
            "give the name of a file in the app folder, e.g. startup.txt",
            problem="the startup file cannot be looked up",
        ) from None
    if not resolved.is_relative_to(root):
        where = "is a symlink that points" if is_link else "is"
        raise StartupError(
            f"startup file {name} {where} outside the app folder {root} ({resolved}); "
            "move the file into the app folder and name it relative to it",
            problem="the startup file is outside the app folder",
        )
    if not exists:
        raise StartupError(
            f"startup file {name} not found in the app folder {root}; deploy it there "
            "or fix the startup command",
            problem="the startup file was not found in the app folder",
        )
    if resolved.is_dir():
        raise StartupError(
            f"startup file {name} in the app folder {root} is a directory; name a text file "
            "holding the command (e.g. startup.txt with 'gunicorn app:app')",
            problem="the startup file is a folder",
        )
    if not resolved.is_file():
        raise StartupError(
            f"startup file {name} in the app folder {root} is not a regular file (a pipe, "
            "socket or device); name a text file holding the command",
            problem="the startup file is not a regular file",
        )
    return resolved


def read_startup_file(path: Path, origin: str) -> str:
    """The command text of a startup file: decoded, checked, comments dropped."""
    label = f"startup file {show(origin)} ({path})"
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        fix = (
            "make it readable by the user the launcher runs as (e.g. chmod a+r)"
            if isinstance(exc, PermissionError)
            else "check that it is a text file"
        )
        raise StartupError(
            f"{label} cannot be read ({exc.strerror or exc}); {fix}",
            problem="the startup file cannot be read",
        ) from None
    if len(data) > MAX_FILE_BYTES:
        raise StartupError(
            f"{label} is larger than {MAX_FILE_BYTES // 1024} KiB; "
            "a startup command is one line (or a short script)",
            problem="the startup file is too large",
        )
    nul = data.find(b"\0")
    if nul >= 0:
        raise StartupError(
            f"{label} is binary (NUL byte at offset {nul}); save the command in it as plain text",
            problem="the startup file is binary",
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise StartupError(
            f"{label} is not UTF-8 text (bad byte at offset {exc.start}); save it as UTF-8",
            problem="the startup file is not UTF-8 text",
        ) from None
    if path.suffix == ".sh":
        if not text.strip():
            raise StartupError(
                f"{label} is empty; write the commands to run in it, e.g. 'gunicorn app:app'",
                problem="the startup file is empty",
            )
        return text
    command = strip_comments(text)
    if not command:
        raise StartupError(
            f"{label} is empty (or holds only comments); write the command in it, "
            "e.g. 'gunicorn hello:myapp'",
            problem="the startup file is empty",
        )
    return command


def strip_comments(text: str) -> str:
    """Join continuation lines and drop blank and comment lines."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\\\n", " ")
    lines = [line.strip() for line in text.split("\n")]
    return "\n".join(line for line in lines if line and not line.startswith("#"))


def classify(
    text: str, origin: str, env: Mapping[str, str], app_dir: Path | None = None
) -> StartupCommand:
    """Decide whether a command is gunicorn's (in-process, maybe after pre-start steps)
    or another program's (supervised).

    A relative ``--chdir`` is taken from ``app_dir``, where App Service runs the command.
    """
    text = text.strip()
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
    if _gunicorn_args(words, app_dir) is None:
        return StartupCommand(origin=origin, text=text, kind="shell")
    return _gunicorn_command(text, origin, env, app_dir)


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
        settings=settings,
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
    split = shell.split_steps(text, errexit=errexit)
    if split is None:
        return None
    steps, final = split
    words = shell.words_of(final)
    if not words or shell.has_syntax(final) or not _names_gunicorn(words):
        return None
    return _gunicorn_command(final, origin, env, app_dir, steps, full_text=text.strip())


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
    """``shell.expand_vars`` with an unset variable reported as a ``StartupError``."""
    try:
        return shell.expand_vars(text, env)
    except shell.UnsetVariable as exc:
        raise StartupError(
            f"{origin}: ${exc} is not set in the environment; set it or write it",
            problem="a variable it uses is not set",
        ) from None
