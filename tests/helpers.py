"""Small helpers shared by unit and integration tests: write app folders from text."""

from __future__ import annotations

import hashlib
import os
import textwrap
from pathlib import Path
from typing import Any

FLASK_APP = """
from flask import Flask

{name} = Flask(__name__)


@{name}.route("/")
def index():
    return "{text}"
"""

FASTAPI_APP = """
from fastapi import FastAPI

{name} = FastAPI()


@{name}.get("/")
def index():
    return {{"text": "{text}"}}
"""


# The chain's rules in the documented order (README), written out rather than imported.
RULES_BEFORE_DEFAULT = ["startup", "procfile", "config-file", "flask-app", "django", "app-file"]
RULES = [*RULES_BEFORE_DEFAULT, "default-site"]


def write(root: Path, files: dict[str, str]) -> Path:
    """Write ``{relative path: content}`` under ``root`` (content dedented)."""
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(content).lstrip("\n"))
    return root


def flask_app(name: str = "app", text: str = "hello from flask") -> str:
    return FLASK_APP.format(name=name, text=text)


def fastapi_app(name: str = "app", text: str = "hello from fastapi") -> str:
    return FASTAPI_APP.format(name=name, text=text)


def tree_digest(root: Path) -> dict[str, str]:
    """Every entry under ``root`` (symlinks not followed): type, mode, mtime and content."""
    entries: dict[str, str] = {}
    for folder, dirs, files in os.walk(root):
        for name in sorted(dirs + files):
            path = Path(folder, name)
            info = path.lstat()
            rel = str(path.relative_to(root))
            if path.is_symlink():
                entries[rel] = f"link {os.readlink(path)}"
            elif path.is_dir():
                entries[rel] = f"dir {info.st_mode:o} {info.st_mtime_ns}"
            else:
                try:
                    digest = hashlib.sha256(path.read_bytes()).hexdigest()
                except PermissionError:  # not root: a mode 000 file is compared by metadata
                    digest = "unreadable"
                entries[rel] = f"file {info.st_mode:o} {info.st_mtime_ns} {digest}"
    return entries


def count_listings(monkeypatch: Any) -> list[str]:
    """Every folder ``os.scandir`` lists from now on (detection lists with it alone)."""
    listed: list[str] = []
    real_scandir = os.scandir

    def counting(path: Any) -> Any:
        listed.append(os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", counting)
    return listed


def count_calls(monkeypatch: Any, owner: Any, name: str) -> list[Any]:
    """The first argument of every call of ``owner.name`` from now on (it still runs)."""
    calls: list[Any] = []
    real = getattr(owner, name)

    def counting(first: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(first)
        return real(first, *args, **kwargs)

    monkeypatch.setattr(owner, name, counting)
    return calls
