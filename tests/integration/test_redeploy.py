"""SIGHUP redeploys, with the launcher as PID 1: the new app is proven before a worker
changes, a broken deployment is refused while the running app keeps serving, old workers
retire only once the new ones have imported the app, and a burst of SIGHUPs is one redeploy.
"""

from __future__ import annotations

import contextlib
import http.client
import itertools
import os
import re
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import pytest

from tests.helpers import write
from tests.integration.conftest import Start, StartPid1, get, wait_for
from tests.launcher import Launcher, free_port


def replace_folder(app_dir: Path, files: dict[str, str]) -> None:
    """A redeploy: the folder's whole content replaced."""
    for entry in app_dir.iterdir():
        shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    write(app_dir, files)


def error_lines(log: str) -> list[str]:
    return [line for line in log.splitlines() if "[ERROR]" in line]


APP_A = {
    "helper.py": 'TEXT = b"app A"\n',
    "application.py": """
        import os
        import sys

        from helper import TEXT

        # One write: print() makes two, and a worker's access log line can come between.
        os.write(1, f"IMPORTED app A in pid {os.getpid()}\\n".encode())


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

        # One write: print() makes two, and a worker's access log line can come between.
        os.write(1, f"IMPORTED app B in pid {os.getpid()}\\n".encode())


        def app(environ, start_response):
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [TEXT]
    """,
}


class ClientLoop:
    """Threads sending requests (a new connection each) until stopped; every answer kept."""

    def __init__(self, launcher: Launcher, threads: int = 4, pause: float = 0.0) -> None:
        self.launcher = launcher
        self.pause = pause  # between a thread's requests: a steady load, not the most CPU
        self.answers: list[bytes] = []
        self.times: list[float] = []  # when each answer arrived (time.monotonic())
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
                        self.times.append(time.monotonic())
                    else:
                        self.failures.append(f"status {status}: {body[:100]!r}")
            except (OSError, http.client.HTTPException) as exc:
                with self.lock:
                    self.failures.append(repr(exc))
            if self.pause:
                time.sleep(self.pause)

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

    def longest_silence(self) -> float:
        """The longest time between two answers: how long nothing was served."""
        with self.lock:
            times = sorted(self.times)
        return max((b - a for a, b in itertools.pairwise(times)), default=0.0)


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
    assert "SIGKILL" not in launcher.log()


def app_saying(text: str, *, import_seconds: float = 0.0) -> dict[str, str]:
    return {
        # One write: workers importing at once would interleave print()'s two.
        "application.py": f"""
            import os
            import time

            time.sleep({import_seconds})
            os.write(1, b"IMPORTED {text}\\n")


            def app(environ, start_response):
                start_response("200 OK", [("Content-Type", "text/plain")])
                return [b"{text}"]
        """
    }


WSGI_APP = "\n\ndef app(environ, start_response):\n    return []\n"
# Each breaks the deployment in a way that today's gunicorn turns into a dead server.
BROKEN = {
    "syntax-error": (
        {"application.py": "def app(environ, start_response)\n    return []\n"},
        "SyntaxError: expected ':'",
    ),
    "missing-module": (
        {"application.py": "import no_such_module_xyz\napp = None\n"},
        "No module named 'no_such_module_xyz'",
    ),
    "raises-at-import": (
        {"application.py": "raise RuntimeError('database unreachable')\n" + WSGI_APP},
        "RuntimeError: database unreachable",
    ),
    "exits-at-import": (
        {"application.py": "import os\n\nos._exit(0)\n" + WSGI_APP},
        "importing application:app ended the process with status 0",
    ),
    "config-raises": (
        {**app_saying("never served"), "gunicorn.conf.py": "raise ValueError('bad conf')\n"},
        "gunicorn.conf.py failed to load: ValueError('bad conf')",
    ),
    "config-exits": (
        {**app_saying("never served"), "gunicorn.conf.py": "import sys\nsys.exit(3)\n"},
        "gunicorn.conf.py called sys.exit(3)",
    ),
}


