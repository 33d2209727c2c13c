"""The one error the launcher stops with before serving."""


class LaunchError(Exception):
    """The launcher cannot start (or a redeploy cannot go live); the message says why, where
    and what to do, on one line (or a line and the user's own traceback)."""
