"""archives.py: the guard against members written outside the target, atomic and cached
extraction, and one-line errors for broken archives. Real tar, zip and zstd archives."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import pytest
import zstandard

from appservice_gunicorn.build import extractions, zstd
from appservice_gunicorn.build.archives import extract
from appservice_gunicorn.build.extractions import ArchiveError, target_for
from appservice_gunicorn.files import writable


def tar_with(path: Path, members: list[tarfile.TarInfo], data: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for member in members:
            content = data.get(member.name)
            if content is not None:
                member.size = len(content)
                tar.addfile(member, io.BytesIO(content))
            else:
                tar.addfile(member)
    return path


def file_member(name: str) -> tarfile.TarInfo:
    return tarfile.TarInfo(name)


def link_member(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tarfile.TarInfo:
    member = tarfile.TarInfo(name)
    member.type = kind
    member.linkname = target
    return member


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One real virtualenv for the module's tests (made once: it takes a second)."""
    return real_venv(tmp_path_factory.mktemp("build"))


def real_venv(folder: Path) -> Path:
    """A real virtualenv (``bin/python`` is a symlink to this absolute Python)."""
    venv = folder / "antenv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", "--copies", str(venv)], check=True
    )
    (venv / "bin" / "python").unlink()
    (venv / "bin" / "python").symlink_to(os.path.realpath(sys.executable))
    site = next(venv.glob("lib/python*/site-packages"))
    (site / "only_in_venv.py").write_text("VALUE = 42\n")
    return venv


@pytest.fixture
def cache(tmp_path: Path) -> dict[str, str]:
    return {extractions.CACHE_VARIABLE: str(tmp_path / "cache")}


def extract_to(archive: Path, env: dict[str, str]) -> Path:
    target = target_for(archive, env)
    extract(archive, target)
    return target


# --- the guard --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("members", "problem"),
    [
        ([file_member("../evil")], "'..'"),
        ([file_member("ok/../../evil")], "'..'"),
        ([file_member("/etc/evil")], "absolute name"),
        (
            [link_member("out", "/tmp"), file_member("out/evil")],
            "through the symlink 'out'",
        ),
        (
            [link_member("a", "."), link_member("a/b", "/tmp"), file_member("a/b/evil")],
            "through the symlink 'a'",
        ),
        ([link_member("out", "/etc/passwd"), file_member("out")], "through the symlink 'out'"),
        ([link_member("passwd", "/etc/passwd", tarfile.LNKTYPE)], "hard link"),
        ([link_member("passwd", "../../etc/passwd", tarfile.LNKTYPE)], "hard link"),
        ([link_member("dev", "", tarfile.CHRTYPE)], "device"),
    ],
)
def test_members_that_leave_the_target_are_refused(
    tmp_path: Path, cache: dict[str, str], members: list[tarfile.TarInfo], problem: str
) -> None:
    archive = tar_with(tmp_path / "antenv.tar.gz", members, {"../evil": b"x"})
    target = target_for(archive, cache)
    with pytest.raises(ArchiveError) as caught:
        extract(archive, target)
    message = str(caught.value)
    assert problem in message and str(archive) in message and "\n" not in message
    # Nothing is left: no target, no half-extracted folder beside it, nothing outside.
    assert not target.exists()
    assert list(target.parent.iterdir()) == []
    assert not (tmp_path / "evil").exists()


def test_a_real_venv_with_an_absolute_python_symlink_extracts(
    tmp_path: Path, cache: dict[str, str], venv: Path
) -> None:
    archive = tmp_path / "antenv.tar.gz"
    subprocess.run(["tar", "-czf", str(archive), "-C", str(venv), "."], check=True)
    target = extract_to(archive, cache)
    python = target / "bin" / "python"
    assert python.is_symlink() and os.readlink(python) == os.path.realpath(sys.executable)
    assert next(target.glob("lib/python*/site-packages/only_in_venv.py")).read_text()
    assert (target / "pyvenv.cfg").is_file()


def test_hard_link_inside_the_archive_extracts(tmp_path: Path, cache: dict[str, str]) -> None:
    archive = tar_with(
        tmp_path / "a.tar.gz",
        [file_member("bin/tool"), link_member("bin/tool2", "bin/tool", tarfile.LNKTYPE)],
        {"bin/tool": b"#!/bin/sh\n"},
    )
    target = extract_to(archive, cache)
    assert (target / "bin" / "tool2").read_bytes() == b"#!/bin/sh\n"


