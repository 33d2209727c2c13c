"""The testing API for framework authors: ``detect``, ``testing.serve`` and the fixture."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import appservice_gunicorn
from appservice_gunicorn.pytest_plugin import ServeFactory
from appservice_gunicorn.testing import LauncherFailed, Server, serve
from tests.helpers import RULES_BEFORE_DEFAULT, flask_app, write

TRAP = "open(__file__ + '.ran', 'w').close()\nraise SystemExit('imported')\n"


def processes_for(folder: Path) -> list[int]:
    """Live processes whose command line names ``folder`` (the launcher and its workers)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if str(folder).encode() in cmdline.split(b"\0"):
            found.append(int(entry.name))
    return found


def get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return str(response.read().decode())


def test_detect_is_exported_pure_and_frozen(tmp_path: Path) -> None:
    write(tmp_path, {"app.py": TRAP + flask_app(), "pkg/__init__.py": TRAP})
    before = set(sys.modules)
    detection = appservice_gunicorn.detect(tmp_path)
    assert "detect" in appservice_gunicorn.__all__
    assert (detection.kind, detection.app, detection.rule) == ("wsgi", "app:app", "app-file")
    assert detection.pythonpath == tmp_path
    assert [r.name for r in detection.rules] == RULES_BEFORE_DEFAULT
    assert list(tmp_path.rglob("*.ran")) == []
    assert {"app", "pkg"} & (set(sys.modules) - before) == set()
    with pytest.raises(AttributeError):
        detection.app = "other:app"  # type: ignore[misc]


def test_detect_with_a_startup_command(tmp_path: Path) -> None:
    write(tmp_path, {"hello.py": flask_app("myapp")})
    detection = appservice_gunicorn.detect(tmp_path, "gunicorn --workers=2 hello:myapp")
    assert (detection.kind, detection.app, detection.rule) == ("wsgi", "hello:myapp", "startup")


def test_serve_a_flask_folder_answers_and_stops(tmp_path: Path) -> None:
    write(tmp_path, {"application.py": flask_app("app", "template works")})
    with serve(tmp_path) as server:
        url = server.url
        assert url.startswith("http://127.0.0.1:")
        assert get(url + "/") == "template works"
        running = processes_for(tmp_path)
        assert running, "the launcher's processes were not found"
    assert processes_for(tmp_path) == []
    with pytest.raises(urllib.error.URLError):
        get(url + "/")


def test_serve_passes_startup_and_env(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "hello.py": "import os\n"
            + flask_app("myapp", "x").replace('"x"', 'os.environ["GREETING"]')
        },
    )
    with serve(tmp_path, "gunicorn hello:myapp", env={"GREETING": "hi from env"}) as server:
        assert get(server.url + "/") == "hi from env"
        # The launcher's decision lines, for tests that check how a template is served.
        assert "Serving hello:myapp (WSGI, rule startup" in server.log()


def test_serve_of_a_broken_app_raises_with_the_log(tmp_path: Path) -> None:
    write(tmp_path, {"app.py": "raise RuntimeError('DATABASE_URL is not set')\napp = None\n"})
    with pytest.raises(LauncherFailed) as failure, serve(tmp_path, timeout=60):
        pytest.fail("serve() yielded for an app that cannot be imported")
    message = str(failure.value)
    assert "launcher exited with status" in message
    assert "RuntimeError: DATABASE_URL is not set" in message
    assert processes_for(tmp_path) == []


def test_fixture_serves(appservice_server: ServeFactory, tmp_path: Path) -> None:
    write(tmp_path, {"app.py": flask_app("app", "fixture works")})
    server = appservice_server(tmp_path, timeout=60)
    assert "rule app-file" in server.log()
    assert get(server.url + "/") == "fixture works"


def test_fixture_stops_servers_at_teardown(tmp_path: Path) -> None:
    """Run the fixture in a pytest of its own and look for its server afterwards."""
    app_dir = write(tmp_path / "app", {"app.py": flask_app("app", "inner")})
    url_file = tmp_path / "url.txt"
    test_file = tmp_path / "test_inner.py"
    test_file.write_text(
        textwrap.dedent(
            f"""
            import urllib.request

            def test_inner(appservice_server):
                url = appservice_server({str(app_dir)!r}).url
                assert urllib.request.urlopen(url).read() == b"inner"
                open({str(url_file)!r}, "w").write(url)
            """
        )
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test_file)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTEST_ADDOPTS": ""},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
    url = url_file.read_text()
    assert url.startswith("http://127.0.0.1:")
    assert processes_for(app_dir) == []
    with pytest.raises(urllib.error.URLError):
        get(url)


def test_launchers_started_together_keep_their_own_control_socket(tmp_path: Path) -> None:
    """Two launchers of one user (a dev box, parallel test runs): gunicorn's default path
    is one per user (~/.gunicorn/gunicorn.ctl), so the second replaced the first's socket
    and the first to stop removed the other's.  Each launcher now has its own."""
    folders = [write(tmp_path / name, {"app.py": flask_app("app", name)}) for name in "ab"]
    home = tmp_path / "home"
    home.mkdir()
    env = {"HOME": str(home), "XDG_RUNTIME_DIR": ""}

    def control_socket(server: Server) -> Path:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            for line in server.log().splitlines():
                if "Control socket listening at" in line:
                    return Path(line.rpartition(" at ")[2].strip())
            time.sleep(0.05)
        raise AssertionError(f"no control socket in the log:\n{server.log()}")

    with serve(folders[0], env=env) as first:
        with serve(folders[1], env=env) as second:
            assert get(second.url + "/") == "b"
            theirs = control_socket(second)
            ours = control_socket(first)
            assert ours != theirs
            assert ours.is_socket() and theirs.is_socket()
            assert not (home / ".gunicorn").exists()
        assert not theirs.exists()  # removed by its own launcher on the way out
        assert ours.is_socket(), first.log()


def test_the_server_is_a_frozen_value_with_its_url_and_log(tmp_path: Path) -> None:
    write(tmp_path, {"app.py": flask_app("app", "x")})
    with serve(tmp_path) as server:
        assert dataclasses.is_dataclass(server) and not isinstance(server, str)
        with pytest.raises(dataclasses.FrozenInstanceError):
            server.url = "http://elsewhere"  # type: ignore[misc]
        assert "Serving app:app" in server.log()


def test_the_testing_modules_declare_their_api() -> None:
    from appservice_gunicorn import pytest_plugin, testing

    assert testing.__all__ == ["LauncherFailed", "Server", "serve"]
    assert pytest_plugin.__all__ == ["ServeFactory", "appservice_server"]
    public = {name for name in vars(testing) if not name.startswith("_")}
    # Nothing else of the module's own is public (imported modules and names aside).
    own = {
        name
        for name in public
        if getattr(getattr(testing, name), "__module__", None) == testing.__name__
    }
    assert own == set(testing.__all__)
