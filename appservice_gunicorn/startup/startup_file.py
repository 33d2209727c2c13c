"""The startup file: the word that names one, where it is, and the command it holds.

A startup file must be a readable text file inside the app folder; anything else is one
``StartupError`` naming the file and the fix.
"""

import os
import re
from pathlib import Path

from appservice_gunicorn.base.errors import StartupError
from appservice_gunicorn.base.messages import show
from appservice_gunicorn.files import fs

# Words with one of these endings name a startup file even when it is missing,
# so that a typo in the file name is reported rather than run as a command.
FILE_SUFFIXES = frozenset({".txt", ".sh", ".cmd", ".conf", ".cfg", ".ini", ".bash"})
MAX_FILE_BYTES = 1024 * 1024


def names_file(word: str, app_dir: Path) -> bool:
    if any(ch.isspace() for ch in word.strip()):
        return False
    candidate = Path(word)
    if "/" in word or candidate.suffix.lower() in FILE_SUFFIXES:
        return True
    return not os.path.isabs(word) and fs.is_file(app_dir / word)


def startup_path(word: str, app_dir: Path) -> Path:
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
        data = fs.read_regular(path, MAX_FILE_BYTES)
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
        # Saved on Windows, every line would end in a carriage return that sh reads as part
        # of its last word ("exit 7\r": illegal number; "cd /app\r": no such folder).  Only
        # a file whose every line ends so: a CR LF inside quotes elsewhere is the script's.
        return text.replace("\r\n", "\n") if text.count("\r\n") == text.count("\n") else text
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


PROCFILE = "Procfile"
# Names App Service's documentation and samples give a startup file: one left in the app
# folder while no startup command names it is never run, here as on App Service.
USUAL_STARTUP_FILES = ("startup.txt", "startup.sh", "entrypoint.sh")
PROCFILE_SWITCH = "APPSVC_IGNORE_PROCFILE"
_PROCESS = r"^(?P<name>[A-Za-z0-9_-]+)\s*:\s*(?P<command>.*)$"  # compiled on first use


def procfile_command(app_dir: Path, ignore: bool) -> tuple[str | None, str]:
    """The ``web:`` command of the app folder's ``Procfile`` (Heroku, Dokku, buildpacks),
    or None; and the reason either way.  Errors (unreadable, binary) are ``StartupError``."""
    path = fs.file_in(app_dir, PROCFILE)
    if path is None:
        return None, "no Procfile"
    if ignore:
        return None, f"Procfile ignored ({PROCFILE_SWITCH}=1)"
    web = _processes(read_startup_file(path, PROCFILE)).get("web")
    return (web, "Procfile has a web process") if web else (None, "Procfile has no web: process")


def procfile_release(app_dir: Path) -> str | None:
    """A note for a Procfile's ``release:`` process, which Heroku runs before each release
    and the launcher does not (a startup command's pre-start step does the same job)."""
    path = fs.file_in(app_dir, PROCFILE)
    try:
        text = read_startup_file(path, PROCFILE) if path is not None else ""
    except StartupError:
        return None
    release = _processes(text).get("release")
    if not release:
        return None
    return (
        f"Procfile's release process ({release}) is not run (Heroku runs it before each "
        "release); to run it at each start, make it a pre-start step: 'RELEASE && gunicorn "
        "...' in a startup command"
    )


def _processes(text: str) -> dict[str, str]:
    """A Procfile's processes: name -> command (the first of each name, as Heroku)."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        match = re.match(_PROCESS, line.strip())
        if match and match.group("command").strip():
            found.setdefault(match.group("name"), match.group("command").strip())
    return found


def unnamed_startup_files(app_dir: Path) -> list[str]:
    """Notes for the usual startup files of an app folder no startup command names."""
    return [
        f"{name} is in the app folder but no startup command names it, so it is not run "
        f"(App Service runs it only when its Startup Command is {name}; here: "
        f"python -m appservice_gunicorn {name})"
        for name in USUAL_STARTUP_FILES
        if fs.is_file(f"{app_dir}/{name}")
    ]


GUNICORN_M = ["-m", "gunicorn"]


def why_supervised(text: str) -> str:
    """Which line of a startup script makes it run supervised as a whole, where pre-start
    steps then gunicorn in-process would have been the launcher's way."""
    from appservice_gunicorn.startup import shell
    from appservice_gunicorn.startup.server_ports import last_command

    refusal = shell.steps_or_refusal(shell.join_continuations(text))
    if isinstance(refusal, shell.Refusal) and refusal.command:
        return _at(text, refusal.command, refusal.why)
    if isinstance(refusal, shell.Refusal):
        for line in text.splitlines():
            code = line.strip() and not line.lstrip().startswith("#")
            if code and shell.split_list(line) is None:
                return _at(text, line.strip(), shell.GRAMMAR)
        return "its shell grammar is not split into steps by the launcher"
    last = last_command(text)
    if last:
        final = " ".join(last)
        program = os.path.basename(last[0])
        if program == "gunicorn" or (program.startswith("python") and last[1:3] == GUNICORN_M):
            why = "is gunicorn, with shell grammar (a redirection) that only a shell can run"
        else:
            why = "is the command left running, and it is not gunicorn"
        return _at(text, last[0], why, final, last=True)
    return "its last command is not gunicorn"


def _at(text: str, found: str, why: str, shown: str | None = None, last: bool = False) -> str:
    """``why`` about the first (``last``: the last) line holding ``found``, shown as
    ``shown``."""
    numbers = [
        n
        for n, line in enumerate(text.splitlines(), 1)
        if found.strip() in line and not line.lstrip().startswith("#")
    ]
    shown = repr((shown or found).strip()[:80])
    if "\n" not in text.strip():  # one line: its number says nothing
        return f"{shown} {why}"
    where = f"line {numbers[-1 if last else 0]}" if numbers else "a line"
    return f"{where}: {shown} {why}"
