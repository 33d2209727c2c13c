"""importer: the master's path, on which the virtualenv joins the launcher's packages."""

import functools
import os
import sys
from pathlib import Path

import gunicorn
import pytest
from gunicorn.errors import AppImportError

from appservice_gunicorn.serve.importer import _launchers_packages, check_protocol

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


class Application:
    """Stands for tornado.web.Application (tornado is not a test dependency)."""

    __module__ = "tornado.web"

    def __call__(self, request: object) -> None:
        return None


def _request_application(request: object) -> list[bytes]:
    return []


@functools.wraps(_request_application)
def _werkzeug_style(*args: object) -> list[bytes]:
    """werkzeug's @Request.application: the signature says (request), the call takes WSGI's."""
    return []


class _Proxy:
    """An object that answers every attribute (a lazy proxy): not known to be anything."""

    def __getattr__(self, name: str) -> object:
        return lambda *args: None

    def __call__(self, environ: object, start_response: object) -> list[bytes]:
        return []


ASGI = r"is an ASGI app .* add --worker-class asgi"
NOT_WSGI = r"is a Tornado Application, which gunicorn's sync worker cannot call as a WSGI app"


@pytest.mark.parametrize(
    ("app", "worker", "stops"),
    [
        (_PerInstanceCall(), "sync", ASGI),
        (_asgi_function, "gthread", ASGI),
        (_asgi_function, "gunicorn.workers.sync.SyncWorker", ASGI),
        (_asgi_function, "asgi", None),
        (_asgi_function, "uvicorn_worker.UvicornWorker", None),
        (Application(), "sync", NOT_WSGI),
        (Application(), "tornado", None),  # gunicorn's tornado worker serves it
        # What is not known not to be WSGI starts (a false stop is worse than a 500).
        (_werkzeug_style, "sync", None),
        (_Proxy(), "sync", None),
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


def test_a_users_own_runpy_py_stays_in_the_traceback(tmp_path: Path) -> None:
    """Only the standard library's runpy (which runs gunicorn.conf.py) is machinery."""
    from appservice_gunicorn.base.import_failures import user_traceback

    path = tmp_path / "runpy.py"
    path.write_text("def boom():\n    raise ValueError('from the user')\n")
    namespace: dict[str, object] = {}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    try:
        namespace["boom"]()  # type: ignore[operator]
    except ValueError as exc:
        text = user_traceback(exc)
    assert f'File "{path}", line 2, in boom' in text
