"""The procfile rule: with no startup command, a Procfile's ``web`` process (Heroku's,
Dokku's and the buildpacks' convention) is the startup command."""

from appservice_gunicorn.detection.context import Context, Match, Miss
from appservice_gunicorn.detection.rules.startup import command_outcome
from appservice_gunicorn.startup.startup_file import procfile_release, unnamed_startup_files

NOT_READ = "not read: a startup command was given"


def rule(context: Context) -> Match | Miss:
    startup = context.startup
    if startup.given:
        return Miss(NOT_READ, NOT_READ)
    if startup.command is not None:
        outcome = command_outcome("procfile", startup.command, context)
        release = procfile_release(context.app_dir)
        return outcome._replace(notes=(*outcome.notes, release)) if release else outcome
    # No command at all: a startup.txt or startup.sh that nothing names is worth a note.
    unnamed = tuple(unnamed_startup_files(context.app_dir))
    if startup.error is not None:
        return Miss(startup.error, startup.public_error, unnamed)
    return Miss(startup.procfile, startup.procfile, unnamed)
