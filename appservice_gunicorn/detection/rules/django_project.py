"""The detection chain's Django rule: ``manage.py`` and its settings, else a ``wsgi.py``.

Everything is read from files (AST, text): the settings module is never imported.
"""

from collections import deque
from pathlib import Path
from typing import Literal

from appservice_gunicorn.detection import django_settings, pathexpr
from appservice_gunicorn.detection.context import Context, Match, Miss
from appservice_gunicorn.detection.listing import MAX_SUBFOLDERS, Search, rel, skip_by_name
from appservice_gunicorn.files import fs, pysource

MAX_DEPTH = 3
MAX_MANAGE_DEPTH = 2


def rule(context: Context) -> Match | Miss:
    """A Django project: through ``manage.py`` and its settings, else any ``wsgi.py``."""
    search = context.search
    missed: list[Miss] = []
    manage = _find_manage(search)
    if manage is not None:
        outcome = _from_manage(search, manage)
        if isinstance(outcome, Match):
            return outcome
        missed.append(outcome)
    reasons = [miss.reason for miss in missed]
    notes = [note for miss in missed for note in miss.notes]
    wsgi_files, skipped = _find_wsgi(search)
    if not wsgi_files:
        searched = (
            f"no wsgi.py in the app folder's direct sub-folders (more than {MAX_SUBFOLDERS}: "
            "not searched deeper)"
            if search.crowded(str(search.app_dir))
            else f"no wsgi.py in sub-folders up to {MAX_DEPTH} levels deep"
        )
        if skipped:
            searched += f" (skipped {', '.join(skipped)})"
        public = [miss.public for miss in missed]
        return Miss("; ".join([*reasons, searched]), "; ".join([*public, searched]), tuple(notes))
    chosen, *others = wsgi_files
    if others:
        notes.append(
            "several wsgi.py found; serving "
            f"{rel(search.app_dir, chosen)}, passed over: "
            + ", ".join(rel(search.app_dir, p) for p in others)
        )
    root, module = _module_of(search.app_dir, chosen)
    app, kind, asgi_notes = _django_app(search, root, module, None)
    reason = "; ".join([*reasons, f"{rel(search.app_dir, chosen)} -> {app}"])
    return Match(kind, reason, PUBLIC, app, root, notes=(*notes, *asgi_notes))


PUBLIC = "a Django project"


def _find_manage(search: Search) -> Path | None:
    queue: deque[tuple[str, int]] = deque([(str(search.app_dir), 0)])
    while queue:
        folder, depth = queue.popleft()
        if search.has_file(folder, "manage.py"):
            return Path(folder) / "manage.py"
        if depth < MAX_MANAGE_DEPTH and not search.crowded(folder):
            for sub in search.subdirs(folder):
                if search.skip_reason(sub) is None:
                    queue.append((sub, depth + 1))
    return None


