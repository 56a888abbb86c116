"""Decisions on a handoff: accept, reject, claim, and logging contact attempts.

Where each rejection reason sends the lead is ``handoff.rejections``; the
reject service carries it out.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from crm.common.people import full_name
from handoff import business_hours
from handoff.exceptions import DecisionInvalid, HandoffAlreadyDecided, HandoffNotYours
from handoff.models import (
    ContactAttempt,
    Handoff,
    HandoffEvent,
    RejectionReason,
    Team,
    TeamMember,
)
from handoff.rejections import (
    account_owner_label,
    decision_label,
    rejection_destination,
)
from handoff.routing import sales_route
from handoff.selectors import is_active_sales_rep, is_manager
from handoff.services.follow_up import leads_follow_up_refresh
from handoff.services.opening import _create_next
from handoff.services.shared import (
    NOTE_MAX,
    Status,
    _check_decider,
    _check_pending,
    _event,
    _feedback_clean,
    _lock_handoff,
    _notify,
    _reason_get,
    _turn_take,
)
from leads import lifecycle
from leads import services as lead_services
from leads.audit import audit_record
from leads.exceptions import InvalidStageTransition, StageChangedConcurrently
from leads.models import AuditEvent, Lead, Stage

logger = logging.getLogger(__name__)


def _follow_up_due(handoff: Handoff, now: dt.datetime) -> dt.datetime:
    return business_hours.add_business_hours(
        now, Decimal(handoff.sla.follow_up_within_hours), handoff.sla.calendar.spec()
    )


def _sales_rep(
    handoff: Handoff, *, actor: Any, owner: Any | None, now: dt.datetime
) -> tuple[Any | None, str]:
    """The rep who gets the accepted lead and why; (None, "") keeps it with SDRs.

    Locks the SLA's sales team first, so concurrent accepts take turns and
    each sees the turn the previous one counted. A chosen ``owner`` who is in
    the sales team has the turn counted too, so the next suggestion moves on.
    """
    sla = handoff.sla
    team = (
        Team.objects.select_for_update().get(id=sla.sales_team_id)
        if sla.sales_team_id is not None
        else None
    )
    if owner is not None:
        member = (
            TeamMember.objects.filter(team=team, user=owner, is_active=True).first()
            if team is not None
            else None
        )
        if member is not None:
            _turn_take(team, member_id=member.id, served=member.assigned_count, now=now)
        return owner, f"{full_name(actor)} chose {full_name(owner)}"
    route = sales_route(handoff, now=now)
    if route.keeps_with_sdr:
        return None, ""
    if route.rep is None:
        raise DecisionInvalid({"owner": route.rule})
    if route.candidate is not None and team is not None:
        _turn_take(
            team,
            member_id=route.candidate.member_id,
            served=route.candidate.assigned_count,
            now=now,
        )
    return route.rep, route.rule


def handoff_accept(
    *,
    handoff_id: int,
    actor: Any,
    owner: Any | None = None,
    now: dt.datetime | None = None,
) -> Handoff:
    """Accept an MQL: the lead becomes a SAL owned by a sales rep.

    The rep is ``owner`` when given (an active sales rep, DecisionInvalid
    otherwise), else the one the SLA's sales routing picks
    (``handoff.routing``: the sales team's strategy, the account owner's rep,
    or DecisionInvalid when the SDR must pick and did not). An SLA routing to
    its sales team with no sales team set keeps today's owner: the assigned
    SDR (a manager accepting on their behalf does not take the lead), else
    the actor. Locks the handoff, then the SLA's sales team, then the lead.
    Only the assigned SDR or a manager may decide; a handoff decided or
    expired before raises HandoffAlreadyDecided and changes nothing (the
    loser of a race gets it too). Records a ``handed_to_sales`` event naming
    the rep and the rule, starts the sales follow-up clock, and e-mails the
    owner after commit when it is not the actor.
    """
    now = now or timezone.now()
    if owner is not None and not is_active_sales_rep(owner):
        raise DecisionInvalid(
            {
                "owner": f"{full_name(owner)} is not an active sales rep; "
                "choose one who is."
            }
        )
    with transaction.atomic():
        handoff = _lock_handoff(handoff_id, actor)
        _check_decider(handoff, actor)
        _check_pending(handoff)
        rep, how = _sales_rep(handoff, actor=actor, owner=owner, now=now)
        new_owner = rep or handoff.assigned_to or actor
        try:
            lifecycle.lead_move(
                lead_id=handoff.lead_id,
                to_stage=Stage.SAL,
                actor=actor,
                reason=f"Accepted under the {handoff.sla} SLA",
                expected_stage=Stage.MQL,
                now=now,
            )
        except (StageChangedConcurrently, InvalidStageTransition) as exc:
            raise HandoffAlreadyDecided(exc.message) from exc
        lead_services.lead_owner_set(lead_id=handoff.lead_id, owner=new_owner)
        handoff.status = Status.ACCEPTED
        handoff.decided_at = now
        handoff.decided_by = actor
        handoff.owner = new_owner
        handoff.follow_up_due_at = _follow_up_due(handoff, now)
        handoff.save(
            update_fields=[
                "status",
                "decided_at",
                "decided_by",
                "owner",
                "follow_up_due_at",
            ]
        )
        leads_follow_up_refresh(lead_ids=[handoff.lead_id])
        detail = "" if new_owner == actor else f"now owned by {full_name(new_owner)}"
        _event(handoff, HandoffEvent.Kind.ACCEPTED, at=now, actor=actor, detail=detail)
        details = {"handoff_id": handoff.id, "owner_id": new_owner.pk}
        if rep is not None:
            _event(
                handoff,
                HandoffEvent.Kind.HANDED_TO_SALES,
                at=now,
                actor=actor,
                detail=how,
            )
            details |= {"sales_rep": full_name(rep), "sales_routing": how}
        audit_record(
            actor=actor,
            action=AuditEvent.Action.HANDOFF_ACCEPT,
            lead_id=handoff.lead_id,
            at=now,
            details=details,
        )
        if new_owner != actor:
            _notify("handed_over", handoff.id)
    logger.info(
        "handoff %s accepted by user %s for user %s", handoff_id, actor.pk, new_owner.pk
    )
    return handoff


def handoff_claim(
    *, handoff_id: int, actor: Any, now: dt.datetime | None = None
) -> Handoff:
    """An SDR of the handoff's team takes a pending handoff that nobody has.

    Locks the handoff: of two people taking it at once one gets it, the other
    HandoffAlreadyDecided ("already assigned"). Only active members of the
    handoff's team (or a manager) may take it (HandoffNotYours). The claim is
    logged as an assignment and counts in the member's round-robin turn.
    """
    now = now or timezone.now()
    with transaction.atomic():
        handoff = _lock_handoff(handoff_id, actor)
        _check_pending(handoff)
        if handoff.assigned_to_id is not None:
            raise HandoffAlreadyDecided(
                f"Handoff {handoff.id} is already assigned to "
                f"{handoff.assigned_to}; nothing was changed."
            )
        member = TeamMember.objects.filter(
            team_id=handoff.team_id, user_id=actor.pk, is_active=True
        ).first()
        if member is None and not is_manager(actor):
            raise HandoffNotYours(
                f"Only members of {handoff.team or 'the team'} may take "
                f"handoff {handoff.id}."
            )
        if member is not None:
            _turn_take(
                Team.objects.select_for_update().get(id=member.team_id),
                member_id=member.id,
                served=member.assigned_count,
                now=now,
            )
        handoff.assigned_to = actor
        handoff.save(update_fields=["assigned_to"])
        _event(
            handoff,
            HandoffEvent.Kind.ASSIGNED,
            at=now,
            actor=actor,
            detail=f"Taken from the team queue by {full_name(actor)}",
        )
        audit_record(
            actor=actor,
            action=AuditEvent.Action.HANDOFF_CLAIM,
            lead_id=handoff.lead_id,
            at=now,
            details={"handoff_id": handoff.id},
        )
    return handoff


@dataclass
class _Rejection:
    """What a rejection reason does: the lead's move and what follows it."""

    #: Keyword arguments of ``lifecycle.lead_move`` (empty: the lead stays).
    move: dict[str, Any]
    #: The reason written on the lead's stage change.
    label: str
    #: Runs after the lead moved, before the handoff is marked rejected.
    after_move: Callable[[], None] | None = None
    #: Runs after the rejection is recorded (events and audit written).
    after_record: Callable[[], None] | None = None


