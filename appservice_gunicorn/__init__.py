"""Find the Python web app deployed in a folder and serve it with gunicorn, in-process.

``detect(path, startup=None)`` is the detection chain as a pure function: it reads files
(directory entries, text, Python AST), imports nothing from ``path``, and returns a frozen
``Detection`` holding the decision and the same rule trace as ``--explain``.
"""

from __future__ import annotations

import os as _os
import sys as _sys

# ``python -m appservice_gunicorn`` puts the current folder first on sys.path while this
# package is imported (sys.argv[0] is "-m" until __main__ runs).  --explain runs no user
# code: started from the app folder, it must not look modules up there, or a json.py
# deployed next to app.py would be run by the launcher's own imports.
if (
    _sys.argv[:1] == ["-m"]
    and "--explain" in _sys.argv[1:]
    and _sys.path
    and _os.path.abspath(_sys.path[0] or ".") == _os.getcwd()
):
    del _sys.path[0]

from . import _preimport  # noqa: F401  (first: see its docstring)
from .detect import Detection, Rule, detect

__version__ = "0.1.0"
__all__ = ["Detection", "Rule", "__version__", "detect"]
