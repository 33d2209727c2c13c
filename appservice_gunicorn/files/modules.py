"""Whether a module can be imported, found without importing it: detection and the plan
never run the app's code, nor a package's."""

import sys
from collections.abc import Iterable
from importlib.machinery import PathFinder


def findable(name: str, folders: Iterable[str]) -> bool:
    """``name``'s top package is built in, already imported here, or found in ``folders``
    (their order does not matter: only whether it is anywhere)."""
    top = name.split(".")[0]
    if not top.isidentifier():
        return False
    if top in sys.builtin_module_names or top in sys.modules:
        return True
    return PathFinder.find_spec(top, list(folders)) is not None
