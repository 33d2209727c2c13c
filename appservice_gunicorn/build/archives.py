"""Extracting the build's archives (``.tar.gz``, ``.zip``, ``.tar.zst``): safely,
atomically and once.

Safe: no member is written outside the target folder.  An absolute name, a ``..``, a
path through a symlink extracted earlier, a member written over a symlink and a hard link
to a name outside the archive are refused; symlinks themselves may point anywhere (a
venv's ``bin/python`` points at the system Python), as the standard library's ``tar``
filter allows.  Atomic: the archive is extracted beside the target and renamed into
place, so a half-extracted folder is never used.  Once: the target's name holds the
archive's path, size and modification time; a restart or a SIGHUP reuses it.
"""

import copy
import errno
import hashlib
import os
import shutil
import stat
import tarfile
import tempfile
import time
import zipfile
import zlib
from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from appservice_gunicorn.base.errors import LaunchError
from appservice_gunicorn.build import zstd
from appservice_gunicorn.files import writable
from appservice_gunicorn.files.writable import SHM, temp_candidates, writable_dir

FORMATS = {".tar.gz": "tar.gz", ".tgz": "tar.gz", ".tar.zst": "tar.zst", ".zip": "zip"}
CACHE_VARIABLE = "APPSVC_EXTRACT_DIR"


class ArchiveError(LaunchError):
    """An archive that cannot be extracted safely; the message names it and the problem."""


def archive_format(path: Path) -> str | None:
    name = path.name.lower()
    return next((fmt for suffix, fmt in FORMATS.items() if name.endswith(suffix)), None)


def cache_root(env: Mapping[str, str]) -> Path:
    """The folder extracted archives live in: ``APPSVC_EXTRACT_DIR``, else the first
    writable temp folder (a read-only root keeps ``/dev/shm``)."""
    named = env.get(CACHE_VARIABLE)
    if named:
        return Path(named)
    base = next((folder for folder in temp_candidates(env) if writable_dir(folder)), SHM)
    return Path(base) / f"appservice-gunicorn-{os.getuid()}"


def target_for(archive: Path, env: Mapping[str, str]) -> Path:
    """Where ``archive`` is (or will be) extracted: one folder per archive and version."""
    try:
        info = archive.stat()
    except OSError as exc:
        raise ArchiveError(f"{archive}: cannot be read ({exc.strerror or exc})") from None
    place = _digest(str(archive.absolute()))
    version = _digest(f"{info.st_size}:{info.st_mtime_ns}")
    stem = archive.name.split(".")[0] or "archive"
    return cache_root(env) / f"{stem}-{place}-{version}"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()[:12]


def _never() -> bool:
    return False


def extract(archive: Path, target: Path, interrupted: Callable[[], bool] = _never) -> None:
    """Extract ``archive`` into ``target`` (which must not exist yet), or raise
    ``ArchiveError`` with one line; a concurrent extraction of the same version is fine.
    ``interrupted`` is asked between members: True ends the extraction (an ``ArchiveError``
    saying so), with nothing left behind."""
    fmt = archive_format(archive)
    if fmt is None:
        raise ArchiveError(f"{archive}: unsupported archive type; use .tar.gz, .zip or .tar.zst")
    _make_cache_root(target.parent)
    # Named by the extracting process (pid and PID namespace: containers sharing a volume
    # are each PID 1): a later start removes what a killed one left.
    me = writable.launcher_id(os.getpid())
    partial = Path(tempfile.mkdtemp(prefix=f".{target.name}.{me}.", dir=target.parent))
    try:
        if fmt == "zip":
            _extract_zip(archive, partial, interrupted)
        else:
            with _tar_stream(archive, fmt) as stream:
                _extract_tar(stream, partial, interrupted)
        try:
            partial.rename(target)
        except OSError:
            if not extracted(target):
                raise
            # Another launcher (of the same user) finished the same version first.
    except _Interrupted:
        raise ArchiveError(
            f"{archive}: a stop signal came during its extraction, which was abandoned"
        ) from None
    except zstd.Unsupported as exc:
        raise ArchiveError(f"{archive}: cannot be extracted: {exc}") from None
    except _Unsafe as exc:
        raise ArchiveError(
            f"{archive}: {exc}: refused, nothing was extracted; rebuild the archive from the "
            "folder itself (e.g. tar -czf NAME -C FOLDER .)"
        ) from None
    except (
        OSError,
        EOFError,
        zlib.error,
        tarfile.TarError,
        zipfile.BadZipFile,
        # zipfile: encrypted or unknown members; a NUL in a link's target or a name
        RuntimeError,
        NotImplementedError,
        ValueError,
    ) as exc:
        if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
            raise ArchiveError(
                f"{archive}: cannot be extracted to {target.parent}: the disk is full; free "
                f"space there or set {CACHE_VARIABLE} to a folder on a larger disk"
            ) from None
        raise ArchiveError(
            f"{archive}: cannot be extracted ({_describe(exc)}); deploy it again"
        ) from None
    finally:
        shutil.rmtree(partial, ignore_errors=True)


