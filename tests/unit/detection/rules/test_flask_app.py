"""The neighbours' rules of the chain (configfile.py, conventions.py, startupfile.py): a
Procfile's web process, ``wsgi_app`` in gunicorn's config file, ``FLASK_APP``, and
``--paste``. Real files under ``tmp_path``; nothing is imported."""

from __future__ import annotations

from pathlib import Path

import pytest

from appservice_gunicorn import Detection, detect
from appservice_gunicorn.plan.settings import layer_settings
from tests.helpers import fastapi_app, flask_app, write

NO_ENV: dict[str, str] = {}


def matched(found: Detection) -> str:
    return next(r.reason for r in found.rules if r.matched)


# --- Procfile ---------------------------------------------------------------------------------


def test_procfile_web_gunicorn_is_served_in_process(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "Procfile": "# deploy\nworker: celery -A tasks worker\n"
            "web: gunicorn --workers 3 hello:myapp\n",
            "hello.py": flask_app("myapp"),
            "app.py": flask_app(),
        },
    )
    found = detect(tmp_path, env=NO_ENV)
    assert (found.rule, found.kind, found.app) == ("procfile", "wsgi", "hello:myapp")
    assert found.startup is not None and found.startup.settings == {"workers": 3}
    assert matched(found) == "Procfile (web): gunicorn serves hello:myapp"


def test_procfile_web_other_program_is_supervised(tmp_path: Path) -> None:
    write(tmp_path, {"Procfile": "web: uvicorn main:app --port $PORT\n", "main.py": fastapi_app()})
    found = detect(tmp_path, env=NO_ENV)
    assert (found.rule, found.kind) == ("procfile", "command")
    assert found.command == "uvicorn main:app --port $PORT"


def test_procfile_settings_only_apply_to_the_app_found_below(tmp_path: Path) -> None:
    write(tmp_path, {"Procfile": "web: gunicorn --threads 4\n", "app.py": flask_app()})
    found = detect(tmp_path, env=NO_ENV)
    assert (found.rule, found.app) == ("app-file", "app:app")
    assert layer_settings(found, NO_ENV, run_config_file=False).value("threads") == 4


def test_a_startup_command_wins_over_the_procfile(tmp_path: Path) -> None:
    write(tmp_path, {"Procfile": "web: gunicorn hello:myapp\n", "app.py": flask_app()})
    found = detect(tmp_path, "gunicorn app:app", NO_ENV)
    assert (found.rule, found.app) == ("startup", "app:app")


@pytest.mark.parametrize(
    ("files", "env", "reason"),
    [
        ({}, {}, "no Procfile"),
        ({"Procfile": "worker: python work.py\n"}, {}, "Procfile has no web: process"),
        (
            {"Procfile": "web: gunicorn hello:myapp\n"},
            {"APPSVC_IGNORE_PROCFILE": "1"},
            "Procfile ignored (APPSVC_IGNORE_PROCFILE=1)",
        ),
    ],
)
def test_procfile_not_used(
    tmp_path: Path, files: dict[str, str], env: dict[str, str], reason: str
) -> None:
    write(tmp_path, {**files, "app.py": flask_app()})
    found = detect(tmp_path, env=env)
    assert found.rule == "app-file"
    assert next(r.reason for r in found.rules if r.name == "procfile") == reason


def test_a_binary_procfile_is_one_error_and_the_chain_goes_on(tmp_path: Path) -> None:
    (tmp_path / "Procfile").write_bytes(b"web: \x00\x01")
    write(tmp_path, {"app.py": flask_app()})
    found = detect(tmp_path, env=NO_ENV)
    assert found.rule == "app-file"
    assert found.startup_error is not None and "Procfile" in found.startup_error


# --- wsgi_app in gunicorn's config file ---------------------------------------------------------


def test_wsgi_app_in_the_config_file_is_the_app(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "gunicorn.conf.py": "wsgi_app = 'hello:myapp'\nworkers = 2\n",
            "hello.py": flask_app("myapp"),
            "app.py": flask_app(),
        },
    )
    found = detect(tmp_path, env=NO_ENV)
    assert (found.rule, found.app, found.kind) == ("config-file", "hello:myapp", "wsgi")
    assert matched(found) == "gunicorn.conf.py sets wsgi_app = 'hello:myapp'"


def test_the_config_file_named_by_the_startup_command_or_variable_is_read(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "conf/prod.py": "wsgi_app = 'main:app'\n",
            "main.py": fastapi_app(),
            "app.py": flask_app(),
        },
    )
    found = detect(tmp_path, "gunicorn -c conf/prod.py", NO_ENV)
    assert (found.rule, found.app, found.kind) == ("config-file", "main:app", "asgi")
    env = {"PYTHON_USE_GUNICORN_CONFIG_FROM_PATH": "conf/prod.py"}
    assert detect(tmp_path, env=env).app == "main:app"
    assert detect(tmp_path, env={"GUNICORN_CMD_ARGS": "-c conf/prod.py"}).app == "main:app"
    # Quoted as shlex reads it, as gunicorn does: -c all the same.
    assert detect(tmp_path, env={"GUNICORN_CMD_ARGS": '-"c" conf/prod.py'}).app == "main:app"
    assert detect(tmp_path, env=NO_ENV).app == "app:app"


