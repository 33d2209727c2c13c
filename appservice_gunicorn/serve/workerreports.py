"""What each worker tells the master once it has imported the app, or failed to, and how
a worker ended.

A worker writes one line to a pipe the master made: its pid, then (on failure) the first
line of the error.  The master learns from it when a redeploy's new workers are ready
(the old ones may retire), why they failed (the redeploy's refusal says it), and which
workers ended before importing the app (``os._exit`` at import: gunicorn alone would
respawn them forever).
"""

import contextlib
import os
import select

# One write below PIPE_BUF (4096 on Linux) is atomic: lines of workers never mix.
MAX_LINE = 4000


class Reports:
    def __init__(self) -> None:
        self._read_fd, self.write_fd = os.pipe()
        os.set_blocking(self._read_fd, False)
        self._buffer = b""
        self.loaded: set[int] = set()  # workers that have imported the app
        self.failed: dict[int, str] = {}  # workers whose import failed, and why

    def read(self) -> bool:
        """Take in what was written; True when a worker has imported the app since."""
        with contextlib.suppress(BlockingIOError):
            self._buffer += os.read(self._read_fd, 65536)
        *lines, self._buffer = self._buffer.split(b"\n")
        any_loaded = False
        for line in lines:
            pid, _, failure = line.decode(errors="replace").partition(" ")
            if not pid.isdigit():
                continue
            if failure:
                self.failed[int(pid)] = failure
            else:
                self.loaded.add(int(pid))
                any_loaded = True
        return any_loaded

    def wait(self, seconds: float) -> None:
        """Until a worker writes, at most ``seconds``."""
        select.select([self._read_fd], [], [], seconds)

    def forget(self, pid: int) -> None:
        """A worker that ended (its pid may be reused)."""
        self.loaded.discard(pid)
        self.failed.pop(pid, None)


def tell(fd: int | None, failure: str = "") -> None:
    """In a worker: this worker imported the app (``failure`` empty) or failed to."""
    if fd is not None:
        # A path that is not UTF-8 (undecodable bytes as surrogates) is sent with escapes.
        line = f"{os.getpid()} {failure}".rstrip().encode(errors="backslashreplace")
        os.write(fd, line[:MAX_LINE] + b"\n")


def running_child(pid: int) -> bool:
    """``pid`` is a child of this process that has not ended (an ended one is reaped)."""
    try:
        found, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return False
    return found == 0


def exit_status(pid: int) -> str | None:
    """How worker ``pid`` ended ("with status 0"), reaped here, or None while it runs."""
    try:
        found, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return "(already reaped)"
    if found == 0:
        return None
    code = os.waitstatus_to_exitcode(status)
    return f"by signal {-code}" if code < 0 else f"with status {code}"
