"""Import jobs before they run: upload a file as a draft, start it with its
column mapping, create a queued job in one step (the commands), queue a
finished job again, and fail a draft that can no longer be read.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from leads.exceptions import ImportFileError
from leads.imports.presets import LEADFLOW, mapping_suggest
from leads.imports.reading import CsvFile, csv_open
from leads.imports.rows import mapping_check
from leads.imports.values import import_time_zone
from leads.models import ImportJob
from leads.tasks import import_csv_task

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

logger = logging.getLogger(__name__)

Status = ImportJob.Status


def _checked_file(content: bytes, encoding: str) -> tuple[CsvFile, int]:
    csv_file = csv_open(content, encoding=encoding)
    total = csv_file.count()
    if not total:
        raise ImportFileError("The file has a header row but no data rows.")
    return csv_file, total


@transaction.atomic
def import_job_upload(
    *,
    kind: str,
    filename: str,
    content: bytes,
    encoding: str = "utf-8",
    time_zone: str = "",
    preset: str = LEADFLOW,
    dry_run: bool = False,
    created_by: AbstractBaseUser | None = None,
    now: dt.datetime | None = None,
) -> ImportJob:
    """Store an uploaded file as a draft job that waits for its column mapping.

    Reads the whole file once to check it; ImportFileError (nothing stored)
    says what is wrong with it or with ``time_zone`` (the zone of dates that
    give none; "" refuses such dates row by row). The draft carries the
    preset's suggested mapping. Start it with ``import_job_start``.
    """
    import_time_zone(time_zone)
    csv_file, total = _checked_file(content, encoding)
    job = ImportJob.objects.create(
        kind=kind,
        filename=filename[:255],
        content=content,
        encoding=encoding,
        time_zone=time_zone,
        preset=preset,
        mapping=mapping_suggest(csv_file.header, kind=kind, preset=preset),
        dry_run=dry_run,
        status=Status.DRAFT,
        rows_total=total,
        columns=csv_file.header,
        created_by=created_by,
        created_at=now or timezone.now(),
    )
    logger.info("import job %s uploaded: %s rows of %s", job.id, total, kind)
    return job


def _full_mapping(
    header: list[str], *, kind: str, preset: str, mapping: dict[str, str] | None
) -> dict[str, str]:
    """The preset's suggestion for every column, overridden by ``mapping``."""
    return {**mapping_suggest(header, kind=kind, preset=preset), **(mapping or {})}


@transaction.atomic
def import_job_start(
    *,
    job_id: int,
    mapping: dict[str, str],
    preset: str,
    keep_unmapped: bool,
    dry_run: bool,
) -> ImportJob:
    """Give a draft job its mapping and queue it; the task is enqueued on commit.

    ``mapping`` (CSV column -> field, "" to skip) overrides the preset's
    suggestion column by column. ImportFileError (nothing changed) when the
    mapping cannot work. Claims the draft with a conditional UPDATE: a second
    start of the same job (a double submit) changes and enqueues nothing and
    returns the job as the first start left it. Raises ImportJob.DoesNotExist.
    """
    job = ImportJob.objects.only("id", "kind", "columns", "status").get(id=job_id)
    full = _full_mapping(job.columns, kind=job.kind, preset=preset, mapping=mapping)
    mapping_check(
        kind=job.kind, header=job.columns, mapping=full, keep_unmapped=keep_unmapped
    )
    claimed = ImportJob.objects.filter(id=job_id, status=Status.DRAFT).update(
        status=Status.QUEUED,
        mapping=full,
        preset=preset,
        keep_unmapped=keep_unmapped,
        dry_run=dry_run,
    )
    if claimed:
        import_csv_task.delay_on_commit(job_id)
        logger.info("import job %s queued (dry run: %s)", job_id, dry_run)
    return ImportJob.objects.defer("content").get(id=job_id)


def import_draft_fail(
    *, job_id: int, error: str, now: dt.datetime | None = None
) -> None:
    """Mark a draft whose stored file can no longer be read as failed, with why.

    A draft stored before a check that now refuses it (say, an encoding that
    is not a character set) would otherwise break its mapping page on every
    visit. A conditional UPDATE (draft -> failed): a started job is left
    alone. Nothing was imported, so no audit event.
    """
    failed = ImportJob.objects.filter(id=job_id, status=Status.DRAFT).update(
        status=Status.FAILED, error=error, finished_at=now or timezone.now()
    )
    if failed:
        logger.info("import draft %s cannot be read; marked failed", job_id)


@transaction.atomic
def import_job_create(
    *,
    kind: str,
    filename: str,
    content: bytes,
    encoding: str = "utf-8",
    time_zone: str = "",
    preset: str = LEADFLOW,
    mapping: dict[str, str] | None = None,
    keep_unmapped: bool = False,
    dry_run: bool = False,
    created_by: AbstractBaseUser | None = None,
    enqueue: bool = True,
    now: dt.datetime | None = None,
) -> ImportJob:
    """Check a file and its mapping and store a queued job in one step.

    For the management commands: ``mapping`` overrides the preset's
    suggestion per column; ``time_zone`` as in ``import_job_upload``.
    ImportFileError (nothing stored) for a bad file, mapping or time zone.
    With ``enqueue`` the task is enqueued on commit; without, the caller runs
    the job itself with ``import_job_run``.
    """
    import_time_zone(time_zone)
    csv_file, total = _checked_file(content, encoding)
    full = _full_mapping(csv_file.header, kind=kind, preset=preset, mapping=mapping)
    mapping_check(
        kind=kind, header=csv_file.header, mapping=full, keep_unmapped=keep_unmapped
    )
    job = ImportJob.objects.create(
        kind=kind,
        filename=filename[:255],
        content=content,
        encoding=encoding,
        time_zone=time_zone,
        preset=preset,
        mapping=full,
        keep_unmapped=keep_unmapped,
        dry_run=dry_run,
        status=Status.QUEUED,
        rows_total=total,
        columns=csv_file.header,
        created_by=created_by,
        created_at=now or timezone.now(),
    )
    if enqueue:
        import_csv_task.delay_on_commit(job.id)
    logger.info("import job %s created: %s rows of %s", job.id, total, kind)
    return job


@transaction.atomic
def import_job_rerun(
    *,
    job_id: int,
    created_by: AbstractBaseUser | None,
    dry_run: bool = False,
    now: dt.datetime | None = None,
) -> ImportJob:
    """Queue a new job with the file and mapping of a finished one.

    The usual use: run for real what a dry run checked. Raises
    ImportFileError when the job is not finished, ImportJob.DoesNotExist.
    """
    source = ImportJob.objects.get(id=job_id)
    if not source.is_finished:
        raise ImportFileError("Wait until this import has finished.")
    job = ImportJob.objects.create(
        kind=source.kind,
        filename=source.filename,
        content=source.content,
        encoding=source.encoding,
        time_zone=source.time_zone,
        preset=source.preset,
        mapping=source.mapping,
        keep_unmapped=source.keep_unmapped,
        dry_run=dry_run,
        status=Status.QUEUED,
        rows_total=source.rows_total,
        columns=source.columns,
        created_by=created_by,
        created_at=now or timezone.now(),
    )
    import_csv_task.delay_on_commit(job.id)
    logger.info("import job %s queued again as job %s", job_id, job.id)
    return job
