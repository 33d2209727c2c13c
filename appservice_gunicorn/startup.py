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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from gunicorn.config import Config

# Words with one of these endings name a startup file even when it is missing,
# so that a typo in the file name is reported rather than run as a command.
FILE_SUFFIXES = frozenset({".txt", ".sh", ".cmd", ".conf", ".cfg", ".ini", ".bash"})
MAX_FILE_BYTES = 1024 * 1024
SHELL_OPERATORS = frozenset("|&;<>()")
PYTHON_RE = re.compile(r"^python(\d+(\.\d+)?)?$")
VAR_RE = re.compile(
    r"\$(?:\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)\}|(?P<plain>[A-Za-z_][A-Za-z0-9_]*))"
)

Kind = Literal["gunicorn", "shell", "script"]


class StartupError(Exception):
    """A startup command that cannot be used; the message is one line."""


@dataclass(frozen=True)
class StartupCommand:
    """A usable startup command.

    ``kind`` is ``gunicorn`` (``settings`` and ``app`` apply in-process),
    ``shell`` (``text`` runs through ``/bin/sh -c``) or ``script`` (``path``
    runs through ``/bin/sh``).
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
    if ".." in Path(word).parts:
        raise StartupError(
            f"startup file {word!r}: '..' is not allowed; put the file inside the app folder "
            f"{root} and name it relative to it"
        )
    candidate = Path(word) if os.path.isabs(word) else root / word
    resolved = candidate.resolve()
    if not resolved.is_relative_to(root):
        where = "is a symlink that points" if candidate.is_symlink() else "is"
        raise StartupError(
            f"startup file {word!r} {where} outside the app folder {root} ({resolved}); "
            "move it into the app folder"
        )
    if not resolved.exists():
        raise StartupError(
            f"startup file {word!r} not found in the app folder {root}; deploy it there "
            "or fix the startup command"
        )
    if not resolved.is_file():
        raise StartupError(f"startup file {word!r} is not a regular file; name a text file")
    return resolved


def read_startup_file(path: Path, origin: str) -> str:
    """The command text of a startup file: decoded, checked, comments dropped."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise StartupError(f"startup file {origin!r} cannot be read: {exc.strerror}") from None
    if len(data) > MAX_FILE_BYTES:
        raise StartupError(
            f"startup file {origin!r} is larger than {MAX_FILE_BYTES // 1024} KiB; "
            "a startup command is one line (or a short script)"
        )
    if b"\0" in data:
        raise StartupError(
            f"startup file {origin!r} is binary (contains NUL bytes); save it as text"
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise StartupError(
            f"startup file {origin!r} is not UTF-8 text (bad byte at offset {exc.start}); "
            "save it as UTF-8"
        ) from None
    if path.suffix == ".sh":
        if not text.strip():
            raise StartupError(f"startup file {origin!r} is empty; write the command to run in it")
        return text
    command = strip_comments(text)
    if not command:
        raise StartupError(
            f"startup file {origin!r} is empty (or holds only comments); write the command in it, "
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
        raise StartupError(f"{origin}: the startup command contains a NUL character")
    if "\n" in text or _has_shell_syntax(text):
        return StartupCommand(origin=origin, text=text, kind="shell")
    try:
        words = shlex.split(text, comments=True)
    except ValueError as exc:
        raise StartupError(
            f"{origin}: cannot split {text!r} into words ({exc}); check the quotes"
        ) from None
    if not words:
        raise StartupError(f"{origin}: the startup command is empty (only a comment)")
    args = _gunicorn_args(words)
    if args is None:
        return StartupCommand(origin=origin, text=text, kind="shell")
    expanded = [expand_vars(arg, env, origin) for arg in args]
    app, settings = parse_gunicorn_args(expanded, origin, app_dir)
    return StartupCommand(origin=origin, text=text, kind="gunicorn", app=app, settings=settings)


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


def _gunicorn_args(words: list[str]) -> list[str] | None:
    """The gunicorn arguments of a command, or None when it runs another program."""
    first = os.path.basename(words[0])
    if first == "gunicorn":
        return words[1:]
    if PYTHON_RE.match(first) and words[1:3] == ["-m", "gunicorn"]:
        return words[3:]
    if words[0].startswith("-") or ":" in words[0]:
        return words
    # A bare word is gunicorn's app module ("mysite.wsgi") unless it is a program.
    if "/" in words[0] or shutil.which(words[0]) is not None:
        return None
    return words


def expand_vars(word: str, env: Mapping[str, str], origin: str) -> str:
    """Expand ``$VAR`` and ``${VAR}`` from ``env``; an unset variable is an error."""

    def value(match: re.Match[str]) -> str:
        name = match.group("braced") or match.group("plain")
        if name not in env:
            raise StartupError(
                f"{origin}: ${name} is not set in the environment; set it or write the value"
            )
        return env[name]

    return VAR_RE.sub(value, word)


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
    return parser


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
        raise StartupError(f"{origin}: {exc}; see 'gunicorn --help'") from None
    if unknown:
        raise StartupError(
            f"{origin}: unknown gunicorn option {unknown[0]!r}; fix or remove it "
            "(see 'gunicorn --help')"
        )
    settings = {k: v for k, v in vars(namespace).items() if v is not None and k != "args"}
    if base is not None and "chdir" in settings and not os.path.isabs(settings["chdir"]):
        settings["chdir"] = str(base / settings["chdir"])
    check_settings(settings, origin)
    positional: list[str] = namespace.args
    if len(positional) > 1:
        raise StartupError(
            f"{origin}: expected one app module, found {len(positional)}: {' '.join(positional)}"
        )
    return (positional[0] if positional else None), settings


def check_settings(settings: Mapping[str, Any], origin: str) -> None:
    """Let gunicorn's validators judge each value, as gunicorn itself would."""
    config = validation_config()
    for name, value in settings.items():
        try:
            config.set(name, value)
        except (ValueError, TypeError) as exc:
            option = "--" + name.replace("_", "-")
            raise StartupError(f"{origin}: invalid value for {option}: {exc}") from None
