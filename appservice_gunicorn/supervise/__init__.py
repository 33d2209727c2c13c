"""Commands the launcher runs as children: supervised like tini does, and the pre-start steps."""
