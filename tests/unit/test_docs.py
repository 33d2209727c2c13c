"""The documentation against the code: every relative link resolves (file and heading),
and every environment variable the launcher reads is documented."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "appservice_gunicorn"
CONFIGURATION = ROOT / "docs" / "configuration.md"
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# Keys of a WSGI request's environ (the default site is a WSGI app), not variables.
WSGI_KEYS = frozenset({"PATH_INFO", "REQUEST_METHOD", "QUERY_STRING", "HTTP_HOST"})
# Set by the launcher for itself (across a master's exec, for a retiring generation): the
# configuration page lists them apart, as internal.
INTERNAL = frozenset({"APPSVC_REPLACED", "APPSVC_RETIRE", "GUNICORN_FD", "GUNICORN_PID"})
VARIABLE = re.compile(r"[A-Z][A-Z0-9]*(_[A-Z0-9]+)+|PORT|HOST|HOME|TMPDIR|TEMP|TMP|PATH")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to '-'."""
    text = re.sub(r"[`*]|\[([^\]]*)\]\([^)]*\)", lambda m: m.group(1) or "", heading)
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.DOTALL)
    found: set[str] = set()
    for heading in re.findall(r"^#{1,6} +(.+?) *$", text, flags=re.MULTILINE):
        anchor, number = slug(heading), 1
        while anchor in found:  # GitHub numbers repeated headings: name, name-1, ...
            anchor, number = f"{slug(heading)}-{number}", number + 1
        found.add(anchor)
    return found


def relative_links(page: Path) -> Iterator[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.DOTALL)
    text = re.sub(r"`[^`\n]*`", "", text)
    for target in re.findall(r"\]\(([^)\s]+)(?: \"[^\"]*\")?\)", text):
        if not re.match(r"[a-z]+:", target):
            yield target


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page: Path) -> None:
    for target in relative_links(page):
        path, _, fragment = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        assert resolved.exists(), f"{page.name}: {target} leads to no file"
        if fragment and resolved.suffix == ".md":
            assert fragment in anchors(resolved), f"{page.name}: {target}: no such heading"


def test_the_docs_folder_has_a_page_per_topic_and_the_readme_links_each() -> None:
    readme = ROOT / "README.md"
    linked = {Path(t.partition("#")[0]).name for t in relative_links(readme)}
    pages = {page.name for page in PAGES[1:]}
    assert {"configuration.md", "detection.md", "startup-commands.md", "build-output.md"} <= pages
    assert {"production.md", "testing.md", "troubleshooting.md", "differences.md"} <= pages
    assert pages <= linked, f"not linked from the README: {sorted(pages - linked)}"
    assert len(readme.read_text().splitlines()) <= 300


def _env_like(node: ast.expr) -> bool:
    """``os.environ``, ``environ``, ``env``, ``config.env``, ``merged_env``..."""
    name = node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", "")
    return name == "environ" or name.endswith("env") or name == "env_orig"


def _strings(tree: ast.Module) -> dict[str, list[str]]:
    """Module-level names bound to a string, or to a tuple of strings."""
    bound: dict[str, list[str]] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
            items = value.elts if isinstance(value, ast.Tuple) else [value]
            words = [i.value for i in items if isinstance(i, ast.Constant)]
            if isinstance(target, ast.Name) and words and all(isinstance(w, str) for w in words):
                bound[target.id] = [str(w) for w in words]
    return bound


def _words(node: ast.expr, names: dict[str, list[str]]) -> list[str]:
    """The strings ``node`` stands for: a literal, a tuple of them, or a name in ``names``."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.Tuple):
        return [word for item in node.elts for word in _words(item, names)]
    if isinstance(node, ast.Name):
        return names.get(node.id, [])
    if isinstance(node, ast.Attribute):  # boot.REPLACED
        return names.get(node.attr, [])
    return []


def _keys(node: ast.AST) -> list[ast.expr]:
    """The expressions ``node`` uses as keys of an environment mapping."""
    if isinstance(node, ast.Subscript) and _env_like(node.value):
        return [node.slice]
    if isinstance(node, ast.Compare) and _env_like(node.comparators[0]):
        return [node.left]
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Attribute) and (func.attr == "getenv" or _env_like(func.value)):
            return node.args[:1]
        if any(_env_like(arg) for arg in node.args):  # flag(env, "APPSVC_STRICT")
            return [arg for arg in node.args if not _env_like(arg)]
    return []


def variables_read() -> dict[str, str]:
    """Every environment variable the package reads, with one place it does: a key of an
    environment mapping (``env.get("X")``, ``os.environ["X"]``, ``"X" in env``), or a name
    passed together with one (``flag(env, "X")``), as a literal, a module constant or a
    loop over names (``for name in TEMP_VARIABLES``)."""
    found: dict[str, str] = {}
    trees = {path: ast.parse(path.read_text()) for path in sorted(PACKAGE.rglob("*.py"))}
    # Module constants of the whole package: a name is often imported from another module.
    constants = {name: words for tree in trees.values() for name, words in _strings(tree).items()}
    for path, tree in trees.items():
        names = dict(constants)
        for node in ast.walk(tree):
            if isinstance(node, (ast.For, ast.comprehension)) and isinstance(node.target, ast.Name):
                names.setdefault(node.target.id, []).extend(_words(node.iter, names))
        for node in ast.walk(tree):
            for key in _keys(node):
                for word in _words(key, names):
                    if VARIABLE.fullmatch(word) and word not in WSGI_KEYS:
                        found.setdefault(
                            word, f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"
                        )
    return found


def test_the_scan_finds_the_variables_it_is_known_to_read() -> None:
    """The scan itself: reads through a helper (APPSVC_STRICT), a module constant (the
    pre-run command), one imported (the Procfile switch) or read as an attribute
    (APPSVC_REPLACED), loops over names (the temp folders, the ports) are all seen."""
    found = variables_read()
    expected = {"APPSVC_STRICT", "PRE_RUN_COMMAND", "TMPDIR", "WEB_CONCURRENCY", "WEBSITES_PORT"}
    expected |= {"APPSVC_IGNORE_PROCFILE", "APPSVC_REPLACED"}
    assert expected <= set(found)


def test_every_variable_the_code_reads_is_documented() -> None:
    text = CONFIGURATION.read_text()
    public, _, internal = text.partition("## Internal")
    assert internal, "docs/configuration.md has no '## Internal' section"
    missing = {
        name: where
        for name, where in variables_read().items()
        if f"`{name}`" not in (internal if name in INTERNAL else public)
    }
    assert not missing, f"undocumented in docs/configuration.md (name: where read): {missing}"


# The platform's files the differences were read in (docs/differences.md).
PLATFORM_SOURCES = (
    "Oryx `python/scriptgenerator.go`",
    "Oryx `python/frameworks.go`",
    "ImageBuilder `init_container.sh`",
)


def test_every_difference_from_app_service_names_the_platform_source_it_was_read_in() -> None:
    page = (ROOT / "docs" / "differences.md").read_text()
    table = page.split("## Different from App Service")[1].split("\n## ")[0]
    rows = [line for line in table.splitlines() if line.startswith("| ") and "---" not in line]
    header, *body = rows
    assert header.split("|")[1:-1] == [
        " Topic ",
        " App Service ",
        " appservice-gunicorn ",
        " Platform source ",
    ]
    assert len(body) >= 12
    for row in body:
        cells = row.split(" | ")
        assert len(cells) == 4, row
        assert any(source in cells[3] for source in PLATFORM_SOURCES), row
