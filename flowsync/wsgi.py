"""WSGI entry point (gunicorn flowsync.wsgi:application).

The API's backpressure gate (engine/api/gate.py) sits in front of Django: under overload it answers
the refused starts without Django's per-request work.
"""

import os

from django.core.wsgi import get_wsgi_application

from flowsync import gc_tuning

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flowsync.settings")

application = get_wsgi_application()
gc_tuning.tune()

from engine.api.gate import wrap  # noqa: E402 - needs the apps loaded by get_wsgi_application

application = wrap(application)
