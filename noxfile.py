"""``nox`` runs tests, lint, typecheck, load and, where Chromium is installed, the browser
test; ``bench`` runs on demand (``nox -s browser`` installs Chromium)."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from pathlib import Path

import nox


def has_chromium() -> bool:
    return shutil.which("chromium") is not None


# The load tests run inside "tests" (their own session, "load", prints their figures): a
# session of its own cost ~10 s of set-up on every run.
nox.options.sessions = [
    "tests",
    "lint",
    "typecheck",
    "floor",
    *(["browser"] if has_chromium() else []),
]
nox.options.reuse_existing_virtualenvs = True
# uv installs the sessions' packages in seconds; plain virtualenv + pip when it is missing.
nox.options.default_venv_backend = "uv|virtualenv"
# Compiled at install, as pip does, where tests start launchers: otherwise each of them
# compiles gunicorn, Django and Flask again until one has written the .pyc files.  Only
# there: compiling every installed package costs ~10 s of CPU per session.
COMPILED = {"UV_COMPILE_BYTECODE": "1"}
# pytest and the interpreters it starts write byte code whatever the caller's environment
# says: with PYTHONDONTWRITEBYTECODE set, each xdist worker rewrote and compiled every test
# module and every subprocess compiled what it imported (measured here: tests 100 s, floor
# 31 s; with byte code written, 94 s and 29 s on a fresh checkout, 85 s and 18 s after).
# The launchers under test still write none (tests/launcher.py).
WRITE_BYTECODE = {"PYTHONDONTWRITEBYTECODE": ""}
PYPROJECT = nox.project.load_toml("pyproject.toml")


def group(*names: str) -> list[str]:
    """The requirements of pyproject.toml's dependency groups (PEP 735)."""
    return [req for name in names for req in nox.project.dependency_groups(PYPROJECT, name)]


# benchmarks/ may be absent from a branch: ruff fails on a missing path.
SOURCES = [
    p
    for p in ("appservice_gunicorn", "defaultsite", "tests", "benchmarks", "noxfile.py")
    if Path(p).exists()
]


@nox.session
def tests(session: nox.Session) -> None:
    """Unit, integration and load tests against the installed wheel (not the checkout);
    ``nox -s tests -- tests/unit`` runs the unit tests alone."""
    session.install(".", *group("test"), env=COMPILED)
    paths = session.posargs or ["tests/unit", "tests/integration", "tests/load"]
    pytest(session, *paths)


def pytest(session: nox.Session, *args: str) -> None:
    # Most tests wait on real processes (a launcher starting, a signal's effect): two per
    # core keep the cores busy (measured on 2 cores: 78 s against 108 s with one per core).
    session.run("pytest", "-n", str(2 * (os.cpu_count() or 2)), *args, env=WRITE_BYTECODE)


# The floors pyproject.toml declares: requires-python and the gunicorn dependency.
FLOOR_PYTHON = "3.10"
FLOOR_GUNICORN = "25.1.0"  # 25.0.x lacks gunicorn.config.ControlSocket


def floor_python() -> str:
    """The oldest supported Python: on PATH, else as pyenv installs it (CI's machine)."""
    candidates = [f"python{FLOOR_PYTHON}"]
    candidates += sorted(
        glob.glob(os.path.expanduser(f"~/.pyenv/versions/{FLOOR_PYTHON}.*/bin/python3"))
    )
    for candidate in candidates:
        found = shutil.which(candidate)
        # A pyenv shim is on PATH even when its version is not selected: it must run.
        if found and subprocess.run([found, "-c", "pass"], capture_output=True).returncode == 0:
            return found
    return f"python{FLOOR_PYTHON}"


@nox.session(python=floor_python())
def floor(session: nox.Session) -> None:
    """Unit tests with the oldest Python and gunicorn the package declares it supports."""
    session.install(".", *group("test"), f"gunicorn=={FLOOR_GUNICORN}")
    pytest(session, "tests/unit", *session.posargs)


@nox.session
def gunicorn_newest(session: nox.Session) -> None:
    """The unit tests against gunicorn's newest release, above pyproject.toml's upper bound
    too: what an upgrade would break, each private behaviour the master relies on named by
    a test of tests/unit/base/test_gunicorn_api.py.  Not a default session: a gunicorn
    release would turn a green main red with no change of the project's."""
    session.install(".", *group("test"))
    session.install("--upgrade", "--no-deps", "gunicorn")
    session.run("python", "-c", "import gunicorn; print('gunicorn', gunicorn.__version__)")
    pytest(session, "tests/unit", *session.posargs)


@nox.session
def load(session: nox.Session) -> None:
    """5,000 requests at concurrency 50 against the default site and a 2-worker Flask app,
    alone and with their figures printed (``tests`` runs them too, among the others)."""
    session.install(".", *group("test"), env=COMPILED)
    session.run("pytest", "tests/load", "-s", *session.posargs, env=WRITE_BYTECODE)


@nox.session
def lint(session: nox.Session) -> None:
    session.install(*group("lint"))
    session.run("ruff", "check", *SOURCES)
    session.run("ruff", "format", "--check", *SOURCES)
    # The layers of the flow and no import upwards (pyproject.toml's contracts); the
    # package is read from the checkout, not imported.
    session.run("lint-imports")


@nox.session
def typecheck(session: nox.Session) -> None:
    # nox itself too: noxfile.py is type-checked, and its decorators must be typed.
    session.install("-e", ".", *group("test", "typecheck"))
    session.run("mypy", "--strict", *session.posargs)


@nox.session
def browser(session: nox.Session) -> None:
    """The default site in headless Chromium: Debian's ``chromium``, installed here when root."""
    if not has_chromium() and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {"DEBIAN_FRONTEND": "noninteractive"}
        session.run("apt-get", "update", external=True, env=env)
        session.run(
            "apt-get",
            "install",
            "-y",
            "--no-install-recommends",
            "chromium",
            "fonts-dejavu-core",
            external=True,
            env=env,
        )
    session.install(".", *group("test"))
    session.run("pytest", "-m", "browser", "tests/browser", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks against plain gunicorn; writes benchmarks/RESULTS.md (not a test)."""
    session.install(".", *group("test", "bench"))
    if shutil.which("wrk") is None and os.geteuid() == 0:
        # Debian's wrk drives the throughput figure; a stale package list is refreshed once.
        session.run("apt-get", "install", "-y", "wrk", external=True, success_codes=[0, 100])
        if shutil.which("wrk") is None:
            session.run("apt-get", "update", "-q", external=True)
            session.run("apt-get", "install", "-y", "wrk", external=True)
    session.run("python", "-m", "benchmarks.run", *session.posargs)
