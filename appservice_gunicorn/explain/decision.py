"""Say what the launcher decided and why: log lines at start, ``--explain`` text and JSON."""

import logging
import shlex
from typing import Any

from appservice_gunicorn.build import output
from appservice_gunicorn.detection import app_variable
from appservice_gunicorn.detection.chain import Detection
from appservice_gunicorn.detection.listing import rel
from appservice_gunicorn.plan import debugging
from appservice_gunicorn.plan.layers import file_source
from appservice_gunicorn.plan.plan import Plan
from appservice_gunicorn.startup.gunicorn_options import TORNADO_WORKERS

SUPERVISED_DEBUGGING = (
    f"{debugging.SWITCH} is set, but the startup command runs as its own program, which the "
    "launcher does not debug: start it under debugpy yourself (python -m debugpy --listen "
    "0.0.0.0:$APPSVC_TUNNEL_PORT ...), or let the launcher serve the app (a gunicorn command)"
)


def worker_class(plan: Plan) -> str | None:
    """The worker class gunicorn will use, named as gunicorn names it (None: no gunicorn)."""
    if plan.settings is None:
        return None
    value = plan.settings.value("worker_class", "sync")
    name = value if isinstance(value, str) else getattr(value, "__name__", repr(value))
    threads = plan.settings.value("threads", 1)
    if (name == "sync" or name.endswith("SyncWorker")) and isinstance(threads, int) and threads > 1:
        return "gthread"
    return name


def worker_reason(plan: Plan) -> str | None:
    """Why this worker class: where the setting came from (for gthread, the threads' when
    they turned gunicorn's sync worker into it), and for ASGI apps the choice."""
    if plan.settings is None:
        return None
    source = plan.settings.source("worker_class") or "gunicorn's default"
    if plan.detection.kind == "asgi" and source.startswith("launcher"):
        return (
            "gunicorn's native worker for an ASGI app, which needs no extra package and logs "
            "unhandled exceptions with their traceback; -k/--worker-class chooses another"
        )
    named = plan.settings.value("worker_class", "sync")
    if worker_class(plan) == "gthread" and named != "gthread":
        threads = plan.settings.value("threads")
        return (
            f"threads = {threads} (from {plan.settings.source('threads')}) makes gunicorn's "
            "sync worker gthread"
        )
    config = plan.settings.config_file
    computed = "threads" in plan.settings.computed and plan.settings.source("threads") is None
    if worker_class(plan) == "sync" and computed and config:  # a later layer's would win
        computed_in = file_source(plan.detection.app_dir, config)
        return f"from {source}; gthread if threads, computed in {computed_in}, is more than 1"
    return f"from {source}"


# Worker classes that serve another protocol than their app's detected kind says.
PROTOCOLS = {
    **dict.fromkeys(TORNADO_WORKERS, "tornado"),
    "aiohttp.GunicornWebWorker": "aiohttp",
    "aiohttp.GunicornUVLoopWebWorker": "aiohttp",
    "aiohttp.worker.GunicornWebWorker": "aiohttp",
    "aiohttp.worker.GunicornUVLoopWebWorker": "aiohttp",
}


def protocol(plan: Plan) -> str:
    """What the worker speaks to the app: its kind (wsgi, asgi), unless the worker class
    serves another kind of app (aiohttp's; Tornado's, whose worker also serves WSGI apps)."""
    found = PROTOCOLS.get(worker_class(plan) or "", plan.detection.kind)
    detection = plan.detection
    if found == "tornado" and detection.app and detection.pythonpath:
        return found if app_variable.tornado_class(detection.pythonpath, detection.app) else "wsgi"
    return found


def binds(plan: Plan) -> str:
    return ", ".join(plan.settings.value("bind", []) if plan.settings else [])


def decision(plan: Plan) -> str:
    detection = plan.detection
    if detection.kind == "command":
        return f"run the startup command as a supervised child: {detection.command}"
    if detection.kind == "default":
        served = "the default site"
    else:
        served = f"{detection.app} ({protocol(plan).upper()}) from {detection.pythonpath}"
    if plan.checks_only:  # gunicorn's --check-config or --print-config
        return f"check the settings and load {served} once, then exit (nothing is served)"
    return f"serve {served}"


