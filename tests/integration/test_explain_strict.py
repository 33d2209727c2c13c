"""``--explain`` never runs user code; ``--strict`` / ``APPSVC_STRICT=1`` stop the real
launcher with exit status 1 and the same one line as ``--explain``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.helpers import flask_app, write
from tests.integration.conftest import Start

# Each file writes a marker next to itself and stops the process if it is ever run.
TRAP = "open(__file__ + '.ran', 'w').close()\nraise SystemExit('user code was run: ' + __file__)\n"
# Modules the launcher imports after start-up: from an app folder first on sys.path (as
# ``python -m`` run from the app folder puts it), these files would be imported instead.
SHADOWS = ("json", "argparse", "shlex", "logging", "ast", "dataclasses", "textwrap", "socket")


def run_launcher(
    args: list[str], cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "appservice_gunicorn", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "GUNICORN_CMD_ARGS": "", "APPSVC_STRICT": "", **(env or {})},
    )


def test_explain_runs_no_user_code(tmp_path: Path) -> None:
    files = {
        "manage.py": TRAP + "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'mysite.settings')\n",
        "mysite/__init__.py": TRAP,
        "mysite/settings.py": TRAP + "WSGI_APPLICATION = 'mysite.wsgi.application'\n",
        "mysite/wsgi.py": TRAP + "application = None\n",
        "app.py": TRAP + flask_app(),
        "hooks.py": TRAP + "def on_starting(server):\n    pass\n",
        "gunicorn.conf.py": TRAP
        + "keepalive = 13\non_starting = 'hooks.on_starting'\nworkers = len(open('x').read())\n",
        "startup.txt": "gunicorn --timeout 90 mysite.wsgi:application\n",
        **{f"{name}.py": TRAP for name in SHADOWS},
    }
    write(tmp_path, files)
    # Run from the app folder, as a container's WORKDIR would be, with no --app-dir.
    result = run_launcher(["--explain", "--json", "startup.txt"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.rglob("*.ran")) == []
    assert "user code was run" not in result.stderr
    data = json.loads(result.stdout)
    assert (data["app"], data["kind"]) == ("mysite.wsgi:application", "wsgi")
    assert data["settings"]["keepalive"] == {"value": 13, "source": "gunicorn.conf.py"}
    assert data["settings"]["timeout"] == {"value": 90, "source": "startup"}
    assert "on_starting" not in data["settings"]


def test_the_trap_does_fire_when_code_is_run(launch: Start, tmp_path: Path) -> None:
    """The same trap does fire when the launcher serves: the test above would see it."""
    write(tmp_path, {"gunicorn.conf.py": TRAP + "keepalive = 13\n"})
    launcher = launch(tmp_path, wait=False)
    assert launcher.wait(timeout=30) == 1
    assert (tmp_path / "gunicorn.conf.py.ran").is_file()
    assert "user code was run" in launcher.log()


BAD_STARTUP = {"startup.txt": "gunicorn --wrokers=4 hello:myapp\n", "app.py": flask_app()}
STRICT_LINE = (
    "startup.txt: unknown gunicorn option '--wrokers=4'; fix or remove it "
    "(see 'gunicorn --help') (strict mode: not falling back)"
)


@pytest.mark.parametrize(("args", "env"), [(["--strict"], {}), ([], {"APPSVC_STRICT": "1"})])
def test_strict_launcher_exits_1_with_one_line(
    launch: Start, tmp_path: Path, args: list[str], env: dict[str, str]
) -> None:
    write(tmp_path, BAD_STARTUP)
    launcher = launch(tmp_path, "startup.txt", env, args=args, wait=False)
    assert launcher.wait(timeout=30) == 1
    log = launcher.log()
    errors = [line for line in log.splitlines() if "[ERROR]" in line]
    assert len(errors) == 1, log
    assert errors[0].endswith("[ERROR] " + STRICT_LINE)
    assert "Booting worker" not in log and "Listening at" not in log

    explained = run_launcher(
        ["--explain", *args, "--app-dir", str(tmp_path), "startup.txt"], cwd=tmp_path, env=env
    )
    assert explained.returncode == 1
    assert explained.stderr == f"Error: {STRICT_LINE}\n"


def test_default_mode_goes_on_down_the_chain_loudly(launch: Start, tmp_path: Path) -> None:
    write(tmp_path, BAD_STARTUP)
    launcher = launch(tmp_path, "startup.txt")
    with urllib.request.urlopen(launcher.url + "/", timeout=10) as response:
        assert response.read().decode() == "hello from flask"
    assert "startup.txt: unknown gunicorn option '--wrokers=4'" in launcher.log()
    explained = run_launcher(["--explain", "--app-dir", str(tmp_path), "startup.txt"], tmp_path)
    assert explained.returncode == 0
    assert "Decision: serve app:app (WSGI)" in explained.stdout
