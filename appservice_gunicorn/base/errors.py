"""The launcher's errors: the one it stops with, and the one an unusable startup command
gives (logged, then the chain goes on, unless --strict)."""

from appservice_gunicorn.base.messages import one_line


class LaunchError(Exception):
    """The launcher cannot start (or a redeploy cannot go live): the one way to say so.

    The message says why, where and what to do, on one line (or a line and the user's own
    traceback); ``status`` is the exit status the launcher stops with (1 unless a stage
    knows better)."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


class StartupError(Exception):
    """A startup command that cannot be used; the message is one line.

    ``problem`` says what is wrong in words of the launcher's own, never a user's value:
    the public default site shows it (the message, with the values, goes to the log).
    """

    def __init__(self, message: str, problem: str = "it cannot be used") -> None:
        super().__init__(one_line(message))
        self.problem = problem
