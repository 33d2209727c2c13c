"""pytest fixture ``appservice_server``: serve a folder with the real launcher.

    def test_template(appservice_server, tmp_path):
        server = appservice_server(tmp_path)
        assert urllib.request.urlopen(server.url).status == 200
        assert "rule app-file" in server.log()

Registered through the ``pytest11`` entry point; servers stop at the test's end.  It
imports nothing of gunicorn: a project that merely has the package installed pays nothing.
"""

import os
from collections.abc import Iterator, Mapping, Sequence
from typing import Protocol

import pytest

from appservice_gunicorn.testing import Launcher, Server, start


class ServeFactory(Protocol):
    """The fixture's type: ``appservice_server(path, startup=None, env=None, timeout=30)``."""

    def __call__(
        self,
        path: str | os.PathLike[str],
        startup: str | Sequence[str] | None = None,
        env: Mapping[str, str] | None = None,
        *,
        timeout: float = 30.0,
    ) -> Server: ...


@pytest.fixture
def appservice_server() -> Iterator[ServeFactory]:
    running: list[Launcher] = []

    def serve(
        path: str | os.PathLike[str],
        startup: str | Sequence[str] | None = None,
        env: Mapping[str, str] | None = None,
        *,
        timeout: float = 30.0,
    ) -> Server:
        launcher = start(path, startup, env, timeout=timeout)
        running.append(launcher)
        return Server(launcher)

    yield serve
    for launcher in running:
        launcher.close()
