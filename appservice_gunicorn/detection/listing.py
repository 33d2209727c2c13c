"""The folder listings of one detection run: each folder listed at most once, by every
rule that asks, and what the listing itself observed."""

import os
from collections.abc import Mapping
from pathlib import Path

from appservice_gunicorn.files import fs

SKIPPED_DIRS = frozenset({"node_modules", "__pycache__", "site-packages", "__oryx_packages__"})
# A folder with more sub-folders than this holds data (uploads, caches), not a project: the
# searches do not go into them.  Each would be one more listing (on App Service's network
# share, a round trip), and a project's folders are counted in tens.
MAX_SUBFOLDERS = 256


class Search:
    """The listings of one detection run (each folder listed at most once), and what the
    listing itself ``observed``: folders that cannot be read, a crowded app folder."""

    def __init__(self, app_dir: Path, env: Mapping[str, str], want_asgi: bool = False) -> None:
        self.app_dir = app_dir
        self.env = env
        self.want_asgi = want_asgi
        self.observed: list[str] = []
        # Keyed by str: hashing a Path costs more than listing a small folder.
        self._listings: dict[str, fs.Listing] = {}
        self._root = str(app_dir)
        self._counted_devices: frozenset[int] | None = None
        self._crowded: dict[str, bool] = {}

    # The searches walk folders as str paths: pathlib's objects cost more than listing a
    # small folder, and a search may meet thousands of them.

    def listing(self, path: str | os.PathLike[str]) -> fs.Listing:
        key = os.fspath(path)
        found = self._listings.get(key)
        if found is None:
            found = self._listings[key] = fs.list_dir(key, self._holds_no_folders)
            if found.error is not None and key != self._root:
                error = found.error
                self.observed.append(
                    f"{rel(self.app_dir, Path(key))} cannot be read "
                    f"({error.strerror or error}); skipped it"
                )
        return found

    def subdirs(self, path: str) -> list[str]:
        return [f"{path}/{name}" for name in self.listing(path).dirs]

    def has_file(self, folder: str, name: str, *, searched: bool = False) -> bool:
        """``name`` is a file in ``folder``: from its listing when it was listed, else asked
        by name (one stat, cheaper than listing a folder that is skipped).  ``searched``:
        the folder is searched anyway, so it is listed now (one listing answers both)."""
        listed = self.listing(folder) if searched else self._listings.get(folder)
        if listed is not None and listed.files is not None:
            return name in listed.files
        return os.path.isfile(f"{folder}/{name}")

    def _holds_no_folders(self, path: str) -> bool:
        """The folder's link count says it has no sub-folder, on a file system that keeps
        that count (read from the mount table once, and only when a folder is long)."""
        try:
            st = os.stat(path)
        except OSError:
            return False
        if st.st_nlink != 2:
            return False
        if self._counted_devices is None:
            self._counted_devices = fs.link_count_devices()
        return st.st_dev in self._counted_devices

    def crowded(self, path: str) -> bool:
        """``path`` has more than ``MAX_SUBFOLDERS`` sub-folders, which the searches leave
        alone (noted once, for the app folder)."""
        found = self._crowded.get(path)
        if found is None:
            count = len(self.listing(path).dirs)
            found = self._crowded[path] = count > MAX_SUBFOLDERS
            if found and path == self._root:  # deeper, the Django rule's reason says it
                self.observed.append(
                    f"the app folder has {count:,} sub-folders, more than {MAX_SUBFOLDERS}: "
                    "they are data, not searched for manage.py, wsgi.py, app files or a "
                    "virtualenv (except App Service's wsgi.py in each); if the app is in one, "
                    "name it with a startup command or --app-dir"
                )
        return found

    def skip_reason(self, path: str) -> str | None:
        name = path.rpartition("/")[2]
        # A virtualenv is named as such even when hidden (.venv): that is the useful reason.
        if not name.startswith("antenv") and self.has_file(path, "pyvenv.cfg"):
            return "virtualenv"
        return skip_by_name(name)


def skip_by_name(name: str) -> str | None:
    """Why a folder is not searched, from its name alone."""
    if name.startswith("antenv"):
        return "virtualenv"
    if name.startswith("."):
        return "hidden"
    if name in SKIPPED_DIRS:
        return name
    return None


def rel(app_dir: Path, path: Path) -> str:
    try:
        rel = path.relative_to(app_dir)
    except ValueError:
        return str(path)
    return str(rel) if str(rel) != "." else "."
