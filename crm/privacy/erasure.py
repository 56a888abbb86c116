"""Erasure of a person's data (GDPR): each app's step, then the service."""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from crm.models import FailedTask
from crm.privacy.export import merged_ids
from handoff.models import ContactAttempt, Handoff, SalesOutcome
from leads.attribution_marks import attribution_days_mark
from leads.audit import audit_record
from leads.erasure import (
    account_personal_name_erase,
    lead_personal_data_erase,
    person_identifiers,
    redact_person,
    stage_reasons_erase,
    touchpoint_external_ids_erase,
    tracking_history_erase,
)
from leads.exceptions import ImportFileError
from leads.imports.reading import csv_open
from leads.locks import lock_leads
from leads.models import (
    AuditEvent,
    ImportJob,
    Lead,
    OwnerChange,
    Stage,
    StageTransition,
)
from scoring.models import LeadScore

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

logger = logging.getLogger(__name__)


def handoff_personal_data_erase(*, lead: Lead, now: dt.datetime) -> dict[str, int]:
    """Blank the free text the handoffs hold about the person; keep the rows.

    Precondition: inside the erase transaction with ``lead`` locked and not
    yet erased. Blanks the SDRs' feedback on the lead's handoffs, the notes of
    their contact attempts, the reps' feedback on sales outcomes and the
    managers' reasons for handing the lead to another rep, and
    takes that feedback out of the stage transitions whose reason quotes it
    (the handoff services write "Rejected by SDR: <reason> (<feedback>)");
    the snapshot of the score keeps which rules matched and their points but
    not the matched values (a job title, a domain). Statuses, SLAs, times,
    people, reasons, channels and outcomes stay, so reports still count
    them. Returns counts for the audit event.
    """
    handoffs = Handoff.objects.filter(lead_id=lead.id)
    outcomes = SalesOutcome.objects.filter(lead_id=lead.id)
    # The erased lead leaves campaign attribution: its won deals' days too.
    attribution_days_mark(
        moments=outcomes.filter(to_stage=Stage.CUSTOMER).values_list("at", flat=True)
    )
    quoted = {
        text[:200]
        for text in [
            *handoffs.exclude(feedback="").values_list("feedback", flat=True),
            *outcomes.exclude(feedback="").values_list("feedback", flat=True),
        ]
    }
    redacted = 0
    for transition in StageTransition.objects.filter(lead_id=lead.id).exclude(
        reason=""
    ):
        for text in quoted:
            suffix = f" ({text})"
            if transition.reason.endswith(suffix):
                transition.reason = transition.reason.removesuffix(suffix)
                transition.save(update_fields=["reason"])
                redacted += 1
                break
    snapshots = 0
    for handoff in handoffs.exclude(score_breakdown=[]).only("id", "score_breakdown"):
        handoff.score_breakdown = [
            {**item, "value": None} for item in handoff.score_breakdown
        ]
        handoff.save(update_fields=["score_breakdown"])
        snapshots += 1
    counts = {
        "handoff_feedback_cleared": handoffs.exclude(feedback="").update(feedback=""),
        "attempt_notes_cleared": ContactAttempt.objects.filter(handoff__lead_id=lead.id)
        .exclude(note="")
        .update(note=""),
        "sales_feedback_cleared": outcomes.exclude(feedback="").update(feedback=""),
        "owner_change_reasons_cleared": OwnerChange.objects.filter(lead_id=lead.id)
        .exclude(reason="")
        .update(reason=""),
        "stage_reasons_redacted": redacted,
        "score_snapshots_cleared": snapshots,
    }
    logger.info("lead %s: handoff free text erased: %s", lead.id, counts)
    return counts


def _without_values(items: Any) -> Any:
    """Breakdown or gate items with the matched value taken out."""
    if not isinstance(items, list):
        return items
    return [
        {**item, "value": None} if isinstance(item, dict) and "value" in item else item
        for item in items
    ]


def score_personal_data_erase(*, lead: Lead, now: dt.datetime) -> dict[str, int]:
    """Take the matched values out of the lead's score breakdowns; keep points.

    Precondition: inside the erase transaction with ``lead`` locked. Rules,
    labels, points and occurrences stay (rule analytics count them); the
    value a rule matched (a job title, an attribute) goes. The score history
    holds numbers only and stays. Returns counts for the audit event.
    """
    cleared = 0
    for score in LeadScore.objects.filter(lead_id=lead.id).only(
        "id", "breakdown", "gated_by"
    ):
        score.breakdown = _without_values(score.breakdown)
        score.gated_by = _without_values(score.gated_by)
        score.save(update_fields=["breakdown", "gated_by"])
        cleared += 1
    return {"score_breakdowns_cleared": cleared}


#: What a blanked import record's e-mail cell is matched by: the whole cell,
#: case and surrounding blanks aside (a "mailto:" or a name in angle brackets
#: around it counts too).
def _names_person(cell: Any, email: str) -> bool:
    return email in str(cell).lower()


def _csv_redacted(job: ImportJob, email: str) -> tuple[bytes | None, int]:
    """The job's file with the person's records blanked, and how many.

    Each record with a cell naming the e-mail keeps its place and its number
    of cells, every cell emptied, so the job's line numbers, row counts and
    resume position stay right; a re-run skips it as a blank line. A file
    that cannot be read any more is dropped whole (None) if it names the
    person. Returns (None, 0) for a file that does not name them.
    """
    content = bytes(job.content)
    try:
        csv_file = csv_open(content, encoding=job.encoding)
    except ImportFileError:
        return (b"", 1) if email.encode() in content.lower() else (None, 0)
    if email not in csv_file.text.lower():
        return None, 0
    reader = csv.reader(io.StringIO(csv_file.text), delimiter=csv_file.delimiter)
    out = io.StringIO()
    writer = csv.writer(out, delimiter=csv_file.delimiter, lineterminator="\n")
    blanked = 0
    for cells in reader:
        if any(_names_person(cell, email) for cell in cells):
            cells = [""] * len(cells)
            blanked += 1
        writer.writerow(cells)
    return out.getvalue().encode(job.encoding), blanked


