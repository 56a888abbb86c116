"""Running an import job chunk by chunk.

A job runs chunk by chunk (``IMPORT_CHUNK_ROWS`` records). Each chunk is one
transaction that writes its rows set-based (a fixed number of queries,
whatever the chunk size) and moves the job's counters with a conditional
UPDATE, so a job that fails or whose worker dies keeps every earlier chunk,
says which line it reached, and a redelivered task resumes after the last
committed chunk. A row is stored or rejected with its line and reason: the
rows themselves are classified and written by ``leads.imports.lead_chunks``
and ``leads.imports.touchpoint_chunks``.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
from collections.abc import Iterator
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import DateTimeField, F, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from leads.audit import audit_record
from leads.exceptions import ImportFileError
from leads.imports.chunks import ImportChunk, ImportRun
from leads.imports.lead_chunks import lead_chunk
from leads.imports.presets import LEADS
from leads.imports.reading import Record, csv_open
from leads.imports.rows import freeform_types, mapping_check
from leads.imports.touchpoint_chunks import kind_words, touchpoint_chunk
from leads.imports.values import import_time_zone
from leads.models import AuditEvent, ImportJob

logger = logging.getLogger(__name__)

Status = ImportJob.Status

#: Records per chunk: one ``touchpoints_ingest`` batch (its limit is 1,000), and
#: for leads a transaction short enough (well under a second) not to hold row
#: locks long, with bulk statements inside SQLite's variable limit.
IMPORT_CHUNK_ROWS = 1_000
#: Rejected rows kept on the job (counted beyond that, not stored): a file with
#: more is a mapping problem, and the JSON stays a few MB.
MAX_STORED_REJECTS = 10_000
MAX_STORED_NOTES = 1_000


class _JobTakenOver(Exception):
    """Another run moved the job's counters first: this run must stop."""


def import_job_run(*, job_id: int, now: dt.datetime | None = None) -> ImportJob | None:
    """Run a queued import job, or resume a running one after a worker died.

    Claims the job with a conditional UPDATE (queued or running -> running);
    a draft, finished or missing job is skipped quietly (returns None). Then
    each chunk of ``IMPORT_CHUNK_ROWS`` records commits on its own together
    with the job's counters; a chunk whose counter UPDATE finds the job moved
    on by another run is rolled back and this run stops (returns None). A dry
    run classifies every row and writes nothing but the job. An unexpected
    error marks the job failed with the line it stopped at; earlier chunks
    stay stored. Ends with an AuditEvent ("import") carrying the counts.
    Re-running a finished file is harmless: unchanged leads and duplicate
    touchpoints are counted, not written. (A resumed run does not know the
    e-mails of the chunks before it, so a repeat of one of them updates the
    lead instead of being rejected as a duplicate line.)
    """
    now = now or timezone.now()
    claimed = ImportJob.objects.filter(
        id=job_id, status__in=[Status.QUEUED, Status.RUNNING]
    ).update(
        status=Status.RUNNING,
        started_at=Coalesce(F("started_at"), Value(now, output_field=DateTimeField())),
    )
    if not claimed:
        logger.info("import job %s is not queued; skipped", job_id)
        return None
    job = ImportJob.objects.select_related("created_by").get(id=job_id)
    try:
        tz = import_time_zone(job.time_zone)
        csv_file = csv_open(bytes(job.content), encoding=job.encoding)
        plan = mapping_check(
            kind=job.kind,
            header=csv_file.header,
            mapping=job.mapping,
            keep_unmapped=job.keep_unmapped,
        )
        types = freeform_types(plan, csv_file.records()) if plan.freeform else {}
    except ImportFileError as exc:
        return _job_finish(job, status=Status.FAILED, error=str(exc), now=now)
    run = ImportRun(
        job=job,
        plan=plan,
        types=types,
        now=now,
        tz=tz,
        rejects=list(job.rejected_rows),
        notes=list(job.notes),
    )
    if job.kind != LEADS:
        run.kinds = kind_words()
    apply = lead_chunk if job.kind == LEADS else touchpoint_chunk
    records = itertools.islice(csv_file.records(), job.rows_processed, None)
    first_line = job.last_line + 1
    try:
        for batch in _batches(records):
            first_line = batch[0].line
            chunk = _chunk_commit(run, batch, apply)
            _merge(run, chunk)
    except _JobTakenOver:
        logger.warning("import job %s was taken over by another run", job_id)
        return None
    except Exception as exc:
        logger.exception("import job %s failed at line %s", job_id, first_line)
        kept = "nothing was written" if job.dry_run else "earlier rows are stored"
        error = (
            f"Stopped at line {first_line}: {exc}. Rows before line {first_line} "
            f"were processed ({kept}); fix the problem and import the file again "
            "(stored rows then count as unchanged)."
        )
        return _job_finish(job, status=Status.FAILED, error=error, now=now)
    return _job_finish(job, status=Status.DONE, now=now)