def _rejection_plan(
    handoff: Handoff,
    why: RejectionReason,
    label: str,
    now: dt.datetime,
    duplicate_of: Any,
) -> _Rejection:
    """Carry out where ``why`` sends the lead (``handoff.rejections``)."""
    destination = rejection_destination(why)
    move = destination.move(now)
    lead = handoff.lead
    if destination.merge:
        survivor = _duplicate_clean(duplicate_of, lead)
        try:
            lead_services.lead_merge(
                duplicate_id=lead.id, survivor_id=survivor, now=now
            )
        except ValidationError as exc:
            messages = getattr(exc, "message_dict", None)
            if messages is None:
                raise
            raise DecisionInvalid(
                {"duplicate_of": " ".join(messages.get("duplicate_of", []))}
            ) from exc
        return _Rejection(move, f"Merged into lead {survivor} as a duplicate")
    if destination.reroute_sla is not None:
        target = destination.reroute_sla

        def reopen() -> None:
            _create_next(handoff, lead=lead, sla=target, now=now)

        return _Rejection(move, label, after_record=reopen)
    if destination.to_account_owner:
        account_owner = lead.account.owner if lead.account_id else None
        if account_owner is None:
            raise DecisionInvalid(
                {
                    "reason": (
                        "The lead's account has no owner to hand it to; "
                        "choose another reason or give the account an owner."
                    )
                }
            )
        return _Rejection(
            move,
            account_owner_label(full_name(account_owner)),
            after_move=lambda: lead_services.lead_owner_set(
                lead_id=lead.id, owner=lead.account.owner
            ),
            after_record=lambda: _notify("account_owner", handoff.id),
        )
    return _Rejection(move, label)


