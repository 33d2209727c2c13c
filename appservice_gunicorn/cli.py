"""The command line: ``python -m appservice_gunicorn [options] [STARTUP ...]``."""

import argparse
import logging
import os
import sys
from collections.abc import Sequence

from appservice_gunicorn import __version__
from appservice_gunicorn.base import boot
from appservice_gunicorn.base.errors import LaunchError
from appservice_gunicorn.explain import decision
from appservice_gunicorn.plan.plan import LauncherConfig, make_plan, strict_error, with_settings
from appservice_gunicorn.serve.importer import add_master_paths
from appservice_gunicorn.startup.gunicorn_options import is_option, long_options

log = logging.getLogger(__name__)
# Every module logs to a child of this one (getLogger(__name__)): one handler, one level.
package_log = logging.getLogger("appservice_gunicorn")

# Launcher options end at the first word that is not one of them: the rest is the
# startup command, whose own options (--workers=4 ...) belong to gunicorn.
_FLAGS = frozenset({"--explain", "--json", "--strict", "-h", "--help", "-v", "--version"})
_VALUED = frozenset({"--app-dir"})

DESCRIPTION = """\
Find the Python web app deployed in the app folder and serve it with gunicorn, in-process.
Detection chain: the startup command, a Procfile's web process, wsgi_app in gunicorn's
config file, FLASK_APP, a Django project, a Flask-style file (application.py, app.py, run.py,
index.py, server.py, wsgi.py, main.py, api.py, asgi.py, app/main.py, app/app.py,
app/api.py), else the built-in default site.
"""
EPILOG = """\
STARTUP is App Service's startup command: the name of a file in the app folder (startup.txt)
holding the command, or the command itself, e.g. 'gunicorn --workers=4 hello:myapp'.
Environment: APP_PATH, PORT, WEBSITES_PORT, GUNICORN_CMD_ARGS, WEB_CONCURRENCY,
PYTHON_ENABLE_GUNICORN_MULTIWORKERS, PYTHON_GUNICORN_CUSTOM_WORKER_NUM,
PYTHON_GUNICORN_CUSTOM_THREAD_NUM (both only with multiworkers),
PYTHON_USE_GUNICORN_CONFIG_FROM_PATH, PRE_RUN_COMMAND, DJANGO_SETTINGS_MODULE, TMPDIR,
FLASK_APP, DISABLE_FASTAPI_DETECTION, APPSVC_VIRTUAL_ENV, APPSVC_EXTRACT_DIR,
APPSVC_IGNORE_PROCFILE, APPSVC_DJANGO_ASGI, APPSVC_PRELOAD_FRAMEWORK, APPSVC_STRICT,
APPSVC_GRACEFUL_TIMEOUT, APPSVC_DEFAULTSITE_QUIET.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="appservice-gunicorn",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--app-dir",
        metavar="DIR",
        help="the app folder (default: $APP_PATH, else the current directory)",
    )
    parser.add_argument(
        "--explain",
        action="store_true",
        help="print the detection trace and settings, then exit (imports nothing)",
    )
    parser.add_argument("--json", action="store_true", help="with --explain: print JSON")
    parser.add_argument(
        "--strict",
        action="store_true",
        help="stop with exit status 1 when the startup command cannot be used "
        "(default: log an error and go on down the chain; also APPSVC_STRICT=1)",
    )
    parser.add_argument("-v", "--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("startup", nargs="*", metavar="STARTUP", help="the startup command")
    return parser


def split_argv(argv: Sequence[str]) -> tuple[list[str], list[str], bool]:
    """(launcher options, startup words, whether ``--`` ended the options)."""
    index = 0
    while index < len(argv):
        word = argv[index]
        if word == "--":
            return list(argv[:index]), list(argv[index + 1 :]), True
        if word in _FLAGS or any(word.startswith(v + "=") for v in _VALUED):
            index += 1
        elif word in _VALUED:
            index += 2
        else:
            break
    return list(argv[:index]), list(argv[index:]), False


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    options, startup, separated = split_argv(argv)
    parser = build_parser()
    namespace = parser.parse_args(options)
    namespace.startup = startup
    if namespace.json and not namespace.explain:
        parser.error("--json goes with --explain")
    if startup and not separated and _looks_like_an_option(startup[0]):
        parser.error(_unknown_option(startup[0]))
    return namespace


def _looks_like_an_option(word: str) -> bool:
    """A first startup word that is an option, but neither the launcher's nor gunicorn's:
    a typo (``--app-dirr``, ``--exlpain``), which would otherwise become the startup
    command and leave the launcher serving whatever the current folder holds."""
    if not word.startswith("-") or word == "-":
        return False
    return not is_option(word)


def _unknown_option(word: str) -> str:
    name = word.split("=", 1)[0]
    if name.startswith("--"):
        import difflib  # only for a mistyped option: 1.7 ms off every start

        known = sorted(_FLAGS | _VALUED) + long_options()
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
    else:  # -V for -v: a short option differs in case, if at all
        close = [flag for flag in sorted(_FLAGS) if flag == name.lower()]
    hint = f" (did you mean {close[0]}?)" if close else ""
    return (
        f"unrecognized option {word!r}{hint}: neither the launcher's nor gunicorn's "
        "(a startup command that starts with it goes after '--')"
    )


def setup_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    # The same shape as gunicorn's error log, so the two read as one log.
    handler.setFormatter(
        logging.Formatter(
            "[%(asctime)s] [%(process)d] [%(levelname)s] %(message)s", "%Y-%m-%d %H:%M:%S %z"
        )
    )
    package_log.handlers[:] = [handler]
    package_log.setLevel(logging.INFO)
    package_log.propagate = False


def main(argv: Sequence[str] | None = None) -> int:
    # Everything loaded before the user's code (gunicorn.conf.py, a preloaded app) may run.
    launcher_modules = frozenset(sys.modules)
    args = parse_args(sys.argv[1:] if argv is None else argv)
    setup_logging()
    # A master that replaced itself: the redeploy's steps ran, and the previous workers
    # still use the previous extraction of the build's archives.
    replaced = bool(os.environ.pop(boot.REPLACED, ""))
    config = LauncherConfig.from_env(args.app_dir, tuple(args.startup), args.strict)
    if args.explain:
        return run_explain(config, as_json=args.json)
    try:
        plan = make_plan(config, settings=False, prune=not replaced)
        if plan.supervised or plan.steps:
            # Child processes: 3.5 ms of imports (the supervisor, ctypes) that a start
            # with neither a step nor a supervised command never pays.
            from appservice_gunicorn.supervise import commands, steps

            if plan.supervised:
                decision.log_plan(plan, log)
                boot.started(forking=False)
                return commands.run_supervised(plan)
            stop = None if plan.checks_only or replaced else steps.run_steps(plan)
            if stop is not None:
                return stop
        # gunicorn's application and master: 17 ms of imports that --explain never needs
        # (and imported before the app's folder joins sys.path).
        from appservice_gunicorn.serve.application import AppServiceApplication

        add_master_paths(plan.detection)
        plan = with_settings(plan)
    except LaunchError as exc:
        log.error("%s", exc)
        return exc.status
    AppServiceApplication(config, plan, launcher_modules).run()
    return 0


def run_explain(config: LauncherConfig, *, as_json: bool) -> int:
    """Print the trace and plan; exit status as serving would start (0) or stop (1)."""
    explained = config._replace(strict=False)
    stop = None
    try:
        plan = make_plan(explained, run_config_file=False, extract=False)
    except LaunchError as exc:
        try:  # the detection still explains itself; the settings' error is its stop
            plan = make_plan(explained, settings=False, extract=False)
        except LaunchError:
            print(f"Error: {exc}", file=sys.stderr)
            return exc.status
        stop = str(exc)
        if plan.steps:
            stop += f" (found before the {len(plan.steps)} pre-start step(s), which may fix it)"
    error = None
    if config.strict and plan.detection.startup_error:
        error = strict_error(plan.detection.startup_error)
    try:
        if as_json:
            print(decision.render_json(plan, error, stop))
        else:
            print(decision.render_text(plan, error, stop))
        sys.stdout.flush()
    except BrokenPipeError:
        # ``--explain | head``: the reader is gone; keep Python from complaining at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    for line in (error, stop):
        if line is not None:
            print(f"Error: {line}", file=sys.stderr)
    return 1 if error or stop else 0