@pytest.mark.parametrize("preload", [False, True], ids=["import-in-workers", "preload"])
def test_broken_redeploys_are_refused_and_the_running_app_keeps_serving(
    pid1: StartPid1, tmp_path: Path, preload: bool
) -> None:
    app_dir = write(tmp_path / "wwwroot", app_saying("version 1"))
    env = {"GUNICORN_CMD_ARGS": "--workers=2" + (" --preload" if preload else "")}
    launcher, init = pid1(app_dir, env=env)
    workers = {w.pid for w in init.wait_for_workers(2)}
    with ClientLoop(launcher) as loop:
        wait_for(lambda: loop.count(b"version 1") >= 10, 20, "answers from version 1")
        for number, (files, why) in enumerate(BROKEN.values(), 1):
            replace_folder(app_dir, files)
            init.kill(signal.SIGHUP)
            try:
                wait_for(partial(refused, launcher, number), 30, f"refusal {number}")
            except AssertionError:
                raise AssertionError(launcher.log()) from None
            assert why in refusals(launcher)[-1], launcher.log()
            # Refused: the running workers were not even restarted.
            assert {w.pid for w in init.workers()} == workers
        replace_folder(app_dir, app_saying("version 2"))
        init.kill(signal.SIGHUP)
        wait_for(lambda: loop.count(b"version 2") >= 10, 30, "answers from version 2")
    assert loop.failures == [], f"{len(loop.failures)} failed requests: {loop.failures[:5]}"
    assert set(loop.answers) == {b"version 1", b"version 2"}
    print(f"\n{len(loop.answers)} answers, longest silence {loop.longest_silence():.2f} s")
    assert init.stop() == 0


def wait_for_imports(launcher: Launcher, text: str, workers: int) -> None:
    """Every worker has imported the app: one still starting would import the next one."""
    what = f"{workers} workers importing {text}"
    wait_for(lambda: launcher.log().count(f"IMPORTED {text}\n") >= workers, 30, what)


def refused(launcher: Launcher, count: int) -> bool:
    return len(refusals(launcher)) == count


def refusals(launcher: Launcher) -> list[str]:
    return [line for line in error_lines(launcher.log()) if "reload:" in line]


def test_new_workers_serve_before_the_old_ones_stop(pid1: StartPid1, tmp_path: Path) -> None:
    # Importing the app takes 1 s: gunicorn alone stops the old workers at once.
    app_dir = write(tmp_path / "wwwroot", app_saying("slow 1", import_seconds=1))
    launcher, init = pid1(app_dir, env={"GUNICORN_CMD_ARGS": "--workers=2"})
    init.wait_for_workers(2)
    with ClientLoop(launcher) as loop:
        wait_for(lambda: loop.count(b"slow 1") >= 10, 20, "answers from the first app")
        replace_folder(app_dir, app_saying("slow 2", import_seconds=1))
        init.kill(signal.SIGHUP)
        wait_for(lambda: loop.count(b"slow 2") >= 10, 30, "answers from the new app")
    silence = loop.longest_silence()
    print(f"\n{len(loop.answers)} answers, longest silence {silence:.2f} s")
    assert loop.failures == [], loop.failures[:5]
    assert silence < 0.5, f"nothing was served for {silence:.2f} s"
    assert init.stop() == 0


def test_a_stop_signal_while_the_new_workers_import_stops_at_once(
    pid1: StartPid1, tmp_path: Path
) -> None:
    # The new app hangs while it is imported: the master waits for its workers, but a
    # SIGTERM meanwhile is not left waiting for gunicorn's 600 s timeout.
    app_dir = write(tmp_path / "wwwroot", app_saying("running"))
    launcher, init = pid1(app_dir, env={"GUNICORN_CMD_ARGS": "--workers=2"})
    wait_for_imports(launcher, "running", 2)
    replace_folder(app_dir, app_saying("never ready", import_seconds=600))
    init.kill(signal.SIGHUP)
    init.wait_for_workers(4)
    assert get(launcher)[1] == b"running"
    started = time.monotonic()
    assert init.stop(timeout=15) == 0, launcher.log()
    assert time.monotonic() - started < 10
    assert "reload: a stop signal arrived while the new workers imported the app" in launcher.log()
    assert error_lines(launcher.log()) == []  # nothing was refused: the launcher stopped
    assert init.processes() == []


