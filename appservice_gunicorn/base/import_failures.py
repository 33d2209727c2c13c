"""What a failed import of the app means, in one line that says the fix: the app's own
module to deploy, or a package to install (named as requirements.txt names it); then the
traceback of the user's code alone, without the launcher's, gunicorn's or importlib's
frames."""

import importlib
import os
import sys
import traceback
from pathlib import Path
from typing import NamedTuple

import gunicorn

from appservice_gunicorn.base.messages import one_line

# The code that raises KeyError for a variable os.environ does not have.
_ENVIRON_GET = os._Environ.__getitem__.__code__
# Frames from these files are machinery, not the user's code.
# The launcher's package (this module is in its base/), gunicorn's and importlib's.
_OWN_DIRS = tuple(
    os.path.dirname(os.path.abspath(path)) + os.sep
    for path in (os.path.dirname(__file__), gunicorn.__file__, importlib.__file__)
)


def user_failure(
    action: str, spec: str, where: Path, exc: BaseException, hint: str | None = None
) -> str:
    """One line saying what failed and the fix, then the traceback of the user's code."""
    own = isinstance(exc, ImportError) and _is_own(where, exc.name or "")
    place = _raised_in_the_app(where, exc)
    if own:
        hint = None  # the app's own module: where packages come from is beside the point
    beside = None if own else _beside_importer(where, exc)
    if isinstance(exc, ModuleNotFoundError) and beside is not None:
        hint = None
        package = beside.name.replace("/", ".") + "."
        shown = f"{beside.name}/{exc.name}" + (".py" if beside.is_file else "")
        fix = (
            f"{shown} is there, beside {beside.name}/{beside.importer}, which imports it as if "
            f"{beside.name}/ were on sys.path: import it as {beside.name}.{exc.name}"
        )
        if spec.startswith(package):  # the served module is in that folder: or serve from it
            fix += f", or serve from {beside.name}/ (gunicorn --chdir {beside.name} "
            fix += f"{spec.removeprefix(package)})"
    elif isinstance(exc, ModuleNotFoundError):
        top = (exc.name or "").partition(".")[0]
        package = f"the package {PACKAGES[top]}" if top in PACKAGES else "the package"
        fix = (
            f"deploy the module {exc.name!r} with the app"
            if own
            else f"install {package} that provides {exc.name!r} (on App Service: list it "
            "in requirements.txt)"
        )
    elif isinstance(exc, SyntaxError):
        fix = "fix the syntax error"
    elif isinstance(exc, PermissionError):
        fix = "make the app's files readable by the user the launcher runs as (e.g. chmod a+r)"
    else:
        fix = _missing_variable(exc) or "fix the error in your code"
    summary = f"Could not load app {spec!r} from {where}: {action} raised {_describe(exc)}"
    if place is not None and not isinstance(exc, (ImportError, SyntaxError, OSError)):
        summary += f" ({place})"
    if hint:
        summary += f" ({hint})"
    summary = one_line(f"{summary}; {fix}", 1000)
    details = user_traceback(exc)
    if 'File "' not in details:
        return summary  # nothing from the user's code to show beyond the summary
    return f"{summary} (traceback below)\n{details}"


def _raised_in_the_app(where: Path, exc: BaseException) -> str | None:
    """Where in the app's own files (under ``where``, outside installed packages) ``exc``
    was raised, or what raised it was called: ``cfg/settings.py, line 9``."""
    # The app may name its files through the folder's real path (a symlinked app folder).
    roots = dict.fromkeys((where, where.resolve()))
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        path = Path(frame.filename)
        for root in roots if path.is_absolute() else ():
            inside = path.is_relative_to(root)
            if inside and not _PACKAGE_DIRS & set(path.relative_to(root).parts):
                return f"{path.relative_to(root)}, line {frame.lineno}"
    return None


