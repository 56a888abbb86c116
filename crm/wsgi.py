"""WSGI entry point (gunicorn crm.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")
application = get_wsgi_application()

# Import the URLconf (every view module under it) now, while the worker boots,
# rather than in its first request: that one took about a second longer.
_url_patterns = get_resolver().url_patterns

# After setup, so the message goes through the configured logging.
from crm.checks import warn_if_debug  # noqa: E402
from crm.common.heap import long_lived_objects_freeze  # noqa: E402

warn_if_debug()
# What start-up loaded lives as long as the process: keep full garbage
# collections from walking it during requests (see crm.common.heap).
long_lived_objects_freeze()
