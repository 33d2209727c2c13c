"""What the rules of the detection chain share: one run's state, and what a rule found."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Literal, NamedTuple

from . import fs, venv

SKIPPED_DIRS = frozenset({"node_modules", "__pycache__", "site-packages", "__oryx_packages__"})


class Found(NamedTuple):
    app: str
    kind: Literal["wsgi", "asgi"]
    pythonpath: Path
    reason: str


class Search:
    """Shared state of one detection run: what was listed, noticed and skipped."""

    def __init__(self, app_dir: Path, env: Mapping[str, str], want_asgi: bool = False) -> None:
        self.app_dir = app_dir
        self.env = env
        self.want_asgi = want_asgi
        self.notes: list[str] = []

    def subdirs(self, path: Path) -> list[Path]:
        found, error = fs.subdirs(path)
        if error is not None and path != self.app_dir:
            self.notes.append(
                f"{rel(self.app_dir, path)} cannot be read ({error.strerror or error}); skipped it"
            )
        return found

    def skip_reason(self, path: Path) -> str | None:
        name = path.name
        # A virtualenv is named as such even when hidden (.venv): that is the useful reason.
        if venv.is_venv(path):
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
