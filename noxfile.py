"""``nox`` runs tests, lint and typecheck; ``bench``, ``load`` and ``browser`` run on demand."""

from __future__ import annotations

import shutil
from pathlib import Path

import nox

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True

SOURCES = [
    p for p in ("appservice_gunicorn", "tests", "benchmarks", "noxfile.py") if Path(p).exists()
]


@nox.session
def tests(session: nox.Session) -> None:
    """Unit and integration tests against the installed wheel (not the checkout)."""
    session.install(".[test]")
    session.run("pytest", "tests/unit", "tests/integration", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff>=0.5")
    session.run("ruff", "check", *SOURCES)
    session.run("ruff", "format", "--check", *SOURCES)


@nox.session
def typecheck(session: nox.Session) -> None:
    session.install("-e", ".[test,typecheck]")
    session.run("mypy", "--strict", *session.posargs)


def has_chromium() -> bool:
    return shutil.which("chromium") is not None
