"""Commands the launcher does not serve itself run as supervised children; pre-start steps
run before gunicorn, which stays in the launcher's process.

Real launchers, real shells, real signals: after each stop, ``/proc`` is scanned for any
process whose working directory is the test's app folder, so that nothing the command
started (pipes, background jobs, daemons that left the process group) survives.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.helpers import fastapi_app, flask_app, write
from tests.integration.conftest import Start, StartPid1, wait_for
from tests.launcher import Launcher

RUNNING = f"python{sys.version_info[0]}.{sys.version_info[1]}"
GRACE = 3  # APPSVC_GRACEFUL_TIMEOUT in these tests
# A small server that is up at once: python's own, on the test's port and loopback.
SERVER = "python -m http.server $PORT --bind 127.0.0.1"


def get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.status, response.read().decode()


def left_in(folder: Path) -> list[str]:
    """Live processes whose working directory is ``folder``: what a stop left behind."""
    found = []
    target = str(folder.resolve())
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cwd = os.readlink(entry / "cwd")
            stat = (entry / "stat").read_text()
            argv = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except OSError:
            continue
        if cwd == target and stat.rsplit(")", 1)[1].split()[0] != "Z":
            found.append(f"{entry.name}: {argv}")
    return found


def error_lines(log: str) -> list[str]:
    return [line for line in log.splitlines() if "[ERROR]" in line]


def stopped(launcher: Launcher, signum: int = signal.SIGTERM) -> tuple[int, float]:
    """Signal the launcher; its exit status and how long it took to exit."""
    started = time.monotonic()
    launcher.send(signum)
    try:
        status = launcher.wait(GRACE + 10)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the launcher did not exit; its log:\n{launcher.log()}")
    return status, time.monotonic() - started


# --- supervised commands: every shell form, nothing left behind ------------------------------

SHELL_FORMS = {
    "pipe": f"{SERVER} 2>&1 | cat",
    "or-true": f"{SERVER} || true",
    "redirection": f"{SERVER} > server.log 2>&1",
    "assignment": f"GREETING=hi {SERVER}",
    "background-and-wait": f"sleep 300 & {SERVER} & wait",
    # A daemon leaves the process group (setsid): the launcher, as subreaper, still owns it.
    "daemon": f"setsid sleep 300 & {SERVER}",
}


@pytest.mark.parametrize("command", list(SHELL_FORMS.values()), ids=list(SHELL_FORMS))
def test_sigterm_stops_every_process_of_a_shell_command(
    launch: Start, tmp_path: Path, command: str
) -> None:
    write(tmp_path, {"index.html": "served by http.server"})
    launcher = launch(tmp_path, command, {"APPSVC_GRACEFUL_TIMEOUT": str(GRACE)})
    assert get(launcher.url + "/index.html") == (200, "served by http.server")
    assert left_in(tmp_path), "the command should be running"
    status, elapsed = stopped(launcher)
    # The shell (or the server it became) was killed by the forwarded SIGTERM: 128 + 15.
    assert status == 143, launcher.log()
    assert elapsed < GRACE, f"exit took {elapsed:.1f} s"
    assert left_in(tmp_path) == []
    log = launcher.log()
    assert "as a supervised child" in log
    assert "The startup command exited with status 143 (SIGTERM)" in log


def test_sh_startup_file_running_uvicorn_is_supervised_and_stops_cleanly(
    launch: Start, tmp_path: Path
) -> None:
    write(
        tmp_path,
        {
            "main.py": fastapi_app("app", "served by uvicorn"),
            "startup.sh": """
                #!/bin/sh
                echo "startup.sh ran in $(pwd) on $HOST:$PORT for $APP_PATH"
                python -m uvicorn main:app --host $HOST --port $PORT
            """,
        },
    )
    launcher = launch(tmp_path, "startup.sh")
    status, body = get(launcher.url + "/")
    assert (status, json.loads(body)) == (200, {"text": "served by uvicorn"})
    log = launcher.log()
    assert f"startup.sh ran in {tmp_path} on 127.0.0.1:{launcher.port} for {tmp_path}" in log
    assert "Running the startup command from startup.sh as a supervised child" in log
    status, _ = stopped(launcher)
    assert status == 143
    # uvicorn got the SIGTERM too, and was let finish its graceful shutdown.
    assert "Finished server process" in launcher.log()
    assert left_in(tmp_path) == []


def test_python_m_uvicorn_runs_even_with_broken_gunicorn_settings(
    launch: Start, tmp_path: Path
) -> None:
    write(
        tmp_path,
        {"main.py": fastapi_app("app", "uvicorn"), "gunicorn.conf.py": "raise SystemExit(9)\n"},
    )
    env = {"GUNICORN_CMD_ARGS": "--workers=lots"}
    launcher = launch(tmp_path, "python -m uvicorn main:app --host $HOST --port $PORT", env)
    assert get(launcher.url + "/")[0] == 200
    assert error_lines(launcher.log()) == []
    stopped(launcher)


def test_a_script_saved_with_windows_line_endings_runs_as_written(
    launch: Start, tmp_path: Path
) -> None:
    (tmp_path / "startup.sh").write_bytes(b'#!/bin/sh\r\necho "ran" > marker.txt\r\nexit 7\r\n')
    launcher = launch(tmp_path, "startup.sh", wait=False)
    assert launcher.wait(20) == 7
    assert sorted(p.name for p in tmp_path.iterdir()) == ["marker.txt", "startup.sh"]
    assert (tmp_path / "marker.txt").read_text() == "ran\n"


def test_exit_status_of_the_command_is_the_launchers(launch: Start, tmp_path: Path) -> None:
    launcher = launch(tmp_path, "echo finishing; exit 7", wait=False)
    assert launcher.wait(20) == 7
    assert "[ERROR] The startup command exited with status 7;" in launcher.log()


def test_a_program_that_is_not_there_is_an_error_that_says_so(
    launch: Start, tmp_path: Path
) -> None:
    # A Procfile's 'web: uwsgi ./etc/uwsgi.ini' without uwsgi installed (wagtail's bakerydemo).
    launcher = launch(tmp_path, "no-such-server-xyz ./etc/server.ini", wait=False)
    assert launcher.wait(20) == 127
    log = launcher.log()
    assert (
        "[ERROR] The startup command exited with status 127: a program it runs was not found; "
        "install it" in log
    ), log


BASH = "/bin/bash"


@pytest.mark.skipif(not os.access(BASH, os.X_OK), reason="no /bin/bash on this machine")
def test_a_script_runs_with_the_shell_its_first_line_names(launch: Start, tmp_path: Path) -> None:
    # An array: bash's, a syntax error for /bin/sh (dash), which ran every script before.
    write(tmp_path, {"entry.sh": '#!/bin/bash\nwords=(one two)\necho "second: ${words[1]}"\n'})
    launcher = launch(tmp_path, "entry.sh", wait=False)
    assert launcher.wait(20) == 0, launcher.log()
    log = launcher.log()
    assert "second: two" in log and f"/bin/bash {tmp_path / 'entry.sh'}" in log


@pytest.mark.skipif(not os.access(BASH, os.X_OK), reason="no /bin/bash on this machine")
def test_a_scripts_steps_run_with_the_shell_its_first_line_names(
    launch: Start, tmp_path: Path
) -> None:
    write(
        tmp_path,
        {
            "hello.py": flask_app("app", "served after a bash step"),
            "entry.sh": '#!/bin/bash\necho "bash=${BASH_VERSION:+yes}"\ngunicorn hello:app\n',
        },
    )
    launcher = launch(tmp_path, "entry.sh")
    assert get(launcher.url + "/") == (200, "served after a bash step")
    assert "bash=yes" in launcher.log()
    assert launcher.stop() == 0


def test_a_command_that_ignores_sigterm_is_killed_after_the_grace(
    launch: Start, tmp_path: Path
) -> None:
    # printf: the marker must come from the command, not from the log line quoting it.
    command = "trap '' TERM; printf 'RE%sDY\\n' A; sleep 300"
    launcher = launch(tmp_path, command, {"APPSVC_GRACEFUL_TIMEOUT": "1"}, wait=False)
    wait_for(lambda: "READY" in launcher.log(), 20, "the command to start")
    status, elapsed = stopped(launcher)
    assert status == 137, launcher.log()  # SIGKILL
    assert 1 <= elapsed < 5
    assert left_in(tmp_path) == []


def test_as_pid1_orphans_of_a_command_are_reaped_and_nothing_is_left(
    pid1: StartPid1, tmp_path: Path
) -> None:
    # A grandchild that daemonizes and exits: re-parented to PID 1, it must be reaped.
    command = f"(setsid sh -c 'sleep 0.3' &); {SERVER}"
    write(tmp_path, {"index.html": "pid 1"})
    launcher, init = pid1(tmp_path, command)
    assert get(launcher.url + "/index.html") == (200, "pid 1")
    time.sleep(1)
    assert [p for p in init.processes() if p.state == "Z"] == [], init.processes()
    assert init.stop() == 143
    assert init.processes() == []


# --- pre-start steps, then gunicorn in-process ----------------------------------------------


@pytest.fixture(scope="module")
def django_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``django-admin startproject mysite`` (read-only for the tests: each copies it)."""
    root = tmp_path_factory.mktemp("django")
    subprocess.run(
        [sys.executable, "-m", "django", "startproject", "mysite", str(root)], check=True
    )
    settings = root / "mysite" / "settings.py"
    settings.write_text(settings.read_text() + "\nALLOWED_HOSTS = ['127.0.0.1']\n")
    return root


