"""pytest fixture ``appservice_server``: serve a folder with the real launcher.

    def test_template(appservice_server, tmp_path):
        server = appservice_server(tmp_path)
        assert urllib.request.urlopen(server.url).status == 200
        assert "rule app-file" in server.log()

Registered through the ``pytest11`` entry point; servers stop at the test's end.  It
imports nothing of gunicorn: a project that merely has the package installed pays nothing.
"""

import contextlib
import os
from collections.abc import Iterator, Mapping, Sequence
from typing import Protocol

import pytest

from appservice_gunicorn.testing import Server, serve

__all__ = ["ServeFactory", "appservice_server"]


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
    with contextlib.ExitStack() as running:

        def serve_one(
            path: str | os.PathLike[str],
            startup: str | Sequence[str] | None = None,
            env: Mapping[str, str] | None = None,
            *,
            timeout: float = 30.0,
        ) -> Server:
            return running.enter_context(serve(path, startup, env, timeout=timeout))

        yield serve_one
