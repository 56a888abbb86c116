"""WSGI entry point (gunicorn crm.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")
application = get_wsgi_application()

# After setup, so the message goes through the configured logging.
from crm.checks import warn_if_debug  # noqa: E402

warn_if_debug()