def copy_of(project: Path, tmp_path: Path) -> Path:
    target = tmp_path / "wwwroot"
    subprocess.run(["cp", "-a", str(project), str(target)], check=True)
    return target


def explain_json(app_dir: Path, *startup: str) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-m", "appservice_gunicorn", "--explain", "--json", *startup],
        cwd=app_dir,
        capture_output=True,
        text=True,
        check=True,
    )
    data: dict[str, object] = json.loads(result.stdout)
    return data


def test_migrate_then_gunicorn_migrates_then_serves_in_the_launchers_process(
    launch: Start, tmp_path: Path, django_project: Path
) -> None:
    app_dir = copy_of(django_project, tmp_path)
    command = "python manage.py migrate --noinput && gunicorn mysite.wsgi"
    plan = explain_json(app_dir, command)
    assert (plan["app"], plan["runs"]) == ("mysite.wsgi", "in-process")
    assert plan["steps"] == [
        {"command": "python manage.py migrate --noinput", "on_failure": "stop"}
    ]
    assert plan["settings"]["timeout"] == {"value": 600, "source": "launcher"}  # type: ignore[index]

    launcher = launch(app_dir, command)
    status, page = get(launcher.url + "/")
    assert status == 200 and "The install worked successfully" in page
    log = launcher.log()
    assert "Pre-start step 1/1: python manage.py migrate --noinput" in log
    assert "Applying auth.0001_initial... OK" in log
    with sqlite3.connect(app_dir / "db.sqlite3") as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    assert {"django_migrations", "auth_user", "django_session"} <= tables
    # gunicorn's master is the launcher's own process, with the launcher's features.
    assert "Booting worker with pid" in log
    assert f"[{launcher.process.pid}] [INFO] Starting gunicorn" in log
    assert f"[{launcher.process.pid}] [INFO] Serving mysite.wsgi (WSGI, rule startup" in log

    # SIGHUP: the steps run again, then new workers serve.
    launcher.send(signal.SIGHUP)
    wait_for(lambda: launcher.log().count("Serving mysite.wsgi") == 2, 30, "the redeploy")
    log = launcher.log()
    assert log.count("Pre-start step 1/1") == 2 and "No migrations to apply" in log
    assert get(launcher.url + "/")[0] == 200
    assert launcher.stop() == 0, launcher.log()
    assert left_in(app_dir) == []


