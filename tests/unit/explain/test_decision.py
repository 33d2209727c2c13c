"""``--explain`` and ``--json`` through the CLI's ``main``, in-process."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from appservice_gunicorn.cli import main
from tests.helpers import RULES, fastapi_app, flask_app, write

# The documented contract of ``--explain --json`` (README, "--explain and --json").
SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": [
        "schema_version",
        "rules",
        "app",
        "kind",
        "command",
        "runs",
        "steps",
        "worker_class",
        "settings",
    ],
    "properties": {
        "schema_version": {"const": 1},
        "rules": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["name", "matched", "reason"],
                "additionalProperties": False,
                "properties": {
                    "name": {"enum": RULES},
                    "matched": {"type": "boolean"},
                    "reason": {"type": "string", "minLength": 1},
                },
            },
        },
        "app": {"type": ["string", "null"], "pattern": "^[A-Za-z_][\\w.]*:.+$"},
        "kind": {"enum": ["wsgi", "asgi", "default", "command"]},
        "command": {"type": ["string", "null"]},
        "runs": {"enum": ["in-process", "supervised"]},
        "steps": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["command", "on_failure"],
                "additionalProperties": False,
                "properties": {
                    "command": {"type": "string", "minLength": 1},
                    "on_failure": {"enum": ["stop", "go on"]},
                },
            },
        },
        "worker_class": {"type": ["string", "null"], "minLength": 1},
        "settings": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "required": ["value", "source"],
                "additionalProperties": False,
                "properties": {"value": {}, "source": {"type": "string", "minLength": 1}},
            },
        },
        "strict_error": {"type": ["string", "null"]},
        "exit_status": {"enum": [0, 1]},
    },
    "allOf": [
        {
            "if": {"properties": {"kind": {"enum": ["wsgi", "asgi"]}}},
            "then": {"properties": {"app": {"type": "string"}, "command": {"type": "null"}}},
        },
        {
            "if": {"properties": {"kind": {"const": "command"}}},
            "then": {
                "properties": {
                    "app": {"type": "null"},
                    "command": {"type": "string"},
                    "runs": {"const": "supervised"},
                    "worker_class": {"type": "null"},
                    "settings": {"maxProperties": 0},
                }
            },
            "else": {"properties": {"runs": {"const": "in-process"}}},
        },
        {
            # gunicorn's settings could be used: the worker class is known.
            "if": {
                "properties": {"kind": {"not": {"const": "command"}}, "exit_status": {"const": 0}}
            },
            "then": {"properties": {"worker_class": {"type": "string"}}},
        },
        {
            "if": {"properties": {"kind": {"const": "default"}}},
            "then": {"properties": {"app": {"type": "null"}, "command": {"type": "null"}}},
        },
    ],
}

CLEAN_ENV = (
    "PORT",
    "WEBSITES_PORT",
    "GUNICORN_CMD_ARGS",
    "WEB_CONCURRENCY",
    "PYTHON_ENABLE_GUNICORN_MULTIWORKERS",
    "PYTHON_GUNICORN_CUSTOM_WORKER_NUM",
    "PYTHON_GUNICORN_CUSTOM_THREAD_NUM",
    "APPSVC_STRICT",
    "APPSVC_VIRTUAL_ENV",
    "APP_PATH",
    "DJANGO_SETTINGS_MODULE",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in CLEAN_ENV:
        monkeypatch.delenv(name, raising=False)


def explain(capsys: pytest.CaptureFixture[str], folder: Path, *args: str) -> tuple[int, str, str]:
    status = main(["--explain", "--app-dir", str(folder), *args])
    out, err = capsys.readouterr()
    return status, out, err


def explain_json(
    capsys: pytest.CaptureFixture[str], folder: Path, *args: str
) -> tuple[int, dict[str, Any]]:
    status, out, _ = explain(capsys, folder, "--json", *args)
    data: dict[str, Any] = json.loads(out)
    jsonschema.validate(data, SCHEMA)
    return status, data


FOLDERS: dict[str, tuple[dict[str, str], tuple[str, ...], str]] = {
    "empty": ({}, (), "default"),
    "flask": ({"app.py": flask_app()}, (), "wsgi"),
    "fastapi": ({"main.py": fastapi_app()}, (), "asgi"),
    "django-wsgi": (
        {"mysite/__init__.py": "", "mysite/wsgi.py": "application = None\n"},
        (),
        "wsgi",
    ),
    "gunicorn-startup": ({"hello.py": flask_app("myapp")}, ("gunicorn", "hello:myapp"), "wsgi"),
    "shell-startup": ({}, ("python -m http.server $PORT",), "command"),
    "prestart-steps": (
        {"hello.py": flask_app("myapp")},
        ("true && echo ok; gunicorn hello:myapp",),
        "wsgi",
    ),
    "bad-startup": ({"startup.txt": "gunicorn --wrokers=4 x:y\n"}, ("startup.txt",), "default"),
}


@pytest.mark.parametrize("case", sorted(FOLDERS))
def test_json_matches_the_schema(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, case: str
) -> None:
    files, startup, kind = FOLDERS[case]
    write(tmp_path, files)
    status, data = explain_json(capsys, tmp_path, *startup)
    assert status == 0
    assert data["kind"] == kind
    assert data["exit_status"] == 0
    assert next(iter(data)) == "schema_version"  # first: read before the rest
    assert [rule["matched"] for rule in data["rules"]].count(True) == 1
    assert data["rules"][-1]["matched"] is True


def test_schema_rejects_what_the_contract_forbids() -> None:
    good = {
        "schema_version": 1,
        "rules": [{"name": "default-site", "matched": True, "reason": "x"}],
        "app": None,
        "kind": "default",
        "command": None,
        "runs": "in-process",
        "steps": [],
        "worker_class": "sync",
        "settings": {"timeout": {"value": 600, "source": "launcher"}},
    }
    jsonschema.validate(good, SCHEMA)
    for bad in (
        {**good, "kind": "wsgi"},  # wsgi without an app
        {**good, "runs": "supervised"},  # the default site is served in-process
        # A supervised command has no gunicorn settings or worker class.
        {**good, "kind": "command", "command": "x", "runs": "supervised"},
        {**good, "steps": [{"command": "x", "on_failure": "maybe"}]},
        {**good, "kind": "other"},
        {**good, "schema_version": 2},
        {key: value for key, value in good.items() if key != "schema_version"},
        {**good, "settings": {"timeout": {"value": 600}}},
        {**good, "rules": [{"name": "default-site", "matched": "yes", "reason": "x"}]},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, SCHEMA)


def test_reasons_say_why_each_rule_did_not_match(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    write(
        tmp_path,
        {
            "startup.txt": "gunicorn --wrokers=4 hello:myapp\n",
            ".venv/pyvenv.cfg": "home = /usr/bin\n",
            ".venv/lib/site/wsgi.py": "application = None\n",
            "app.py": "import os\n\nconfig = {}\n\ndef helper():\n    pass\n",
        },
    )
    status, data = explain_json(capsys, tmp_path, "startup.txt")
    assert status == 0
    reasons = {rule["name"]: (rule["matched"], rule["reason"]) for rule in data["rules"]}
    matched, reason = reasons["startup"]
    assert not matched and reason.startswith("startup.txt: unknown gunicorn option '--wrokers")
    matched, reason = reasons["django"]
    assert not matched and "no wsgi.py" in reason and "skipped .venv: virtualenv" in reason
    matched, reason = reasons["app-file"]
    assert not matched
    assert reason == "app.py: no Flask/FastAPI object found; names seen: config, helper"
    assert reasons["default-site"][0] is True
    assert data["kind"] == "default" and data["app"] is None


def test_settings_that_differ_carry_their_source(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(
        tmp_path,
        {
            "hello.py": flask_app("myapp"),
            "gunicorn.conf.py": "keepalive = 7\nbacklog = 2048\n",
        },
    )
    monkeypatch.setenv("GUNICORN_CMD_ARGS", "--graceful-timeout 45 --limit-request-line 4094")
    monkeypatch.setenv("PYTHON_ENABLE_GUNICORN_MULTIWORKERS", "true")
    monkeypatch.setenv("PYTHON_GUNICORN_CUSTOM_WORKER_NUM", "5")
    monkeypatch.setenv("PYTHON_GUNICORN_CUSTOM_THREAD_NUM", "3")
    monkeypatch.setenv("PORT", "8123")
    status, data = explain_json(
        capsys, tmp_path, "gunicorn", "--max-requests", "100", "hello:myapp"
    )
    assert status == 0
    sources = {name: (s["value"], s["source"]) for name, s in data["settings"].items()}
    assert sources["timeout"] == (600, "launcher")
    assert sources["bind"] == (["0.0.0.0:8123"], "launcher")
    assert sources["keepalive"] == (7, "gunicorn.conf.py")
    assert sources["graceful_timeout"] == (45, "GUNICORN_CMD_ARGS")
    assert sources["workers"] == (5, "env:PYTHON_GUNICORN_CUSTOM_WORKER_NUM")
    assert sources["threads"] == (3, "env:PYTHON_GUNICORN_CUSTOM_THREAD_NUM")
    assert sources["max_requests"] == (100, "startup")
    # gunicorn's own defaults are left out, wherever they were written.
    assert "backlog" not in sources and "limit_request_line" not in sources
    assert data["worker_class"] == "gthread"
    assert (data["app"], data["kind"]) == ("hello:myapp", "wsgi")
    assert data["pythonpath"] == str(tmp_path)


def test_text_shows_rules_decision_and_sources(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, {"main.py": fastapi_app(), "gunicorn.conf.py": "keepalive = 9\n"})
    monkeypatch.setenv("PYTHON_ENABLE_GUNICORN_MULTIWORKERS", "true")
    monkeypatch.setenv("PYTHON_GUNICORN_CUSTOM_WORKER_NUM", "2")
    status, out, err = explain(capsys, tmp_path)
    assert (status, err) == (0, "")
    lines = out.splitlines()
    assert "  [no   ] startup       no startup command given" in lines
    assert any(line.startswith("  [no   ] django ") for line in lines)
    assert "  [MATCH] app-file      main.py defines app (ASGI)" in lines
    assert f"Decision: serve main:app (ASGI) from {tmp_path}" in lines
    assert "  app:          main:app" in lines
    assert "  kind:         asgi" in lines
    assert f"  on sys.path:  {tmp_path}" in lines
    assert (
        "  worker class: asgi (gunicorn's native worker for an ASGI app, which needs no extra "
        "package and logs unhandled exceptions with their traceback; -k/--worker-class chooses "
        "another)"
    ) in lines
    setting_lines = {
        line.split()[0]: line for line in lines if line.startswith("  ") and " = " in line
    }
    assert setting_lines["keepalive"].endswith("(gunicorn.conf.py)")
    assert setting_lines["workers"].endswith("(env:PYTHON_GUNICORN_CUSTOM_WORKER_NUM)")
    assert setting_lines["worker_class"].endswith("(launcher (asgi app))")
    assert setting_lines["timeout"].endswith("(launcher)")


def test_config_file_is_read_as_literals_only(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    write(
        tmp_path,
        {
            "app.py": flask_app(),
            "gunicorn.conf.py": """
                import os
                keepalive = 11
                workers = int(os.environ.get("WORKERS", "3"))
                on_starting = "hooks.on_starting"
            """,
        },
    )
    status, data = explain_json(capsys, tmp_path)
    assert status == 0
    assert data["settings"]["keepalive"] == {"value": 11, "source": "gunicorn.conf.py"}
    assert "workers" not in data["settings"] and "on_starting" not in data["settings"]
    assert data["notes"] == [
        "gunicorn.conf.py: workers, on_starting: depends on run-time code (a computed value, "
        "an if/else, a hook), not evaluated by --explain"
    ]


@pytest.mark.parametrize("how", ["--strict", "APPSVC_STRICT=1"])
def test_strict_exit_1_with_the_reason(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    how: str,
) -> None:
    write(tmp_path, {"startup.txt": "gunicorn --wrokers=4 x:y\n", "app.py": flask_app()})
    args = ["--json"]
    if how == "--strict":
        args.insert(0, how)
    else:
        monkeypatch.setenv("APPSVC_STRICT", "1")
    status, out, err = explain(capsys, tmp_path, *args, "startup.txt")
    data = json.loads(out)
    jsonschema.validate(data, SCHEMA)
    assert status == 1
    assert data["exit_status"] == 1
    assert data["strict_error"].startswith("startup.txt: unknown gunicorn option '--wrokers")
    assert err == f"Error: {data['strict_error']}\n"


def test_strict_text_names_the_stop(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    status, out, _ = explain(capsys, tmp_path, "--strict", "missing.txt")
    assert status == 1
    assert "Decision: stop with exit status 1: startup file 'missing.txt' not found" in out
    assert "Without --strict / APPSVC_STRICT: serve the default site" in out


def test_usable_startup_is_exit_0_in_strict_mode(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    write(tmp_path, {"hello.py": flask_app("myapp")})
    status, data = explain_json(capsys, tmp_path, "--strict", "gunicorn", "hello:myapp")
    assert (status, data["strict_error"], data["app"]) == (0, None, "hello:myapp")


def test_unusable_configuration_is_exit_1_with_the_detection_explained(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    write(tmp_path, {"gunicorn.conf.py": "workers = (\n", "hello.py": flask_app("myapp")})
    status, out, err = explain(capsys, tmp_path, "gunicorn hello:myapp")
    assert status == 1
    assert "Decision: stop with exit status 1: gunicorn.conf.py cannot be read" in out
    assert "With usable settings: serve hello:myapp" in out
    assert "worker class: unknown (the settings cannot be used)" in out
    assert "Errors:\n  - gunicorn.conf.py cannot be read" in out
    assert err.startswith("Error: gunicorn.conf.py cannot be read")
    status, data = explain_json(capsys, tmp_path, "gunicorn hello:myapp")
    assert (status, data["exit_status"], data["app"]) == (1, 1, "hello:myapp")
    assert data["errors"][0].startswith("gunicorn.conf.py cannot be read")


def test_a_settings_error_before_pre_start_steps_says_they_may_fix_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The run checks the worker class after the steps (pip install -e src may bring it)."""
    write(tmp_path, {"hello.py": flask_app("myapp")})
    command = "pip --version && gunicorn -k not_yet_installed.Worker hello:myapp"
    status, data = explain_json(capsys, tmp_path, command)
    assert (status, data["exit_status"], len(data["steps"])) == (1, 1, 1)
    assert "not_yet_installed" in data["errors"][0]
    assert data["errors"][0].endswith("(found before the 1 pre-start step(s), which may fix it)")


