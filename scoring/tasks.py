"""Celery tasks of scoring: thin adapters around scoring.services.

Queues (see CELERY_TASK_ROUTES): ``realtime`` for rescoring the leads a write
changed (after ingestion) and refreshing their accounts' roll-ups, ``bulk``
for chunks of a full rescore and of a publish preview and for suggestions
of points,
``default`` for the periodic bookkeeping, so a publish never starves
real-time scoring. The publish preview's tasks are sent to PREVIEW_QUEUE
explicitly, so they keep off the default queue whether or not the routes
list them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from crm.common.tasks import PERIODIC_RETRY, TRANSIENT_RETRY
from scoring import previews, selectors
from scoring.services import chunks, rescoring, rollups, suggestions

#: Leads re-enqueued per reconciler run; the next minute takes the rest.
RECONCILE_LIMIT = 5_000
RESCORE_TASK_SIZE = 500
#: Where the publish preview's tasks go: the bulk worker, as a rescore's chunks.
PREVIEW_QUEUE = "bulk"
#: A chunk pending this long was lost (a worker died before acking it).
CHUNK_STALLED_AFTER = dt.timedelta(minutes=20)


def reconcile_after() -> dt.timedelta:
    """A mark older than this means its rescore message was lost (or is queued
    behind a burst); the reconciler enqueues it again (a minute by default)."""
    return dt.timedelta(seconds=settings.RESCORE_RECONCILE_AFTER_SECONDS)


@shared_task(name="scoring.rescore_leads", **TRANSIENT_RETRY)
def rescore_leads_task(lead_ids: list[int]) -> int:
    """Rescore those of these leads still marked, under the active model,
    with other marked leads filling the set (the messages queued behind).

    Idempotent: safe to rerun. A lead rescored since it was enqueued (by an
    earlier message, the reconciler or a publish) is skipped.
    """
    return rescoring.leads_rescore(lead_ids=lead_ids, marked_only=True, coalesce=True)


@shared_task(name="scoring.rescore_all", **TRANSIENT_RETRY)
def rescore_all_task(model_id: int, run: str = chunks.PUBLISH_RUN) -> int:
    """Plan a full rescore in chunks and enqueue them. Running it twice plans once."""
    chunk_ids = chunks.rescore_plan(model_id=model_id, run=run)
    for chunk_id in chunk_ids:
        rescore_chunk_task.delay(chunk_id)
    return len(chunk_ids)


@shared_task(name="scoring.rescore_chunk", **TRANSIENT_RETRY)
def rescore_chunk_task(chunk_id: int) -> int:
    """Rescore one chunk of leads; a redelivered chunk is recomputed, counted once."""
    return chunks.rescore_chunk_run(chunk_id=chunk_id)


@shared_task(name="scoring.reconcile", **PERIODIC_RETRY)
def reconcile_task() -> int:
    """Re-enqueue leads left marked too long and chunks left pending, and
    refresh the account roll-ups still asked for (lost messages)."""
    lead_ids = rescoring.leads_marked_overdue(
        older_than=reconcile_after(), limit=RECONCILE_LIMIT
    )
    for start in range(0, len(lead_ids), RESCORE_TASK_SIZE):
        rescore_leads_task.delay(lead_ids[start : start + RESCORE_TASK_SIZE])
    for chunk_id in chunks.chunks_stalled(older_than=CHUNK_STALLED_AFTER):
        rescore_chunk_task.delay(chunk_id)
    # Roll-ups whose refresh message was lost (usually none are left).
    rollups.account_rollups_refresh_requested()
    return len(lead_ids)


@shared_task(name="scoring.refresh_account_rollups", **TRANSIENT_RETRY)
def account_rollups_task() -> int:
    """Refresh the accounts whose roll-ups rescores asked for; a rerun finds
    what is left (nothing, or requests committed since).

    A run that found another refresh running leaves its requests to that
    one; a run that sees requests committed meanwhile schedules the next
    (their own schedule may have been this run, or the one it skipped).
    """
    taken = rollups.account_rollups_refresh_requested()
    if taken is None:
        return 0
    if rollups.account_rollups_pending():
        rollups.account_rollups_refresh_enqueue()
    return taken


@shared_task(name="scoring.apply_decay", **PERIODIC_RETRY)
def apply_decay_task() -> int:
    """Rescore every lead under the active model so engagement points decay."""
    model = selectors.model_active()
    if model is None:
        return 0
    rescore_all_task.delay(model.id, f"decay-{timezone.now().date().isoformat()}")
    return model.id


@shared_task(name="scoring.preview_publish", **TRANSIENT_RETRY)
def preview_publish_task(preview_id: int) -> int:
    """Plan a publish preview in chunks and enqueue them; a rerun plans once."""
    chunk_ids = previews.publish_preview_plan(preview_id=preview_id)
    for chunk_id in chunk_ids:
        preview_chunk_task.apply_async((chunk_id,), queue=PREVIEW_QUEUE)
    return len(chunk_ids)


@shared_task(name="scoring.preview_chunk", **TRANSIENT_RETRY)
def preview_chunk_task(chunk_id: int) -> int:
    """Count one chunk of a publish preview; a redelivered chunk counts once."""
    return previews.publish_preview_chunk_run(chunk_id=chunk_id)


@shared_task(
    name="scoring.suggest_model", ignore_result=True, bind=True, **TRANSIENT_RETRY
)
def suggest_model_task(self: Any, suggestion_id: int) -> None:
    """Run a queued suggestion of points (scoring.services.suggestions).

    Claims the ``ModelSuggestion`` row first with a conditional update: a
    retry or a redelivery of the same message (the same task id) claims it
    back, a task of another id finds it running and does nothing, and only
    the latest claim may store its draft, in the draft's own transaction:
    never two drafts for one request. A refusal or a failure is stored on
    the row for the page and the API.
    """
    suggestions.suggestion_run(
        suggestion_id=suggestion_id, worker=self.request.id or ""
    )
