"""Issue 3, fast checks: detection, virtualenvs, startup commands and platform variables.

Everything here writes real files under ``tmp_path`` and calls the public functions;
nothing imports the user code, starts a server or uses the network.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from gunicorn.config import Config

from appservice_gunicorn import detect, platform, venv
from appservice_gunicorn.settings import layer_settings
from appservice_gunicorn.shell import Step
from appservice_gunicorn.startup import classify, resolve_startup
from tests.helpers import fastapi_app, flask_app, write

# The documented order (README, issue 3), written out rather than imported.
FLASK_STYLE_FILES = ["application.py", "app.py", "run.py", "index.py", "server.py", "main.py"]
NO_ENV: dict[str, str] = {}
RUNNING = f"{sys.version_info[0]}.{sys.version_info[1]}"


# --- Flask-style files ------------------------------------------------------------------------


@pytest.mark.parametrize("name", FLASK_STYLE_FILES)
def test_each_flask_style_file_is_found(tmp_path: Path, name: str) -> None:
    write(tmp_path, {name: flask_app("app")})
    found = detect(tmp_path, env=NO_ENV)
    assert (found.rule, found.kind) == ("app-file", "wsgi")
    assert found.app == f"{name.removesuffix('.py')}:app"
    assert found.pythonpath == tmp_path


def test_flask_style_files_are_tried_in_the_documented_order(tmp_path: Path) -> None:
    for position, name in enumerate(FLASK_STYLE_FILES):
        for later in FLASK_STYLE_FILES[position:]:
            write(tmp_path, {later: flask_app("app")})
        assert detect(tmp_path, env=NO_ENV).app == f"{name.removesuffix('.py')}:app"
        (tmp_path / name).unlink()
        for later in FLASK_STYLE_FILES[position + 1 :]:
            (tmp_path / later).unlink()


def test_a_file_without_app_object_passes_to_the_next_name(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "app.py": "import os\n\ndef helper():\n    return os.sep\n\nVALUE = 1\n",
            "main.py": flask_app("app"),
        },
    )
    assert detect(tmp_path, env=NO_ENV).app == "main:app"


def test_no_app_object_reports_the_names_seen(tmp_path: Path) -> None:
    write(tmp_path, {"app.py": "import os\n\ndef helper():\n    return os.sep\n\nVALUE = 1\n"})
    found = detect(tmp_path, env=NO_ENV)
    assert found.kind == "default"
    reason = next(rule.reason for rule in found.rules if rule.name == "app-file")
    assert "app.py: no Flask/FastAPI object found" in reason
    assert "names seen: helper, VALUE" in reason


def test_no_flask_style_file_names_all_six(tmp_path: Path) -> None:
    found = detect(tmp_path, env=NO_ENV)
    reason = next(rule.reason for rule in found.rules if rule.name == "app-file")
    assert reason == "none of " + ", ".join(FLASK_STYLE_FILES) + " exists"


# --- which object in the file -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (flask_app("server"), "server"),
        ("from flask import Flask\napplication = Flask(__name__)\n", "application"),
        # `app` wins over any other object.
        ("from flask import Flask\napi = Flask('a')\napp = Flask('b')\n", "app"),
        ("from flask import Flask\napplication = Flask('a')\napp = application\n", "app"),
        # `application` (often a wrapped app) wins over the bare framework object.
        (
            "from flask import Flask\nfrom wrap import Middleware\n"
            "core = Flask(__name__)\napplication = Middleware(core)\n",
            "application",
        ),
        ("from fastapi import FastAPI as F\nweb = F()\n", "web"),
        ("import flask as fl\nsite = fl.Flask(__name__)\n", "site"),
        ("import fastapi\nservice = fastapi.FastAPI()\n", "service"),
        (
            "from flask import Flask\n\ndef create_app():\n    return Flask(__name__)\n",
            "create_app()",
        ),
        # Bound inside `if __name__ == "__main__":` / try blocks still counts.
        (
            "try:\n    from flask import Flask\n    srv = Flask('x')\n"
            "except ImportError:\n    pass\n",
            "srv",
        ),
    ],
)
def test_app_object_choice(tmp_path: Path, source: str, expected: str) -> None:
    write(tmp_path, {"main.py": source})
    found = detect(tmp_path, env=NO_ENV)
    assert found.app == f"main:{expected}"
    reason = next(rule.reason for rule in found.rules if rule.matched)
    assert f"defines {expected}" in reason


def test_detection_never_imports_the_app(tmp_path: Path) -> None:
    marker = tmp_path / "imported"
    write(
        tmp_path,
        {
            "app.py": f"open({str(marker)!r}, 'w').close()\n"
            "from flask import Flask\napp = Flask(__name__)\n"
        },
    )
    assert detect(tmp_path, env=NO_ENV).app == "app:app"
    assert not marker.exists()


def test_syntax_error_is_served_so_that_loading_shows_it(tmp_path: Path) -> None:
    write(tmp_path, {"app.py": "def broken(:\n"})
    found = detect(tmp_path, env=NO_ENV)
    assert found.app == "app:app"
    assert "syntax error at line 1" in next(r.reason for r in found.rules if r.matched)


# --- ASGI or WSGI -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "kind"),
    [
        ("from flask import Flask\napp = Flask(__name__)\n", "wsgi"),
        ("from fastapi import FastAPI\napp = FastAPI()\n", "asgi"),
        ("from starlette.applications import Starlette\napp = Starlette()\n", "asgi"),
        ("from quart import Quart\napp = Quart(__name__)\n", "asgi"),
        ("from sanic import Sanic\napp = Sanic('svc')\n", "asgi"),
        # Unknown factory: the imports decide.
        ("from fastapi import FastAPI\nfrom mine import build\napp = build(FastAPI)\n", "asgi"),
        ("from mine import build\napp = build()\n", "wsgi"),
    ],
)
def test_asgi_or_wsgi(tmp_path: Path, source: str, kind: str) -> None:
    write(tmp_path, {"app.py": source})
    found = detect(tmp_path, env=NO_ENV)
    assert found.kind == kind
    assert found.worker_class == ("asgi" if kind == "asgi" else None)
    settings = layer_settings(found, NO_ENV, run_config_file=False)
    assert settings.value("worker_class", "sync") == ("asgi" if kind == "asgi" else "sync")


def test_startup_gunicorn_command_for_fastapi_gets_the_asgi_worker(tmp_path: Path) -> None:
    write(tmp_path, {"main.py": fastapi_app("api")})
    found = detect(tmp_path, "gunicorn main:api", env=NO_ENV)
    assert (found.rule, found.kind, found.app) == ("startup", "asgi", "main:api")
    assert layer_settings(found, NO_ENV, run_config_file=False).value("worker_class") == "asgi"


def test_explicit_worker_class_wins(tmp_path: Path) -> None:
    write(tmp_path, {"main.py": fastapi_app("app")})
    found = detect(tmp_path, "gunicorn -k sync main:app", env=NO_ENV)
    setting = layer_settings(found, NO_ENV, run_config_file=False).values["worker_class"]
    assert (setting.value, setting.source) == ("sync", "startup")


# --- Django -----------------------------------------------------------------------------------

MANAGE_PY = """
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "{settings}")
    from django.core.management import execute_from_command_line
    execute_from_command_line(sys.argv)
