"""The Celery application.

Configuration comes from Django settings (the ``CELERY_`` prefix). With no
broker configured, ``CELERY_TASK_ALWAYS_EAGER`` is on and tasks run in-process.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")

app = Celery("crm")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
