"""Load test: 5,000 requests at concurrency 50, loopback only, bounded in time.

Run with ``nox -s load``. Every response must be a complete ``200``: the body read to the
end of the connection must be exactly ``Content-Length`` bytes.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.helpers import flask_app, write
from tests.launcher import Launcher, start

REQUESTS = int(os.environ.get("LOAD_REQUESTS", "5000"))
CONCURRENCY = int(os.environ.get("LOAD_CONCURRENCY", "50"))
TIME_LIMIT = float(os.environ.get("LOAD_TIME_LIMIT", "120"))


@dataclass
class Result:
    ok: int = 0
    bytes: int = 0
    failures: list[str] = field(default_factory=list)
    elapsed: float = 0.0


def fetch(port: int, path: str) -> tuple[int, int]:
    """One request on a new connection: (status, body length); raises on an incomplete one."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
        sock.sendall(request.encode())
        chunks = []
        while True:
            data = sock.recv(65536)
            if not data:
                break
            chunks.append(data)
    raw = b"".join(chunks)
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        raise ValueError(f"no complete header block in {len(raw)} bytes")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = dict(line.split(":", 1) for line in lines[1:])
    lengths = [v.strip() for k, v in headers.items() if k.strip().lower() == "content-length"]
    if len(lengths) != 1:
        raise ValueError(f"expected one Content-Length header, got {lengths}")
    if int(lengths[0]) != len(body):
        raise ValueError(f"Content-Length {lengths[0]} but {len(body)} body bytes")
    return status, len(body)


def run_load(port: int, path: str = "/") -> Result:
    """``REQUESTS`` requests from ``CONCURRENCY`` threads, stopping at ``TIME_LIMIT``."""
    result = Result()
    lock = threading.Lock()
    issued = 0
    deadline = time.monotonic() + TIME_LIMIT

    def worker() -> None:
        nonlocal issued
        while time.monotonic() < deadline:
            with lock:
                if issued >= REQUESTS:
                    return
                issued += 1
            try:
                status, size = fetch(port, path)
            except (OSError, ValueError) as exc:
                with lock:
                    result.failures.append(repr(exc))
                continue
            with lock:
                if status == 200:
                    result.ok += 1
                    result.bytes += size
                else:
                    result.failures.append(f"status {status}")

    threads = [threading.Thread(target=worker) for _ in range(CONCURRENCY)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIME_LIMIT + 60)
    result.elapsed = time.monotonic() - started
    return result


@pytest.fixture
def served() -> Iterator[list[Launcher]]:
    running: list[Launcher] = []
    yield running
    for launcher in running:
        launcher.close()


def check(result: Result, what: str) -> None:
    rate = result.ok / result.elapsed if result.elapsed else 0.0
    print(
        f"\n{what}: {result.ok}/{REQUESTS} complete responses, {len(result.failures)} failed, "
        f"{result.elapsed:.1f} s ({rate:.0f} requests/s, concurrency {CONCURRENCY})"
    )
    assert result.failures == [], f"{len(result.failures)} failed: {result.failures[:5]}"
    assert result.ok == REQUESTS, f"only {result.ok} of {REQUESTS} in {TIME_LIMIT:.0f} s"


def test_default_site_under_load(served: list[Launcher], tmp_path: Path) -> None:
    launcher = start(tmp_path)
    served.append(launcher)
    result = run_load(launcher.port)
    check(result, "default site, 1 sync worker")
    assert result.bytes >= REQUESTS * 1000  # the whole page, not an error stub


def test_flask_app_with_two_workers_under_load(served: list[Launcher], tmp_path: Path) -> None:
    write(tmp_path, {"app.py": flask_app("app", "hello under load")})
    launcher = start(tmp_path, env={"GUNICORN_CMD_ARGS": "--workers=2"})
    served.append(launcher)
    result = run_load(launcher.port)
    check(result, "Flask app, 2 sync workers")
    assert result.bytes == REQUESTS * len(b"hello under load")
    assert launcher.log().count("Booting worker with pid") == 2
