"""Virtual environments deployed inside the app folder, as App Service builds them.

Finding one reads directory entries and ``pyvenv.cfg`` only; using one means
putting its ``site-packages`` on ``sys.path`` (or ``PYTHONPATH`` for a shell
command), which is what App Service's generated startup script does too.
"""

import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

from appservice_gunicorn.detection.listing import Search
from appservice_gunicorn.files import fs

VENV_NAMES = ("antenv", ".venv", "venv")
# Patterns, not compiled ones: re compiles (and caches) them on first use, and a folder
# without a virtualenv never needs them.
_VERSION = r"(?m)^\s*(?:version|version_info)\s*=\s*(\d+)\.(\d+)"
_LIB = r"^python(\d+)\.(\d+)t?$"


class VirtualEnv(NamedTuple):
    """A virtualenv, or (``packages_only``) a folder of packages installed with
    ``pip install --target`` (App Service's ``__oryx_packages__``)."""

    path: Path
    site_packages: tuple[Path, ...]
    python: tuple[int, int] | None
    packages_only: bool = False

    def mismatch(self) -> str | None:
        """A warning when the venv was built for another Python, else None."""
        running = sys.version_info[:2]
        if self.python is None or self.python == running:
            return None
        return (
            f"virtualenv {self.path.name!r} was built for Python {self.python[0]}.{self.python[1]} "
            f"but the launcher runs Python {running[0]}.{running[1]}: compiled packages in it will "
            "not import; rebuild it with this Python"
        )


def is_venv(path: Path) -> bool:
    return fs.is_file(path / "pyvenv.cfg") or path.name.startswith("antenv")


def find(app_dir: Path, env: Mapping[str, str], search: Search | None = None) -> VirtualEnv | None:
    """The app folder's virtualenv: ``APPSVC_VIRTUAL_ENV``, then the usual names, then any
    folder holding ``pyvenv.cfg`` (``search``: detection's, which reads each folder once)."""
    named = env.get("APPSVC_VIRTUAL_ENV")
    if named:
        path = Path(named) if os.path.isabs(named) else app_dir / named
        return describe(path) if fs.is_dir(path) else None
    for name in VENV_NAMES:
        if fs.is_dir(f"{app_dir}/{name}") and is_venv(path := app_dir / name):
            return describe(path)
    search = search or Search(app_dir, env)
    if search.crowded(str(app_dir)):
        return None
    for folder in search.subdirs(str(app_dir)):
        if search.has_file(folder, "pyvenv.cfg", searched=True):
            return describe(Path(folder))
    return None


def describe(path: Path) -> VirtualEnv:
    site_packages: list[Path] = []
    versions: list[tuple[int, int]] = []
    for lib in ("lib", "lib64"):
        try:
            entries = sorted(os.scandir(path / lib), key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            match = re.match(_LIB, entry.name)
            candidate = Path(entry.path) / "site-packages"
            if (
                match
                and fs.is_dir(candidate)
                and candidate.resolve() not in {p.resolve() for p in site_packages}
            ):
                site_packages.append(candidate)
                versions.append((int(match.group(1)), int(match.group(2))))
    windows = path / "Lib" / "site-packages"
    if fs.is_dir(windows):
        site_packages.append(windows)
    return VirtualEnv(path=path, site_packages=tuple(site_packages), python=_python(path, versions))


# pyvenv.cfg is a few lines; a larger one is not worth reading to its end.
MAX_CFG_BYTES = 64 * 1024


def packages(path: Path) -> VirtualEnv:
    """A package folder used like a virtualenv: its packages importable, its bin/ on PATH."""
    return VirtualEnv(path=path, site_packages=(path,), python=None, packages_only=True)


def _python(path: Path, versions: list[tuple[int, int]]) -> tuple[int, int] | None:
    try:
        text = fs.read_regular(path / "pyvenv.cfg", MAX_CFG_BYTES).decode(errors="replace")
        match = re.search(_VERSION, text)
    except OSError:
        match = None
    if match:
        return int(match.group(1)), int(match.group(2))
    return versions[0] if versions else None


def problems(app_dir: Path, env: Mapping[str, str], found: VirtualEnv | None) -> list[str]:
    """Warnings about the virtualenv that was (or was not) found, one line each."""
    named = env.get("APPSVC_VIRTUAL_ENV")
    if found is None:
        if not named:
            return []
        return [
            f"APPSVC_VIRTUAL_ENV={named!r} is not a folder in {app_dir}; "
            "no virtualenv is used (fix the name or deploy the virtualenv)"
        ]
    if not found.site_packages:
        return [
            f"virtualenv {found.path.name!r} has no site-packages (lib/pythonX.Y/site-packages); "
            "its packages cannot be used: rebuild it with 'python -m venv' and pip install"
        ]
    return [warning for warning in [found.mismatch()] if warning]


def beside(
    app_dir: Path, served_from: object, env: Mapping[str, str], search: Search
) -> tuple[VirtualEnv | None, list[str]]:
    """With none in the app folder, a virtualenv in the sub-folder the app is served from
    (a repository deployed whole, its Django project and ``antenv`` in ``src/``), with
    the notes that say so."""
    if not isinstance(served_from, Path) or served_from == app_dir:
        return None, []
    if env.get("APPSVC_VIRTUAL_ENV") or not served_from.is_relative_to(app_dir):
        return None, []
    found = find(served_from, env, search)
    if found is None:
        return None, []
    where = found.path.relative_to(app_dir)
    return found, [
        f"no virtualenv in the app folder; using {where}, beside the app it serves "
        f"(APPSVC_VIRTUAL_ENV={where} says so explicitly)",
        *problems(served_from, env, found),
    ]
