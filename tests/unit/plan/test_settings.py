"""Settings precedence: launcher < gunicorn.conf.py < GUNICORN_CMD_ARGS < env < startup."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from gunicorn.config import Config

from appservice_gunicorn import detect
from appservice_gunicorn.base.errors import LaunchError
from appservice_gunicorn.plan.settings import layer_settings
from tests.helpers import flask_app, write


def layered(path: Path, startup: str | None = None, **env: str) -> dict[str, tuple[object, str]]:
    detection = detect(path, startup, env)
    settings = layer_settings(detection, env)
    return {name: (s.value, s.source) for name, s in settings.values.items()}


def test_launcher_defaults(tmp_path: Path) -> None:
    values = layered(tmp_path)
    assert values["bind"] == (["0.0.0.0:8000"], "launcher")
    assert values["timeout"] == (600, "launcher")
    assert values["accesslog"] == ("-", "launcher")
    assert values["errorlog"] == ("-", "launcher")
    assert values["chdir"] == (str(tmp_path), "launcher")


def test_each_layer_overrides_the_one_below(tmp_path: Path) -> None:
    write(tmp_path, {"gunicorn.conf.py": "timeout = 100\nworkers = 2\nkeepalive = 7\n"})
    values = layered(
        tmp_path,
        "gunicorn --timeout 30 hello:app",
        GUNICORN_CMD_ARGS="--timeout 50 --workers 3 --graceful-timeout 9",
        PYTHON_ENABLE_GUNICORN_MULTIWORKERS="true",
        PYTHON_GUNICORN_CUSTOM_WORKER_NUM="4",
    )
    assert values["keepalive"] == (7, "gunicorn.conf.py")
    assert values["graceful_timeout"] == (9, "GUNICORN_CMD_ARGS")
    assert values["workers"] == (4, "env:PYTHON_GUNICORN_CUSTOM_WORKER_NUM")
    assert values["timeout"] == (30, "startup")


def test_port_variables(tmp_path: Path) -> None:
    assert layered(tmp_path, PORT="9000")["bind"][0] == ["0.0.0.0:9000"]
    assert layered(tmp_path, WEBSITES_PORT="9001")["bind"][0] == ["0.0.0.0:9001"]


def test_a_bad_port_is_reported_and_the_default_used(tmp_path: Path) -> None:
    detection = detect(tmp_path, None, {"PORT": "http"})
    settings = layer_settings(detection, {"PORT": "http"})
    assert settings.value("bind") == ["0.0.0.0:8000"]
    assert any("PORT='http'" in error for error in settings.errors)


def test_a_bad_gunicorn_conf_value_names_the_file(tmp_path: Path) -> None:
    write(tmp_path, {"gunicorn.conf.py": "workers = 'many'\n"})
    with pytest.raises(LaunchError, match=r"gunicorn.conf.py: invalid value for workers"):
        layered(tmp_path)


def test_explain_reads_the_config_file_without_running_it(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    write(
        tmp_path,
        {"gunicorn.conf.py": f"open({str(marker)!r}, 'w')\nworkers = 5\nthreads = len('ab')\n"},
    )
    detection = detect(tmp_path, None, {})
    settings = layer_settings(detection, {}, run_config_file=False)
    assert settings.value("workers") == 5
    assert "threads" not in settings.values
    assert any("threads: depends on run-time code" in note for note in settings.notes)
    assert not marker.exists()


@pytest.mark.parametrize(
    "code",
    [
        "if os.environ.get('PROD'):\n    workers = 8\n",
        "try:\n    import uvloop\nexcept ImportError:\n    workers = 8\n",
        "def tune():\n    global workers\n    workers = 8\ntune()\n",
        "workers += 6\n",
    ],
    ids=["if", "try", "global", "augmented"],
)
def test_explain_does_not_show_a_literal_that_code_overrides(
    tmp_path: Path, code: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, {"gunicorn.conf.py": "import os\nworkers = 2\nkeepalive = 3\n" + code})
    settings = layer_settings(detect(tmp_path, None, {}), {}, run_config_file=False)
    assert "workers" not in settings.values and settings.value("keepalive") == 3
    assert any("workers: depends on run-time code" in note for note in settings.notes)
    # Run for real, the code decides (8 workers; the try sets them only without uvloop).
    monkeypatch.setenv("PROD", "1")
    monkeypatch.setitem(sys.modules, "uvloop", None)  # import uvloop -> ImportError
    assert layer_settings(detect(tmp_path, None, {}), {}).value("workers") == 8


def test_a_string_bind_in_the_config_file_is_one_address(tmp_path: Path) -> None:
    write(tmp_path, {"gunicorn.conf.py": "bind = '127.0.0.1:9001'\n", "app.py": flask_app()})
    for run in (True, False):
        settings = layer_settings(detect(tmp_path, None, {}), {}, run_config_file=run)
        assert settings.value("bind") == ["127.0.0.1:9001"]


@pytest.mark.parametrize("where", ["startup", "GUNICORN_CMD_ARGS", "gunicorn.conf.py"])
def test_daemon_is_refused_with_one_line(tmp_path: Path, where: str) -> None:
    env = {"GUNICORN_CMD_ARGS": "--daemon"} if where == "GUNICORN_CMD_ARGS" else {}
    startup = "gunicorn --daemon hello:app" if where == "startup" else None
    if where == "gunicorn.conf.py":
        write(tmp_path, {"gunicorn.conf.py": "daemon = True\n"})
    with pytest.raises(LaunchError) as caught:
        layer_settings(detect(tmp_path, startup, env), env)
    message = str(caught.value)
    assert message.startswith(f"--daemon (from {where}) would fork gunicorn into the background")
    assert "\n" not in message


def test_bad_gunicorn_cmd_args_are_an_error(tmp_path: Path) -> None:
    with pytest.raises(LaunchError, match="GUNICORN_CMD_ARGS: unknown gunicorn option"):
        layered(tmp_path, GUNICORN_CMD_ARGS="--wrokers 2")


@pytest.mark.parametrize(
    ("env", "name", "asked", "source"),
    [
        ({"WEB_CONCURRENCY": "99999999"}, "workers", 99999999, "env:WEB_CONCURRENCY"),
        (
            {
                "PYTHON_ENABLE_GUNICORN_MULTIWORKERS": "true",
                "PYTHON_GUNICORN_CUSTOM_WORKER_NUM": "500",
            },
            "workers",
            500,
            "env:PYTHON_GUNICORN_CUSTOM_WORKER_NUM",
        ),
        ({"GUNICORN_CMD_ARGS": "--threads 100000"}, "threads", 100000, "GUNICORN_CMD_ARGS"),
    ],
)
def test_worker_and_thread_counts_are_capped_with_one_error(
    tmp_path: Path, env: dict[str, str], name: str, asked: int, source: str
) -> None:
    settings = layer_settings(detect(tmp_path, None, env), env)
    limit = 64 if name == "workers" else 256
    assert settings.value(name) == limit
    (error,) = settings.errors
    assert error.startswith(f"{name} = {asked} (from {source}) is more than {limit}")


def test_an_unbalanced_quote_in_gunicorn_cmd_args_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(LaunchError, match=r"^GUNICORN_CMD_ARGS: cannot split it into words"):
        layered(tmp_path, GUNICORN_CMD_ARGS="--timeout '30")


def test_a_worker_class_that_does_not_exist_is_refused_before_serving(tmp_path: Path) -> None:
    with pytest.raises(LaunchError, match=r"worker class 'no\.such\.Class' \(from startup\)"):
        layered(tmp_path, "gunicorn --worker-class no.such.Class app:app")
    values = layered(tmp_path, "gunicorn --worker-class gthread app:app")
    assert values["worker_class"] == ("gthread", "startup")


def test_python_use_gunicorn_config_from_path(tmp_path: Path) -> None:
    """App Service's variable is ``-c PATH``: below a ``-c`` given by the startup command."""
    write(
        tmp_path,
        {
            "gunicorn.conf.py": "keepalive = 1\n",
            "conf/prod.py": "keepalive = 11\n",
            "conf/other.py": "keepalive = 22\n",
        },
    )
    env = {"PYTHON_USE_GUNICORN_CONFIG_FROM_PATH": "conf/prod.py"}
    assert layered(tmp_path, **env)["keepalive"] == (11, "conf/prod.py")
    chosen = layered(tmp_path, "gunicorn -c conf/other.py hello:app", **env)
    assert chosen["keepalive"] == (22, "conf/other.py")
    with pytest.raises(LaunchError) as caught:
        layered(tmp_path, PYTHON_USE_GUNICORN_CONFIG_FROM_PATH="missing.py")
    assert str(caught.value) == (
        f"config file 'missing.py' (from PYTHON_USE_GUNICORN_CONFIG_FROM_PATH) not found in "
        f"{tmp_path}; deploy it or drop PYTHON_USE_GUNICORN_CONFIG_FROM_PATH"
    )


