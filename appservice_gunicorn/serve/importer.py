"""Import the detected app in a gunicorn worker, with errors that say what to fix.

Every failure becomes gunicorn's ``AppImportError`` (the worker prints it and the
server stops with exit status 4): a first line that says what was imported, from
where, what went wrong and what to do, then, when the user's code raised, the
traceback of the user's code only (no frames from the launcher, gunicorn or
importlib).
"""

import importlib
import inspect
import os
import site
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import gunicorn
from gunicorn.errors import AppImportError

from appservice_gunicorn.base.boot import Interrupted
from appservice_gunicorn.base.import_failures import short_repr, user_failure
from appservice_gunicorn.base.messages import one_line
from appservice_gunicorn.startup import gunicorn_options

if TYPE_CHECKING:  # the redeploy check (check.py) imports this module in a fresh process
    from appservice_gunicorn.detection.chain import Detection


def prepend_paths(paths: Sequence[Path], site_dirs: Sequence[Path] = ()) -> None:
    """Put ``paths`` first on ``sys.path``, then ``site_dirs`` (with their .pth files)."""
    for site_dir in reversed(site_dirs):
        # The master appended it (add_master_paths): in the worker it moves to the front.
        before = [entry for entry in sys.path if entry != str(site_dir)]
        sys.path[:] = before
        site.addsitedir(str(site_dir))
        added = [entry for entry in sys.path if entry not in before]
        # A deployed virtualenv's packages win over the launcher's, as with PYTHONPATH.
        sys.path[:] = added + before
    for path in reversed(paths):
        entry = str(path)
        if entry in sys.path:
            sys.path.remove(entry)
        sys.path.insert(0, entry)


def add_master_paths(detection: "Detection") -> None:
    """The app's folder and virtualenv on the master's path, before ``gunicorn.conf.py``
    runs and the worker class is loaded (gunicorn's own ``chdir()`` adds the folder; Oryx
    puts the virtualenv on ``PYTHONPATH``).  The virtualenv's packages come after the
    standard library but before the launcher's: what the config file and the worker class
    import is the virtualenv's (uvicorn-worker pinned there with its own uvicorn).  The app
    folder comes last: a deployed ``ssl.py`` never replaces what the master imports (the
    worker puts the app first, for the app alone).  A gunicorn pinned in the virtualenv
    changes nothing: the master's is imported already.
    """
    site_dirs = detection.venv.site_packages if detection.venv else ()
    if site_dirs:
        before = list(sys.path)
        for site_dir in site_dirs:
            site.addsitedir(str(site_dir))
        added = [entry for entry in sys.path if entry not in before]
        at = _launchers_packages(before)
        sys.path[:] = before[:at] + added + before[at:]
    if str(detection.app_dir) not in sys.path:
        sys.path.append(str(detection.app_dir))


def _launchers_packages(path: list[str]) -> int:
    """Where the launcher's environment's packages start on ``path``: its first site-packages
    folder, or the one gunicorn was imported from (the end when neither is there), and never
    before the standard library (gunicorn installed with --target on PYTHONPATH, a zipapp)."""
    own = {os.path.dirname(os.path.dirname(gunicorn.__file__)), *site.getsitepackages()}
    if site.ENABLE_USER_SITE:
        own.add(site.getusersitepackages())
    own = {os.path.normpath(folder) for folder in own}
    stdlib = os.path.dirname(os.__file__)
    stdlib_entries = {stdlib, os.path.join(stdlib, "lib-dynload")}
    zipped = f"python{sys.version_info[0]}{sys.version_info[1]}.zip"
    first_own, after_stdlib = len(path), 0
    for index, entry in enumerate(path):
        folder = os.path.normpath(entry or ".")
        if folder in stdlib_entries or os.path.basename(folder) == zipped:
            after_stdlib = index + 1
        elif folder in own:
            first_own = min(first_own, index)
    return max(first_own, after_stdlib)


def load_app(
    spec: str, where: Path, hint: str | None = None, *, paste: bool = False
) -> Callable[..., Any]:
    """The app as a worker serves it: ``import_app``, or PasteDeploy's ``loadapp``."""
    return import_paste(spec, where) if paste else import_app(spec, where, hint)


