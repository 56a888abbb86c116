"""Sales moves of an accepted lead (SQL, opportunity, customer, or sent back),
and a manager handing a lead in the pipeline to another rep."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.utils import timezone

from crm.common.roles import SALES
from handoff.exceptions import (
    DecisionInvalid,
    HandoffAlreadyDecided,
    HandoffNotYours,
    LeadOwnerChanged,
)
from handoff.models import Handoff, RejectionReason, SalesOutcome
from handoff.rejections import decision_label, send_back_destination
from handoff.selectors import is_manager
from handoff.services.follow_up import leads_follow_up_refresh
from handoff.services.shared import (
    FEEDBACK_MAX,
    Status,
    _feedback_clean,
    _notify_owner_change,
    _reason_get,
)
from handoff.templatetags.handoff_tags import person
from leads import lifecycle
from leads import services as lead_services
from leads.attribution_marks import attribution_days_mark
from leads.audit import audit_record
from leads.locks import lock_lead
from leads.models import AuditEvent, OwnerChange, Stage

#: Forward moves a rep makes without a reason.
SALES_FORWARD = {
    Stage.SAL: Stage.SQL,
    Stage.SQL: Stage.OPPORTUNITY,
    Stage.OPPORTUNITY: Stage.CUSTOMER,
}
SALES_STAGES = frozenset(SALES_FORWARD)
#: The longest reason a reassignment keeps (OwnerChange.reason).
REASSIGN_REASON_MAX = 500
#: The largest deal amount a rep may give (in ``settings.CURRENCY``).
DEAL_AMOUNT_MAX = Decimal("1000000000")
#: How far ahead an opportunity's expected close date may be.
CLOSE_DATE_HORIZON_YEARS = 3


def _amount_clean(value: Any, *, what: str) -> tuple[Decimal | None, str]:
    """``value`` as an amount in cents, or the problem in the user's words."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, f"Give the {what}."
    if isinstance(value, bool | float):
        value = str(value)
    try:
        amount = Decimal(str(value).strip().replace(",", ""))
    except (InvalidOperation, ValueError):
        return None, f"Give the {what} as a number, like 25000."
    if not amount.is_finite():
        return None, f"Give the {what} as a number, like 25000."
    if amount <= 0:
        return None, f"The {what} must be more than zero."
    if amount > DEAL_AMOUNT_MAX:
        return None, f"The {what} can be at most 1,000,000,000."
    if amount != amount.quantize(Decimal("0.01")):
        return None, f"Give the {what} in whole cents (two decimals at most)."
    return amount.quantize(Decimal("0.01")), ""


def _close_date_clean(value: Any, *, today: dt.date) -> tuple[dt.date | None, str]:
    """The expected close date, or the problem in the user's words."""
    if value is None or value == "":
        return None, "Give the date you expect the deal to close."
    if isinstance(value, dt.datetime):
        value = value.date()
    if not isinstance(value, dt.date):
        try:
            value = dt.date.fromisoformat(str(value).strip())
        except ValueError:
            return None, "Give the expected close date as a date, like 2027-01-15."
    if value < today:
        return None, "The expected close date cannot be in the past."
    try:
        horizon = today.replace(year=today.year + CLOSE_DATE_HORIZON_YEARS)
    except ValueError:  # 29 February
        horizon = today.replace(year=today.year + CLOSE_DATE_HORIZON_YEARS, day=28)
    if value > horizon:
        return None, (
            "The expected close date can be at most "
            f"{CLOSE_DATE_HORIZON_YEARS} years ahead."
        )
    return value, ""


