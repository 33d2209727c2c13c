"""The plan: what runs, with gunicorn's settings in layers, each with its source."""
