from __future__ import annotations

import os

from hypothesis import settings

# CI must be repeatable: the same examples on every run (a new failing example found
# locally is a bug to fix, not a coin CI tosses). Locally, hypothesis explores freely.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