def log_plan(plan: Plan, log: logging.Logger) -> None:
    """The first lines of the log: problems, then one line saying what is served and why."""
    detection = plan.detection
    if detection.startup_error:
        log.error("%s; looking for an app instead (--strict stops here)", detection.startup_error)
    for error in _settings_list(plan, "errors"):
        log.error("%s", error)
    for note in (*detection.notes, *_settings_list(plan, "notes")):
        log.warning("%s", note)
    if detection.build is not None and detection.build.manifest is not None:
        log.info("Build output: %s", "; ".join(output.describe(detection.build)))
    if detection.venv is not None:
        log.info(
            "Using virtualenv %s: its site-packages go on the path",
            rel(detection.app_dir, detection.venv.path),
        )
    matched = next(rule for rule in detection.rules if rule.matched)
    if plan.supervised:
        log.info("Startup command (rule %s: %s)", detection.rule, matched.reason)
        if debugging.requested(plan.config.env):
            log.warning("%s", SUPERVISED_DEBUGGING)
        return
    if detection.kind == "default":
        tried = "; ".join(f"{r.name}: {r.reason}" for r in detection.rules if not r.matched)
        log.info(
            "No app found in %s (%s): serving the default site on %s",
            detection.app_dir,
            tried,
            binds(plan),
        )
        # The folder as deployed (before any extraction), from wherever the hint is run.
        deployed = detection.build.deployed_dir if detection.build else detection.app_dir
        log.info(
            "To serve your app: deploy it into %s (a Django project with manage.py, or an "
            "app.py/application.py holding 'app'), or give a startup command such as "
            "'gunicorn hello:myapp'; run 'python -m appservice_gunicorn --explain --app-dir "
            "%s' for the whole trace",
            detection.app_dir,
            shlex.quote(str(deployed)),
        )
        return
    log.info(
        "Serving %s (%s, rule %s: %s) with the %s worker on %s",
        detection.app,
        protocol(plan).upper(),
        detection.rule,
        matched.reason,
        worker_class(plan),
        binds(plan),
    )


# The version of ``--explain --json``'s shape: raised when a key changes meaning or goes
# away (a key added is no new version), so scripts can tell what they read.
SCHEMA_VERSION = 1


def as_dict(
    plan: Plan, strict_error: str | None = None, stop_error: str | None = None
) -> dict[str, Any]:
    """The plan as JSON-ready data; ``strict_error`` is the line ``--strict`` stops with,
    ``stop_error`` the one the settings stop the start with (then ``plan`` has none)."""
    detection = plan.detection
    return {
        "schema_version": SCHEMA_VERSION,
        "app_dir": str(detection.app_dir),
        "rules": [
            {"name": r.name, "matched": r.matched, "reason": r.reason} for r in detection.rules
        ],
        "app": detection.app,
        "kind": detection.kind,
        "protocol": protocol(plan) if plan.settings is not None else None,
        "command": detection.command,
        "runs": "supervised" if plan.supervised else "in-process",
        "steps": [
            {"command": step.command, "on_failure": "stop" if step.stop_on_failure else "go on"}
            for step in plan.steps
        ],
        "worker_class": worker_class(plan),
        "worker_class_reason": worker_reason(plan),
        "pythonpath": str(detection.pythonpath) if detection.pythonpath else None,
        "virtualenv": str(detection.venv.path) if detection.venv else None,
        "build_output": _build_output(detection),
        "settings": {
            name: {"value": _jsonable(s.value), "source": s.source}
            for name, s in (plan.settings.differing().items() if plan.settings else ())
        },
        "remote_debugging": _debugging(plan),
        "notes": [*detection.notes, *_settings_list(plan, "notes"), *_supervised_debugging(plan)],
        "errors": [*_settings_list(plan, "errors"), *([stop_error] if stop_error else [])],
        "strict_error": strict_error,
        "exit_status": 1 if strict_error or stop_error else 0,
    }


def _debugging(plan: Plan) -> dict[str, Any] | None:
    debug = plan.settings.debug if plan.settings is not None else None
    return None if debug is None else {"host": debug.host, "port": debug.port, "wait": debug.wait}


