"""Import the detected app in a gunicorn worker, with errors that say what to fix."""

from __future__ import annotations

import importlib
import site
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from gunicorn import util
from gunicorn.errors import AppImportError


def prepend_paths(paths: Sequence[Path], site_dirs: Sequence[Path] = ()) -> None:
    """Put ``paths`` first on ``sys.path``, then ``site_dirs`` (with their .pth files)."""
    for site_dir in site_dirs:
        before = list(sys.path)
        site.addsitedir(str(site_dir))
        added = [entry for entry in sys.path if entry not in before]
        # A deployed virtualenv's packages win over the launcher's, as with PYTHONPATH.
        sys.path[:] = added + before
    for path in reversed(paths):
        entry = str(path)
        if entry in sys.path:
            sys.path.remove(entry)
        sys.path.insert(0, entry)


def import_app(spec: str, where: Path) -> Callable[..., Any]:
    """Load gunicorn's ``module:variable`` (``variable`` may be a factory call)."""
    module_name, _, expression = spec.partition(":")
    expression = expression or "application"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if module_name == missing or module_name.startswith(missing + "."):
            raise AppImportError(
                f"Could not import module {module_name!r} (for app {spec!r}): no "
                f"{module_name.replace('.', '/')}.py in {where}; fix the module name or deploy "
                "the file there"
            ) from None
        raise
    name = expression.split("(")[0].strip()
    if name.isidentifier() and not hasattr(module, name):
        defined = sorted(k for k in vars(module) if not k.startswith("_"))[:10]
        raise AppImportError(
            f"Module {module_name!r} ({getattr(module, '__file__', '?')}) has no attribute "
            f"{name!r}; it defines: {', '.join(defined) or 'nothing'}. Fix the name after ':' "
            f"in {spec!r}"
        )
    app = util.import_app(f"{module_name}:{expression}")
    if not callable(app):
        raise AppImportError(
            f"{spec!r} is a {type(app).__name__}, not a WSGI/ASGI callable; point it at the "
            "app object (e.g. app = Flask(__name__))"
        )
    return app
