"""Write use-cases of CSV imports: store, start and run import jobs.

A job runs chunk by chunk (``IMPORT_CHUNK_ROWS`` records). Each chunk is one
transaction that writes its rows set-based (a fixed number of queries,
whatever the chunk size) and moves the job's counters with a conditional
UPDATE, so a job that fails or whose worker dies keeps every earlier chunk,
says which line it reached, and a redelivered task resumes after the last
committed chunk. A row is stored or rejected with its line and reason.

Leads are created or updated by e-mail (any letter case). Imported lifecycle
stages of new leads become history transitions made by the import
(``system_actor="import"``) along the funnel, via
``leads.lifecycle.history_replay``; an existing lead's history is never
rewritten, and neither is its owner (``lead_owner_change_problem``): that
cell is left out, noted with its line and counted (``cells_refused``) while
the rest of the row is applied. Dates without an offset are read in the
job's ``time_zone``, or rejected row by row when it has none. Touchpoints go
through ``leads.ingestion.touchpoints_ingest`` with
``source="import"``, so re-running a file with external ids stores nothing
twice.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import DateTimeField, F, Q, Value
from django.db.models.functions import Coalesce, Concat, Lower
from django.utils import timezone

from leads.audit import audit_record
from leads.domains import account_domain_candidates
from leads.exceptions import ImportFileError
from leads.imports.presets import LEADFLOW, LEADS, mapping_suggest, normalize_word
from leads.imports.reading import CsvFile, Record, csv_open
from leads.imports.rows import (
    ColumnPlan,
    LeadRow,
    RowRejected,
    TouchpointRow,
    freeform_types,
    import_time_zone,
    lead_row_clean,
    mapping_check,
    touchpoint_row_clean,
)
from leads.ingestion import TouchpointIn, accounts_for_domains, touchpoints_ingest
from leads.lifecycle import FUNNEL, HistoryStep, history_replay, stage_rank
from leads.locks import lock_leads
from leads.models import (
    Account,
    AuditEvent,
    Campaign,
    ImportJob,
    Lead,
    Stage,
    StageTransition,
    Touchpoint,
    TouchpointKind,
)
from leads.services import (
    lead_fields_apply,
    lead_owner_change_problem,
    leads_mark_for_rescore,
)
from leads.tasks import import_csv_task

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

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
#: ``system_actor`` of imported stage transitions and ``source`` of touchpoints.
IMPORT_ACTOR = "import"

#: Lead columns compared to tell an updated lead from an unchanged one.
_COMPARED = (
    "first_name",
    "last_name",
    "job_title",
    "seniority_override",
    "seniority",
    "department",
    "phone",
    "country",
    "region",
    "source",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "owner_id",
    "account_id",
    "do_not_email",
    "do_not_call",
    "attributes",
)
_COLUMN_OF = {"owner_id": "owner", "account_id": "account"}
_ACCOUNT_FIELDS = ("name", "industry", "employee_count", "annual_revenue")


class _JobTakenOver(Exception):
    """Another run moved the job's counters first: this run must stop."""


# Creating and starting jobs
# ------------------------------------------------------------------------------


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


# Running a job
# ------------------------------------------------------------------------------


@dataclass
class _Run:
    """What a run carries from chunk to chunk (committed state only)."""

    job: ImportJob
    plan: ColumnPlan
    types: dict[int, str]
    now: dt.datetime
    tz: dt.tzinfo | None
    rejects: list[dict[str, Any]]
    notes: list[dict[str, Any]]
    # E-mails (leads) / external ids (touchpoints) seen -> their first line.
    seen: dict[str, int] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)


