"""The default site in a real browser: headless Chromium renders the page from a running
launcher; the rendered DOM must hold the title and the reasons, the screenshot must show
the styled page (the stylesheet is served by the site under its CSP)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import struct
import subprocess
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest

from appservice_gunicorn import detect
from appservice_gunicorn.testing import serve
from tests.helpers import write

CHROMIUM = shutil.which("chromium")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        CHROMIUM is None, reason="chromium is not installed ('nox -s browser' installs it)"
    ),
]

TITLE = "Your container is running, but no app was found"
WIDTH, HEIGHT = 1280, 1400
CHROMIUM_TIMEOUT = 120.0


def chromium(url: str, tmp_path: Path, *args: str) -> str:
    """Run headless Chromium once on ``url``; return its stdout (the DOM with --dump-dom)."""
    assert CHROMIUM is not None
    profile = Path(os.path.realpath(tmp_path)) / f"profile-{len(list(tmp_path.iterdir()))}"
    profile.mkdir()
    argv = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        *args,
        url,
    ]
    process = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "HOME": str(profile)},
        start_new_session=True,
    )
    try:
        out, err = process.communicate(timeout=CHROMIUM_TIMEOUT)
    finally:
        # Chromium's helper processes share its session; none may outlive the test.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)
    assert process.returncode == 0, err.decode(errors="replace")
    return out.decode()


class PageParser(HTMLParser):
    """The title and the reasons list (``#reasons > li``) of the rendered DOM."""

    def __init__(self) -> None:
        super().__init__()
        self.title = ""
        self.reasons: list[str] = []
        self.stylesheets: list[str] = []
        self._in_title = False
        self._in_reasons = False
        self._li_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "title":
            self._in_title = True
        elif tag == "ol" and attributes.get("id") == "reasons":
            self._in_reasons = True
        elif tag == "li" and self._in_reasons:
            self.reasons.append("")
        elif tag == "link" and attributes.get("rel") == "stylesheet":
            self.stylesheets.append(attributes.get("href") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag == "ol":
            self._in_reasons = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        elif self._in_reasons and self.reasons:
            self.reasons[-1] += data


def png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """Decode an 8-bit RGB/RGBA PNG: (width, height, rows of pixel bytes)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, b""
    width = height = channels = 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and color in (2, 6), f"unexpected PNG format {depth}/{color}"
            channels = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += body
    raw = zlib.decompress(idat)
    stride = width * channels
    rows: list[bytes] = []
    previous = bytearray(stride)
    for y in range(height):
        line = raw[y * (stride + 1) : (y + 1) * (stride + 1)]
        filter_type, row = line[0], bytearray(line[1:])
        for x in range(stride):
            left = row[x - channels] if x >= channels else 0
            up = previous[x]
            corner = previous[x - channels] if x >= channels else 0
            if filter_type == 1:
                row[x] = (row[x] + left) & 0xFF
            elif filter_type == 2:
                row[x] = (row[x] + up) & 0xFF
            elif filter_type == 3:
                row[x] = (row[x] + (left + up) // 2) & 0xFF
            elif filter_type == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                predictor = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                row[x] = (row[x] + predictor) & 0xFF
        rows.append(bytes(row))
        previous = row
    return width, height, rows


def pixel(rows: list[bytes], x: int, y: int, channels: int) -> tuple[int, int, int]:
    r, g, b = rows[y][x * channels : x * channels + 3]
    return r, g, b


@pytest.fixture
def app_without_app_object(tmp_path: Path) -> Path:
    folder = tmp_path / "site"
    folder.mkdir()
    return write(folder, {"app.py": "settings = {'debug': True}\n"})


def test_default_site_renders_title_reasons_and_styles(
    app_without_app_object: Path, tmp_path: Path
) -> None:
    with serve(app_without_app_object) as server:
        url = server.url
        dom = chromium(url + "/", tmp_path, "--dump-dom")
        shot = tmp_path / "default-site.png"
        chromium(url + "/", tmp_path, f"--screenshot={shot}", f"--window-size={WIDTH},{HEIGHT}")

    page = PageParser()
    page.feed(dom)
    assert page.title == TITLE
    # The page lists every rule the chain tried, in order: the names come from detect(),
    # so a rule added to the chain cannot leave this test behind again.
    tried = [rule.name for rule in detect(app_without_app_object).rules]
    assert tried[-1] == "default-site"
    assert [reason.split("not matched")[0] for reason in page.reasons] == tried[:-1]
    assert tried[:-1] == ["startup", "procfile", "config-file", "flask-app", "django", "app-file"]
    assert "app.py: no Flask/FastAPI object found" in page.reasons[tried.index("app-file")]
    assert str(app_without_app_object) not in dom
    assert page.stylesheets == ["/static/style.css"]

    width, height, rows = png_pixels(shot.read_bytes())
    assert (width, height) == (WIDTH, HEIGHT)
    channels = len(rows[0]) // width
    # The banner is the stylesheet's blue gradient, the page below it the light background:
    # the stylesheet was served, with a Content-Type that nosniff and the CSP accept.
    red, green, blue = pixel(rows, 20, 20, channels)
    assert blue > 150 and red < 60, (red, green, blue)
    background = pixel(rows, 5, HEIGHT - 5, channels)
    assert min(background) > 200, background
    colours = {
        rows[y][x : x + 3]
        for y in range(0, height, 7)
        for x in range(0, width * channels, channels * 5)
    }
    assert len(colours) > 50, "the screenshot is nearly blank"
    keep = os.environ.get("APPSVC_SCREENSHOT_DIR")
    if keep:
        shutil.copy(shot, Path(keep) / shot.name)
