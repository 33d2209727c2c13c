"""File-system questions asked by detection, answered without raising.

A strange folder is normal in a container: a volume's root-owned ``lost+found``, a symlink
loop, a name that is not UTF-8, a FIFO where a file was expected.  ``pathlib`` raises for
some of these (``PermissionError`` from ``is_file()``, ``ELOOP`` from ``DirEntry.is_dir()``);
here each answers "no" (or "nothing"), and callers that must say why keep the error.
"""

import os
from pathlib import Path
from typing import NamedTuple


def is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except (OSError, ValueError):
        return False


class Listing(NamedTuple):
    """A folder's regular files (symlinks followed) and folders (not followed, sorted)."""

    files: frozenset[str]
    dirs: tuple[str, ...]
    error: OSError | None = None


def list_dir(path: str | os.PathLike[str]) -> Listing:
    """One listing of ``path``: entries are told apart by their type from the directory
    itself (no stat for most), and only the folders are sorted."""
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
                except OSError:
                    continue
    except OSError as exc:
        return Listing(frozenset(), (), exc)
    dirs.sort()
    return Listing(frozenset(files), tuple(dirs))