def test_a_stop_that_comes_with_the_sighup_redeploys_nothing(launch: Start, tmp_path: Path) -> None:
    """Both signals queued together: the redeploy ran its steps and forked new workers,
    then refused them with an ERROR line, and only then did the launcher stop."""
    app_dir = write(tmp_path / "wwwroot", app_saying("v1"))
    launcher = launch(app_dir, "echo STEP RAN && gunicorn application:app")
    launcher.send(signal.SIGSTOP)  # both are pending when it resumes
    launcher.send(signal.SIGHUP)
    launcher.send(signal.SIGTERM)
    launcher.send(signal.SIGCONT)
    assert launcher.wait(15) == 0, launcher.log()
    log = launcher.log()
    assert log.count("\nSTEP RAN\n") == 1
    assert "reload: a stop signal came with the SIGHUP; nothing is redeployed" in log
    assert error_lines(log) == []


def test_a_stop_during_a_redeploys_step_ends_it_without_a_refusal(
    launch: Start, tmp_path: Path
) -> None:
    app_dir = write(tmp_path / "wwwroot", app_saying("v1"))
    step = "sh -c '[ ! -e slow ] || exec sleep 60'"
    launcher = launch(app_dir, f"{step} && gunicorn application:app")
    write(app_dir, {"slow": ""})
    launcher.send(signal.SIGHUP)
    wait_for(lambda: launcher.log().count("Pre-start step 1/1") == 2, 10, "the redeploy's step")
    started = time.monotonic()
    assert launcher.stop() == 0
    assert time.monotonic() - started < 10, launcher.log()
    log = launcher.log()
    assert "SIGTERM received during pre-start step 1/1; stopping" in log
    assert error_lines(log) == []


def test_the_refusal_names_the_error_whatever_the_number_of_workers(
    pid1: StartPid1, tmp_path: Path
) -> None:
    app_dir = write(tmp_path / "wwwroot", APP_A)
    launcher, init = pid1(app_dir, env={"GUNICORN_CMD_ARGS": "--workers=12"})
    # Every worker has imported the app: one still starting would import the broken one.
    wait_for(lambda: launcher.log().count("IMPORTED app A") == 12, 30, "12 workers")
    replace_folder(app_dir, BROKEN["syntax-error"][0])
    init.kill(signal.SIGHUP)
    wait_for(partial(refused, launcher, 1), 30, "the refusal")
    # Not "ended the process with status 4": the workers' own first error line.
    assert "SyntaxError: expected ':'" in refusals(launcher)[-1]
    assert get(launcher)[1] == b"app A"
    assert init.stop() == 0


ONE_OF_TWO_FAILS = """
    import os
    import time

    try:
        os.close(os.open("first-worker", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        time.sleep(1.5)
        raise RuntimeError("the second worker cannot start") from None


    def app(environ, start_response):
        time.sleep(0.2)  # busy when the refusal comes
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"the refused version"]
"""


def test_a_new_worker_that_serves_is_stopped_gracefully_when_another_fails(
    pid1: StartPid1, tmp_path: Path
) -> None:
    app_dir = write(tmp_path / "wwwroot", app_saying("version 1"))
    launcher, init = pid1(app_dir, env={"GUNICORN_CMD_ARGS": "--workers=2"})
    old = {w.pid for w in init.wait_for_workers(2)}
    with ClientLoop(launcher) as loop:
        wait_for(lambda: loop.count(b"version 1") >= 10, 20, "answers from version 1")
        replace_folder(app_dir, {"application.py": ONE_OF_TWO_FAILS})
        init.kill(signal.SIGHUP)
        wait_for(partial(refused, launcher, 1), 30, "the refusal")
        # The worker that had imported the refused version finishes its request and ends.
        wait_for(lambda: {w.pid for w in init.workers()} == old, 20, "only the old workers")
        count = loop.count(b"version 1")
        wait_for(lambda: loop.count(b"version 1") >= count + 10, 20, "answers after it")
    assert "the second worker cannot start" in refusals(launcher)[-1]
    assert loop.failures == [], f"{len(loop.failures)} failed requests: {loop.failures[:5]}"
    assert b"the refused version" in loop.answers
    assert init.stop() == 0
    assert init.processes() == []


