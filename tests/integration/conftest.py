from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from appservice_gunicorn.testing import Launcher, start

Start = Callable[..., Launcher]


@pytest.fixture
def launch() -> Iterator[Start]:
    """Start real launchers (subprocesses on free loopback ports); all stop at teardown."""
    running: list[Launcher] = []

    def _start(*args: Any, **kwargs: Any) -> Launcher:
        launcher = start(*args, **kwargs)
        running.append(launcher)
        return launcher

    yield _start
    for launcher in running:
        launcher.close()