def handoff_reject(
    *,
    handoff_id: int,
    actor: Any,
    reason: str,
    feedback: str = "",
    duplicate_of: int | None = None,
    now: dt.datetime | None = None,
) -> Handoff:
    """Reject an MQL with a reason; the lead goes where the reason says.

    Locks the handoff, then the lead. Refuses (DecisionInvalid, nothing
    changed) an unknown or inactive reason, missing required feedback, too few
    logged contact attempts, or a merge without a valid duplicate. Actions:
    recycle (nurture, with the reason's cool-down), disqualify, reroute (a new
    pending handoff under the reason's SLA; the lead stays an MQL), merge into
    ``duplicate_of`` (touchpoints move, this lead is disqualified), or hand to
    the account's owner (nurture, owned by them, who is told by e-mail).
    A second decision raises HandoffAlreadyDecided.
    """
    now = now or timezone.now()
    with transaction.atomic():
        handoff = _lock_handoff(handoff_id, actor)
        _check_decider(handoff, actor)
        _check_pending(handoff)
        why = _reason_get(reason, audience=RejectionReason.Audience.SDR)
        text = _feedback_clean(why, feedback)
        attempts = handoff.attempts.count()
        if attempts < why.min_attempts:
            raise DecisionInvalid(
                {
                    "reason": (
                        f"“{why.label}” needs at least {why.min_attempts} logged "
                        f"contact attempts; {attempts} logged so far."
                    )
                }
            )
        lead = handoff.lead
        label = decision_label("Rejected by SDR", why, text)
        plan = _rejection_plan(handoff, why, label, now, duplicate_of)
        if plan.move:
            try:
                lifecycle.lead_move(
                    lead_id=lead.id,
                    actor=actor,
                    reason=plan.label,
                    expected_stage=Stage.MQL,
                    now=now,
                    **plan.move,
                )
            except (StageChangedConcurrently, InvalidStageTransition) as exc:
                raise HandoffAlreadyDecided(exc.message) from exc
        if plan.after_move is not None:
            plan.after_move()
        handoff.status = Status.REJECTED
        handoff.decided_at = now
        handoff.decided_by = actor
        handoff.reason = why
        handoff.feedback = text
        handoff.save(
            update_fields=["status", "decided_at", "decided_by", "reason", "feedback"]
        )
        _event(
            handoff, HandoffEvent.Kind.REJECTED, at=now, actor=actor, detail=why.label
        )
        audit_record(
            actor=actor,
            action=AuditEvent.Action.HANDOFF_REJECT,
            lead_id=lead.id,
            at=now,
            details={
                "handoff_id": handoff.id,
                "reason": why.code,
                "to_stage": plan.move.get("to_stage", ""),
            },
        )
        if plan.after_record is not None:
            plan.after_record()
    logger.info("handoff %s rejected by user %s: %s", handoff_id, actor.pk, why.code)
    return handoff


