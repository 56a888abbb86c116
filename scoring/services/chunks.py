"""Full rescores in chunks of lead ids: planning them, running each, stalls.

A publish and the nightly decay rescore every lead as planned chunks
(RescoreChunk rows, a ``bulk`` task each); ``rescore_chunk_run`` scores one
chunk with scoring.bulk, finishes its run once, and hands a failed publish
chunk to scoring.services.publishing.rescore_run_fail.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from scoring import selectors
from scoring.models import RescoreChunk, ScoringModel
from scoring.services.rescoring import TRANSIENT_ERRORS
from scoring.services.rollups import account_scores_refresh

logger = logging.getLogger(__name__)

#: The run of a publish's rescore (the decay's runs are named by date).
PUBLISH_RUN = "publish"


def rescore_plan(
    *, model_id: int, run: str = PUBLISH_RUN, chunk_size: int | None = None
) -> list[int]:
    """Create the pending chunks of a full rescore; return their ids.

    Chunks already planned for this model and run are reused (a second call
    plans nothing new), so starting the same rescore twice is harmless.
    """
    from scoring.bulk import BULK_CHUNK_SIZE, lead_id_ranges

    ranges = lead_id_ranges(chunk_size or BULK_CHUNK_SIZE)
    RescoreChunk.objects.bulk_create(
        [
            RescoreChunk(model_id=model_id, run=run, low=low, high=high)
            for low, high in ranges
        ],
        ignore_conflicts=True,
    )
    return list(
        RescoreChunk.objects.filter(
            model_id=model_id, run=run, finished_at__isnull=True
        )
        .order_by("low")
        .values_list("id", flat=True)
    )


def rescore_chunk_run(*, chunk_id: int, now: dt.datetime | None = None) -> int:
    """Rescore one planned chunk; mark it finished once; finish the model's run.

    Skips a chunk whose model is no longer active (a newer model was
    published, or its publish failed) or that is already finished. Rerunning
    a chunk recomputes the same scores and does not count it twice. The
    chunk holds a share lock on its model's row while it writes (PostgreSQL),
    so a publish or a roll-back waits for chunks in flight, and a chunk that
    starts after them sees the model's new status. A chunk that fails with
    an error other than a transient one is recorded (rescore_run_fail)
    instead of raised: a publish's rescore is undone; transient errors are
    raised for the task to retry.
    """
    from scoring.bulk import chunk_rescore
    from scoring.services.publishing import rescore_run_fail  # builds on this module

    chunk = RescoreChunk.objects.select_related("model").filter(id=chunk_id).first()
    if chunk is None or chunk.finished_at is not None:
        return 0
    model = chunk.model
    try:
        with transaction.atomic():
            if not _model_active_shared(model.id):
                return 0
            spec = selectors.model_spec(model)
            done = chunk_rescore(
                model=model,
                spec=spec,
                low=chunk.low,
                high=chunk.high,
                now=now or timezone.now(),
            )
    except TRANSIENT_ERRORS:
        raise
    except Exception as exc:
        logger.exception(
            "rescore chunk %s of scoring model %s failed", chunk.id, model.id
        )
        rescore_run_fail(chunk_id=chunk.id, error=exc)
        return 0
    finished = RescoreChunk.objects.filter(
        id=chunk.id, finished_at__isnull=True
    ).update(finished_at=timezone.now(), leads=done)
    if (
        finished
        and not RescoreChunk.objects.filter(
            model=model, run=chunk.run, finished_at__isnull=True
        ).exists()
    ):
        account_scores_refresh(model=model, now=timezone.now())
    if finished and chunk.run == PUBLISH_RUN:
        ScoringModel.objects.filter(id=model.id).update(
            rescore_done=F("rescore_done") + done
        )
        if not RescoreChunk.objects.filter(
            model=model, run=PUBLISH_RUN, finished_at__isnull=True
        ).exists():
            ScoringModel.objects.filter(
                id=model.id, rescore_finished_at__isnull=True
            ).update(rescore_finished_at=timezone.now())
    return done


def _model_active_shared(model_id: int) -> bool:
    """Whether the model is active, read under a share lock on its row (to the
    end of the transaction) on PostgreSQL: chunks of one run do not wait for
    each other, a change of the model's status waits for them."""
    if connection.vendor != "postgresql":
        return ScoringModel.objects.filter(
            id=model_id, status=ScoringModel.Status.ACTIVE
        ).exists()
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT status FROM {ScoringModel._meta.db_table} "  # nosec B608: name from model meta
            "WHERE id = %s FOR SHARE",
            [model_id],
        )
        row = cursor.fetchone()
    return row is not None and row[0] == ScoringModel.Status.ACTIVE


def chunks_stalled(
    *, older_than: dt.timedelta, now: dt.datetime | None = None
) -> list[int]:
    """Pending chunks of the active model planned longer ago than ``older_than``."""
    now = now or timezone.now()
    return list(
        RescoreChunk.objects.filter(
            model__status=ScoringModel.Status.ACTIVE,
            finished_at__isnull=True,
            created_at__lt=now - older_than,
        ).values_list("id", flat=True)
    )
