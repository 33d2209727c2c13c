"""The apps under test and the three ways of serving them.

- ``launcher``: ``python -m appservice_gunicorn --app-dir DIR``;
- ``gunicorn``: ``python -m gunicorn`` started by hand with what the launcher would set
  (the app module, ``--chdir``, ``--timeout 600``, access and error logs to ``-``);
- ``naive``: ``naive_wrapper.py``, a Python script that finds the app and runs gunicorn in a
  subprocess.

Bind and worker count come from ``GUNICORN_CMD_ARGS`` for all three (see ``harness``).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .naive_wrapper import plain_gunicorn

BENCH_DIR = Path(__file__).resolve().parent
# The default site's own app folder (application:app), served by plain gunicorn.
DEFAULTSITE_DIR = BENCH_DIR.parent / "defaultsite"
NAIVE = BENCH_DIR / "naive_wrapper.py"
VARIANTS = ("launcher", "gunicorn", "naive")

FLASK_APP = """\
from flask import Flask

app = Flask(__name__)


@app.route("/")
def index():
    return "Hello from Flask"
"""


FASTAPI_APP = """\
from fastapi import FastAPI

app = FastAPI()


@app.get("/")
async def index():
    return {"text": "Hello from FastAPI"}
"""


@dataclass(frozen=True)
class BenchApp:
    name: str
    folder: Path
    # What plain gunicorn is told: the app module and any extra arguments.
    gunicorn_app: str
    gunicorn_extra: tuple[str, ...] = ()


def _fresh(folder: Path) -> Path:
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    return folder


def flask_app(work: Path) -> BenchApp:
    folder = _fresh(work / "apps" / "flask")
    (folder / "app.py").write_text(FLASK_APP)
    return BenchApp("Flask", folder, "app:app")


def django_app(work: Path) -> BenchApp:
    folder = _fresh(work / "apps" / "django")
    subprocess.run(
        [sys.executable, "-m", "django", "startproject", "mysite", str(folder)],
        check=True,
        timeout=120,
    )
    return BenchApp("Django", folder, "mysite.wsgi:application")


def default_site(work: Path) -> BenchApp:
    folder = _fresh(work / "apps" / "empty")
    return BenchApp(
        "default site", folder, "application:app", ("--pythonpath", str(DEFAULTSITE_DIR))
    )


def fastapi_app(work: Path) -> BenchApp:
    folder = _fresh(work / "apps" / "fastapi")
    (folder / "main.py").write_text(FASTAPI_APP)
    return BenchApp("FastAPI", folder, "main:app", ("-k", "asgi"))


def build_apps(work: Path) -> list[BenchApp]:
    return [flask_app(work), django_app(work), fastapi_app(work), default_site(work)]


def command(variant: str, app: BenchApp) -> list[str]:
    python = sys.executable
    if variant == "launcher":
        return [python, "-m", "appservice_gunicorn", "--app-dir", str(app.folder)]
    if variant == "naive":
        return [python, str(NAIVE), "--app-dir", str(app.folder)]
    if variant == "gunicorn":
        return plain_gunicorn(str(app.folder), app.gunicorn_app, app.gunicorn_extra)
    raise ValueError(f"unknown variant {variant!r}")


def describe_commands(app: BenchApp) -> str:
    return "\n".join(f"{v}: {' '.join(command(v, app))}" for v in VARIANTS)
