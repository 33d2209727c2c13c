"""Broken deployments give one clear line, a documented exit status, no launcher
traceback, and leave the app folder exactly as it was.

Exit statuses (see the README):

- 1: ``--strict`` and the startup command cannot be used (the launcher stops before gunicorn);
- 4: the app cannot be imported (gunicorn's "App failed to load"); the first line says what,
  where and the fix, then comes the traceback of the user's code only;
- without ``--strict`` a startup problem is one ``ERROR`` line and the chain goes on: the next
  app is served, and SIGTERM ends it with 0.

Python would write ``__pycache__`` into the app folder when importing it; the launcher runs
with ``PYTHONPYCACHEPREFIX`` elsewhere so that "unchanged" means byte for byte.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import gunicorn
import pytest

import appservice_gunicorn
from tests.helpers import flask_app, tree_digest, write
from tests.integration.conftest import Start

PLAIN_APP = """
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"fallback app"]
"""
DJANGO_WSGI = """
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
application = get_wsgi_application()
"""
MANAGE_PY = """
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
"""
# Frames from these folders would be a traceback of the launcher (or gunicorn) itself.
OWN_CODE = (
    os.path.dirname(appservice_gunicorn.__file__) + os.sep,
    os.path.dirname(gunicorn.__file__) + os.sep,
)
NO_DAC = ["--bounding-set=-dac_override,-dac_read_search", "--inh-caps=-all"]

Setup = Callable[[Path], None]


def nothing(app_dir: Path) -> None:
    pass


def mkdir(rel: str) -> Setup:
    def setup(app_dir: Path) -> None:
        (app_dir / rel).mkdir(parents=True)

    return setup


def symlink(rel: str, target: str) -> Setup:
    def setup(app_dir: Path) -> None:
        (app_dir / rel).symlink_to(target)

    return setup


def unreadable(rel: str) -> Setup:
    def setup(app_dir: Path) -> None:
        (app_dir / rel).chmod(0)

    return setup


def outside_file(app_dir: Path) -> None:
    (app_dir.parent / "startup.txt").write_text("gunicorn application:app\n")


def venv_for_python_38(app_dir: Path) -> None:
    """A virtualenv built by Python 3.8: its compiled module cannot load in this Python."""
    site = app_dir / "antenv" / "lib" / "python3.8" / "site-packages" / "fastjson"
    site.mkdir(parents=True)
    (app_dir / "antenv" / "pyvenv.cfg").write_text("home = /usr/bin\nversion = 3.8.18\n")
    (site / "__init__.py").write_text("from ._speedups import dumps\n")
    (site / "_speedups.cpython-38-x86_64-linux-gnu.so").write_bytes(b"\x7fELF" + bytes(60))


@dataclass(frozen=True)
class Case:
    id: str
    files: dict[str, str | bytes]
    startup: list[str]
    status: int | None  # None: the launcher serves the fallback app
    message: list[str]  # fragments of the one line that explains the problem
    strict: bool = True
    setup: Setup = nothing
    user_traceback: bool = False  # the user's code raised: its traceback is shown
    command_prefix: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    absent: list[str] = field(default_factory=list)  # not in that line


CASES = [
    Case(
        "empty-startup-file",
        {"startup.txt": ""},
        ["startup.txt"],
        1,
        ["startup file 'startup.txt'", "wwwroot/startup.txt)", "is empty", "write the command"],
    ),
    Case(
        "binary-startup-file",
        {"startup.txt": "gunicorn application:app\n".encode("utf-16")},
        ["startup.txt"],
        1,
        ["startup file 'startup.txt'", "is binary (NUL byte at offset 3)", "as plain text"],
    ),
    Case(
        "startup-file-is-a-directory",
        {},
        ["startup.txt"],
        1,
        ["startup file 'startup.txt'", "wwwroot", "is a directory", "name a text file"],
        setup=mkdir("startup.txt"),
    ),
    Case(
        "symlink-escaping-the-app-folder",
        {},
        ["startup.txt"],
        1,
        ["startup file 'startup.txt'", "symlink that points outside the app folder", "/etc"],
        setup=symlink("startup.txt", "/etc/hostname"),
    ),
    Case(
        "dot-dot-path",
        {},
        ["../startup.txt"],
        1,
        ["startup file '../startup.txt'", "'..' leaves the app folder", "relative to it"],
        setup=outside_file,
    ),
    Case(
        "absolute-path-outside",
        {},
        ["/etc/hostname"],
        1,
        ["startup file '/etc/hostname'", "is outside the app folder", "move the file"],
    ),
    Case(
        "unknown-option",
        {"startup.txt": "gunicorn --wrokers=4 hello:app\n", "hello.py": PLAIN_APP},
        ["startup.txt"],
        1,
        ["startup.txt", "unknown gunicorn option '--wrokers=4'", "fix or remove it"],
    ),
    Case(
        "option-with-bad-value",
        {"startup.txt": "gunicorn --workers=abc hello:app\n", "hello.py": PLAIN_APP},
        ["startup.txt"],
        1,
        ["startup.txt", "--workers", "invalid int value: 'abc'", "gunicorn --help"],
    ),
    Case(
        "missing-module",
        {"hello.py": PLAIN_APP},
        ["gunicorn", "nosuch:app"],
        4,
        ["Could not import module 'nosuch'", "no nosuch.py in", "wwwroot", "fix the module name"],
    ),
    Case(
        "module-without-the-attribute",
        {"hello.py": PLAIN_APP},
        ["gunicorn", "hello:nothere"],
        4,
        [
            "App 'hello:nothere' not found",
            "wwwroot/hello.py",
            "has no attribute 'nothere'",
            "it defines: app",
            "Fix the name after ':'",
        ],
    ),
    Case(
        "attribute-not-callable",
        {"hello.py": "app = 42\n"},
        ["gunicorn", "hello:app"],
        4,
        [
            "App 'hello:app' is not callable",
            "wwwroot/hello.py is an int (42)",
            "point the name after ':' at the app object",
        ],
    ),
    Case(
        "syntax-error-in-wsgi-py",
        {"mysite/__init__.py": "", "mysite/wsgi.py": "def application(environ:\n    pass\n"},
        [],
        4,
        [
            "Could not load app 'mysite.wsgi:application'",
            "SyntaxError",
            "wwwroot/mysite/wsgi.py, line 1",
            "fix the syntax error",
        ],
        user_traceback=True,
    ),
    Case(
        "unreadable-startup-file",
        {"startup.txt": "gunicorn hello:app\n", "hello.py": PLAIN_APP},
        ["startup.txt"],
        1,
        ["startup file 'startup.txt'", "cannot be read (Permission denied)", "chmod a+r"],
        setup=unreadable("startup.txt"),
        command_prefix=["setpriv", *NO_DAC],
    ),
    Case(
        "unreadable-app-file",
        {"application.py": PLAIN_APP},
        [],
        4,
        [
            "Could not load app 'application:app'",
            "PermissionError",
            "wwwroot/application.py",
            "chmod a+r",
        ],
        setup=unreadable("application.py"),
        command_prefix=["setpriv", *NO_DAC],
    ),
    Case(
        "manage-py-names-a-missing-settings-module",
        {"manage.py": MANAGE_PY, "mysite/__init__.py": "", "mysite/wsgi.py": DJANGO_WSGI},
        [],
        4,
        [
            "Could not load app 'mysite.wsgi:application'",
            # The app's own module: no word on where packages come from.
            "No module named 'mysite.settings'; deploy the module 'mysite.settings' with the app",
        ],
        user_traceback=True,
        warnings=[
            "manage.py names settings module 'mysite.settings', but neither mysite/settings.py "
            "nor mysite/settings/__init__.py is in"
        ],
    ),
    Case(
        "missing-package-and-no-virtualenv",
        {"application.py": "import nosuch_dependency\n" + PLAIN_APP},
        [],
        4,
        [
            "Could not load app 'application:app'",
            "No module named 'nosuch_dependency' (no virtualenv was found in the app folder",
            "install the package that provides 'nosuch_dependency' (on App Service: list it in "
            "requirements.txt)",
        ],
        user_traceback=True,
    ),
    Case(
        "missing-package-named-otherwise",
        {"application.py": "import MySQLdb\n" + PLAIN_APP},
        [],
        4,
        [
            "Could not load app 'application:app'",
            "install the package mysqlclient that provides 'MySQLdb' (on App Service",
        ],
        user_traceback=True,
    ),
    Case(
        "circular-import-in-the-apps-own-code",
        {
            "application.py": "import helper\n" + PLAIN_APP,
            "helper.py": "from application import app\n",
        },
        [],
        4,
        [
            "Could not load app 'application:app'",
            "cannot import name 'app' from partially initialized module 'application'",
            "fix the error in your code",
        ],
        user_traceback=True,
        absent=["virtualenv"],
    ),
    Case(
        "own-module-missing-from-a-pythonpath-folder",
        {
            "startup.txt": "gunicorn --pythonpath lib application:app\n",
            "application.py": "import mylib.missing\n" + PLAIN_APP,
            "lib/mylib/__init__.py": "",
        },
        ["startup.txt"],
        4,
        [
            "Could not load app 'application:app'",
            "No module named 'mylib.missing'; deploy the module 'mylib.missing' with the app",
        ],
        user_traceback=True,
    ),
    Case(
        "missing-package-named-like-a-folder-of-other-files",
        {
            "application.py": "import dockersdk.errors\n" + PLAIN_APP,
            "dockersdk/Dockerfile": "FROM x\n",
        },
        [],
        4,
        [
            "Could not load app 'application:app'",
            "install the package that provides 'dockersdk.errors'",
        ],
        user_traceback=True,
    ),
    Case(
        # The commonest failure of the Azure samples: an app setting not set.
        "environment-variable-not-set",
        {"application.py": "import os\nDB = os.environ['APPSVC_TEST_UNSET']\n" + PLAIN_APP},
        [],
        4,
        [
            "raised KeyError: 'APPSVC_TEST_UNSET' (application.py, line 2); set the "
            "environment variable APPSVC_TEST_UNSET (on App Service: an app setting)",
        ],
        user_traceback=True,
    ),
    Case(
        # FastAPI's missing python-multipart: the type and every line of the message.
        "exception-with-a-message-of-several-lines",
        {
            "application.py": PLAIN_APP
            + (
                'raise RuntimeError(\'Form data requires "python-multipart".\\n\\n'
                "    pip install python-multipart\\n')\n"
            )
        },
        [],
        4,
        [
            "Could not load app 'application:app'",
            'raised RuntimeError: Form data requires "python-multipart". pip install '
            "python-multipart (application.py, line ",
            "); fix the error in your code",
        ],
        user_traceback=True,
    ),
    Case(
        "virtualenv-for-another-python",
        {"application.py": "import fastjson\n" + PLAIN_APP},
        [],
        4,
        [
            "Could not load app 'application:app'",
            "No module named 'fastjson._speedups'",
            "built for Python 3.8",
            "rebuild it with this Python",
        ],
        setup=venv_for_python_38,
        user_traceback=True,
        warnings=["virtualenv 'antenv' was built for Python 3.8"],
    ),
    # Without --strict the chain goes on: one ERROR line, the next app is served.
    Case(
        "binary-startup-file-default-mode",
        {"startup.txt": b"\x00\x01binary", "application.py": PLAIN_APP},
        ["startup.txt"],
        None,
        ["startup file 'startup.txt'", "is binary", "looking for an app instead"],
        strict=False,
    ),
    Case(
        "symlink-escaping-default-mode",
        {"application.py": PLAIN_APP},
        ["startup.txt"],
        None,
        ["symlink that points outside the app folder", "looking for an app instead"],
        strict=False,
        setup=symlink("startup.txt", "/etc/hostname"),
    ),
]


def frames_of_own_code(log: str) -> list[str]:
    return [f for f in re.findall(r'File "([^"]+)"', log) if f.startswith(OWN_CODE)]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_deployment(case: Case, launch: Start, tmp_path: Path) -> None:
    if case.command_prefix and shutil.which(case.command_prefix[0]) is None:
        pytest.skip(f"{case.command_prefix[0]} is not installed")
    app_dir = tmp_path / "wwwroot"
    app_dir.mkdir()
    for rel, content in case.files.items():
        if isinstance(content, bytes):
            (app_dir / rel).parent.mkdir(parents=True, exist_ok=True)
            (app_dir / rel).write_bytes(content)
        else:
            write(app_dir, {rel: content})
    case.setup(app_dir)
    before = tree_digest(app_dir)
    env = {"PYTHONPYCACHEPREFIX": str(tmp_path / "pycache")}
    command = None
    if case.command_prefix:
        command = [*case.command_prefix, sys.executable, "-m", "appservice_gunicorn"]
    launcher = launch(
        app_dir,
        case.startup,
        env,
        args=["--strict"] if case.strict else [],
        wait=case.status is None,
        command=command,
    )
    if case.status is None:
        with urllib.request.urlopen(launcher.url + "/", timeout=10) as response:
            assert response.read() == b"fallback app"
        assert launcher.stop(signal.SIGTERM) == 0
    else:
        assert launcher.wait(timeout=60) == case.status, launcher.log()
    log = launcher.log()
    if os.environ.get("SHOW_BAD_DEPLOYMENT_LOGS"):
        print(f"\n===== {case.id} (exit {launcher.process.returncode})\n{log}")

    lines = [line for line in log.splitlines() if case.message[0] in line]
    assert len(lines) == 1, f"expected one line with {case.message[0]!r}:\n{log}"
    for fragment in case.message:
        assert fragment in lines[0], f"{fragment!r} missing from:\n{lines[0]}\n\nlog:\n{log}"
    for fragment in case.absent:
        assert fragment not in lines[0], f"{fragment!r} in:\n{lines[0]}"
    for warning in case.warnings:
        assert any("[WARNING]" in line and warning in line for line in log.splitlines()), log
    assert frames_of_own_code(log) == [], f"a traceback of the launcher or gunicorn:\n{log}"
    if case.user_traceback:
        assert 'File "' in log, f"the user's traceback is missing:\n{log}"
    else:
        assert "Traceback" not in log, log
    assert tree_digest(app_dir) == before, "the launcher changed the app folder"


def test_unreadable_file_is_really_unreadable_for_the_launcher(tmp_path: Path) -> None:
    """The capability-less root of the 'unreadable' cases is refused by the kernel."""
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv is not installed")
    secret = tmp_path / "secret.txt"
    secret.write_text("x")
    secret.chmod(0)
    result = subprocess.run(
        ["setpriv", *NO_DAC, sys.executable, "-c", f"open({str(secret)!r}).read()"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert "PermissionError" in result.stderr


# Standard-library names a deployed app folder may hold; each would stop the launcher if
# its own imports found them (python -m puts the current folder first on sys.path).
SHADOWING = (  # noqa: SIM905 - a word list reads best as words
    "argparse ast asyncio base64 copy datetime email enum errno fcntl fnmatch glob grp hashlib "
    "http inspect json locale logging pickle platform pwd queue random select selectors shlex "
    "signal socket ssl string struct tempfile textwrap threading token tokenize traceback "
    "typing urllib uuid"
).split()
PLAIN_WSGI = """
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"served despite the shadowing modules"]
"""


@pytest.mark.parametrize("entry", ["python-m-in-the-app-folder", "app-dir-from-elsewhere"])
def test_modules_in_the_app_folder_never_replace_the_launchers(
    launch: Start, tmp_path: Path, entry: str
) -> None:
    files = {
        f"{name}.py": f"raise SystemExit('{name}.py of the app was imported')\n"
        for name in SHADOWING
    }
    app_dir = write(tmp_path / "wwwroot", {**files, "application.py": PLAIN_WSGI})
    cwd = app_dir if entry == "python-m-in-the-app-folder" else tmp_path
    launcher = launch(app_dir, popen_kwargs={"cwd": str(cwd)})
    with urllib.request.urlopen(launcher.url, timeout=10) as response:
        assert response.read() == b"served despite the shadowing modules"
    log = launcher.log()
    assert "of the app was imported" not in log, log
    assert launcher.stop() == 0


def run_to_exit(app_dir: Path, env: dict[str, str], timeout: float = 60) -> tuple[int, str]:
    """The launcher serving ``app_dir`` on a free loopback port, until it exits by itself."""
    from tests.launcher import free_port, launcher_env

    result = subprocess.run(
        [sys.executable, "-m", "appservice_gunicorn", "--app-dir", str(app_dir)],
        cwd=app_dir,
        env=launcher_env(free_port(), env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return result.returncode, result.stdout + result.stderr


def test_an_app_that_cannot_be_imported_exits_4_with_many_workers(tmp_path: Path) -> None:
    write(tmp_path, {"app.py": "import no_such_module_abc\n\napp = None\n"})
    for _ in range(3):  # the workers race to fail: every start must end the same way
        status, log = run_to_exit(tmp_path, {"GUNICORN_CMD_ARGS": "--workers=4"})
        assert status == 4, log
        assert "HaltServer" not in log and "During handling" not in log, log
        assert "Reason: App failed to load." in log


def test_an_app_that_calls_sys_exit_at_import_exits_4_and_says_so(tmp_path: Path) -> None:
    write(tmp_path, {"app.py": "import sys\n\nsys.exit(0)\napp = None\n"})
    status, log = run_to_exit(tmp_path, {})
    assert status == 4, log
    assert "importing 'app' called sys.exit(0); an app module must not exit" in log


def test_an_app_that_ends_its_worker_at_import_stops_the_launcher(tmp_path: Path) -> None:
    # os._exit() cannot be caught: gunicorn alone respawns such workers forever.
    write(tmp_path, {"app.py": "import os\n\nos._exit(0)\napp = None\n"})
    status, log = run_to_exit(tmp_path, {"GUNICORN_CMD_ARGS": "--workers=2"})
    assert status == 3, log
    assert re.search(r"\[ERROR\] [56] workers in a row ended while importing the app app:app", log)
    assert log.count("Booting worker") < 12


def test_a_busy_port_is_named_with_the_way_to_choose_another(tmp_path: Path) -> None:
    import socket

    write(tmp_path, {"app.py": "def app(environ, start_response):\n    return []\n"})
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        env = {"GUNICORN_CMD_ARGS": f"--bind=127.0.0.1:{port}"}
        status, log = run_to_exit(tmp_path, env)
    assert status == 1, log
    line = f"Port {port} on 127.0.0.1 is already in use by another program: stop it, or serve"
    assert [entry for entry in log.splitlines() if line in entry], log
    assert "PORT=<number>" in log


def test_a_config_file_that_exits_at_start_is_an_error_not_a_silent_exit_0(
    tmp_path: Path,
) -> None:
    write(tmp_path, {"app.py": "app = None\n", "gunicorn.conf.py": "import sys\n\nsys.exit()\n"})
    status, log = run_to_exit(tmp_path, {})
    assert status == 1, log
    assert "[ERROR] gunicorn.conf.py called sys.exit(None) while the launcher read its" in log


def test_an_asgi_app_under_a_wsgi_worker_stops_the_start_with_the_fix(tmp_path: Path) -> None:
    """Built where detection cannot see it (a factory of another module): the sync worker
    would answer every request with a 500; the worker says why instead, and the launcher
    stops as for any app that cannot be loaded."""
    write(
        tmp_path,
        {
            "factory.py": "from fastapi import FastAPI\n\n\ndef build():\n    return FastAPI()\n",
            "app.py": "from factory import build\n\napp = build()\n",
        },
    )
    status, log = run_to_exit(tmp_path, {})
    assert status == 4, log
    assert (
        "app:app is an ASGI app (its __call__ is async), but gunicorn's sync worker serves "
        "WSGI apps; add --worker-class asgi"
    ) in log
    status, log = run_to_exit(tmp_path, {"GUNICORN_CMD_ARGS": "--worker-class gthread"})
    assert status == 4 and "gunicorn's gthread worker serves WSGI apps" in log, log


def test_a_module_beside_the_app_module_but_off_the_path_is_named_with_the_fix(
    tmp_path: Path,
) -> None:
    """A Dash app deployed as app/app.py importing its app/components/: the message said to
    install a package 'components' (on App Service: requirements.txt)."""
    write(
        tmp_path,
        {
            "app/__init__.py": "",
            "app/app.py": "from components import layout\n\napp = None\n",
            "app/components/__init__.py": "layout = 1\n",
        },
    )
    status, log = run_to_exit(tmp_path, {})
    assert status == 4, log
    assert (
        "No module named 'components'; app/components is there, beside app/app.py, which "
        "imports it as if app/ were on sys.path: import it as app.components, or serve from "
        "app/ (gunicorn --chdir app app:app)"
    ) in log
    assert "requirements.txt" not in log


def test_a_module_beside_a_helper_off_the_path_is_named_as_an_import_to_fix(
    tmp_path: Path,
) -> None:
    """The app at the top, lib/helpers.py importing its sibling utils.py as top-level: serving
    from lib/ would not serve the app; importing it as lib.utils is the fix."""
    write(
        tmp_path,
        {
            "app.py": "import lib.helpers\n\napp = None\n",
            "lib/__init__.py": "",
            "lib/helpers.py": "import utils\n",
            "lib/utils.py": "",
        },
    )
    status, log = run_to_exit(tmp_path, {})
    assert status == 4, log
    assert (
        "lib/utils.py is there, beside lib/helpers.py, which imports it as if lib/ were on "
        "sys.path: import it as lib.utils (traceback below)"
    ) in log


@pytest.mark.parametrize("bind", ["0.0.0.0:99999", "-1", "fd://99"])
def test_a_bind_gunicorn_cannot_use_stops_with_one_line_and_exit_1(
    launch: Start, tmp_path: Path, bind: str
) -> None:
    """gunicorn raised OverflowError or OSError from its socket code (a traceback), or
    retried a host named '-1' for five seconds."""
    write(tmp_path, {"app.py": flask_app()})
    launcher = launch(tmp_path, f"--bind={bind} app:app", wait=False)
    assert launcher.wait(timeout=30) == 1
    log = launcher.log()
    errors = [line for line in log.splitlines() if "[ERROR]" in line]
    assert len(errors) == 1 and f"bind '{bind}' (from startup): " in errors[0], log
    assert "Traceback" not in log


def test_an_app_folder_whose_name_is_not_utf8_gets_the_apps_own_error_and_exit_4(
    launch: Start, tmp_path: Path
) -> None:
    """The worker's report to the master failed to encode the path: UnicodeEncodeError,
    exit 3 "Worker failed to boot" instead of 4 "App failed to load"."""
    folder = tmp_path / os.fsdecode(b"caf\xe9-latin1")
    write(folder, {"app.py": "raise RuntimeError('boom at import')\napp = None\n"})
    launcher = launch(folder, wait=False)
    assert launcher.wait(timeout=30) == 4
    log = launcher.log()
    assert "RuntimeError: boom at import" in log
    assert "UnicodeEncodeError" not in log
    assert "caf\\udce9-latin1" in log  # the path, with its undecodable byte escaped
