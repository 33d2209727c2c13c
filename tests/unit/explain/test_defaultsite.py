"""The default site's WSGI app, called directly (it is the launcher's own code)."""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from appservice_gunicorn import detect
from appservice_gunicorn.explain.defaultsite import create_app
from tests.helpers import RULES_BEFORE_DEFAULT, write

ROOT = Path(__file__).resolve().parents[3]
SECRET = "s3cr3t-Pa55w0rd-do-not-show"


class Response:
    def __init__(self) -> None:
        self.status = ""
        self.headers: dict[str, str] = {}

    def __call__(self, status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        self.status = status
        self.headers = dict(headers)


def call(app: Any, path: str, method: str = "GET") -> tuple[str, dict[str, str], bytes]:
    response = Response()
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "SERVER_PROTOCOL": "HTTP/1.1"}
    body: Iterable[bytes] = app(environ, response)
    return response.status, response.headers, b"".join(body)


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return write(
        tmp_path / "wwwroot",
        {
            "app.py": "def create():\n    pass\n\nsettings = {}\n",
            "project/.venv/pyvenv.cfg": "home = /usr/bin\n",
        },
    )


def test_page_lists_each_rule_with_its_reason(folder: Path) -> None:
    detection = detect(folder)
    status, headers, body = call(create_app(detection, {}), "/")
    page = body.decode()
    assert status == "200 OK"
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["Content-Length"] == str(len(body))
    items = re.findall(r"<li><span class=\"rule-name\">(.*?)</li>", page, re.S)
    assert [item.split("<")[0] for item in items] == RULES_BEFORE_DEFAULT
    tried = [rule for rule in detection.rules if rule.name != "default-site"]
    for rule, item in zip(tried, items, strict=True):
        assert rule.public and rule.public in item.replace("&#x27;", "'")
    assert "app.py: no Flask/FastAPI object found" in page
    assert "names seen" not in page  # identifiers from the user's code stay in the log
    assert "skipped project/.venv: virtualenv" in page


# Secret-looking values of every length: short, long (over 60 characters), with
# punctuation that repr() and argparse quote or escape.
SECRETS = {
    "DATABASE_URL": "postgres://svc:S3cretPass@db.internal:5432/app",
    "PIN": "9Qz4",
    "SESSION_KEY": "Kx7" + "q" * 70 + "Zr9",
    "QUOTED": 'it\'s "q\\u00e9" \n\tx9Y',
    "DJANGO_SETTINGS_MODULE": "Wq8.settings_Zx3",
}


def fragments(value: str, length: int = 4) -> set[str]:
    return {value[i : i + length] for i in range(len(value) - length + 1)}


@pytest.mark.parametrize(
    "startup",
    [
        "gunicorn --workers=$PIN --bind=$DATABASE_URL app:app",
        "gunicorn --timeout=$SESSION_KEY app:app",
        "gunicorn -e $QUOTED app:app",
        "gunicorn '$PIN",  # unbalanced quote: the text itself is in the message
        "startup.txt",
    ],
)
def test_no_part_of_any_secret_reaches_the_page(folder: Path, startup: str) -> None:
    write(folder, {"startup.txt": "gunicorn --workers=$PIN --chdir=$DATABASE_URL app:app\n"})
    write(folder, {"manage.py": "import os\n"})  # Django reads DJANGO_SETTINGS_MODULE
    detection = detect(folder, startup, SECRETS)
    log_text = " ".join(rule.reason for rule in detection.rules)
    assert any(v in log_text or v[:30] in log_text for v in SECRETS.values())  # the log has them
    page = html.unescape(call(create_app(detection, SECRETS), "/")[2].decode())
    # The page's own words ("https://", "app.py") are no leak: only what is new here.
    empty = folder.parent / "empty"
    empty.mkdir()
    boilerplate = html.unescape(call(create_app(detect(empty, None, {}), {}), "/")[2].decode())
    for name, value in SECRETS.items():
        for fragment in fragments(value):
            if fragment not in boilerplate:
                assert fragment not in page, f"{fragment!r} of {name} is on the page"
    assert str(folder) not in page


