"""Whether the program a supervised command runs can be found where the command will run:
a missing server (uvicorn not installed) is a note before the start, not only a
"not found" from the shell after it."""

import os
import re
import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from appservice_gunicorn.files import modules
from appservice_gunicorn.startup import shell
from appservice_gunicorn.startup.server_ports import last_command

# The shell's own commands: never looked for on PATH.
BUILTINS = frozenset(
    {".", ":", "[", "alias", "bg", "break", "cd", "command", "continue", "echo", "eval"}
    | {"exec", "exit", "export", "false", "fg", "getopts", "hash", "jobs", "kill", "printf"}
    | {"pwd", "read", "readonly", "return", "set", "shift", "source", "test", "times", "trap"}
    | {"true", "type", "ulimit", "umask", "unalias", "unset", "wait"}
)

# What a Dockerfile puts first to be PID 1 (as released: tini-static-amd64, dumb-init_1.2.5):
# the launcher does that job itself.
INITS = re.compile(r"(tini|dumb-init)(-static)?([-_][\w.]+)?")


def missing(
    text: str,
    origin: str,
    env: Mapping[str, str],
    app_dir: Path,
    site_packages: Sequence[Path] = (),
    venv_bin: Path | None = None,
) -> list[str]:
    """A note when the program the command leaves running (its last command) is not on
    the ``PATH`` it will run with (the virtualenv's ``bin``, the launcher's, ``PATH``, the
    app folder), or, for ``python -m NAME``, when no module NAME can be found."""
    words = last_command(text)
    assigned: set[str] = set()
    while words and (words[0] == "exec" or shell.ASSIGNMENT_RE.match(words[0])):
        assigned.add(words[0].partition("=")[0])
        words = words[1:]
    if not words or "$" in words[0] or "`" in words[0] or words[0] in BUILTINS:
        return []  # nothing to look for, or known only when the shell runs it
    program = words[0]
    if INITS.fullmatch(os.path.basename(program)):
        return [
            f"{origin}: {program} is an init for containers, which the launcher is already "
            "(it forwards signals and reaps every child): drop it from the command, and a "
            "gunicorn command after it is served in-process"
        ]
    if re.search(
        rf"(^|[\s;&|(]){re.escape(program)}\s*\(\s*\)|\bfunction\s+{re.escape(program)}\b", text
    ):
        return []  # a shell function of the script
    if re.search(r"\bexport\s+PATH\b|(^|\s)PATH=", text) or "PATH" in assigned:
        return []  # PATH changed by the command: known only when it runs
    folders = [
        *([str(venv_bin)] if venv_bin else []),
        os.path.dirname(sys.executable),
        *env.get("PATH", os.defpath).split(os.pathsep),
        str(app_dir),
    ]
    if "/" in program:
        if not os.path.isabs(program):
            return []  # relative to a folder a `cd` before it may have changed
        found = os.access(program, os.X_OK) and os.path.isfile(program)
    else:
        found = shutil.which(program, path=os.pathsep.join(folders)) is not None
    if not found and "/" in program:
        return [f"{origin}: {program!r} is not an executable file, so the command will fail"]
    if not found:
        return [
            f"{origin}: {program!r} is not found (looked on the PATH the command gets: the "
            "virtualenv's bin, the launcher's, PATH, the app folder), so the command will "
            f"fail with 'not found'; install it (add it to requirements.txt) or fix its name"
        ]
    module = _module(words)
    if module is None or "PYTHONPATH" in assigned or re.search(r"\bcd\b|PYTHONPATH", text):
        return []  # no module, or one looked for where the command moved or pointed to
    where = [*(str(p) for p in site_packages), str(app_dir), *sys.path]
    if modules.findable(module, where):
        return []
    return [
        f"{origin}: {program} -m {module}: no module {module!r} in the virtualenv, the app "
        "folder or the launcher's Python, so the command will fail; install it (add it to "
        "requirements.txt) or fix its name"
    ]


def _module(words: Sequence[str]) -> str | None:
    """``NAME``'s top package for ``python ... -m NAME``."""
    if not os.path.basename(words[0]).startswith("python"):
        return None
    args = list(words[1:])
    while args and args[0].startswith("-") and args[0] != "-m":
        args = args[1:]
    if len(args) < 2 or args[0] != "-m":
        return None
    top = args[1].split(".")[0]
    return top if top.isidentifier() else None
