"""Start the real launcher on a free loopback port, for tests of apps and project templates.

    from appservice_gunicorn.testing import serve

    def test_my_template_is_served(tmp_path):
        render_template(tmp_path)
        with serve(tmp_path) as server:
            assert urllib.request.urlopen(server.url).status == 200
            assert "rule django" in server.log()

The launcher runs in a subprocess (it is a server with signals and workers), binds
127.0.0.1 only, and is stopped with SIGTERM as an orchestrator would.  The public API is
``serve()``, the ``Server`` it yields and ``LauncherFailed``; the rest serves this
project's own tests and may change.
"""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

__all__ = ["LauncherFailed", "Server", "serve"]
# A port found free may be taken before the launcher binds it: start again, on another.
PORT_ATTEMPTS = 3


class LauncherFailed(RuntimeError):
    """The launcher exited or did not answer in time; the message holds its log."""


class Server(str):
    """A running launcher, as its base URL (a ``str``, so ``url + "/path"`` works), with
    ``url`` and ``log()``: everything the launcher and the app wrote so far."""

    _launcher: "Launcher"

    def __new__(cls, launcher: "Launcher") -> "Server":
        server = super().__new__(cls, launcher.url)
        server._launcher = launcher
        return server

    @property
    def url(self) -> str:
        return str(self)

    def log(self) -> str:
        return self._launcher.log()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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


def launcher_env(port: int, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a test launcher: loopback bind on ``port``, plus ``env``."""
    merged = dict(os.environ)
    merged.update(env or {})
    merged["PORT"] = str(port)
    # Loopback only: gunicorn reads this (and so does a gunicorn run by a startup command).
    cmd_args = merged.get("GUNICORN_CMD_ARGS", "")
    if "--bind" not in cmd_args and "-b " not in cmd_args:
        cmd_args = f"--bind=127.0.0.1:{port} {cmd_args}".strip()
    merged["GUNICORN_CMD_ARGS"] = cmd_args
    # And HOST, which the launcher gives to a supervised command (uvicorn --host $HOST).
    merged.setdefault("HOST", "127.0.0.1")
    merged.setdefault("PYTHONUNBUFFERED", "1")
    return merged


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
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if launcher.process.poll() is not None:
            raise LauncherFailed(
                f"launcher exited with status {launcher.process.returncode} before answering; "
                f"its log:\n{launcher.log()}"
            )
        try:
            with urllib.request.urlopen(launcher.url + path, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answered: an error page is an answer
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            time.sleep(0.05)
    raise LauncherFailed(
        f"launcher did not answer on {launcher.url} in {timeout:.0f} s; its log:\n{launcher.log()}"
    )


@contextlib.contextmanager
def serve(
    path: str | os.PathLike[str],
    startup: str | Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    *,
    timeout: float = 30.0,
) -> Iterator[Server]:
    """Serve ``path`` with the real launcher; yield the ``Server`` (its URL and log) once
    it answers HTTP; stop it with SIGTERM at the end.  ``LauncherFailed`` (with the log)
    when it exits first or does not answer within ``timeout`` seconds."""
    launcher = start(path, startup, env, timeout=timeout)
    try:
        yield Server(launcher)
    finally:
        launcher.close()
