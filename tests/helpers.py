"""Small helpers shared by unit and integration tests: write app folders from text."""

from __future__ import annotations

import textwrap
from pathlib import Path

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
