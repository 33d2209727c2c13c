"""Benchmarks: the launcher against plain gunicorn, measured side by side as ratios.

Run them with ``nox -s bench`` (or ``python -m benchmarks.run``); they are not tests.
"""
