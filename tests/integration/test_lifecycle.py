"""gunicorn in the launcher's process, as PID 1: signals, reaping, redeploys, read-only filesystems.

Each launcher runs under ``unshare --pid --fork --mount-proc``: it is PID 1 of a new PID
namespace, so the kernel gives it what a container's init gets (orphans are reparented to
it; it must reap them) and signals are sent to it directly, as an orchestrator does.
"""

from __future__ import annotations

import contextlib
import errno
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from appservice_gunicorn.testing import Launcher
from tests.helpers import write
from tests.integration.conftest import (
    GRACEFUL_TIMEOUT,
    UNSHARE,
    Start,
    StartPid1,
    stat,
    unshare_problem,
    wait_for,
)

CHUNKS = 20
CHUNK = b"x" * 5000

# One WSGI app with a route per behaviour the tests need.
LIFECYCLE_APP = """
import os
import time

CHUNKS = {chunks}
CHUNK = b"x" * 5000


def app(environ, start_response):
    path = environ["PATH_INFO"]
    headers = [("Content-Type", "text/plain"), ("X-Worker-Pid", str(os.getpid()))]
    if path == "/slow":  # 2 s: 20 chunks, 0.1 s apart
        start_response("200 OK", [*headers, ("Content-Length", str(CHUNKS * len(CHUNK)))])

        def body():
            for _ in range(CHUNKS):
                yield CHUNK
                time.sleep(0.1)

        return body()
    if path == "/hang":  # the first chunk, then 60 s of nothing
        start_response("200 OK", headers)

        def hang():
            yield CHUNK
            time.sleep(60)
            yield b"too late"

        return hang()
    if path == "/die":
        os._exit(1)
    if path == "/orphan":  # a grandchild that outlives its parent: PID 1 must reap it
        child = os.fork()
        if child == 0:
            if os.fork() == 0:
                time.sleep(0.3)
            os._exit(0)
        os.waitpid(child, 0)
    start_response("200 OK", headers)
    return [b"ok"]
""".replace("{chunks}", str(CHUNKS))


def get(launcher: Launcher, path: str = "/", timeout: float = 10) -> tuple[int, bytes, str]:
    conn = http.client.HTTPConnection("127.0.0.1", launcher.port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read(), response.getheader("X-Worker-Pid", "")
    finally:
        conn.close()


def lifecycle_app(tmp_path: Path) -> Path:
    return write(tmp_path / "wwwroot", {"application.py": LIFECYCLE_APP})


def wait_exit(launcher: Launcher, timeout: float) -> tuple[int, float]:
    started = time.monotonic()
    status = launcher.wait(timeout)
    return status, time.monotonic() - started


def no_worker_killed(log: str) -> None:
    assert "SIGKILL" not in log, log
    assert "Traceback" not in log, log


def test_sigterm_lets_the_request_in_flight_finish_then_exits_0(
    pid1: StartPid1, tmp_path: Path
) -> None:
    env = {"GUNICORN_CMD_ARGS": f"--workers=2 --graceful-timeout={GRACEFUL_TIMEOUT}"}
    launcher, init = pid1(lifecycle_app(tmp_path), env=env)
    workers = init.wait_for_workers(2)
    assert {p.pid for p in init.processes()} == {init.pid, *(w.pid for w in workers)}

    conn = http.client.HTTPConnection("127.0.0.1", launcher.port, timeout=20)
    conn.request("GET", "/slow")
    response = conn.getresponse()
    first = response.read(len(CHUNK))  # the request is in flight: its first chunk arrived
    init.kill(signal.SIGTERM)
    signalled = time.monotonic()
    rest = response.read()
    conn.close()
    status, _ = wait_exit(launcher, GRACEFUL_TIMEOUT + 5)
    elapsed = time.monotonic() - signalled

    assert response.status == 200
    assert first + rest == CHUNK * CHUNKS, f"body cut at {len(first + rest)} bytes"
    assert status == 0, launcher.log()
    assert elapsed < GRACEFUL_TIMEOUT, f"exit took {elapsed:.1f} s"
    log = launcher.log()
    for worker in workers:
        assert f"Worker exiting (pid: {worker.ns_pid})" in log, log
    assert "Shutting down: Master" in log
    no_worker_killed(log)
    assert init.processes() == [], "processes left in the launcher's namespace"


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGQUIT], ids=["SIGINT", "SIGQUIT"])
def test_sigint_and_sigquit_exit_quickly(pid1: StartPid1, tmp_path: Path, signum: int) -> None:
    env = {"GUNICORN_CMD_ARGS": f"--graceful-timeout={GRACEFUL_TIMEOUT}"}
    launcher, init = pid1(lifecycle_app(tmp_path), env=env)
    init.wait_for_workers(1)
    conn = http.client.HTTPConnection("127.0.0.1", launcher.port, timeout=20)
    conn.request("GET", "/hang")
    response = conn.getresponse()
    assert response.status == 200
    assert response.read(len(CHUNK)) == CHUNK  # the worker now sleeps for 60 s
    outcome: list[BaseException | bytes] = []

    def read_rest() -> None:  # a client that closes as soon as the server does
        try:
            outcome.append(response.read())
        except (http.client.HTTPException, OSError) as exc:
            outcome.append(exc)
        conn.close()

    reader = threading.Thread(target=read_rest)
    reader.start()
    init.kill(signum)
    status, elapsed = wait_exit(launcher, GRACEFUL_TIMEOUT)
    reader.join(5)
    assert status == 0, launcher.log()
    assert elapsed < 2, f"a quick shutdown took {elapsed:.1f} s"
    # The request was cut, not finished.
    assert len(outcome) == 1, outcome
    assert isinstance(outcome[0], (http.client.IncompleteRead, ConnectionError)), outcome
    assert init.processes() == []