def test_a_redeploy_of_an_emptied_folder_serves_the_default_site(
    pid1: StartPid1, tmp_path: Path
) -> None:
    app_dir = write(tmp_path / "wwwroot", app_saying("the first app"))
    # gunicorn's --timeout 0 (no limit) is no limit for a redeploy either.
    launcher, init = pid1(app_dir, env={"GUNICORN_CMD_ARGS": "--workers=2 --timeout=0"})
    wait_for_imports(launcher, "the first app", 2)
    old = {w.pid for w in init.workers()}
    replace_folder(app_dir, {})
    started = time.monotonic()
    init.kill(signal.SIGHUP)
    # The default site's workers report at once: the old ones retire within seconds.
    wait_for(lambda: not old & {w.pid for w in init.workers()}, 20, "the old workers to retire")
    assert time.monotonic() - started < 10
    assert b"no app was found" in get(launcher)[1]
    assert refusals(launcher) == []
    assert init.stop() == 0


ENV_APP = """
    import os

    os.write(1, b"IMPORTED VERSION\\n")  # one write (see APP_A)

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [f"VERSION {os.environ.get('GREETING', 'none')}".encode()]
"""


@pytest.mark.parametrize("steps", [0, 1])
def test_a_redeploy_into_a_recreated_folder_goes_live(
    launch: Start, tmp_path: Path, steps: int
) -> None:
    """A deploy that deletes the app folder and makes it again leaves the master in a
    folder that no longer exists: the redeploy crashed the master."""
    app_dir = write(tmp_path / "wwwroot", app_saying("v1"))
    command = "echo STEP RAN && gunicorn application:app" if steps else None
    launcher = launch(app_dir, command)
    shutil.rmtree(app_dir)
    write(app_dir, app_saying("v2"))
    launcher.send(signal.SIGHUP)
    wait_for(lambda: get(launcher)[1] == b"v2", 20, "the release")
    assert launcher.log().count("\nSTEP RAN\n") == 2 * steps
    assert error_lines(launcher.log()) == []
    assert launcher.stop() == 0, launcher.log()


def test_workers_forked_after_a_refused_redeploy_run_in_the_chdir_folder(
    launch: Start, tmp_path: Path
) -> None:
    """The redeploy moved the master into the app folder to read it, and a refusal left it
    there: the workers forked next ran outside gunicorn's --chdir."""
    app = """
import os


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [os.getcwd().encode()]
"""
    app_dir = write(tmp_path / "wwwroot", {"src/app.py": app})
    step = "sh -c '[ ! -e fail ]'"
    launcher = launch(app_dir, f"{step} && gunicorn --chdir src --max-requests 1 app:app")
    assert get(launcher)[1] == str(app_dir / "src").encode()
    write(app_dir, {"fail": ""})
    launcher.send(signal.SIGHUP)
    wait_for(lambda: "a pre-start step failed" in launcher.log(), 20, "the refusal")
    for _ in range(3):  # each answer ends its worker (--max-requests 1): a new one answers
        assert get(launcher)[1] == str(app_dir / "src").encode()
    assert launcher.stop() == 0


