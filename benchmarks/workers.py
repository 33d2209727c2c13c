"""What preloading the framework and starting the first workers together buy, against
plain gunicorn started by hand with the same app, bind, workers and timeout:

- the time from spawn until all 4 workers have imported the app (each worker writes the
  moment to a file from gunicorn's ``post_worker_init`` hook, given to both with ``-c``);
- the summed PSS (``/proc/PID/smaps_rollup``: shared pages counted once) and RSS of the
  process tree with 4 workers, after each worker has served;
- SIGHUP to the first response from the new code (the app's answer changes on disk).

Also detect() on two wide app folders: 100,000 files at the root, 2,000 sibling folders.
"""

from __future__ import annotations

import os
import signal
import socket
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from appservice_gunicorn import detect

from .apps import BenchApp, command
from .harness import HOST, BenchError, http_status, median, process_tree, spawn, stop, wait_for_200

VARIANTS = ("launcher", "gunicorn")
MARKS_HOOK = """\
import os
import time


def post_worker_init(worker):
    with open(os.environ["BENCH_MARKS"], "a") as marks:
        marks.write(f"{time.monotonic()}\\n")
"""
VERSIONED_APP = """\
from version import TEXT


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [TEXT]
"""


def _rotated(index: int) -> list[str]:
    return list(VARIANTS[index % 2 :] + VARIANTS[: index % 2])


def all_workers_ready(
    apps: Sequence[BenchApp], work: Path, logs: Path, rounds: int, workers: int = 4
) -> dict[str, dict[str, list[float]]]:
    """Milliseconds from spawn until every worker has imported the app, per app."""
    hook = work / "marks_hook.py"
    hook.write_text(MARKS_HOOK)
    results: dict[str, dict[str, list[float]]] = {}
    for app in apps:
        samples: dict[str, list[float]] = {v: [] for v in VARIANTS}
        for index in range(rounds + 1):  # the first round warms up
            for variant in _rotated(index):
                marks = work / f"marks-{variant}.txt"
                marks.unlink(missing_ok=True)
                extra = {"BENCH_MARKS": str(marks), "BENCH_CONFIG": str(hook)}
                started = time.monotonic()
                server = spawn(f"ready-{variant}", command(variant, app), workers, logs, extra)
                try:
                    times = _wait_for_marks(server.process.pid, marks, workers)
                finally:
                    stop(server)
                if index:
                    samples[variant].append((max(times) - started) * 1000)
        results[app.name] = samples
    return results


def _wait_for_marks(pid: int, marks: Path, count: int, timeout: float = 60) -> list[float]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if marks.exists():
            times = [float(line) for line in marks.read_text().split()]
            if len(times) >= count:
                return times
        time.sleep(0.002)
    raise BenchError(f"server {pid}: {count} workers not ready in {timeout:.0f} s")


def memory(
    app: BenchApp, logs: Path, rounds: int, workers: int = 4
) -> dict[str, dict[str, list[float]]]:
    """Summed PSS and RSS (MiB) of the tree, after every worker has served."""
    pss: dict[str, list[float]] = {v: [] for v in VARIANTS}
    rss: dict[str, list[float]] = {v: [] for v in VARIANTS}
    for index in range(rounds):
        for variant in _rotated(index):
            server = spawn(f"pss-{variant}", command(variant, app), workers, logs)
            try:
                wait_for_200(server)
                for _ in range(8 * workers):
                    http_status(server.port)
                time.sleep(1.0)
                tree = process_tree(server.process.pid)
                pss[variant].append(sum(_rollup(pid, "Pss") for pid in tree) / 1024)
                rss[variant].append(sum(_rollup(pid, "Rss") for pid in tree) / 1024)
            finally:
                stop(server)
    return {"PSS": pss, "RSS": rss}


def _rollup(pid: int, field: str) -> int:
    try:
        text = Path(f"/proc/{pid}/smaps_rollup").read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


SETTLE_SECONDS = 0.5


def sighup(work: Path, logs: Path, rounds: int, workers: int = 2) -> dict[str, list[float]]:
    """Milliseconds from SIGHUP to the first answer from the changed code."""
    folder = work / "apps" / "hup"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "app.py").write_text(VERSIONED_APP)
    app = BenchApp("hup", folder, "app:app")
    samples: dict[str, list[float]] = {v: [] for v in VARIANTS}
    for index in range(rounds):
        for variant in _rotated(index):
            (folder / "version.py").write_text('TEXT = b"old"\n')
            server = spawn(f"hup-{variant}", command(variant, app), workers, logs)
            try:
                wait_for_200(server)
                # A redeploy comes after the start, not during it: gunicorn's master goes on
                # starting after the first answer (its control socket imports asyncio, some
                # 20 ms), and a SIGHUP then waits for that, whichever server it is.
                time.sleep(SETTLE_SECONDS)
                # Another size: a .pyc is checked by the source's size and mtime in
                # seconds, and this rewrite comes within the second.
                (folder / "version.py").write_text('TEXT = b"new code"\n')
                started = time.monotonic()
                os.kill(server.process.pid, signal.SIGHUP)
                while _body(server.port) != b"new code":
                    if time.monotonic() - started > 60:
                        raise BenchError(f"{variant}: no new answer 60 s after SIGHUP")
                    time.sleep(0.002)
                samples[variant].append((time.monotonic() - started) * 1000)
            finally:
                stop(server)
    return samples


def _body(port: int) -> bytes | None:
    try:
        with socket.create_connection((HOST, port), timeout=5) as sock:
            # HTTP/1.0: the body comes whole, not in chunks.
            sock.sendall(f"GET / HTTP/1.0\r\nHost: {HOST}\r\n\r\n".encode())
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
    except OSError:
        return None
    return data.partition(b"\r\n\r\n")[2]


def wide_trees(work: Path) -> list[Path]:
    """An app folder with 100,000 files at its root, and one with 2,000 sibling folders."""
    made = []
    for name, files, folders in (("flat-100k-files", 100_000, 0), ("flat-2000-dirs", 0, 2_000)):
        folder = work / "trees" / name
        marker = folder / ".bench-complete"
        if not marker.is_file():
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(files):
                os.close(os.open(folder / f"f{i:06d}.txt", os.O_CREAT | os.O_WRONLY, 0o644))
            for i in range(folders):
                (folder / f"d{i:04d}").mkdir(exist_ok=True)
                (folder / f"d{i:04d}" / "x.py").touch()
            (folder / "app.py").write_text("from flask import Flask\napp = Flask(__name__)\n")
            marker.touch()
        made.append(folder)
    return made


def detect_ms(folders: Sequence[Path], repeats: int) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {str(f.name): [] for f in folders}
    for folder in folders:
        detect(folder, env={})  # warm the cache
    for _ in range(repeats):
        for folder in folders:
            started = time.perf_counter()
            detect(folder, env={})
            timings[folder.name].append((time.perf_counter() - started) * 1000)
    return timings


def table(
    title: str,
    unit: str,
    samples: dict[str, list[float]],
    target: float,
    fmt: Callable[[float], str],
) -> str:
    launcher, gunicorn = median(samples["launcher"]), median(samples["gunicorn"])
    ratio = launcher / gunicorn
    spread = " / ".join(
        fmt(v) for v in (min(samples["launcher"]), launcher, max(samples["launcher"]))
    )
    base = " / ".join(
        fmt(v) for v in (min(samples["gunicorn"]), gunicorn, max(samples["gunicorn"]))
    )
    met = "yes" if ratio <= target else "NO"
    return f"| {title} ({unit}) | {spread} | {base} | **{ratio:.3f}** | ≤ {target:.2f} | {met} |"
