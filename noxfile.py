"""``nox`` runs tests, lint and typecheck; ``bench``, ``load`` and ``browser`` run on demand."""

from __future__ import annotations

import os
import shutil

import nox

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True

SOURCES = ["appservice_gunicorn", "tests", "benchmarks", "noxfile.py"]


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


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks against plain gunicorn; writes benchmarks/RESULTS.md (not a test)."""
    session.install(".[test]", "pyinstrument>=4")
    if shutil.which("wrk") is None and os.geteuid() == 0:
        # Debian's wrk drives the throughput figure; a stale package list is refreshed once.
        session.run("apt-get", "install", "-y", "wrk", external=True, success_codes=[0, 100])
        if shutil.which("wrk") is None:
            session.run("apt-get", "update", "-q", external=True)
            session.run("apt-get", "install", "-y", "wrk", external=True)
    session.run("python", "-m", "benchmarks.run", *session.posargs)


def has_chromium() -> bool:
    return shutil.which("chromium") is not None
