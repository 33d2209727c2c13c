"""An ASGI app's unhandled exceptions reach the log with their traceback, once, under the
launcher's own choice of worker (gunicorn's native ``asgi``) and under uvicorn's; the
client still gets its 500. Real FastAPI apps, real HTTP."""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.helpers import write
from tests.integration.conftest import Start, wait_for

FAILING = """
from fastapi import BackgroundTasks, FastAPI

app = FastAPI()


def explode_later():
    raise LookupError("background boom")


@app.get("/")
def index():
    return {"ok": True}


@app.get("/fail")
async def fail():
    raise RuntimeError("endpoint boom")


@app.get("/later")
def later(tasks: BackgroundTasks):
    tasks.add_task(explode_later)
    return {"queued": True}
"""
WORKERS = {"native": None, "uvicorn": "gunicorn -k uvicorn.workers.UvicornWorker"}


def status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


@pytest.mark.parametrize("worker", WORKERS)
def test_an_endpoint_exception_is_logged_once_with_its_traceback(
    launch: Start, tmp_path: Path, worker: str
) -> None:
    write(tmp_path, {"main.py": FAILING})
    launcher = launch(tmp_path, WORKERS[worker])
    assert status(launcher.url + "/fail") == 500
    wait_for(lambda: "endpoint boom" in launcher.log(), 10, "the exception in the log")
    assert status(launcher.url + "/later") == 200
    wait_for(lambda: "background boom" in launcher.log(), 10, "the background task's exception")
    log = launcher.log()
    for message in ("RuntimeError: endpoint boom", "LookupError: background boom"):
        assert log.count(message) == 1, log
    assert 'raise RuntimeError("endpoint boom")' in log  # the user's own frame
    assert 'raise LookupError("background boom")' in log


def test_a_lifespan_startup_failure_is_logged_with_its_traceback(
    launch: Start, tmp_path: Path
) -> None:
    write(
        tmp_path,
        {
            "main.py": """
                from contextlib import asynccontextmanager

                from fastapi import FastAPI


                @asynccontextmanager
                async def lifespan(app):
                    raise ConnectionError("database unreachable")
                    yield


                app = FastAPI(lifespan=lifespan)
            """
        },
    )
    launcher = launch(tmp_path, wait=False)
    assert launcher.wait(30) == 3
    log = launcher.log()
    assert 'raise ConnectionError("database unreachable")' in log
    assert log.count("Traceback (most recent call last)") == 1, log