def check_protocol(app: object, spec: str, worker_class: str) -> None:
    """An app that one of gunicorn's WSGI workers cannot call would answer every request
    with a 500: an ASGI app (``async def __call__(scope, receive, send)``: a coroutine is
    no response), or a Tornado ``Application`` under another worker than gunicorn's
    ``tornado``.  Say so at start.  Only what is known not to be WSGI stops it: a false stop
    of a working app would be worse than the 500s."""
    wsgi = gunicorn_options.wsgi_workers()
    if worker_class not in wsgi:
        return
    # As uvicorn tells them: the instance's own __call__ (sentry's middleware sets one).
    call = getattr(app, "__call__", None)  # noqa: B004 - the attribute itself, not callable()
    if inspect.iscoroutinefunction(app) or inspect.iscoroutinefunction(call):
        raise AppImportError(
            f"{spec} is an ASGI app (its __call__ is async), but gunicorn's {worker_class} "
            "worker serves WSGI apps; add --worker-class asgi (or uvicorn_worker.UvicornWorker) "
            "to the startup command"
        )
    tornado = type(app).__module__.startswith("tornado.")
    if tornado and worker_class not in gunicorn_options.TORNADO_WORKERS:
        raise AppImportError(
            f"{spec} is a Tornado {type(app).__name__}, which gunicorn's {worker_class} worker "
            "cannot call as a WSGI app; add --worker-class tornado to the startup command (or "
            "run it with its own server)"
        )


def import_paste(uri: str, where: Path) -> Callable[..., Any]:
    """A PasteDeploy app (``config:production.ini[#name]``), as ``gunicorn --paste``
    loads it: the file relative to ``where``."""
    try:
        from paste.deploy import loadapp  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except ImportError:
        raise AppImportError(
            f"{uri.removeprefix('config:')}: --paste needs PasteDeploy, which is not installed; "
            "add pastedeploy to requirements.txt"
        ) from None
    try:
        app: Callable[..., Any] = loadapp(uri, relative_to=str(where))
    except Exception as exc:
        raise AppImportError(user_failure(f"loading {uri}", uri, where, exc)) from None
    return app


def import_app(spec: str, where: Path, hint: str | None = None) -> Callable[..., Any]:
    """Load gunicorn's ``module:variable`` (``variable`` may be a factory call).

    ``hint`` (e.g. a virtualenv built for another Python) is added to import errors.
    """
    module_name, _, expression = spec.partition(":")
    expression = expression or "application"
    module = _import_module(spec, module_name, where, hint)
    name = expression.split("(")[0].strip()
    location = getattr(module, "__file__", None) or module_name
    if name.isidentifier() and not hasattr(module, name):
        defined = sorted(k for k in vars(module) if not k.startswith("_"))[:10]
        raise AppImportError(
            f"App {spec!r} not found: module {module_name!r} ({location}) has no attribute "
            f"{name!r}; it defines: {', '.join(defined) or 'nothing'}. Fix the name after ':' "
            f"in {spec!r}"
        )
    if name == expression.strip():
        app = getattr(module, name)
    else:
        try:
            # gunicorn.util's imports cost ~70 ms in the redeploy's proof, a fresh process
            # that needs it only for a factory call (a worker has it already).
            from gunicorn import util

            app = util.import_app(f"{module_name}:{expression}")
        except AppImportError as exc:
            raise AppImportError(one_line(f"App {spec!r} ({location}): {exc}")) from None
        except Exception as exc:
            raise AppImportError(
                user_failure(f"calling {expression} in {location}", spec, where, exc)
            ) from None
    if not callable(app):
        kind = type(app).__name__
        article = "an" if kind[:1].lower() in "aeiou" else "a"
        raise AppImportError(
            f"App {spec!r} is not callable: {name} in {location} is {article} {kind} "
            f"({short_repr(app)}), not a WSGI/ASGI app; point the name after ':' at the app "
            "object (e.g. app = Flask(__name__))"
        )
    loaded: Callable[..., Any] = app
    return loaded


def _import_module(spec: str, module_name: str, where: Path, hint: str | None) -> ModuleType:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if module_name == missing or module_name.startswith(missing + "."):
            raise AppImportError(
                f"Could not import module {module_name!r} (for app {spec!r}): no "
                f"{module_name.replace('.', '/')}.py in {where}; fix the module name or deploy "
                "the file there"
            ) from None
        raise AppImportError(
            user_failure(f"importing {module_name!r}", spec, where, exc, hint)
        ) from None
    except SystemExit as exc:
        if isinstance(exc, Interrupted):
            raise  # the launcher's own stop (SIGTERM while --preload imports the app)
        raise AppImportError(
            one_line(
                f"Could not load app {spec!r} from {where}: importing {module_name!r} called "
                f"sys.exit({exc.code!r}); an app module must not exit while it is imported: "
                "remove the exit (or move it under 'if __name__ == \"__main__\":')",
                1000,
            )
        ) from None
    except ImportError as exc:
        raise AppImportError(
            user_failure(f"importing {module_name!r}", spec, where, exc, hint)
        ) from None
    except Exception as exc:
        raise AppImportError(user_failure(f"importing {module_name!r}", spec, where, exc)) from None