def deal_terms(
    to_stage: str, *, amount: Any, expected_close_on: Any, today: dt.date
) -> dict[str, Any]:
    """The deal facts a forward move to ``to_stage`` records, checked.

    Opening an opportunity needs the deal amount (more than zero, at most
    1,000,000,000) and the expected close date (today up to three years
    ahead); closing won needs the amount won (more than zero). Other moves
    record neither. DecisionInvalid names each field to fix.
    """
    errors: dict[str, str] = {}
    terms: dict[str, Any] = {}
    if to_stage == Stage.OPPORTUNITY:
        terms["amount"], errors["amount"] = _amount_clean(amount, what="deal amount")
        terms["expected_close_on"], errors["expected_close_on"] = _close_date_clean(
            expected_close_on, today=today
        )
    elif to_stage == Stage.CUSTOMER:
        terms["amount"], errors["amount"] = _amount_clean(amount, what="amount won")
    errors = {field: text for field, text in errors.items() if text}
    if errors:
        raise DecisionInvalid(errors)
    return terms


def lead_sales_move(
    *,
    lead_id: int,
    actor: Any,
    to_stage: str = "",
    reason: str = "",
    feedback: str = "",
    amount: Any = None,
    expected_close_on: Any = None,
    now: dt.datetime | None = None,
) -> SalesOutcome:
    """A rep moves an accepted lead forward, or back with a sales reason.

    Forward (``to_stage`` the next funnel stage): SAL -> SQL -> opportunity ->
    customer (closed won). Opening an opportunity records the deal
    ``amount`` and ``expected_close_on``; closing won records the ``amount``
    won (see ``deal_terms``: DecisionInvalid naming each field, nothing
    changed). Back: give ``reason`` (a sales rejection reason);
    its action says where the lead goes (recycle: nurture with the cool-down;
    disqualify). Only the lead's owner or a manager may move it. Locks the
    lead's accepted handoff (if any) and then the lead; records a
    SalesOutcome and, the first time, stops the follow-up clock.
    """
    now = now or timezone.now()
    with transaction.atomic():
        handoff = _lock_accepted_handoff(lead_id)
        lead = lock_lead(lead_id)
        if not (lead.owner_id == actor.pk or is_manager(actor)):
            raise HandoffNotYours(
                f"Lead {lead_id} is owned by {lead.owner or 'nobody'}; only they "
                "or a manager may move it."
            )
        if lead.stage not in SALES_STAGES:
            raise HandoffAlreadyDecided(_not_in_pipeline(lead))
        why = None
        text = ""
        terms: dict[str, Any] = {}
        move: dict[str, Any]
        if reason:
            why = _reason_get(reason, audience=RejectionReason.Audience.SALES)
            text = _feedback_clean(why, feedback)
            move = send_back_destination(why).move(now)
            label = decision_label("Sent back by sales", why, text)
        else:
            expected = SALES_FORWARD[lead.stage]
            if _already_at_or_past(lead.stage, to_stage):
                raise HandoffAlreadyDecided(
                    f"{lead} is already {lead.get_stage_display()}: someone moved "
                    "it meanwhile and nothing was changed. Reload the page."
                )
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
            terms = deal_terms(
                expected,
                amount=amount,
                expected_close_on=expected_close_on,
                today=timezone.localdate(now),
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
            **terms,
        )
        if outcome.to_stage == Stage.CUSTOMER:
            # A won deal's amount is revenue campaign attribution credits.
            attribution_days_mark(moments=[now])
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
                # The deal's amount and close date, when the move records them.
                **{name: str(value) for name, value in terms.items()},
            },
        )
        if handoff is not None:
            Handoff.objects.filter(id=handoff.id, followed_up_at__isnull=True).update(
                followed_up_at=now
            )
            leads_follow_up_refresh(lead_ids=[lead_id])
    return outcome


#: The funnel's order of the stages a sales move goes through.
_FUNNEL = (Stage.SAL, Stage.SQL, Stage.OPPORTUNITY, Stage.CUSTOMER)


def _already_at_or_past(stage: str, to_stage: str) -> bool:
    """Whether a lead at ``stage`` already reached ``to_stage`` (a move made
    twice, or after someone else made it)."""
    return to_stage in _FUNNEL and _FUNNEL.index(to_stage) <= _FUNNEL.index(stage)


