"""The platform's environment variables: port, worker counts and launcher switches."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, NamedTuple

DEFAULT_PORT = "8000"
TRUE = frozenset({"1", "true", "yes", "on"})
FALSE = frozenset({"", "0", "false", "no", "off"})


class EnvSetting(NamedTuple):
    """A gunicorn setting taken from a platform variable (``source`` is ``env:NAME``)."""

    name: str
    value: Any
    source: str


def flag(env: Mapping[str, str], name: str) -> bool:
    return env.get(name, "").strip().lower() in TRUE


def port(env: Mapping[str, str], errors: list[str] | None = None) -> str:
    """``PORT``, else ``WEBSITES_PORT``, else 8000; a bad value is reported and skipped."""
    for name in ("PORT", "WEBSITES_PORT"):
        value = env.get(name, "").strip()
        if not value:
            continue
        if value.isdigit() and 0 < int(value) < 65536:
            return value
        if errors is not None:
            errors.append(f"{name}={value!r} is not a port number (1-65535); ignoring it")
    return DEFAULT_PORT


def _positive_int(env: Mapping[str, str], name: str, errors: list[str]) -> int | None:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return None
    value = raw.strip()
    if value.isdigit() and int(value) > 0:
        return int(value)
    errors.append(f"{name}={raw!r} is not a positive whole number; using the default instead")
    return None


def default_workers(env: Mapping[str, str], errors: list[str]) -> list[EnvSetting]:
    """gunicorn's own ``WEB_CONCURRENCY``: it is a default, below any configuration file."""
    workers = _positive_int(env, "WEB_CONCURRENCY", errors)
    return [] if workers is None else [EnvSetting("workers", workers, "env:WEB_CONCURRENCY")]


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity, as ``nproc`` counts them)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # not Linux
        return os.cpu_count() or 1


def platform_settings(
    env: Mapping[str, str], errors: list[str], cpu_count: int | None = None
) -> list[EnvSetting]:
    """App Service's worker variables, in increasing precedence."""
    found: list[EnvSetting] = []
    multi = env.get("PYTHON_ENABLE_GUNICORN_MULTIWORKERS", "").strip().lower()
    if multi in TRUE:
        cores = cpu_count or available_cores()
        found.append(
            EnvSetting("workers", 2 * cores + 1, "env:PYTHON_ENABLE_GUNICORN_MULTIWORKERS")
        )
    elif multi not in FALSE:
        errors.append(
            f"PYTHON_ENABLE_GUNICORN_MULTIWORKERS={multi!r} is neither true nor false; ignoring it"
        )
    workers = _positive_int(env, "PYTHON_GUNICORN_CUSTOM_WORKER_NUM", errors)
    if workers is not None:
        found.append(EnvSetting("workers", workers, "env:PYTHON_GUNICORN_CUSTOM_WORKER_NUM"))
    threads = _positive_int(env, "PYTHON_GUNICORN_CUSTOM_THREAD_NUM", errors)
    if threads is not None:
        # gunicorn itself turns the sync worker into gthread when threads > 1.
        found.append(EnvSetting("threads", threads, "env:PYTHON_GUNICORN_CUSTOM_THREAD_NUM"))
    return found
