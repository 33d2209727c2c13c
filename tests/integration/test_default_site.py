"""The default site served by the real launcher, asked with raw HTTP requests."""

from __future__ import annotations

import http.client
import socket
from pathlib import Path

import pytest

from tests.helpers import write
from tests.integration.conftest import Start

SECRET = "tok_live_9f8e7d6c5b4a39281706"


def raw_request(url: str, target: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    """Send ``target`` exactly as written (no client-side normalisation or quoting)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            f"{method} {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode()
        )
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, body


def request(url: str, path: str, method: str = "GET") -> http.client.HTTPResponse:
    host, port = url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    connection.request(method, path)
    return connection.getresponse()


@pytest.fixture
def site(launch: Start, tmp_path: Path) -> str:
    folder = write(
        tmp_path / "wwwroot",
        {"app.py": "import os\n\ndef helper():\n    pass\n", "README.txt": "not an app\n"},
    )
    # The startup command makes gunicorn's validator quote the secret in the reason.
    launcher = launch(folder, "gunicorn --workers=$API_TOKEN app:app", {"API_TOKEN": SECRET})
    return launcher.url


def test_page_explains_with_relative_paths_and_no_env_values(site: str, tmp_path: Path) -> None:
    response = request(site, "/")
    body = response.read().decode()
    assert response.status == 200
    assert response.getheader("Content-Type") == "text/html; charset=utf-8"
    assert "<title>Your container is running, but no app was found</title>" in body
    assert "app.py: no Flask/FastAPI object found" in body
    assert "the startup command: gunicorn does not accept one of its options or values" in body
    assert SECRET not in body
    assert str(tmp_path) not in body
    assert "How to serve your app" in body


def test_security_headers(site: str) -> None:
    for path in ("/", "/static/style.css", "/nope"):
        response = request(site, path)
        response.read()
        assert response.getheader("X-Content-Type-Options") == "nosniff"
        csp = response.getheader("Content-Security-Policy") or ""
        assert "default-src 'none'" in csp and "script-src" not in csp


def test_static_assets_and_head(site: str) -> None:
    css = request(site, "/static/style.css")
    css_body = css.read()
    assert (css.status, css.getheader("Content-Type")) == (200, "text/css; charset=utf-8")
    assert b".banner" in css_body
    svg = request(site, "/static/logo.svg")
    assert (svg.status, svg.getheader("Content-Type")) == (200, "image/svg+xml")
    assert svg.read().startswith(b"<svg")

    status, headers, body = raw_request(site, "/static/style.css", "HEAD")
    assert (status, body) == (200, b"")
    assert headers["content-length"] == str(len(css_body))
    status, headers, body = raw_request(site, "/", "HEAD")
    assert (status, body) == (200, b"")
    assert int(headers["content-length"]) > 1000


@pytest.mark.parametrize(
    "target",
    [
        "/nothing-here",
        "/static/",
        "/static/missing.css",
        "/static/../__init__.py",
        "/static/../../../../../../etc/passwd",
        "/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/static/..%2f..%2f..%2fetc%2fpasswd",
        "/static/%2e%2e%2f__init__.py",
        "/static/%252e%252e/%252e%252e/etc/passwd",
        "/static/..%5c__init__.py",
        "/static//style.css",
        "/%2fstatic/style.css",
        "/static/./style.css",
    ],
)
def test_unknown_paths_and_traversal_get_404(site: str, target: str) -> None:
    status, headers, body = raw_request(site, target)
    assert status == 404, (target, body[:200])
    assert b"root:" not in body and b"import" not in body
    assert headers["x-content-type-options"] == "nosniff"


def test_other_methods_get_405(site: str) -> None:
    status, headers, _ = raw_request(site, "/", "DELETE")
    assert status == 405
    assert headers["allow"] == "GET, HEAD"


def test_quiet_hides_the_reasons(launch: Start, tmp_path: Path) -> None:
    write(tmp_path, {"app.py": "def helper():\n    pass\n"})
    launcher = launch(tmp_path, env={"APPSVC_DEFAULTSITE_QUIET": "1"})
    body = request(launcher.url, "/").read().decode()
    assert "How to serve your app" in body
    assert "helper" not in body and 'id="reasons"' not in body
    assert "APPSVC_DEFAULTSITE_QUIET" in body


def test_served_by_a_wsgi_worker_whatever_the_apps_config_file_says(
    launch: Start, tmp_path: Path
) -> None:
    """Azure's openai-chat-app-quickstart: gunicorn.conf.py sets uvicorn's worker for the app;
    with no app found, the default site answered every request with a 500."""
    write(tmp_path, {"gunicorn.conf.py": 'worker_class = "uvicorn.workers.UvicornWorker"\n'})
    launcher = launch(tmp_path)
    response = request(launcher.url, "/")
    assert (response.status, b"How to serve your app" in response.read()) == (200, True)
    assert "the default site, a WSGI app, is served by gunicorn's sync worker" in launcher.log()
