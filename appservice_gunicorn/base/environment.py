"""The platform's environment variables: port, worker counts and launcher switches."""

import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

DEFAULT_PORT = "8000"
CGROUP = Path("/sys/fs/cgroup")
# More would only exhaust the machine: a typo (WEB_CONCURRENCY=99999999) is capped here.
MAX_WORKERS = 64
MAX_THREADS = 256
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
        if value.isascii() and value.isdigit() and 0 < int(value) < 65536:
            return value
        if errors is not None:
            errors.append(f"{name}={value!r} is not a port number (1-65535); ignoring it")
    return DEFAULT_PORT


def _positive_int(env: Mapping[str, str], name: str, errors: list[str]) -> int | None:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return None
    value = raw.strip()
    if value.isascii() and value.isdigit() and int(value) > 0:
        return int(value)
    errors.append(f"{name}={raw!r} is not a positive whole number; using the default instead")
    return None


def default_workers(env: Mapping[str, str], errors: list[str]) -> list[EnvSetting]:
    """gunicorn's own ``WEB_CONCURRENCY``: it is a default, below any configuration file."""
    workers = _positive_int(env, "WEB_CONCURRENCY", errors)
    return [] if workers is None else [EnvSetting("workers", workers, "env:WEB_CONCURRENCY")]


def available_cores(cgroup: Path | None = None) -> int:
    """The cores this process may use: its CPU affinity (as ``nproc`` counts them), and no
    more than its container's CPU quota (cgroup v2 ``cpu.max``, v1 ``cpu.cfs_quota_us``),
    so that a pod limited to 1 CPU on a 64-core node counts 1, not 64."""
    try:
        cores = len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # not Linux
        cores = os.cpu_count() or 1
    quota = cpu_quota(CGROUP if cgroup is None else cgroup)
    return max(1, min(cores, math.ceil(quota))) if quota is not None else cores


def cpu_quota(cgroup: Path) -> float | None:
    """CPUs allowed by the cgroup's quota, or None without a quota."""
    for path, split in ((cgroup / "cpu.max", True), (cgroup / "cpu/cpu.cfs_quota_us", False)):
        try:
            text = path.read_text().strip()
            if split:
                quota, _, period = text.partition(" ")
            else:
                quota = text
                period = (cgroup / "cpu/cpu.cfs_period_us").read_text().strip()
        except (OSError, ValueError):
            continue
        if quota in ("max", "-1") or not quota.lstrip("-").isdigit() or not period.isdigit():
            return None
        if int(quota) > 0 and int(period) > 0:
            return int(quota) / int(period)
        return None
    return None


CUSTOM_VARIABLES = ("PYTHON_GUNICORN_CUSTOM_WORKER_NUM", "PYTHON_GUNICORN_CUSTOM_THREAD_NUM")


def platform_settings(
    env: Mapping[str, str],
    errors: list[str],
    warnings: list[str] | None = None,
    cpu_count: int | None = None,
) -> list[EnvSetting]:
    """App Service's worker variables, in increasing precedence.

    As on App Service (Oryx), the custom worker and thread counts apply only with
    ``PYTHON_ENABLE_GUNICORN_MULTIWORKERS=true``; set alone, each is one warning.
    """
    found: list[EnvSetting] = []
    multi = env.get("PYTHON_ENABLE_GUNICORN_MULTIWORKERS", "").strip().lower()
    if multi in TRUE:
        cores = cpu_count or available_cores()
        found.append(
            EnvSetting("workers", 2 * cores + 1, "env:PYTHON_ENABLE_GUNICORN_MULTIWORKERS")
        )
    else:
        if multi not in FALSE:
            errors.append(
                f"PYTHON_ENABLE_GUNICORN_MULTIWORKERS={multi!r} is neither true nor false; "
                "ignoring it"
            )
        for name in CUSTOM_VARIABLES:
            if env.get(name, "").strip() and warnings is not None:
                warnings.append(
                    f"{name}={env[name].strip()!r} is ignored: App Service applies it only "
                    "with PYTHON_ENABLE_GUNICORN_MULTIWORKERS=true (set that too, or use "
                    "--workers / --threads in the startup command)"
                )
        return found
    workers = _positive_int(env, "PYTHON_GUNICORN_CUSTOM_WORKER_NUM", errors)
    if workers is not None:
        found.append(EnvSetting("workers", workers, "env:PYTHON_GUNICORN_CUSTOM_WORKER_NUM"))
    threads = _positive_int(env, "PYTHON_GUNICORN_CUSTOM_THREAD_NUM", errors)
    if threads is not None:
        # gunicorn itself turns the sync worker into gthread when threads > 1.
        found.append(EnvSetting("threads", threads, "env:PYTHON_GUNICORN_CUSTOM_THREAD_NUM"))
    return found


def startup_env(env: Mapping[str, str], app_dir: Path) -> dict[str, str]:
    """``env`` with what a startup command may use on App Service: ``PORT``, ``HOST``
    (0.0.0.0 unless set) and ``APP_PATH`` (the app folder)."""
    return {**env, "PORT": port(env), "HOST": env.get("HOST", "0.0.0.0"), "APP_PATH": str(app_dir)}


APP_VARIABLES = ("APP_PATH", "HOST", "PORT")


def on_app_service(env: Mapping[str, str]) -> bool:
    """Whether the launcher runs on App Service (the platform sets these for every site)."""
    return bool(env.get("WEBSITE_SITE_NAME") or env.get("WEBSITE_INSTANCE_ID"))


def split_bind(bind: object) -> tuple[str, int] | None:
    """(host, port) of a TCP bind as gunicorn reads it (``[host]:port``, ``host:port``, a
    host alone on port 8000); None for ``unix:`` and ``fd://``."""
    address = str(bind).removeprefix("tcp://")
    if address.startswith(("unix:", "fd://")):
        return None
    if address.startswith("["):
        host, _, number = address.partition("]")
        host, number = host + "]", number.removeprefix(":")
    else:
        host, colon, number = address.rpartition(":")
        host = host if colon else address
    return host.lower(), int(number) if number.isdigit() else 8000


def app_variables(env: Mapping[str, str], app_dir: Path, binds: object) -> dict[str, str]:
    """What App Service's startup script exports for the app: ``APP_PATH`` (the folder
    served), ``HOST`` (0.0.0.0 unless set) and ``PORT``, the port gunicorn listens on (the
    first TCP bind's; else the platform's)."""
    variables = startup_env(
        {name: env[name] for name in ("PORT", "WEBSITES_PORT", "HOST") if name in env}, app_dir
    )
    tcp = [
        found for bind in (binds if isinstance(binds, list) else []) if (found := split_bind(bind))
    ]
    if tcp:
        variables["PORT"] = str(tcp[0][1])
    return {name: variables[name] for name in APP_VARIABLES}


def restore(names: Iterable[str], original: Mapping[str, str]) -> None:
    """Put the variables ``names`` back as ``original`` had them (absent if it had not)."""
    for name in names:
        if name in original:
            os.environ[name] = original[name]
        else:
            os.environ.pop(name, None)
