"""A person's data across apps: export (right of access) and erasure (GDPR).

Both combine apps, so they live in ``crm`` (which may import from every app).
Each app contributes through two plain lists below, in this module:

- ``EXPORT_SECTIONS``: ``(key, function(lead) -> JSON-ready value)``; the key
  is a top-level key of the export. List-valued sections are counted in the
  audit event.
- ``ERASE_STEPS``: ``function(*, lead, now) -> dict[str, int]`` run in the
  erase transaction with the lead locked; the counts go into the audit event.

The handoff sections export the lead's handoffs, their events, contact
attempts and sales outcomes; its erase step blanks their free text (SDR and
sales feedback, attempt notes), which may describe the person, and keeps the
rows, whose counts, times and reasons the reports need. The scoring sections
export the lead's scores with their breakdowns and the score history; its
erase step takes the matched values (a job title, an attribute) out of the
breakdowns. Leads merged into this one are the same person: they are
exported with it and erased with it.

Outside the lead's rows, a full database dump would still show the person in
two places, and erasure reaches both: the stored CSV files of imports (the
person's records are blanked in place, cell by cell, so line numbers and row
counts stay; the job's rejected rows and notes that name the e-mail are
blanked too), and the admin's change log (its ``object_repr`` is the lead's
name). Audit rows hold ids, codes and counts only and stay as they are.

Copies the person leaves in other systems' data are reached too: external
ids of touchpoints built from their address or name, an account made from
their own domain, stage reasons a person typed, and error messages of failed
tasks (``leads.erasure`` describes the rules).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from crm.models import FailedTask
from handoff.models import ContactAttempt, Handoff, HandoffEvent, SalesOutcome
from leads.audit import audit_record
from leads.erasure import (
    account_personal_name_erase,
    lead_personal_data_erase,
    person_identifiers,
    redact_person,
    stage_reasons_erase,
    touchpoint_external_ids_erase,
)
from leads.exceptions import ImportFileError
from leads.imports.reading import csv_open
from leads.locks import lock_leads
from leads.models import AuditEvent, ImportJob, Lead, StageTransition, Touchpoint
from scoring.models import LeadScore, LeadScoreHistory

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

logger = logging.getLogger(__name__)


def _jsonable(value: Any) -> Any:
    """Times in ISO 8601 (UTC as ``Z``), decimals as strings: as the API shows them."""
    if isinstance(value, dt.date | dt.time):
        text = value.isoformat()
        return text.removesuffix("+00:00") + "Z" if text.endswith("+00:00") else text
    if isinstance(value, Decimal):
        return str(value)
    return value


# Export sections
# ------------------------------------------------------------------------------


def lead_export_section(lead: Lead) -> dict[str, Any]:
    """Every stored field of the lead; the owner by username, the account by id."""
    data: dict[str, Any] = {}
    for model_field in Lead._meta.concrete_fields:
        if model_field.name == "owner":
            value = lead.owner.get_username() if lead.owner_id else None
        else:
            value = getattr(lead, model_field.attname)
        data[model_field.name] = _jsonable(value)
    return data


def account_export_section(lead: Lead) -> dict[str, str] | None:
    """The company the lead belongs to (name and domain), or None."""
    if lead.account_id is None:
        return None
    return {"name": lead.account.name, "domain": lead.account.domain}


def touchpoints_export_section(lead: Lead) -> list[dict[str, Any]]:
    """All the lead's touchpoints with their properties, oldest first."""
    touchpoints = (
        Touchpoint.objects.filter(lead_id=lead.id)
        .select_related("campaign")
        .order_by("occurred_at", "id")
    )
    return [
        {
            "id": t.id,
            "kind": t.kind_id,
            "occurred_at": _jsonable(t.occurred_at),
            "campaign": t.campaign.name if t.campaign_id else None,
            "properties": t.properties,
            "source": t.source,
            "external_id": t.external_id,
            "received_at": _jsonable(t.received_at),
        }
        for t in touchpoints.iterator(chunk_size=2_000)
    ]


def stage_history_export_section(lead: Lead) -> list[dict[str, Any]]:
    """The lead's lifecycle moves, oldest first, with who or what and why."""
    transitions = (
        StageTransition.objects.filter(lead_id=lead.id)
        .select_related("actor")
        .order_by("at", "id")
    )
    return [
        {
            "from_stage": t.from_stage,
            "to_stage": t.to_stage,
            "at": _jsonable(t.at),
            "actor": t.actor_display,
            "reason": t.reason,
        }
        for t in transitions
    ]