@dataclass
class _Chunk:
    """The outcome of one chunk, merged into the run after it commits."""

    records: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    refused: int = 0
    rejects: list[dict[str, Any]] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)
    seen: dict[str, int] = field(default_factory=dict)

    def reject(self, line: int, cells: list[str], reason: str) -> None:
        # jsonb cannot hold NUL: keep the rejected row visible with U+FFFD.
        row = [cell.replace("\x00", "\ufffd") for cell in cells]
        self.rejects.append({"line": line, "reason": reason, "row": row})

    def note(self, line: int, message: str) -> None:
        self.notes.append({"line": line, "message": message})

    def refuse(self, line: int, message: str) -> None:
        """A cell of a stored row that was not applied: counted and noted."""
        self.refused += 1
        self.note(line, message)


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
    run = _Run(
        job=job,
        plan=plan,
        types=types,
        now=now,
        tz=tz,
        rejects=list(job.rejected_rows),
        notes=list(job.notes),
    )
    if job.kind != LEADS:
        run.kinds = _kind_words()
    apply = _lead_chunk if job.kind == LEADS else _touchpoint_chunk
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


def _chunk_commit(run: _Run, batch: list[Record], apply: Any) -> _Chunk:
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


def _progress_save(run: _Run, chunk: _Chunk, *, last_line: int) -> None:
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


def _merge(run: _Run, chunk: _Chunk) -> None:
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


# Leads
# ------------------------------------------------------------------------------

#: Stands for an account a dry run would create: the lead would change.
_PENDING_ACCOUNT = Account(name="(to be created)")


def import_path(stage: str, at: dt.datetime) -> list[HistoryStep]:
    """The moves that bring a new lead from ``lead`` to an imported stage.

    Along the funnel (``customer`` passes mql, sal, sql and opportunity) so
    funnel reports count the lead at every stage; ``nurture`` and
    ``disqualified`` are one step from ``lead``. All at ``at``, the lead's
    created date: the other CRM does not say when each stage was reached.
    """
    reason = f"Imported as {stage}"
    if stage in (Stage.NURTURE, Stage.DISQUALIFIED):
        return [HistoryStep(stage, at, reason)]
    return [HistoryStep(s, at, reason) for s in FUNNEL[1 : stage_rank(stage) + 1]]


def _lead_chunk(run: _Run, records: list[Record]) -> _Chunk:
    """Classify and (unless a dry run) store one chunk of lead records.

    Queries, whatever the number of rows: owners (1), existing leads (1, plus
    1 to lock them), accounts (1-3), then one bulk statement each for changed
    accounts, new leads, their transitions, changed leads and rescore marks.
    """
    chunk = _Chunk()
    rows: list[LeadRow] = []
    for record in records:
        try:
            rows.append(
                lead_row_clean(
                    record, plan=run.plan, types=run.types, now=run.now, tz=run.tz
                )
            )
        except RowRejected as exc:
            chunk.reject(record.line, record.cells, str(exc))
    rows = _owners_attach(rows, run, chunk)
    rows = _first_occurrences(rows, run, chunk)
    existing = _leads_existing([r.email for r in rows], lock=not run.job.dry_run)
    kept: list[LeadRow] = []
    for row in rows:
        lead = existing.get(row.email.lower())
        if lead is not None and lead.erased_at is not None:
            chunk.reject(
                row.line,
                row.cells,
                f"The personal data of {row.email} was erased on request; it is not "
                "imported again.",
            )
        else:
            kept.append(row)
    accounts = _accounts_resolve(kept, existing, create=not run.job.dry_run)

    new_leads: list[Lead] = []
    transitions: list[StageTransition] = []
    changed_leads: list[Lead] = []
    lead_columns: set[str] = set()
    changed_accounts: dict[int, Account] = {}
    account_columns: set[str] = set()
    for row in kept:
        lead = existing.get(row.email.lower())
        account = accounts.get(row.line)
        account_changes = _account_apply(account, row.account)
        if account_changes and account is not None and account.pk:
            changed_accounts[account.pk] = account
            account_columns.update(account_changes)
        if lead is None:
            lead, steps = _lead_new(row, account, now=run.now)
            new_leads.append(lead)
            transitions.extend(steps)
            chunk.created += 1
            continue
        _owner_keep(lead, row, run, chunk)
        columns = _lead_change(lead, row, account)
        if columns:
            changed_leads.append(lead)
            lead_columns.update(columns)
        if columns or account_changes or account is _PENDING_ACCOUNT:
            chunk.updated += 1
        else:
            chunk.unchanged += 1
        if row.stage and row.stage != lead.stage:
            chunk.note(
                row.line,
                f"Stage kept: the lead is already {lead.stage} (the file says "
                f"{row.stage_word!r}); an import never rewrites history.",
            )
    if run.job.dry_run:
        return chunk

    for account in changed_accounts.values():
        account.updated_at = run.now
    if changed_accounts:
        Account.objects.bulk_update(
            list(changed_accounts.values()),
            fields=sorted(account_columns | {"updated_at"}),
        )
    # bulk_create sets the ids (RETURNING on PostgreSQL and SQLite 3.35+),
    # which the transitions need.
    Lead.objects.bulk_create(new_leads)
    StageTransition.objects.bulk_create(transitions)
    for lead in changed_leads:
        lead.updated_at = run.now
    if changed_leads:
        fields = sorted({_COLUMN_OF.get(c, c) for c in lead_columns} | {"updated_at"})
        Lead.objects.bulk_update(changed_leads, fields=fields)
    leads_mark_for_rescore([lead.id for lead in new_leads + changed_leads], now=run.now)
    return chunk


