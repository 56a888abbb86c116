"""A test-only poison task: a rescore of a lead that always fails transiently.

The fault test's worker loads this module (``celery worker --include
tests.faults.poison_tasks``). The task takes the real rescore task's retry
options (which errors are retried, how often), only with a one-second
backoff so the test does not wait minutes. Each run counts itself in Redis
before it raises, so the test can tell how many times it ran.
"""

from __future__ import annotations

import os

from celery import shared_task
from django.db import OperationalError

from scoring.tasks import rescore_leads_task

NAME = "faults.poison_rescore"


def runs_key(token: str) -> str:
    return f"faults:poison:{token}:runs"


@shared_task(
    name=NAME,
    acks_late=True,
    autoretry_for=rescore_leads_task.autoretry_for,
    max_retries=rescore_leads_task.max_retries,
    retry_backoff=1,
    retry_backoff_max=1,
    retry_jitter=False,
)
def poison_rescore_task(lead_ids: list[int], token: str) -> None:
    """Count the run, then fail as a lost database connection would."""
    import redis

    url = os.environ.get("REDIS_URL") or os.environ["CELERY_BROKER_URL"]
    redis.Redis.from_url(url).incr(runs_key(token))
    raise OperationalError(f"server closed the connection while rescoring {lead_ids}")