def _username(user: Any) -> str | None:
    return user.get_username() if user is not None else None


def handoffs_export_section(lead: Lead) -> list[dict[str, Any]]:
    """The lead's handoffs, oldest first: SLA, who, times, decision, feedback."""
    handoffs = (
        Handoff.objects.filter(lead_id=lead.id)
        .select_related("sla", "assigned_to", "decided_by", "owner", "reason")
        .order_by("created_at", "id")
    )
    return [
        {
            "id": h.id,
            "sequence": h.sequence,
            "previous": h.previous_id,
            "sla": h.sla.name,
            "status": h.status,
            "assigned_to": _username(h.assigned_to),
            "mql_at": _jsonable(h.mql_at),
            "created_at": _jsonable(h.created_at),
            "due_at": _jsonable(h.due_at),
            "first_attempt_at": _jsonable(h.first_attempt_at),
            "expired_at": _jsonable(h.expired_at),
            "decided_at": _jsonable(h.decided_at),
            "decided_by": _username(h.decided_by),
            "reason": h.reason.code if h.reason_id else None,
            "feedback": h.feedback,
            "owner": _username(h.owner),
            "follow_up_due_at": _jsonable(h.follow_up_due_at),
            "followed_up_at": _jsonable(h.followed_up_at),
            "score": _jsonable(h.score),
            "grade": h.grade,
        }
        for h in handoffs
    ]


def contact_attempts_export_section(lead: Lead) -> list[dict[str, Any]]:
    """The SDRs' and reps' attempts to reach the person, oldest first."""
    attempts = (
        ContactAttempt.objects.filter(handoff__lead_id=lead.id)
        .select_related("user")
        .order_by("at", "id")
    )
    return [
        {
            "handoff": a.handoff_id,
            "channel": a.channel,
            "outcome": a.outcome,
            "note": a.note,
            "at": _jsonable(a.at),
            "user": _username(a.user),
        }
        for a in attempts
    ]


def sales_outcomes_export_section(lead: Lead) -> list[dict[str, Any]]:
    """The sales reps' moves of the lead, oldest first, with reason and feedback."""
    outcomes = (
        SalesOutcome.objects.filter(lead_id=lead.id)
        .select_related("reason", "actor")
        .order_by("at", "id")
    )
    return [
        {
            "handoff": o.handoff_id,
            "from_stage": o.from_stage,
            "to_stage": o.to_stage,
            "reason": o.reason.code if o.reason_id else None,
            "feedback": o.feedback,
            "actor": _username(o.actor),
            "at": _jsonable(o.at),
        }
        for o in outcomes
    ]


def handoff_events_export_section(lead: Lead) -> list[dict[str, Any]]:
    """The steps of the lead's handoffs (assigned, reminded, decided ...)."""
    events = (
        HandoffEvent.objects.filter(handoff__lead_id=lead.id)
        .select_related("actor")
        .order_by("at", "id")
    )
    return [
        {
            "handoff": e.handoff_id,
            "kind": e.kind,
            "at": _jsonable(e.at),
            "actor": _username(e.actor),
            "detail": e.detail,
        }
        for e in events
    ]


def scores_export_section(lead: Lead) -> list[dict[str, Any]]:
    """The lead's score under each scoring model, with the breakdown."""
    scores = (
        LeadScore.objects.filter(lead_id=lead.id)
        .select_related("model")
        .order_by("computed_at", "id")
    )
    return [
        {
            "model": str(s.model),
            "total": _jsonable(s.total),
            "fit_score": _jsonable(s.fit_score),
            "engagement_score": _jsonable(s.engagement_score),
            "grade": s.grade,
            "breakdown": s.breakdown,
            "gated_by": s.gated_by,
            "computed_at": _jsonable(s.computed_at),
        }
        for s in scores
    ]


def score_history_export_section(lead: Lead) -> list[dict[str, Any]]:
    """The lead's total each time it changed, oldest first."""
    history = (
        LeadScoreHistory.objects.filter(lead_id=lead.id)
        .select_related("model")
        .order_by("at", "id")
    )
    return [
        {
            "model": str(h.model),
            "total": _jsonable(h.total),
            "fit_score": _jsonable(h.fit_score),
            "engagement_score": _jsonable(h.engagement_score),
            "at": _jsonable(h.at),
        }
        for h in history
    ]


def merged_leads_export_section(lead: Lead) -> list[dict[str, Any]]:
    """Leads merged into this one as duplicates: the same person's other rows."""
    return [
        lead_export_section(duplicate)
        for duplicate in Lead.objects.filter(id__in=_merged_ids(lead.id))
        .select_related("owner")
        .order_by("id")
    ]