def test_explain_shows_the_pre_start_steps_and_the_in_process_server(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PRE_RUN_COMMAND", "echo warming up")
    write(tmp_path, {"hello.py": flask_app("myapp")})
    command = "python manage.py migrate --noinput && gunicorn hello:myapp"
    status, data = explain_json(capsys, tmp_path, command)
    assert status == 0
    assert (data["runs"], data["app"], data["worker_class"]) == (
        "in-process",
        "hello:myapp",
        "sync",
    )
    assert data["steps"] == [
        {"command": "echo warming up", "on_failure": "go on"},
        {"command": "python manage.py migrate --noinput", "on_failure": "stop"},
    ]
    assert data["settings"]["timeout"] == {"value": 600, "source": "launcher"}
    status, out, _ = explain(capsys, tmp_path, command)
    assert "  2. python manage.py migrate --noinput  (if it fails: stop)" in out
    assert "Served in-process by the launcher's gunicorn master:" in out


def test_explain_lists_no_gunicorn_settings_for_a_supervised_command(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Neither GUNICORN_CMD_ARGS (broken here) nor gunicorn.conf.py concern uvicorn.
    monkeypatch.setenv("GUNICORN_CMD_ARGS", "--workers=lots")
    write(tmp_path, {"main.py": fastapi_app(), "gunicorn.conf.py": "workers = 'many'\n"})
    status, data = explain_json(capsys, tmp_path, "python -m uvicorn main:app")
    assert status == 0
    assert (data["runs"], data["kind"], data["worker_class"]) == ("supervised", "command", None)
    assert (data["settings"], data["errors"], data["steps"]) == ({}, [], [])
    _, out, _ = explain(capsys, tmp_path, "python -m uvicorn main:app")
    assert "runs as a supervised child of the launcher" in out
    assert "settings that differ" not in out and "worker class" not in out


def _plan(path: Path, startup: tuple[str, ...] = (), **env: str) -> Any:
    from appservice_gunicorn.plan.plan import LauncherConfig, make_plan

    return make_plan(LauncherConfig(path, startup, env=env), extract=False)


def test_the_protocol_follows_worker_classes_that_serve_other_apps(tmp_path: Path) -> None:
    from appservice_gunicorn.explain import decision

    write(
        tmp_path,
        {
            "app.py": flask_app(),
            "aiohttp/__init__.py": "",
            "web.py": "import tornado.web\napp = tornado.web.Application([])\n",
        },
    )
    cases = {
        ("gunicorn", "app:app"): "wsgi",
        ("gunicorn", "-k", "tornado", "web:app"): "tornado",
        # gunicorn's tornado worker serves a WSGI app as WSGI.
        ("gunicorn", "-k", "tornado", "app:app"): "wsgi",
        ("gunicorn", "-k", "aiohttp.GunicornWebWorker", "app:app"): "aiohttp",
    }
    for startup, label in cases.items():
        plan = _plan(tmp_path, startup)
        assert decision.protocol(plan) == label
        assert f"  kind:         {label}\n" in decision.render_text(plan)
        assert f"({label.upper()}) from" in decision.decision(plan)


@pytest.mark.parametrize(
    ("startup", "env", "conf", "source"),
    [
        ((), {}, "threads = 4\n", "gunicorn.conf.py"),
        (("gunicorn", "--threads", "3", "app:app"), {}, "", "startup"),
        (
            (),
            {
                "PYTHON_ENABLE_GUNICORN_MULTIWORKERS": "true",
                "PYTHON_GUNICORN_CUSTOM_THREAD_NUM": "8",
            },
            "",
            "env:PYTHON_GUNICORN_CUSTOM_THREAD_NUM",
        ),
    ],
)
def test_gthread_is_explained_by_where_the_threads_came_from(
    tmp_path: Path, startup: tuple[str, ...], env: dict[str, str], conf: str, source: str
) -> None:
    from appservice_gunicorn.explain import decision

    write(tmp_path, {"app.py": flask_app(), **({"gunicorn.conf.py": conf} if conf else {})})
    plan = _plan(tmp_path, startup, **env)
    assert decision.worker_class(plan) == "gthread"
    reason = decision.worker_reason(plan)
    assert reason is not None
    assert reason.endswith(f"(from {source}) makes gunicorn's sync worker gthread"), reason


def test_threads_the_config_file_computes_leave_the_worker_class_open(tmp_path: Path) -> None:
    """The Azure samples' `workers = threads = cpu_count() * 2 + 1`: --explain said sync,
    and gunicorn ran gthread."""
    from appservice_gunicorn.explain import decision

    conf = "import multiprocessing\nworkers = threads = multiprocessing.cpu_count() * 2 + 1\n"
    from appservice_gunicorn.plan.plan import LauncherConfig, make_plan

    write(tmp_path, {"app.py": flask_app(), "gunicorn.conf.py": conf})
    # As --explain plans: the config file read, never run.
    plan = make_plan(LauncherConfig(tmp_path, env={}), run_config_file=False, extract=False)
    assert decision.worker_class(plan) == "sync"
    assert decision.worker_reason(plan) == (
        "from gunicorn's default; gthread if threads, computed in gunicorn.conf.py, is more than 1"
    )
    # A later layer's threads wins over the config file's: then it is known.
    config = LauncherConfig(tmp_path, env={"GUNICORN_CMD_ARGS": "--threads 1"})
    plan = make_plan(config, run_config_file=False, extract=False)
    assert decision.worker_reason(plan) == "from gunicorn's default"


@pytest.mark.parametrize("option", ["--check-config", "--print-config"])
def test_a_check_only_command_is_not_called_a_serve(tmp_path: Path, option: str) -> None:
    """--explain said "serve app:app" for a command that loads the app once and exits."""
    from appservice_gunicorn.explain import decision

    write(tmp_path, {"app.py": flask_app()})
    plan = _plan(tmp_path, ("gunicorn", option, "app:app"))
    assert decision.decision(plan) == (
        f"check the settings and load app:app (WSGI) from {tmp_path} once, then exit "
        "(nothing is served)"
    )