def _answer(port: int) -> bytes | None:
    """The body at ``port``, or None when nothing listens there (a connection queued on a
    listener that is then closed is reset)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/")
        return conn.getresponse().read()
    except (ConnectionRefusedError, ConnectionResetError):
        return None
    finally:
        conn.close()


def test_a_redeploy_with_a_new_bind_listens_there(launch: Start, tmp_path: Path) -> None:
    first, second = free_port(), free_port()
    while second == first:
        second = free_port()
    conf = "bind = '127.0.0.1:{}'\n"
    app_dir = write(
        tmp_path / "wwwroot", {**app_saying("v1"), "gunicorn.conf.py": conf.format(first)}
    )
    # Without the harness's --bind, which would win over the config file's.
    command = ["env", "-u", "GUNICORN_CMD_ARGS", sys.executable, "-m", "appservice_gunicorn"]
    launcher = launch(app_dir, port=first, command=command)
    write(app_dir, {**app_saying("v2"), "gunicorn.conf.py": conf.format(second)})
    launcher.send(signal.SIGHUP)
    wait_for(lambda: _answer(second) == b"v2", 30, "the new address")
    wait_for(lambda: _answer(first) is None, 30, "the old address closed")
    assert error_lines(launcher.log()) == []
    assert launcher.stop() == 0, launcher.log()


def test_a_refused_redeploy_leaves_none_of_its_environment_behind(
    pid1: StartPid1, tmp_path: Path
) -> None:
    app_dir = write(tmp_path / "wwwroot", {"application.py": ENV_APP.replace("VERSION", "v1")})
    launcher, init = pid1(app_dir, env={"GUNICORN_CMD_ARGS": "--workers=2"})
    wait_for_imports(launcher, "v1", 2)
    broken = {
        "gunicorn.conf.py": "raw_env = ['GREETING=from the refused deployment']\n",
        "application.py": "raise RuntimeError('broken')\n" + WSGI_APP,
    }
    replace_folder(app_dir, broken)
    init.kill(signal.SIGHUP)
    try:
        wait_for(partial(refused, launcher, 1), 30, "the refusal")
    except AssertionError:
        raise AssertionError(launcher.log()) from None
    replace_folder(app_dir, {"application.py": ENV_APP.replace("VERSION", "v2")})
    old = {w.pid for w in init.workers()}
    init.kill(signal.SIGHUP)
    # v1's workers answer until both of v2's have imported it.
    wait_for(lambda: not old & {w.pid for w in init.workers()}, 30, "the v1 workers to retire")
    assert get(launcher)[1] == b"v2 none"
    assert init.stop() == 0


@pytest.mark.parametrize("broken", ["syntax-error", "exits-at-import"])
def test_a_worker_that_ends_after_a_refusal_is_not_replaced_by_the_refused_app(
    pid1: StartPid1, tmp_path: Path, broken: str
) -> None:
    # The folder holds the refused deployment: a worker replacing one that died would
    # import it, and gunicorn would stop the whole server (exit 4).
    app_dir = write(tmp_path / "wwwroot", app_saying("version 1"))
    launcher, init = pid1(app_dir, env={"GUNICORN_CMD_ARGS": "--workers=2"})
    wait_for_imports(launcher, "version 1", 2)
    replace_folder(app_dir, BROKEN[broken][0])
    init.kill(signal.SIGHUP)
    wait_for(partial(refused, launcher, 1), 30, "the refusal")
    os.kill(init.workers()[0].pid, signal.SIGKILL)
    wait_for(lambda: "A worker could not be replaced" in launcher.log(), 20, "the line")
    assert get(launcher)[1] == b"version 1"
    assert len(init.workers()) == 1
    # A fixed deployment brings the full count back.
    replace_folder(app_dir, app_saying("version 2"))
    init.kill(signal.SIGHUP)
    wait_for_imports(launcher, "version 2", 2)
    wait_for(lambda: len(init.workers()) == 2, 20, "two workers")
    assert get(launcher)[1] == b"version 2"
    assert init.stop() == 0


def test_a_burst_of_sighups_is_one_redeploy(pid1: StartPid1, tmp_path: Path) -> None:
    app_dir = write(tmp_path / "wwwroot", app_saying("burst"))
    launcher, init = pid1(app_dir)
    init.wait_for_workers(1)
    for _ in range(10):
        init.kill(signal.SIGHUP)
    wait_for(lambda: "Hang up: Master" in launcher.log(), 20, "the redeploy")
    time.sleep(2)  # any further redeploy would have started by now
    # Those queued together are one; at most the ones that arrived while it ran make one more.
    assert launcher.log().count("Hang up: Master") <= 2, launcher.log()
    assert get(launcher)[:2] == (200, b"burst")
    assert init.stop() == 0


def test_a_sighup_while_starting_redeploys_once_serving(pid1: StartPid1, tmp_path: Path) -> None:
    app_dir = write(
        tmp_path / "wwwroot",
        {
            **app_saying("first"),
            "gunicorn.conf.py": "import time\nprint('CONF', flush=True)\ntime.sleep(1)\n",
        },
    )
    launcher, init = pid1(app_dir, wait=False)
    wait_for(lambda: "CONF" in launcher.log(), 20, "gunicorn.conf.py to run")
    replace_folder(app_dir, app_saying("changed while starting"))
    init.kill(signal.SIGHUP)
    wait_for(lambda: "Hang up: Master" in launcher.log(), 20, "the deferred redeploy")
    wait_for(lambda: get(launcher)[1] == b"changed while starting", 20, "the new app")
    assert init.stop() == 0


def test_a_sighup_during_a_pre_start_step_redeploys_once_serving(
    launch: Start, tmp_path: Path
) -> None:
    """The step's supervisor took the SIGHUP and it was lost: the change went unserved."""
    app_dir = write(tmp_path / "wwwroot", app_saying("first"))
    step = "sh -c 'echo STEP RAN; sleep 1'"
    launcher = launch(app_dir, f"{step} && gunicorn application:app", wait=False)
    wait_for(lambda: "STEP RAN" in launcher.log(), 20, "the step")
    write(app_dir, app_saying("changed during the step"))
    launcher.send(signal.SIGHUP)
    wait_for(lambda: "Hang up: Master" in launcher.log(), 20, "the deferred redeploy")
    # The redeploy runs the step again (the first workers may already import the change).
    wait_for(lambda: launcher.log().count("\nSTEP RAN\n") == 2, 20, "the step run again")
    wait_for(lambda: get(launcher)[1] == b"changed during the step", 20, "the new app")
    assert launcher.stop() == 0


