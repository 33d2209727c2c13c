"""Decompressing ``.tar.zst`` archives: Python's own module (3.14+), else the ``zstandard``
package, else the ``zstd`` program."""

import importlib.util
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO


class Unsupported(Exception):
    """Nothing here decompresses zstd; the message says what would."""


def support() -> str | None:
    """What decompresses zstd here: Python's own module (3.14+), the ``zstandard``
    package, the ``zstd`` program; None when nothing does."""
    for module in ("compression.zstd", "zstandard"):
        try:
            if importlib.util.find_spec(module) is not None:
                return module
        except ImportError:
            continue
    return "zstd command" if shutil.which("zstd") else None


@contextmanager
def reader(archive: Path) -> Iterator[IO[bytes]]:
    """The decompressed stream of a ``.tar.zst`` archive, by the first backend found."""
    backend = support()
    if backend == "compression.zstd":
        from compression import zstd as stdlib_zstd  # type: ignore[import-not-found,unused-ignore]

        with stdlib_zstd.open(archive, "rb") as stream:
            try:
                yield stream
            except stdlib_zstd.ZstdError as exc:
                raise OSError(0, f"zstd: {exc}") from None
    elif backend == "zstandard":
        import zstandard  # type: ignore[import-not-found,unused-ignore]

        with archive.open("rb") as raw, zstandard.ZstdDecompressor().stream_reader(raw) as s:
            try:
                yield s
            except zstandard.ZstdError as exc:
                raise OSError(0, f"zstd: {exc}") from None
    elif backend == "zstd command":
        with subprocess.Popen(
            ["zstd", "-dcq", "--", str(archive)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        ) as child:
            assert child.stdout is not None
            try:
                yield child.stdout
            except (OSError, EOFError, tarfile.TarError):
                # zstd's own message ("truncated input") says more than tar's.
                _raise_for_zstd(child)
                raise
            while child.stdout.read(1 << 16):
                pass  # tar stops at its end marker; the rest is padding zstd still writes
            _raise_for_zstd(child)
    else:
        raise Unsupported(
            "no zstd support here (Python 3.14's compression.zstd, the zstandard package or "
            "the zstd program); pip install 'appservice-gunicorn[zstd]' or deploy a .tar.gz"
        )


def _raise_for_zstd(child: subprocess.Popen[bytes]) -> None:
    assert child.stdout is not None and child.stderr is not None
    child.stdout.close()
    error = child.stderr.read().decode(errors="replace").strip()
    if child.wait() != 0:
        raise OSError(0, f"zstd: {error or f'exit status {child.returncode}'}") from None
