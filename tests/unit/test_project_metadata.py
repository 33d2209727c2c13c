"""pyproject.toml as the package index and a contributor's tools read it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

ROOT = Path(__file__).resolve().parents[2]


def pyproject() -> dict[str, Any]:
    loaded: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return loaded


def test_project_urls_name_the_source_its_issues_and_the_changelog() -> None:
    urls = pyproject()["project"]["urls"]
    assert set(urls) == {"Source", "Issues", "Changelog"}
    assert urls["Issues"] == urls["Source"] + "/issues"
    assert urls["Changelog"].startswith(urls["Source"] + "/")
    assert urls["Changelog"].endswith("/CHANGELOG.md")
    # The index's own page is no documentation of the project.
    assert not any("pypi.org" in url for url in urls.values())


def test_development_dependencies_are_dependency_groups_not_extras() -> None:
    """PEP 735: what only contributors need is not published as an extra of the package."""
    project = pyproject()
    extras = project["project"].get("optional-dependencies", {})
    assert set(extras) == {"zstd"}  # a user's choice: .tar.zst build output before 3.14
    groups = project["dependency-groups"]
    assert {"test", "lint", "typecheck"} <= set(groups)
    assert any(req.startswith("pytest") for req in groups["test"])
    assert any(req.startswith("ruff") for req in groups["lint"])


def test_nox_installs_the_groups() -> None:
    noxfile = (ROOT / "noxfile.py").read_text()
    assert "nox.project.dependency_groups" in noxfile
    assert ".[test" not in noxfile