def test_zip_with_symlinks_keeps_them_and_refuses_escapes(
    tmp_path: Path, cache: dict[str, str], venv: Path
) -> None:
    archive = tmp_path / "antenv.zip"
    subprocess.run(["zip", "-qr", "--symlinks", str(archive), "."], cwd=venv, check=True)
    target = extract_to(archive, cache)
    assert os.readlink(target / "bin" / "python") == os.path.realpath(sys.executable)
    assert os.access(target / "bin" / "activate", os.R_OK)

    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zip_file:
        link = zipfile.ZipInfo("out")
        link.external_attr = 0o120777 << 16
        zip_file.writestr(link, "/tmp")
        zip_file.writestr("out/evil", "x")
    with pytest.raises(ArchiveError, match="through the symlink 'out'"):
        extract_to(evil, cache)
    with zipfile.ZipFile(tmp_path / "dots.zip", "w") as zip_file:
        zip_file.writestr("../evil", "x")
    with pytest.raises(ArchiveError, match=r"'\.\.'"):
        extract_to(tmp_path / "dots.zip", cache)


def test_tar_zst_extracts(tmp_path: Path, cache: dict[str, str], venv: Path) -> None:
    plain = io.BytesIO()
    with tarfile.open(fileobj=plain, mode="w") as tar:
        tar.add(venv, arcname=".")
    archive = tmp_path / "antenv.tar.zst"
    archive.write_bytes(zstandard.ZstdCompressor().compress(plain.getvalue()))
    assert zstd.support() is not None
    target = extract_to(archive, cache)
    assert next(target.glob("lib/python*/site-packages/only_in_venv.py")).is_file()


def test_tar_zst_through_the_zstd_program(
    tmp_path: Path, cache: dict[str, str], monkeypatch: pytest.MonkeyPatch, venv: Path
) -> None:
    assert shutil.which("zstd"), "the zstd program is part of the test machine's set-up"
    archive = tmp_path / "antenv.tar.zst"
    subprocess.run(["tar", "--zstd", "-cf", str(archive), "-C", str(venv), "."], check=True)
    monkeypatch.setattr(zstd, "support", lambda: "zstd command")
    target = extract_to(archive, cache)
    assert (target / "pyvenv.cfg").is_file()
    broken = tmp_path / "broken.tar.zst"
    broken.write_bytes(archive.read_bytes()[:200])
    with pytest.raises(ArchiveError, match=r"broken\.tar\.zst: cannot be extracted \(zstd"):
        extract_to(broken, cache)


# --- broken archives: one line, nothing left ---------------------------------------------------


