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


class _TornadoLike:
    def __call__(self, request: object) -> None:
        return None


ASGI = r"is an ASGI app .* add --worker-class asgi"
NOT_WSGI = r"cannot be called as a WSGI app \(environ, start_response\): it takes \(request"


@pytest.mark.parametrize(
    ("app", "worker", "stops"),
    [
        (_PerInstanceCall(), "sync", ASGI),
        (_asgi_function, "gthread", ASGI),
        (_asgi_function, "gunicorn.workers.sync.SyncWorker", ASGI),
        (_asgi_function, "asgi", None),
        (_asgi_function, "uvicorn_worker.UvicornWorker", None),
        (_TornadoLike(), "sync", NOT_WSGI),
        (_Wsgi(), "sync", None),
        (lambda environ, start_response: [], "sync", None),
        (print, "sync", None),  # no signature to read: gunicorn's own errors, if any
    ],
)
def test_an_app_a_wsgi_worker_cannot_call_stops_the_start(
    app: object, worker: str, stops: str | None
) -> None:
    if stops:
        with pytest.raises(AppImportError, match=stops):
            check_protocol(app, "main:app", worker)
    else:
        check_protocol(app, "main:app", worker)
