"""Where gunicorn writes at run time, checked before it needs to.

In a container with a read-only root filesystem (Kubernetes ``readOnlyRootFilesystem``)
``HOME``, ``/tmp`` and the app folder are read-only.  gunicorn 27 would then fail to
create its control socket (``$HOME/.gunicorn/gunicorn.ctl`` by default: an error in the
log, retried at every fork) and, worse, its workers' heartbeat files (in the temp folder):
the master dies with a traceback.  The launcher looks first:

- heartbeat files stay in the temp folder when one is writable, else go to ``/dev/shm``
  (a tmpfs in containers, which gunicorn's docs recommend anyway); with no writable
  folder at all the launcher stops with a message saying what to mount;
- the control socket gets a path of its own per launcher (see ``control_socket``), or
  stays where the user put it when that folder is writable; else it is disabled with a
  warning (``gunicornc`` is a convenience, serving is not).

Only ``os.access`` is used: nothing is created, so ``--explain`` can show the outcome.
"""

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from appservice_gunicorn.base.errors import LaunchError

TEMP_VARIABLES = ("TMPDIR", "TEMP", "TMP")
TEMP_FOLDERS = ("/tmp", "/var/tmp", "/usr/tmp")
SHM = "/dev/shm"


def writable_dir(path: str | os.PathLike[str]) -> bool:
    """Whether files can be created in ``path`` by this process."""
    effective = os.access in os.supports_effective_ids
    return os.path.isdir(path) and os.access(path, os.W_OK | os.X_OK, effective_ids=effective)


def creatable_in(path: Path) -> bool:
    """Whether ``path`` (a folder) exists writable, or could be made in a writable parent.
    A folder this user cannot look into (``HOME=/root`` for a non-root user) is as good as
    missing: its parent is asked, and says no."""
    for folder in (path, *path.parents):
        if os.path.exists(folder):  # False, not PermissionError, where it cannot be looked at
            return writable_dir(folder)
    return False


def temp_candidates(env: Mapping[str, str]) -> list[str]:
    """The folders Python's ``tempfile`` tries, in order (without its last resort, the cwd)."""
    named = [env[name] for name in TEMP_VARIABLES if env.get(name)]
    return [*named, *TEMP_FOLDERS]


def temp_fallback(env: Mapping[str, str]) -> str | None:
    """A writable folder for ``TMPDIR`` when none of the usual temp folders is writable."""
    if any(writable_dir(folder) for folder in temp_candidates(env)):
        return None
    return SHM if writable_dir(SHM) else None


class Placement(NamedTuple):
    """A setting the launcher adds so that a run-time file has a writable home, and why."""

    name: str
    value: Any
    source: str
    note: str


def worker_tmp(chosen: Any, chosen_from: str | None, env: Mapping[str, str]) -> Placement | None:
    """Where the workers' heartbeat files go: None when gunicorn's choice is writable."""
    if chosen:
        if not writable_dir(str(chosen)):
            raise LaunchError(
                f"worker_tmp_dir {chosen!r} (from {chosen_from}) is not a writable folder; "
                "gunicorn keeps its workers' heartbeat files there. Point it at a writable "
                f"folder such as {SHM}"
            )
        return None
    candidates = temp_candidates(env)
    if any(writable_dir(folder) for folder in candidates):
        return None
    if writable_dir(SHM):
        return Placement(
            "worker_tmp_dir",
            SHM,
            "launcher (the temp folders are read-only)",
            f"no writable temp folder ({', '.join(candidates)}): gunicorn's worker heartbeat "
            f"files go to {SHM}",
        )
    raise LaunchError(
        "no writable folder for gunicorn's worker heartbeat files: "
        f"{', '.join([*candidates, SHM])} are all read-only or missing; mount a writable "
        "volume (e.g. a Kubernetes emptyDir) at /tmp, or set --worker-tmp-dir to a writable folder"
    )


def launcher_id(pid: int) -> str:
    """``pid`` qualified by its PID namespace, as ``12345-4026531836``: unique among the
    running processes of the machine (containers that share a ``/tmp`` volume are each
    PID 1), and the same for the whole life of the launcher (reloads, and the exec of a
    master that replaces itself keep both)."""
    try:
        namespace = os.readlink("/proc/self/ns/pid")  # "pid:[4026531836]"
    except OSError:  # no /proc: the pid alone
        return str(pid)
    return f"{pid}-{namespace.strip('pid:[]')}"


def control_socket(
    disabled: Any,
    chosen: Any,
    chosen_from: str | None,
    app_dir: Path,
    env: Mapping[str, str],
    pid: int,
) -> Placement | None:
    """Where gunicorn's control socket goes; None: where the user put it.

    gunicorn's default (``$XDG_RUNTIME_DIR/gunicorn.ctl``, else ``~/.gunicorn/gunicorn.ctl``)
    is one path per user: a second launcher on the machine would replace the first's
    socket, and the first to stop would remove the other's.  Unless the user chose a path,
    each launcher gets its own, named by ``launcher_id``, in the runtime folder, else the
    temp folder, else ``/dev/shm``.
    """
    if disabled:
        return None
    if chosen_from is not None:
        path = Path(str(chosen))
        if not path.is_absolute():
            path = app_dir / path
        if creatable_in(path.parent):
            return None
        return Placement(
            "control_socket_disable",
            True,
            f"launcher ({path.parent} is read-only)",
            f"gunicorn's control socket is disabled: {path} ({chosen_from}) cannot be created "
            f"because {path.parent} is not writable (read-only filesystem?); gunicornc will "
            "not connect. Set --control-socket to a path in a writable folder to use it",
        )
    runtime_dir = env.get("XDG_RUNTIME_DIR", "")
    for folder in ([runtime_dir] if runtime_dir else []) + [*temp_candidates(env), SHM]:
        if writable_dir(folder):
            return Placement(
                "control_socket",
                str(Path(folder, f"appservice-gunicorn-{launcher_id(pid)}.ctl")),
                "launcher (one per launcher)",
                "",
            )
    return Placement(
        "control_socket_disable",
        True,
        "launcher (no writable folder)",
        "gunicorn's control socket is disabled: no writable runtime or temp folder "
        f"({', '.join([*([runtime_dir] if runtime_dir else []), *temp_candidates(env), SHM])}); "
        "gunicornc will not connect. Set --control-socket to a path in a writable folder",
    )
