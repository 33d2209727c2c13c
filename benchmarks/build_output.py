"""A new container started from App Service's compressed build output, against the
platform's own way, and memory as the app warms.

The archive is a real virtualenv (django, flask, fastapi, uvicorn, pandas, requests,
sqlalchemy; byte-compiled, as Oryx's pip leaves it), built once with uv and kept in
``benchmarks/.work``.  Variants, interleaved and rotated round by round:

- ``launcher``: ``python -m appservice_gunicorn`` on the folder (``oryx-manifest.toml`` +
  ``antenv.tar.gz``), with an empty extraction folder: a new container;
- ``platform``: what App Service's startup script does: ``tar -xzf`` into a folder, then
  gunicorn with the virtualenv's site-packages on ``PYTHONPATH``;
- ``cached``: the launcher again, its extraction kept from an earlier start (a restart);
- ``unpacked``: the launcher on a folder whose virtualenv is not compressed.

Each sample starts from written-back page cache (``sync`` before it), so that one
variant's writes are not paid by the next.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from .harness import http_status, process_tree, spawn, stop, wait_for_200
from .naive_wrapper import plain_gunicorn

PACKAGES = ("django", "flask", "fastapi", "uvicorn", "pandas", "requests", "sqlalchemy")
APP = """\
from flask import Flask

import pandas  # noqa: F401 - a realistic import at start: the data stack
import sqlalchemy  # noqa: F401

app = Flask(__name__)


@app.route("/")
def index():
    return "hello from the compressed virtualenv"
"""
MANIFEST = 'virtualEnvName="antenv"\ncompressedVirtualEnvFile="antenv.tar.gz"\n'
START_VARIANTS = ("launcher", "platform")
RESTART_VARIANTS = ("cached", "unpacked")


def folders(work: Path) -> tuple[Path, Path]:
    """The compressed app folder and the unpacked one (built once)."""
    base = work / "build-output"
    compressed, unpacked = base / "compressed", base / "unpacked"
    marker = base / ".complete"
    if marker.is_file():
        return compressed, unpacked
    shutil.rmtree(base, ignore_errors=True)
    unpacked.mkdir(parents=True)
    venv = unpacked / "antenv"
    subprocess.run(["uv", "venv", "-q", "--python", sys.executable, str(venv)], check=True)
    subprocess.run(
        [
            "uv",
            "pip",
            "install",
            "-q",
            "--compile-bytecode",
            "--python",
            str(venv / "bin/python"),
            *PACKAGES,
        ],
        check=True,
    )
    (unpacked / "app.py").write_text(APP)
    compressed.mkdir()
    (compressed / "app.py").write_text(APP)
    (compressed / "oryx-manifest.toml").write_text(MANIFEST)
    subprocess.run(
        ["tar", "-czf", str(compressed / "antenv.tar.gz"), "-C", str(venv), "."], check=True
    )
    marker.touch()
    return compressed, unpacked


def describe(work: Path) -> str:
    compressed, unpacked = folders(work)
    files = sum(1 for _ in (unpacked / "antenv").rglob("*"))
    size = (compressed / "antenv.tar.gz").stat().st_size / 1024 / 1024
    return f"{files:,} entries, {size:.0f} MiB compressed ({', '.join(PACKAGES)})"


def _platform_command(folder: Path, target: Path) -> list[str]:
    site = f"{target}/lib/python{sys.version_info[0]}.{sys.version_info[1]}/site-packages"
    gunicorn = " ".join(plain_gunicorn(str(folder), "app:app"))
    return [
        "/bin/sh",
        "-c",
        f"mkdir -p {target} && tar -xzf {folder}/antenv.tar.gz -C {target} && "
        f"PYTHONPATH={site} exec {gunicorn}",
    ]


def first_200(
    work: Path, logs: Path, rounds: int, say: Callable[[str], None]
) -> dict[str, list[float]]:
    """Milliseconds from spawn to the first 200, for each variant."""
    compressed, unpacked = folders(work)
    cache = work / "build-output" / "extract"
    samples: dict[str, list[float]] = {v: [] for v in (*START_VARIANTS, *RESTART_VARIANTS)}
    launcher = [sys.executable, "-m", "appservice_gunicorn", "--app-dir"]
    for index in range(rounds):
        order = [*START_VARIANTS, *RESTART_VARIANTS]
        order = order[index % len(order) :] + order[: index % len(order)]
        for variant in order:
            extra = {"APPSVC_EXTRACT_DIR": str(cache)}
            if variant in ("launcher", "platform"):
                shutil.rmtree(cache, ignore_errors=True)  # a new container: nothing kept
            elif variant == "cached" and not any(cache.glob("antenv-*")):
                _warm([*launcher, str(compressed)], logs, extra)  # the extraction to reuse
            subprocess.run(["sync"], check=False)
            argv = {
                "launcher": [*launcher, str(compressed)],
                "platform": _platform_command(compressed, cache / "antenv"),
                "cached": [*launcher, str(compressed)],
                "unpacked": [*launcher, str(unpacked)],
            }[variant]
            server = spawn(f"bo-{variant}", argv, 1, logs, extra)
            try:
                samples[variant].append(wait_for_200(server, timeout=300) * 1000)
            finally:
                stop(server)
        say(
            f"  round {index + 1}/{rounds}: "
            + ", ".join(f"{v} {samples[v][-1]:.0f} ms" for v in samples)
        )
    shutil.rmtree(cache, ignore_errors=True)
    return samples


def _warm(argv: list[str], logs: Path, extra: dict[str, str]) -> None:
    server = spawn("bo-warm", argv, 1, logs, extra)
    try:
        wait_for_200(server, timeout=300)
    finally:
        stop(server)


def warm_pss(
    apps: list[tuple[str, Callable[[str], list[str]]]],
    logs: Path,
    rounds: int,
    requests: int,
    workers: int = 4,
) -> dict[str, dict[str, list[float]]]:
    """Summed PSS (MiB) of the tree after ``requests`` requests spread over the workers."""
    found: dict[str, dict[str, list[float]]] = {}
    for name, command in apps:
        samples: dict[str, list[float]] = {"launcher": [], "gunicorn": []}
        for index in range(rounds):
            for variant in ("launcher", "gunicorn") if index % 2 == 0 else ("gunicorn", "launcher"):
                server = spawn(f"warm-{name}-{variant}", command(variant), workers, logs)
                try:
                    wait_for_200(server)
                    for _ in range(requests):
                        http_status(server.port)
                    time.sleep(1.0)
                    samples[variant].append(_pss_mib(server.process.pid))
                finally:
                    stop(server)
        found[name] = samples
    return found


def _pss_mib(pid: int) -> float:
    total = 0
    for member in process_tree(pid):
        try:
            text = Path(f"/proc/{member}/smaps_rollup").read_text()
        except OSError:
            continue
        for line in text.splitlines():
            if line.startswith("Pss:"):
                total += int(line.split()[1])
    return total / 1024