def _supervised_debugging(plan: Plan) -> list[str]:
    asked = plan.supervised and debugging.requested(plan.config.env)
    return [SUPERVISED_DEBUGGING] if asked else []


def _build_output(detection: Detection) -> dict[str, Any] | None:
    """The build's manifest and archives: where each is or would be extracted."""
    build = detection.build
    if build is None:
        return None
    archives = [
        {"role": role, "path": str(a.path), "target": str(a.target), "extracted": a.extracted}
        for role, a in (("output", build.output_archive), ("virtualenv", build.venv_archive))
        if a is not None
    ]
    return {
        "manifest": dict(build.manifest.entries) if build.manifest else None,
        "archives": archives,
        "summary": output.describe(build),
    }


def _settings_list(plan: Plan, name: str) -> list[str]:
    return list(getattr(plan.settings, name)) if plan.settings is not None else []


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return getattr(value, "__qualname__", None) or repr(value)


def render_json(plan: Plan, strict_error: str | None = None, stop_error: str | None = None) -> str:
    import json  # --explain --json only: 1.4 ms off every start

    return json.dumps(as_dict(plan, strict_error, stop_error), indent=2)


def render_text(plan: Plan, strict_error: str | None = None, stop_error: str | None = None) -> str:
    data = as_dict(plan, strict_error, stop_error)
    lines = [f"App folder: {data['app_dir']}"]
    if data["build_output"]:
        lines += ["", "Build output (App Service / Oryx):"]
        lines += [f"  {line}" for line in data["build_output"]["summary"]]
    lines += ["", "Detection chain:"]
    for rule in data["rules"]:
        mark = "MATCH" if rule["matched"] else "no   "
        lines.append(f"  [{mark}] {rule['name']:<13} {rule['reason']}")
    if strict_error:
        lines += [
            "",
            f"Decision: stop with exit status 1: {strict_error}",
            f"Without --strict / APPSVC_STRICT: {decision(plan)}",
        ]
    elif stop_error:
        lines += ["", f"Decision: stop with exit status 1: {stop_error}"]
        lines += [f"With usable settings: {decision(plan)}"]
    else:
        lines += ["", f"Decision: {decision(plan)}"]
    if data["steps"]:
        lines += ["", "Pre-start steps (each a supervised child, before the app starts):"]
        for number, step in enumerate(data["steps"], 1):
            lines.append(f"  {number}. {step['command']}  (if it fails: {step['on_failure']})")
    if plan.supervised:
        lines += [
            "",
            "The command runs as a supervised child of the launcher: signals forwarded to its",
            "process group, its exit status passed on. No gunicorn settings apply.",
        ]
    else:
        lines.append("")
        lines.append("Served in-process by the launcher's gunicorn master:")
        if data["app"]:
            lines.append(f"  app:          {data['app']}")
            lines.append(f"  kind:         {data['protocol'] or data['kind']}")
            lines.append(f"  on sys.path:  {data['pythonpath']}")
        if data["virtualenv"]:
            lines.append(f"  virtualenv:   {data['virtualenv']}")
        if plan.settings is None:  # they stop the start: see Errors
            lines.append("  worker class: unknown (the settings cannot be used)")
        else:
            reason = data["worker_class_reason"]
            lines.append(f"  worker class: {data['worker_class']} ({reason})")
        if data["remote_debugging"]:
            debug = data["remote_debugging"]
            waits = ", the worker waits for a debugger first" if debug["wait"] else ""
            lines.append(f"  debugger:     debugpy on {debug['host']}:{debug['port']}{waits}")
        lines += ["", "gunicorn settings that differ from gunicorn's defaults:"]
        width = max((len(name) for name in data["settings"]), default=0)
        for name, setting in data["settings"].items():
            lines.append(f"  {name:<{width}} = {setting['value']!r:<28} ({setting['source']})")
    for title, items in (("Notes", data["notes"]), ("Errors", data["errors"])):
        if items:
            lines += ["", f"{title}:"] + [f"  - {item}" for item in items]
    return "\n".join(lines)
