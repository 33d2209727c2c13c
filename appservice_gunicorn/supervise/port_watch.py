"""Some seconds after a supervised command started, whether anything listens on ``$PORT``,
where App Service (and a Kubernetes probe written for it) sends requests.  What the
command line says is read before the start (``startup/server_ports.py``); this sees what
the server really did (a port from a config file, a crash in a thread, a typo)."""

import logging
import time

log = logging.getLogger(__name__)
WAIT = 10.0  # seconds: a server that imports a large app may take a few
LISTEN = "0A"  # the state of a listening socket in /proc/net/tcp


def listening(port: int) -> bool | None:
    """Whether a socket of this network namespace listens on TCP ``port`` (any address);
    None when /proc cannot tell."""
    told = False
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as handle:
                lines = handle.read().splitlines()[1:]
        except OSError:
            continue
        told = True
        for line in lines:
            fields = line.split()
            if len(fields) > 3 and fields[3] == LISTEN and fields[1].endswith(f":{port:04X}"):
                return True
    return False if told else None


class PortWatch:
    """Called about once a second by the supervisor: after ``wait`` seconds, once, one
    WARNING when nothing listens on ``port``."""

    def __init__(self, port: int, what: str, wait: float = WAIT) -> None:
        self.port = port
        self.what = what
        self.started = time.monotonic()
        self.due: float | None = self.started + wait
        self.wait = wait
        self.warned = False

    def __call__(self) -> bool:
        """Never gives up on the command (False): a warning is all it says, and, when the
        server listens later after all (a slow start), one line that says so."""
        if self.warned and listening(self.port):
            self.warned = False
            log.info(
                "%s listens on port %d now, %.0f s after it started",
                self.what,
                self.port,
                time.monotonic() - self.started,
            )
        if self.due is None or time.monotonic() < self.due:
            return False
        self.due = None
        if listening(self.port) is False:
            self.warned = True
            log.warning(
                "%s has run for %g s and nothing listens on port %d ($PORT), where requests "
                "arrive: give the server --port $PORT (or --bind 0.0.0.0:$PORT), or check "
                "its output above",
                self.what,
                self.wait,
                self.port,
            )
        return False