def _from_manage(search: Search, manage: Path) -> Match | Miss:
    manage_rel = rel(search.app_dir, manage)
    from_env = search.env.get("DJANGO_SETTINGS_MODULE")
    settings = from_env or django_settings.settings_module(manage)
    if not settings:
        problem = pysource.source_problem(manage)
        if problem is not None:
            return Miss(
                f"{manage_rel}: {problem.partition(': ')[2]}",
                f"{manage_rel} cannot be read or parsed",
            )
        if pysource.mentions(manage, "DJANGO_SETTINGS_MODULE"):
            return Miss(
                f"{manage_rel} sets DJANGO_SETTINGS_MODULE from a value computed at run time, "
                "which detection does not run: a wsgi.py is looked for instead "
                "(DJANGO_SETTINGS_MODULE in the environment would name the settings)",
                f"{manage_rel} computes DJANGO_SETTINGS_MODULE at run time",
            )
        unset = f"{manage_rel} does not set DJANGO_SETTINGS_MODULE"
        return Miss(unset, unset)
    root, settings_file = _settings_root(manage, settings)
    if settings_file is None:
        expected = settings.replace(".", "/")
        named, fix = (
            ("DJANGO_SETTINGS_MODULE in the environment", "the variable")
            if from_env
            else (manage_rel, "DJANGO_SETTINGS_MODULE in manage.py")
        )
        message = (
            f"{named} names settings module {settings!r}, but neither {expected}.py nor "
            f"{expected}/__init__.py is in {root}; deploy the settings or fix {fix}"
        )
        public = f"{named.partition(' in ')[0]}: the settings module it names is missing"
        return Miss(message, public, (message,))
    fallback = settings.rpartition(".")[0].split(".")[0] + ".wsgi"
    wsgi_setting = django_settings.setting(
        root, settings, "WSGI_APPLICATION", settings_file, default=f"{fallback}.application"
    )
    if wsgi_setting:
        module, _, variable = wsgi_setting.rpartition(".")
        wsgi_file = pysource.module_file(root, module)
        if wsgi_file is not None:
            app, kind, asgi_notes = _django_app(search, root, module, settings, variable)
            via = f"{manage_rel} -> {settings}.WSGI_APPLICATION"
            served, notes = _served_settings(root, app, settings, from_env, (module, wsgi_file))
            reason = f"{via} -> {app}{served}"
            return Match(kind, reason, PUBLIC, app, root, notes=(*asgi_notes, *notes))
        return Miss(
            f"WSGI_APPLICATION {wsgi_setting!r} in {settings} names a missing module",
            f"{manage_rel}: the settings' WSGI_APPLICATION names a missing module",
        )
    wsgi_file = pysource.module_file(root, fallback)
    if wsgi_file is not None:
        app, kind, asgi_notes = _django_app(search, root, fallback, settings)
        served, notes = _served_settings(root, app, settings, from_env, (fallback, wsgi_file))
        reason = f"{manage_rel} -> {settings} -> {app}{served}"
        return Match(kind, reason, PUBLIC, app, root, notes=(*asgi_notes, *notes))
    return Miss(
        f"{settings} sets no WSGI_APPLICATION",
        f"{manage_rel}: the settings set no WSGI_APPLICATION",
    )


def _settings_root(manage: Path, settings: str) -> tuple[Path, Path | None]:
    """Where ``settings`` imports from: ``manage.py``'s folder, else a folder ``manage.py``
    puts on ``sys.path`` first (``src/``), as Python would; and its file (None: missing)."""
    root = manage.parent
    found = pysource.module_file(root, settings)
    if found is not None:
        return root, found
    try:
        tree = pysource.parse(manage)
        additions = pathexpr.sys_path_additions(tree, manage)
    except (SyntaxError, ValueError, OSError, RecursionError):
        return root, None  # a path built beyond what is worth following
    for folder in additions:
        found = pysource.module_file(folder, settings)
        if found is not None:
            return folder, found
    return root, None


def _served_settings(
    root: Path,
    app: str,
    settings: str,
    from_env: str | None,
    wsgi: tuple[str, Path],
) -> tuple[str, tuple[str, ...]]:
    """When the served module sets another ``DJANGO_SETTINGS_MODULE`` than ``manage.py``
    (cookiecutter-django: local vs production), what the served app will use; a note when
    it sets none (only ``manage.py`` did: Django would find no settings)."""
    if from_env:
        return f" (DJANGO_SETTINGS_MODULE={from_env} from the environment)", ()
    module = app.partition(":")[0]
    # ``wsgi``: the WSGI module and its file, found already (ASGI serves another module).
    module_path = wsgi[1] if module == wsgi[0] else pysource.module_file(root, module)
    own = django_settings.settings_module(module_path) if module_path else None
    name = rel(root, module_path) if module_path else app
    if own and own != settings:
        return f"; {name} sets {own}, which the served app uses", ()
    if module_path and not any(
        pysource.mentions(path, "DJANGO_SETTINGS_MODULE")
        for path in (module_path, module_path.parent / "__init__.py")
    ):
        return "", (
            f"{name} sets no DJANGO_SETTINGS_MODULE (only manage.py does: {settings}): unless "
            "it comes another way (gunicorn's raw_env, a .env the app loads), the served app "
            f"finds no settings; set DJANGO_SETTINGS_MODULE={settings} in the app's settings "
            f"(the environment) or in {name}",
        )
    return "", ()


