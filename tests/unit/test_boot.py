"""The launcher's first lines: its signal handlers come before anything heavy."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
import appservice_gunicorn.boot as boot
boot.install()
WATCHED = {"gunicorn", "signal", "enum", "appservice_gunicorn"}
print(sorted(name for name in sys.modules if name.split(".")[0] in WATCHED))
"""


def test_the_package_and_boot_import_nothing_heavy_before_the_handlers() -> None:
    # A fresh interpreter: what `python -m appservice_gunicorn` has loaded when the
    # handlers a container's PID 1 needs are in place.
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, cwd="/"
    ).stdout
    assert out.strip() == "['appservice_gunicorn', 'appservice_gunicorn.boot']"


def test_the_detection_api_is_still_there_lazily() -> None:
    import appservice_gunicorn
    from appservice_gunicorn.detection import Detection, detect

    assert appservice_gunicorn.detect is detect
    assert appservice_gunicorn.Detection is Detection
