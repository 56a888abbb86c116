"""Publish previews: what publishing a draft would change, counted in the background.

The publish page used to simulate every lead inside its request, minutes at
a million leads. It now asks for a preview (a row), which a task plans in
chunks of lead ids on the bulk queue; each chunk task counts its range
with ``scoring.simulation.simulate_range`` (the counting of
``model_simulate``) and the last one adds the chunks up. The page shows the
progress and polls until the counts are there. These are scoring's write
use-cases for previews.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from typing import Any

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from leads.models import Lead
from scoring import selectors
from scoring.bulk import BULK_CHUNK_SIZE, lead_id_ranges
from scoring.engine import ModelSpec
from scoring.exceptions import ModelNotPublishable
from scoring.models import PublishPreview, PublishPreviewChunk, ScoringModel
from scoring.simulation import (
    simulate_range,
    simulation_counts_add,
    simulation_counts_empty,
)

logger = logging.getLogger(__name__)

#: A finished preview is shown for this long; then the page counts afresh,
#: because leads and touchpoints keep arriving.
PREVIEW_FRESH_FOR = dt.timedelta(minutes=30)
#: A preview still counting after this long lost a chunk (a worker died with
#: it, or it was refused): the page starts a new one rather than wait forever.
PREVIEW_STALLED_AFTER = dt.timedelta(minutes=60)
#: Leads per chunk task: as the rescore's chunks, a few seconds each, far
#: inside the task time limit at any number of leads.
PREVIEW_CHUNK_SIZE = BULK_CHUNK_SIZE


def spec_fingerprint(spec: ModelSpec) -> str:
    """A digest of a model's rules and settings: equal specs, equal digests."""
    return hashlib.sha256(repr(spec).encode()).hexdigest()


def publish_preview_get(
    *,
    model_id: int,
    actor: Any | None = None,
    fresh: bool = False,
    now: dt.datetime | None = None,
) -> PublishPreview:
    """The preview of publishing this draft that the publish page shows.

    Reuses the latest preview of the draft's current rules and settings
    against the current active model, if it finished less than
    PREVIEW_FRESH_FOR ago or is still counting and was asked for less than
    PREVIEW_STALLED_AFTER ago. Otherwise, or with ``fresh``, creates one and
    enqueues its planning after commit (``scoring.preview_publish``, on the
    bulk queue). Locks the draft's row like model_publish and the rule editor, so
    two people opening the page at once share one preview, and a rule cannot
    change while the spec is read. Raises ModelNotPublishable for a model
    that is gone, not a draft or without rules.

    With Celery eager (no broker) and no transaction around the call, the
    tasks run at the commit, so the preview returned is already finished.
    """
    from scoring.tasks import PREVIEW_QUEUE, preview_publish_task  # they import us

    now = now or timezone.now()
    with transaction.atomic():
        draft = ScoringModel.objects.select_for_update().filter(id=model_id).first()
        if draft is None or draft.status != ScoringModel.Status.DRAFT:
            raise ModelNotPublishable("Only a draft can be published.")
        spec = selectors.model_spec(draft)
        if not spec.rules:
            raise ModelNotPublishable("Add at least one rule before publishing.")
        fingerprint = spec_fingerprint(spec)
        active = selectors.model_active()
        if not fresh:
            preview = (
                PublishPreview.objects.filter(
                    model=draft, fingerprint=fingerprint, active=active
                )
                .filter(
                    Q(
                        status=PublishPreview.Status.FINISHED,
                        finished_at__gte=now - PREVIEW_FRESH_FOR,
                    )
                    | Q(
                        status=PublishPreview.Status.RUNNING,
                        requested_at__gte=now - PREVIEW_STALLED_AFTER,
                    )
                )
                .order_by("-requested_at", "-id")
                .first()
            )
            if preview is not None:
                return preview
        preview = PublishPreview.objects.create(
            model=draft,
            active=active,
            fingerprint=fingerprint,
            scored_at=now,
            # The leads a chunk counts (not erased); the progress's total.
            total=Lead.objects.filter(erased_at__isnull=True).count(),
            requested_by=actor,
            requested_at=now,
        )
        preview_publish_task.apply_async_on_commit((preview.id,), queue=PREVIEW_QUEUE)
    logger.info("publish preview %s of model %s requested", preview.id, draft.id)
    preview.refresh_from_db()
    return preview


