"""Export of a person's data (right of access): one section per kind of row."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db import models, transaction
from django.db.models import QuerySet
from django.utils import timezone

from handoff.models import ContactAttempt, Handoff, HandoffEvent, SalesOutcome
from leads.audit import audit_record
from leads.models import (
    AuditEvent,
    Lead,
    StageTransition,
    Touchpoint,
    TrackedEvent,
    Visitor,
)
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


def _exported(row: Any, path: str) -> Any:
    """The value at a dotted ``path`` of ``row``, as the export shows it.

    None along the way is None (a null foreign key); a user is their username,
    another model its ``str()``; times and decimals as ``_jsonable`` writes them.
    """
    value = row
    for name in path.split("."):
        if value is None:
            return None
        value = getattr(value, name)
    if isinstance(value, models.Model):
        getter = getattr(value, "get_username", None)
        return getter() if getter is not None else str(value)
    return _jsonable(value)


def _rows(
    rows: QuerySet[Any],
    fields: str,
    *,
    related: tuple[str, ...] = (),
    order: tuple[str, ...] = ("at", "id"),
) -> list[dict[str, Any]]:
    """One dict per row, in ``order``.

    ``fields`` names the keys in order, separated by spaces: ``key`` for the
    field of that name, ``key=path`` for another (``sla=sla.name``).
    """
    paths = [spec.partition("=")[::2] for spec in fields.split()]
    pairs = [(key, path or key) for key, path in paths]
    rows = rows.select_related(*related).order_by(*order)
    return [
        {key: _exported(row, path) for key, path in pairs}
        for row in rows.iterator(chunk_size=2_000)
    ]


# Sections
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
    return _rows(
        Touchpoint.objects.filter(lead_id=lead.id),
        (
            "id kind=kind_id occurred_at campaign=campaign.name properties source "
            "external_id received_at"
        ),
        related=("campaign",),
        order=("occurred_at", "id"),
    )


def visitors_export_section(lead: Lead) -> list[dict[str, Any]]:
    """The browsers and devices website tracking identified as the lead
    (the snippet's cookie id, user agent, first touch), first seen first."""
    return _rows(
        Visitor.objects.filter(lead_id=lead.id),
        (
            "source=source.name anonymous_id identified_at first_seen_at "
            "last_seen_at utm_source utm_medium utm_campaign utm_term utm_content "
            "referrer landing_url campaign=campaign.name user_agent events_count"
        ),
        related=("source", "campaign"),
        order=("first_seen_at", "id"),
    )


def tracked_events_export_section(lead: Lead) -> list[dict[str, Any]]:
    """The lead's tracked events that are no touchpoints (names no touchpoint
    kind stands for), oldest first."""
    return _rows(
        TrackedEvent.objects.filter(lead_id=lead.id),
        "event occurred_at campaign=campaign.name properties message_id",
        related=("campaign",),
        order=("occurred_at", "id"),
    )


def stage_history_export_section(lead: Lead) -> list[dict[str, Any]]:
    """The lead's lifecycle moves, oldest first, with who or what and why."""
    return _rows(
        StageTransition.objects.filter(lead_id=lead.id),
        "from_stage to_stage at actor=actor_display reason",
        related=("actor",),
    )


def handoffs_export_section(lead: Lead) -> list[dict[str, Any]]:
    """The lead's handoffs, oldest first: SLA, who, times, decision, feedback."""
    return _rows(
        Handoff.objects.filter(lead_id=lead.id),
        (
            "id sequence previous=previous_id sla=sla.name status assigned_to mql_at "
            "created_at due_at first_attempt_at expired_at decided_at decided_by "
            "reason=reason.code feedback owner follow_up_due_at followed_up_at score "
            "grade"
        ),
        related=("sla", "assigned_to", "decided_by", "owner", "reason"),
        order=("created_at", "id"),
    )


def contact_attempts_export_section(lead: Lead) -> list[dict[str, Any]]:
    """The SDRs' and reps' attempts to reach the person, oldest first."""
    return _rows(
        ContactAttempt.objects.filter(handoff__lead_id=lead.id),
        "handoff=handoff_id channel outcome note at user",
        related=("user",),
    )


def sales_outcomes_export_section(lead: Lead) -> list[dict[str, Any]]:
    """The sales reps' moves of the lead, oldest first, with reason and feedback."""
    return _rows(
        SalesOutcome.objects.filter(lead_id=lead.id),
        "handoff=handoff_id from_stage to_stage reason=reason.code feedback actor at",
        related=("reason", "actor"),
    )


def handoff_events_export_section(lead: Lead) -> list[dict[str, Any]]:
    """The steps of the lead's handoffs (assigned, reminded, decided ...)."""
    return _rows(
        HandoffEvent.objects.filter(handoff__lead_id=lead.id),
        "handoff=handoff_id kind at actor detail",
        related=("actor",),
    )


def scores_export_section(lead: Lead) -> list[dict[str, Any]]:
    """The lead's score under each scoring model, with the breakdown."""
    return _rows(
        LeadScore.objects.filter(lead_id=lead.id),
        "model total fit_score engagement_score grade breakdown gated_by computed_at",
        related=("model",),
        order=("computed_at", "id"),
    )


def score_history_export_section(lead: Lead) -> list[dict[str, Any]]:
    """The lead's total each time it changed, oldest first."""
    return _rows(
        LeadScoreHistory.objects.filter(lead_id=lead.id),
        "model total fit_score engagement_score at",
        related=("model",),
    )


def merged_leads_export_section(lead: Lead) -> list[dict[str, Any]]:
    """Leads merged into this one as duplicates: the same person's other rows."""
    return [
        lead_export_section(duplicate)
        for duplicate in Lead.objects.filter(id__in=merged_ids(lead.id))
        .select_related("owner")
        .order_by("id")
    ]


def audit_events_export_section(lead: Lead) -> list[dict[str, Any]]:
    """What was done to the lead's data and by whom (exports, erasures ...)."""
    return _rows(
        AuditEvent.objects.filter(lead_id=lead.id),
        "action at actor details",
        related=("actor",),
    )


def merged_ids(lead_id: int) -> list[int]:
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
    ("visitors", visitors_export_section),
    ("tracked_events", tracked_events_export_section),
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


# Service
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
