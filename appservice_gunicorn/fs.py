"""File-system questions asked by detection, answered without raising.

A strange folder is normal in a container: a volume's root-owned ``lost+found``, a symlink
loop, a name that is not UTF-8, a FIFO where a file was expected.  ``pathlib`` raises for
some of these (``PermissionError`` from ``is_file()``, ``ELOOP`` from ``DirEntry.is_dir()``);
here each answers "no" (or "nothing"), and callers that must say why keep the error.
"""

from __future__ import annotations

import os
from pathlib import Path


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


def subdirs(path: Path) -> tuple[list[Path], OSError | None]:
    """The folders in ``path`` (symlinks not followed), sorted; and the error if it could
    not be listed."""
    try:
        with os.scandir(path) as entries:
            found = []
            for entry in entries:
                try:
                    if entry.is_dir(follow_symlinks=False):
                        found.append(Path(entry.path))
                except OSError:
                    continue
    except OSError as exc:
        return [], exc
    return sorted(found), None
