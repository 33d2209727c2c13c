"""pytest fixture ``appservice_server``: serve a folder with the real launcher.

    def test_template(appservice_server, tmp_path):
        url = appservice_server(tmp_path)
        ...

Registered through the ``pytest11`` entry point; servers stop at the test's end.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, Sequence

import pytest

from .testing import Launcher, start

ServeFactory = Callable[..., str]


@pytest.fixture
def appservice_server() -> Iterator[ServeFactory]:
    running: list[Launcher] = []

    def serve(
        path: str | os.PathLike[str],
        startup: str | Sequence[str] | None = None,
        env: Mapping[str, str] | None = None,
    ) -> str:
        launcher = start(path, startup, env)
        running.append(launcher)
        return launcher.url

    yield serve
    for launcher in running:
        launcher.close()