def test_a_failing_step_stops_the_start_with_its_status(
    launch: Start, tmp_path: Path, django_project: Path
) -> None:
    app_dir = copy_of(django_project, tmp_path)
    command = "python manage.py no_such_command && gunicorn mysite.wsgi"
    launcher = launch(app_dir, command, wait=False)
    assert launcher.wait(30) == 1
    log = launcher.log()
    (error,) = error_lines(log)
    assert "Pre-start step 1/1 (python manage.py no_such_command) exited with status 1" in error
    assert "Unknown command: 'no_such_command'" in log  # the step's own output
    assert "Starting gunicorn" not in log
    with pytest.raises(urllib.error.URLError):
        get(launcher.url + "/")


def test_a_failing_step_of_a_set_e_script_names_the_fix_and_its_script(
    launch: Start, tmp_path: Path
) -> None:
    write(
        tmp_path,
        {
            "hello.py": flask_app("myapp"),
            "entrypoint.sh": """
                #!/bin/sh
                set -e
                echo "${0}: running migrations"
                false
                exec gunicorn hello:myapp
            """,
        },
    )
    launcher = launch(tmp_path, "entrypoint.sh", wait=False)
    assert launcher.wait(30) == 1
    log = launcher.log()
    script = str((tmp_path / "entrypoint.sh").resolve())
    assert f"{script}: running migrations" in log  # $0, as when the script runs
    (error,) = error_lines(log)
    assert "Pre-start step 2/2 (false) exited with status 1" in error
    assert f"end it with '|| true' (the 'set -e' of {script} stops at a failing step)" in error