@pytest.mark.parametrize("preload", [False, True], ids=["import-in-workers", "preload"])
def test_an_import_that_never_ends_is_abandoned_after_the_timeout_and_a_fix_goes_live(
    pid1: StartPid1, tmp_path: Path, preload: bool
) -> None:
    """The wait for a redeploy's workers (with --preload, for the import in a fresh
    interpreter) is gunicorn's --timeout: then one ERROR line names the module and the
    wait, the old app serves on, and a fixed release goes live."""
    app_dir = write(tmp_path / "wwwroot", app_saying("running"))
    flags = "--workers=2 --timeout=3" + (" --preload" if preload else "")
    launcher, init = pid1(app_dir, env={"GUNICORN_CMD_ARGS": flags})
    wait_for_imports(launcher, "running", 1 if preload else 2)
    replace_folder(app_dir, app_saying("never ready", import_seconds=600))
    init.kill(signal.SIGHUP)
    wait_for(lambda: bool(refusals(launcher)), 20, "the refusal")
    refusal = refusals(launcher)[-1]
    assert "application:app" in refusal and "after 3 s (gunicorn's --timeout)" in refusal
    assert get(launcher)[1] == b"running"
    replace_folder(app_dir, app_saying("fixed"))
    init.kill(signal.SIGHUP)
    wait_for(lambda: get(launcher)[1] == b"fixed", 30, "the fixed release")
    assert init.stop(signal.SIGTERM) == 0


def _compressed_release(tmp_path: Path, app_dir: Path, files: dict[str, str]) -> None:
    """App Service's compressed build output: each release a new output.tar.gz."""
    import subprocess

    release = tmp_path / f"release-{len(list(tmp_path.glob('release-*')))}"
    write(release, files)
    subprocess.run(["tar", "-czf", str(app_dir / "output.tar.gz"), "-C", str(release), "."])
    (app_dir / "oryx-manifest.toml").write_text('CompressDestinationDir="true"\n')


