"""The framework preloaded in the master: the user's code never is, and a redeploy that
brings another version of the framework replaces the master (same pid, listening socket
kept) with zero failed requests and nothing left behind. Real venvs, real HTTP, PID 1."""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import flask
import pytest

from tests.helpers import write
from tests.integration.conftest import Start, StartPid1, get, wait_for
from tests.integration.test_redeploy import ClientLoop
from tests.integration.test_testing_api import processes_for

APP = """
import os

import flask

# One write: print() makes two, and a worker's access log line can come between.
os.write(1, f"IMPORTED the app in pid {os.getpid()}\\n".encode())
app = flask.Flask(__name__)


@app.route("/")
def index():
    return getattr(flask, "MARK", "the launcher's flask")
"""


def venv_with_marked_flask(folder: Path, mark: str) -> Path:
    """A real virtualenv holding a copy of Flask that says ``mark``: another version."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    site = next(folder.glob("lib/python*/site-packages"))
    copied = site / "flask"
    shutil.copytree(Path(flask.__file__).parent, copied)
    with (copied / "__init__.py").open("a") as init:
        init.write(f"\nMARK = {mark!r}\n")
    return folder


def test_flask_is_imported_by_the_master_and_the_app_by_the_workers(
    launch: Start, tmp_path: Path
) -> None:
    write(tmp_path, {"app.py": APP})
    launcher = launch(
        tmp_path,
        env={"GUNICORN_CMD_ARGS": "--workers 2 --log-level debug"},
    )
    assert get(launcher)[1] == b"the launcher's flask"
    log = launcher.log()
    assert "preload: imported flask in the master" in log
    master = launcher.process.pid
    importers = {int(pid) for pid in re.findall(r"IMPORTED the app in pid (\d+)", log)}
    assert importers and master not in importers


GC_APP = """
import gc


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [f"{gc.isenabled()} {gc.get_freeze_count() > 10_000}".encode()]
"""
GC_CONF = """
import gc

print(f"CONFIG collector on: {gc.isenabled()}", flush=True)  # run while starting


def on_starting(server):  # gunicorn's start, before it forks anything (a dirty arbiter)
    print(f"STARTING collector on: {gc.isenabled()}", flush=True)


def pre_fork(server, worker):
    print(f"FORKING collector on: {gc.isenabled()}, frozen: {gc.get_freeze_count()}", flush=True)
