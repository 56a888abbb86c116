"""Celery tasks of scoring: thin adapters around scoring.services."""

from __future__ import annotations

from celery import shared_task
from django.db import InterfaceError, OperationalError

from scoring import services


@shared_task(
    name="scoring.rescore_leads",
    acks_late=True,
    autoretry_for=(OperationalError, InterfaceError),
    retry_backoff=True,
    retry_jitter=True,
    max_retries=5,
    ignore_result=True,
)
def rescore_leads_task(lead_ids: list[int]) -> int:
    """Rescore these leads under the active model. Idempotent: safe to rerun."""
    return services.leads_rescore(lead_ids=lead_ids)