@pytest.mark.parametrize("run", [True, False], ids=["serving", "explain"])
def test_string_settings_that_gunicorn_splits_itself_are_kept(tmp_path: Path, run: bool) -> None:
    """Heroku's getting-started app: ``forwarded_allow_ips = "*"`` in gunicorn.conf.py."""
    write(
        tmp_path,
        {"gunicorn.conf.py": 'forwarded_allow_ips = "*"\nproxy_allow_ips = "127.0.0.1"\n'},
    )
    settings = layer_settings(detect(tmp_path, None, {}), {}, run_config_file=run)
    config = Config()
    settings.apply(config)
    assert config.forwarded_allow_ips == ["*"] and config.proxy_allow_ips == ["127.0.0.1"]
    assert set(settings.differing()) >= {"forwarded_allow_ips", "proxy_allow_ips"}


@pytest.mark.parametrize(
    ("startup", "env", "expected"),
    [
        # Azure's FastAPI sample binds 8000 itself; the platform sends requests to 9130.
        ("gunicorn -b 0.0.0.0:8000 app:app", {"PORT": "9130"}, ["does not listen on port 9130"]),
        ("gunicorn --bind=0.0.0.0 app:app", {"PORT": "9130"}, ["bind 0.0.0.0 (from startup)"]),
        ("gunicorn --bind=0.0.0.0:$PORT app:app", {"PORT": "9130"}, []),
        ("gunicorn -b 127.0.0.1:9130 -b 0.0.0.0:9130 app:app", {"PORT": "9130"}, []),
        ("gunicorn -b unix:/tmp/app.sock app:app", {"PORT": "9130"}, []),
        # No port named by the platform: a local run on a port of the user's own.
        ("gunicorn -b 127.0.0.1:5000 app:app", {}, []),
        (
            "gunicorn -b 127.0.0.1:9130 app:app",
            {"PORT": "9130", "WEBSITE_SITE_NAME": "mysite"},
            ["listens on the loopback only, which App Service's requests do not reach"],
        ),
        ("gunicorn app:app", {"PORT": "9130", "WEBSITE_SITE_NAME": "mysite"}, []),
        # Found in review: a port with a leading zero is the same port; loopback spelled
        # otherwise is still loopback.
        ("gunicorn -b 0.0.0.0:09130 app:app", {"PORT": "9130"}, []),
        (
            "gunicorn -b tcp://LOCALHOST:9130 app:app",
            {"PORT": "9130", "WEBSITE_SITE_NAME": "mysite"},
            ["listens on the loopback only"],
        ),
    ],
)
def test_a_bind_the_platforms_requests_would_not_reach_is_noted(
    tmp_path: Path, startup: str, env: dict[str, str], expected: list[str]
) -> None:
    write(tmp_path, {"app.py": "app = None\n"})
    notes = " | ".join(layer_settings(detect(tmp_path, startup, env), env).notes)
    assert all(fragment in notes for fragment in expected), notes
    assert ("bind" in notes) == bool(expected), notes