def audit_events_export_section(lead: Lead) -> list[dict[str, Any]]:
    """What was done to the lead's data and by whom (exports, erasures ...)."""
    events = (
        AuditEvent.objects.filter(lead_id=lead.id)
        .select_related("actor")
        .order_by("at", "id")
    )
    return [
        {
            "action": e.action,
            "at": _jsonable(e.at),
            "actor": _username(e.actor),
            "details": e.details,
        }
        for e in events
    ]


def _merged_ids(lead_id: int) -> list[int]:
    """Ids of the leads merged into ``lead_id``, directly or through another."""
    found: list[int] = []
    frontier = [lead_id]
    while frontier:
        frontier = list(
            Lead.objects.filter(merged_into_id__in=frontier)
            .exclude(id__in=[lead_id, *found])
            .values_list("id", flat=True)
        )
        found.extend(frontier)
    return sorted(found)


ExportSection = Callable[[Lead], Any]

#: The export's top-level keys, in order. Every model that points at a lead
#: (or at its handoffs) has a section; tests/security/test_erase_dump.py
#: fails when a new one does not.
EXPORT_SECTIONS: list[tuple[str, ExportSection]] = [
    ("lead", lead_export_section),
    ("account", account_export_section),
    ("touchpoints", touchpoints_export_section),
    ("stage_history", stage_history_export_section),
    ("scores", scores_export_section),
    ("score_history", score_history_export_section),
    ("handoffs", handoffs_export_section),
    ("handoff_events", handoff_events_export_section),
    ("contact_attempts", contact_attempts_export_section),
    ("sales_outcomes", sales_outcomes_export_section),
    ("merged_leads", merged_leads_export_section),
    ("audit_events", audit_events_export_section),
]


# Erase steps
# ------------------------------------------------------------------------------


def handoff_personal_data_erase(*, lead: Lead, now: dt.datetime) -> dict[str, int]:
    """Blank the free text the handoffs hold about the person; keep the rows.

    Precondition: inside the erase transaction with ``lead`` locked and not
    yet erased. Blanks the SDRs' feedback on the lead's handoffs, the notes of
    their contact attempts and the reps' feedback on sales outcomes, and
    takes that feedback out of the stage transitions whose reason quotes it
    (the handoff services write "Rejected by SDR: <reason> (<feedback>)");
    the snapshot of the score keeps which rules matched and their points but
    not the matched values (a job title, a domain). Statuses, SLAs, times,
    people, reasons, channels and outcomes stay, so reports still count
    them. Returns counts for the audit event.
    """
    handoffs = Handoff.objects.filter(lead_id=lead.id)
    outcomes = SalesOutcome.objects.filter(lead_id=lead.id)
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
    lead_personal_data_erase,
]


# Services
# ------------------------------------------------------------------------------


@transaction.atomic
def lead_personal_data_export(
    *,
    lead: Lead,
    actor: AbstractBaseUser | None,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Everything stored about the lead's person, as a JSON-ready dict.

    Keys: ``exported_at`` and one per ``EXPORT_SECTIONS`` entry. Writes an
    AuditEvent (action ``export``, the actor, the lead id and the number of
    items in each list section; never the personal data itself). Callers hide
    erased leads (the API answers 404); given one, this exports what is left.
    Every call audits, so exporting twice writes two events.
    """
    at = now or timezone.now()
    export: dict[str, Any] = {"exported_at": _jsonable(at)}
    for key, section in EXPORT_SECTIONS:
        export[key] = section(lead)
    counts = {
        key: len(value) for key, value in export.items() if isinstance(value, list)
    }
    audit_record(
        at=at,
        actor=actor,
        action=AuditEvent.Action.EXPORT,
        lead_id=lead.id,
        details={"counts": counts},
    )
    logger.info(
        "lead %s: personal data exported by user %s",
        lead.id,
        getattr(actor, "pk", None),
    )
    return export


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
    times and reasons stay for reports; see the module docstring for the
    score, import and admin log steps), then writes one AuditEvent (action
    ``erase``, counts summed, the merged ids in ``merged_leads``).
    A lead erased before is left as it is (same ``erased_at``) and the call
    is still audited, with ``already_erased``. Returns the locked, current
    lead. Raises Lead.DoesNotExist when the row is gone.
    """
    at = now or timezone.now()
    merged = _merged_ids(lead.id)
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