@pytest.mark.parametrize("name", ["antenv.tar.gz", "antenv.zip", "antenv.tar.zst"])
@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_broken_archives_give_one_line(
    tmp_path: Path, cache: dict[str, str], name: str, damage: str, venv: Path
) -> None:
    good = tmp_path / "good.tar"
    subprocess.run(["tar", "-cf", str(good), "-C", str(venv), "."], check=True)
    data = good.read_bytes()
    if name.endswith(".gz"):
        data = subprocess.run(["gzip", "-c"], input=data, capture_output=True).stdout
    elif name.endswith(".zst"):
        data = zstandard.ZstdCompressor().compress(data)
    else:
        subprocess.run(["zip", "-qr", str(tmp_path / "z.zip"), "."], cwd=venv, check=True)
        data = (tmp_path / "z.zip").read_bytes()
    archive = tmp_path / name
    archive.write_bytes(
        {"truncated": data[: len(data) // 2], "garbage": b"\x00garbage" * 100, "empty": b""}[damage]
    )
    target = target_for(archive, cache)
    with pytest.raises(ArchiveError) as caught:
        extract(archive, target)
    message = str(caught.value)
    assert message.startswith(f"{archive}: cannot be extracted (") and "\n" not in message
    assert not target.exists() and list(target.parent.iterdir()) == []


def test_unsupported_type_is_named(tmp_path: Path, cache: dict[str, str]) -> None:
    archive = tmp_path / "antenv.rar"
    archive.write_bytes(b"Rar!")
    with pytest.raises(ArchiveError, match=r"antenv\.rar: unsupported archive type"):
        extract_to(archive, cache)


# --- once, and pruned --------------------------------------------------------------------------


def test_target_changes_with_the_archive_and_old_versions_are_pruned(
    tmp_path: Path, cache: dict[str, str]
) -> None:
    archive = tar_with(tmp_path / "antenv.tar.gz", [file_member("v")], {"v": b"1"})
    first = extract_to(archive, cache)
    assert target_for(archive, cache) == first  # same archive: the same, reused folder
    tar_with(archive, [file_member("v")], {"v": b"22"})
    os.utime(archive, ns=(1, 1))
    second = extract_to(archive, cache)
    assert second != first and (second / "v").read_bytes() == b"22"
    (tmp_path / "other").mkdir()
    other = tar_with(tmp_path / "other" / "antenv.tar.gz", [file_member("v")], {"v": b"3"})
    kept = extract_to(other, cache)
    extractions.prune(second)
    assert not first.exists() and second.exists() and kept.exists()


def test_an_extraction_another_launcher_serves_is_not_pruned(
    tmp_path: Path, cache: dict[str, str]
) -> None:
    """A cache shared by launchers (replicas with APPSVC_EXTRACT_DIR on a shared volume):
    a launcher starting with the new release removed the old one's, still served."""
    archive = tar_with(tmp_path / "antenv.tar.gz", [file_member("v")], {"v": b"1"})
    first = extract_to(archive, cache)
    # Another launcher uses the first release: it holds it as prepare() does.
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path; from appservice_gunicorn.build import "
            "extractions; extractions.hold(Path(sys.argv[1])); print('held', flush=True); "
            "sys.stdin.read()",
            str(first),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        tar_with(archive, [file_member("v")], {"v": b"22"})
        os.utime(archive, ns=(1, 1))
        second = extract_to(archive, cache)
        assert extractions.prune(second) == [] and first.exists()
    finally:
        holder.communicate("")  # it ends: nothing holds the first release any more
    assert extractions.prune(second) == [first] and not first.exists()


def test_a_cache_folder_that_is_a_symlink_is_refused(tmp_path: Path) -> None:
    """In a shared temp folder, another user could plant a symlink where the cache goes."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    root = tmp_path / "cache"
    root.symlink_to(elsewhere)
    archive = tar_with(tmp_path / "a.tar.gz", [file_member("v")], {"v": b"1"})
    with pytest.raises(ArchiveError, match="not a folder owned by uid"):
        extract_to(archive, {extractions.CACHE_VARIABLE: str(root)})
    assert list(elsewhere.iterdir()) == []


def test_a_folder_planted_at_the_target_is_never_used(tmp_path: Path) -> None:
    """The target's name is predictable: in a shared temp folder, another user could create
    it first (here a symlink to their folder; as root, also a folder they own)."""
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o1777)
    env = {extractions.CACHE_VARIABLE: str(shared / "cache")}
    archive = tar_with(tmp_path / "output.tar.gz", [file_member("app.py")], {"app.py": b"ok"})
    target = target_for(archive, env)
    target.parent.mkdir(mode=0o700)
    planted = tmp_path / "attacker"
    write_planted = planted / "app.py"
    planted.mkdir()
    write_planted.write_text("print('attacker code')\n")
    target.symlink_to(planted)
    assert not extractions.extracted(target)
    with pytest.raises(ArchiveError):
        extract(archive, target)
    assert write_planted.read_text() == "print('attacker code')\n"
    if os.getuid() == 0:
        target.unlink()
        target.mkdir()
        os.chown(target, 65534, 65534)
        assert not extractions.extracted(target)


def test_zip_members_python_cannot_extract_are_one_line(
    tmp_path: Path, cache: dict[str, str]
) -> None:
    archive = tmp_path / "antenv.zip"
    with zipfile.ZipFile(archive, "w") as zip_file:
        link = zipfile.ZipInfo("bin/python")
        link.external_attr = 0o120777 << 16
        zip_file.writestr(link, "/usr/bin/python3\x00evil")
    with pytest.raises(ArchiveError, match=r"antenv\.zip: cannot be extracted \("):
        extract_to(archive, cache)


def test_a_read_only_folder_in_the_archive_still_receives_its_files(
    tmp_path: Path, cache: dict[str, str]
) -> None:
    folder = tarfile.TarInfo("pkg")
    folder.type = tarfile.DIRTYPE
    folder.mode = 0o555
    archive = tar_with(tmp_path / "a.tar.gz", [folder, file_member("pkg/m.py")], {"pkg/m.py": b"x"})
    target = extract_to(archive, cache)
    assert (target / "pkg" / "m.py").read_bytes() == b"x"
    # Writable by its owner whoever extracts it (root ignores the mode, other users do not).
    assert (target / "pkg").stat().st_mode & 0o700 == 0o700


@pytest.mark.parametrize("stdlib_filter", [True, False], ids=["tar-filter", "no-tar-filter"])
def test_modes_and_owners_are_the_launchers_on_every_python(
    tmp_path: Path,
    cache: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    stdlib_filter: bool,
) -> None:
    """Without tarfile's filters (Python 3.10 and Debian's 3.11.2), a setuid member kept
    its bit and a uid 4321 0666 .pth file its owner and its world write."""
    if not stdlib_filter:
        monkeypatch.delattr(tarfile, "tar_filter", raising=False)
    tool, pth, folder = file_member("bin/tool"), file_member("site/x.pth"), file_member("pkg")
    tool.mode = 0o4755
    pth.mode, pth.uid, pth.gid, pth.uname = 0o666, 4321, 4321, "someone"
    folder.type, folder.mode = tarfile.DIRTYPE, 0o2775
    archive = tar_with(
        tmp_path / "a.tar.gz", [tool, pth, folder], {"bin/tool": b"#!/bin/sh\n", "site/x.pth": b""}
    )
    target = extract_to(archive, cache)
    modes = {
        name: (target / name).stat().st_mode & 0o7777 for name in ("bin/tool", "site/x.pth", "pkg")
    }
    assert modes == {"bin/tool": 0o755, "site/x.pth": 0o644, "pkg": 0o755}
    assert {(target / name).stat().st_uid for name in modes} == {os.getuid()}


def test_what_killed_extractions_left_is_pruned_but_not_a_running_ones(
    tmp_path: Path, cache: dict[str, str]
) -> None:
    """The partial folders start with a dot, which the prune did not match: each SIGKILL
    mid-extraction left one for good (in /dev/shm on a read-only root: memory)."""
    archive = tar_with(tmp_path / "antenv.tar.gz", [file_member("v")], {"v": b"1"})
    target = extract_to(archive, cache)
    dead = subprocess.Popen(["true"])  # its pid is no process's any more
    dead.wait()
    ours = writable.launcher_id(os.getpid()).partition("-")[2]
    old = time.time() - 2 * extractions.OTHER_NAMESPACE_SECONDS
    leftovers = [
        target.parent / f".{target.name}.{dead.pid}-{ours}.abcd1234",  # killed mid-way
        target.parent / f".{target.name}.{os.getpid()}-{ours}.ef567890",  # this process
        target.parent / f".{target.name}.x1y2z3",  # named before the pid was in the name
        target.parent / f".{target.name}.1-999.old00000",  # another container's, long ago
    ]
    running = [
        target.parent / f".{target.name}.{os.getppid()}-{ours}.live0000",  # a live process
        # Another container's (both are PID 1): its liveness cannot be seen from here.
        target.parent / f".{target.name}.1-999.recent00",
    ]
    for folder in [*leftovers, *running]:
        (folder / "lib").mkdir(parents=True)
    os.utime(leftovers[-1], (old, old))
    extractions.prune(target)
    assert [folder.exists() for folder in leftovers] == [False] * 4
    assert all(folder.exists() for folder in running) and target.exists()


def test_a_full_disk_says_the_disk_is_full(tmp_path: Path) -> None:
    """'deploy it again' was the advice for any OSError: wrong when the disk is full."""
    problem = shutil.which("unshare") is None and "unshare is not installed"
    assert not problem, problem
    archive = tar_with(
        tmp_path / "antenv.tar.gz", [file_member("big")], {"big": os.urandom(256 * 1024)}
    )
    small = tmp_path / "small"
    small.mkdir()
    code = (
        "from pathlib import Path; import sys\n"
        "from appservice_gunicorn.build import archives\n"
        "try:\n"
        f"    archives.extract(Path({str(archive)!r}), Path({str(small)!r}) / 'c' / 'antenv-1')\n"
        "except archives.ArchiveError as exc:\n"
        "    print(exc)\n"
    )
    mount = f'mount -t tmpfs -o size=64k tmpfs {small} && exec {sys.executable} -c "$0"'
    result = subprocess.run(
        ["unshare", "--mount", "sh", "-c", mount, code], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert f"cannot be extracted to {small}/c: the disk is full" in result.stdout
    assert "APPSVC_EXTRACT_DIR" in result.stdout and "deploy it again" not in result.stdout


@pytest.mark.parametrize("kind", ["tar.gz", "zip"])
def test_an_extraction_a_stop_signal_interrupts_leaves_nothing(
    tmp_path: Path, cache: dict[str, str], kind: str
) -> None:
    names = [f"pkg/m{n}.py" for n in range(20)]
    if kind == "zip":
        archive = tmp_path / "antenv.zip"
        with zipfile.ZipFile(archive, "w") as zip_file:
            for name in names:
                zip_file.writestr(name, b"x = 1\n")
    else:
        archive = tar_with(
            tmp_path / "antenv.tar.gz", [file_member(n) for n in names], dict.fromkeys(names, b"x")
        )
    target = target_for(archive, cache)
    asked: list[int] = []

    def interrupted() -> bool:
        asked.append(1)
        return len(asked) > 5  # the signal comes after five members

    with pytest.raises(ArchiveError, match="a stop signal came during its extraction"):
        extract(archive, target, interrupted)
    assert len(asked) == 6
    assert list(target.parent.iterdir()) == []  # neither the target nor a partial folder


def test_prune_keeps_an_extraction_this_process_still_imports_from(
    tmp_path: Path, cache: dict[str, str]
) -> None:
    archive = tar_with(tmp_path / "antenv.tar.gz", [file_member("v")], {"v": b"1"})
    first = extract_to(archive, cache)
    tar_with(archive, [file_member("v")], {"v": b"22"})
    os.utime(archive, ns=(1, 1))
    second = extract_to(archive, cache)
    assert extractions.prune(second, [first / "v"]) == []
    assert first.exists()
    assert extractions.prune(second, [second / "v"]) == [first]
    assert not first.exists() and second.exists()


def test_a_cache_folder_the_launcher_cannot_write_to_is_one_line(tmp_path: Path) -> None:
    """The partial folder's creation raised a raw PermissionError at start."""
    archive = tar_with(tmp_path / "output.tar.gz", [file_member("app.py")], {"app.py": b""})
    with pytest.raises(ArchiveError) as caught:
        extract(archive, Path("/proc/output-1"))  # a folder nothing can be made in
    assert str(caught.value).startswith(f"{archive}: cannot be extracted to /proc (")
    assert str(caught.value).endswith("set APPSVC_EXTRACT_DIR to a writable folder")


def test_a_relative_cache_folder_is_refused(tmp_path: Path) -> None:
    """gunicorn's --chdir resolved it again from the extraction, and the start failed."""
    archive = tar_with(tmp_path / "output.tar.gz", [file_member("app.py")], {"app.py": b""})
    with pytest.raises(ArchiveError, match="APPSVC_EXTRACT_DIR=cache is not an absolute path"):
        target_for(archive, {extractions.CACHE_VARIABLE: "cache"})


@pytest.mark.parametrize("mtime", [10**20, -(10**20)])
def test_a_member_time_out_of_range_is_one_line(
    tmp_path: Path, cache: dict[str, str], mtime: int
) -> None:
    """A raw OverflowError, which on a SIGHUP stopped the running server."""
    member = file_member("app.py")
    member.mtime = mtime
    archive = tmp_path / "output.tar.gz"
    with tarfile.open(archive, "w:gz", format=tarfile.PAX_FORMAT) as tar:
        member.size = 1
        tar.addfile(member, io.BytesIO(b"x"))
    with pytest.raises(ArchiveError, match="cannot be extracted"):
        extract_to(archive, cache)


def test_zip_members_keep_their_times(tmp_path: Path, cache: dict[str, str]) -> None:
    """Every file had the extraction's time: a virtualenv's .pyc files were then stale
    for their sources, and each first start compiled the packages again."""
    archive = tmp_path / "antenv.zip"
    with zipfile.ZipFile(archive, "w") as zip_file:
        zip_file.writestr(zipfile.ZipInfo("pkg/mod.py", (2020, 1, 2, 3, 4, 6)), b"x = 1\n")
    target = extract_to(archive, cache)
    expected = time.mktime((2020, 1, 2, 3, 4, 6, 0, 0, -1))
    assert (target / "pkg" / "mod.py").stat().st_mtime == expected
