"""The real launcher serves what people really deploy: frameworks, layouts, virtualenvs,
App Service's variables.

Every test starts ``python -m appservice_gunicorn`` as a subprocess on a free loopback port
(``launch`` fixture), talks HTTP to 127.0.0.1 and reads the launcher's log and ``/proc``.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers import fastapi_app, flask_app, write
from tests.integration.conftest import Start
from tests.launcher import Launcher

RUNNING = f"python{sys.version_info[0]}.{sys.version_info[1]}"


def get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read().decode()


def poll(what: str, check: Callable[[], bool], launcher: Launcher, timeout: float = 20.0) -> None:
    """Wait until ``check()`` holds; fail with the launcher's log after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}; launcher log:\n{launcher.log()}")
        time.sleep(0.05)


def children(pid: int) -> set[int]:
    """Live child processes of ``pid``, from ``/proc/*/stat``."""
    found: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found.add(int(entry.name))
    return found


def cmdline(pid: int) -> list[str]:
    return (Path("/proc") / str(pid) / "cmdline").read_bytes().decode().split("\0")[:-1]


def error_lines(log: str) -> list[str]:
    return [line for line in log.splitlines() if "[ERROR]" in line]


# --- finding the app with no startup command --------------------------------------------------


def test_flask_in_main_py_named_server(launch: Start, tmp_path: Path) -> None:
    write(tmp_path, {"main.py": flask_app("server", "flask server in main.py")})
    launcher = launch(tmp_path)
    assert get(launcher.url + "/") == (200, "flask server in main.py")
    assert "main.py defines server" in launcher.log()


def test_fastapi_in_main_py_is_served_by_the_asgi_worker(launch: Start, tmp_path: Path) -> None:
    write(tmp_path, {"main.py": fastapi_app("app", "fastapi in main.py")})
    launcher = launch(tmp_path)
    status, body = get(launcher.url + "/")
    assert (status, json.loads(body)) == (200, {"text": "fastapi in main.py"})
    log = launcher.log()
    assert "Serving main:app (ASGI, rule app-file" in log
    assert "Using worker: asgi" in log


DJANGO_BASE_SETTINGS = """
SECRET_KEY = "test-only"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1"]
INSTALLED_APPS = []
MIDDLEWARE = []
ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
DATABASES = {}
SETTINGS_NAME = "base"
"""

DJANGO_URLS = """
from django.conf import settings
from django.http import HttpResponse
from django.urls import path


def index(request):
    return HttpResponse(f"django {settings.SETTINGS_NAME} settings")


urlpatterns = [path("", index)]
"""

DJANGO_WSGI = """
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
application = get_wsgi_application()
"""

DJANGO_MANAGE = """
import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
"""


DJANGO_ASGI = """
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
application = get_asgi_application()
"""


def django_src_project(root: Path) -> None:
    write(
        root,
        {
            "src/manage.py": DJANGO_MANAGE,
            "src/config/__init__.py": "",
            "src/config/settings/__init__.py": "",
            "src/config/settings/base.py": DJANGO_BASE_SETTINGS,
            "src/config/settings/production.py": (
                "from .base import *  # noqa: F403\n\nSETTINGS_NAME = 'production'\n"
            ),
            "src/config/urls.py": DJANGO_URLS,
            "src/config/wsgi.py": DJANGO_WSGI,
            # Shallower than src/config/wsgi.py: a blind search for wsgi.py would serve it.
            "tools/wsgi.py": "raise SystemExit('tools/wsgi.py must not be served')\n",
            "src/config/asgi.py": DJANGO_ASGI,
        },
    )


def test_django_src_layout_with_split_settings_through_manage_py(
    launch: Start, tmp_path: Path
) -> None:
    django_src_project(tmp_path)
    launcher = launch(tmp_path)
    assert get(launcher.url + "/") == (200, "django production settings")
    log = launcher.log()
    assert "Serving config.wsgi:application (WSGI, rule django" in log
    assert "src/manage.py -> config.settings.production.WSGI_APPLICATION" in log
    assert "Using worker: sync" in log