def test_sigterm_while_starting_stops_pid1_at_once(pid1: StartPid1, tmp_path: Path) -> None:
    """PID 1 ignores signals it has no handler for: the launcher has one from its start."""
    app_dir = lifecycle_app(tmp_path)
    write(
        app_dir,
        {"gunicorn.conf.py": "import time\nprint('CONFIG LOADING', flush=True)\ntime.sleep(30)\n"},
    )
    launcher, init = pid1(app_dir, wait=False)
    wait_for(lambda: "CONFIG LOADING" in launcher.log(), 20, "gunicorn.conf.py to run")
    init.kill(signal.SIGTERM)
    status, elapsed = wait_exit(launcher, 10)
    assert status == 0, launcher.log()
    assert elapsed < 5
    assert "SIGTERM received while starting; exiting" in launcher.log()
    assert "Traceback" not in launcher.log()


def test_dead_worker_is_reaped_and_replaced_and_orphans_are_reaped(
    pid1: StartPid1, tmp_path: Path
) -> None:
    launcher, init = pid1(lifecycle_app(tmp_path))
    (worker,) = init.wait_for_workers(1)

    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        get(launcher, "/die")
    replacement = init.wait_for_new_worker(worker)
    for _ in range(5):
        status, body, served_by = get(launcher)
        assert (status, body) == (200, b"ok")
        assert served_by == str(replacement.ns_pid)
    assert stat(worker.pid) is None, "the dead worker was not reaped (zombie)"
    assert f"Worker (pid:{worker.ns_pid}) exited with code 1" in launcher.log()

    # A daemonised grandchild exits after 0.3 s: reparented to PID 1, it must be reaped.
    assert get(launcher, "/orphan")[:2] == (200, b"ok")
    deadline = time.monotonic() + 5
    extra = init.processes()
    while time.monotonic() < deadline:
        extra = [p for p in init.processes() if p.pid not in (init.pid, replacement.pid)]
        if not extra:
            break
        time.sleep(0.05)
    assert extra == [], f"zombie or orphan processes left: {extra}"
    assert init.stop(signal.SIGTERM) == 0