def prune(target: Path, used: Collection[Path] = ()) -> list[Path]:
    """Remove older extractions of the same archive (not ``target``, nor one holding a file
    of ``used``), and what extractions killed midway left (``.NAME.PID-NS.*``, of a process
    that is gone, or of this one, whose own extraction is over when it prunes).  Returns
    the older extractions removed."""
    prefix = target.name.rsplit("-", 1)[0] + "-"
    try:
        siblings = list(target.parent.iterdir())
    except OSError:
        return []
    removed = []
    for sibling in siblings:
        name = sibling.name
        if name.startswith(prefix) and sibling != target:
            if any(path.is_relative_to(sibling) for path in used):
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


def _make_cache_root(root: Path) -> None:
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


def _describe(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror if not exc.filename else f"{exc.strerror} ({exc.filename})"
    text = str(exc) or type(exc).__name__
    if isinstance(exc, EOFError):
        return "the archive is truncated"
    return text


def unsafe_name(name: str, links: set[str]) -> str | None:
    """Why writing member ``name`` could leave the target, or None when it cannot."""
    if name.startswith("/"):
        return "has an absolute name"
    parts = [part for part in PurePosixPath(name).parts if part != "."]
    if ".." in parts:
        return "has '..' in its name"
    for end in range(1, len(parts) + 1):
        if "/".join(parts[:end]) in links:
            return f"would be written through the symlink {'/'.join(parts[:end])!r}"
    return None


def _normal(name: str) -> str:
    return "/".join(part for part in PurePosixPath(name).parts if part != ".")


class _Unsafe(Exception):
    """A member that could be written outside the target."""


class _Interrupted(Exception):
    """A stop signal came during the extraction."""


def _refuse(member: str, problem: str) -> _Unsafe:
    return _Unsafe(f"member {member!r} {problem}")


# --- tar ------------------------------------------------------------------------------------


@contextmanager
def _tar_stream(archive: Path, fmt: str) -> Iterator[tarfile.TarFile]:
    if fmt == "tar.gz":
        with tarfile.open(archive, mode="r|gz") as tar:
            yield tar
        return
    with zstd.reader(archive) as raw, tarfile.open(fileobj=raw, mode="r|") as tar:
        yield tar


def _extract_tar(tar: tarfile.TarFile, target: Path, interrupted: Callable[[], bool]) -> None:
    links: set[str] = set()
    names: set[str] = set()
    for member in tar:
        if interrupted():
            raise _Interrupted
        name = _normal(member.name)
        if not name:
            continue  # the archive's root folder ("./")
        problem = unsafe_name(member.name, links)
        if problem is None and member.islnk():
            inside = unsafe_name(member.linkname, links)
            if inside is not None or _normal(member.linkname) not in names:
                problem = "is a hard link to a file outside the archive"
        if problem is None and (member.ischr() or member.isblk() or member.isfifo()):
            problem = "is a device or FIFO"
        if problem is not None:
            raise _refuse(member.name, problem)
        if member.issym():
            links.add(name)
        names.add(name)
        member = _owned(member)
        if hasattr(tarfile, "tar_filter"):  # the standard library's, as a second guard
            tar.extract(member, target, filter="tar")
        else:
            tar.extract(member, target)


_SPECIAL_BITS = stat.S_ISUID | stat.S_ISGID | stat.S_ISVTX | stat.S_IWGRP | stat.S_IWOTH


def _owned(member: tarfile.TarInfo) -> tarfile.TarInfo:
    """``member`` as it is extracted on every Python (the standard library's ``tar`` filter,
    where it exists, does the same, and is missing in 3.10 and Debian's 3.11.2): no
    setuid, setgid or sticky bit, no write for group or others, owned by whoever runs the
    launcher (tarfile gives a root launcher the archive's owners); a folder writable by
    its owner, since its files come after it (a 0555 folder would refuse them)."""
    owned = copy.copy(member)
    owned.mode = member.mode & ~_SPECIAL_BITS | (0o700 if member.isdir() else 0)
    owned.uid, owned.gid, owned.uname, owned.gname = os.getuid(), os.getgid(), "", ""
    return owned


# --- zip ------------------------------------------------------------------------------------


def _extract_zip(archive: Path, target: Path, interrupted: Callable[[], bool]) -> None:
    links: set[str] = set()
    with zipfile.ZipFile(archive) as zip_file:
        for info in zip_file.infolist():
            if interrupted():
                raise _Interrupted
            name = _normal(info.filename)
            if not name:
                continue
            problem = unsafe_name(info.filename, links)
            if problem is not None:
                raise _refuse(info.filename, problem)
            mode = info.external_attr >> 16
            path = target / name
            if info.is_dir():
                path.mkdir(parents=True, exist_ok=True)
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            if stat.S_ISLNK(mode):
                os.symlink(zip_file.read(info).decode("utf-8", "surrogateescape"), path)
                links.add(name)
                continue
            with zip_file.open(info) as source, path.open("xb") as written:
                shutil.copyfileobj(source, written)
            if mode & 0o777:
                path.chmod(mode & 0o755)
