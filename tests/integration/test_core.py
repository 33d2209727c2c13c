"""The real launcher serves what each rule of the chain detects, with its settings."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import flask_app, write
from tests.integration.conftest import Start
from tests.launcher import free_port


def get(url: str) -> tuple[int, str, str]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.headers["Content-Type"], response.read().decode()


def test_empty_folder_serves_default_site_and_sigterm_exits_0(
    launch: Start, tmp_path: Path
) -> None:
    launcher = launch(tmp_path)
    status, ctype, body = get(launcher.url + "/")
    assert status == 200
    assert ctype.startswith("text/html")
    assert "no app was found" in body
    assert launcher.stop(signal.SIGTERM) == 0
    assert "serving the default site" in launcher.log()
    # The hint explains this folder, wherever it is run from.
    assert f"run 'python -m appservice_gunicorn --explain --app-dir {tmp_path}'" in launcher.log()


def explain_json(app_dir: Path, *startup: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "appservice_gunicorn",
            "--explain",
            "--json",
            "--app-dir",
            str(app_dir),
            *startup,
        ],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **(env or {})},
        cwd=app_dir,
    )
    data: dict[str, Any] = json.loads(result.stdout)
    return data


@pytest.mark.parametrize(
    ("env", "bind"),
    [
        ({}, "0.0.0.0:8000"),
        ({"PORT": "9123"}, "0.0.0.0:9123"),
        ({"WEBSITES_PORT": "9124"}, "0.0.0.0:9124"),
        ({"PORT": "9125", "WEBSITES_PORT": "9124"}, "0.0.0.0:9125"),
    ],
)
def test_default_bind_follows_port_variables(
    tmp_path: Path, env: dict[str, str], bind: str
) -> None:
    clean = {"PORT": "", "WEBSITES_PORT": "", "GUNICORN_CMD_ARGS": "", **env}
    assert explain_json(tmp_path, env=clean)["settings"]["bind"]["value"] == [bind]


def test_port_variable_in_startup_command_is_expanded(launch: Start, tmp_path: Path) -> None:
    write(tmp_path, {"hello.py": flask_app("myapp", "port expanded")})
    port = free_port()
    launch(tmp_path, ["gunicorn", "--bind=127.0.0.1:$PORT", "hello:myapp"], port=port)
    assert get(f"http://127.0.0.1:{port}/")[2] == "port expanded"


def test_django_startproject_is_served(launch: Start, tmp_path: Path) -> None:
    django_admin = [sys.executable, "-m", "django", "startproject", "mysite", str(tmp_path)]
    subprocess.run(django_admin, check=True)
    settings = tmp_path / "mysite" / "settings.py"
    # DEBUG's "install worked" page needs a loopback host to be allowed.
    settings.write_text(settings.read_text() + "\nALLOWED_HOSTS = ['127.0.0.1']\n")
    launcher = launch(tmp_path)
    status, _, page = get(launcher.url + "/")
    assert status == 200
    assert "The install worked successfully" in page
    assert "mysite.wsgi:application" in launcher.log()


def test_flask_application_py_is_served(launch: Start, tmp_path: Path) -> None:
    write(tmp_path, {"application.py": flask_app("app", "flask says hi")})
    launcher = launch(tmp_path)
    assert get(launcher.url + "/")[2] == "flask says hi"
    assert "application:app" in launcher.log()


def test_startup_file_with_gunicorn_command(launch: Start, tmp_path: Path) -> None:
    port = free_port()
    write(
        tmp_path,
        {
            "hello.py": flask_app("myapp", "hello myapp"),
            "startup.txt": (
                f"gunicorn --bind=127.0.0.1:{port} --timeout 30 --workers=2 hello:myapp\n"
            ),
            "gunicorn.conf.py": """
                import json, os
                def when_ready(server):
                    cfg = server.cfg
                    print("EFFECTIVE " + json.dumps(
                        {"bind": cfg.bind, "timeout": cfg.timeout, "workers": cfg.workers}
                    ), flush=True)
            """,
        },
    )
    launcher = launch(tmp_path, "startup.txt", port=port)
    assert get(launcher.url + "/")[2] == "hello myapp"
    deadline = time.monotonic() + 15
    booted: set[str] = set()
    while time.monotonic() < deadline:
        log = launcher.log()
        booted = set(re.findall(r"Booting worker with pid: (\d+)", log))
        if "EFFECTIVE" in log and len(booted) >= 2:
            break
        time.sleep(0.1)
    effective = re.search(r"EFFECTIVE (.*)", log)
    assert effective is not None, log
    assert json.loads(effective.group(1)) == {
        "bind": [f"127.0.0.1:{port}"],
        "timeout": 30,
        "workers": 2,
    }
    assert len(booted) == 2


def test_startup_file_with_unknown_option_falls_through(launch: Start, tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "startup.txt": "gunicorn --wrokers=4 hello:myapp\n",
            "application.py": flask_app("app", "fallback app"),
        },
    )
    launcher = launch(tmp_path, "startup.txt")
    assert get(launcher.url + "/")[2] == "fallback app"
    error_lines = [line for line in launcher.log().splitlines() if "[ERROR]" in line]
    assert len(error_lines) == 1
    assert "startup.txt" in error_lines[0] and "--wrokers" in error_lines[0]


def test_application_raising_at_import_exits_non_zero(launch: Start, tmp_path: Path) -> None:
    write(tmp_path, {"application.py": "raise RuntimeError('database URL missing')\napp = None\n"})
    launcher = launch(tmp_path, wait=False)
    status = launcher.wait(timeout=30)
    assert status != 0
    log = launcher.log()
    assert "application" in log
    assert "RuntimeError: database URL missing" in log


def test_virtualenv_wsgi_files_are_never_chosen(launch: Start, tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "antenv/pyvenv.cfg": "home = /usr/bin\n",
            "antenv/site/wsgi.py": "raise SystemExit('venv wsgi imported')\n",
            "env2/pyvenv.cfg": "home = /usr/bin\n",
            "env2/pkg/wsgi.py": "raise SystemExit('venv wsgi imported')\n",
            "application.py": flask_app("app", "the real app"),
        },
    )
    launcher = launch(tmp_path)
    assert get(launcher.url + "/")[2] == "the real app"


def test_explain_json_for_empty_folder(tmp_path: Path) -> None:
    data = explain_json(tmp_path)
    assert data["kind"] == "default"
    assert data["worker_class"] == "sync"
    assert data["settings"]["timeout"] == {"value": 600, "source": "launcher"}