def test_django_asgi_opt_in_serves_asgi_py_with_the_asgi_worker(
    launch: Start, tmp_path: Path
) -> None:
    django_src_project(tmp_path)
    launcher = launch(tmp_path, env={"APPSVC_DJANGO_ASGI": "1"})
    assert get(launcher.url + "/") == (200, "django production settings")
    log = launcher.log()
    assert "Serving config.asgi:application (ASGI, rule django" in log
    assert "Using worker: asgi" in log


def test_python_m_gunicorn_command_stays_in_process_with_the_asgi_worker(
    launch: Start, tmp_path: Path
) -> None:
    write(tmp_path, {"api.py": fastapi_app("service", "in-process gunicorn")})
    launcher = launch(tmp_path, "python -m gunicorn --timeout 20 api:service")
    status, body = get(launcher.url + "/")
    assert (status, json.loads(body)) == (200, {"text": "in-process gunicorn"})
    log = launcher.log()
    assert "Serving api:service (ASGI, rule startup" in log
    assert "Using worker: asgi" in log
    assert "Running the startup command" not in log
    assert any("appservice_gunicorn" in arg for arg in cmdline(launcher.process.pid))


# --- virtualenvs ------------------------------------------------------------------------------


def build_wheel(folder: Path, name: str, source: str) -> Path:
    """A minimal pure-Python wheel holding the module ``name`` (no build tool needed)."""
    metadata = f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n"
    files = {
        f"{name}/__init__.py": source.encode(),
        f"{name}-1.0.dist-info/METADATA": metadata.encode(),
        f"{name}-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: tests\n"
        b"Root-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{name}-1.0.dist-info/RECORD,,")
    files[f"{name}-1.0.dist-info/RECORD"] = ("\n".join(record) + "\n").encode()
    wheel = folder / f"{name}-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, data in files.items():
            archive.writestr(path, data)
    return wheel