def _missing_variable(exc: BaseException) -> str | None:
    """The fix for a KeyError of the app reading an environment variable that is not set
    (``os.environ['NAME']``, raised by ``os.environ`` itself): on App Service, variables are
    app settings."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if not isinstance(exc, KeyError) or tb is None or tb.tb_frame.f_code is not _ENVIRON_GET:
        return None
    name = exc.args[0] if exc.args and isinstance(exc.args[0], str) else None
    if name is None:
        return None
    if name.startswith("WEBSITE_"):
        where_set = "App Service sets it itself: set it when the app runs elsewhere"
    else:
        where_set = "on App Service: an app setting"
    return f"set the environment variable {name} ({where_set})"


class _Beside(NamedTuple):
    name: str  # the folder, relative to the app folder
    importer: str  # the file in it that imports the module
    is_file: bool  # the module is a .py file (else a package folder)


def _beside_importer(where: Path, exc: BaseException) -> "_Beside | None":
    """A missing top-level module that is a file or folder of Python files beside the app's
    module that imports it, in a folder under ``where`` that is not on ``sys.path`` (a Dash
    app in app/app.py importing its app/components/)."""
    name = getattr(exc, "name", None)
    if not isinstance(exc, ModuleNotFoundError) or not name or "." in name:
        return None
    frames = traceback.extract_tb(exc.__traceback__)
    user = [f for f in frames if not _machinery(f.filename) and f.filename.endswith(".py")]
    if not user:
        return None
    folder = Path(user[-1].filename).parent
    if folder == where or not folder.is_relative_to(where) or str(folder) in sys.path:
        return None
    is_file = (folder / f"{name}.py").is_file()
    if not is_file and not _is_own(folder, name):
        return None
    return _Beside(str(folder.relative_to(where)), Path(user[-1].filename).name, is_file)


def _is_own(where: Path, module: str) -> bool:
    """``module`` belongs to the app: its top-level module, or a folder of Python files of
    that name, is in ``where`` or a folder of the app's on ``sys.path`` (``--pythonpath``),
    not in an installed package's folder."""
    top = module.partition(".")[0]
    if not top:
        return False
    roots = [where]
    for entry in sys.path:
        path = Path(entry)
        if (
            path.is_absolute()
            and path.is_relative_to(where)
            and not _PACKAGE_DIRS & set(path.parts)
        ):
            roots.append(path)
    for root in roots:
        if (root / f"{top}.py").is_file():
            return True
        try:
            # A folder of that name is a package of the app only if it holds Python files
            # (a docker/ of Dockerfiles is not the docker SDK).
            if any(name.endswith(".py") for name in os.listdir(root / top)):
                return True
        except OSError:
            continue
    return False


# Modules whose package is named otherwise (what to write in requirements.txt).
PACKAGES = {
    "attr": "attrs",
    "bs4": "beautifulsoup4",
    "cv2": "opencv-python",
    "dateutil": "python-dateutil",
    "dotenv": "python-dotenv",
    "environ": "django-environ",
    "jose": "python-jose",
    "jwt": "PyJWT",
    "magic": "python-magic",
    "multipart": "python-multipart",
    "MySQLdb": "mysqlclient",
    "PIL": "Pillow",
    "psycopg2": "psycopg2-binary",
    "sklearn": "scikit-learn",
    "yaml": "PyYAML",
}
_PACKAGE_DIRS = frozenset({"site-packages", "dist-packages", "__oryx_packages__"})


def _describe(exc: BaseException) -> str:
    if isinstance(exc, SyntaxError):
        where = f"{exc.filename}, line {exc.lineno}" if exc.filename else f"line {exc.lineno}"
        return f"SyntaxError: {exc.msg} ({where})"
    # "Type: message", a message of several lines (and any notes) joined on one line.
    text = "".join(traceback.format_exception_only(type(exc), exc))
    return (
        " ".join(line.strip() for line in text.splitlines() if line.strip()) or type(exc).__name__
    )


def user_traceback(exc: BaseException) -> str:
    """The traceback of ``exc`` without frames of the launcher, gunicorn or importlib."""
    tb_exc = traceback.TracebackException.from_exception(exc)
    seen: set[int] = set()
    pending: list[traceback.TracebackException | None] = [tb_exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        frames = [frame for frame in current.stack if not _machinery(frame.filename)]
        current.stack = traceback.StackSummary.from_list(frames)
        pending += [current.__cause__, current.__context__]
    return "".join(tb_exc.format()).rstrip()


_RUNPY = os.path.join(os.path.dirname(os.path.abspath(os.__file__)), "runpy.py")


def _machinery(filename: str) -> bool:
    if filename.startswith(("<frozen importlib", "<frozen runpy")):
        return True
    if os.path.abspath(filename) == _RUNPY:  # running a config file, not the user's code
        return True
    return os.path.abspath(filename).startswith(_OWN_DIRS)


def short_repr(value: object) -> str:
    text = repr(value)
    return one_line(text if len(text) <= 60 else text[:57] + "...", 80)