def test_set_e_spares_a_failure_on_the_left_of_and_as_the_shell_does(
    launch: Start, tmp_path: Path
) -> None:
    write(
        tmp_path,
        {
            "hello.py": flask_app("myapp", "served"),
            "startup.sh": """
                #!/bin/sh
                set -e
                [ "$DEBUG" = 1 ] && echo debugging
                echo ran > marker.txt
                exec gunicorn hello:myapp
            """,
        },
    )
    launcher = launch(tmp_path, "startup.sh")
    assert get(launcher.url + "/") == (200, "served")
    assert (tmp_path / "marker.txt").read_text() == "ran\n"
    assert error_lines(launcher.log()) == []


def test_steps_joined_by_semicolons_go_on_after_a_failure(launch: Start, tmp_path: Path) -> None:
    write(tmp_path, {"hello.py": flask_app("myapp", "served after the steps")})
    command = "false; echo second step > second.txt && gunicorn hello:myapp"
    launcher = launch(tmp_path, command, {"PRE_RUN_COMMAND": "echo pre-run > pre-run.txt"})
    assert get(launcher.url + "/") == (200, "served after the steps")
    log = launcher.log()
    assert "Pre-start step 1/3: echo pre-run > pre-run.txt" in log
    (error,) = error_lines(log)
    assert "Pre-start step 2/3 (false) exited with status 1; going on" in error
    assert (tmp_path / "pre-run.txt").read_text() == "pre-run\n"
    assert (tmp_path / "second.txt").read_text() == "second step\n"


def test_sigterm_during_a_step_stops_the_step_and_the_launcher(
    launch: Start, tmp_path: Path
) -> None:
    write(tmp_path, {"hello.py": flask_app("myapp")})
    # One step prints and sleeps: once the line is out, the launcher is supervising it (a
    # line from an earlier step could come while the launcher is between two steps).
    command = "sh -c 'printf \"STEP %s\\n\" RUNNING; exec sleep 300' && gunicorn hello:myapp"
    launcher = launch(tmp_path, command, wait=False)
    wait_for(lambda: "STEP RUNNING" in launcher.log(), 20, "the step to start")
    status, elapsed = stopped(launcher)
    assert status == 143 and elapsed < GRACE
    assert "Starting gunicorn" not in launcher.log()
    assert left_in(tmp_path) == []


