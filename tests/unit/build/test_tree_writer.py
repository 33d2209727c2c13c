"""The threaded writer behind tar extraction: the same tree as GNU tar writes, failures
that end the extraction with nothing left, and what a threaded writer could get wrong."""

from __future__ import annotations

import errno
import io
import os
import subprocess
import tarfile
from pathlib import Path

import pytest

from appservice_gunicorn.build import tree_writer
from appservice_gunicorn.build.archives import extract
from appservice_gunicorn.build.extractions import ArchiveError
from tests.helpers import tree_digest
from tests.unit.build.test_archives import real_venv


def test_a_real_venv_extracts_to_the_tree_gnu_tar_writes(tmp_path: Path) -> None:
    venv = real_venv(tmp_path / "src")
    (venv / "lib" / "hard.py").write_text("x = 1\n")
    os.link(venv / "lib" / "hard.py", venv / "lib" / "hard2.py")
    (venv / "empty").mkdir()
    archive = tmp_path / "antenv.tar.gz"
    subprocess.run(["tar", "-czf", str(archive), "-C", str(venv), "."], check=True)
    by_tar = tmp_path / "by-tar"
    by_tar.mkdir()
    subprocess.run(["tar", "-xzf", str(archive), "-C", str(by_tar)], check=True)
    ours = tmp_path / "cache" / "antenv-x"
    extract(archive, ours)
    assert tree_digest(ours) == tree_digest(by_tar)
    assert os.stat(ours / "lib" / "hard.py").st_ino == os.stat(ours / "lib" / "hard2.py").st_ino


def _tar(path: Path, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_a_write_that_fails_ends_the_extraction_with_nothing_left(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk, met by a writer thread: one line naming it, no partial folder."""
    archive = _tar(tmp_path / "antenv.tar.gz", {f"m{n}.py": b"x" * 100 for n in range(50)})
    real_write = os.write
    written: list[int] = []

    def write(fd: int, data: bytes | memoryview) -> int:
        written.append(1)
        if len(written) > 10:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", write)
    target = tmp_path / "cache" / "antenv-x"
    with pytest.raises(ArchiveError, match="the disk is full"):
        extract(archive, target)
    assert list(target.parent.iterdir()) == []


def test_a_name_the_archive_holds_twice_is_its_last_version(tmp_path: Path) -> None:
    archive = tmp_path / "antenv.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for data in (b"first", b"second"):
            info = tarfile.TarInfo("same.txt")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    target = tmp_path / "cache" / "antenv-x"
    extract(archive, target)
    assert (target / "same.txt").read_bytes() == b"second"


def test_a_large_file_is_written_whole_with_little_read_ahead(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bigger than what may be read ahead of the writers: written, not a deadlock."""
    monkeypatch.setattr(tree_writer, "UNITS", 4)
    data = os.urandom(1024 * 1024)
    archive = _tar(tmp_path / "antenv.tar.gz", {"big.bin": data, "small.txt": b"s"})
    target = tmp_path / "cache" / "antenv-x"
    extract(archive, target)
    assert (target / "big.bin").read_bytes() == data


def test_files_are_never_written_through_a_symlink_at_their_name(tmp_path: Path) -> None:
    """O_EXCL | O_NOFOLLOW: a name that exists (a symlink the archive made) is refused,
    even past the member checks."""
    root = tmp_path / "root"
    root.mkdir()
    (root / "link").symlink_to(tmp_path / "outside")
    writer = tree_writer.TreeWriter(root, threads=1)
    writer.file("link", b"evil", 0o644, 0)
    with pytest.raises(FileExistsError):
        writer.finish()
    assert not (tmp_path / "outside").exists()


def test_past_the_cap_of_open_folders_files_are_created_by_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Folders are opened once to create their files; a process allowed few descriptors
    keeps a few, and creates the rest by path: the same tree."""
    files = {f"d{n}/f.txt": f"{n}".encode() for n in range(20)}
    archive = _tar(tmp_path / "antenv.tar.gz", files)
    real_init = tree_writer.TreeWriter.__init__

    def capped(self: tree_writer.TreeWriter, root: Path, threads: int | None = None) -> None:
        real_init(self, root, threads)
        self._max_fds = 3

    monkeypatch.setattr(tree_writer.TreeWriter, "__init__", capped)
    target = tmp_path / "cache" / "antenv-x"
    before = len(os.listdir("/proc/self/fd"))
    extract(archive, target)
    assert {str(p.relative_to(target)): p.read_bytes() for p in target.rglob("*.txt")} == files
    assert len(os.listdir("/proc/self/fd")) == before  # every folder descriptor closed


def test_a_member_larger_than_the_read_ahead_is_written_in_pieces(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """From a review: a 400 MiB member was read whole into the master's memory."""
    monkeypatch.setattr(tree_writer, "LARGE", 1000)
    monkeypatch.setattr(tree_writer, "PIECE", 300)
    data = os.urandom(5000)
    archive = _tar(tmp_path / "antenv.tar.gz", {"big.bin": data, "big.bin.2": b"small"})
    target = tmp_path / "cache" / "antenv-x"
    extract(archive, target)
    assert (target / "big.bin").read_bytes() == data
    assert (target / "big.bin.2").read_bytes() == b"small"


def test_a_file_after_a_link_of_its_name_replaces_the_link(tmp_path: Path) -> None:
    """As GNU tar: the last entry of a name wins, whatever the earlier one was."""
    archive = tmp_path / "antenv.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name, data in (("a", b"first"),):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("b")
        link.type, link.linkname = tarfile.LNKTYPE, "a"
        tar.addfile(link)
        info = tarfile.TarInfo("b")
        info.size = 6
        tar.addfile(info, io.BytesIO(b"second"))
    target = tmp_path / "cache" / "antenv-x"
    extract(archive, target)
    assert (target / "a").read_bytes() == b"first"  # the hard link's other name untouched
    assert (target / "b").read_bytes() == b"second"


def test_folders_the_archive_does_not_list_get_the_usual_mode(tmp_path: Path) -> None:
    archive = _tar(tmp_path / "antenv.tar.gz", {"lib/pkg/m.py": b"x = 1\n"})
    target = tmp_path / "cache" / "antenv-x"
    umask = os.umask(0o022)
    try:
        extract(archive, target)
    finally:
        os.umask(umask)
    assert (target / "lib" / "pkg").stat().st_mode & 0o777 == 0o755
