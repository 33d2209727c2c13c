"""The rule from App Service's neighbours that reads a variable: Flask's ``FLASK_APP``
(files are read as AST only)."""

from collections.abc import Mapping
from pathlib import Path

from . import fs, pysource
from .search import Found


def flask_app(app_dir: Path, env: Mapping[str, str]) -> Found | tuple[str, str]:
    """``FLASK_APP`` as Flask's CLI reads it: ``module``, ``module:name``,
    ``module:create_app(args)``, or a path (``src/hello.py``); else (reason, public)."""
    value = env.get("FLASK_APP", "").strip()
    if not value:
        return "FLASK_APP is not set", "FLASK_APP is not set"
    target, _, attribute = value.partition(":")
    root, module = _import_location(app_dir, target.strip())
    path = pysource.module_file(root, module) if module else None
    if path is None:
        reason = (
            f"FLASK_APP={value!r} names module {module or target!r}, which is not in {root}; "
            "fix FLASK_APP or deploy the module"
        )
        return reason, "FLASK_APP names a module that is not in the app folder"
    scan = pysource.scan_module(path)
    chosen = attribute.strip() or scan.choose()
    if chosen is None:
        seen = ", ".join(scan.names[:8]) or "none"
        reason = f"FLASK_APP={value!r}: {path.name} defines no app object; names seen: {seen}"
        return reason, "FLASK_APP names a module without an app object"
    kind = scan.kind_of(chosen.split("(")[0].strip(), [root])
    return Found(
        app=f"{module}:{chosen}",
        kind=kind,
        pythonpath=root,
        reason=f"FLASK_APP={value} -> {module}:{chosen} ({kind.upper()})",
    )


def _import_location(app_dir: Path, target: str) -> tuple[Path, str]:
    """(import root, dotted module) of FLASK_APP's module part, as Flask's
    ``prepare_import`` finds them: a path is imported from above its outermost package."""
    if "/" not in target and not target.endswith(".py"):
        return app_dir, target
    path = app_dir / target.removesuffix(".py")
    if path.name == "__init__":
        path = path.parent
    parts = [path.name]
    folder = path.parent
    while fs.is_file(folder / "__init__.py") and folder != app_dir.parent:
        parts.append(folder.name)
        folder = folder.parent
    return folder, ".".join(reversed(parts))