"""


def test_the_collector_is_off_while_starting_and_frozen_objects_are_inherited(
    launch: Start, tmp_path: Path
) -> None:
    """Python's recipe for servers that fork: no collection while start-up creates its
    long-lived objects, gc.freeze() before the fork, the collector on in the workers."""
    write(tmp_path, {"app.py": GC_APP, "gunicorn.conf.py": GC_CONF})
    launcher = launch(tmp_path, env={"GUNICORN_CMD_ARGS": "--workers 2"})
    # In the worker: collecting, and the tens of thousands of objects it inherited are
    # frozen (never scanned, so their pages stay shared with the master).
    assert get(launcher)[1] == b"True True"
    # The first worker may answer before the second is forked (a loaded machine).
    wait_for(lambda: launcher.log().count("FORKING") == 2, 15, "both workers forked")
    log = launcher.log()
    assert "CONFIG collector on: False" in log
    assert "STARTING collector on: True" in log
    forks = re.findall(r"FORKING collector on: (\w+), frozen: (\d+)", log)
    assert len(forks) == 2 and all(on == "True" and int(n) > 10_000 for on, n in forks), log


def test_workers_forked_after_a_preload_redeploy_inherit_frozen_objects(
    launch: Start, tmp_path: Path
) -> None:
    """A --preload redeploy lets the collector free the previous app, then freezes what
    is left again before the new workers fork."""
    write(tmp_path, {"app.py": GC_APP.replace("def app(", "VERSION = 1\n\n\ndef app(")})
    launcher = launch(tmp_path, env={"GUNICORN_CMD_ARGS": "--workers 2 --preload"})
    assert get(launcher)[1] == b"True True"
    write(tmp_path, {"app.py": GC_APP.replace("gc.isenabled()}", "gc.isenabled()} v2")})
    launcher.send(signal.SIGHUP)
    # The old workers may answer a last request after the first new answer (they retire
    # once the new ones serve): wait for a new worker's answer, which must be all True.
    answers: list[bytes] = []

    def new_app_answered() -> bool:
        answers.append(get(launcher)[1])
        return b"v2" in answers[-1]

    wait_for(new_app_answered, 30, "the new app")
    assert answers[-1] == b"True v2 True", answers


@pytest.mark.parametrize(
    "env",
    [
        {"APPSVC_PRELOAD_FRAMEWORK": "0", "GUNICORN_CMD_ARGS": "--workers 2 --log-level debug"},
        # One worker shares nothing with the master: no preloading, no extra memory.
        {"GUNICORN_CMD_ARGS": "--workers 1 --log-level debug"},
    ],
    ids=["switched-off", "one-worker"],
)
def test_no_preloading(launch: Start, tmp_path: Path, env: dict[str, str]) -> None:
    write(tmp_path, {"app.py": APP})
    launcher = launch(tmp_path, env=env)
    assert get(launcher)[1] == b"the launcher's flask"
    assert "preload:" not in launcher.log()


def test_a_redeploy_with_another_flask_replaces_the_master(pid1: StartPid1, tmp_path: Path) -> None:
    app_dir = write(tmp_path / "wwwroot", {"app.py": APP})
    launcher, init = pid1(app_dir, env={"GUNICORN_CMD_ARGS": "--workers 2"})
    old_workers = init.wait_for_workers(2)
    assert get(launcher)[1] == b"the launcher's flask"
    with ClientLoop(launcher) as loop:
        wait_for(lambda: loop.count(b"the launcher's flask") >= 20, 20, "answers")
        # The redeploy brings a virtualenv with its own Flask.
        venv_with_marked_flask(app_dir / "antenv", "the venv's flask, v2")
        init.kill(signal.SIGHUP)
        wait_for(lambda: loop.count(b"the venv's flask, v2") >= 50, 40, "the new flask")
    assert loop.failures == [], f"{len(loop.failures)} failed: {loop.failures[:5]}"
    log = launcher.log()
    assert "the master replaces itself" in log
    # Still PID 1, with new workers only; every answer since comes from the new Flask.
    new_workers = init.wait_for_workers(2)
    assert not {w.pid for w in new_workers} & {w.pid for w in old_workers}
    assert {p.ns_pid for p in init.processes()} >= {1}
    for _ in range(10):
        assert get(launcher)[1] == b"the venv's flask, v2"

    # And again: the same Flask upgraded in place.
    marked = next(app_dir.glob("antenv/lib/python*/site-packages/flask/__init__.py"))
    marked.write_text(marked.read_text().replace("v2", "v3"))
    init.kill(signal.SIGHUP)
    wait_for(lambda: get(launcher)[1] == b"the venv's flask, v3", 40, "the upgraded flask")
    init.wait_for_workers(2)
    assert init.stop(signal.SIGTERM) == 0
    assert "Traceback" not in launcher.log()


def test_a_sighup_during_a_redeploy_that_replaces_the_master_is_acted_on_after(
    launch: Start, tmp_path: Path
) -> None:
    """A SIGHUP that came during the redeploy's step waited in gunicorn's queue, which the
    exec emptied: the next release's step never ran."""
    step = "sh -c 'echo STEP RAN; if [ -e hold ]; then rm hold; sleep 2; fi'"
    app_dir = write(tmp_path / "wwwroot", {"app.py": APP})
    launcher = launch(app_dir, f"{step} && gunicorn --workers 2 app:app")
    venv_with_marked_flask(app_dir / "antenv", "the venv's flask, v2")
    write(app_dir, {"hold": ""})
    launcher.send(signal.SIGHUP)
    wait_for(lambda: launcher.log().count("\nSTEP RAN\n") == 2, 20, "the redeploy's step")
    launcher.send(signal.SIGHUP)  # the next release, while the step holds
    wait_for(lambda: launcher.log().count("\nSTEP RAN\n") == 3, 40, "the next redeploy's step")
    assert "the master replaces itself" in launcher.log()
    wait_for(lambda: get(launcher)[1] == b"the venv's flask, v2", 40, "the venv's flask")
    assert launcher.stop() == 0, launcher.log()