"""

WSGI_PY = """
import os
from django.core.wsgi import get_wsgi_application
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
application = get_wsgi_application()
"""


def split_settings_project(root: Path, manage_settings: str = "config.settings.production") -> Path:
    """A ``src/`` layout with split settings, and a decoy ``wsgi.py`` a search would pick."""
    return write(
        root,
        {
            "src/manage.py": MANAGE_PY.format(settings=manage_settings),
            "src/config/__init__.py": "",
            "src/config/settings/__init__.py": "",
            "src/config/settings/base.py": 'WSGI_APPLICATION = "config.wsgi.application"\n',
            "src/config/settings/production.py": "from .base import *  # noqa\nDEBUG = False\n",
            "src/config/settings/dev.py": (
                'from .base import *  # noqa\nWSGI_APPLICATION = "config.devwsgi.application"\n'
            ),
            "src/config/wsgi.py": WSGI_PY,
            "src/config/devwsgi.py": WSGI_PY,
            "src/config/asgi.py": "application = None\n",
            # Shallower than src/config/wsgi.py: a breadth-first search alone would take it.
            "legacy/wsgi.py": "application = None\n",
        },
    )


def test_django_nested_layout_through_manage_py(tmp_path: Path) -> None:
    split_settings_project(tmp_path)
    found = detect(tmp_path, env=NO_ENV)
    assert (found.rule, found.kind) == ("django", "wsgi")
    assert found.app == "config.wsgi:application"
    assert found.pythonpath == tmp_path / "src"
    reason = next(r.reason for r in found.rules if r.matched)
    assert "src/manage.py -> config.settings.production.WSGI_APPLICATION" in reason


def test_django_settings_module_from_environment_overrides_manage_py(tmp_path: Path) -> None:
    split_settings_project(tmp_path)
    found = detect(tmp_path, env={"DJANGO_SETTINGS_MODULE": "config.settings.dev"})
    assert found.app == "config.devwsgi:application"


def test_django_manage_py_assignment_and_custom_variable(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "manage.py": "import os\nos.environ['DJANGO_SETTINGS_MODULE'] = 'site_cfg'\n",
            "site_cfg.py": 'WSGI_APPLICATION = "serving.entry.wsgi_app"\n',
            "serving/__init__.py": "",
            "serving/entry.py": "wsgi_app = None\n",
        },
    )
    found = detect(tmp_path, env=NO_ENV)
    assert (found.app, found.pythonpath) == ("serving.entry:wsgi_app", tmp_path)


def test_django_missing_settings_module_is_noted_and_search_takes_over(tmp_path: Path) -> None:
    write(
        tmp_path,
        {"manage.py": MANAGE_PY.format(settings="nowhere.settings"), "proj/wsgi.py": ""},
    )
    found = detect(tmp_path, env=NO_ENV)
    assert found.app == "proj.wsgi:application"
    assert any("'nowhere.settings'" in note and "manage.py" in note for note in found.notes)


def test_django_asgi_opt_in(tmp_path: Path) -> None:
    split_settings_project(tmp_path)
    found = detect(tmp_path, env={"APPSVC_DJANGO_ASGI": "1"})
    assert (found.app, found.kind, found.worker_class) == (
        "config.asgi:application",
        "asgi",
        "asgi",
    )


def test_django_asgi_opt_in_by_startup_worker_class(tmp_path: Path) -> None:
    split_settings_project(tmp_path)
    found = detect(tmp_path, "--worker-class asgi", env=NO_ENV)
    assert (found.app, found.kind) == ("config.asgi:application", "asgi")


def test_django_asgi_opt_in_without_asgi_py_serves_wsgi(tmp_path: Path) -> None:
    split_settings_project(tmp_path)
    (tmp_path / "src/config/asgi.py").unlink()
    found = detect(tmp_path, env={"APPSVC_DJANGO_ASGI": "true"})
    assert (found.app, found.kind) == ("config.wsgi:application", "wsgi")
    assert any("config/asgi.py does not exist" in note for note in found.notes)


# --- breadth-first search for wsgi.py ---------------------------------------------------------


def test_search_skips_hidden_tool_and_virtualenv_folders(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            ".git/hooks/wsgi.py": "",
            ".hidden/wsgi.py": "",
            "node_modules/pkg/wsgi.py": "",
            "__pycache__/wsgi.py": "",
            "antenv/wsgi.py": "",
            "env/pyvenv.cfg": "home = /usr/bin\n",
            "env/wsgi.py": "",
            "vendor/site-packages/wsgi.py": "",
        },
    )
    found = detect(tmp_path, env=NO_ENV)
    assert found.kind == "default"
    reason = next(r.reason for r in found.rules if r.name == "django")
    for skipped in (
        ".git: hidden",
        ".hidden: hidden",
        "node_modules: node_modules",
        "__pycache__: __pycache__",
        "antenv: virtualenv",
        "env: virtualenv",
        "vendor/site-packages: site-packages",
    ):
        assert skipped in reason
    write(tmp_path, {"proj/wsgi.py": ""})
    assert detect(tmp_path, env=NO_ENV).app == "proj.wsgi:application"


def test_search_reaches_depth_three_and_not_four(tmp_path: Path) -> None:
    write(tmp_path, {"a/b/c/d/wsgi.py": ""})
    assert detect(tmp_path, env=NO_ENV).kind == "default"
    write(tmp_path, {"a/b/c/wsgi.py": ""})
    assert detect(tmp_path, env=NO_ENV).app == "a.b.c.wsgi:application"


def test_search_ties_shallowest_then_sorted_and_others_noted(tmp_path: Path) -> None:
    write(
        tmp_path,
        {"b/wsgi.py": "", "a/wsgi.py": "", "a/deep/wsgi.py": "", "0/x/wsgi.py": ""},
    )
    found = detect(tmp_path, env=NO_ENV)
    assert found.app == "a.wsgi:application"
    (note,) = [n for n in found.notes if "several wsgi.py" in n]
    assert note.endswith("passed over: b/wsgi.py, 0/x/wsgi.py, a/deep/wsgi.py")


def test_search_puts_the_folder_above_the_package_on_the_path(tmp_path: Path) -> None:
    write(tmp_path, {"src/mysite/__init__.py": "", "src/mysite/wsgi.py": ""})
    found = detect(tmp_path, env=NO_ENV)
    assert (found.app, found.pythonpath) == ("mysite.wsgi:application", tmp_path / "src")


def test_django_inside_a_virtualenv_is_not_served(tmp_path: Path) -> None:
    site = f".venv/lib/python{RUNNING}/site-packages"
    write(
        tmp_path,
        {
            ".venv/pyvenv.cfg": f"home = /usr/bin\nversion = {RUNNING}.0\n",
            f"{site}/django/core/wsgi.py": "def get_wsgi_application(): ...\n",
            f"{site}/django/conf/project_template/manage.py": "",
            "app.py": flask_app("app"),
        },
    )
    found = detect(tmp_path, env=NO_ENV)
    assert (found.rule, found.app) == ("app-file", "app:app")
    assert found.venv is not None and found.venv.path == tmp_path / ".venv"


# --- virtualenvs ------------------------------------------------------------------------------


def fake_venv(root: Path, version: str = RUNNING) -> Path:
    write(
        root,
        {
            "pyvenv.cfg": f"home = /usr/bin\ninclude-system-site-packages = false\n"
            f"version = {version}.1\n",
            f"lib/python{version}/site-packages/marker.txt": "",
        },
    )
    return root / "lib" / f"python{version}" / "site-packages"


@pytest.mark.parametrize("name", ["antenv", ".venv", "venv", "whatever"])
def test_virtualenv_is_found(tmp_path: Path, name: str) -> None:
    site_packages = fake_venv(tmp_path / name)
    write(tmp_path, {"app.py": flask_app("app")})
    found = detect(tmp_path, env=NO_ENV)
    assert found.venv is not None
    assert found.venv.path == tmp_path / name
    assert found.venv.site_packages == (site_packages,)
    assert not [note for note in found.notes if "virtualenv" in note]


def test_virtualenv_named_by_appsvc_virtual_env_wins(tmp_path: Path) -> None:
    fake_venv(tmp_path / "antenv")
    fake_venv(tmp_path / "deps")
    found = detect(tmp_path, env={"APPSVC_VIRTUAL_ENV": "deps"})
    assert found.venv is not None and found.venv.path == tmp_path / "deps"
    absolute = str(tmp_path / "deps")
    found = detect(tmp_path, env={"APPSVC_VIRTUAL_ENV": absolute})
    assert found.venv is not None and found.venv.path == tmp_path / "deps"


def test_missing_appsvc_virtual_env_is_reported(tmp_path: Path) -> None:
    found = detect(tmp_path, env={"APPSVC_VIRTUAL_ENV": "nope"})
    assert found.venv is None
    assert any("APPSVC_VIRTUAL_ENV='nope'" in note for note in found.notes)


def test_virtualenv_without_site_packages_is_reported(tmp_path: Path) -> None:
    write(tmp_path, {"antenv/pyvenv.cfg": "home = /usr/bin\n"})
    found = detect(tmp_path, env=NO_ENV)
    assert found.venv is not None and found.venv.site_packages == ()
    assert any("antenv" in note and "no site-packages" in note for note in found.notes)


def test_virtualenv_python_version_mismatch_is_warned(tmp_path: Path) -> None:
    other = f"{sys.version_info[0]}.{sys.version_info[1] + 1}"
    fake_venv(tmp_path / "antenv", other)
    found = detect(tmp_path, env=NO_ENV)
    (warning,) = [note for note in found.notes if "built for Python" in note]
    assert f"built for Python {other}" in warning
    assert f"launcher runs Python {RUNNING}" in warning


def test_real_virtualenv_is_described(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "env")], check=True
    )
    described = venv.find(tmp_path, NO_ENV)
    assert described is not None
    assert described.python == sys.version_info[:2]
    assert [p.name for p in described.site_packages] == ["site-packages"]
    assert described.mismatch() is None


# --- startup commands -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        "gunicorn --workers=2 main:app",
        "python -m gunicorn main:app",
        "python3 -m gunicorn --timeout 30 main:app",
        "/usr/local/bin/gunicorn main:app",
        "--workers=2 main:app",
        "main:app",
    ],
)
def test_gunicorn_commands_stay_in_process(tmp_path: Path, command: str) -> None:
    write(tmp_path, {"main.py": flask_app("app")})
    found = detect(tmp_path, command, env=NO_ENV)
    assert (found.rule, found.kind, found.app) == ("startup", "wsgi", "main:app")
    assert found.startup is not None and found.startup.kind == "gunicorn"


@pytest.mark.parametrize(
    "command",
    [
        "python -m uvicorn main:app --host 127.0.0.1 --port $PORT",
        # A Python that is not on PATH is still a program, not gunicorn's arguments.
        "python3.99 -m uvicorn main:app",
        "uvicorn main:app --port $PORT",
        "cd src; gunicorn main:app",
        "gunicorn main:app | tee log.txt",
        "gunicorn main:app > log.txt 2>&1",
        "gunicorn main:app &",
        "FLASK_ENV=production gunicorn main:app",
        "echo $(date) && gunicorn main:app",
        "true && cd src",
        "if true; then gunicorn main:app; fi",
    ],
)
def test_other_commands_are_supervised_as_written(tmp_path: Path, command: str) -> None:
    found = detect(tmp_path, command, env=NO_ENV)
    assert (found.rule, found.kind) == ("startup", "command")
    assert found.command == command  # as written: the shell expands $PORT
    assert found.startup is not None
    assert found.startup.shell_argv() == ["/bin/sh", "-c", command]
    assert "runs as a supervised command" in found.rules[0].reason


def test_steps_then_gunicorn_serve_in_process(tmp_path: Path) -> None:
    write(tmp_path, {"main.py": flask_app("app")})
    found = detect(tmp_path, "python manage.py migrate && gunicorn main:app", env=NO_ENV)
    assert (found.rule, found.kind, found.app) == ("startup", "wsgi", "main:app")
    assert found.startup is not None
    assert found.startup.steps == (Step("python manage.py migrate", True),)
    assert found.rules[0].reason.endswith("gunicorn serves main:app after 1 pre-start step(s)")


def test_multi_line_startup_file_is_steps_then_gunicorn(tmp_path: Path) -> None:
    write(
        tmp_path,
        {"startup.txt": "# prepare\npython manage.py collectstatic --noinput\ngunicorn a:b\n"},
    )
    found = detect(tmp_path, "startup.txt", env=NO_ENV)
    assert (found.kind, found.app) == ("wsgi", "a:b")
    assert found.startup is not None
    assert found.startup.steps == (Step("python manage.py collectstatic --noinput", False),)


def test_one_line_startup_file_with_gunicorn_stays_in_process(tmp_path: Path) -> None:
    write(tmp_path, {"startup.txt": "gunicorn --workers 3 hello:myapp\n"})
    command = resolve_startup(["startup.txt"], tmp_path, NO_ENV)
    assert command is not None
    assert (command.kind, command.app, command.settings["workers"]) == (
        "gunicorn",
        "hello:myapp",
        3,
    )


def test_sh_startup_file_is_a_script(tmp_path: Path) -> None:
    write(tmp_path, {"startup.sh": "#!/bin/sh\nexec gunicorn main:app 2>&1 | cat\n"})
    found = detect(tmp_path, "startup.sh", env=NO_ENV)
    assert found.kind == "command"
    assert found.startup is not None and found.startup.kind == "script"
    script = "#!/bin/sh\nexec gunicorn main:app 2>&1 | cat\n"
    path = str((tmp_path / "startup.sh").resolve())
    assert found.startup.shell_argv() == ["/bin/sh", "-c", script, path]


def test_startup_chdir_keeps_gunicorn_meaning(tmp_path: Path) -> None:
    write(tmp_path, {"src/hello.py": fastapi_app("api")})
    found = detect(tmp_path, "gunicorn --chdir src hello:api", env=NO_ENV)
    assert (found.app, found.kind, found.pythonpath) == ("hello:api", "asgi", tmp_path / "src")


def test_classify_expands_variables_only_for_gunicorn(tmp_path: Path) -> None:
    command = classify("gunicorn --bind=127.0.0.1:$PORT a:b", "test", {"PORT": "9999"})
    assert command.settings["bind"] == ["127.0.0.1:9999"]


# --- platform environment variables -----------------------------------------------------------


def workers_and_threads(tmp_path: Path, env: dict[str, str]) -> tuple[int, int, str, list[str]]:
    found = detect(tmp_path, env=env)
    layered = layer_settings(found, env, run_config_file=False)
    config = Config()
    layered.apply(config)
    return config.workers, config.threads, config.worker_class_str, layered.errors


def test_no_variables_mean_one_sync_worker(tmp_path: Path) -> None:
    assert workers_and_threads(tmp_path, {}) == (1, 1, "sync", [])


def test_web_concurrency(tmp_path: Path) -> None:
    assert workers_and_threads(tmp_path, {"WEB_CONCURRENCY": "3"})[:2] == (3, 1)


def test_multiworkers_is_two_per_core_plus_one() -> None:
    errors: list[str] = []
    found = platform.platform_settings(
        {"PYTHON_ENABLE_GUNICORN_MULTIWORKERS": "true"}, errors, cpu_count=4
    )
    assert [(s.name, s.value) for s in found] == [("workers", 9)]
    assert errors == []


def test_multiworkers_counts_the_cores_this_process_may_use(tmp_path: Path) -> None:
    cores = platform.available_cores()
    assert cores == len(os.sched_getaffinity(0))
    env = {"PYTHON_ENABLE_GUNICORN_MULTIWORKERS": "TRUE", "WEB_CONCURRENCY": "7"}
    assert workers_and_threads(tmp_path, env)[0] == 2 * cores + 1


def test_custom_worker_num_wins_over_multiworkers(tmp_path: Path) -> None:
    env = {
        "PYTHON_ENABLE_GUNICORN_MULTIWORKERS": "true",
        "PYTHON_GUNICORN_CUSTOM_WORKER_NUM": "4",
        "WEB_CONCURRENCY": "7",
    }
    assert workers_and_threads(tmp_path, env)[0] == 4


def test_custom_thread_num_above_one_means_gthread(tmp_path: Path) -> None:
    env = {"PYTHON_GUNICORN_CUSTOM_THREAD_NUM": "8"}
    assert workers_and_threads(tmp_path, env)[1:3] == (8, "gthread")
    assert workers_and_threads(tmp_path, {"PYTHON_GUNICORN_CUSTOM_THREAD_NUM": "1"})[1:3] == (
        1,
        "sync",
    )


def test_startup_command_wins_over_platform_variables(tmp_path: Path) -> None:
    write(tmp_path, {"app.py": flask_app("app")})
    env = {"PYTHON_GUNICORN_CUSTOM_WORKER_NUM": "4"}
    found = detect(tmp_path, "gunicorn --workers 2 app:app", env=env)
    assert layer_settings(found, env, run_config_file=False).value("workers") == 2


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("WEB_CONCURRENCY", "many"),
        ("WEB_CONCURRENCY", "0"),
        ("PYTHON_ENABLE_GUNICORN_MULTIWORKERS", "maybe"),
        ("PYTHON_GUNICORN_CUSTOM_WORKER_NUM", "-2"),
        ("PYTHON_GUNICORN_CUSTOM_WORKER_NUM", "four"),
        ("PYTHON_GUNICORN_CUSTOM_THREAD_NUM", "2.5"),
    ],
)
def test_invalid_variable_is_reported_and_the_default_used(
    tmp_path: Path, name: str, value: str
) -> None:
    workers, threads, worker_class, errors = workers_and_threads(tmp_path, {name: value})
    assert (workers, threads, worker_class) == (1, 1, "sync")
    (error,) = errors
    assert f"{name}={value!r}" in error
    assert "\n" not in error


@pytest.mark.parametrize(
    ("files", "cores"),
    [
        ({"cpu.max": "100000 100000\n"}, 1),  # a 1-CPU limit (Kubernetes limits.cpu: 1)
        ({"cpu.max": "150000 100000\n"}, 2),  # 1.5 CPUs: rounded up
        ({"cpu.max": "max 100000\n"}, None),  # no quota: the affinity mask alone
        ({"cpu/cpu.cfs_quota_us": "50000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 1),  # v1
        ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None),
        ({}, None),
    ],
    ids=["v2-one-cpu", "v2-one-and-a-half", "v2-no-quota", "v1-half", "v1-no-quota", "none"],
)
def test_cores_follow_the_containers_cpu_quota(
    tmp_path: Path, files: dict[str, str], cores: int | None
) -> None:
    write(tmp_path, files)
    affinity = len(os.sched_getaffinity(0))
    expected = affinity if cores is None else min(cores, affinity)
    assert platform.available_cores(tmp_path) == expected


def test_a_one_cpu_pod_on_a_big_node_gets_three_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "cgroup", {"cpu.max": "100000 100000\n"})
    monkeypatch.setattr(platform, "CGROUP", tmp_path / "cgroup")
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(64)))
    errors: list[str] = []
    found = platform.platform_settings({"PYTHON_ENABLE_GUNICORN_MULTIWORKERS": "1"}, errors)
    assert [(s.name, s.value) for s in found] == [("workers", 3)]


# Devanagari and full-width digits: str.isdigit() says yes, socket.bind() says no.
@pytest.mark.parametrize(
    "value", ["\u0968\u0966\u0966\u0966", "\uff18\uff10\uff10\uff10", "80a0", "0", "70000"]
)
def test_only_ascii_port_numbers_are_ports(value: str) -> None:
    errors: list[str] = []
    assert platform.port({"PORT": value}, errors) == "8000"
    assert errors == [f"PORT={value!r} is not a port number (1-65535); ignoring it"]
