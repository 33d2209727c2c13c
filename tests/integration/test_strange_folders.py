"""Detection never raises on a strange folder, as root and as an unprivileged user.

The folders are built for real (symlink loops, a root-owned ``lost+found``, names that are
not UTF-8, a FIFO where a startup file is expected) and the real launcher reads them, as
root and through ``setpriv`` as ``nobody``, which cannot read what root can.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import flask_app, write
from tests.integration.conftest import Start

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def as_nobody_problem() -> str | None:
    if os.geteuid() != 0:
        return "the tests run as an unprivileged user already: no root to compare with"
    if shutil.which("setpriv") is None:
        return "setpriv (util-linux) is not installed"
    probe = subprocess.run([*NOBODY, sys.executable, "-c", "pass"], capture_output=True)
    if probe.returncode != 0:
        return f"setpriv cannot run Python as nobody here: {probe.stderr.decode()[:200]}"
    return None


@pytest.fixture
def world(tmp_path: Path) -> Iterator[Path]:
    """A folder every user can reach (pytest's own temp folders are root's alone)."""
    folder = Path(tempfile.mkdtemp(prefix="appservice-gunicorn-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def strange_folder(root: Path) -> Path:
    app = write(root / "wwwroot", {"app.py": flask_app("app", "served from a strange folder")})
    (app / "loop1").symlink_to("loop2")
    (app / "loop2").symlink_to("loop1")
    (app / ".venv").symlink_to(".venv")  # a virtualenv's name, looping on itself
    (app / "lost+found").mkdir(mode=0o700)
    write(app, {"private/deeper/wsgi.py": "application = None\n"})
    (app / "private").chmod(0o700)
    os.mkdir(os.fsencode(app) + b"/d\xe9j\xe0")  # not UTF-8
    (app / "pkg").mkdir()
    Path(os.fsdecode(os.fsencode(app) + b"/pkg/caf\xe9.py")).write_text("x = 1\n")
    os.mkfifo(app / "startup.txt")
    write(app, {"venvx/pyvenv.cfg": "home = /usr/bin\n", "dj/manage.py": "import os\n"})
    (app / "venvx" / "pyvenv.cfg").chmod(0)
    (app / "dj" / "manage.py").chmod(0)
    return app


def explain(app: Path, *args: str, user: list[str]) -> tuple[int, str, str]:
    result = subprocess.run(
        [*user, sys.executable, "-m", "appservice_gunicorn", "--explain", "--json", *args],
        cwd="/",
        capture_output=True,
        text=True,
        env={**os.environ, "HOME": "/tmp"},
        timeout=60,
    )
    return result.returncode, result.stdout, result.stderr


@pytest.mark.parametrize("user", ["root", "nobody"])
def test_a_strange_folder_is_read_without_a_traceback(world: Path, user: str) -> None:
    if user == "nobody" and (problem := as_nobody_problem()):
        pytest.skip(problem)
    app = strange_folder(world)
    prefix = NOBODY if user == "nobody" else []
    status, out, err = explain(app, "--app-dir", str(app), user=prefix)
    assert (status, err) == (0, ""), err
    plan = json.loads(out)
    if user == "nobody":
        assert plan["app"] == "app:app"
        assert "lost+found cannot be read (Permission denied); skipped it" in plan["notes"]
        assert "private cannot be read (Permission denied); skipped it" in plan["notes"]
        django = next(r["reason"] for r in plan["rules"] if r["name"] == "django")
        assert django.startswith("dj/manage.py: cannot be read: Permission denied"), django
    # The FIFO named like a startup file is reported as one reason, and the chain goes on.
    status, out, err = explain(app, "--app-dir", str(app), "startup.txt", user=prefix)
    assert (status, err) == (0, "")
    reason = json.loads(out)["rules"][0]["reason"]
    assert "startup file 'startup.txt'" in reason and "is not a regular file" in reason


def test_a_long_folder_that_can_be_listed_but_not_entered_is_listed(world: Path) -> None:
    """Its files cannot be asked for by name (no x), so it is read to its end, as a folder
    that is not long is: its wsgi.py is found in the listing."""
    if problem := as_nobody_problem():
        pytest.skip(problem)
    app = write(world / "wwwroot", {"site/wsgi.py": "application = None\n"})
    for i in range(1200):
        (app / "site" / f"upload{i:04d}.bin").touch()
    (app / "site").chmod(0o744)
    status, out, err = explain(app, "--app-dir", str(app), user=NOBODY)
    assert (status, err) == (0, ""), err
    assert json.loads(out)["app"] == "site.wsgi:application"


def test_an_unreadable_app_folder_is_one_line_and_exit_1(world: Path) -> None:
    if problem := as_nobody_problem():
        pytest.skip(problem)
    app = write(world / "wwwroot", {"app.py": flask_app()})
    app.chmod(0o700)
    status, out, err = explain(app, "--app-dir", str(app), user=NOBODY)
    assert status == 1 and out == ""
    assert err.splitlines() == [
        f"Error: app folder {app} cannot be read by the user the launcher runs as (uid 65534); "
        "make it readable (e.g. chmod a+rx) or run as its owner"
    ]


def test_an_unreadable_config_file_is_one_line_and_exit_1(world: Path) -> None:
    if problem := as_nobody_problem():
        pytest.skip(problem)
    app = write(world / "wwwroot", {"app.py": flask_app(), "gunicorn.conf.py": "workers = 2\n"})
    (app / "gunicorn.conf.py").chmod(0)
    result = subprocess.run(
        [*NOBODY, sys.executable, "-m", "appservice_gunicorn", "--app-dir", str(app)],
        cwd="/",
        capture_output=True,
        text=True,
        env={**os.environ, "HOME": "/tmp", "PORT": "1"},
        timeout=60,
    )
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert line.endswith(
        f"[ERROR] {app}/gunicorn.conf.py cannot be read by the user the launcher runs as "
        "(uid 65534); make it readable (e.g. chmod a+r)"
    )


def test_a_strange_folder_is_served_to_an_unprivileged_launcher(launch: Start, world: Path) -> None:
    if problem := as_nobody_problem():
        pytest.skip(problem)
    app = strange_folder(world)
    command = [*NOBODY, sys.executable, "-m", "appservice_gunicorn"]
    launcher = launch(app, command=command, env={"HOME": "/tmp"})
    with urllib.request.urlopen(launcher.url, timeout=10) as response:
        assert response.read() == b"served from a strange folder"
    assert "Traceback" not in launcher.log()
