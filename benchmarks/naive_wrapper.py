"""The naive approach, for comparison: a Python script that finds the app by walking the
whole folder (as ``find . -name wsgi.py`` would) and runs gunicorn in a subprocess.

    python benchmarks/naive_wrapper.py --app-dir DIR [--explain]

It forwards gunicorn's signals to the child and exits with its status. It exists only to
show what the launcher's in-process loading and pruned detection save.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass
from types import FrameType

APP_FILES = ("application.py", "app.py", "run.py", "index.py", "server.py", "main.py")
APP_OBJECT = re.compile(r"^(app|application)\s*=", re.MULTILINE)
DEFAULTSITE_DIR = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "defaultsite"
)
FORWARDED = (
    signal.SIGTERM,
    signal.SIGINT,
    signal.SIGQUIT,
    signal.SIGHUP,
    signal.SIGTTIN,
    signal.SIGTTOU,
    signal.SIGUSR1,
    signal.SIGUSR2,
)


@dataclass(frozen=True)
class Found:
    app: str
    extra: tuple[str, ...]
    dirs_listed: int


def find_app(app_dir: str) -> Found:
    """The first ``wsgi.py`` (shallowest, then sorted), else a Flask-style file, else the
    default site; every folder below ``app_dir`` is listed."""
    listed = 0
    wsgi_files: list[str] = []
    for root, dirs, files in os.walk(app_dir):
        listed += 1
        dirs.sort()
        if "wsgi.py" in files:
            wsgi_files.append(os.path.relpath(os.path.join(root, "wsgi.py"), app_dir))
    if wsgi_files:
        chosen = min(wsgi_files, key=lambda p: (p.count(os.sep), p))
        module = chosen.removesuffix(".py").replace(os.sep, ".")
        return Found(f"{module}:application", (), listed)
    for name in APP_FILES:
        path = os.path.join(app_dir, name)
        if not os.path.isfile(path):
            continue
        with open(path, encoding="utf-8", errors="replace") as handle:
            source = handle.read()
        match = APP_OBJECT.search(source)
        if match:
            # What a wrapper written by hand would do for FastAPI: gunicorn's ASGI worker.
            extra = ("-k", "asgi") if "fastapi" in source else ()
            return Found(f"{name.removesuffix('.py')}:{match.group(1)}", extra, listed)
    return Found("application:app", ("--pythonpath", DEFAULTSITE_DIR), listed)


def plain_gunicorn(app_dir: str, app: str, extra: tuple[str, ...] = ()) -> list[str]:
    """gunicorn started by hand with the launcher's defaults: the benchmarks' reference."""
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "--timeout",
        "600",
        "--access-logfile",
        "-",
        "--error-logfile",
        "-",
        "--chdir",
        app_dir,
        *extra,
        app,
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--app-dir", default=os.environ.get("APP_PATH") or os.getcwd())
    parser.add_argument("--explain", action="store_true")
    args = parser.parse_args(argv)
    app_dir = os.path.abspath(args.app_dir)
    found = find_app(app_dir)
    if args.explain:
        print(f"app: {found.app}\ndirectories listed: {found.dirs_listed}")
        return 0
    command = plain_gunicorn(app_dir, found.app, found.extra)
    child = subprocess.Popen(command)

    def forward(signum: int, frame: FrameType | None) -> None:
        child.send_signal(signum)

    for signum in FORWARDED:
        signal.signal(signum, forward)
    status = child.wait()
    return 128 - status if status < 0 else status


if __name__ == "__main__":
    sys.exit(main())
