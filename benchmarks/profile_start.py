"""Profile the start-up path up to gunicorn's arbiter: the launcher next to plain gunicorn.

    python -m benchmarks.profile_start [--app-dir DIR --app MODULE:VAR]

Each runs in a fresh interpreter under pyinstrument, with ``Arbiter.run`` replaced by an
exit, so the profile covers imports, detection and configuration: what the launcher adds
before the first worker is forked. Reports go to ``benchmarks/.work/profile-*.txt``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from benchmarks.harness import free_port

from .apps import flask_app
from .harness import clean_env

WORK = Path(__file__).resolve().parent / ".work"

# Runs in the child: ``-c CODE OUTPUT MODULE ARGS...``.
CODE = """
import runpy, sys
from pyinstrument import Profiler
profiler = Profiler(interval=0.0002)
profiler.start()
import gunicorn.arbiter

def stop(self):
    raise SystemExit(0)

gunicorn.arbiter.Arbiter.run = stop
output, module, *args = sys.argv[1:]
sys.argv = [module, *args]
try:
    runpy.run_module(module, run_name="__main__")
except SystemExit:
    pass
profiler.stop()
shown = {"show_regex": r".*(appservice_gunicorn|dataclasses|gunicorn/config).*"}
with open(output, "w") as handle:
    handle.write(profiler.output_text(unicode=True, processor_options=shown))
    handle.write("\\nSelf time by function:\\n")
    handle.write(profiler.output_text(unicode=True, flat=True, processor_options=shown))
"""


def profile(module: str, args: Sequence[str], output: Path) -> None:
    env = clean_env()
    env["GUNICORN_CMD_ARGS"] = f"--bind=127.0.0.1:{free_port()} --workers=1"
    argv = [sys.executable, "-c", CODE, str(output), module, *args]
    done = subprocess.run(argv, env=env, cwd=WORK, timeout=120, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"profiling {module} failed:\n{done.stderr[-3000:]}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile_start")
    parser.add_argument("--app-dir", type=Path, help="default: a generated Flask app")
    parser.add_argument("--app", default="app:app", help="what plain gunicorn serves")
    args = parser.parse_args(argv)
    WORK.mkdir(parents=True, exist_ok=True)
    folder = args.app_dir.resolve() if args.app_dir else flask_app(WORK).folder
    launcher = WORK / "profile-launcher.txt"
    gunicorn = WORK / "profile-gunicorn.txt"
    profile("appservice_gunicorn", ["--app-dir", str(folder)], launcher)
    gunicorn_args = ["--timeout", "600", "--access-logfile", "-", "--error-logfile", "-"]
    profile("gunicorn", [*gunicorn_args, "--chdir", str(folder), args.app], gunicorn)
    print(f"pyinstrument reports: {launcher} and {gunicorn}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
