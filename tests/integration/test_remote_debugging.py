"""App Service's remote debugging: a real debugger (a Debug Adapter Protocol client)
attaches to the launcher's worker, stops a real request at a breakpoint and lets it go."""

from __future__ import annotations

import json
import re
import signal
import socket
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import write
from tests.integration.conftest import Start
from tests.launcher import Launcher, free_port

APP = """\
from flask import Flask

LOADED = "module"  # line 3: runs when the worker imports the app
app = Flask(__name__)


@app.route("/")
def index():
    answer = 41 + 1  # line 9: a view's breakpoint
    return f"answer {answer}"
"""
MODULE_LINE, VIEW_LINE = 3, 9


class DapClient:
    """Just enough of the Debug Adapter Protocol (what VS Code speaks) to attach, set a
    breakpoint, see the stop and continue."""

    def __init__(self, port: int, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        self.buffer = b""
        self.seq = 0
        self.messages: list[dict[str, Any]] = []

    def send(self, command: str, **arguments: Any) -> int:
        self.seq += 1
        body = json.dumps(
            {"seq": self.seq, "type": "request", "command": command, "arguments": arguments}
        ).encode()
        self.sock.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        return self.seq

    def _read(self) -> dict[str, Any]:
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        header, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        length = int(re.search(rb"Content-Length: (\d+)", header).group(1))  # type: ignore[union-attr]
        while len(self.buffer) < length:
            self._fill()
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        message: dict[str, Any] = json.loads(body)
        return message

    def _fill(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("the debug adapter closed the connection")
        self.buffer += data

    def expect(self, kind: str, name: str) -> dict[str, Any]:
        """The next ``event`` or ``response`` called ``name`` (those before are kept)."""
        key = "event" if kind == "event" else "command"
        for message in self.messages:
            if message["type"] == kind and message.get(key) == name:
                self.messages.remove(message)
                return message
        while True:
            message = self._read()
            if message["type"] == kind and message.get(key) == name:
                return message
            self.messages.append(message)

    def attach(self, source: Path, line: int) -> None:
        self.send(
            "initialize",
            adapterID="debugpy",
            clientID="tests",
            pathFormat="path",
            linesStartAt1=True,
            columnsStartAt1=True,
        )
        assert self.expect("response", "initialize")["success"]
        self.send("attach", justMyCode=True)
        self.expect("event", "initialized")
        self.send("setBreakpoints", source={"path": str(source)}, breakpoints=[{"line": line}])
        breakpoints = self.expect("response", "setBreakpoints")["body"]["breakpoints"]
        assert breakpoints[0]["verified"], breakpoints
        self.send("configurationDone")
        assert self.expect("response", "attach")["success"]

    def stopped_at(self) -> tuple[int, int]:
        """The thread and line of the next stop."""
        thread = self.expect("event", "stopped")["body"]["threadId"]
        self.send("stackTrace", threadId=thread, levels=1)
        frames = self.expect("response", "stackTrace")["body"]["stackFrames"]
        return thread, frames[0]["line"]

    def close(self) -> None:
        self.sock.close()


def waiting_for_the_debugger(launch: Start, app_dir: Path) -> tuple[int, Launcher]:
    """A launcher with APPSVC_REMOTE_DEBUGGING_BREAK, its worker waiting for a debugger."""
    debug_port = free_port()
    env = debug_env(debug_port, APPSVC_REMOTE_DEBUGGING_BREAK="TRUE")
    launcher = launch(app_dir, env=env, wait=False)
    wait_for_log(launcher, "waiting for a debugger to attach")
    return debug_port, launcher


def wait_for_log(launcher: Launcher, text: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while text not in launcher.log():
        assert time.monotonic() < deadline, launcher.log()
        time.sleep(0.05)


def stopped_at_the_view(
    client: DapClient, launcher: Launcher, app_dir: Path
) -> tuple[int, list[str], threading.Thread]:
    """Attach with a breakpoint in the view, send a request: it stops there (the thread
    that stopped, the request's answers so far, the request's thread)."""
    client.attach(app_dir / "app.py", VIEW_LINE)
    results: list[str] = []
    request = threading.Thread(target=_get, args=(launcher.url, results))
    request.start()
    thread, line = client.stopped_at()
    assert line == VIEW_LINE
    return thread, results, request


def _get(url: str, results: list[str]) -> None:
    with urllib.request.urlopen(url, timeout=60) as response:
        results.append(response.read().decode())


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    write(tmp_path, {"app.py": APP})
    return tmp_path


def debug_env(port: int, **extra: str) -> dict[str, str]:
    # A worker timeout shorter than the stop below: debugging must turn it off.
    return {
        "APPSVC_REMOTE_DEBUGGING": "TRUE",
        "APPSVC_TUNNEL_PORT": str(port),
        "GUNICORN_CMD_ARGS": "--timeout 2 --workers 3",
        **extra,
    }


def test_a_breakpoint_in_a_view_stops_the_served_request_longer_than_the_worker_timeout(
    launch: Start, app_dir: Path
) -> None:
    debug_port = free_port()
    launcher = launch(app_dir, env=debug_env(debug_port))
    log = launcher.log()
    assert f"debugpy listens on 127.0.0.1:{debug_port} in worker" in log
    # One worker (the process the debugger attaches to), whatever the configuration said.
    assert "workers = 3 (from GUNICORN_CMD_ARGS) is set to 1 while remote debugging" in log
    client = DapClient(debug_port)
    try:
        thread, results, request = stopped_at_the_view(client, launcher, app_dir)
        time.sleep(3)  # longer than --timeout 2: the worker is not killed
        assert not results, "the request went on while stopped at the breakpoint"
        client.send("continue", threadId=thread)
        request.join(30)
        assert results == ["answer 42"]
    finally:
        client.close()
    assert "WORKER TIMEOUT" not in launcher.log()
    assert launcher.stop() == 0


def test_break_waits_for_the_debugger_before_the_app_is_imported(
    launch: Start, app_dir: Path
) -> None:
    debug_port, launcher = waiting_for_the_debugger(launch, app_dir)
    with pytest.raises(OSError):
        urllib.request.urlopen(launcher.url, timeout=1)
    client = DapClient(debug_port)
    try:
        # The module's own code stops too: the app is imported after the attach.
        client.attach(app_dir / "app.py", MODULE_LINE)
        thread, line = client.stopped_at()
        assert line == MODULE_LINE
        client.send("continue", threadId=thread)
        results: list[str] = []
        _get(launcher.url, results)
        assert results == ["answer 42"]
    finally:
        client.close()
    assert launcher.stop() == 0


def test_a_redeploy_moves_the_debugger_to_the_new_worker(launch: Start, app_dir: Path) -> None:
    debug_port = free_port()
    launcher = launch(app_dir, env=debug_env(debug_port))
    first = re.findall(r"debugpy listens on \S+ in worker (\d+)", launcher.log())
    write(app_dir, {"app.py": APP.replace("answer {answer}", "second {answer}")})
    launcher.send(signal.SIGHUP)
    deadline = time.monotonic() + 30
    while len(re.findall(r"debugpy listens on \S+ in worker (\d+)", launcher.log())) < 2:
        assert time.monotonic() < deadline, launcher.log()
        time.sleep(0.1)
    workers = re.findall(r"debugpy listens on \S+ in worker (\d+)", launcher.log())
    assert workers[1] != first[0]
    client = DapClient(debug_port)
    try:
        thread, results, request = stopped_at_the_view(client, launcher, app_dir)
        client.send("continue", threadId=thread)
        request.join(30)
        assert results == ["second 42"]
    finally:
        client.close()
    assert launcher.stop() == 0


def test_a_port_that_stays_taken_is_one_error_and_the_app_is_served(tmp_path: Path) -> None:
    """The worker goes on importing the app while it waits for the port (a redeploy's
    previous worker frees it); a port another program keeps is one ERROR line."""
    import subprocess
    import sys

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    script = (
        "import logging, time\n"
        "from appservice_gunicorn.plan.debugging import DebugAdapter\n"
        "from appservice_gunicorn.serve import debugger\n"
        "logging.basicConfig(level=logging.INFO, format='%(levelname)s %(message)s')\n"
        f"debugger.listen(DebugAdapter('127.0.0.1', {port}, wait=True), wait_for_port=0.5)\n"
        "print('returned', flush=True)\n"
        "time.sleep(3)\n"
    )
    try:
        done = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
        )
    finally:
        taken.close()
    lines = done.stdout + done.stderr
    assert "returned" in done.stdout
    assert f"127.0.0.1:{port} is still in use" in lines
    assert f"ERROR remote debugging is off: debugpy cannot listen on 127.0.0.1:{port}" in lines
    assert "set APPSVC_TUNNEL_PORT to a free port" in lines


def test_a_stop_signal_while_waiting_for_the_debugger_stops_at_once(
    launch: Start, app_dir: Path
) -> None:
    _, launcher = waiting_for_the_debugger(launch, app_dir)
    started = time.monotonic()
    assert launcher.stop() == 0
    assert time.monotonic() - started < 5, launcher.log()  # not gunicorn's 30 s kill