def _owners_attach(rows: list[LeadRow], run: _Run, chunk: _Chunk) -> list[LeadRow]:
    """Resolve owner names to active users (one query); reject the unknown."""
    wanted = {row.owner.lower() for row in rows if row.owner}
    if not wanted:
        return rows
    users = (
        get_user_model()
        .objects.filter(is_active=True)
        .annotate(full_name=Lower(Concat("first_name", Value(" "), "last_name")))
        .filter(
            Q(username__lower__in=wanted)
            | Q(email__lower__in=wanted)
            | Q(full_name__in=wanted)
        )
    )
    matches: dict[str, set[int]] = {}
    by_id = {}
    for user in users:
        by_id[user.pk] = user
        for key in {user.username.lower(), user.email.lower(), user.full_name}:
            matches.setdefault(key, set()).add(user.pk)
    column = run.plan.header[run.plan.column_of("owner") or 0]
    kept = []
    for row in rows:
        if not row.owner:
            kept.append(row)
            continue
        found = matches.get(row.owner.lower(), set())
        if len(found) == 1:
            row.fields["owner"] = by_id[next(iter(found))]
            kept.append(row)
        elif found:
            chunk.reject(
                row.line,
                row.cells,
                f"{column}: {row.owner!r} matches {len(found)} users; give the "
                "username or e-mail instead.",
            )
        else:
            chunk.reject(
                row.line,
                row.cells,
                f"{column}: no active user is {row.owner!r}; give a Leadflow "
                "username, e-mail or full name, or leave the column unmapped.",
            )
    return kept


def _owner_keep(lead: Lead, row: LeadRow, run: _Run, chunk: _Chunk) -> None:
    """Drop an owner the import may not give this existing lead, with a note.

    The rest of the row is still applied: the owner is refused, not the row.
    """
    if "owner" not in row.fields:
        return
    problem = lead_owner_change_problem(lead, row.fields["owner"])
    if problem:
        del row.fields["owner"]
        column = run.plan.header[run.plan.column_of("owner") or 0]
        chunk.refuse(row.line, f"{column}: {problem}")


def _first_occurrences(rows: list[LeadRow], run: _Run, chunk: _Chunk) -> list[LeadRow]:
    """Reject a second row for the same e-mail: which one should win is unclear."""
    kept = []
    for row in rows:
        key = row.email.lower()
        first = run.seen.get(key) or chunk.seen.get(key)
        if first is not None:
            chunk.reject(
                row.line,
                row.cells,
                f"The e-mail {row.email} is already on line {first} of this file; "
                "merge the two rows.",
            )
            continue
        chunk.seen[key] = row.line
        kept.append(row)
    return kept


def _leads_existing(emails: list[str], *, lock: bool) -> dict[str, Lead]:
    """Leads with these e-mails keyed by lower-cased e-mail; locked if ``lock``.

    ``email__lower__in`` uses the unique Lower(email) index. Locking (in id
    order, through leads.locks) keeps a concurrent edit from being undone by
    the bulk update that follows.
    """
    if not emails:
        return {}
    found = Lead.objects.filter(email__lower__in={e.lower() for e in emails})
    if lock:
        found = lock_leads(found.values_list("id", flat=True))
    return {lead.email.lower(): lead for lead in found}


