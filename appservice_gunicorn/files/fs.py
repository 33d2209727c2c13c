"""File-system questions asked by detection, answered without raising.

A strange folder is normal in a container: a volume's root-owned ``lost+found``, a symlink
loop, a name that is not UTF-8, a FIFO where a file was expected.  ``pathlib`` raises for
some of these (``PermissionError`` from ``is_file()``, ``ELOOP`` from ``DirEntry.is_dir()``);
here each answers "no" (or "nothing"), and callers that must say why keep the error.
"""

import errno
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple


# os.path's answers, not pathlib's: they already say "no" for every OSError, and asking with
# a str path costs a third of joining and asking with a Path (detection asks a dozen times).
class NotRegularFile(OSError):
    """A path that names a FIFO, a device or a socket: never read (a FIFO's reader waits
    for a writer forever, /dev/zero never ends)."""


def read_regular(path: str | os.PathLike[str], limit: int) -> bytes:
    """The first ``limit + 1`` bytes at most of a regular file (one more than ``limit``
    tells the caller the file is longer); ``NotRegularFile`` for anything else, without
    waiting: a FIFO is opened non-blocking, then refused."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise NotRegularFile(errno.EINVAL, "not a regular file", os.fspath(path))
        size = os.fstat(fd).st_size
        # A buffer of the file's size, not of the limit; then on to the end, for a file
        # that grew or whose size is not known (0 in /proc), up to the limit.
        chunks = [os.read(fd, min(size, limit) + 1)]
        total = len(chunks[0])
        while chunks[-1] and total <= limit:
            chunks.append(os.read(fd, min(65536, limit + 1 - total)))
            total += len(chunks[-1])
    finally:
        os.close(fd)
    return b"".join(chunks)


def is_file(path: str | os.PathLike[str]) -> bool:
    return os.path.isfile(path)


def is_dir(path: str | os.PathLike[str]) -> bool:
    return os.path.isdir(path)


def file_in(folder: Path, name: str) -> Path | None:
    """``folder / name`` when it is a file (the Path is built only then)."""
    return folder / name if os.path.isfile(f"{folder}/{name}") else None


class Listing(NamedTuple):
    """A folder's regular files (symlinks followed) and folders (not followed, sorted).

    ``files`` is None for a long folder without sub-folders that was not read to its end:
    ask for a file in it by name (in a case-insensitive ext4 folder, a name then matches
    in any case)."""

    files: frozenset[str] | None
    dirs: tuple[str, ...]
    error: OSError | None = None


# Entries read before a long folder is asked whether it has sub-folders at all (listing
# 1,000 names takes about 1 ms; a folder of 100,000 uploads takes 60 ms).
LONG_FOLDER = 1000


def list_dir(
    path: str | os.PathLike[str], no_folders: Callable[[str], bool] | None = None
) -> Listing:
    """One listing of ``path``: entries are told apart by their type from the directory
    itself (no stat for most), and only the folders are sorted.  A long folder that
    ``no_folders`` says has no sub-folder is not read further."""
    files: list[str] = []
    dirs: list[str] = []
    try:
        with os.scandir(path) as entries:
            for entry in entries:
                try:
                    if entry.is_dir(follow_symlinks=False):
                        dirs.append(entry.name)
                    elif entry.is_file():
                        files.append(entry.name)
                        if (
                            len(files) == LONG_FOLDER
                            and not dirs
                            and no_folders is not None
                            and no_folders(os.fspath(path))
                            # Asking by name needs the right to enter it, a listing only
                            # to read it: one name from the listing says which it has.
                            and os.path.exists(entry.path)
                        ):
                            return Listing(None, ())
                except OSError:
                    continue
    except OSError as exc:
        return Listing(frozenset(), (), exc)
    dirs.sort()
    return Listing(frozenset(files), tuple(dirs))


# Trusting a long folder's link count to skip listing its entries for sub-folders is what
# keeps detect() at 1.8 ms on an app folder of 100,000 files, against 58 ms to list it
# (benchmarks/RESULTS.md, detection on big trees).
# File systems on which a folder's link count is 2 plus its number of sub-folders.  Others
# are not asked: btrfs always says 1, overlayfs says 1 for a merged folder, and on CIFS
# (App Service's /home) or NFS the count is whatever the server reports.
KEEPS_LINK_COUNT = frozenset({"ext2", "ext3", "ext4", "xfs", "tmpfs"})


def link_count_devices(mountinfo: str = "/proc/self/mountinfo") -> frozenset[int]:
    """The devices (``st_dev``) mounted with a file system that keeps folder link counts."""
    try:
        with open(mountinfo, encoding="utf-8", errors="replace") as table:
            lines = table.read().splitlines()
    except OSError:
        return frozenset()
    devices = set()
    for line in lines:
        # "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw": optional fields
        # come before the lone "-", the file system type right after it.
        fields = line.split()
        try:
            fstype = fields[fields.index("-", 6) + 1]
            major, minor = fields[2].split(":")
            if fstype in KEEPS_LINK_COUNT:
                devices.add(os.makedev(int(major), int(minor)))
        except (ValueError, IndexError):
            continue
    return frozenset(devices)
