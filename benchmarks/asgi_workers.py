"""Which worker serves ASGI apps: gunicorn's native ``asgi`` worker (the launcher's choice)
against uvicorn's, in requests per CPU second of the server's process tree.

Three variants serve the same FastAPI app, interleaved and rotated round by round:
plain gunicorn ``-k asgi``; the launcher as it chooses (native ``asgi``, with the wrapper
that logs the app's unhandled exceptions); the launcher told ``-k
uvicorn.workers.UvicornWorker``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from .apps import BenchApp, fastapi_app
from .harness import median, running, tree_cpu_ms, wait_for_200, wait_for_processes
from .naive_wrapper import plain_gunicorn

VARIANTS = ("gunicorn -k asgi", "launcher (native asgi)", "launcher -k UvicornWorker")


def command(variant: str, app: BenchApp) -> list[str]:
    launcher = [sys.executable, "-m", "appservice_gunicorn", "--app-dir", str(app.folder)]
    if variant == VARIANTS[0]:
        return plain_gunicorn(str(app.folder), app.gunicorn_app, app.gunicorn_extra)
    if variant == VARIANTS[1]:
        return launcher
    return [*launcher, "gunicorn", "-k", "uvicorn.workers.UvicornWorker"]


def compare(
    work: Path,
    logs: Path,
    *,
    workers: int,
    rounds: int,
    seconds: float,
    connections: int,
    load: Callable[[int, float, int], int],
    say: Callable[[str], None],
) -> list[str]:
    """Markdown lines: requests per CPU second of each variant, and the ratios."""
    app = fastapi_app(work)
    per_cpu: dict[str, list[float]] = {v: [] for v in VARIANTS}
    for index in range(rounds):
        shift = index % len(VARIANTS)
        for variant in [*VARIANTS[shift:], *VARIANTS[:shift]]:
            with running(f"asgi-{index}", command(variant, app), workers, logs) as server:
                wait_for_200(server)
                wait_for_processes(server, workers + 1)
                load(server.port, 2, connections)  # warm-up
                before = tree_cpu_ms(server.process.pid)
                requests = load(server.port, seconds, connections)
                cpu_seconds = (tree_cpu_ms(server.process.pid) - before) / 1000
                per_cpu[variant].append(requests / cpu_seconds)
        say(f"  round {index + 1}/{rounds}: " + _last(per_cpu))
    return table(per_cpu, workers, connections, seconds)


def _last(per_cpu: dict[str, list[float]]) -> str:
    return ", ".join(f"{v} {s[-1]:.0f}" for v, s in per_cpu.items() if s)


def table(
    per_cpu: dict[str, list[float]], workers: int, connections: int, seconds: float
) -> list[str]:
    base = median(per_cpu[VARIANTS[0]])
    lines = [
        f"FastAPI `async def` hello, {workers} workers, wrk with {connections} connections for "
        f"{seconds:g} s; requests per CPU second of the server's process tree (min / median / "
        "max), and the median's ratio to plain gunicorn `-k asgi`.",
        "",
        "| Server | req/CPU s | ratio |",
        "| --- | ---: | ---: |",
    ]
    for variant in VARIANTS:
        samples: Sequence[float] = per_cpu[variant]
        lines.append(
            f"| {variant} | {min(samples):.0f} / {median(samples):.0f} / {max(samples):.0f} "
            f"| {median(samples) / base:.3f} |"
        )
    return lines
