"""gunicorn settings in layers, each value remembering where it came from (``settings.py``
fills them)."""

import os
from pathlib import Path
from typing import Any, NamedTuple

from appservice_gunicorn.base.gunicorn_api import Config
from appservice_gunicorn.plan.debugging import DebugAdapter
from appservice_gunicorn.startup.gunicorn_options import is_hook

LAUNCHER = "launcher"


def file_source(app_dir: Path, path: Path) -> str:
    """A config file as the source of its settings: relative to the app folder if inside."""
    return os.path.relpath(path, app_dir) if path.is_relative_to(app_dir) else str(path)


DEFAULT_TIMEOUT = 600
# gunicorn computes these defaults from PORT and WEB_CONCURRENCY at import time;
# compared with the documented values, a setting the launcher made is never hidden.
ENV_FREE_DEFAULTS: dict[str, Any] = {"bind": ["127.0.0.1:8000"], "workers": 1}


class Setting(NamedTuple):
    name: str
    value: Any
    source: str


class LayeredSettings:
    """The effective settings (``values``) and the problems met while layering them."""

    def __init__(self) -> None:
        self.values: dict[str, Setting] = {}
        self.errors: list[str] = []
        self.notes: list[str] = []
        self.config_file: Path | None = None
        # Settings the config file computes (read as literals, --explain cannot know them).
        self.computed: frozenset[str] = frozenset()
        # Where the worker's debug adapter listens (App Service's remote debugging), or None.
        self.debug: DebugAdapter | None = None

    def put(self, name: str, value: Any, source: str) -> None:
        self.values[name] = Setting(name, value, source)

    def value(self, name: str, default: Any = None) -> Any:
        setting = self.values.get(name)
        return default if setting is None else setting.value

    def source(self, name: str) -> str | None:
        setting = self.values.get(name)
        return None if setting is None else setting.source

    def apply(self, config: Config) -> None:
        for setting in self.values.values():
            config.set(setting.name, setting.value)

    def differing(self) -> dict[str, Setting]:
        """The settings whose value is not gunicorn's documented default."""
        # Each name is set once on ``reference`` and read back right away, so one Config
        # serves them all.
        defaults, reference = Config(), Config()
        changed: dict[str, Setting] = {}
        for name, setting in sorted(self.values.items()):
            if is_hook(name) and isinstance(setting.value, str):
                # Validating "module.function" would import it: a named hook always differs.
                changed[name] = setting
                continue
            reference.set(name, setting.value)
            default = ENV_FREE_DEFAULTS.get(name, defaults.settings[name].get())
            if reference.settings[name].get() != default:
                changed[name] = setting
        return changed
