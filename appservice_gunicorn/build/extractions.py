"""Where extracted archives live (one folder per archive and version, in a folder of the
user's own), which extractions are finished and usable, and which may go: older versions
of an archive, and what an extraction killed midway left."""

import fcntl
import hashlib
import os
import shutil
import stat
import time
from collections.abc import Collection, Mapping
from pathlib import Path

from appservice_gunicorn.base.errors import LaunchError
from appservice_gunicorn.files import writable
from appservice_gunicorn.files.writable import SHM, temp_candidates, writable_dir

CACHE_VARIABLE = "APPSVC_EXTRACT_DIR"


class ArchiveError(LaunchError):
    """An archive that cannot be extracted safely; the message names it and the problem."""


def cache_root(env: Mapping[str, str]) -> Path:
    """The folder extracted archives live in: ``APPSVC_EXTRACT_DIR``, else the first
    writable temp folder (a read-only root keeps ``/dev/shm``)."""
    named = env.get(CACHE_VARIABLE)
    if named:
        if not os.path.isabs(named):  # the master's working folder changes as it serves
            raise ArchiveError(
                f"{CACHE_VARIABLE}={named} is not an absolute path; set it to one "
                "(e.g. /tmp/extracted)"
            )
        return Path(named)
    base = next((folder for folder in temp_candidates(env) if writable_dir(folder)), SHM)
    return Path(base) / f"appservice-gunicorn-{os.getuid()}"


def target_for(archive: Path, env: Mapping[str, str], place: str | None = None) -> Path:
    """Where ``archive`` is (or will be) extracted: one folder per archive and version (its
    size, time and last bytes).  ``place`` names where the archive comes from when its own
    path changes from one deploy to the next (an archive inside an extraction); else its
    path."""
    try:
        info = archive.stat()
        # A build of the same size and time (a reproducible one, times set to 0) is told
        # by its end: gzip's and zstd's checksums, zip's directory.
        tail = _tail_digest(archive, info.st_size)
    except OSError as exc:
        raise ArchiveError(f"{archive}: cannot be read ({exc.strerror or exc})") from None
    place = _digest(place or str(archive.absolute()))
    version = _digest(f"{info.st_size}:{info.st_mtime_ns}:{tail}")
    stem = archive.name.split(".")[0] or "archive"
    return cache_root(env) / f"{stem}-{place}-{version}"


def _tail_digest(archive: Path, size: int, length: int = 64 * 1024) -> str:
    with archive.open("rb") as handle:
        handle.seek(max(0, size - length))
        return hashlib.sha256(handle.read(length)).hexdigest()


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:12]


# The extractions this process uses, each held open with a shared lock: another
# launcher's prune leaves them alone (one cache on a shared volume).
_HELD: dict[Path, int] = {}


def _forget_held() -> None:
    # A forked worker's copies: closing them leaves the master's lock, and this process's
    # prune, once the workers of a replaced release have ended, is not held up by workers
    # of the next one.
    while _HELD:
        os.close(_HELD.popitem()[1])


os.register_at_fork(after_in_child=_forget_held)


def hold(target: Path) -> None:
    """Mark ``target`` as in use for as long as this process lives (a shared ``flock`` on
    the folder, which its forked workers do not keep)."""
    if target in _HELD:
        return
    try:
        fd = os.open(target, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:  # a file system without locks: pruning is then as before
        os.close(fd)
        return
    _HELD[target] = fd


def _in_use(folder: Path) -> bool:
    """Whether another process (another launcher) holds ``folder``; this process's own hold
    is given up first."""
    held = _HELD.pop(folder, None)
    if held is not None:
        os.close(held)
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        os.close(fd)  # and its lock: the folder goes next
    return False


def prune(target: Path, used: Collection[Path] = ()) -> list[Path]:
    """Remove older extractions of the same archive (not ``target``, nor one holding a file
    of ``used``, nor one another process holds), and what extractions killed midway left
    (``.NAME.PID-NS.*``, of a process that is gone, or of this one, whose own extraction is
    over when it prunes).  Returns the older extractions removed."""
    prefix = target.name.rsplit("-", 1)[0] + "-"
    try:
        siblings = list(target.parent.iterdir())
    except OSError:
        return []
    removed = []
    for sibling in siblings:
        name = sibling.name
        if name.startswith(prefix) and sibling != target:
            if any(path.is_relative_to(sibling) for path in used) or _in_use(sibling):
                continue
            shutil.rmtree(sibling, ignore_errors=True)
            removed.append(sibling)
        elif name.startswith(f".{prefix}") and not _extracting(sibling):
            shutil.rmtree(sibling, ignore_errors=True)
    return removed


def _extracting(partial: Path) -> bool:
    """Whether the process named in a partial extraction's name (``.NAME.PID-NS.random``)
    may still be writing it: alive in this PID namespace (not this process, whose own
    extraction is over when it prunes); in another one, unknowable, so for an hour."""
    fields = partial.name.split(".")
    pid, _, namespace = (fields[2] if len(fields) > 3 else "").partition("-")
    if not pid.isdigit():
        return False  # not named by a process: left by an earlier version
    ours = writable.launcher_id(os.getpid()).partition("-")[2]
    if namespace and namespace != ours:
        try:
            return time.time() - partial.stat().st_mtime < OTHER_NAMESPACE_SECONDS
        except OSError:
            return False
    if int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, another user's
    return True


# How long an extraction another container (another PID namespace) started may still run.
OTHER_NAMESPACE_SECONDS = 3600


def extracted(target: Path) -> bool:
    """``target`` holds a finished extraction made by this user: a real folder (not a
    symlink) owned by us, in a cache folder we own.  In a shared temp folder another user
    could create the (predictable) name first: such a folder is never used."""
    try:
        own, root = os.lstat(target), os.lstat(target.parent)
    except OSError:
        return False
    uid = os.getuid()
    # A cache folder others may write in must be ours (APPSVC_EXTRACT_DIR may be any).
    root_ok = root.st_uid == uid or not root.st_mode & (stat.S_IWGRP | stat.S_IWOTH)
    return (
        stat.S_ISDIR(own.st_mode) and own.st_uid == uid and stat.S_ISDIR(root.st_mode) and root_ok
    )


def make_cache_root(root: Path) -> None:
    try:
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = os.lstat(root)
        shared = os.stat(root.parent).st_mode & stat.S_ISVTX
    except OSError as exc:
        raise ArchiveError(
            f"cannot create the extraction folder {root} ({exc.strerror or exc}); "
            f"set {CACHE_VARIABLE} to a writable folder"
        ) from None
    if not stat.S_ISDIR(info.st_mode) or (shared and info.st_uid != os.getuid()):
        # In a shared /tmp, another user's folder (or a symlink) must not receive the app.
        raise ArchiveError(
            f"extraction folder {root} is not a folder owned by uid {os.getuid()}; "
            f"remove it or set {CACHE_VARIABLE} to a folder of your own"
        )
