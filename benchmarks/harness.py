"""Start servers, wait for their first 200, read their process tree, stop them.

Everything binds 127.0.0.1 only, every wait is bounded, and every server is started in its
own session so that its whole process group can be killed if SIGTERM is not enough.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import statistics
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


HOST = "127.0.0.1"
START_TIMEOUT = 60.0
POLL_INTERVAL = 0.002
# Variables that would change the worker count or the app behind the benchmark's back.
SCRUBBED = (
    "APP_PATH",
    "APPSVC_VIRTUAL_ENV",
    "APPSVC_STRICT",
    "GUNICORN_CMD_ARGS",
    "PYTHON_ENABLE_GUNICORN_MULTIWORKERS",
    "PYTHON_GUNICORN_CUSTOM_WORKER_NUM",
    "PYTHON_GUNICORN_CUSTOM_THREAD_NUM",
    "WEB_CONCURRENCY",
    "WEBSITES_PORT",
    "DJANGO_SETTINGS_MODULE",
    # Installed packages come with byte code; without this a checkout installed in editable
    # mode would recompile the launcher at every start.
    "PYTHONDONTWRITEBYTECODE",
)


class BenchError(RuntimeError):
    """A server did not start or answer; the message holds its log."""


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log_file: IO[bytes]
    started: float

    def log(self) -> str:
        self.log_file.flush()
        return Path(self.log_file.name).read_text(errors="replace")[-4000:]


def clean_env() -> dict[str, str]:
    """This environment less the variables that would change what is measured."""
    return {k: v for k, v in os.environ.items() if k not in SCRUBBED}


def server_env(port: int, workers: int, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The same environment for every variant: loopback bind and worker count through
    gunicorn's own ``GUNICORN_CMD_ARGS``, which the launcher and plain gunicorn both read
    (with ``BENCH_CONFIG`` in ``extra``: that config file too)."""
    env = clean_env()
    env.update(extra or {})
    env["PORT"] = str(port)
    config = f" --config={env['BENCH_CONFIG']}" if "BENCH_CONFIG" in env else ""
    env["GUNICORN_CMD_ARGS"] = f"--bind={HOST}:{port} --workers={workers}{config}"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def spawn(
    name: str,
    argv: Sequence[str],
    workers: int,
    log_dir: Path,
    extra: dict[str, str] | None = None,
) -> Server:
    port = free_port()
    log_dir.mkdir(parents=True, exist_ok=True)
    log_file = (log_dir / f"{name}-{port}.log").open("w+b")
    env = server_env(port, workers, extra)
    started = time.perf_counter()
    process = subprocess.Popen(
        list(argv),
        # Not the checkout: ``python -m appservice_gunicorn`` must load the installed package.
        cwd=log_dir,
        stdin=subprocess.DEVNULL,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    return Server(name=name, port=port, process=process, log_file=log_file, started=started)


def http_status(port: int, path: str = "/", timeout: float = 10.0) -> int | None:
    """The status of one ``GET``; None when nothing listens yet."""
    try:
        with socket.create_connection((HOST, port), timeout=timeout) as sock:
            request = f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nConnection: close\r\n\r\n"
            sock.sendall(request.encode("ascii"))
            head = b""
            while b"\r\n" not in head:
                chunk = sock.recv(4096)
                if not chunk:
                    return None
                head += chunk
            # Drain the rest so that the worker is not left writing into a closed socket.
            while sock.recv(65536):
                pass
    except OSError:
        return None
    parts = head.split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None


def wait_for_200(server: Server, timeout: float = START_TIMEOUT) -> float:
    """Seconds from spawn to the first 200 on ``/``."""
    deadline = server.started + timeout
    while time.perf_counter() < deadline:
        if server.process.poll() is not None:
            raise BenchError(
                f"{server.name} exited with status {server.process.returncode} before "
                f"answering; its log:\n{server.log()}"
            )
        status = http_status(server.port)
        if status == 200:
            return time.perf_counter() - server.started
        if status is not None:
            raise BenchError(f"{server.name} answered {status} on /; its log:\n{server.log()}")
        time.sleep(POLL_INTERVAL)
    raise BenchError(f"{server.name} gave no 200 in {timeout:.0f} s; its log:\n{server.log()}")


def stop(server: Server, timeout: float = 20.0) -> None:
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.process.wait(timeout)
    # Whatever is left of the group (a hung worker, the naive wrapper's child) goes too.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(server.process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        server.process.wait(5)
    server.log_file.close()


@contextlib.contextmanager
def running(name: str, argv: Sequence[str], workers: int, log_dir: Path) -> Iterator[Server]:
    server = spawn(name, argv, workers, log_dir)
    try:
        yield server
    finally:
        stop(server)


def _children() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: fields start after the last ')'.
        fields = stat.rpartition(")")[2].split()
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    return children


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants."""
    children = _children()
    tree, stack = [], [pid]
    while stack:
        current = stack.pop()
        tree.append(current)
        stack.extend(children.get(current, []))
    return tree


def rss_kib(pid: int) -> int:
    """A process's resident set size (``VmRSS``), 0 when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_rss_kib(pid: int) -> int:
    return sum(rss_kib(p) for p in process_tree(pid))


def cpu_ns(pid: int) -> int:
    """Time a process has spent on a CPU so far (``/proc/PID/schedstat``), 0 when gone."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])
    except (OSError, IndexError, ValueError):
        return 0


def tree_cpu_ms(pid: int) -> float:
    return sum(cpu_ns(p) for p in process_tree(pid)) / 1e6


def wait_for_processes(server: Server, count: int, timeout: float = START_TIMEOUT) -> None:
    """Wait until the server's process tree has ``count`` processes."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        if server.process.poll() is not None:
            raise BenchError(f"{server.name} exited; its log:\n{server.log()}")
        if len(process_tree(server.process.pid)) >= count:
            return
        time.sleep(0.05)
    found = len(process_tree(server.process.pid))
    raise BenchError(f"{server.name} has {found} processes, not {count}; log:\n{server.log()}")


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")
