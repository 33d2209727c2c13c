"""Serve a folder with the real launcher on a free loopback port, for tests of apps and
project templates.

    from appservice_gunicorn.testing import serve

    def test_my_template_is_served(tmp_path):
        render_template(tmp_path)
        with serve(tmp_path) as server:
            assert urllib.request.urlopen(server.url).status == 200
            assert "rule django" in server.log()

The launcher runs in a subprocess (it is a server with signals and workers), binds
127.0.0.1 only, and is stopped with SIGTERM as an orchestrator would.  The public API is
``serve()``, the ``Server`` it yields and ``LauncherFailed``; the pytest fixture
``appservice_server`` (``pytest_plugin``) does the same per test.
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

__all__ = ["LauncherFailed", "Server", "serve"]
# A port found free may be taken before the launcher binds it: start again, on another.
_PORT_ATTEMPTS = 3


class LauncherFailed(RuntimeError):
    """The launcher exited or did not answer in time; the message holds its log."""


@dataclass(frozen=True)
class Server:
    """A running launcher: its base ``url`` (``http://127.0.0.1:PORT``) and ``log()``,
    everything the launcher and the app wrote so far."""

    url: str
    _log_path: str = field(repr=False)

    def log(self) -> str:
        return Path(self._log_path).read_text(errors="replace")


@contextlib.contextmanager
def serve(
    path: str | os.PathLike[str],
    startup: str | Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    *,
    timeout: float = 30.0,
) -> Iterator[Server]:
    """Serve ``path`` with the real launcher; yield the ``Server`` once it answers HTTP;
    stop it with SIGTERM at the end.  ``LauncherFailed`` (with the log) when it exits
    first or does not answer within ``timeout`` seconds."""
    process, server = _start(path, startup, env, timeout)
    try:
        yield server
    finally:
        _stop(process, server)


def _start(
    path: str | os.PathLike[str],
    startup: str | Sequence[str] | None,
    env: Mapping[str, str] | None,
    timeout: float,
) -> tuple["subprocess.Popen[bytes]", Server]:
    words = [startup] if isinstance(startup, str) else list(startup or ())
    argv = [sys.executable, "-m", "appservice_gunicorn", "--app-dir", str(path), *words]
    for attempt in range(1, _PORT_ATTEMPTS + 1):
        port = _free_port()
        with tempfile.NamedTemporaryFile(
            prefix="appservice-gunicorn-", suffix=".log", delete=False
        ) as log_file:
            # cwd is the app folder, like a container's WORKDIR.
            process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env=_environment(port, env),
                cwd=str(path),
                start_new_session=True,
            )
        server = Server(f"http://127.0.0.1:{port}", log_file.name)
        try:
            _wait_for_answer(process, server, "/", timeout)
            return process, server
        except LauncherFailed as failed:
            _stop(process, server)
            if "Address already in use" not in str(failed) or attempt == _PORT_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _environment(port: int, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a launcher under test: loopback bind on ``port``, plus ``env``."""
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


def _wait_for_answer(
    process: "subprocess.Popen[bytes]", server: Server, path: str, timeout: float
) -> None:
    """Until the launcher answers HTTP on ``path`` (an error page is an answer)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise LauncherFailed(
                f"launcher exited with status {process.returncode} before answering; "
                f"its log:\n{server.log()}"
            )
        try:
            with urllib.request.urlopen(server.url + path, timeout=2):
                return
        except urllib.error.HTTPError:
            return
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            time.sleep(0.05)
    raise LauncherFailed(
        f"launcher did not answer on {server.url} in {timeout:.0f} s; its log:\n{server.log()}"
    )


def _stop(process: "subprocess.Popen[bytes]", server: Server, grace: float = 30.0) -> None:
    """SIGTERM, as an orchestrator stops a container; then nothing of it may outlive the
    test (its workers share its process group)."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(grace)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(5)
    with contextlib.suppress(OSError):
        os.unlink(server._log_path)
