"""Commands the launcher runs as children, supervised as tini does: the pre-start steps,
and a startup command it does not serve itself."""