def _batches(records: Iterator[Record]) -> Iterator[list[Record]]:
    while batch := list(itertools.islice(records, IMPORT_CHUNK_ROWS)):
        yield batch


def _chunk_commit(run: ImportRun, batch: list[Record], apply: Any) -> ImportChunk:
    """Apply one chunk and move the job's counters, in one transaction.

    A concurrent insert of one of the chunk's e-mails (unique index) rolls
    the chunk back; it is then classified again once, against fresh rows.
    """
    for attempt in (1, 2):
        try:
            with transaction.atomic():
                chunk = apply(run, batch)
                chunk.records = len(batch)
                _progress_save(run, chunk, last_line=batch[-1].line)
            return chunk
        except IntegrityError:
            if attempt == 2:
                raise
            logger.info(
                "import job %s: concurrent write in lines %s-%s; retrying",
                run.job.id,
                batch[0].line,
                batch[-1].line,
            )
    raise AssertionError("unreachable")


def _progress_save(run: ImportRun, chunk: ImportChunk, *, last_line: int) -> None:
    """Conditional UPDATE of the counters; _JobTakenOver if another run moved them."""
    job = run.job
    updates: dict[str, Any] = {
        "rows_processed": F("rows_processed") + chunk.records,
        "rows_created": F("rows_created") + chunk.created,
        "rows_updated": F("rows_updated") + chunk.updated,
        "rows_unchanged": F("rows_unchanged") + chunk.unchanged,
        "rows_rejected": F("rows_rejected") + len(chunk.rejects),
        "cells_refused": F("cells_refused") + chunk.refused,
        "last_line": last_line,
    }
    # Rewrite the lists only when they grew and are below their cap, so a
    # file full of rejects costs at most MAX_STORED_REJECTS entries per write.
    if chunk.rejects and len(run.rejects) < MAX_STORED_REJECTS:
        rejects = sorted(chunk.rejects, key=lambda r: r["line"])
        updates["rejected_rows"] = (run.rejects + rejects)[:MAX_STORED_REJECTS]
    if chunk.notes and len(run.notes) < MAX_STORED_NOTES:
        updates["notes"] = (run.notes + chunk.notes)[:MAX_STORED_NOTES]
    moved = ImportJob.objects.filter(
        id=job.id, status=Status.RUNNING, rows_processed=job.rows_processed
    ).update(**updates)
    if moved != 1:
        raise _JobTakenOver


def _merge(run: ImportRun, chunk: ImportChunk) -> None:
    job = run.job
    job.rows_processed += chunk.records
    job.rows_created += chunk.created
    job.rows_updated += chunk.updated
    job.rows_unchanged += chunk.unchanged
    job.rows_rejected += len(chunk.rejects)
    job.cells_refused += chunk.refused
    rejects = sorted(chunk.rejects, key=lambda r: r["line"])
    run.rejects = (run.rejects + rejects)[:MAX_STORED_REJECTS]
    run.notes = (run.notes + chunk.notes)[:MAX_STORED_NOTES]
    run.seen.update(chunk.seen)


@transaction.atomic
def _job_finish(
    job: ImportJob, *, status: str, now: dt.datetime, error: str = ""
) -> ImportJob:
    """Mark the job done or failed once, with its audit event."""
    finished = ImportJob.objects.filter(id=job.id, status=Status.RUNNING).update(
        status=status, error=error, finished_at=now
    )
    job.refresh_from_db()
    if finished:
        audit_record(
            at=now,
            actor=job.created_by,
            action=AuditEvent.Action.IMPORT,
            details={
                "job_id": job.id,
                "kind": job.kind,
                "filename": job.filename,
                "dry_run": job.dry_run,
                "status": job.status,
                "rows": job.rows_total,
                "processed": job.rows_processed,
                "created": job.rows_created,
                "updated": job.rows_updated,
                "unchanged": job.rows_unchanged,
                "rejected": job.rows_rejected,
                "refused": job.cells_refused,
                "last_line": job.last_line,
            },
        )
        logger.info(
            "import job %s %s: %s created, %s updated, %s unchanged, %s rejected",
            job.id,
            job.status,
            job.rows_created,
            job.rows_updated,
            job.rows_unchanged,
            job.rows_rejected,
        )
    return job