def import_personal_data_erase(*, lead: Lead, now: dt.datetime) -> dict[str, int]:
    """Blank the person's records in stored import files, rejects and notes.

    Precondition: inside the erase transaction with ``lead`` locked and its
    e-mail not yet replaced. Reads every job's file (imports are few and an
    erasure is rare; the files are what a dump would show). Returns counts
    for the audit event.
    """
    email = lead.email.strip().lower()
    jobs = records = 0
    for job in ImportJob.objects.only(
        "id", "content", "encoding", "rejected_rows", "notes"
    ).iterator(chunk_size=20):
        content, blanked = _csv_redacted(job, email)
        rejects = [
            {**r, "row": [], "reason": "erased"}
            if _names_person(r.get("row", ""), email)
            or _names_person(r.get("reason", ""), email)
            else r
            for r in job.rejected_rows
        ]
        notes = [
            {**n, "message": "erased"} if _names_person(n.get("message"), email) else n
            for n in job.notes
        ]
        if content is None and rejects == job.rejected_rows and notes == job.notes:
            continue
        changed = {"rejected_rows": rejects, "notes": notes}
        if content is not None:
            changed["content"] = content
        ImportJob.objects.filter(id=job.id).update(**changed)
        jobs += 1
        records += blanked
    return {"import_jobs_redacted": jobs, "import_records_blanked": records}


def admin_log_personal_data_erase(*, lead: Lead, now: dt.datetime) -> dict[str, int]:
    """Replace the lead's name in the admin's change log (``object_repr``)."""
    entries = LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Lead), object_id=str(lead.id)
    )
    return {"admin_log_redacted": entries.update(object_repr=f"Lead {lead.id}")}


def failed_task_personal_data_erase(*, lead: Lead, now: dt.datetime) -> dict[str, int]:
    """Take the person out of the error messages of failed tasks.

    A task's arguments are ids, but an exception's message may quote a
    value (an address a validator refused). Failures are few; every one
    that names the person has them replaced by ``[erased]``.
    """
    pieces = [*person_identifiers(lead), lead.phone.strip()]
    naming = Q(pk__in=[])
    for piece in filter(None, pieces):
        naming |= Q(exception_message__icontains=piece)
    redacted = 0
    for task in FailedTask.objects.filter(naming).only("id", "exception_message"):
        message = redact_person(task.exception_message, lead)
        if message != task.exception_message:
            FailedTask.objects.filter(id=task.id).update(exception_message=message)
            redacted += 1
    return {"failed_tasks_redacted": redacted}


EraseStep = Callable[..., dict[str, int]]

#: Run in order inside the erase transaction, for the lead and for each lead
#: merged into it. Other apps' steps go before the leads step, so they still
#: see the lead as it was (its e-mail finds its import records).
ERASE_STEPS: list[EraseStep] = [
    handoff_personal_data_erase,
    score_personal_data_erase,
    import_personal_data_erase,
    admin_log_personal_data_erase,
    failed_task_personal_data_erase,
    touchpoint_external_ids_erase,
    account_personal_name_erase,
    stage_reasons_erase,
    tracking_history_erase,
    lead_personal_data_erase,
]


# Service
# ------------------------------------------------------------------------------


@transaction.atomic
def lead_erase(
    *,
    lead: Lead,
    actor: AbstractBaseUser | None,
    now: dt.datetime | None = None,
) -> Lead:
    """Erase the lead's personal data in every app; keep the anonymous row.

    In one transaction: locks the lead and the leads merged into it (the
    same person's duplicates) and runs ``ERASE_STEPS`` for each
    (the handoff step blanks feedback, attempt notes and the feedback quoted
    in stage reasons; the leads step replaces the e-mail by
    ``erased-<id>@erased.invalid``, blanks names, phone, job title, UTM term
    and content and attributes, sets ``erased_at`` and empties every
    touchpoint's properties; stage, history, seniority, country, region,
    account link, touchpoint kinds, times and campaigns, and handoff statuses,
    times and reasons stay for reports; see the package docstring for the
    score, import and admin log steps), then writes one AuditEvent (action
    ``erase``, counts summed, the merged ids in ``merged_leads``).
    A lead erased before is left as it is (same ``erased_at``) and the call
    is still audited, with ``already_erased``. Returns the locked, current
    lead. Raises Lead.DoesNotExist when the row is gone.
    """
    at = now or timezone.now()
    merged = merged_ids(lead.id)
    # One lock_leads call: id order, as every other writer of several leads.
    people = list(lock_leads([lead.id, *merged]))
    locked = next((p for p in people if p.id == lead.id), None)
    if locked is None:
        raise Lead.DoesNotExist(f"Lead {lead.id} does not exist.")
    details: dict[str, Any] = {"already_erased": locked.erased_at is not None}
    for person in people:
        if person.erased_at is not None:
            continue
        for step in ERASE_STEPS:
            for key, count in step(lead=person, now=at).items():
                details[key] = details.get(key, 0) + count
    if merged:
        details["merged_leads"] = merged
    audit_record(
        at=at,
        actor=actor,
        action=AuditEvent.Action.ERASE,
        lead_id=locked.id,
        details=details,
    )
    logger.info(
        "lead %s: erasure requested by user %s (already erased: %s)",
        locked.id,
        getattr(actor, "pk", None),
        details["already_erased"],
    )
    return locked
