"""A person's data across apps: export (right of access) and erasure (GDPR).

Both combine apps, so they live in ``crm`` (which may import from every app).
Each app contributes through two plain lists below, in this module:

- ``EXPORT_SECTIONS``: ``(key, function(lead) -> JSON-ready value)``; the key
  is a top-level key of the export. List-valued sections are counted in the
  audit event.
- ``ERASE_STEPS``: ``function(*, lead, now) -> dict[str, int]`` run in the
  erase transaction with the lead locked; the counts go into the audit event.

The handoff sections export the lead's handoffs, contact attempts and sales
outcomes; its erase step blanks their free text (SDR and sales feedback,
attempt notes), which may describe the person, and keeps the rows, whose
counts, times and reasons the reports need. The scoring app adds its score
history when it stores one.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from handoff.models import ContactAttempt, Handoff, SalesOutcome
from leads.erasure import lead_personal_data_erase
from leads.locks import lock_lead
from leads.models import AuditEvent, Lead, StageTransition, Touchpoint

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


def _not_stored_yet(lead: Lead) -> list[dict[str, Any]]:
    return []


ExportSection = Callable[[Lead], Any]

#: The export's top-level keys, in order. The scoring app replaces the
#: ``scores`` placeholder with its score history; until then it is an empty
#: list, so the export's shape is stable for its readers.
EXPORT_SECTIONS: list[tuple[str, ExportSection]] = [
    ("lead", lead_export_section),
    ("account", account_export_section),
    ("touchpoints", touchpoints_export_section),
    ("stage_history", stage_history_export_section),
    ("scores", _not_stored_yet),
    ("handoffs", handoffs_export_section),
    ("contact_attempts", contact_attempts_export_section),
    ("sales_outcomes", sales_outcomes_export_section),
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


EraseStep = Callable[..., dict[str, int]]

#: Run in order inside the erase transaction. Other apps' steps go before the
#: leads step, so they still see the lead as it was.
ERASE_STEPS: list[EraseStep] = [handoff_personal_data_erase, lead_personal_data_erase]


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
    AuditEvent.objects.create(
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

    In one transaction: locks the lead (``lock_lead``), runs ``ERASE_STEPS``
    (the handoff step blanks feedback, attempt notes and the feedback quoted
    in stage reasons; the leads step replaces the e-mail by
    ``erased-<id>@erased.invalid``, blanks names, phone, job title, UTM term
    and content and attributes, sets ``erased_at`` and empties every
    touchpoint's properties; stage, history, seniority, country, region,
    account link, touchpoint kinds, times and campaigns, and handoff statuses,
    times and reasons stay for reports), then writes an AuditEvent (action
    ``erase``).
    A lead erased before is left as it is (same ``erased_at``) and the call
    is still audited, with ``already_erased``. Returns the locked, current
    lead. Raises Lead.DoesNotExist when the row is gone.
    """
    at = now or timezone.now()
    locked = lock_lead(lead.id)
    details: dict[str, Any] = {"already_erased": locked.erased_at is not None}
    if locked.erased_at is None:
        for step in ERASE_STEPS:
            details.update(step(lead=locked, now=at))
    AuditEvent.objects.create(
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
