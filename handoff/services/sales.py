"""Sales moves of an accepted lead: SQL, opportunity, customer, or sent back."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.utils import timezone

from handoff.exceptions import DecisionInvalid, HandoffAlreadyDecided, HandoffNotYours
from handoff.models import Handoff, RejectionReason, SalesOutcome
from handoff.rejections import decision_label, send_back_destination
from handoff.selectors import is_manager
from handoff.services.shared import (
    FEEDBACK_MAX,
    Status,
    _feedback_clean,
    _reason_get,
)
from leads import lifecycle
from leads.audit import audit_record
from leads.locks import lock_lead
from leads.models import AuditEvent, Stage

#: Forward moves a rep makes without a reason.
SALES_FORWARD = {
    Stage.SAL: Stage.SQL,
    Stage.SQL: Stage.OPPORTUNITY,
    Stage.OPPORTUNITY: Stage.CUSTOMER,
}
SALES_STAGES = frozenset(SALES_FORWARD)


def lead_sales_move(
    *,
    lead_id: int,
    actor: Any,
    to_stage: str = "",
    reason: str = "",
    feedback: str = "",
    now: dt.datetime | None = None,
) -> SalesOutcome:
    """A rep moves an accepted lead forward, or back with a sales reason.

    Forward (``to_stage`` the next funnel stage): SAL -> SQL -> opportunity ->
    customer (closed won). Back: give ``reason`` (a sales rejection reason);
    its action says where the lead goes (recycle: nurture with the cool-down;
    disqualify). Only the lead's owner or a manager may move it. Locks the
    lead's accepted handoff (if any) and then the lead; records a
    SalesOutcome and, the first time, stops the follow-up clock.
    """
    now = now or timezone.now()
    with transaction.atomic():
        handoff = (
            Handoff.objects.select_for_update(of=("self",))
            .filter(lead_id=lead_id, status=Status.ACCEPTED)
            .order_by("-decided_at", "-id")
            .first()
        )
        lead = lock_lead(lead_id)
        if not (lead.owner_id == actor.pk or is_manager(actor)):
            raise HandoffNotYours(
                f"Lead {lead_id} is owned by {lead.owner or 'nobody'}; only they "
                "or a manager may move it."
            )
        if lead.stage not in SALES_STAGES:
            raise HandoffAlreadyDecided(
                f"Lead {lead_id} is {lead.get_stage_display()}, not in the sales "
                "pipeline; reload the page."
            )
        why = None
        text = ""
        move: dict[str, Any]
        if reason:
            why = _reason_get(reason, audience=RejectionReason.Audience.SALES)
            text = _feedback_clean(why, feedback)
            move = send_back_destination(why).move(now)
            label = decision_label("Sent back by sales", why, text)
        else:
            expected = SALES_FORWARD[lead.stage]
            if to_stage != expected:
                raise DecisionInvalid(
                    {
                        "to_stage": (
                            f"From {lead.get_stage_display()} a lead moves forward "
                            f"to {Stage(expected).label}; to send it back, choose "
                            "a reason."
                        )
                    }
                )
            text = str(feedback or "").strip()[:FEEDBACK_MAX]
            move = {"to_stage": expected}
            label = {
                Stage.SQL: "Qualified by sales",
                Stage.OPPORTUNITY: "Opportunity opened",
                Stage.CUSTOMER: "Closed won",
            }[expected]
        from_stage = lead.stage
        lifecycle.lead_move(
            lead_id=lead_id,
            actor=actor,
            reason=label,
            expected_stage=from_stage,
            now=now,
            **move,
        )
        outcome = SalesOutcome.objects.create(
            lead_id=lead_id,
            handoff=handoff,
            from_stage=from_stage,
            to_stage=move["to_stage"],
            reason=why,
            feedback=text,
            actor=actor,
            at=now,
        )
        audit_record(
            actor=actor,
            action=AuditEvent.Action.SALES_MOVE,
            lead_id=lead_id,
            at=now,
            details={
                "outcome_id": outcome.id,
                "from_stage": from_stage,
                "to_stage": move["to_stage"],
                "reason": why.code if why else "",
            },
        )
        if handoff is not None:
            Handoff.objects.filter(id=handoff.id, followed_up_at__isnull=True).update(
                followed_up_at=now
            )
    return outcome
