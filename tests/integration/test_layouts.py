"""Layouts real projects have, and the conventions of App Service's neighbours, served for
real: Flask's top-level wsgi.py, a Pyramid app through ``--paste``, a Falcon ASGI app, a
Procfile, ``FLASK_APP``; and gunicorn's check-only options."""

from __future__ import annotations

import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.helpers import flask_app, write
from tests.integration.conftest import Start, wait_for


def body(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        text: str = response.read().decode()
        return text


PYRAMID_APP = """
from pyramid.config import Configurator
from pyramid.response import Response


def hello(request):
    return Response(request.registry.settings["greeting"])


def main(global_config, **settings):
    with Configurator(settings=settings) as config:
        config.add_route("home", "/")
        config.add_view(hello, route_name="home")
        return config.make_wsgi_app()
"""
PRODUCTION_INI = """
[app:main]
use = call:hello:main
greeting = hello from pyramid

[server:main]
use = egg:waitress#main
listen = *:6543

[loggers]
keys = root

[handlers]
keys = console

[formatters]
keys = generic

[logger_root]
level = INFO
handlers = console

[handler_console]
class = StreamHandler
args = (sys.stderr,)
level = NOTSET
formatter = generic

[formatter_generic]
format = %(levelname)s [%(name)s] %(message)s
"""


def test_pyramid_production_ini_through_paste(launch: Start, tmp_path: Path) -> None:
    write(tmp_path, {"hello.py": PYRAMID_APP, "production.ini": PRODUCTION_INI})
    launcher = launch(tmp_path, "gunicorn --paste production.ini")
    assert body(launcher.url) == "hello from pyramid"
    assert "the PasteDeploy app of production.ini" in launcher.log()


def test_falcon_asgi_app_gets_the_asgi_worker(launch: Start, tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "app.py": """
                import falcon.asgi


                class Hello:
                    async def on_get(self, req, resp):
                        resp.text = "hello from falcon asgi"


                app = falcon.asgi.App()
                app.add_route("/", Hello())
            """
        },
    )
    launcher = launch(tmp_path)
    assert body(launcher.url) == "hello from falcon asgi"
    assert "Using worker: asgi" in launcher.log()


def test_flask_wsgi_py_with_a_factory_call(launch: Start, tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "wsgi.py": "from blog import create_app\n\napp = create_app()\n",
            "blog/__init__.py": """
                from flask import Flask


                def create_app():
                    app = Flask(__name__)
                    app.add_url_rule("/", "index", lambda: "hello from the blog factory")
                    return app
            """,
        },
    )
    launcher = launch(tmp_path)
    assert body(launcher.url) == "hello from the blog factory"


def test_flask_app_variable_with_a_factory(launch: Start, tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "app.py": flask_app("app", "not this one"),
            "src/blog/__init__.py": """
                from flask import Flask


                def create_app(name):
                    app = Flask(__name__)
                    app.add_url_rule("/", "index", lambda: f"hello from {name}")
                    return app
            """,
        },
    )
    launcher = launch(tmp_path, env={"FLASK_APP": "src/blog:create_app('flask_app')"})
    assert body(launcher.url) == "hello from flask_app"


def test_procfile_gunicorn_runs_in_process(launch: Start, tmp_path: Path) -> None:
    write(
        tmp_path,
        {"Procfile": "web: gunicorn --workers 2 hello:myapp\n", "hello.py": flask_app("myapp")},
    )
    launcher = launch(tmp_path)
    assert body(launcher.url) == "hello from flask"
    log = launcher.log()
    assert "rule procfile: Procfile (web): gunicorn serves hello:myapp" in log
    assert f"Listening at: {launcher.url} ({launcher.process.pid})" in log
    # The first worker up answers; the second may still be booting.
    wait_for(lambda: launcher.log().count("Booting worker with pid") == 2, 15, "two workers")


def test_procfile_other_program_runs_supervised(launch: Start, tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "Procfile": "web: python -m http.server $PORT --bind 127.0.0.1\n",
            "index.html": "hello from http.server\n",
        },
    )
    launcher = launch(tmp_path)
    assert body(launcher.url + "/index.html") == "hello from http.server\n"
    assert launcher.stop() == 0 or launcher.process.returncode == 128 + 15


@pytest.mark.parametrize("option", ["--check-config", "--print-config"])
def test_check_and_print_config_exit_without_serving(
    launch: Start, tmp_path: Path, option: str
) -> None:
    write(tmp_path, {"hello.py": flask_app("myapp"), "broken.py": "import not_installed_xyz\n"})
    ok = launch(tmp_path, f"gunicorn {option} --timeout 77 hello:myapp", wait=False)
    assert ok.wait(30) == 0
    log = ok.log()
    assert "Listening at" not in log
    if option == "--print-config":
        assert re.search(r"^timeout += 77$", log, re.MULTILINE)
    broken = launch(tmp_path, f"gunicorn {option} broken:app", wait=False)
    assert broken.wait(30) == 1
    assert "Error while loading the application: " in broken.log()
    assert "not_installed_xyz" in broken.log() and "Listening at" not in broken.log()


def test_daemon_is_refused(launch: Start, tmp_path: Path) -> None:
    write(tmp_path, {"hello.py": flask_app("myapp")})
    launcher = launch(tmp_path, "gunicorn --daemon hello:myapp", wait=False)
    assert launcher.wait(30) == 1
    (error,) = [line for line in launcher.log().splitlines() if "[ERROR]" in line]
    assert "--daemon (from startup) would fork gunicorn into the background" in error


def test_django_startproject_in_src_with_manage_py_at_the_top(
    launch: Start, tmp_path: Path
) -> None:
    """``django-admin startproject`` moved into ``src/``; ``manage.py`` at the top puts
    ``src/`` on ``sys.path`` first, and the settings name another WSGI module."""
    src = tmp_path / "src"
    src.mkdir()
    subprocess.run([sys.executable, "-m", "django", "startproject", "mysite", str(src)], check=True)
    manage = (src / "manage.py").read_text()
    (src / "manage.py").unlink()
    adds_src = (
        "    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'src'))\n"
    )
    (tmp_path / "manage.py").write_text(manage.replace("def main():\n", "def main():\n" + adds_src))
    settings = src / "mysite" / "settings.py"
    (src / "mysite" / "serving.py").write_text((src / "mysite" / "wsgi.py").read_text())
    settings.write_text(
        settings.read_text().replace("mysite.wsgi.application", "mysite.serving.application")
        + "\nALLOWED_HOSTS = ['127.0.0.1']\n"
    )
    write(tmp_path, {"tools/wsgi.py": "application = None\n"})  # what a search alone serves
    # The project as Django itself sees it.
    check = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=tmp_path, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stderr
    launcher = launch(tmp_path)
    with urllib.request.urlopen(launcher.url, timeout=10) as response:
        assert "The install worked successfully" in response.read().decode()
    assert "manage.py -> mysite.settings.WSGI_APPLICATION -> mysite.serving:application" in (
        launcher.log()
    )
