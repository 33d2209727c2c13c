"""Every file the detection and the build-output reader open: a FIFO or a device in its
place never hangs or fills memory; it is skipped or named in one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import flask_app, write

# Each file the readers open, with the folder that makes the reader reach it.
READ = {
    ".flaskenv": {},
    "Procfile": {},
    "startup.txt": {},
    "gunicorn.conf.py": {},
    "oryx-manifest.toml": {},
    "manage.py": {"mysite/__init__.py": "", "mysite/wsgi.py": "application = None\n"},
    "mysite/settings.py": {
        "manage.py": "import os\n"
        "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'mysite.settings')\n",
        "mysite/__init__.py": "",
        "mysite/wsgi.py": "application = None\n",
    },
    "app.py": {},
    "application.py": {"app.py": flask_app()},
    "antenv/pyvenv.cfg": {"antenv/bin/python": "", "antenv/lib/python3.11/site-packages/x": ""},
}
EXPLAIN = [sys.executable, "-m", "appservice_gunicorn", "--explain", "--json"]


def special(path: Path, kind: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if kind == "fifo":
        os.mkfifo(path)
    else:
        path.symlink_to("/dev/zero")


@pytest.mark.parametrize("kind", ["fifo", "/dev/zero"])
@pytest.mark.parametrize("name", sorted(READ))
def test_a_special_file_in_a_readers_place_is_never_waited_on(
    tmp_path: Path, name: str, kind: str
) -> None:
    write(tmp_path, {"requirements.txt": "", **READ[name]})
    special(tmp_path / name, kind)
    startup = ["startup.txt"] if name == "startup.txt" else []
    result = subprocess.run(
        [*EXPLAIN, "--app-dir", str(tmp_path), *startup],
        capture_output=True,
        text=True,
        timeout=30,  # a reader that waits on the FIFO or reads /dev/zero fails here
        cwd="/",
        env={**os.environ, "GUNICORN_CMD_ARGS": ""},
    )
    assert "Traceback" not in result.stderr, result.stderr
    assert "MemoryError" not in result.stderr
    explained = json.loads(result.stdout)
    assert explained["rules"][-1]["matched"] is True


def test_a_flaskenv_that_is_no_regular_file_is_named_in_a_note(tmp_path: Path) -> None:
    special(tmp_path / ".flaskenv", "fifo")
    result = subprocess.run(
        [*EXPLAIN, "--app-dir", str(tmp_path)], capture_output=True, text=True, timeout=30
    )
    notes = json.loads(result.stdout)["notes"]
    assert ".flaskenv is not a regular file (a FIFO or a device): it is not read" in notes
