"""Find the Python web app deployed in a folder and serve it with gunicorn, in-process.

``detect(path, startup=None)`` is the detection chain as a pure function: it reads files
(directory entries, text, Python AST), imports nothing from ``path``, and returns a frozen
``Detection`` holding the decision and the same rule trace as ``--explain``.

This module stays light and imports nothing (no side effect either):
``python -m appservice_gunicorn`` runs it before ``__main__`` installs the signal handlers a
container's PID 1 needs.
"""

__version__ = "0.1.0"
__all__ = ["Detection", "Kind", "Rule", "RuleName", "__version__", "detect"]

TYPE_CHECKING = False
if TYPE_CHECKING:
    from appservice_gunicorn.detection.chain import Detection, Kind, Rule, RuleName, detect


def __getattr__(name: str) -> object:
    # Lazily: the chain imports gunicorn's settings (some 100 ms), which must not come
    # before __main__'s signal handlers.
    if name in ("Detection", "Kind", "Rule", "RuleName", "detect"):
        from appservice_gunicorn.detection import chain

        return getattr(chain, name)
    raise AttributeError(f"module 'appservice_gunicorn' has no attribute {name!r}")