def _duplicate_clean(duplicate_of: Any, lead: Lead) -> int:
    try:
        survivor = int(duplicate_of)
    except (TypeError, ValueError):
        raise DecisionInvalid(
            {"duplicate_of": "Give the id of the lead this one duplicates."}
        ) from None
    if survivor == lead.id:
        raise DecisionInvalid(
            {"duplicate_of": "A lead cannot be a duplicate of itself."}
        )
    if not Lead.objects.filter(id=survivor).exists():
        raise DecisionInvalid({"duplicate_of": f"There is no lead {survivor}."})
    return survivor


def attempt_log(
    *,
    handoff_id: int,
    actor: Any,
    channel: str,
    outcome: str,
    note: str = "",
    at: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> ContactAttempt:
    """Record a contact attempt on a handoff (assigned SDR, owner or manager).

    Pending and accepted handoffs take attempts. The first attempt sets
    ``first_attempt_at`` (speed to lead), and the first one after acceptance
    by the owner stops the follow-up clock; both are conditional updates, so
    a concurrent attempt never overwrites the earlier time.
    """
    now = now or timezone.now()
    at = at or now
    errors = {}
    if channel not in ContactAttempt.Channel.values:
        errors["channel"] = "Choose call, e-mail or social."
    if outcome not in ContactAttempt.Outcome.values:
        errors["outcome"] = "Choose what happened."
    note = str(note or "").strip()
    if "\x00" in note or len(note) > NOTE_MAX:
        errors["note"] = f"Keep the note under {NOTE_MAX} characters, without NUL."
    if timezone.is_naive(at):
        errors["at"] = "Give the time with its offset, such as 2026-03-02T10:00:00Z."
    elif at > now + dt.timedelta(minutes=5):
        errors["at"] = "An attempt cannot be in the future."
    if errors:
        raise DecisionInvalid(errors)
    with transaction.atomic():
        handoff = _lock_handoff(handoff_id, actor)
        if not (
            actor.pk in (handoff.assigned_to_id, handoff.owner_id) or is_manager(actor)
        ):
            raise HandoffNotYours(
                f"Only {handoff.assigned_to or 'the assigned SDR'} or a manager "
                f"may log attempts on handoff {handoff.id}."
            )
        if handoff.status not in (Status.PENDING, Status.ACCEPTED):
            raise HandoffAlreadyDecided(
                f"Handoff {handoff.id} is {handoff.get_status_display().lower()}; "
                "log attempts on the lead's current handoff."
            )
        if at < handoff.created_at:
            # Speed to lead is measured from the assignment: an earlier attempt
            # would make first_attempt_at precede created_at.
            raise DecisionInvalid(
                {
                    "at": (
                        "An attempt cannot be earlier than the handoff "
                        f"({handoff.created_at:%Y-%m-%d %H:%M} UTC)."
                    )
                }
            )
        attempt = ContactAttempt.objects.create(
            handoff=handoff,
            user=actor,
            channel=channel,
            outcome=outcome,
            note=note,
            at=at,
        )
        Handoff.objects.filter(id=handoff.id, first_attempt_at__isnull=True).update(
            first_attempt_at=at
        )
        # Only the owner's follow-up stops the sales clock, not a note from
        # the SDR who handed the lead over.
        if handoff.status == Status.ACCEPTED and actor.pk == handoff.owner_id:
            Handoff.objects.filter(id=handoff.id, followed_up_at__isnull=True).update(
                followed_up_at=max(at, handoff.decided_at or at)
            )
        if handoff.status == Status.ACCEPTED:
            # Any attempt on the follow-up's handoff can be its last contact.
            leads_follow_up_refresh(lead_ids=[handoff.lead_id])
        _event(
            handoff,
            HandoffEvent.Kind.ATTEMPT,
            at=at,
            actor=actor,
            detail=f"{attempt.get_channel_display()}: {attempt.get_outcome_display()}",
        )
    return attempt
