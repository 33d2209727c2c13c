"""The launcher's default site as a module plain gunicorn can load: ``defaultsite_wsgi:app``.

Detection runs here, in the worker, on gunicorn's ``--chdir`` folder; the launcher runs
it in the master instead.  Either way the page is built once per worker.
"""

from __future__ import annotations

import os

from appservice_gunicorn import detect
from appservice_gunicorn.defaultsite import create_app

app = create_app(detect(os.getcwd()), os.environ)