def test_quiet_hides_the_reasons(folder: Path) -> None:
    detection = detect(folder)
    page = call(create_app(detection, {"APPSVC_DEFAULTSITE_QUIET": "1"}), "/")[2].decode()
    assert "APPSVC_DEFAULTSITE_QUIET" in page
    assert 'id="reasons"' not in page
    assert "no Flask/FastAPI object" not in page
    assert "How to serve your app" in page


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/static/style.css", "text/css; charset=utf-8"),
        ("/static/logo.svg", "image/svg+xml"),
        ("/", "text/html; charset=utf-8"),
        ("/index.html", "text/html; charset=utf-8"),
    ],
)
def test_assets_have_their_content_type_and_head_has_no_body(
    folder: Path, path: str, content_type: str
) -> None:
    app = create_app(detect(folder), {})
    status, headers, body = call(app, path)
    assert (status, headers["Content-Type"]) == ("200 OK", content_type)
    assert len(body) > 100
    head_status, head_headers, head_body = call(app, path, "HEAD")
    assert head_status == "200 OK"
    assert head_headers["Content-Length"] == str(len(body))
    assert head_body == b""


def test_every_asset_the_page_links_is_served(folder: Path) -> None:
    app = create_app(detect(folder), {})
    page = call(app, "/")[2].decode()
    links = re.findall(r'(?:href|src)="(/[^"]*)"', page)
    assert "/static/style.css" in links and "/static/logo.svg" in links
    for link in links:
        assert call(app, link)[0] == "200 OK", link


@pytest.mark.parametrize(
    "path",
    [
        "/nope",
        "/static/",
        "/static/../pyproject.toml",
        "/static/../../../../etc/passwd",
        "/static/../__init__.py",
        "/static/..%2f__init__.py",
        "/static/%2e%2e/__init__.py",
        "/static/%252e%252e/__init__.py",
        "/static//style.css",
        "/static/./style.css",
        "/../index.html",
        "/index.html/",
        "/static/style.css\x00.txt",
    ],
)
def test_unknown_paths_and_traversal_are_404(folder: Path, path: str) -> None:
    status, headers, body = call(create_app(detect(folder), {}), path)
    assert status == "404 Not Found"
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert b"import" not in body and b"root:" not in body


def test_other_methods_are_405(folder: Path) -> None:
    status, headers, _ = call(create_app(detect(folder), {}), "/", "POST")
    assert status == "405 Method Not Allowed"
    assert headers["Allow"] == "GET, HEAD"


@pytest.mark.parametrize("path", ["/", "/static/style.css", "/missing"])
def test_security_headers_everywhere(folder: Path, path: str) -> None:
    _, headers, _ = call(create_app(detect(folder), {}), path)
    assert headers["X-Content-Type-Options"] == "nosniff"
    csp = headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'none'"
    assert "script-src" not in directives  # so no script at all, inline or not
    assert "'unsafe-inline'" not in csp


def test_page_has_no_script_and_no_inline_style(folder: Path) -> None:
    page = call(create_app(detect(folder), {}), "/")[2].decode().lower()
    assert "<script" not in page
    assert " style=" not in page and "<style" not in page
    assert re.search(r" on[a-z]+=", page) is None


def test_page_is_accessible_by_construction(folder: Path) -> None:
    page = call(create_app(detect(folder), {}), "/")[2].decode()
    assert '<html lang="en">' in page
    assert 'name="viewport"' in page
    assert len(re.findall(r"<h1[ >]", page)) == 1
    for img in re.findall(r"<img [^>]*>", page):
        assert "alt=" in img
    for labelled in re.findall(r'aria-labelledby="([^"]+)"', page):
        assert f'id="{labelled}"' in page


def test_the_page_carries_its_help_and_links_nowhere(folder: Path) -> None:
    # A link to the README would need a published page and anchors that survive the
    # index's renderer: the page says what to do itself.
    page = call(create_app(detect(folder), {}), "/")[2].decode()
    assert 'href="http' not in page
    assert "How to serve your app" in page and "--explain" in page


def test_the_page_names_every_app_file_the_chain_reads_at_the_top() -> None:
    from appservice_gunicorn.detection.rules.app_file import APP_FILES

    page = (Path(__file__).parents[3] / "defaultsite" / "index.html").read_text()
    for name in APP_FILES:
        if "/" not in name:
            assert f"<code>{name}</code>" in page, name