@pytest.mark.parametrize(
    ("preload", "seconds"), [(False, 8), (True, 4)], ids=["import-in-workers", "preload"]
)
def test_workers_that_end_during_a_slow_import_are_replaced_with_the_running_app(
    pid1: StartPid1, tmp_path: Path, preload: bool, seconds: int
) -> None:
    """--max-requests ends the running app's workers while the release imports (8 s in
    the new workers; with --preload, in a fresh interpreter first): stand-ins of the running
    app (its extraction is still there) take their place, so nothing fails and nothing
    waits, and the release goes live once imported.  With --preload, the master then
    imports the release itself, in which time nothing is replaced: 4 s here."""
    app_dir = tmp_path / "wwwroot"
    app_dir.mkdir()
    _compressed_release(tmp_path, app_dir, app_saying("running"))
    flags = "--workers=2 --max-requests=8" + (" --preload" if preload else "")
    env = {"GUNICORN_CMD_ARGS": flags, "APPSVC_EXTRACT_DIR": str(tmp_path / "cache")}
    launcher, init = pid1(app_dir, env=env)
    wait_for_imports(launcher, "running", 1 if preload else 2)
    # The release's first imports take ``seconds``; a worker that --max-requests restarts
    # later imports it at once (so the load below measures the redeploy, not the restarts).
    release = app_saying("released")
    release["application.py"] = release["application.py"].replace(
        "time.sleep(0.0)", f"time.sleep(max(0.0, {time.time() + seconds} - time.time()))"
    )
    _compressed_release(tmp_path, app_dir, release)
    with ClientLoop(launcher, threads=2, pause=0.02) as loop:
        wait_for(lambda: loop.count(b"running") >= 20, 20, "answers from the running app")
        init.kill(signal.SIGHUP)
        wait_for(lambda: loop.count(b"released") >= 20, 60, "answers from the release")
    log = launcher.log()
    assert loop.failures == [], f"{len(loop.failures)} failed requests: {loop.failures[:5]}\n{log}"
    assert loop.longest_silence() < (seconds + 2 if preload else 3.0), log
    assert "stands in for it" in log, log
    wait_for(
        lambda: not [p for p in init.processes() if p.ppid == init.pid and p.state == "Z"],
        5,
        "ended workers reaped",
    )
    assert init.stop(signal.SIGTERM) == 0


def _big_release(app_dir: Path, files: dict[str, str], members: int) -> None:
    """A compressed output of ``members`` small files besides the app: seconds to extract."""
    import io
    import tarfile
    import textwrap

    with tarfile.open(app_dir / "output.tar.gz", "w:gz", compresslevel=1) as tar:
        for name, text in {**files, **{f"data/f{n}.txt": "x" for n in range(members)}}.items():
            data = textwrap.dedent(text).encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def _running_compressed(tmp_path: Path) -> tuple[Path, Path]:
    """An app folder with a compressed release of the app saying "running", and the
    extraction folder to use."""
    app_dir = tmp_path / "wwwroot"
    app_dir.mkdir()
    _compressed_release(tmp_path, app_dir, app_saying("running"))
    return app_dir, tmp_path / "cache"


def test_a_stop_signal_during_a_redeploys_extraction_stops_within_a_second(
    pid1: StartPid1, tmp_path: Path
) -> None:
    app_dir, cache = _running_compressed(tmp_path)
    launcher, init = pid1(app_dir, env={"APPSVC_EXTRACT_DIR": str(cache)})
    wait_for_imports(launcher, "running", 1)
    _big_release(app_dir, app_saying("never served"), 15_000)
    init.kill(signal.SIGHUP)
    wait_for(lambda: any(p.name.startswith(".") for p in cache.iterdir()), 20, "the extraction")
    time.sleep(0.3)
    started = time.monotonic()
    assert init.stop(signal.SIGTERM) == 0
    assert time.monotonic() - started < 2.0, launcher.log()
    assert "a stop signal came during its extraction, which was abandoned" in launcher.log()
    assert not [p for p in cache.iterdir() if p.name.startswith(".")], "a partial extraction"


