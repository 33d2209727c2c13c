"""The README as a package index shows it: with pyproject.toml's substitutions applied (its
relative links made absolute, by hatch-fancy-pypi-readme at build time), rendered by
readme_renderer, as PyPI does.  (tests/unit/test_docs.py checks the links in a checkout.)"""

from __future__ import annotations

import re
from pathlib import Path

from readme_renderer.markdown import render

from tests.unit.test_project_metadata import pyproject

README = Path(__file__).resolve().parents[2] / "README.md"


def as_published() -> str:
    """The README's text as the package's metadata carries it."""
    text = README.read_text(encoding="utf-8")
    hook = pyproject()["tool"]["hatch"]["metadata"]["hooks"]["fancy-pypi-readme"]
    assert [fragment["path"] for fragment in hook["fragments"]] == ["README.md"]
    for substitution in hook["substitutions"]:
        text = re.sub(substitution["pattern"], substitution["replacement"], text)
    return text


def rendered() -> str:
    html = render(as_published(), variant="GFM")
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