def test_a_config_file_that_raises_shows_its_own_traceback_only(tmp_path: Path) -> None:
    """hackersandslackers' flask-blueprint-tutorial without ENVIRONMENT: the traceback
    showed the launcher's configfile.py and runpy's frames."""
    write(tmp_path, {"gunicorn.conf.py": "import os\nenv = os.environ['NO_SUCH_VAR_X']\n"})
    with pytest.raises(LaunchError) as raised:
        layer_settings(detect(tmp_path, env={}), {}, run_config_file=True)
    message = str(raised.value)
    assert message.startswith("gunicorn.conf.py failed to load: KeyError('NO_SUCH_VAR_X'); fix it")
    assert f'File "{tmp_path / "gunicorn.conf.py"}", line 2' in message
    assert "configfile.py" not in message and "runpy" not in message


@pytest.mark.parametrize(
    ("conf", "served_by"),
    [
        ('worker_class = "uvicorn.workers.UvicornWorker"\n', "sync"),
        ('worker_class = "asgi"\n', "sync"),
        ('worker_class = "egg:gunicorn#gthread"\nthreads = 4\n', "egg:gunicorn#gthread"),
        ('worker_class = "gthread"\nthreads = 4\n', "gthread"),
        (
            "from gunicorn.workers.sync import SyncWorker\nworker_class = SyncWorker\n",
            "gunicorn.workers.sync.SyncWorker",
        ),
    ],
    ids=["uvicorn", "asgi", "egg-gthread", "gthread", "class"],
)
def test_the_default_site_keeps_a_wsgi_worker_and_no_other(
    tmp_path: Path, conf: str, served_by: str
) -> None:
    write(tmp_path, {"gunicorn.conf.py": conf})
    found = detect(tmp_path, env={})
    assert found.kind == "default"
    settings = layer_settings(found, {}, run_config_file=True)
    value = settings.value("worker_class")
    name = f"{value.__module__}.{value.__qualname__}" if isinstance(value, type) else value
    assert name == served_by
    moved = [n for n in settings.notes if "is for the app" in n]
    assert bool(moved) == (served_by == "sync")