def _accounts_resolve(
    rows: list[LeadRow], existing: dict[str, Lead], *, create: bool
) -> dict[int, Account | None]:
    """The account of each row (by line) whose account the file decides.

    The company domain column wins; else the e-mail domain (never free-mail
    nor a public suffix) for new leads, leads without an account and rows
    naming a company; else a company name matches an existing account of that
    exact name. Rows left out keep the lead's account. With ``create``
    missing domain accounts are created (``accounts_for_domains``); without
    (a dry run) they are ``_PENDING_ACCOUNT``.
    """
    domains: dict[int, str] = {}
    names: dict[int, str] = {}
    for row in rows:
        lead = existing.get(row.email.lower())
        email_domain = row.email.rpartition("@")[2].lower()
        if row.account.get("domain"):
            domains[row.line] = row.account["domain"]
        elif row.account or lead is None or lead.account_id is None:
            if account_domain_candidates(email_domain):
                domains[row.line] = email_domain
            elif row.account.get("name"):
                names[row.line] = row.account["name"]
    result: dict[int, Account | None] = {}
    if domains:
        wanted = set(domains.values())
        found = accounts_for_domains(wanted) if create else _accounts_lookup(wanted)
        for line, domain in domains.items():
            result[line] = found.get(domain) or _PENDING_ACCOUNT
    if names:
        by_name: dict[str, Account] = {}
        for account in Account.objects.filter(
            name__lower__in={n.lower() for n in names.values()}
        ).order_by("-id"):
            by_name[account.name.lower()] = account  # the oldest wins
        for line, name in names.items():
            result[line] = by_name.get(name.lower())
    return result


def _accounts_lookup(domains: set[str]) -> dict[str, Account | None]:
    """Read-only twin of accounts_for_domains (a parent domain matches too)."""

    parents = {d: account_domain_candidates(d) for d in domains}
    candidates = {c for found in parents.values() for c in found}
    found = {
        a.domain.lower(): a
        for a in Account.objects.filter(domain__lower__in=candidates)
    }
    return {
        d: next((found[c] for c in parents[d] if c in found), None) for d in domains
    }


def _account_apply(account: Account | None, values: dict[str, Any]) -> list[str]:
    """Set the account fields a row gives; return the columns that changed."""
    if account is None or account is _PENDING_ACCOUNT:
        return []
    changed = []
    for name in _ACCOUNT_FIELDS:
        if name in values and getattr(account, name) != values[name]:
            setattr(account, name, values[name])
            changed.append(name)
    return changed


def _lead_new(
    row: LeadRow, account: Account | None, *, now: dt.datetime
) -> tuple[Lead, list[StageTransition]]:
    """An unsaved lead with its imported history (unsaved transitions)."""
    at = row.created_at or now
    lead = Lead(
        email=row.email,
        source=Lead.Source.IMPORT,
        attributes=row.attributes,
        created_at=at,
        entered_lead_at=at,
        stage_changed_at=at,
    )
    # As lead_create does: seniority, department and region follow title/country.
    lead_fields_apply(lead, {"job_title": "", **row.fields})
    if account is not _PENDING_ACCOUNT:
        lead.account = account
    steps = import_path(row.stage, at) if row.stage else []
    transitions = history_replay(lead, steps, system_actor=IMPORT_ACTOR)
    return lead, transitions


def _lead_change(lead: Lead, row: LeadRow, account: Account | None) -> list[str]:
    """Apply a row to an existing lead in memory; return the changed columns.

    Blank cells change nothing (as in HubSpot and Salesforce imports), the
    title and country are set only when they differ (so a department or
    region someone set stays), attributes are merged, and the account
    changes only to a real account. The stage is never touched here.
    """
    before = {name: getattr(lead, name) for name in _COMPARED}
    fields: dict[str, Any] = {}
    for name, value in row.fields.items():
        current = lead.owner_id if name == "owner" else getattr(lead, name)
        wanted = value.pk if name == "owner" else value
        if current != wanted:
            fields[name] = value
    if account is not None and account.pk and account.pk != lead.account_id:
        fields["account"] = account
    if fields:
        lead_fields_apply(lead, fields)
    if row.attributes:
        merged = {**lead.attributes, **row.attributes}
        if merged != lead.attributes:
            lead.attributes = merged
    return [name for name in _COMPARED if getattr(lead, name) != before[name]]