@pytest.mark.parametrize("preload", [False, True], ids=["import-in-workers", "preload"])
def test_the_extraction_a_redeploy_replaced_is_removed_once_no_worker_uses_it(
    pid1: StartPid1, tmp_path: Path, preload: bool
) -> None:
    app_dir, cache = _running_compressed(tmp_path)
    flags = "--workers=2" + (" --preload" if preload else "")
    launcher, init = pid1(
        app_dir, env={"APPSVC_EXTRACT_DIR": str(cache), "GUNICORN_CMD_ARGS": flags}
    )
    wait_for_imports(launcher, "running", 1 if preload else 2)
    [first] = list(cache.iterdir())
    _compressed_release(tmp_path, app_dir, app_saying("released"))
    init.kill(signal.SIGHUP)
    wait_for(lambda: get(launcher)[1] == b"released", 30, "the release")
    wait_for(lambda: not first.exists(), 30, "the replaced extraction removed")
    [second] = list(cache.iterdir())
    assert second != first
    # Logged once removed: the folder can be gone a moment before the line is written.
    removed = f"Removed {first}: no worker uses that extraction any more"
    wait_for(lambda: removed in launcher.log(), 10, "the removal logged")
    assert get(launcher)[1] == b"released"
    assert init.stop() == 0


def test_a_worker_killed_while_the_release_is_proven_does_not_hang_the_master(
    pid1: StartPid1, tmp_path: Path
) -> None:
    """From a review: the stand-in forked during the --preload proof inherited the proof's
    result pipe, and the master waited for its end forever."""
    app_dir = write(tmp_path / "wwwroot", app_saying("running"))
    launcher, init = pid1(app_dir, env={"GUNICORN_CMD_ARGS": "--workers=2 --preload"})
    old = init.wait_for_workers(2)
    replace_folder(app_dir, app_saying("released", import_seconds=2))
    init.kill(signal.SIGHUP)
    wait_for(lambda: "Hang up: Master" in launcher.log(), 10, "the redeploy")
    time.sleep(0.5)  # the release is being proven in a fresh interpreter
    os.kill(old[0].pid, signal.SIGKILL)
    wait_for(lambda: "stands in for it" in launcher.log(), 10, "a stand-in")
    wait_for(lambda: get(launcher)[1] == b"released", 20, "the release")
    assert init.stop(signal.SIGTERM) == 0


SLOW_ON_REQUEST = """
    import os
    import time


    def app(environ, start_response):
        if environ["PATH_INFO"] == "/slow":
            os.write(1, b"IN SLOW {text}\\n")
            time.sleep(60)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"{text}"]
"""


def test_a_stop_during_a_redeploy_gives_both_generations_one_graceful_timeout(
    launch: Start, tmp_path: Path
) -> None:
    """A worker of the replaced app still busy when the stop comes finishes within the same
    graceful timeout as the new ones: it was given a second one after theirs."""
    app_dir = write(tmp_path / "wwwroot", {"application.py": SLOW_ON_REQUEST.format(text="v1")})
    launcher = launch(app_dir, env={"GUNICORN_CMD_ARGS": "--workers=1 --graceful-timeout=3"})
    busy = [threading.Thread(target=_ignore_errors(get), args=(launcher, "/slow", 30))]
    busy[0].start()
    wait_for(lambda: "IN SLOW v1" in launcher.log(), 10, "the v1 worker in /slow")
    write(app_dir, {"application.py": SLOW_ON_REQUEST.format(text="v2")})
    launcher.send(signal.SIGHUP)
    wait_for(lambda: get(launcher)[1] == b"v2", 20, "the new worker")
    busy.append(threading.Thread(target=_ignore_errors(get), args=(launcher, "/slow", 30)))
    busy[1].start()
    wait_for(lambda: "IN SLOW v2" in launcher.log(), 10, "the v2 worker in /slow")
    started = time.monotonic()
    assert launcher.stop() == 0
    assert time.monotonic() - started < 3 + 2, launcher.log()  # was 3 + 3
    for thread in busy:
        thread.join(5)


def _ignore_errors(call: Callable[..., object]) -> Callable[..., None]:
    def run(*args: object) -> None:
        with contextlib.suppress(OSError, http.client.HTTPException):
            call(*args)

    return run
