"""The launcher as init for the commands it does not serve itself.

What tini and dumb-init do, in one small loop: the child runs in a process group of its
own; the signals an orchestrator sends are forwarded to that group; every child that dies
is reaped (the launcher may be PID 1 and inherit orphans, and elsewhere it makes itself a
child subreaper, so a grandchild that daemonizes is still its own); when the child has
exited, what is left of its group and of its descendants gets SIGTERM, then SIGKILL once
the grace period is over, and only then does ``run`` return the child's exit status
(128 + N when a signal N killed it).  Nothing the child started outlives the launcher.
"""

import contextlib
import ctypes
import errno
import logging
import os
import signal
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import NamedTuple

log = logging.getLogger(__name__)

# What an orchestrator or a terminal sends, forwarded to the child's process group.
FORWARDED = frozenset(
    {
        signal.SIGTERM,
        signal.SIGINT,
        signal.SIGQUIT,
        signal.SIGHUP,
        signal.SIGUSR1,
        signal.SIGUSR2,
        signal.SIGWINCH,
    }
)
STOPPING = frozenset({signal.SIGTERM, signal.SIGINT, signal.SIGQUIT})
# Python ignores these in itself; a child must get the default actions back.
_RESET = (*FORWARDED, signal.SIGCHLD, signal.SIGPIPE, signal.SIGXFSZ)
# gunicorn's own graceful_timeout default.
DEFAULT_GRACE = 30.0
GRACE_VARIABLE = "APPSVC_GRACEFUL_TIMEOUT"
_PR_SET_CHILD_SUBREAPER = 36


class Result(NamedTuple):
    """How a supervised child ended."""

    status: int  # its exit status as a shell reports it (128 + N for signal N)
    stopped_by: int | None  # the first stop signal the launcher received meanwhile
    deferred: tuple[int, ...]  # signals received but not forwarded (see ``run``)


def grace(env: Mapping[str, str]) -> float:
    """``APPSVC_GRACEFUL_TIMEOUT`` seconds, else gunicorn's default of 30."""
    raw = env.get(GRACE_VARIABLE, "").strip()
    try:
        value = float(raw) if raw else DEFAULT_GRACE
    except ValueError:
        return DEFAULT_GRACE
    return value if value >= 0 else DEFAULT_GRACE


def run(
    argv: Sequence[str],
    env: Mapping[str, str],
    cwd: str | os.PathLike[str],
    *,
    grace_seconds: float = DEFAULT_GRACE,
    forward: Collection[int] = FORWARDED,
    reap_all: bool = True,
    result_fd: int | None = None,
    tick: Callable[[], bool | None] | None = None,
    stopping: Callable[[], bool] | None = None,
) -> Result:
    """Run ``argv`` as a supervised child until it and everything it started are gone.

    Signals in ``forward`` go to the child's group; the others of ``FORWARDED`` are
    returned in ``deferred`` for the caller.  ``reap_all=False`` is for gunicorn's running
    master, whose workers are children too: this waits for its own child only and hands
    SIGCHLD back to gunicorn afterwards.  ``result_fd``: a file descriptor the child gets as
    its fd 3 (a pipe for a result, apart from what the child prints).  ``tick`` is called
    about once a second while the child runs (a check of what it does); when it returns
    True, the child's process group is killed (it was given up on).  ``stopping``, with
    ``reap_all=False``: whether gunicorn queued a stop signal before this took the signals
    over; the child is then not started (``stopped_by`` is SIGTERM).
    """
    try:
        if not reap_all:
            held = (grace_seconds, forward, result_fd, tick, stopping)
            return _run_in_master(argv, env, cwd, *held)
        # The launcher alone, single-threaded: signals are blocked and taken with
        # sigtimedwait (as tini does), so that none is lost, even as PID 1.
        watched: set[int] = {*FORWARDED, signal.SIGCHLD}
        old_mask = signal.pthread_sigmask(signal.SIG_BLOCK, watched)
        try:
            become_subreaper()
            pid = _spawn(argv, env, cwd, result_fd)

            def next_signal(timeout: float) -> int | None:
                info = signal.sigtimedwait(watched, timeout)
                return None if info is None else info.si_signo

            return _supervise(pid, next_signal, grace_seconds, forward, True, tick)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
    except SpawnError as exc:
        # As a shell reports a program it cannot run: 127 when missing, else 126.
        log.error("%s", exc.strerror)
        return Result(127 if exc.errno == errno.ENOENT else 126, None, ())


