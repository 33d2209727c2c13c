"""The application as the master sees it: the few things a redeploy asks of it."""

from collections.abc import Callable

from appservice_gunicorn.base.gunicorn_api import BaseApplication
from appservice_gunicorn.plan.plan import Plan

# How a redeploy whose new app failed is logged, by the application and the master alike.
REFUSED = "the new deployment was refused and the running app keeps serving"


class RedeployableApplication(BaseApplication):
    """What the master needs of the application (``serve/application.py`` implements it):
    declared here, so that the master depends on no more than this."""

    plan: Plan | None
    # Set by the master: each worker reports there once it has imported the app.
    ready_fd: int | None
    # Why the proven redeploy needs a new master (another framework version), or None.
    framework_change: str | None

    def stop_requested(self) -> bool:
        """Whether a stop signal has come (the master replaces this; gunicorn queues it)."""
        return False

    def prepare_redeploy(
        self, meanwhile: Callable[[], object] | None = None, timeout: float = 0
    ) -> bool:
        """Detect, plan and prove the deployment now in the folder: whether to go on
        (``meanwhile`` runs while the proof imports the app, given up after ``timeout``)."""
        raise NotImplementedError

    def drop_pending(self) -> None:
        """Forget the redeploy prepared last (the master replaces itself instead)."""
        raise NotImplementedError

    def prune_extractions(self) -> None:
        """The workers of the replaced app have all ended: remove the extractions of the
        build's archives that only they used."""
        raise NotImplementedError

    def restore(self, plan: Plan) -> None:
        """Go back to ``plan``, the running deployment, after a refused redeploy."""
        raise NotImplementedError