def _lock_accepted_handoff(lead_id: int) -> Handoff | None:
    """Lock the lead's latest accepted handoff, if any (before the lead)."""
    return (
        Handoff.objects.select_for_update(of=("self",))
        .filter(lead_id=lead_id, status=Status.ACCEPTED)
        .order_by("-decided_at", "-id")
        .first()
    )


def _not_in_pipeline(lead: Any) -> str:
    return (
        f"Lead {lead.id} is {lead.get_stage_display()}, not in the sales "
        "pipeline; reload the page."
    )


def _reassign_input(to_user: Any, reason: Any) -> str:
    """The reason, cleaned; DecisionInvalid naming each field to fix."""
    errors: dict[str, str] = {}
    if to_user is None:
        errors["to_user"] = "Choose the rep who takes the lead over."
    elif not (to_user.is_active and to_user.groups.filter(name=SALES).exists()):
        errors["to_user"] = (
            f"{person(to_user)} is not an active sales rep; choose one from the list."
        )
    text = str(reason or "").strip()
    if not text:
        errors["reason"] = "Say why the lead changes hands."
    elif "\x00" in text:
        errors["reason"] = "Remove the NUL character from the reason."
    elif len(text) > REASSIGN_REASON_MAX:
        errors["reason"] = (
            f"Keep the reason under {REASSIGN_REASON_MAX} characters "
            f"(it has {len(text)})."
        )
    if errors:
        raise DecisionInvalid(errors)
    return text


def lead_reassign(
    *,
    lead_id: int,
    to_user: Any | None,
    reason: str,
    expected_owner_id: int | None,
    actor: Any,
    now: dt.datetime | None = None,
) -> OwnerChange:
    """A manager hands a lead in the sales pipeline to another active rep.

    Only a manager (``is_manager``) may: anyone else gets HandoffNotYours.
    ``reason`` is required; ``to_user`` must be an active Sales user other
    than the owner; the lead must be SAL, SQL or opportunity. Each refusal
    raises DecisionInvalid naming the field to fix, and changes nothing.
    ``expected_owner_id`` is the owner the manager saw (None for nobody):
    if someone reassigned the lead meanwhile, LeadOwnerChanged (409) and
    nothing changes, so a second manager never overwrites the first unseen.

    Locks the lead's latest accepted handoff, then the lead (handoff before
    lead, as every handoff service); moves both to the new owner, records an
    OwnerChange (the lead's history, with the reason) and a ``lead_reassign``
    audit row, and enqueues the new owner's e-mail after commit (sent once,
    see ``handoff.notifications.owner_change_send``). Lead.DoesNotExist if
    there is no such lead.
    """
    now = now or timezone.now()
    if not is_manager(actor):
        raise HandoffNotYours("Only a manager may hand a lead to another rep.")
    text = _reassign_input(to_user, reason)
    with transaction.atomic():
        handoff = _lock_accepted_handoff(lead_id)
        lead = lock_lead(lead_id)
        if lead.owner_id != expected_owner_id:
            raise LeadOwnerChanged(
                f"{lead} was handed to {person(lead.owner)} by someone else "
                "meanwhile; nothing was changed. Reload the page and choose again."
            )
        if lead.stage not in SALES_STAGES:
            raise DecisionInvalid({"lead": _not_in_pipeline(lead)})
        if lead.owner_id == to_user.pk:
            raise DecisionInvalid(
                {
                    "to_user": (
                        f"{person(to_user)} already owns this lead; choose another rep."
                    )
                }
            )
        change = lead_services.lead_owner_change(
            lead=lead, owner=to_user, actor=actor, reason=text, at=now
        )
        if handoff is not None:
            # The follow-up clock and its e-mail go to the new owner.
            Handoff.objects.filter(id=handoff.id).update(owner=to_user)
        audit_record(
            actor=actor,
            action=AuditEvent.Action.LEAD_REASSIGN,
            lead_id=lead_id,
            at=now,
            details={
                "owner_change_id": change.id,
                "from_owner_id": change.from_owner_id,
                "to_owner_id": to_user.pk,
                "handoff_id": handoff.id if handoff else None,
            },
        )
        _notify_owner_change(change.id)
    return change
