"""The launcher's first lines: its signal handlers come before anything heavy."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
import appservice_gunicorn.__main__ as entry
import appservice_gunicorn.base.boot as boot
boot.install("/")
WATCHED = {"gunicorn", "signal", "enum", "appservice_gunicorn"}
print(sorted(name for name in sys.modules if name.split(".")[0] in WATCHED))
"""


def test_the_package_and_boot_import_nothing_heavy_before_the_handlers() -> None:
    # A fresh interpreter: what `python -m appservice_gunicorn` has loaded when the
    # handlers a container's PID 1 needs are in place.
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, cwd="/"
    ).stdout
    assert out.strip() == (
        "['appservice_gunicorn', 'appservice_gunicorn.__main__', 'appservice_gunicorn.base', "
        "'appservice_gunicorn.base.boot']"
    )


def test_the_detection_api_is_still_there_lazily() -> None:
    import appservice_gunicorn
    from appservice_gunicorn.detection.chain import Detection, detect

    assert appservice_gunicorn.detect is detect
    assert appservice_gunicorn.Detection is Detection


STOP_LOST = """
import os, signal, sys
import appservice_gunicorn.base.boot as boot
import appservice_gunicorn.cli as cli
from appservice_gunicorn.__main__ import main as entry

def main():
    try:
        os.kill(os.getpid(), signal.SIGTERM)  # the handler raises at the next bytecode
        for _ in range(1000):
            pass
    except BaseException:
        {lost}
    boot.started(forking=True)  # the master, about to serve
    return 5

cli.main = main
entry()
"""


def _run_probe(lost: str) -> subprocess.CompletedProcess[str]:
    code = STOP_LOST.replace("{lost}", lost)
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd="/"
    )


def test_a_stop_whose_exception_a_c_extension_turned_into_another_still_stops_quietly() -> None:
    # What _ssl does when SIGTERM arrives while it imports _socket (seen in a test run).
    result = _run_probe("raise ImportError('PyCapsule_Import could not import module \"_socket\"')")
    assert (result.returncode, "Traceback" in result.stderr) == (0, False), result.stderr
    assert "SIGTERM received while starting; exiting" in result.stderr


def test_a_stop_whose_exception_was_swallowed_still_stops_before_serving() -> None:
    result = _run_probe("pass  # code that catches ImportError and goes on")
    assert result.returncode == 0, result.stderr


def test_importing_the_package_leaves_sys_path_alone(tmp_path: object) -> None:
    """The entry point drops the working folder from sys.path; a mere import does not."""
    code = (
        "import sys; before = list(sys.path); import appservice_gunicorn, "
        "appservice_gunicorn.__main__; print(sys.path == before)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd="/"
    ).stdout
    assert out.strip() == "True"