def _django_app(
    search: Search,
    root: Path,
    wsgi_module: str,
    settings: str | None,
    variable: str = "application",
) -> tuple[str, Literal["wsgi", "asgi"], tuple[str, ...]]:
    """``module:application`` for Django: the WSGI one, or ASGI on request (with a note
    when its module is missing)."""
    if search.want_asgi:
        fallback = wsgi_module.rpartition(".")[0] + ".asgi"
        asgi = settings and django_settings.setting(
            root, settings, "ASGI_APPLICATION", default=f"{fallback}.application"
        )
        if asgi:
            module, _, asgi_variable = asgi.rpartition(".")
        else:
            module, asgi_variable = fallback, "application"
        module = module.lstrip(".")
        if pysource.module_file(root, module) is not None:
            return f"{module}:{asgi_variable}", "asgi", ()
        missing = (
            f"ASGI was asked for (APPSVC_DJANGO_ASGI or --worker-class asgi) but "
            f"{rel(search.app_dir, root / module.replace('.', '/'))}.py does not exist; "
            "serving WSGI"
        )
        return f"{wsgi_module}:{variable}", "wsgi", (missing,)
    return f"{wsgi_module}:{variable}", "wsgi", ()


def _find_wsgi(search: Search) -> tuple[list[Path], list[str]]:
    """``wsgi.py`` files in folders below the app folder, shallowest and then sorted first."""
    found: list[Path] = []
    skipped: list[str] = []
    queue: deque[tuple[str, int]] = deque([(str(search.app_dir), 0)])
    while queue:
        folder, depth = queue.popleft()
        if search.crowded(folder):
            if depth > 0:
                where = rel(search.app_dir, Path(folder))
                skipped.append(f"{where}: more than {MAX_SUBFOLDERS} sub-folders")
            else:
                # App Service's own rule still holds: a wsgi.py in a direct sub-folder (asked
                # by name: one system call, where a listing takes five).
                found += [
                    Path(sub) / "wsgi.py"
                    for sub in search.subdirs(folder)
                    if skip_by_name(sub.rpartition("/")[2]) is None
                    and search.has_file(sub, "wsgi.py")
                ]
            continue
        for sub in search.subdirs(folder):
            why = search.skip_reason(sub)
            if why is not None:
                skipped.append(f"{rel(search.app_dir, Path(sub))}: {why}")
                continue
            if search.has_file(sub, "wsgi.py"):
                found.append(Path(sub) / "wsgi.py")
            if depth + 1 < MAX_DEPTH:
                queue.append((sub, depth + 1))
    # Shallowest first, then in sorted order of the path's folders.
    found.sort(key=lambda path: (len(path.parts), path.parts))
    return found, skipped


def _module_of(app_dir: Path, wsgi: Path) -> tuple[Path, str]:
    """The import root and dotted module of a ``wsgi.py``: above its outermost package."""
    parts = [wsgi.stem]
    folder = wsgi.parent
    parts.append(folder.name)
    root = folder.parent
    while root != app_dir and fs.is_file(root / "__init__.py"):
        parts.append(root.name)
        root = root.parent
    if not fs.is_file(wsgi.parent / "__init__.py"):
        # Not a package: import it by its path from the app folder (namespace packages).
        rel = wsgi.relative_to(app_dir).with_suffix("")
        return app_dir, ".".join(rel.parts)
    return root, ".".join(reversed(parts))