def test_on_app_service_forwarded_headers_are_trusted_from_its_front_end(tmp_path: Path) -> None:
    """TLS ends at App Service's front end: without trusting its X-Forwarded-Proto,
    request.scheme was http and OAuth redirects went to http:// addresses."""
    for platform in ({"WEBSITE_SITE_NAME": "mysite"}, {"WEBSITE_INSTANCE_ID": "abc123"}):
        assert layered(tmp_path, **platform)["forwarded_allow_ips"] == (
            "*",
            "launcher (App Service's front end)",
        )
    assert "forwarded_allow_ips" not in layered(tmp_path)  # elsewhere: gunicorn's default
    # A choice of the user's wins: gunicorn's variable, or its option.
    assert "forwarded_allow_ips" not in layered(
        tmp_path, WEBSITE_SITE_NAME="mysite", FORWARDED_ALLOW_IPS="10.0.0.1"
    )
    chosen = layered(
        tmp_path,
        WEBSITE_SITE_NAME="mysite",
        GUNICORN_CMD_ARGS="--forwarded-allow-ips=10.0.0.1",
    )
    assert chosen["forwarded_allow_ips"][1] == "GUNICORN_CMD_ARGS"


def test_an_app_a_wsgi_worker_will_refuse_is_a_note(tmp_path: Path) -> None:
    """What the worker stops with at import (importer.check_protocol), said before."""
    write(
        tmp_path,
        {
            "main.py": "from fastapi import FastAPI\napp = FastAPI()\n",
            "server.py": "import tornado.web\napp = tornado.web.Application([])\n",
        },
    )
    asgi = layer_settings(detect(tmp_path, "gunicorn -k sync main:app", {}), {})
    assert any(
        n.startswith("main:app is an ASGI app, but gunicorn's sync worker (from startup)")
        for n in asgi.notes
    ), asgi.notes
    tornado = layer_settings(detect(tmp_path, "gunicorn server:app", {}), {})
    assert any(
        n.startswith("server:app is a Tornado Application, which gunicorn's sync worker")
        for n in tornado.notes
    ), tornado.notes
    served = layer_settings(detect(tmp_path, "gunicorn -k tornado server:app", {}), {})
    assert not any("Tornado" in n for n in served.notes)


def test_the_default_site_listens_on_port_whatever_the_apps_conf_binds(tmp_path: Path) -> None:
    write(tmp_path, {"gunicorn.conf.py": "bind = ['127.0.0.1:5000']\n"})
    env = {"PORT": "8123"}
    settings = layer_settings(detect(tmp_path, None, env), env)
    assert settings.value("bind") == ["0.0.0.0:8123"]
    assert settings.source("bind") == "launcher (the default site)"
    assert settings.notes == [
        "bind = ['127.0.0.1:5000'] (from gunicorn.conf.py) is the app's; the default site "
        "listens on port 8123 ($PORT), where requests arrive"
    ]
    # A conf that binds $PORT, and a bind given to the launcher itself, are kept.
    write(tmp_path, {"gunicorn.conf.py": "bind = '127.0.0.1:8123'\n"})
    assert layer_settings(detect(tmp_path, None, env), env).value("bind") == ["127.0.0.1:8123"]
    cmd = {**env, "GUNICORN_CMD_ARGS": "--bind 127.0.0.1:9000"}
    assert layer_settings(detect(tmp_path, None, cmd), cmd).value("bind") == ["127.0.0.1:9000"]