APP_A = {
    "helper.py": 'TEXT = b"app A"\n',
    "application.py": """
        import os
        import sys

        from helper import TEXT

        print(f"IMPORTED app A in pid {os.getpid()}", flush=True)


        def app(environ, start_response):
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [TEXT]
    """,
}
# Another app, found by another rule (a startup file), with a module of the same name.
APP_B = {
    "startup.txt": "gunicorn --workers=3 serve_b:app\n",
    "helper.py": 'TEXT = b"app B, redeployed"\n',
    "serve_b.py": """
        import os

        from helper import TEXT

        print(f"IMPORTED app B in pid {os.getpid()}", flush=True)


        def app(environ, start_response):
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [TEXT]
    """,
}


class ClientLoop:
    """Threads sending requests (a new connection each) until stopped; every answer kept."""

    def __init__(self, launcher: Launcher, threads: int = 4) -> None:
        self.launcher = launcher
        self.answers: list[bytes] = []
        self.failures: list[str] = []
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.threads = [threading.Thread(target=self.run) for _ in range(threads)]

    def run(self) -> None:
        while not self.done.is_set():
            try:
                status, body, _ = get(self.launcher, timeout=20)
                with self.lock:
                    if status == 200:
                        self.answers.append(body)
                    else:
                        self.failures.append(f"status {status}: {body[:100]!r}")
            except (OSError, http.client.HTTPException) as exc:
                with self.lock:
                    self.failures.append(repr(exc))

    def __enter__(self) -> ClientLoop:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        for thread in self.threads:
            thread.join(30)

    def count(self, body: bytes) -> int:
        with self.lock:
            return self.answers.count(body)


@pytest.mark.parametrize("preload", [False, True], ids=["import-in-workers", "preload"])
def test_sighup_redeploys_with_zero_failed_requests(
    pid1: StartPid1, tmp_path: Path, preload: bool
) -> None:
    app_dir = write(tmp_path / "wwwroot", APP_A)
    env = {"GUNICORN_CMD_ARGS": "--workers=2" + (" --preload" if preload else "")}
    launcher, init = pid1(app_dir, "startup.txt", env)
    old_workers = init.wait_for_workers(2)
    assert get(launcher)[1] == b"app A"

    with ClientLoop(launcher) as loop:
        wait_for(lambda: loop.count(b"app A") >= 20, 20, "answers from app A")
        # Redeploy: the folder's whole content is replaced, then SIGHUP.
        for entry in app_dir.iterdir():
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
        write(app_dir, APP_B)
        init.kill(signal.SIGHUP)
        wait_for(lambda: loop.count(b"app B, redeployed") >= 50, 30, "answers from app B")
    assert loop.failures == [], f"{len(loop.failures)} failed requests: {loop.failures[:5]}"
    assert set(loop.answers) == {b"app A", b"app B, redeployed"}

    new_workers = init.wait_for_workers(3)  # the startup file of app B asks for 3
    assert not {w.pid for w in new_workers} & {w.pid for w in old_workers}
    for _ in range(20):
        assert get(launcher)[:2] == (200, b"app B, redeployed")
    log = launcher.log()
    master = re.search(r"Listening at: \S+ \((\d+)\)", log)
    assert master is not None and master.group(1) == "1", log
    importers = set(re.findall(r"IMPORTED app [AB] in pid (\d+)", log))
    if preload:  # asked for: the master imports the app, and must drop it on SIGHUP
        assert "1" in importers
        assert re.search(r"IMPORTED app B in pid 1\b", log), log
    else:
        assert importers and "1" not in importers, "the master imported the user's code"
    assert "serve_b:app" in log
    assert init.stop(signal.SIGTERM) == 0
    no_worker_killed(launcher.log())


