"""The built-in, read-only default site: a page that says why no app was served.

The site's files (``defaultsite/`` at the top of the repository: its page template and
static files) ship inside the wheel as ``appservice_gunicorn/_defaultsite``; an editable
install or a checkout finds them beside the package. They are read once into memory and
looked up by exact URL path, so no request path ever reaches the file system.
"""

import html
from collections.abc import Callable, Iterable, Mapping
from importlib import resources
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING, Any

from appservice_gunicorn import __version__
from appservice_gunicorn.base.environment import flag
from appservice_gunicorn.detection.chain import Detection

STATIC_TYPES = {
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}
SECURITY_HEADERS = [
    ("X-Content-Type-Options", "nosniff"),
    (
        "Content-Security-Policy",
        "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; "
        "form-action 'none'; frame-ancestors 'none'",
    ),
    ("Referrer-Policy", "no-referrer"),
    ("X-Frame-Options", "DENY"),
]
HTML = "text/html; charset=utf-8"

if TYPE_CHECKING:
    from importlib.abc import Traversable

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def site_folder() -> "Traversable":
    """The default site's folder: in the installed wheel, else in the checkout."""
    shipped = resources.files("appservice_gunicorn") / "_defaultsite"
    if shipped.is_dir():
        return shipped
    return Path(__file__).resolve().parents[2] / "defaultsite"


def load_static() -> dict[str, tuple[bytes, str]]:
    folder = site_folder() / "static"
    files: dict[str, tuple[bytes, str]] = {}
    for entry in folder.iterdir():
        suffix = "." + entry.name.rpartition(".")[2]
        if entry.is_file() and suffix in STATIC_TYPES:
            files[f"/static/{entry.name}"] = (entry.read_bytes(), STATIC_TYPES[suffix])
    return files


def render_reasons(detection: Detection, quiet: bool) -> str:
    """Each rule and its public reason: safe by construction, as ``Rule.public`` is built
    from the launcher's own words and paths relative to the app folder (the full reasons,
    which may quote a user's values, are in the log and ``--explain``)."""
    if quiet:
        return (
            '<p class="quiet">The reasons are hidden on this site '
            "(<code>APPSVC_DEFAULTSITE_QUIET</code> is set). Run "
            "<code>python -m appservice_gunicorn --explain</code> in the container to see them.</p>"
        )
    items = []
    for rule in detection.rules:
        if rule.name == "default-site":
            continue
        status = "matched" if rule.matched else "not matched"
        css = "yes" if rule.matched else "no"
        items.append(
            f'<li><span class="rule-name">{html.escape(rule.name)}'
            f'<span class="status {css}">{status}</span></span>'
            f'<span class="reason">{html.escape(rule.public)}'
            "</span></li>"
        )
    return (
        '<h3 id="reasons-title">What was looked for, in order</h3>\n'
        '<ol class="rules" id="reasons" aria-labelledby="reasons-title">\n'
        + "\n".join(items)
        + "\n</ol>"
    )


def render_page(detection: Detection, quiet: bool) -> bytes:
    template = Template((site_folder() / "index.html").read_text("utf-8"))
    page = template.substitute(
        version=html.escape(__version__),
        reasons=render_reasons(detection, quiet),
    )
    return page.encode("utf-8")


def create_app(detection: Detection, env: Mapping[str, str]) -> WSGIApp:
    quiet = flag(env, "APPSVC_DEFAULTSITE_QUIET")
    routes = load_static()
    page = render_page(detection, quiet)
    routes["/"] = routes["/index.html"] = (page, HTML)
    not_found = b"<!doctype html><title>Not found</title><h1>404 Not found</h1>\n"

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        if method not in ("GET", "HEAD"):
            body, ctype, status = (
                b"Method not allowed\n",
                "text/plain; charset=utf-8",
                "405 Method Not Allowed",
            )
            extra = [("Allow", "GET, HEAD")]
        elif environ.get("PATH_INFO", "/") in routes:
            body, ctype = routes[environ.get("PATH_INFO", "/")]
            status, extra = "200 OK", []
        else:
            body, ctype, status, extra = not_found, HTML, "404 Not Found", []
        cache = "no-store" if ctype == HTML else "public, max-age=3600"
        headers = [
            ("Content-Type", ctype),
            ("Content-Length", str(len(body))),
            ("Cache-Control", cache),
            *SECURITY_HEADERS,
            *extra,
        ]
        start_response(status, headers)
        return [b""] if method == "HEAD" else [body]

    return app
