"""The default site as an app folder of its own, as App Service's ``/opt/defaultsite``.

Plain gunicorn can serve it (``gunicorn --chdir defaultsite application:app``); the page
explains the folder named by ``APP_PATH`` (else the working directory). The launcher renders
the same page from its own detection, in the master, and serves it without this module.
"""

import os

from appservice_gunicorn import detect
from appservice_gunicorn.explain.defaultsite import create_app

app = create_app(detect(os.environ.get("APP_PATH") or os.getcwd()), os.environ)
