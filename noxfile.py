"""``nox`` runs tests, lint, typecheck and load; ``bench`` and ``browser`` run on demand."""

from __future__ import annotations

import os
import shutil

import nox

# "load" takes about 6 s of tests here (2 cores): cheap enough to run on every CI run.
nox.options.sessions = ["tests", "lint", "typecheck", "load"]
nox.options.reuse_existing_virtualenvs = True

# benchmarks/ may be absent from a branch: ruff fails on a missing path.
SOURCES = [
    path
    for path in ("appservice_gunicorn", "tests", "benchmarks", "noxfile.py")
    if os.path.exists(path)
]


@nox.session
def tests(session: nox.Session) -> None:
    """Unit and integration tests against the installed wheel (not the checkout)."""
    session.install(".[test]")
    session.run("pytest", "tests/unit", "tests/integration", *session.posargs)


@nox.session
def load(session: nox.Session) -> None:
    """5,000 requests at concurrency 50 against the default site and a 2-worker Flask app."""
    session.install(".[test]")
    session.run("pytest", "tests/load", "-s", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff>=0.5")
    session.run("ruff", "check", *SOURCES)
    session.run("ruff", "format", "--check", *SOURCES)


@nox.session
def typecheck(session: nox.Session) -> None:
    session.install("-e", ".[test,typecheck]", "nox")  # nox: the noxfile is typed too
    session.run("mypy", "--strict", *session.posargs)


def has_chromium() -> bool:
    return shutil.which("chromium") is not None