def test_what_the_release_exports_reaches_the_replaced_masters_workers(
    launch: Start, tmp_path: Path
) -> None:
    """The new master skips the steps its predecessor ran: it was given the environment
    from before them, and served the previous release's PRE_RUN_COMMAND exports."""
    app = APP.replace(
        'return getattr(flask, "MARK", "the launcher\'s flask")',
        "return f\"{getattr(flask, 'MARK', 'launcher')} {os.environ['STAMP']}\"",
    )
    app_dir = write(tmp_path / "wwwroot", {"app.py": app, "stamp": "v1"})
    env = {"PRE_RUN_COMMAND": "export STAMP=$(cat stamp)", "GUNICORN_CMD_ARGS": "--workers 2"}
    launcher = launch(app_dir, env=env)
    assert get(launcher)[1] == b"launcher v1"
    venv_with_marked_flask(app_dir / "antenv", "venv")
    write(app_dir, {"stamp": "v2"})
    launcher.send(signal.SIGHUP)
    seen: set[bytes] = set()

    def released() -> bool:
        seen.add(get(launcher)[1])
        return b"venv v2" in seen

    wait_for(released, 40, "the release")
    assert seen <= {b"launcher v1", b"venv v2"}
    assert "the master replaces itself" in launcher.log()
    assert launcher.stop() == 0, launcher.log()


@pytest.mark.parametrize("delay", [0.0, 0.05, 0.15, 0.3], ids=["at-once", "50ms", "150ms", "300ms"])
def test_a_stop_around_a_master_replacement_stops_both_generations(
    launch: Start, tmp_path: Path, delay: float
) -> None:
    """SIGHUP (a new Flask: the master replaces itself) then SIGTERM: sent at once, the
    queued SIGTERM was dropped at the exec and the new master served on; half a second in,
    the launcher exited and left the old workers serving the old code."""
    app_dir = write(tmp_path / "wwwroot", {"app.py": APP})
    launcher = launch(app_dir, env={"GUNICORN_CMD_ARGS": "--workers 2"})
    assert get(launcher)[1] == b"the launcher's flask"
    venv_with_marked_flask(app_dir / "antenv", "the venv's flask, v2")
    launcher.send(signal.SIGHUP)
    if delay:
        wait_for(lambda: "the master replaces itself" in launcher.log(), 30, "the replacement")
        time.sleep(delay)
    launcher.send(signal.SIGTERM)
    assert launcher.wait(timeout=60) == 0, launcher.log()
    wait_for(lambda: processes_for(app_dir) == [], 10, "no process of either generation")
    assert "Traceback" not in launcher.log()


def test_a_frameworks_optional_import_never_finds_the_apps_own_module(
    launch: Start, tmp_path: Path
) -> None:
    """FastAPI tries ``import ujson``: the app's own ujson.py is the workers' business."""
    write(
        tmp_path,
        {
            "main.py": "from fastapi import FastAPI\n\napp = FastAPI()\n",
            "ujson.py": "import os\nprint(f'USER ujson.py imported in pid {os.getpid()}', "
            "flush=True)\n",
        },
    )
    launcher = launch(
        tmp_path, env={"GUNICORN_CMD_ARGS": "--workers 2 --log-level debug"}, ready_path="/docs"
    )
    log = launcher.log()
    assert "preload: imported fastapi in the master" in log
    assert f"imported in pid {launcher.process.pid}" not in log
