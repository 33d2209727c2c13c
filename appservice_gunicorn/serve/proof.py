"""The proof of a redeploy, on the master's side: the new app imported in a fresh
interpreter (``proof_child.py``), as a worker would, before any worker changes.  Needed
only when the master itself would import the app, replace itself or its sockets; else the
new workers are the proof (master.py)."""

import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

from appservice_gunicorn.plan.plan import Plan
from appservice_gunicorn.serve import proof_child
from appservice_gunicorn.supervise import supervisor
from appservice_gunicorn.supervise.steps import hand_back


def prove(
    plan: Plan,
    meanwhile: Callable[[], object] | None = None,
    timeout: float = 0,
    stopping: Callable[[], bool] | None = None,
) -> str | None:
    """Inside gunicorn's master: import the plan's app in a fresh interpreter, as a worker
    would.  None when it imports, else what went wrong (the importer's message).
    ``meanwhile`` runs about every 50 ms while it imports (the master keeps its workers);
    after ``timeout`` seconds (0: none) the import is given up on; none is started when
    ``stopping`` says gunicorn has queued a stop."""
    detection = plan.detection
    settings = plan.settings
    if detection.app is None or detection.pythonpath is None or settings is None:
        return None  # the default site: nothing of the user's to import
    if stopping is not None and stopping():
        return "a stop signal came before the new app was checked"
    env = dict(os.environ)
    for pair in settings.value("raw_env") or ():
        name, _, value = str(pair).partition("=")
        env[name] = value
    extra = [Path(p).absolute() for p in str(settings.value("pythonpath") or "").split(",") if p]
    site_dirs = detection.venv.site_packages if detection.venv else ()
    deadline = time.monotonic() + timeout if timeout else float("inf")
    gave_up: list[bool] = []
    read_end, write_end = os.pipe()
    open_ends = [write_end]

    def tick() -> bool:
        # The child has its copy: the master's goes before ``meanwhile`` forks a worker,
        # which would hold it open and keep the read below from ever seeing the end.
        while open_ends:
            os.close(open_ends.pop())
        if meanwhile is not None:
            meanwhile()
        if time.monotonic() > deadline:
            gave_up.append(True)
        return bool(gave_up)

    try:
        result = supervisor.run(
            proof_child.command(
                detection.app, detection.pythonpath, extra, site_dirs, paste=detection.paste
            ),
            env,
            settings.value("chdir") or detection.app_dir,
            grace_seconds=supervisor.grace(env),
            forward=supervisor.STOPPING,
            reap_all=False,
            result_fd=write_end,
            tick=tick,
            stopping=stopping,
        )
    finally:
        while open_ends:
            os.close(open_ends.pop())
    with os.fdopen(read_end, "rb") as reader:
        said = reader.read().decode(errors="replace").strip()
    hand_back(result)
    if gave_up:
        waited = f"{timeout:g} s (gunicorn's --timeout)"
        return f"the app {detection.app} had not been imported after {waited}"
    if result.stopped_by is not None:
        return f"{signal.Signals(result.stopped_by).name} received while checking the new app"
    if result.status == 0 and said == proof_child.PROVEN:
        return None
    return said or f"importing {detection.app} ended the process with status {result.status}"
