"""This project's own handle on a launcher under test: its process (to signal and wait
on), port and log, with the options its tests need (a port of their own, arguments, a
command such as ``unshare`` before it, no wait).  Framework authors use
``appservice_gunicorn.testing.serve()``, built on the same private pieces."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from appservice_gunicorn.testing import (
    LauncherFailed,
    Server,
    _environment,
    _free_port,
    _wait_for_answer,
)

# A port found free may be taken before the launcher binds it: start again, on another.
PORT_ATTEMPTS = 3
free_port = _free_port


def launcher_env(port: int, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The testing API's environment, without byte code written: tests rewrite an app's
    file within a second at the same size, and Python would then import the stale .pyc."""
    return _environment(port, {"PYTHONDONTWRITEBYTECODE": "1", **(env or {})})


@dataclass
class Launcher:
    """A running launcher: its URL, process and log."""

    url: str
    port: int
    process: subprocess.Popen[bytes]
    log_file: IO[bytes]
    argv: list[str] = field(default_factory=list)

    def log(self) -> str:
        self.log_file.flush()
        return Path(self.log_file.name).read_text(errors="replace")

    def send(self, signum: int) -> None:
        self.process.send_signal(signum)

    def wait(self, timeout: float) -> int:
        return self.process.wait(timeout)

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        """Signal the launcher and wait; kill its whole process group if it hangs."""
        if self.process.poll() is None:
            self.process.send_signal(signum)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(5)
        return self.process.returncode

    def close(self) -> None:
        self.stop()
        # Leftover workers share the process group; none may outlive a test.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.log_file.close()
        with contextlib.suppress(OSError):
            os.unlink(self.log_file.name)


def start(
    path: str | os.PathLike[str],
    startup: str | Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    *,
    port: int | None = None,
    args: Sequence[str] = (),
    ready_path: str = "/",
    timeout: float = 30.0,
    wait: bool = True,
    popen_kwargs: Mapping[str, Any] | None = None,
    command: Sequence[str] | None = None,
) -> Launcher:
    """Start the launcher for ``path`` and, with ``wait``, return once it answers HTTP.

    ``command`` replaces ``python -m appservice_gunicorn`` (e.g. to run it under unshare).
    """
    words = [startup] if isinstance(startup, str) else list(startup or ())
    argv = [
        *(command or [sys.executable, "-m", "appservice_gunicorn"]),
        "--app-dir",
        str(path),
        *args,
        *words,
    ]
    for attempt in range(1, PORT_ATTEMPTS + 1):
        launcher = _spawn(
            argv, port or free_port(), env, {"cwd": str(path), **(popen_kwargs or {})}
        )
        if not wait:
            return launcher
        try:
            wait_until_ready(launcher, ready_path, timeout)
            return launcher
        except LauncherFailed as failed:
            launcher.close()
            taken = port is None and "Address already in use" in str(failed)
            if not taken or attempt == PORT_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


def _spawn(
    argv: list[str], port: int, env: Mapping[str, str] | None, popen_kwargs: Mapping[str, Any]
) -> Launcher:
    log_file = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed by Launcher.close()
        prefix="appservice-gunicorn-", suffix=".log", delete=False
    )
    # cwd is the app folder, like a container's WORKDIR; `python -m` then imports the
    # installed package, not a checkout that happens to be the test's working directory.
    process = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        env=launcher_env(port, env),
        start_new_session=True,
        **popen_kwargs,
    )
    return Launcher(
        url=f"http://127.0.0.1:{port}", port=port, process=process, log_file=log_file, argv=argv
    )


def wait_until_ready(launcher: Launcher, path: str = "/", timeout: float = 30.0) -> None:
    launcher.log_file.flush()
    _wait_for_answer(launcher.process, Server(launcher.url, launcher.log_file.name), path, timeout)
