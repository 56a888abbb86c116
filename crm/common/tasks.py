"""The retry options every Leadflow Celery task is declared with.

A task retries only transient errors (the database connection lost or not
yet back), with exponential backoff and jitter so a fleet of workers does
not retry in step, a bounded number of times; then it gives up and
``crm.celery`` records a FailedTask. ``acks_late``: a message is acknowledged
only when its task ends, so a worker killed mid-task leaves it to another.
"""

from __future__ import annotations

from typing import Any

from django.db import InterfaceError, OperationalError

#: Errors worth retrying: the database went away or is not back yet.
TRANSIENT = (OperationalError, InterfaceError)

#: ``@shared_task(name=..., **TRANSIENT_RETRY)``: five retries, backoff
#: doubling from 1 s (Celery's default cap of 10 minutes).
TRANSIENT_RETRY: dict[str, Any] = {
    "acks_late": True,
    "autoretry_for": TRANSIENT,
    "retry_backoff": True,
    "retry_jitter": True,
    "max_retries": 5,
}

#: For a periodic task: three retries, since it runs again on its schedule.
PERIODIC_RETRY: dict[str, Any] = TRANSIENT_RETRY | {"max_retries": 3}
