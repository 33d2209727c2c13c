"""gunicorn in the launcher's process: the application, the master and its redeploys,
the worker's import of the app."""
