"""The app-file rule (detection.py): Flask-style files, which object, ASGI or WSGI; and
the startup rule as detection sees it. Real files under ``tmp_path``; nothing is imported.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from appservice_gunicorn import Detection, detect
from appservice_gunicorn.files.pysource import read_source
from appservice_gunicorn.plan.settings import layer_settings
from appservice_gunicorn.startup.command import classify, resolve_startup
from appservice_gunicorn.startup.shell import Step
from tests.helpers import count_calls, fastapi_app, flask_app, write

# The documented order (README), written out rather than imported.
FLASK_STYLE_FILES = [
    "application.py",
    "app.py",
    "run.py",
    "index.py",
    "server.py",
    "wsgi.py",
    "main.py",
    "api.py",
    "asgi.py",
]
# FastAPI's CLI paths inside an app/ folder, after the top-level files.
APP_FOLDER_FILES = ["app/main.py", "app/app.py", "app/api.py"]
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


def test_no_flask_style_file_names_every_path_tried(tmp_path: Path) -> None:
    found = detect(tmp_path, env=NO_ENV)
    reason = next(rule.reason for rule in found.rules if rule.name == "app-file")
    assert reason == "none of " + ", ".join(FLASK_STYLE_FILES + APP_FOLDER_FILES) + " exists"


def test_wsgi_py_at_the_top_holding_a_factory_call_is_served(tmp_path: Path) -> None:
    """Flask's own convention: ``wsgi.py`` next to the package, ``app = create_app()``."""
    write(
        tmp_path,
        {
            "wsgi.py": "from blog import create_app\n\napp = create_app()\n",
            "blog/__init__.py": "from flask import Flask\n\ndef create_app():\n"
            "    return Flask(__name__)\n",
        },
    )
    found = detect(tmp_path, env=NO_ENV)
    assert (found.rule, found.app, found.kind) == ("app-file", "wsgi:app", "wsgi")
    django = next(rule.reason for rule in found.rules if rule.name == "django")
    assert "sub-folders" in django


@pytest.mark.parametrize("name", APP_FOLDER_FILES)
def test_fastapi_app_folder_package_is_imported_from_the_app_folder(
    tmp_path: Path, name: str
) -> None:
    write(tmp_path, {"app/__init__.py": "", name: fastapi_app("app")})
    found = detect(tmp_path, env=NO_ENV)
    module = name.removesuffix(".py").replace("/", ".")
    assert (found.app, found.kind, found.pythonpath) == (f"{module}:app", "asgi", tmp_path)


def test_fastapi_app_folder_without_init_is_imported_from_inside_it(tmp_path: Path) -> None:
    write(tmp_path, {"app/main.py": fastapi_app("api")})
    found = detect(tmp_path, env=NO_ENV)
    assert (found.app, found.pythonpath) == ("main:api", tmp_path / "app")


def test_app_folder_files_follow_fastapi_order(tmp_path: Path) -> None:
    write(
        tmp_path, {"app/__init__.py": "", "app/api.py": fastapi_app(), "app/app.py": fastapi_app()}
    )
    assert detect(tmp_path, env=NO_ENV).app == "app.app:app"
    write(tmp_path, {"app/main.py": fastapi_app()})
    assert detect(tmp_path, env=NO_ENV).app == "app.main:app"


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
        # Bound inside a try block still counts (the main guard does not: see below).
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


def test_syntax_error_is_served_so_that_loading_shows_it(tmp_path: Path) -> None:
    write(tmp_path, {"app.py": "def broken(:\n"})
    found = detect(tmp_path, env=NO_ENV)
    assert found.app == "app:app"
    assert "syntax error at line 1" in next(r.reason for r in found.rules if r.matched)


@pytest.mark.parametrize(("extra", "parsed"), [(-100, True), (0, False)])
def test_an_app_file_over_4_mib_is_not_parsed(tmp_path: Path, extra: int, parsed: bool) -> None:
    app = b"from flask import Flask\napp = Flask(__name__)\n"
    padding = b"#" * (4 * 1024 * 1024 - len(app) + extra + 1) + b"\n"
    (tmp_path / "app.py").write_bytes(padding + app)
    found = detect(tmp_path, env=NO_ENV)
    assert found.app == "app:app"
    reason = next(r.reason for r in found.rules if r.matched)
    assert ("larger than 4 MiB" in reason) is not parsed, reason


