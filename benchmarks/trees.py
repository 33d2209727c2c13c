"""Big app folders for the detection benchmark: a Flask app beside a virtualenv and a
``node_modules`` of generated files (empty files: listing cost depends on entries only).

Trees are kept in ``benchmarks/.work/trees`` (gitignored) and reused while complete.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from .apps import FLASK_APP

FILES_PER_DIR = 10
DIRS_PER_PACKAGE = 5
MARKER = ".bench-complete"


@dataclass(frozen=True)
class Tree:
    folder: Path
    venv_files: int
    node_files: int

    @property
    def label(self) -> str:
        return f"{self.venv_files:,} + {self.node_files:,}"


def _package(root: Path, name: str, files: int, suffix: str) -> int:
    """A package folder of ``files`` empty files in ``DIRS_PER_PACKAGE`` sub-folders."""
    made = 0
    for d in range(DIRS_PER_PACKAGE):
        folder = root / name / f"part{d}"
        folder.mkdir(parents=True, exist_ok=True)
        for f in range(FILES_PER_DIR):
            if made == files:
                return made
            os.close(os.open(folder / f"mod{f}{suffix}", os.O_CREAT | os.O_WRONLY, 0o644))
            made += 1
    return made


def _fill(root: Path, files: int, suffix: str) -> None:
    per_package = FILES_PER_DIR * DIRS_PER_PACKAGE
    index = 0
    while files > 0:
        files -= _package(root, f"pkg{index:05d}", min(files, per_package), suffix)
        index += 1


def make_tree(work: Path, venv_files: int, node_files: int) -> Tree:
    folder = work / "trees" / f"venv{venv_files}-node{node_files}"
    tree = Tree(folder, venv_files, node_files)
    if (folder / MARKER).is_file():
        return tree
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    (folder / "app.py").write_text(FLASK_APP)
    (folder / "requirements.txt").write_text("flask\n")
    for sub in ("templates", "static/css", "static/js", "tests"):
        (folder / sub).mkdir(parents=True)
        (folder / sub / "placeholder.txt").write_text("\n")
    # As App Service's build makes it: antenv with a pyvenv.cfg and one site-packages.
    venv = folder / "antenv"
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    (venv / "bin").mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text(f"home = /usr/bin\nversion = {version}.0\n")
    _fill(venv / "lib" / f"python{version}" / "site-packages", venv_files, ".py")
    _fill(folder / "node_modules", node_files, ".js")
    (folder / MARKER).write_text(f"{venv_files} {node_files}\n")
    return tree
