"""The startup command: App Service's "Startup Command" setting, as file or words.

Reading and classifying never runs anything: a command becomes either gunicorn
arguments (served in-process) or a shell command (exec'd later by the CLI), and
anything unusable becomes one ``StartupError`` whose message names the file and
the fix.
"""

from __future__ import annotations

import argparse
import functools
import os
import re
import shlex
import shutil
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from gunicorn.config import Config

from . import pysource

# Words with one of these endings name a startup file even when it is missing,
# so that a typo in the file name is reported rather than run as a command.
FILE_SUFFIXES = frozenset({".txt", ".sh", ".cmd", ".conf", ".cfg", ".ini", ".bash"})
MAX_FILE_BYTES = 1024 * 1024
# shlex is quadratic in the length of a word: longer text is refused before splitting.
MAX_COMMAND_CHARS = 64 * 1024
SHELL_OPERATORS = frozenset("|&;<>()")
PYTHON_RE = re.compile(r"^python(\d+(\.\d+)?)?$")
ASSIGNMENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
VAR_RE = re.compile(
    r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)\}|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))"
)

Kind = Literal["gunicorn", "shell", "script"]


MAX_MESSAGE = 500
# What str.splitlines() splits on.
LINE_BREAKS = frozenset("\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")


class StartupError(Exception):
    """A startup command that cannot be used; the message is one line."""

    def __init__(self, message: str) -> None:
        super().__init__(one_line(message))


def one_line(message: str, limit: int = MAX_MESSAGE) -> str:
    """``message`` on one line (line breaks escaped) and at most ``limit`` characters."""
    message = "".join(repr(ch)[1:-1] if ch in LINE_BREAKS else ch for ch in message)
    if len(message) > limit:
        message = message[: limit - 4] + " ..."
    return message


def show(value: str, limit: int = 60) -> str:
    """A user-supplied value for a message: quoted, escaped, shortened."""
    if len(value) > limit:
        return repr(value[:limit]) + f"... ({len(value)} characters)"
    return repr(value)


@dataclass(frozen=True)
class StartupCommand:
    """A usable startup command.

    ``kind`` is ``gunicorn`` (``settings`` and ``app`` apply in-process),
    ``shell`` (``text`` runs through ``/bin/sh -c``) or ``script`` (``path``
    runs through ``/bin/sh``).  The last program of a shell command is run with
    ``exec`` when that is safe (see ``exec_last``), so that it replaces the shell
    and receives the orchestrator's signals itself.
    """

    origin: str
    text: str
    kind: Kind
    app: str | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)
    path: Path | None = None

    def shell_argv(self) -> list[str]:
        if self.kind == "script":
            return ["/bin/sh", str(self.path)]
        return ["/bin/sh", "-c", exec_last(self.text) or self.text]


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
            return StartupCommand(origin=origin, text=text, kind="script", path=path)
        return classify(text, origin, env, app_dir)
    text = " ".join(words) if len(words) > 1 else words[0]
    return classify(text, "startup command", env, app_dir)


def _names_file(word: str, app_dir: Path) -> bool:
    if any(ch.isspace() for ch in word.strip()):
        return False
    candidate = Path(word)
    if "/" in word or candidate.suffix.lower() in FILE_SUFFIXES:
        return True
    return not os.path.isabs(word) and (app_dir / word).is_file()