def publish_preview_plan(
    *, preview_id: int, chunk_size: int | None = None
) -> list[int]:
    """Create the chunks of a preview once; return the ids of those not finished.

    A second call plans nothing new (a redelivered message enqueues the
    pending chunks again, which count once). A preview that is gone or
    finished plans nothing; one with no lead to count finishes at once.
    """
    preview = PublishPreview.objects.filter(id=preview_id).first()
    if preview is None or preview.status != PublishPreview.Status.RUNNING:
        return []
    if not preview.chunks.exists():
        ranges = lead_id_ranges(chunk_size or PREVIEW_CHUNK_SIZE)
        if not ranges:
            _preview_finish_if_counted(preview.id)
            return []
        PublishPreviewChunk.objects.bulk_create(
            [
                PublishPreviewChunk(preview=preview, low=low, high=high)
                for low, high in ranges
            ],
            ignore_conflicts=True,
        )
    return list(
        preview.chunks.filter(finished_at__isnull=True)
        .order_by("low")
        .values_list("id", flat=True)
    )


def publish_preview_chunk_run(*, chunk_id: int) -> int:
    """Count one chunk of a preview; the last chunk to finish finishes the preview.

    Skips a chunk that is gone or already counted, and one whose preview no
    longer answers the page's question: the draft's rules or settings
    changed, it was published, or another model became active (the page has
    asked for a new preview by then). The chunk's row is finished with a
    conditional update, so a chunk that runs twice counts once. Reads only
    leads and scores. Returns the number of leads counted.
    """
    chunk = (
        PublishPreviewChunk.objects.select_related("preview__model", "preview__active")
        .filter(id=chunk_id)
        .first()
    )
    if chunk is None or chunk.finished_at is not None:
        return 0
    preview = chunk.preview
    if preview.status != PublishPreview.Status.RUNNING:
        return 0
    spec = selectors.model_spec(preview.model)
    active = selectors.model_active()
    if (
        preview.model.status != ScoringModel.Status.DRAFT
        or spec_fingerprint(spec) != preview.fingerprint
        or (active.id if active else None) != preview.active_id
    ):
        logger.info("publish preview %s is out of date; chunk skipped", preview.id)
        return 0
    active_spec = selectors.model_spec(active) if active is not None else None
    counts = simulate_range(
        spec=spec,
        active_spec=active_spec,
        low=chunk.low,
        high=chunk.high,
        now=preview.scored_at,
    )
    leads = counts["leads_scored"]
    with transaction.atomic():
        counted = PublishPreviewChunk.objects.filter(
            id=chunk.id, finished_at__isnull=True
        ).update(finished_at=timezone.now(), leads=leads, counts=counts)
        if counted:
            PublishPreview.objects.filter(id=preview.id).update(done=F("done") + leads)
    if not counted:
        return 0
    _preview_finish_if_counted(preview.id)
    return leads


def _preview_finish_if_counted(preview_id: int) -> None:
    # The preview's row lock makes two chunks finishing at once add up once:
    # the second waits, then finds the preview no longer running. Each chunk
    # committed its own row before this, so one of them sees none pending.
    with transaction.atomic():
        preview = (
            PublishPreview.objects.select_for_update()
            .filter(id=preview_id, status=PublishPreview.Status.RUNNING)
            .first()
        )
        if preview is None or preview.chunks.filter(finished_at__isnull=True).exists():
            return
        counts = simulation_counts_empty()
        for part in preview.chunks.values_list("counts", flat=True):
            simulation_counts_add(counts, part)
        PublishPreview.objects.filter(id=preview.id).update(
            status=PublishPreview.Status.FINISHED,
            counts=counts,
            done=counts["leads_scored"],
            finished_at=timezone.now(),
        )
    logger.info("publish preview %s finished", preview_id)
