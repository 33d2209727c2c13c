"""What every stage uses: the platform's environment variables, the errors and one-line
messages, the first signal handlers, gunicorn's parts.  Internal, as every subpackage: the
public API is the package root (``detect``) and ``appservice_gunicorn.testing``."""
