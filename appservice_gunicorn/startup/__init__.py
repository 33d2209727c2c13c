"""The startup command: a file, words or a Procfile, split into pre-start steps and a final
command; and gunicorn's own options."""