def _startup_path(word: str, app_dir: Path) -> Path:
    """Where a startup file is, refusing anything that leaves the app folder."""
    root = app_dir.resolve()
    name = show(word)
    if ".." in Path(word).parts:
        raise StartupError(
            f"startup file {name}: '..' leaves the app folder {root}; put the file in the app "
            "folder and give its name relative to it (e.g. startup.txt)"
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
            "give the name of a file in the app folder, e.g. startup.txt"
        ) from None
    if not resolved.is_relative_to(root):
        where = "is a symlink that points" if is_link else "is"
        raise StartupError(
            f"startup file {name} {where} outside the app folder {root} ({resolved}); "
            "move the file into the app folder and name it relative to it"
        )
    if not exists:
        raise StartupError(
            f"startup file {name} not found in the app folder {root}; deploy it there "
            "or fix the startup command"
        )
    if resolved.is_dir():
        raise StartupError(
            f"startup file {name} in the app folder {root} is a directory; name a text file "
            "holding the command (e.g. startup.txt with 'gunicorn app:app')"
        )
    if not resolved.is_file():
        raise StartupError(
            f"startup file {name} in the app folder {root} is not a regular file (a pipe, "
            "socket or device); name a text file holding the command"
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
        raise StartupError(f"{label} cannot be read ({exc.strerror or exc}); {fix}") from None
    if len(data) > MAX_FILE_BYTES:
        raise StartupError(
            f"{label} is larger than {MAX_FILE_BYTES // 1024} KiB; "
            "a startup command is one line (or a short script)"
        )
    nul = data.find(b"\0")
    if nul >= 0:
        raise StartupError(
            f"{label} is binary (NUL byte at offset {nul}); save the command in it as plain text"
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise StartupError(
            f"{label} is not UTF-8 text (bad byte at offset {exc.start}); save it as UTF-8"
        ) from None
    if path.suffix == ".sh":
        if not text.strip():
            raise StartupError(
                f"{label} is empty; write the commands to run in it, e.g. 'gunicorn app:app'"
            )
        return text
    command = strip_comments(text)
    if not command:
        raise StartupError(
            f"{label} is empty (or holds only comments); write the command in it, "
            "e.g. 'gunicorn hello:myapp'"
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
    """Decide whether a command is gunicorn's (in-process) or the shell's (exec).

    A relative ``--chdir`` is taken from ``app_dir``, where App Service runs the command.
    """
    text = text.strip()
    if not text:
        raise StartupError(f"{origin}: the startup command is empty")
    if "\0" in text:
        raise StartupError(
            f"{origin}: the startup command contains a NUL character; remove it "
            "(was the file saved as UTF-16?)"
        )
    if len(text) > MAX_COMMAND_CHARS:
        raise StartupError(
            f"{origin}: the startup command is {len(text)} characters long, more than "
            f"{MAX_COMMAND_CHARS}; a startup command is one line (put longer "
            "scripts in a startup file ending in .sh)"
        )
    if "\n" in text or _has_shell_syntax(text):
        return StartupCommand(origin=origin, text=text, kind="shell")
    words = _split(text, origin)
    if not words:
        raise StartupError(f"{origin}: the startup command is empty (only a comment)")
    if _gunicorn_args(words, app_dir) is None:
        return StartupCommand(origin=origin, text=text, kind="shell")
    expanded = _gunicorn_args(_split(expand_vars(text, env, origin), origin), app_dir) or []
    app, settings = parse_gunicorn_args(expanded, origin, app_dir)
    return StartupCommand(origin=origin, text=text, kind="gunicorn", app=app, settings=settings)


def _split(text: str, origin: str) -> list[str]:
    try:
        return shlex.split(text, comments=True)
    except ValueError as exc:
        raise StartupError(
            f"{origin}: cannot split {show(text)} into words ({exc}); check the quotes"
        ) from None


# Words that cannot follow "exec": the shell's reserved words and the builtins that
# change the shell itself.
NOT_EXECUTABLE = frozenset(
    (  # noqa: SIM905 - a word list reads best as words
        "! { } case do done elif else esac fi for if in then until while function select "
        ". : alias bg break cd command continue eval exec exit export fg getopts hash jobs "
        "local read readonly return set shift source times trap type ulimit umask unalias "
        "unset wait"
    ).split()
)


def exec_last(text: str) -> str | None:
    """``text`` with ``exec`` before its last command, or None when that is not safe.

    Only lists of plain commands qualify: commands joined by ``&&``, ``;`` or new lines,
    whose last one runs a program.  Pipes, ``||``, redirections, background jobs,
    subshells, command substitution, comments and leading ``VAR=value`` words are left
    to the shell as written.
    """
    quote: str | None = None
    start = 0
    index = 0
    while index < len(text):
        char = text[index]
        if quote is not None:
            if char == quote:
                quote = None
            elif char == "\\" and quote == '"':
                index += 1
        elif char in "'\"":
            quote = char
        elif char == "\\":
            index += 1
        elif char in "|<>()`#" or text.startswith("$(", index) or text.startswith(";;", index):
            return None
        elif text.startswith("&&", index):
            index += 1
            start = index + 1
        elif char == "&":
            return None
        elif char in ";\n":
            start = index + 1
        index += 1
    last = text[start:]
    try:
        words = shlex.split(last)
    except ValueError:
        return None
    if quote is not None or not words or words[0] in NOT_EXECUTABLE:
        return None
    if ASSIGNMENT_RE.match(words[0]):
        return None
    stripped = last.lstrip()
    return text[:start] + last[: len(last) - len(stripped)] + "exec " + stripped


def _has_shell_syntax(text: str) -> bool:
    if "`" in text or "$(" in text:
        return True
    lexer = shlex.shlex(text, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = ""
    try:
        tokens = list(lexer)
    except ValueError:
        return False
    return any(token and set(token) <= SHELL_OPERATORS for token in tokens)


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
    if ASSIGNMENT_RE.match(words[0]) or "/" in words[0] or is_program(words[0]):
        return None
    # A bare word is gunicorn's app module: dotted ("mysite.wsgi") or a module in the app folder.
    if "." in words[0] or app_dir is None or pysource.module_file(app_dir, words[0]) is not None:
        return words
    return None


def is_program(word: str) -> bool:
    """On PATH, or next to the launcher's Python (where the shell command will find it too)."""
    return bool(shutil.which(word) or shutil.which(word, path=os.path.dirname(sys.executable)))


def expand_vars(text: str, env: Mapping[str, str], origin: str) -> str:
    """Expand ``$VAR`` and ``${VAR}`` as a shell would, except inside single quotes.

    A value is inserted as one word (quoted), never re-read as shell syntax; an unset
    variable is an error rather than a silent empty string.
    """
    out: list[str] = []
    quote: str | None = None
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\" and quote != "'":
            out.append(text[index : index + 2])
            index += 2
            continue
        if char in "'\"" and quote in (None, char):
            quote = None if quote == char else char
        elif char == "$" and quote != "'":
            match = VAR_RE.match(text, index)
            if match:
                value = _lookup(match.group("braced") or match.group("plain"), env, origin)
                if quote is None:
                    out.append(shlex.quote(value))
                else:
                    out.append(re.sub(r'(["\\$`])', r"\\\1", value))
                index = match.end()
                continue
        out.append(char)
        index += 1
    return "".join(out)


def _lookup(name: str, env: Mapping[str, str], origin: str) -> str:
    if name not in env:
        raise StartupError(f"{origin}: ${name} is not set in the environment; set it or write it")
    return env[name]


class _ArgumentError(Exception):
    pass


def _raise(message: str) -> Any:
    raise _ArgumentError(message)


def gunicorn_parser(config: Config | None = None) -> argparse.ArgumentParser:
    """gunicorn's own argument parser, made to raise instead of exiting.

    The options come from ``config``'s settings (their definitions, not their values).
    """
    parser = (config or Config(prog="gunicorn")).parser()
    parser.exit_on_error = False
    parser.error = _raise  # type: ignore[method-assign]
    # --help and --version print and exit: in a startup command they are a mistake.
    parser._print_message = _quiet  # type: ignore[method-assign]
    parser.exit = _refuse_exit  # type: ignore[method-assign]
    return parser


def _quiet(message: str, file: Any = None) -> None:
    return None


def _refuse_exit(status: int = 0, message: str | None = None) -> Any:
    raise _ArgumentError("-h/--help and -v/--version only print; remove them")


# A gunicorn Config and its parser take milliseconds to build, on the start-up path: one
# of each serves every parse and check in the process (see the README, "Performance").
@functools.cache
def validation_config() -> Config:
    """A ``Config`` to run gunicorn's validators on; values set on it are never read back."""
    return Config(prog="gunicorn")


@functools.cache
def _shared_parser() -> argparse.ArgumentParser:
    return gunicorn_parser(validation_config())


def parse_gunicorn_args(
    args: Sequence[str], origin: str, base: Path | None = None
) -> tuple[str | None, dict[str, Any]]:
    """Parse gunicorn arguments into (app module, {setting: value}), validating each value.

    A relative ``--chdir`` is made absolute against ``base`` when one is given.
    """
    parser = _shared_parser()
    try:
        namespace, unknown = parser.parse_known_args(list(args))
    except (_ArgumentError, argparse.ArgumentError) as exc:
        raise StartupError(f"{origin}: {exc}; fix it (see 'gunicorn --help')") from None
    if unknown:
        raise StartupError(
            f"{origin}: unknown gunicorn option {show(unknown[0])}; fix or remove it "
            "(see 'gunicorn --help')"
        )
    settings = {k: v for k, v in vars(namespace).items() if v is not None and k != "args"}
    if base is not None and "chdir" in settings and not os.path.isabs(settings["chdir"]):
        settings["chdir"] = str(base / settings["chdir"])
    check_settings(settings, origin)
    positional: list[str] = namespace.args
    if len(positional) > 1:
        found = ", ".join(show(word) for word in positional[:4])
        raise StartupError(
            f"{origin}: expected one app module (module:variable), found {len(positional)}: "
            f"{found}; keep one, and put options before it with their '--'"
        )
    return (positional[0] if positional else None), settings


def check_settings(settings: Mapping[str, Any], origin: str) -> None:
    """Let gunicorn's validators judge each value, as gunicorn itself would."""
    config = validation_config()
    for name, value in settings.items():
        option = "--" + name.replace("_", "-")
        try:
            config.set(name, value)
        except Exception as exc:  # gunicorn's validators raise ValueError, ConfigError, ...
            raise StartupError(f"{origin}: invalid value for {option}: {exc}") from None
    derived = (
        ("raw_env", "env", "--env"),
        ("raw_paste_global_conf", "paste_global_conf", "--paste-global"),
    )
    for setting, name, option in derived:
        if setting not in settings:
            continue  # the shared Config may still hold an earlier, refused value
        try:
            getattr(config, name)
        except RuntimeError as exc:
            raise StartupError(
                f"{origin}: invalid value for {option}: {exc}; write NAME=VALUE"
            ) from None