# Run inside a new mount namespace before the launcher: the root filesystem, the temp
# folders, HOME and the app folder become read-only for the launcher only.
READ_ONLY_SETUP = """
set -e
mount -o remount,bind,ro /
for path in /tmp /var/tmp $READ_ONLY_PATHS; do
    mount --bind "$path" "$path"
    mount -o remount,bind,ro "$path"
done
exec "$@"
"""
READ_ONLY = ["--mount", "sh", "-c", READ_ONLY_SETUP, "sh"]
WRITE_PROBE_APP = """
import json
import os
import tempfile


def app(environ, start_response):
    result = {}
    for folder in (os.environ["HOME"], os.getcwd(), "/tmp", "/var/tmp"):
        try:
            fd, name = tempfile.mkstemp(dir=folder)
        except OSError as exc:
            result[folder] = exc.errno
        else:
            os.close(fd)
            os.unlink(name)
            result[folder] = 0
    body = json.dumps(result).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]
"""


def test_read_only_home_app_folder_and_temp_still_serve(pid1: StartPid1, tmp_path: Path) -> None:
    problem = _read_only_problem()
    if problem:
        pytest.skip(problem)
    home = tmp_path / "home"
    home.mkdir()
    app_dir = write(tmp_path / "wwwroot", {"application.py": WRITE_PROBE_APP})
    env = {
        "HOME": str(home),
        "READ_ONLY_PATHS": f"{home} {app_dir}",
        "XDG_RUNTIME_DIR": "",
        "TMPDIR": "",
    }
    launcher, init = pid1(app_dir, env=env, inner=READ_ONLY)
    status, body, _ = get(launcher)
    assert status == 200
    probe = json.loads(body)
    # The launcher really ran read-only: every one of these refused a new file.
    assert probe == {
        str(home): errno.EROFS,
        str(app_dir): errno.EROFS,
        "/tmp": errno.EROFS,
        "/var/tmp": errno.EROFS,
    }, probe
    log = launcher.log()
    warnings = [line for line in log.splitlines() if "[WARNING]" in line]
    assert any("heartbeat files go to /dev/shm" in line for line in warnings), log
    assert any(
        "control socket is disabled" in line and str(home / ".gunicorn") in line
        for line in warnings
    ), log
    assert "Control server error" not in log and "Traceback" not in log, log
    assert not (home / ".gunicorn").exists()
    assert init.stop(signal.SIGTERM) == 0


def test_nothing_writable_for_heartbeat_files_is_a_clear_error(
    launch: Start, tmp_path: Path
) -> None:
    problem = unshare_problem() or _read_only_problem()
    if problem:
        pytest.skip(problem)
    app_dir = write(tmp_path / "wwwroot", {"application.py": WRITE_PROBE_APP})
    command = [*UNSHARE, *READ_ONLY, sys.executable, "-m", "appservice_gunicorn"]
    env = {"READ_ONLY_PATHS": f"/dev/shm {app_dir}", "TMPDIR": ""}
    launcher = launch(app_dir, env=env, command=command, wait=False)
    assert launcher.wait(30) == 1
    log = launcher.log()
    errors = [line for line in log.splitlines() if "[ERROR]" in line]
    assert len(errors) == 1, log
    assert "no writable folder for gunicorn's worker heartbeat files" in errors[0]
    assert "emptyDir" in errors[0] and "--worker-tmp-dir" in errors[0]
    assert "Traceback" not in log


def _read_only_problem() -> str | None:
    """Why a read-only root cannot be set up here, or None."""
    problem = unshare_problem("--mount")
    if problem:
        return problem
    probe = Path("/tmp/.appservice-gunicorn-read-only-probe")
    result = subprocess.run(
        [*UNSHARE, *READ_ONLY, "sh", "-c", f"! touch {probe}"],
        env={**os.environ, "READ_ONLY_PATHS": ""},
        capture_output=True,
        text=True,
        timeout=30,
    )
    with contextlib.suppress(FileNotFoundError):
        probe.unlink()
    if result.returncode != 0:
        return f"cannot make / read-only in a mount namespace: {result.stderr.strip()}"
    return None
