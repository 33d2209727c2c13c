"""Find the Python web app deployed in a folder and serve it with gunicorn, in-process.

``detect(path, startup=None)`` is the detection chain as a pure function: it reads files
(directory entries, text, Python AST), imports nothing from ``path``, and returns a frozen
``Detection`` holding the decision and the same rule trace as ``--explain``.
"""

from __future__ import annotations

from .detect import Detection, Rule, detect

__version__ = "0.1.0"
__all__ = ["Detection", "Rule", "__version__", "detect"]
