"""The SLA timer ladder, one pass a minute from the beat.

At-risk reminders, expiry with escalation and reassignment to the next SDR,
follow-up breaches of accepted handoffs, then the catch-up steps of opening.
Each step claims its rows with a conditional UPDATE, so two beat processes
never act on one handoff twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from crm.common.people import full_name
from handoff.models import Handoff, HandoffEvent
from handoff.services.opening import (
    _create_next,
    handoffs_assign_waiting,
    mqls_reconcile,
)
from handoff.services.shared import ESCALATION_BATCH, Status, _event, _notify
from leads.audit import audit_record
from leads.locks import lock_lead
from leads.models import AuditEvent, Stage


def _claim_each(
    candidates: QuerySet[Handoff],
    *,
    order: tuple[str, ...],
    where: dict[str, Any],
    changes: dict[str, Any],
    act: Callable[[int], None],
) -> int:
    """Claim the first ``ESCALATION_BATCH`` candidates one by one and act on
    each claimed handoff, one transaction per handoff.

    The claim is ``UPDATE ... SET changes WHERE id AND where``: a second beat
    process updates 0 rows and skips the handoff. Returns how many it claimed.
    """
    ids = list(
        candidates.order_by(*order).values_list("id", flat=True)[:ESCALATION_BATCH]
    )
    claimed = 0
    for handoff_id in ids:
        with transaction.atomic():
            if not Handoff.objects.filter(id=handoff_id, **where).update(**changes):
                continue
            act(handoff_id)
            claimed += 1
    return claimed


def handoffs_remind_at_risk(*, now: dt.datetime | None = None) -> int:
    """Claim pending handoffs past their at-risk point and remind their SDR.

    The claim is ``UPDATE ... SET reminded_at WHERE reminded_at IS NULL``, so
    with two beat processes each handoff is reminded once. Returns how many.
    """
    now = now or timezone.now()

    def remind(handoff_id: int) -> None:
        handoff = Handoff.objects.get(id=handoff_id)
        _event(handoff, HandoffEvent.Kind.REMINDED, at=now)
        if handoff.assigned_to_id:
            _notify("at_risk", handoff_id)

    return _claim_each(
        Handoff.objects.filter(
            status=Status.PENDING,
            reminded_at__isnull=True,
            at_risk_at__lte=now,
            due_at__gt=now,
        ),
        order=("at_risk_at", "id"),
        where={"status": Status.PENDING, "reminded_at__isnull": True},
        changes={"reminded_at": now},
        act=remind,
    )


def handoffs_expire_overdue(*, now: dt.datetime | None = None) -> int:
    """Expire pending handoffs past due, escalate, and reassign the lead.

    Per handoff, in one transaction: the conditional UPDATE to ``expired``
    claims it (a second beat process updates 0 rows and skips it), the breach
    and the escalation are recorded, the escalation contact is e-mailed after
    commit, and the lead (if still an MQL) gets a new pending handoff with the
    next SDR (not the one who let it breach, if anyone else can take it) and
    a fresh due time. Returns how many expired.
    """
    now = now or timezone.now()
    return _claim_each(
        Handoff.objects.filter(status=Status.PENDING, due_at__lte=now),
        order=("due_at", "id"),
        where={"status": Status.PENDING, "due_at__lte": now},
        changes={"status": Status.EXPIRED, "expired_at": now},
        act=lambda handoff_id: _expired_escalate(handoff_id, now=now),
    )


def _expired_escalate(handoff_id: int, *, now: dt.datetime) -> None:
    """Record the breach of a just-expired handoff and reassign its lead."""
    handoff = Handoff.objects.select_related(
        "sla__calendar", "sla__team", "assigned_to"
    ).get(id=handoff_id)
    late = full_name(handoff.assigned_to, nobody="nobody (unassigned)")
    _event(
        handoff,
        HandoffEvent.Kind.EXPIRED,
        at=now,
        detail=f"Not decided by {handoff.due_at:%Y-%m-%d %H:%M} UTC by {late}",
    )
    _event(
        handoff,
        HandoffEvent.Kind.ESCALATED,
        at=now,
        detail=handoff.sla.escalation_email or "no escalation contact",
    )
    _notify("breached", handoff_id)
    lead = lock_lead(handoff.lead_id)
    new = None
    if lead.stage == Stage.MQL:
        new = _create_next(handoff, lead=lead, sla=handoff.sla, now=now)
        if new.assigned_to_id:
            _notify("reassigned", new.id)
    # The timer takes the handoff from its SDR: one row, no actor.
    audit_record(
        actor=None,
        action=AuditEvent.Action.HANDOFF_REASSIGN,
        lead_id=lead.id,
        at=now,
        details={
            "handoff_id": handoff.id,
            "from_user_id": handoff.assigned_to_id,
            "new_handoff_id": new.id if new else None,
            "to_user_id": new.assigned_to_id if new else None,
        },
    )


def handoffs_follow_up_breaches(*, now: dt.datetime | None = None) -> int:
    """Record accepted handoffs whose owner did not follow up in time (once each)."""
    now = now or timezone.now()

    def record_breach(handoff_id: int) -> None:
        handoff = Handoff.objects.get(id=handoff_id)
        _event(handoff, HandoffEvent.Kind.FOLLOW_UP_BREACHED, at=now)
        _notify("follow_up_breached", handoff_id)

    return _claim_each(
        Handoff.objects.filter(
            status=Status.ACCEPTED,
            followed_up_at__isnull=True,
            follow_up_breached_at__isnull=True,
            follow_up_due_at__lte=now,
        ),
        order=("follow_up_due_at", "id"),
        where={"followed_up_at__isnull": True, "follow_up_breached_at__isnull": True},
        changes={"follow_up_breached_at": now},
        act=record_breach,
    )


def escalation_run(*, now: dt.datetime | None = None) -> dict[str, int]:
    """One pass of the ladder: reminders, expiries, follow-ups, stragglers."""
    now = now or timezone.now()
    return {
        "reminded": handoffs_remind_at_risk(now=now),
        "expired": handoffs_expire_overdue(now=now),
        "follow_up_breached": handoffs_follow_up_breaches(now=now),
        "assigned": handoffs_assign_waiting(now=now),
        "opened": mqls_reconcile(now=now),
    }
