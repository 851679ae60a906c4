"""WSGI entry point (gunicorn flowsync.wsgi:application)."""

import os

from django.core.wsgi import get_wsgi_application

from flowsync import gc_tuning

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flowsync.settings")

application = get_wsgi_application()
gc_tuning.tune()
