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
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.helpers import write
from tests.integration.conftest import (
    GRACEFUL_TIMEOUT,
    UNSHARE,
    Start,
    StartPid1,
    all_pids,
    get,
    stat,
    unshare_problem,
    wait_for,
)
from tests.launcher import Launcher

CHUNKS = 20
CHUNK = b"x" * 5000

# One WSGI app with a route per behaviour the tests need.
LIFECYCLE_APP = """
import os
import re
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
    # Well under the graceful timeout, which a loaded machine's 0.5 s could not be taken for.
    assert elapsed < GRACEFUL_TIMEOUT / 2, f"a quick shutdown took {elapsed:.1f} s"
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
import re
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
    # The control socket of this launcher (PID 1) goes to the one writable folder (gunicorn
    # starts it once the workers are spawned: its line may come after the first answer).
    wait_for(lambda: "Control socket listening at" in launcher.log(), 10, "the control socket")
    log = launcher.log()
    listening = re.search(
        r"Control socket listening at (/dev/shm/appservice-gunicorn-1-\d+\.ctl)", log
    )
    assert listening is not None, log
    assert Path(listening.group(1)).is_socket()
    assert "Control server error" not in log and "Traceback" not in log, log
    assert not (home / ".gunicorn").exists()
    assert init.stop(signal.SIGTERM) == 0
    assert not Path(listening.group(1)).exists()  # gunicorn removes its socket on the way out


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


def catches(pid: int, signum: int) -> bool:
    """Whether process ``pid`` has a handler for ``signum`` (SigCgt in /proc)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    found = re.search(r"^SigCgt:\s+([0-9a-f]+)$", status, re.MULTILINE)
    return found is not None and bool(int(found.group(1), 16) & (1 << (signum - 1)))


SLOW_START_CONF = "import time\ntime.sleep(2)\n"


@pytest.mark.parametrize("delay", [0.0, 0.02, 0.1, 0.3], ids=lambda d: f"{d * 1000:g}ms")
def test_a_stop_signal_at_any_point_of_the_start_stops_pid1(
    launch: Start, tmp_path: Path, delay: float
) -> None:
    """From the moment the handler exists (a few ms after the interpreter is up, before
    gunicorn is imported: see test_boot.py) to gunicorn.conf.py, no SIGTERM is dropped."""
    problem = unshare_problem()
    if problem:
        pytest.skip(problem)
    app_dir = write(tmp_path / "wwwroot", {"application.py": LIFECYCLE_APP})
    write(app_dir, {"gunicorn.conf.py": SLOW_START_CONF})
    command = [*UNSHARE, sys.executable, "-m", "appservice_gunicorn"]
    launcher = launch(app_dir, command=command, wait=False)
    init = None
    deadline = time.monotonic() + 20
    while init is None or not catches(init.pid, signal.SIGTERM):  # no sleep: the earliest
        assert time.monotonic() < deadline and launcher.process.poll() is None, launcher.log()
        init = init or next(
            (p for p in map(stat, all_pids()) if p and p.ppid == launcher.process.pid), None
        )
    time.sleep(delay)
    os.kill(init.pid, signal.SIGTERM)
    status = launcher.wait(10)
    log = launcher.log()
    assert status == 0, log
    assert "Starting gunicorn" not in log, log


def test_sigusr2_is_declined_with_one_line_and_the_app_serves_on(
    launch: Start, tmp_path: Path
) -> None:
    """gunicorn's binary upgrade re-executed ``__main__.py`` as a script: an ImportError
    traceback from a second master.  The launcher replaces its master itself, on SIGHUP."""
    launcher = launch(lifecycle_app(tmp_path))
    launcher.send(signal.SIGUSR2)
    wait_for(lambda: "SIGUSR2" in launcher.log(), 10, "the SIGUSR2 line")
    assert get(launcher)[:2] == (200, b"ok")
    log = launcher.log()
    (line,) = [line for line in log.splitlines() if "SIGUSR2" in line and "[WARNING]" in line]
    assert "not supported by the launcher; ignored: send SIGHUP to redeploy" in line
    assert "Traceback" not in log and "Master.2" not in log
    children = [
        pid for pid in all_pids() if (proc := stat(pid)) and proc.ppid == launcher.process.pid
    ]
    assert len(children) == 1, children  # its one worker, no second master
    assert launcher.stop() == 0


LEAVES_A_THREAD_AND_A_CHILD = """
import os, threading, time

threading.Thread(target=time.sleep, args=(3600,), name="poller").start()
child = os.fork()
if child == 0:
    time.sleep(3600)
    os._exit(0)
with open(os.path.join(os.path.dirname(__file__), "forked.pid"), "w") as handle:
    handle.write(str(child))
"""


def test_what_the_config_file_left_running_is_stopped_after_the_graceful_stop(
    launch: Start, tmp_path: Path
) -> None:
    """A non-daemon thread kept the stopped master alive forever, and a forked child
    outlived it (plain gunicorn does the same; a container's PID 1 must not)."""
    app_dir = lifecycle_app(tmp_path)
    write(app_dir, {"gunicorn.conf.py": LEAVES_A_THREAD_AND_A_CHILD})
    launcher = launch(app_dir)
    child = int((app_dir / "forked.pid").read_text())
    started = time.monotonic()
    assert launcher.stop(signal.SIGTERM, timeout=30) == 0
    assert time.monotonic() - started < 15
    log = launcher.log()
    (line,) = [line for line in log.splitlines() if "still ran" in line]
    assert "[WARNING]" in line and "thread 'poller'" in line and f"process {child}" in line
    assert stat(child) is None, "the forked child outlived the launcher"


def test_what_the_app_left_in_a_worker_is_stopped_and_named_as_the_workers(
    launch: Start, tmp_path: Path
) -> None:
    """Each worker clears what the app left in it as it exits (gunicorn would wait for a
    thread until its timeout); the warning named the master and its on_exit hook."""
    app = """
import os, signal, time

if os.fork() == 0:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the worker's handler it inherits
    time.sleep(3600)
    os._exit(0)


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(os.getpid()).encode()]
"""
    app_dir = write(tmp_path / "wwwroot", {"app.py": app})
    launcher = launch(app_dir)
    worker = int(get(launcher)[1])
    assert launcher.stop(signal.SIGTERM, timeout=30) == 0
    (line,) = [line for line in launcher.log().splitlines() if "still ran" in line]
    assert f"[{worker}] [WARNING] as worker {worker} exited, process " in line, line
    assert "a thread or process the app started in the worker" in line, line
    assert "worker_exit hook" in line, line