def test_dependency_installed_only_in_antenv_is_importable(
    launch: Start, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    package = "asg_only_in_antenv"
    # A real virtualenv (without pip: only its shape matters here), and a real wheel
    # installed into it the way an installer lays out a pure-Python wheel.
    venv = tmp_path / "antenv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    wheel = build_wheel(tmp_path_factory.mktemp("wheels"), package, "GREETING = 'from antenv'\n")
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(venv / "lib" / RUNNING / "site-packages")
    # The launcher's own interpreter cannot import it: only the virtualenv has it.
    assert importlib.util.find_spec(package) is None
    outside = subprocess.run([sys.executable, "-c", f"import {package}"], capture_output=True)
    assert outside.returncode != 0
    write(
        tmp_path,
        {
            "app.py": f"""
                from flask import Flask
                from {package} import GREETING

                app = Flask(__name__)


                @app.route("/")
                def index():
                    return GREETING
            """
        },
    )
    launcher = launch(tmp_path)
    assert get(launcher.url + "/") == (200, "from antenv")
    log = launcher.log()
    assert "Using virtualenv antenv" in log
    assert "built for Python" not in log


def test_virtualenv_for_another_python_is_warned_about(launch: Start, tmp_path: Path) -> None:
    other = f"{sys.version_info[0]}.{sys.version_info[1] + 1}"
    write(
        tmp_path,
        {
            "antenv/pyvenv.cfg": f"home = /usr/bin\nversion = {other}.0\n",
            f"antenv/lib/python{other}/site-packages/README.txt": "",
            "app.py": flask_app("app", "served anyway"),
        },
    )
    launcher = launch(tmp_path)
    assert get(launcher.url + "/") == (200, "served anyway")
    (warning,) = [line for line in launcher.log().splitlines() if "built for Python" in line]
    assert "[WARNING] virtualenv 'antenv' was built for Python " + other in warning
    assert f"the launcher runs Python {sys.version_info[0]}.{sys.version_info[1]}" in warning


# --- worker counts from the platform's variables ----------------------------------------------

REPORT_WORKERS = """
def when_ready(server):
    print(f"ARBITER workers={server.num_workers}", flush=True)
"""

# One core for the launcher: 2 x cores + 1 stays small on big machines, and differs from
# os.cpu_count() on any machine with several cores.
CORES = sorted(os.sched_getaffinity(0))[:1]


@pytest.mark.parametrize(
    ("env", "workers", "worker_class", "error"),
    [
        ({}, 1, "sync", None),
        ({"WEB_CONCURRENCY": "3"}, 3, "sync", None),
        ({"PYTHON_ENABLE_GUNICORN_MULTIWORKERS": "true"}, 2 * len(CORES) + 1, "sync", None),
        (
            {
                "PYTHON_ENABLE_GUNICORN_MULTIWORKERS": "true",
                "PYTHON_GUNICORN_CUSTOM_WORKER_NUM": "4",
                "WEB_CONCURRENCY": "2",
            },
            4,
            "sync",
            None,
        ),
        (
            {
                "PYTHON_ENABLE_GUNICORN_MULTIWORKERS": "true",
                "PYTHON_GUNICORN_CUSTOM_THREAD_NUM": "4",
            },
            2 * len(CORES) + 1,
            "gthread",
            None,
        ),
        # Without multiworkers App Service reads neither custom count: one warning each.
        (
            {"PYTHON_GUNICORN_CUSTOM_WORKER_NUM": "4", "WEB_CONCURRENCY": "2"},
            2,
            "sync",
            "[WARNING] PYTHON_GUNICORN_CUSTOM_WORKER_NUM='4' is ignored",
        ),
        ({"WEB_CONCURRENCY": "lots"}, 1, "sync", "WEB_CONCURRENCY='lots'"),
        (
            {
                "PYTHON_ENABLE_GUNICORN_MULTIWORKERS": "true",
                "PYTHON_GUNICORN_CUSTOM_WORKER_NUM": "0",
            },
            2 * len(CORES) + 1,
            "sync",
            "PYTHON_GUNICORN_CUSTOM_WORKER_NUM='0'",
        ),
        (
            {"PYTHON_ENABLE_GUNICORN_MULTIWORKERS": "yes please"},
            1,
            "sync",
            "PYTHON_ENABLE_GUNICORN_MULTIWORKERS='yes please'",
        ),
    ],
    ids=[
        "default",
        "web-concurrency",
        "multiworkers",
        "custom-worker-num",
        "custom-thread-num",
        "custom-worker-num-alone",
        "bad-web-concurrency",
        "bad-custom-worker-num",
        "bad-multiworkers",
    ],
)
def test_worker_variables_give_the_documented_count(
    launch: Start,
    tmp_path: Path,
    env: dict[str, str],
    workers: int,
    worker_class: str,
    error: str | None,
) -> None:
    write(tmp_path, {"app.py": flask_app("app", "counted"), "gunicorn.conf.py": REPORT_WORKERS})
    clean = {
        "WEB_CONCURRENCY": "",
        "PYTHON_ENABLE_GUNICORN_MULTIWORKERS": "",
        "PYTHON_GUNICORN_CUSTOM_WORKER_NUM": "",
        "PYTHON_GUNICORN_CUSTOM_THREAD_NUM": "",
        **env,
    }
    launcher = launch(
        tmp_path,
        env=clean,
        popen_kwargs={"preexec_fn": lambda: os.sched_setaffinity(0, CORES)},
    )
    assert get(launcher.url + "/") == (200, "counted")
    master = launcher.process.pid

    def booted() -> set[int]:
        return {int(pid) for pid in re.findall(r"Booting worker with pid: (\d+)", launcher.log())}

    # The arbiter spawns exactly num_workers; wait until they are all alive and booted.
    poll(
        f"{workers} live workers",
        lambda: (
            "ARBITER" in launcher.log()
            and len(children(master)) == workers
            and children(master) <= booted()
        ),
        launcher,
    )
    log = launcher.log()
    assert f"ARBITER workers={workers}\n" in log
    assert f"Using worker: {worker_class}" in log
    problems = [line for line in log.splitlines() if "[ERROR]" in line or "[WARNING]" in line]
    if error is None:
        assert problems == []
    else:
        (line,) = problems
        assert error in line


def venv_with_marked_attrs(folder: Path) -> None:
    """An ``antenv`` holding its own copy of attrs, which says so (``attrs.MARK``); the
    launcher's copy (a test dependency) is never imported by the master."""
    import attrs

    venv = folder / "antenv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = venv / "lib" / RUNNING / "site-packages"
    shutil.copytree(Path(attrs.__file__).parent, site / "attrs")
    with (site / "attrs" / "__init__.py").open("a") as init:
        init.write("\nMARK = 'the venv copy'\n")


def test_the_apps_virtualenv_wins_over_the_launchers_packages(
    launch: Start, tmp_path: Path
) -> None:
    """A package both in the launcher's environment and in the app's venv (another version,
    here a copy that says so): the app gets the venv's, as App Service's PYTHONPATH does."""
    venv_with_marked_attrs(tmp_path)
    write(
        tmp_path,
        {
            "app.py": """
                import attrs


                def app(environ, start_response):
                    start_response("200 OK", [("Content-Type", "text/plain")])
                    return [getattr(attrs, "MARK", "the launcher's copy").encode()]
            """
        },
    )
    launcher = launch(tmp_path, env={"APPSVC_PRELOAD_FRAMEWORK": "0"})
    assert get(launcher.url + "/") == (200, "the venv copy")


def test_the_apps_virtualenv_wins_in_the_master_too(launch: Start, tmp_path: Path) -> None:
    """gunicorn.conf.py and the worker class are imported in the master: what they import
    comes from the virtualenv first too (uvicorn-worker pinned there needs its own uvicorn)."""
    venv_with_marked_attrs(tmp_path)
    write(
        tmp_path,
        {
            "app.py": "def app(environ, start_response):\n    start_response('200 OK', [])\n"
            "    return [b'ok']\n",
            "gunicorn.conf.py": """
                import attrs

                print("CONFIG attrs:", getattr(attrs, "MARK", "the launcher's copy"), flush=True)
            """,
        },
    )
    launcher = launch(tmp_path)
    assert get(launcher.url + "/") == (200, "ok")
    assert "CONFIG attrs: the venv copy" in launcher.log()


ENV_APP = """
import json, os

def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/json")])
    names = ("APP_PATH", "HOST", "PORT")
    return [json.dumps({name: os.environ.get(name) for name in names}).encode()]
"""


def test_an_in_process_app_gets_app_path_host_and_port_as_app_service_exports_them(
    launch: Start, tmp_path: Path
) -> None:
    """The app saw APP_PATH=None and HOST=None where App Service's script exports them."""
    app_dir = write(tmp_path / "wwwroot", {"app.py": ENV_APP})
    env = {key: value for key, value in os.environ.items() if key not in ("APP_PATH", "HOST")}
    launcher = launch(app_dir, env={**env, "HOST": "127.0.0.1"})
    status, body = get(launcher.url + "/")
    assert status == 200
    assert json.loads(body) == {
        "APP_PATH": str(app_dir),
        "HOST": "127.0.0.1",
        "PORT": str(launcher.port),
    }


SCHEME_APP = """
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [environ["wsgi.url_scheme"].encode()]
"""


@pytest.mark.parametrize(
    ("platform", "scheme"),
    [({"WEBSITE_SITE_NAME": "mysite"}, "https"), ({}, "http")],
    ids=["app-service", "elsewhere"],
)
def test_https_behind_app_services_front_end(
    launch: Start, tmp_path: Path, platform: dict[str, str], scheme: str
) -> None:
    """The front end ends TLS and connects from an address of its own (127.0.0.2 here,
    which gunicorn does not trust by default) with X-Forwarded-Proto: https."""
    app_dir = write(tmp_path / "wwwroot", {"app.py": SCHEME_APP})
    env = {k: v for k, v in os.environ.items() if k not in ("WEBSITE_SITE_NAME",)}
    launcher = launch(app_dir, env={**env, **platform})
    conn = http.client.HTTPConnection(
        "127.0.0.1", launcher.port, timeout=10, source_address=("127.0.0.2", 0)
    )
    try:
        conn.request("GET", "/", headers={"X-Forwarded-Proto": "https"})
        assert conn.getresponse().read().decode() == scheme
    finally:
        conn.close()


def test_an_export_of_pre_run_command_reaches_the_app_served_in_process(
    launch: Start, tmp_path: Path
) -> None:
    app_dir = write(
        tmp_path / "wwwroot",
        {
            "app.py": "import os\n\ndef app(environ, start_response):\n"
            "    start_response('200 OK', [])\n"
            "    return [os.environ.get('GREETING', 'unset').encode()]\n"
        },
    )
    launcher = launch(app_dir, env={"PRE_RUN_COMMAND": "export GREETING=hi"})
    assert get(launcher.url + "/") == (200, "hi")
