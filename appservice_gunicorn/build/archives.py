"""Extracting the build's archives (``.tar.gz``, ``.zip``, ``.tar.zst``): safely,
atomically and once.

Where extractions live and when they go: ``extractions.py``.

Safe: no member is written outside the target folder.  An absolute name, a ``..``, a
path through a symlink extracted earlier, a member written over a symlink and a hard link
to a name outside the archive are refused; symlinks themselves may point anywhere (a
venv's ``bin/python`` points at the system Python), as the standard library's ``tar``
filter allows.  Atomic: the archive is extracted beside the target and renamed into
place, so a half-extracted folder is never used.  Once: the target's name holds the
archive's path, size and modification time; a restart or a SIGHUP reuses it.
"""

import contextlib
import errno
import io
import os
import shutil
import stat
import tarfile
import tempfile
import time
import zipfile
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from appservice_gunicorn.build import tree_writer, zstd
from appservice_gunicorn.build.extractions import (
    CACHE_VARIABLE,
    ArchiveError,
    extracted,
    make_cache_root,
)
from appservice_gunicorn.build.tree_writer import TreeWriter
from appservice_gunicorn.files import writable

FORMATS = {".tar.gz": "tar.gz", ".tgz": "tar.gz", ".tar.zst": "tar.zst", ".zip": "zip"}


def archive_format(path: Path) -> str | None:
    name = path.name.lower()
    return next((fmt for suffix, fmt in FORMATS.items() if name.endswith(suffix)), None)


def _never() -> bool:
    return False


def extract(archive: Path, target: Path, interrupted: Callable[[], bool] | None = None) -> None:
    """Extract ``archive`` into ``target`` (which must not exist yet), or raise
    ``ArchiveError`` with one line; a concurrent extraction of the same version is fine.
    ``interrupted`` is asked between members: True ends the extraction (an ``ArchiveError``
    saying so), with nothing left behind."""
    interrupted = interrupted or _never
    fmt = archive_format(archive)
    if fmt is None:
        raise ArchiveError(f"{archive}: unsupported archive type; use .tar.gz, .zip or .tar.zst")
    make_cache_root(target.parent)
    # Named by the extracting process (pid and PID namespace: containers sharing a volume
    # are each PID 1): a later start removes what a killed one left.
    me = writable.launcher_id(os.getpid())
    try:
        partial = Path(tempfile.mkdtemp(prefix=f".{target.name}.{me}.", dir=target.parent))
    except OSError as exc:
        raise ArchiveError(
            f"{archive}: cannot be extracted to {target.parent} ({exc.strerror or exc}); "
            f"set {CACHE_VARIABLE} to a writable folder"
        ) from None
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
        OverflowError,  # a member's time out of the system's range
    ) as exc:
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise ArchiveError(
                f"{archive}: cannot be extracted to {target.parent}: the disk is full; free "
                f"space there or set {CACHE_VARIABLE} to a folder on a larger disk"
            ) from None
        raise ArchiveError(
            f"{archive}: cannot be extracted ({_describe(exc)}); deploy it again"
        ) from None
    finally:
        shutil.rmtree(partial, ignore_errors=True)


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
    """Every member checked (``unsafe_name``, hard links, devices) before it is written;
    the writing itself by ``TreeWriter`` (threads, ``O_EXCL | O_NOFOLLOW``)."""
    links: set[str] = set()
    names: set[str] = set()
    writer = TreeWriter(target)
    try:
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
            names.add(name)
            mode, mtime_ns = _mode(member), int(member.mtime * 1_000_000_000)
            if member.issym():
                links.add(name)
                writer.symlink(name, member.linkname)
            elif member.islnk():
                writer.hardlink(name, _normal(member.linkname))
            elif member.isdir():
                writer.folder(name, mode, mtime_ns)
            else:
                source = tar.extractfile(member) or io.BytesIO()
                if member.size > tree_writer.LARGE:
                    writer.large_file(name, source, mode, mtime_ns)
                else:
                    writer.file(name, source.read(), mode, mtime_ns)
        writer.finish()
    except BaseException:
        writer.abandon()
        raise


_SPECIAL_BITS = stat.S_ISUID | stat.S_ISGID | stat.S_ISVTX | stat.S_IWGRP | stat.S_IWOTH


def _mode(member: tarfile.TarInfo) -> int:
    """``member``'s mode as it is extracted on every Python (the standard library's ``tar``
    filter, where it exists, does the same, and is missing in 3.10 and Debian's 3.11.2): no
    setuid, setgid or sticky bit, no write for group or others; a folder writable by its
    owner, since its files come after it (a 0555 folder would refuse them).  Owned by
    whoever runs the launcher: the files are created, never given the archive's owners."""
    return (member.mode & ~_SPECIAL_BITS | (0o700 if member.isdir() else 0)) & 0o7777


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
            # The archive's time (local, as unzip reads it): a .pyc built with the virtualenv
            # is then still valid for its source, and not compiled again at the first start.
            with contextlib.suppress(OverflowError, ValueError):  # a time no clock has
                modified = time.mktime((*info.date_time, 0, 0, -1))
                os.utime(path, (modified, modified))