def test_separate_words_keep_their_quoting(launch: Start, tmp_path: Path) -> None:
    # What a Docker exec-form CMD passes: ["gunicorn", "-w", "1", "app:create_app()"].
    write(
        tmp_path,
        {
            "app.py": """
                from flask import Flask


                def create_app():
                    app = Flask(__name__)
                    app.add_url_rule("/", "index", lambda: "from the factory")
                    return app
            """
        },
    )
    launcher = launch(tmp_path, ["gunicorn", "-w", "1", "app:create_app()"])
    assert get(launcher.url + "/") == (200, "from the factory")


# --- the app's virtualenv, visible to the master -------------------------------------------


def test_worker_class_and_config_imports_from_antenv_are_found_by_the_master(
    launch: Start, tmp_path: Path
) -> None:
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "antenv")], check=True
    )
    site = f"antenv/lib/{RUNNING}/site-packages"
    write(
        tmp_path,
        {
            # Only in antenv: a worker class (as uvicorn's is) and a config helper (dotenv).
            f"{site}/asg_worker_in_antenv.py": """
                from gunicorn.workers.sync import SyncWorker


                class Worker(SyncWorker):
                    def init_process(self):
                        self.log.info("WORKER CLASS FROM ANTENV")
                        super().init_process()
            """,
            f"{site}/asg_settings_in_antenv.py": "THREADS = 1\n",
            # A gunicorn pinned in the virtualenv does not replace the launcher's.
            f"{site}/gunicorn/__init__.py": "raise SystemExit('the venv gunicorn was imported')\n",
            "gunicorn.conf.py": "import asg_settings_in_antenv\n"
            "threads = asg_settings_in_antenv.THREADS\n",
            "main.py": flask_app("app", "worker from antenv"),
        },
    )
    outside = subprocess.run(
        [sys.executable, "-c", "import asg_worker_in_antenv"], capture_output=True, cwd="/"
    )
    assert outside.returncode != 0
    launcher = launch(tmp_path, "gunicorn -k asg_worker_in_antenv.Worker main:app")
    assert get(launcher.url + "/") == (200, "worker from antenv")
    log = launcher.log()
    assert "WORKER CLASS FROM ANTENV" in log
    assert "venv gunicorn" not in log


def test_a_step_that_fails_on_redeploy_keeps_the_running_app(launch: Start, tmp_path: Path) -> None:
    write(tmp_path, {"hello.py": flask_app("myapp", "still serving")})
    launcher = launch(tmp_path, "test ! -f broken && gunicorn hello:myapp")
    (tmp_path / "broken").write_text("")
    launcher.send(signal.SIGHUP)
    wait_for(lambda: "keeping the app that is running" in launcher.log(), 20, "the refusal")
    errors = error_lines(launcher.log())
    assert len(errors) == 2, errors
    assert "Pre-start step 1/1 (test ! -f broken) exited with status 1" in errors[0]
    assert "reload: a pre-start step failed; keeping the app that is running" in errors[1]
    assert get(launcher.url + "/") == (200, "still serving")
    assert launcher.stop() == 0


def test_sigterm_during_a_redeploy_step_stops_the_step_and_the_server(
    launch: Start, tmp_path: Path
) -> None:
    write(tmp_path, {"hello.py": flask_app("myapp")})
    # As above: the line comes from the step that sleeps.
    step = "sh -c 'printf \"SLOW %s\\n\" STEP; exec sleep 300'"
    command = f"[ -f redeploy ] && {step}; gunicorn hello:myapp"
    launcher = launch(tmp_path, command, {"APPSVC_GRACEFUL_TIMEOUT": str(GRACE)})
    (tmp_path / "redeploy").write_text("")
    launcher.send(signal.SIGHUP)
    wait_for(lambda: "SLOW STEP" in launcher.log(), 20, "the redeploy step to start")
    status, elapsed = stopped(launcher)
    assert (status, elapsed < GRACE) == (0, True), launcher.log()
    assert "Shutting down: Master" in launcher.log()
    assert left_in(tmp_path) == []


