"""Find the Python web app deployed in a folder and serve it with gunicorn, in-process."""

from __future__ import annotations

from . import _preimport  # noqa: F401  (first: see its docstring)
from .detect import Detection, Rule, detect

__version__ = "0.1.0"
__all__ = ["Detection", "Rule", "__version__", "detect"]
