"""The README as a package index shows it: rendered by readme_renderer, as PyPI does."""

from __future__ import annotations

import re
from pathlib import Path

from readme_renderer.markdown import render

README = Path(__file__).resolve().parents[2] / "README.md"


def rendered() -> str:
    html = render(README.read_text(encoding="utf-8"), variant="GFM")
    assert html is not None, "readme_renderer could not render README.md"
    return html


def test_every_in_page_link_has_its_target() -> None:
    html = rendered()
    targets = set(re.findall(r'\bid="([^"]+)"', html))
    for fragment in re.findall(r'href="#([^"]*)"', html):
        assert fragment in targets, f"#{fragment} leads nowhere on the rendered page"


def test_no_link_is_relative_to_the_index_page() -> None:
    # A relative link (examples/Dockerfile) would point into the index's own site.
    for href in re.findall(r'href="([^"]+)"', rendered()):
        assert href.startswith(("https://", "http://", "#", "mailto:")), href


def test_nothing_the_renderer_strips_is_relied_on() -> None:
    # <a name="..."> anchors lose their name on PyPI: headings carry the ids instead.
    assert "<a name=" not in README.read_text(encoding="utf-8")
