"""Fixtures for integration tests: real launchers, also as PID 1 of a PID namespace.

Under ``unshare --pid --fork --mount-proc`` the launcher is PID 1 of a new PID namespace,
so the kernel gives it what a container's init gets (orphans are reparented to it; it must
reap them) and signals are sent to it directly, as an orchestrator does.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.launcher import Launcher, start

Start = Callable[..., Launcher]


def get(launcher: Launcher, path: str = "/", timeout: float = 10) -> tuple[int, bytes, str]:
    """(status, body, the X-Worker-Pid header) of a GET on a fresh connection."""
    conn = http.client.HTTPConnection("127.0.0.1", launcher.port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read(), response.getheader("X-Worker-Pid", "")
    finally:
        conn.close()


@pytest.fixture
def launch() -> Iterator[Start]:
    """Start real launchers (subprocesses on free loopback ports); all stop at teardown."""
    running: list[Launcher] = []

    def _start(*args: Any, **kwargs: Any) -> Launcher:
        launcher = start(*args, **kwargs)
        running.append(launcher)
        return launcher

    yield _start
    for launcher in running:
        launcher.close()


UNSHARE = ["unshare", "--pid", "--fork", "--mount-proc"]
GRACEFUL_TIMEOUT = 10


def unshare_problem(*extra: str) -> str | None:
    """Why the launcher cannot run as PID 1 here, or None."""
    if shutil.which("unshare") is None:
        return "unshare (util-linux) is not installed"
    result = subprocess.run([*UNSHARE, *extra, "true"], capture_output=True, text=True, timeout=30)
    if result.returncode != 0:
        return f"'{' '.join([*UNSHARE, *extra])}' is not permitted: {result.stderr.strip()}"
    return None


@dataclass(frozen=True)
class Proc:
    pid: int  # as seen from the test (host namespace)
    ppid: int
    state: str
    ns_pid: int  # as seen inside the launcher's namespace


def stat(pid: int) -> Proc | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
        status = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    nspid = re.search(r"^NSpid:\s+(.*)$", status, re.MULTILINE)
    inner = int(nspid.group(1).split()[-1]) if nspid else pid
    return Proc(pid=pid, ppid=int(fields[1]), state=fields[0], ns_pid=inner)


def all_pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


class Pid1:
    """The launcher running as PID 1 of its own PID namespace."""

    def __init__(self, launcher: Launcher) -> None:
        self.launcher = launcher
        self.pid = self._find()
        self.namespace = os.readlink(f"/proc/{self.pid}/ns/pid")

    def _find(self) -> int:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            for pid in all_pids():
                proc = stat(pid)
                if proc and proc.ppid == self.launcher.process.pid:
                    assert proc.ns_pid == 1, proc
                    return pid
            time.sleep(0.05)
        raise AssertionError(f"no child of unshare found; log:\n{self.launcher.log()}")

    def processes(self) -> list[Proc]:
        """Every process in the launcher's PID namespace (none once its PID 1 is gone)."""
        found = []
        for pid in all_pids():
            with contextlib.suppress(OSError):
                if os.readlink(f"/proc/{pid}/ns/pid") == self.namespace:
                    proc = stat(pid)
                    if proc is not None:
                        found.append(proc)
        # The kernel gives a freed namespace's number to the next one created (another
        # test's launcher): what was found is this namespace's only while its PID 1 lives,
        # and the namespace's processes all end before its PID 1 is reaped.
        return found if self._init_alive() else []

    def _init_alive(self) -> bool:
        with contextlib.suppress(OSError):
            return os.readlink(f"/proc/{self.pid}/ns/pid") == self.namespace
        return False

    def workers(self) -> list[Proc]:
        return [p for p in self.processes() if p.ppid == self.pid and p.state != "Z"]

    def wait_for_workers(self, count: int, timeout: float = 15) -> list[Proc]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            workers = self.workers()
            if len(workers) == count:
                return workers
            time.sleep(0.05)
        raise AssertionError(f"expected {count} workers, found {self.processes()}")

    def wait_for_new_worker(self, dead: Proc, timeout: float = 15) -> Proc:
        """The one worker that replaced ``dead``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            workers = self.workers()
            if len(workers) == 1 and workers[0].pid != dead.pid:
                return workers[0]
            time.sleep(0.05)
        raise AssertionError(f"worker {dead} was not replaced: {self.processes()}")

    def kill(self, signum: int) -> None:
        os.kill(self.pid, signum)

    def stop(self, signum: int = signal.SIGTERM, timeout: float = GRACEFUL_TIMEOUT + 5) -> int:
        """Signal PID 1 (unshare does not forward signals) and return its exit status."""
        self.kill(signum)
        try:
            return self.launcher.wait(timeout)
        except subprocess.TimeoutExpired:
            # What still runs and what the launcher said: a hang is diagnosed from the report.
            raise AssertionError(
                f"the launcher did not stop within {timeout} s of {signal.Signals(signum).name}; "
                f"running: {self.processes()}\nlog:\n{self.launcher.log()[-6000:]}"
            ) from None


StartPid1 = Callable[..., tuple[Launcher, Pid1]]


@pytest.fixture
def pid1(launch: Start) -> Iterator[StartPid1]:
    """Start a launcher as PID 1; yields a start function returning ``(Launcher, Pid1)``."""
    problem = unshare_problem()
    if problem:
        pytest.skip(problem)

    running: list[Pid1] = []

    def start(*args: Any, inner: Sequence[str] = (), **kwargs: Any) -> tuple[Launcher, Pid1]:
        """``inner`` runs in the namespace before the launcher (unshare options first)."""
        command = [*UNSHARE, *inner, sys.executable, "-m", "appservice_gunicorn"]
        launcher = launch(*args, command=command, **kwargs)
        running.append(Pid1(launcher))
        return launcher, running[-1]

    yield start
    # unshare does not forward signals: stop PID 1 itself, as a container runtime does.
    for init in running:
        if init.launcher.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                init.kill(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                init.launcher.wait(GRACEFUL_TIMEOUT + 5)


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