# --- FLASK_APP --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "files", "app", "root"),
    [
        ("hello", {"hello.py": flask_app("site")}, "hello:site", "."),
        ("hello:site", {"hello.py": flask_app("site")}, "hello:site", "."),
        ("hello.py", {"hello.py": flask_app("site")}, "hello:site", "."),
        (
            "blog:create_app('dev')",
            {"blog/__init__.py": "def create_app(env):\n    pass\n"},
            "blog:create_app('dev')",
            ".",
        ),
        (
            "src/blog/__init__.py",
            {"src/blog/__init__.py": "from flask import Flask\n\ndef create_app():\n    pass\n"},
            "blog:create_app()",
            "src",
        ),
        ("src/hello.py", {"src/hello.py": flask_app()}, "hello:app", "src"),
    ],
)
def test_flask_app_as_flask_reads_it(
    tmp_path: Path, value: str, files: dict[str, str], app: str, root: str
) -> None:
    write(tmp_path, {**files, "app.py": flask_app()})
    found = detect(tmp_path, env={"FLASK_APP": value})
    assert (found.rule, found.app, found.pythonpath) == ("flask-app", app, tmp_path / root)


MICROBLOG = {
    "app/__init__.py": "from flask import Flask\n\n\ndef create_app():\n    return Flask('x')\n",
    "microblog.py": "from app import create_app\n\napp = create_app()\n",
}


@pytest.mark.parametrize(
    "flaskenv",
    [
        "FLASK_APP=microblog.py\n",
        "# the dev server's settings\nexport FLASK_APP='microblog.py'  # ours\nFLASK_DEBUG=1\n",
        'FLASK_APP = "microblog:app"\n',
    ],
)
def test_flask_app_from_the_projects_flaskenv(tmp_path: Path, flaskenv: str) -> None:
    """miguelgrinberg/microblog: its entry point is named only in .flaskenv."""
    write(tmp_path, {**MICROBLOG, ".flaskenv": flaskenv})
    found = detect(tmp_path, env=NO_ENV)
    assert (found.rule, found.app, found.pythonpath) == ("flask-app", "microblog:app", tmp_path)
    assert found.rules[-1].reason.startswith(".flaskenv's FLASK_APP=microblog")


@pytest.mark.parametrize(
    ("line", "app"),
    [
        # As python-dotenv reads them: an unquoted value runs to the end of the line.
        ("FLASK_APP=app:create_app(debug=True, x=1)  # dev\n", "app:create_app(debug=True, x=1)"),
        ("\ufeffFLASK_APP=app\n", "app:create_app()"),
        ('FLASK_APP="app:create_app(\\"dev\\")"\n', 'app:create_app("dev")'),
        ("FLASK_APP=gone\nFLASK_APP='app'\r\n", "app:create_app()"),
    ],
    ids=["spaces", "bom", "escaped-quotes", "last-wins"],
)
def test_flaskenv_values_are_read_as_dotenv_reads_them(tmp_path: Path, line: str, app: str) -> None:
    write(tmp_path, {"app.py": "def create_app(debug=False, x=0):\n    pass\n"})
    (tmp_path / ".flaskenv").write_bytes(line.encode())
    found = detect(tmp_path, env=NO_ENV)
    assert (found.rule, found.app) == ("flask-app", app)


def test_flask_app_in_the_environment_wins_over_flaskenv_and_env_is_not_read(
    tmp_path: Path,
) -> None:
    write(tmp_path, {**MICROBLOG, ".flaskenv": "FLASK_APP=microblog.py\n", "hello.py": flask_app()})
    assert detect(tmp_path, env={"FLASK_APP": "hello"}).app == "hello:app"
    (tmp_path / ".flaskenv").unlink()
    write(tmp_path, {".env": "FLASK_APP=microblog.py\nSECRET_KEY=x\n"})
    assert detect(tmp_path, env=NO_ENV).rule == "default-site"


def test_a_flaskenv_naming_a_missing_module_is_a_note(tmp_path: Path) -> None:
    write(tmp_path, {".flaskenv": "FLASK_APP=gone.py\n", "app.py": flask_app()})
    found = detect(tmp_path, env=NO_ENV)
    assert (found.rule, found.app) == ("app-file", "app:app")
    assert any("fix FLASK_APP in .flaskenv or deploy the module" in n for n in found.notes)


def test_flask_app_naming_a_missing_module_is_a_warning_and_the_chain_goes_on(
    tmp_path: Path,
) -> None:
    write(tmp_path, {"app.py": flask_app()})
    found = detect(tmp_path, env={"FLASK_APP": "missing:app"})
    assert found.rule == "app-file"
    (note,) = [n for n in found.notes if "FLASK_APP" in n]
    assert note.startswith("FLASK_APP='missing:app' names module 'missing', which is not in")


# --- --paste ----------------------------------------------------------------------------------


def test_paste_names_the_app(tmp_path: Path) -> None:
    write(tmp_path, {"production.ini": "[app:main]\nuse = egg:myapp\n", "app.py": flask_app()})
    found = detect(tmp_path, "gunicorn --paste production.ini", NO_ENV)
    assert (found.rule, found.kind, found.app, found.paste) == (
        "startup",
        "wsgi",
        "config:production.ini",
        True,
    )


def test_settings_from_the_procfile_are_labelled_so(tmp_path: Path) -> None:
    write(tmp_path, {"Procfile": "web: gunicorn --threads 4\n", "app.py": flask_app()})
    settings = layer_settings(detect(tmp_path, env=NO_ENV), NO_ENV, run_config_file=False)
    assert settings.source("threads") == "Procfile"


def test_a_wsgi_app_that_code_sets_is_left_to_gunicorn(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "gunicorn.conf.py": "wsgi_app = 'a:app'\nwsgi_app = 'b' + ':app'\n",
            "a.py": flask_app(),
            "app.py": flask_app(),
        },
    )
    found = detect(tmp_path, env=NO_ENV)
    assert found.rule != "config-file"
