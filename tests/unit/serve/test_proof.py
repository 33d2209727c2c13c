"""The redeploy's proof: the new app imported in a fresh interpreter, as a worker would."""

from __future__ import annotations

from pathlib import Path

from appservice_gunicorn.plan.plan import LauncherConfig, make_plan
from appservice_gunicorn.serve.proof import prove
from tests.helpers import flask_app, write

ENV = {"PATH": "/usr/bin:/bin"}


def test_an_app_that_imports_is_proven(tmp_path: Path) -> None:
    write(tmp_path, {"app.py": flask_app()})
    assert prove(make_plan(LauncherConfig(app_dir=tmp_path, env=ENV))) is None


def test_an_app_whose_import_fails_is_refused_with_its_own_error(tmp_path: Path) -> None:
    write(tmp_path, {"app.py": "import no_such_module_here\n" + flask_app()})
    said = prove(make_plan(LauncherConfig(app_dir=tmp_path, env=ENV)))
    assert said is not None and "no_such_module_here" in said


def test_an_app_that_exits_while_imported_is_refused(tmp_path: Path) -> None:
    write(tmp_path, {"app.py": "import os\nos._exit(5)\n" + flask_app()})
    said = prove(make_plan(LauncherConfig(app_dir=tmp_path, env=ENV)))
    assert said == "importing app:app ended the process with status 5"


def test_the_default_site_needs_no_proof(tmp_path: Path) -> None:
    assert prove(make_plan(LauncherConfig(app_dir=tmp_path, env=ENV))) is None


BLOCKED_ACROSS_EXEC = """
import os, signal, socket
if os.environ.get("APPSVC_REPLACED"):  # the new master: what is blocked, as it starts
    status = open("/proc/self/status").read()
    mask = int(next(l for l in status.splitlines() if l.startswith("SigBlk:")).split()[1], 16)
    print(sorted(signal.Signals(n).name for n in range(1, 32) if mask & (1 << (n - 1))))
else:
    from appservice_gunicorn.serve import replacement
    with socket.socket() as listener:
        args = ([listener.fileno()], dict(os.environ), [], "/", lambda: False)
        replacement.replace_master("a test", *args)
"""


def test_the_master_execs_itself_with_stop_signals_and_sighup_blocked() -> None:
    """Pending across the exec, for the new master's handlers; SIGHUP also, whose default
    action (execve resets its handler) would end the launcher in the meantime."""
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-c", BLOCKED_ACROSS_EXEC], capture_output=True, text=True, timeout=60
    )
    assert out.stdout.strip() == "['SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGTERM']", out.stderr