def venv_with(folder: Path, modules: list[str]) -> Path:
    """A virtualenv (no pip) holding only ``modules``, linked from the test's own packages."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    site = folder / "lib" / RUNNING / "site-packages"
    for name in modules:
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.origin is not None, name
        source = Path(spec.origin)
        source = source.parent if source.name == "__init__.py" else source
        (site / source.name).symlink_to(source)
    return folder / "bin" / "python"


ASGI_APP = """
async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"uvicorn worker from antenv"})
"""


def test_uvicorn_worker_installed_only_in_antenv_serves_the_app(
    launch: Start, tmp_path: Path
) -> None:
    # The launcher's own Python has gunicorn and the launcher, not uvicorn: as on App Service,
    # where uvicorn comes with the app's requirements.txt into antenv.
    python = venv_with(tmp_path / "launcher", ["gunicorn", "appservice_gunicorn"])
    app_dir = write(tmp_path / "wwwroot", {"main.py": ASGI_APP})
    venv_with(app_dir / "antenv", ["uvicorn", "click", "h11"])
    outside = subprocess.run([str(python), "-c", "import uvicorn"], capture_output=True, cwd="/")
    assert outside.returncode != 0
    launcher = launch(
        app_dir,
        "gunicorn -k uvicorn.workers.UvicornWorker main:app",
        command=[str(python), "-m", "appservice_gunicorn"],
    )
    assert get(launcher.url + "/") == (200, "uvicorn worker from antenv")
    assert "Using worker: uvicorn.workers.UvicornWorker" in launcher.log()


def test_a_script_of_the_app_folder_runs_with_its_arguments_without_its_execute_bit(
    launch: Start, tmp_path: Path
) -> None:
    """App Service runs ``startup.sh prod`` from the app folder (on PATH), making the script
    runnable; it was read as two gunicorn app modules."""
    app_dir = write(
        tmp_path / "wwwroot",
        {
            "startup.sh": '#!/bin/sh\necho "mode $1" > "$APP_PATH/mode.txt"\n'
            'exec python3 -m http.server "$PORT" --bind "$HOST"\n'
        },
    )
    launcher = launch(app_dir, ["startup.sh", "prod"])
    assert (app_dir / "mode.txt").read_text() == "mode prod\n"
    assert "rule startup" in launcher.log() and "runs as a supervised command" in launcher.log()


def test_a_supervised_server_not_listening_on_port_gets_a_warning(
    launch: Start, tmp_path: Path
) -> None:
    """The command line names another port through a variable the launcher cannot read
    before the start; what the server did is seen 10 s after it started."""
    from tests.launcher import free_port

    write(tmp_path, {"main.py": fastapi_app("app", "elsewhere")})
    other = free_port()
    env = {"ELSEWHERE": str(other)}
    launcher = launch(
        tmp_path, "python -m uvicorn main:app --host 127.0.0.1 --port $ELSEWHERE", env, wait=False
    )
    deadline = time.monotonic() + 30
    while "nothing listens on port" not in launcher.log():
        assert time.monotonic() < deadline, launcher.log()
        assert launcher.process.poll() is None, launcher.log()
        time.sleep(0.2)
    assert (
        f"The startup command has run for 10 s and nothing listens on port {launcher.port} "
        "($PORT), where requests arrive"
    ) in launcher.log()
    assert get(f"http://127.0.0.1:{other}/")[0] == 200  # it serves, elsewhere
    assert stopped(launcher)[0] == 143
