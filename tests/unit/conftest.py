from __future__ import annotations

import logging
import sys
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def package_logger() -> Iterator[logging.Logger]:
    """The launcher's package logger as the CLI leaves it is put back after each test, and
    records reach caplog meanwhile (the CLI's own handler stops them at the package)."""
    logger = logging.getLogger("appservice_gunicorn")
    saved = (logger.handlers[:], logger.propagate, logger.level)
    logger.handlers[:], logger.propagate = [], True
    yield logger
    logger.handlers[:], logger.propagate, logger.level = saved


@pytest.fixture
def keep_sys_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """For code that puts the app's folders on sys.path (the master does)."""
    monkeypatch.setattr(sys, "path", list(sys.path))