def test_a_file_whose_size_is_not_known_is_read_to_its_end() -> None:
    # /proc reports a size of 0; reading up to the size alone would return one byte.
    status = read_source(Path("/proc/self/status"))
    assert status.startswith(b"Name:") and status.endswith(b"\n")


# --- ASGI or WSGI -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "kind"),
    [
        ("from flask import Flask\napp = Flask(__name__)\n", "wsgi"),
        ("from fastapi import FastAPI\napp = FastAPI()\n", "asgi"),
        ("from starlette.applications import Starlette\napp = Starlette()\n", "asgi"),
        ("from quart import Quart\napp = Quart(__name__)\n", "asgi"),
        ("from sanic import Sanic\napp = Sanic('svc')\n", "asgi"),
        ("from litestar import Litestar\napp = Litestar([])\n", "asgi"),
        ("import falcon.asgi\napp = falcon.asgi.App()\n", "asgi"),
        ("from falcon import asgi\napp = asgi.App()\n", "asgi"),
        ("from falcon.asgi import App\napp = App()\n", "asgi"),
        ("import falcon.asgi as fa\napp = fa.App()\n", "asgi"),
        ("import falcon\napp = falcon.App()\n", "wsgi"),
        ("from falcon import App\napp = App()\n", "wsgi"),
        ("import falcon\napplication = falcon.API()\n", "wsgi"),
        (
            "from django.core.asgi import get_asgi_application\n"
            "application = get_asgi_application()\n",
            "asgi",
        ),
        # An App from another package is no app object: the imports decide (WSGI here).
        ("from mine import App\napp = App()\n", "wsgi"),
        # Unknown factory: the imports decide.
        ("from fastapi import FastAPI\nfrom mine import build\napp = build(FastAPI)\n", "asgi"),
        ("from mine import build\napp = build()\n", "wsgi"),
        # A raw ASGI app: the function itself.
        ("async def app(scope, receive, send):\n    pass\n", "asgi"),
        ("def app(environ, start_response):\n    return []\n", "wsgi"),
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


@pytest.mark.parametrize(
    ("files", "command", "kind"),
    [
        # Azure's msdocs-fastapi-postgresql sample: the package re-exports its module's app.
        (
            {"src/fastapi_app/__init__.py": "from .app import app\n"},
            "gunicorn --chdir src fastapi_app:app",
            "asgi",
        ),
        ({"pkg/__init__.py": "from pkg.app import app\n"}, "gunicorn pkg:app", "asgi"),
        (
            {"pkg/__init__.py": "from . import app as _\nfrom .app import app as api\n"},
            "gunicorn pkg:api",
            "asgi",
        ),
        # Bound again after the import: the imports decide, as for any unknown object.
        (
            {"pkg/__init__.py": "from .app import app\napp = wrap(app)\n"},
            "gunicorn pkg:app",
            "wsgi",
        ),
        # A package importing from itself, or in a cycle, is read at most a few modules deep.
        ({"pkg/__init__.py": "from pkg import app\n"}, "gunicorn pkg:app", "wsgi"),
        (
            {"pkg/__init__.py": "from .a import app\n", "pkg/a.py": "from . import app\n"},
            "gunicorn pkg:app",
            "wsgi",
        ),
        # Above the import root: Python refuses it, and the file is not the app's.
        (
            {"site/pkg/__init__.py": "from ...outer import app\n", "outer.py": fastapi_app()},
            "gunicorn --chdir site pkg:app",
            "wsgi",
        ),
    ],
    ids=["relative", "absolute", "renamed", "bound-again", "itself", "cycle", "above-the-root"],
)
def test_an_app_imported_from_another_module_has_that_modules_kind(
    tmp_path: Path, files: dict[str, str], command: str, kind: str
) -> None:
    package = next(iter(files)).rpartition("/")[0]
    write(tmp_path, {f"{package}/app.py": fastapi_app("app"), **files})
    found = detect(tmp_path, command, env=NO_ENV)
    assert (found.rule, found.kind) == ("startup", kind)


def test_an_app_file_importing_its_app_from_a_package_has_its_kind(tmp_path: Path) -> None:
    write(tmp_path, {"app.py": "from api.main import app\n", "api/main.py": fastapi_app("app")})
    found = detect(tmp_path, env=NO_ENV)
    assert (found.rule, found.app, found.kind) == ("app-file", "app:app", "asgi")


def test_explicit_worker_class_wins(tmp_path: Path) -> None:
    write(tmp_path, {"main.py": fastapi_app("app")})
    found = detect(tmp_path, "gunicorn -k sync main:app", env=NO_ENV)
    setting = layer_settings(found, NO_ENV, run_config_file=False).values["worker_class"]
    assert (setting.value, setting.source) == ("sync", "startup")


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
        # Docker's and Cloud Run's shell-form CMD: the shell would become gunicorn.
        "exec gunicorn --bind :$PORT --workers 1 main:app",
        "exec python -m gunicorn main:app",
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
        "exec -a web uvicorn main:app",
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


def test_a_name_bound_only_under_the_main_guard_does_not_count(tmp_path: Path) -> None:
    # Only runs as a script: on import, the factory is what makes the app.
    source = """
        from flask import Flask


        def create_app():
            return Flask(__name__)


        if __name__ == "__main__":
            app = create_app()
            app.run()
        else:
            application = create_app()
    """
    write(tmp_path, {"app.py": source})
    found = detect(tmp_path, env=NO_ENV)
    assert found.app == "app:application"
    write(tmp_path, {"app.py": source.replace("else:\n            application = create_app()", "")})
    assert detect(tmp_path, env=NO_ENV).app == "app:create_app()"


def test_a_factory_that_imports_its_framework_inside_is_asgi(tmp_path: Path) -> None:
    """litestar-fullstack: ``def create_app(): from litestar import Litestar; ...``."""
    write(
        tmp_path,
        {
            "app.py": "def create_app():\n    from litestar import Litestar\n\n"
            "    return Litestar(route_handlers=[])\n"
        },
    )
    found = detect(tmp_path, env=NO_ENV)
    assert (found.app, found.kind) == ("app:create_app()", "asgi")
    named = detect(tmp_path, "gunicorn 'app:create_app()'", NO_ENV)
    assert named.kind == "asgi"


def test_an_app_found_through_gunicorns_pythonpath_is_classified(tmp_path: Path) -> None:
    write(tmp_path, {"src/api.py": "from quart import Quart\napp = Quart(__name__)\n"})
    found = detect(tmp_path, "gunicorn --pythonpath src api:app", NO_ENV)
    assert (found.app, found.kind) == ("api:app", "asgi")


def test_a_factory_that_needs_arguments_is_not_called_by_name(tmp_path: Path) -> None:
    """Falcon's look example: ``def create_app(image_store)``."""
    write(
        tmp_path, {"app.py": "import falcon\n\ndef create_app(store):\n    return falcon.App()\n"}
    )
    found = detect(tmp_path, env=NO_ENV)
    assert found.kind == "default"
    reason = next(rule.reason for rule in found.rules if rule.name == "app-file")
    assert reason == (
        "app.py: no Flask/FastAPI object found; names seen: create_app (create_app() needs "
        "arguments: name the call in a startup command, e.g. gunicorn 'app:create_app(...)')"
    )


# --- an app one folder down -------------------------------------------------------------------


def test_an_app_one_folder_down_is_named_with_how_to_serve_it(tmp_path: Path) -> None:
    """A repository with backend/ and frontend/ (FastAPI's full-stack template)."""
    write(
        tmp_path,
        {
            "backend/app/__init__.py": "",
            "backend/app/main.py": fastapi_app(),
            "frontend/src/index.js": "",
            "node_modules/x/app.py": flask_app(),  # never entered
            ".venv/app.py": flask_app(),
        },
    )
    command, served = _hinted(tmp_path, "no app at the top of the app folder, but backend/ holds")
    assert command == "gunicorn --chdir backend app.main:app"
    assert (served.rule, served.app, served.kind) == ("startup", "app.main:app", "asgi")
    assert served.pythonpath == tmp_path / "backend"


def _hinted(app_dir: Path, starts: str) -> tuple[str, Detection]:
    """The command the default site's one note gives (it starts with ``starts``), and what
    detection makes of it."""
    found = detect(app_dir, env=NO_ENV)
    assert found.kind == "default"
    (note,) = found.notes
    assert note.startswith(starts), note
    command = note.partition("such as: ")[2]
    return command, detect(app_dir, command, NO_ENV)


def test_an_app_in_a_top_level_file_of_another_name_is_named_with_how_to_serve_it(
    tmp_path: Path,
) -> None:
    """flask_app.py (a PythonAnywhere project's name): only the standard names were listed."""
    write(
        tmp_path,
        {
            "config.py": "app = {'debug': False}\n",  # an `app` no framework made
            "flask_app.py": flask_app(),
            "setup.py": flask_app(),  # tooling, never hinted
            "test_app.py": flask_app(),
            "__main__.py": flask_app(),  # `gunicorn __main__:app` finds the launcher's
        },
    )
    command, served = _hinted(tmp_path, "flask_app.py defines app, in a file App Service does not")
    assert command == "gunicorn flask_app:app"
    assert (served.rule, served.app, served.kind) == ("startup", "flask_app:app", "wsgi")


def test_an_app_in_a_src_layout_package_is_named_with_how_to_serve_it(tmp_path: Path) -> None:
    """pyproject.toml with src/myapi/main.py (Azure's msdocs-fastapi sample: src/fastapi_app):
    imported as myapi.main from src/, its relative imports work."""
    write(
        tmp_path,
        {
            "pyproject.toml": "[project]\nname = 'myapi'\n",
            "src/myapi/__init__.py": "",
            "src/myapi/main.py": "from . import routers\n" + fastapi_app(),
            "src/myapi/routers.py": "",
        },
    )
    (note,) = detect(tmp_path, env=NO_ENV).notes
    assert note.startswith("no app at the top of the app folder, but the package src/myapi/")
    command = note.partition("such as: ")[2]
    assert command == "gunicorn --chdir src myapi.main:app"
    served = detect(tmp_path, command, NO_ENV)
    assert (served.rule, served.kind, served.pythonpath) == ("startup", "asgi", tmp_path / "src")


def test_an_app_in_a_package_one_folder_down_is_named_as_the_package_imports_it(
    tmp_path: Path,
) -> None:
    """pamelafox/simple-fastapi-container: api/ is a package whose main.py imports
    '.data'; 'gunicorn --chdir api main:app' (the hint before) failed on that import."""
    write(
        tmp_path,
        {
            "api/__init__.py": "",
            "api/main.py": "from .data import names\n" + fastapi_app(),
            "api/data.py": "names = []\n",
        },
    )
    (note,) = detect(tmp_path, env=NO_ENV).notes
    command = note.partition("such as: ")[2]
    assert command == "gunicorn api.main:app"
    served = detect(tmp_path, command, NO_ENV)
    assert (served.rule, served.kind, served.pythonpath) == ("startup", "asgi", tmp_path)


@pytest.mark.parametrize(
    ("files", "command"),
    [
        # No relative import: served from its folder, its sibling imports work.
        (
            {"backend/__init__.py": "", "backend/app.py": "from models import x\n" + flask_app()},
            "gunicorn --chdir backend app:app",
        ),
        # Named as a module of the standard library: importing 'site.app' would find that.
        (
            {"site/__init__.py": "", "site/app.py": "from .x import y\n" + flask_app()},
            "gunicorn --chdir site app:app",
        ),
    ],
    ids=["sibling-imports", "stdlib-name"],
)
def test_a_package_whose_app_needs_its_folder_is_hinted_with_chdir(
    tmp_path: Path, files: dict[str, str], command: str
) -> None:
    write(tmp_path, files)
    (note,) = detect(tmp_path, env=NO_ENV).notes
    assert note.partition("such as: ")[2] == command


def test_many_packages_with_app_files_are_not_all_parsed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from appservice_gunicorn.files import pysource

    files = {
        f"pkg{i:03d}/{name}": "x = 1\n" for i in range(60) for name in ("__init__.py", "main.py")
    }
    write(tmp_path, files)
    parsed = count_calls(monkeypatch, pysource, "scan_module")
    assert detect(tmp_path, env=NO_ENV).kind == "default"
    assert len(parsed) <= 22  # 20, and what one folder may add before the count is checked


def test_no_hint_when_the_app_is_at_the_top(tmp_path: Path) -> None:
    write(tmp_path, {"app.py": flask_app(), "tools/app.py": flask_app()})
    assert detect(tmp_path, env=NO_ENV).notes == ()


def test_a_package_that_builds_the_app_is_named_with_its_call(tmp_path: Path) -> None:
    """Flask's tutorial: flaskr/__init__.py holds create_app(); nothing at the top."""
    write(
        tmp_path,
        {
            "flaskr/__init__.py": (
                "from flask import Flask\n\n\ndef create_app(test_config=None):\n"
                "    return Flask(__name__)\n"
            ),
            "tests/conftest.py": "",
        },
    )
    (note,) = detect(tmp_path, env=NO_ENV).notes
    assert note.endswith(
        "the package flaskr/ defines create_app(): give a startup command "
        "such as: gunicorn 'flaskr:create_app()'"
    )
    served = detect(tmp_path, note.partition("such as: ")[2], NO_ENV)
    assert (served.rule, served.app) == ("startup", "flaskr:create_app()")


def test_a_folder_of_many_packages_is_not_parsed_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from appservice_gunicorn.files import pysource

    write(tmp_path, {f"pkg{i:03d}/__init__.py": "x = 1\n" for i in range(100)})
    parsed = count_calls(monkeypatch, pysource, "scan_module")
    assert detect(tmp_path, env=NO_ENV).kind == "default"
    assert len(parsed) == 20


def test_an_asgi_py_holding_fastapi_is_served(tmp_path: Path) -> None:
    """App Service lists asgi.py among FastAPI's files: the default site was served."""
    write(tmp_path, {"asgi.py": fastapi_app()})
    found = detect(tmp_path, env={})
    assert (found.rule, found.app, found.kind) == ("app-file", "asgi:app", "asgi")


def test_disable_fastapi_detection_skips_asgi_apps_only(tmp_path: Path) -> None:
    write(tmp_path, {"main.py": fastapi_app(), "app.py": flask_app()})
    assert detect(tmp_path, env={}).app == "app:app"  # App Service's order: app.py first
    write(tmp_path, {"app.py": fastapi_app()})
    env = {"DISABLE_FASTAPI_DETECTION": "true"}
    found = detect(tmp_path, env=env)
    assert found.kind == "default"
    (rule,) = [r for r in found.rules if r.name == "app-file"]
    assert "app.py defines app (ASGI): skipped, DISABLE_FASTAPI_DETECTION is set" in rule.reason
    write(tmp_path, {"wsgi.py": flask_app()})
    assert detect(tmp_path, env=env).app == "wsgi:app"


@pytest.mark.parametrize(
    ("command", "why"),
    [
        ("cd src && gunicorn app:app", "'cd src' changes the shell's state for the commands"),
        ("export X=1 && gunicorn app:app", "'export X=1' changes the shell's state for the"),
        ("gunicorn app:app | tee log", "'tee log' ends a pipeline or an '||', which only a shell"),
        ("gunicorn app:app > log 2>&1", "'gunicorn app:app > log 2>&1' is gunicorn, with shell"),
    ],
)
def test_a_one_line_gunicorn_command_run_supervised_says_why(
    tmp_path: Path, command: str, why: str
) -> None:
    """Only scripts said why: a one-line command with gunicorn in it ran supervised, its
    -w and --timeout shown nowhere, with no reason given."""
    reason = detect(tmp_path, command, env=NO_ENV).rules[0].reason
    assert reason.startswith(f"startup command: runs as a supervised command ({why}"), reason