def _run_in_master(
    argv: Sequence[str],
    env: Mapping[str, str],
    cwd: str | os.PathLike[str],
    grace_seconds: float,
    forward: Collection[int],
    result_fd: int | None,
    tick: Callable[[], bool | None] | None,
    stopping: Callable[[], bool] | None,
) -> Result:
    """``run`` inside gunicorn's master, which has other threads (its control socket):
    a blocked signal could reach one of them and run gunicorn's handler anyway, whose
    SIGCHLD handler would reap this child.  So, for the duration, handlers of our own
    take the signals and SIGCHLD gets its default action; gunicorn's come back after."""
    received: list[int] = []

    def take(signum: int, frame: object) -> None:
        received.append(signum)

    previous = {signum: signal.signal(signum, take) for signum in FORWARDED}
    previous[signal.SIGCHLD] = signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    try:
        if stopping is not None and stopping():  # queued since the caller last asked
            return Result(128 + signal.SIGTERM, signal.SIGTERM, tuple(received))
        pid = _spawn(argv, env, cwd, result_fd)

        def next_signal(timeout: float) -> int | None:
            if not received:
                time.sleep(min(timeout, 0.05))
            return received.pop(0) if received else None

        return _supervise(pid, next_signal, grace_seconds, forward, False, tick)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        # gunicorn reaps its workers on SIGCHLD: one may have died meanwhile.
        os.kill(os.getpid(), signal.SIGCHLD)


class SpawnError(OSError):
    """The child could not be started (its program is missing or cannot be run)."""


def _spawn(
    argv: Sequence[str], env: Mapping[str, str], cwd: str | os.PathLike[str], result_fd: int | None
) -> int:
    # posix_spawn has no cwd: the master's is changed around it.  Held open, not by name:
    # a deploy may have deleted the folder the master is in (and made it anew).
    previous = os.open(".", os.O_RDONLY | os.O_DIRECTORY)
    os.chdir(cwd)
    try:
        return os.posix_spawn(
            argv[0],
            list(argv),
            dict(env),
            file_actions=[] if result_fd is None else [(os.POSIX_SPAWN_DUP2, result_fd, 3)],
            setpgroup=0,
            setsigmask=(),
            setsigdef=_RESET,
        )
    except OSError as exc:
        raise SpawnError(exc.errno, f"{argv[0]} cannot be run: {exc.strerror}") from None
    finally:
        os.fchdir(previous)
        os.close(previous)


def _supervise(
    pid: int,
    next_signal: Callable[[float], int | None],
    grace_seconds: float,
    forward: Collection[int],
    reap_all: bool,
    tick: Callable[[], bool | None] | None = None,
) -> Result:
    status: int | None = None
    stopped_by: int | None = None
    deferred: list[int] = []
    deadline: float | None = None  # when what is left gets SIGKILL
    rest_told = False  # whether what outlived the child got its SIGTERM
    while True:
        status, others = _reap(pid, status, reap_all)
        if status is not None:
            if not others and not _group_alive(pid):
                return Result(_exit_status(status), stopped_by, tuple(deferred))
            if not rest_told:
                # Daemons that left the group are only found now, re-parented here.
                _signal_rest(pid, signal.SIGTERM, reap_all)
                rest_told = True
                deadline = deadline or time.monotonic() + grace_seconds
        now = time.monotonic()
        if deadline is not None and now >= deadline:
            _signal_rest(pid, signal.SIGKILL, reap_all)
            timeout = 0.1
        else:
            timeout = 1.0 if deadline is None else min(1.0, max(0.01, deadline - now))
        if tick is not None and status is None and tick():
            _kill_group(pid, signal.SIGKILL)
        signum = next_signal(timeout)
        if signum is None or signum == signal.SIGCHLD:
            continue
        if signum not in forward:
            deferred.append(signum)
            continue
        _kill_group(pid, signum)
        if signum in STOPPING:
            stopped_by = stopped_by or signum
            if deadline is None:
                deadline = time.monotonic() + grace_seconds


def _reap(pid: int, status: int | None, reap_all: bool) -> tuple[int | None, bool]:
    """Reap what has exited: (the child's wait status if known, whether others remain).

    Without ``reap_all``, only the child's process group (its pid): members re-parented
    here (the launcher is a subreaper) are reaped, gunicorn's workers are left alone.
    """
    while True:
        try:
            found, wait_status = os.waitpid(-1 if reap_all else -pid, os.WNOHANG)
        except ChildProcessError:
            return status, False
        if found == 0:
            return status, True  # something is still running
        if found == pid:
            status = wait_status


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _kill_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def _signal_rest(pgid: int, signum: int, reap_all: bool) -> None:
    """Signal the child's group and (as subreaper or PID 1) every remaining child."""
    _kill_group(pgid, signum)
    if reap_all:
        for child in children():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(child, signum)


def children() -> list[int]:
    """This process's children, from /proc (orphans re-parented to it included)."""
    me = str(os.getpid())
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as handle:
                stat = handle.read().decode(errors="replace")
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 1 and fields[1] == me:
            found.append(int(name))
    return found


def become_subreaper() -> None:
    """Orphans of the child's tree are re-parented here rather than to PID 1 (Linux)."""
    if os.getpid() == 1:
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def _exit_status(wait_status: int) -> int:
    code = os.waitstatus_to_exitcode(wait_status)
    return 128 - code if code < 0 else code
