"""Prove that a redeployed app imports, in a fresh interpreter, before any worker changes.

``python -c "...check.main()" MODULE:VARIABLE IMPORT_ROOT [SITE_DIR ...]`` (see
``command``) imports the app exactly as a worker would and writes ``OK`` to its fd 3 (an app
that ends the process while importing, even with status 0, never does), or writes the
importer's message there (what failed, where, the fix, the user's traceback) and exits 4.
What the app itself prints goes to the log, as a worker's would.  The
master runs it as a supervised child on SIGHUP: a broken deployment is refused while the
running workers keep serving.
"""

import os
import sys
from collections.abc import Sequence
from pathlib import Path

# -c puts the working directory (the app folder) first on sys.path: the launcher's own
# imports must not find the user's modules there (a deployed json.py, email.py, ...).
BOOTSTRAP = (
    "import sys; sys.path.pop(0); from appservice_gunicorn.serve.proof_child import main; main()"
)
PROVEN = "OK"
MAX_OUTPUT = 32 * 1024  # stays below a pipe's buffer: the master reads it after the exit
RESULT_FD = 3


def command(
    app: str,
    import_root: Path,
    extra_paths: Sequence[Path],
    site_dirs: Sequence[Path],
    *,
    paste: bool = False,
) -> list[str]:
    """The check's command line: the app (``--paste`` first for a PasteDeploy app), the
    folders first on ``sys.path``, then the virtualenv's site-packages (after ``--``)."""
    folders = [str(import_root), *map(str, extra_paths)]
    how = ["--paste"] if paste else []
    return [sys.executable, "-c", BOOTSTRAP, *how, app, *folders, "--", *map(str, site_dirs)]


def main(argv: Sequence[str] | None = None) -> None:
    from gunicorn.errors import AppImportError

    from appservice_gunicorn.serve.importer import load_app, prepend_paths

    args = list(sys.argv[1:] if argv is None else argv)
    paste = args[0] == "--paste"
    app, *rest = args[1:] if paste else args
    split = rest.index("--")
    folders, site_dirs = [Path(p) for p in rest[:split]], [Path(p) for p in rest[split + 1 :]]
    prepend_paths(folders, site_dirs)
    try:
        load_app(app, folders[0], paste=paste)
    except AppImportError as exc:
        _result(str(exc))
        raise SystemExit(4) from None
    except BaseException as exc:  # the app's own exit at import: sys.exit(), os._exit
        _result(f"importing {app} ended the process: {exc!r}; remove the exit from the import")
        raise SystemExit(4) from None
    _result(PROVEN)
    raise SystemExit(0)


def _result(text: str) -> None:
    data = text.encode(errors="replace")[:MAX_OUTPUT]
    while data:
        data = data[os.write(RESULT_FD, data) :]
