"""Writing an archive's members into a fresh folder, with the system calls spread over
threads.

Extracting a virtualenv is some 15,000 file creations: on this project's 2-core machine,
``open()`` alone took 4.5 s of a 77 MB archive's 6 s (profiled), decompression 0.9 s.  The
reading thread (``archives.py``) decompresses and checks every member, then hands each
file's bytes to a pool; ``os.open``/``os.write`` release the GIL, so creations proceed in
parallel with each other and with the decompression.  Folders and symlinks are made by the
reading thread, in the archive's order; a hard link waits for the file it names.

Every file is created with ``O_EXCL | O_NOFOLLOW`` in a folder the extraction made: never
over an existing name or through a symlink at its last component (the reading thread has
refused names through the archive's own symlinks before).
"""

import os
import resource
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import IO

from appservice_gunicorn.base import environment

# Creations overlap best with a few threads per core; more only contend in the kernel.
MAX_THREADS = 4
# Bytes read ahead of the writers at most: a large archive is not held in memory.
MAX_PENDING = 64 * 1024 * 1024
UNIT = 65536
UNITS = MAX_PENDING // UNIT
# Files handed to a thread together: one hand-over per file made the threads fight over
# the GIL (228,000 futex calls for 15,000 files, traced).
BATCH_FILES = 64
BATCH_BYTES = 1024 * 1024
# Larger members are not read whole: the reading thread writes them in pieces.
LARGE = 8 * 1024 * 1024
PIECE = 1024 * 1024
_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_FOLDER = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class TreeWriter:
    def __init__(self, root: Path, threads: int | None = None) -> None:
        self.root = root
        threads = threads or min(MAX_THREADS, 2 * environment.available_cores())
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="extract")
        self._jobs: dict[str, Future[None]] = {}
        self._room = threading.Semaphore(UNITS)
        self._folders: list[tuple[str, int, int]] = []  # applied last: files go in first
        self._made: set[str] = {""}
        # Folders opened once, files created relative to them: no path walked per file.
        self._fds: dict[str, int] = {}
        self._max_fds = min(4096, resource.getrlimit(resource.RLIMIT_NOFILE)[0] // 4)
        self._error: BaseException | None = None
        self._links: set[str] = set()  # names made as symlinks or hard links
        self._batch: list[tuple[str, bytes, int, int]] = []
        self._batch_bytes = 0
        umask = os.umask(0)
        os.umask(umask)
        self._umask = umask

    def folder(self, name: str, mode: int, mtime_ns: int) -> None:
        self._parent(name + "/")
        self._folders.append((name, mode, mtime_ns))

    def file(self, name: str, data: bytes, mode: int, mtime_ns: int) -> None:
        if self._error is not None:
            raise self._error  # a write failed (a full disk): the extraction ends now
        self._parent(name)
        self._replace(name)
        self._batch.append((name, data, mode, mtime_ns))
        self._batch_bytes += len(data)
        if len(self._batch) >= BATCH_FILES or self._batch_bytes >= BATCH_BYTES:
            self._flush()

    def _flush(self) -> None:
        if not self._batch:
            return
        batch, size = self._batch, self._batch_bytes
        self._batch, self._batch_bytes = [], 0
        units = min(UNITS, max(1, size // UNIT))
        for _ in range(units):  # room for what is read ahead (bounded memory)
            self._room.acquire()
        job = self._pool.submit(self._write_all, batch, units)
        for name, *_ in batch:
            self._jobs[name] = job

    def large_file(self, name: str, source: IO[bytes], mode: int, mtime_ns: int) -> None:
        """A file too large to hold in memory: written by this thread, piece by piece."""
        self._parent(name)
        self._replace(name)
        fd = os.open(self.root / name, _FLAGS, mode)
        try:
            while piece := source.read(PIECE):
                view = memoryview(piece)
                while view:
                    view = view[os.write(fd, view) :]
            if mode & ~self._umask != mode:
                os.fchmod(fd, mode)
            os.utime(fd, ns=(mtime_ns, mtime_ns))
        finally:
            os.close(fd)

    def _replace(self, name: str) -> None:
        """The same name again: the last one wins, as with tar (the earlier file, symlink
        or hard link is removed; never what a link points to)."""
        if any(queued[0] == name for queued in self._batch):
            self._flush()
        earlier = self._jobs.pop(name, None)
        if earlier is not None:
            earlier.result()
            os.unlink(self.root / name)
        elif name in self._links:
            self._links.discard(name)
            os.unlink(self.root / name)

    def symlink(self, name: str, target: str) -> None:
        self._parent(name)
        self._replace(name)
        os.symlink(target, self.root / name)
        self._links.add(name)

    def _fd(self, folder: str) -> int | None:
        """An open descriptor of ``folder`` (None past the cap: a few of the process's)."""
        fd = self._fds.get(folder)
        if fd is None and len(self._fds) < self._max_fds:
            fd = os.open(self.root / folder, _FOLDER)
            kept = self._fds.setdefault(folder, fd)  # another thread may have been first
            if kept != fd:
                os.close(fd)
            fd = kept
        return fd

    def _close_folders(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()

    def _parent(self, name: str) -> None:
        """The folder ``name`` goes in, made (by this thread) if it is not yet."""
        parent = os.path.dirname(name)
        if parent not in self._made:
            os.makedirs(self.root / parent, exist_ok=True)  # 0777 less the umask, as tar
            while parent not in self._made:
                self._made.add(parent)
                parent = os.path.dirname(parent)

    def hardlink(self, name: str, source: str) -> None:
        """``name`` as another name of ``source``, a file of the archive written before."""
        if any(queued[0] == source for queued in self._batch):
            self._flush()
        job = self._jobs.get(source)
        if job is not None:
            job.result()
        self._parent(name)
        self._replace(name)
        os.link(self.root / source, self.root / name, follow_symlinks=False)
        self._links.add(name)

    def finish(self) -> None:
        """Wait for every file (raising the first failure), then give folders their modes
        and times, deepest first."""
        self._flush()
        self._pool.shutdown(wait=True)
        self._close_folders()
        for job in self._jobs.values():
            job.result()
        for name, mode, mtime_ns in reversed(self._folders):
            path = self.root / name
            os.chmod(path, mode)
            os.utime(path, ns=(mtime_ns, mtime_ns), follow_symlinks=False)

    def abandon(self) -> None:
        """Stop: files not started are dropped, those being written are let finish."""
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._close_folders()

    def _write_all(self, batch: list[tuple[str, bytes, int, int]], units: int) -> None:
        try:
            for name, data, mode, mtime_ns in batch:
                self._write(name, data, mode, mtime_ns)
        except BaseException as exc:
            self._error = self._error or exc
            raise
        finally:
            for _ in range(units):
                self._room.release()

    def _write(self, name: str, data: bytes, mode: int, mtime_ns: int) -> None:
        parent, _, base = name.rpartition("/")
        folder = self._fd(parent)
        if folder is None:
            fd = os.open(self.root / name, _FLAGS, mode)
        else:
            fd = os.open(base, _FLAGS, mode, dir_fd=folder)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if mode & ~self._umask != mode:
                os.fchmod(fd, mode)  # the archive's mode, whatever the umask
            os.utime(fd, ns=(mtime_ns, mtime_ns))
        finally:
            os.close(fd)