# Touchpoints
# ------------------------------------------------------------------------------


def _kind_words() -> dict[str, str]:
    """Active touchpoint kinds by normalised code and label ("Page view")."""
    words: dict[str, str] = {}
    for code, label in TouchpointKind.objects.filter(is_active=True).values_list(
        "code", "label"
    ):
        words[normalize_word(code)] = code
        words.setdefault(normalize_word(label), code)
    return words


def _touchpoint_chunk(run: _Run, records: list[Record]) -> _Chunk:
    """Classify and (unless a dry run) store one chunk of touchpoint records.

    One query for the campaigns named, then ``touchpoints_ingest`` (a fixed
    number of queries for the batch); a dry run asks only which external ids
    are already stored.
    """
    chunk = _Chunk()
    rows: list[TouchpointRow] = []
    for record in records:
        try:
            rows.append(
                touchpoint_row_clean(
                    record,
                    plan=run.plan,
                    types=run.types,
                    kinds=run.kinds,
                    now=run.now,
                    tz=run.tz,
                )
            )
        except RowRejected as exc:
            chunk.reject(record.line, record.cells, str(exc))
    campaigns = _campaigns_by_name({row.campaign for row in rows if row.campaign})
    column = run.plan.header[run.plan.column_of("campaign") or 0]
    valid: list[TouchpointRow] = []
    for row in rows:
        if row.campaign and row.campaign.lower() not in campaigns:
            chunk.reject(
                row.line,
                row.cells,
                f"{column}: no campaign is named {row.campaign!r}; create it first "
                "or leave the column unmapped.",
            )
        else:
            valid.append(row)
    if run.job.dry_run:
        _touchpoints_classify(valid, run, chunk)
        return chunk
    if not valid:
        return chunk
    items = [
        TouchpointIn(
            kind=row.kind,
            occurred_at=row.occurred_at,
            lead_email=row.email,
            campaign_id=campaigns[row.campaign.lower()] if row.campaign else None,
            # A named campaign wins over UTM keys (ingestion takes one of them).
            **({} if row.campaign else row.utm),
            properties=row.properties,
            external_id=row.external_id,
        )
        for row in valid
    ]
    outcomes = touchpoints_ingest(items=items, source=IMPORT_ACTOR, now=run.now)
    for row, outcome in zip(valid, outcomes, strict=True):
        if outcome.status == "created":
            chunk.created += 1
        elif outcome.status == "duplicate":
            chunk.unchanged += 1
        else:
            reason = "; ".join(
                f"{name}: {' '.join(messages)}"
                for name, messages in (outcome.errors or {}).items()
            )
            chunk.reject(row.line, row.cells, reason)
    return chunk


def _campaigns_by_name(names: set[str]) -> dict[str, int]:
    if not names:
        return {}
    return {
        name.lower(): campaign_id
        for name, campaign_id in Campaign.objects.filter(
            name__lower__in={n.lower() for n in names}
        ).values_list("name", "id")
    }


def _touchpoints_classify(rows: list[TouchpointRow], run: _Run, chunk: _Chunk) -> None:
    """Dry run: would-create or already-stored (by external id), nothing written."""
    ids = {row.external_id for row in rows if row.external_id}
    stored = set(
        Touchpoint.objects.filter(source=IMPORT_ACTOR, external_id__in=ids).values_list(
            "external_id", flat=True
        )
    )
    for row in rows:
        key = row.external_id
        if key and (key in stored or key in run.seen or key in chunk.seen):
            chunk.unchanged += 1
            continue
        if key:
            chunk.seen[key] = row.line
        chunk.created += 1
