"""importer: the master's path, on which the virtualenv joins the launcher's packages."""

import os
import sys

import gunicorn
import pytest
from gunicorn.errors import AppImportError

from appservice_gunicorn.importer import _launchers_packages, check_protocol

STDLIB = os.path.dirname(os.__file__)
DYNLOAD = os.path.join(STDLIB, "lib-dynload")
GUNICORNS = os.path.dirname(os.path.dirname(gunicorn.__file__))


def test_the_virtualenv_goes_before_the_launchers_packages() -> None:
    path = ["/app/extra", STDLIB, DYNLOAD, GUNICORNS, "/usr/lib/python3/dist-packages"]
    assert _launchers_packages(path) == 3


def test_never_before_the_standard_library() -> None:
    """gunicorn installed with pip --target and put on PYTHONPATH, or a zipapp: its folder
    comes first, and a virtualenv there would shadow the standard library."""
    zipped = f"/usr/lib/python{sys.version_info[0]}{sys.version_info[1]}.zip"
    path = [GUNICORNS, zipped, STDLIB, DYNLOAD, "/elsewhere"]
    assert _launchers_packages(path) == 4


def test_at_the_end_when_the_launchers_packages_are_not_on_the_path() -> None:
    assert _launchers_packages([STDLIB, DYNLOAD, "/somewhere"]) == 3


class _PerInstanceCall:
    """An ASGI middleware that sets its own __call__ (as sentry_sdk's does)."""

    __slots__ = ("__call__",)

    def __init__(self) -> None:
        self.__call__ = self._asgi

    async def _asgi(self, scope: object, receive: object, send: object) -> None:
        return None


class _Wsgi:
    def __call__(self, environ: object, start_response: object) -> list[bytes]:
        return []


async def _asgi_function(scope: object, receive: object, send: object) -> None:
    return None


@pytest.mark.parametrize(
    ("app", "worker", "stops"),
    [
        (_PerInstanceCall(), "sync", True),
        (_asgi_function, "gthread", True),
        (_asgi_function, "gunicorn.workers.sync.SyncWorker", True),
        (_asgi_function, "asgi", False),
        (_asgi_function, "uvicorn_worker.UvicornWorker", False),
        (_Wsgi(), "sync", False),
        (lambda environ, start_response: [], "sync", False),
    ],
)
def test_an_asgi_app_under_a_wsgi_worker_stops_the_start(
    app: object, worker: str, stops: bool
) -> None:
    if stops:
        with pytest.raises(AppImportError, match=r"is an ASGI app .* add --worker-class asgi"):
            check_protocol(app, "main:app", worker)
    else:
        check_protocol(app, "main:app", worker)
