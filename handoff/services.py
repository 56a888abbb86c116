"""Write use-cases of the handoff: open, assign, decide, escalate, sales moves.

Every status change of a Handoff happens here, as a claim: a row lock
(``select_for_update`` in id order, handoff before lead) or a conditional
UPDATE whose row count is checked. The database constraints (one pending
handoff per lead, each escalation step once) are the backstop. E-mails are
sent by a task enqueued after commit, so a mail server that is down delays a
notification and never rolls back the step that caused it.
"""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count
from django.utils import timezone

from handoff import assignment, business_hours
from handoff.exceptions import (
    DecisionInvalid,
    HandoffAlreadyDecided,
    HandoffNotYours,
    NoServiceLevelAgreement,
)
from handoff.models import (
    ContactAttempt,
    Handoff,
    HandoffEvent,
    RejectionReason,
    SalesOutcome,
    SalesProfile,
    ServiceLevelAgreement,
    Team,
    TeamMember,
)
from handoff.selectors import (
    handoff_for_user,
    is_manager,
    pipeline_handoffs_owned,
    sla_for_lead,
    user_owned_work,
)
from leads import lifecycle
from leads import services as lead_services
from leads.audit import audit_record
from leads.exceptions import InvalidStageTransition, StageChangedConcurrently
from leads.locks import lock_lead, lock_leads
from leads.models import Account, AuditEvent, Lead, Stage
from scoring.models import LeadScore

logger = logging.getLogger(__name__)

SYSTEM_ACTOR = "handoff"
#: Rows each escalation step claims per beat run; the rest wait a minute.
ESCALATION_BATCH = 500
FEEDBACK_MAX = 5000
#: Groups whose members may own an accepted lead (names as in crm.roles).
OWNER_ROLES = ("SDR", "Sales", "Admin")
NOTE_MAX = 2000

Status = Handoff.Status
Action = RejectionReason.Action


def _notify(kind: str, handoff_id: int) -> None:
    """Send the e-mail of ``kind`` for a handoff after commit (never inline)."""
    from handoff.tasks import send_notification_task  # the sanctioned cycle

    # robust: a broker that is down must not turn the committed step into an
    # error; the step is recorded and the e-mail is the only thing lost.
    transaction.on_commit(
        lambda: send_notification_task.delay(kind, handoff_id), robust=True
    )


def _event(
    handoff: Handoff,
    kind: str,
    *,
    at: dt.datetime,
    actor: Any | None = None,
    detail: str = "",
) -> HandoffEvent:
    return HandoffEvent.objects.create(
        handoff=handoff, kind=kind, at=at, actor=actor, detail=detail[:300]
    )


# Opening and assignment
# ------------------------------------------------------------------------------


def _candidates(
    team: Team, *, day_start: dt.datetime, today: dt.date
) -> list[assignment.Candidate]:
    members = list(
        TeamMember.objects.filter(team=team, is_active=True, user__is_active=True)
        .select_related("user__sales_profile")
        .order_by("id")
    )
    user_ids = [m.user_id for m in members]
    open_counts = dict(
        Handoff.objects.filter(assigned_to__in=user_ids, status=Status.PENDING)
        .values_list("assigned_to")
        .annotate(n=Count("id"))
        .values_list("assigned_to", "n")
    )
    today_counts = dict(
        Handoff.objects.filter(assigned_to__in=user_ids, created_at__gte=day_start)
        .values_list("assigned_to")
        .annotate(n=Count("id"))
        .values_list("assigned_to", "n")
    )
    result = []
    for m in members:
        profile = getattr(m.user, "sales_profile", None)
        result.append(
            assignment.Candidate(
                member_id=m.id,
                user_id=m.user_id,
                weight=m.weight,
                assigned_count=m.assigned_count,
                last_turn=m.last_turn,
                open_count=open_counts.get(m.user_id, 0),
                today_count=today_counts.get(m.user_id, 0),
                daily_cap=m.daily_cap,
                open_cap=m.open_cap,
                away=bool(profile and profile.away_on(today)),
            )
        )
    return result


def _team_for(lead: Lead, sla: ServiceLevelAgreement) -> tuple[Team, int | None]:
    """The team that gets the lead and the person preferred in it.

    When the lead's account has an owner who works in an SDR team, that team
    gets it first and the owner is preferred (they know the account).
    """
    owner_id = lead.account.owner_id if lead.account_id else None
    if owner_id:
        membership = (
            TeamMember.objects.filter(user_id=owner_id, is_active=True)
            .select_related("team")
            .order_by("id")
            .first()
        )
        if membership is not None:
            return membership.team, owner_id
    return sla.team, None


def _assign(
    *,
    team: Team,
    sla: ServiceLevelAgreement,
    now: dt.datetime,
    exclude_user_ids: tuple[int, ...] = (),
    prefer_user_id: int | None = None,
) -> tuple[int | None, str]:
    """Pick the SDR under the team's row lock; return (user id, why)."""
    # The lock makes concurrent assignments in one team take turns, so each
    # sees the counters the previous one wrote: round robin stays fair.
    locked = Team.objects.select_for_update().get(id=team.id)
    calendar = sla.calendar.spec()
    local_now = now.astimezone(zoneinfo.ZoneInfo(calendar.time_zone))
    day_start = local_now.replace(hour=0, minute=0, second=0, microsecond=0)
    candidates = _candidates(
        team, day_start=day_start.astimezone(dt.UTC), today=local_now.date()
    )
    chosen = assignment.choose(
        team.strategy,
        candidates,
        exclude_user_ids=exclude_user_ids,
        prefer_user_id=prefer_user_id,
    )
    names = dict(
        TeamMember.objects.filter(
            id__in=[c.member_id for c in candidates if assignment.skip_reason(c)]
        ).values_list("user_id", "user__username")
    )
    skipped = [
        f"{names.get(c.user_id, c.user_id)} ({assignment.skip_reason(c)})"
        for c in candidates
        if assignment.skip_reason(c)
    ]
    if chosen is None:
        return None, f"Nobody in {team} can take it ({'; '.join(skipped) or 'empty'})"
    turn = locked.turn + 1
    Team.objects.filter(id=team.id).update(turn=turn)
    TeamMember.objects.filter(id=chosen.member_id).update(
        assigned_count=chosen.assigned_count + 1, last_turn=turn, last_assigned_at=now
    )
    how = (
        "account owner"
        if chosen.user_id == prefer_user_id
        else team.get_strategy_display().lower()
    )
    detail = f"{how} in {team}"
    if skipped:
        detail += f"; skipped {', '.join(skipped)}"
    return chosen.user_id, detail


def _snapshot(lead: Lead) -> dict[str, Any]:
    score = (
        LeadScore.objects.filter(lead_id=lead.id, model__status="active")
        .select_related("model")
        .first()
    )
    return {
        "score": lead.score,
        "fit_score": lead.fit_score,
        "engagement_score": lead.engagement_score,
        "grade": lead.grade,
        "score_breakdown": score.breakdown if score else [],
        "scoring_model": str(score.model)[:120] if score else "",
    }


def _create(
    *,
    lead: Lead,
    sla: ServiceLevelAgreement,
    now: dt.datetime,
    mql_at: dt.datetime,
    previous: Handoff | None = None,
    exclude_user_ids: tuple[int, ...] = (),
) -> Handoff:
    team, prefer = _team_for(lead, sla)
    user_id, detail = _assign(
        team=team,
        sla=sla,
        now=now,
        exclude_user_ids=exclude_user_ids,
        prefer_user_id=prefer,
    )
    calendar = sla.calendar.spec()
    hours = Decimal(sla.accept_within_hours)
    handoff = Handoff.objects.create(
        lead=lead,
        sla=sla,
        team=team,
        assigned_to_id=user_id,
        previous=previous,
        sequence=previous.sequence + 1 if previous else 1,
        mql_at=mql_at,
        created_at=now,
        due_at=business_hours.add_business_hours(now, hours, calendar),
        at_risk_at=business_hours.add_business_hours(
            now, hours * sla.at_risk_percent / 100, calendar
        ),
        **_snapshot(lead),
    )
    _event(handoff, HandoffEvent.Kind.ASSIGNED, at=now, detail=detail)
    logger.info(
        "handoff %s of lead %s assigned to user %s (%s)",
        handoff.id,
        lead.id,
        user_id,
        detail,
    )
    return handoff


def handoff_open(*, lead_id: int, now: dt.datetime | None = None) -> Handoff | None:
    """Give an MQL its one open handoff under the first matching SLA.

    Locks the lead, so concurrent calls for one lead run one after the other:
    the second finds the pending handoff and returns it (idempotent). A lead
    that is gone or no longer an MQL gets none (returns None). With no SDR
    able to take it, the handoff is created unassigned and the reconciler
    retries each minute. Raises NoServiceLevelAgreement when no SLA covers it.
    """
    now = now or timezone.now()
    with transaction.atomic():
        try:
            lead = lock_lead(lead_id)
        except Lead.DoesNotExist:
            return None
        if lead.stage != Stage.MQL:
            return None
        pending = Handoff.objects.filter(lead_id=lead_id, status=Status.PENDING).first()
        if pending is not None:
            return pending
        sla = sla_for_lead(lead)
        if sla is None:
            raise NoServiceLevelAgreement(
                f"No SLA covers lead {lead_id} and none is the default; add one."
            )
        return _create(lead=lead, sla=sla, now=now, mql_at=lead.stage_changed_at or now)


def handoffs_assign_waiting(*, now: dt.datetime | None = None) -> int:
    """Assign pending handoffs that found nobody free; return how many got someone.

    Each handoff is claimed with a row lock (skip locked), so two beat
    processes never assign the same one twice.
    """
    now = now or timezone.now()
    assigned = 0
    ids = list(
        Handoff.objects.filter(status=Status.PENDING, assigned_to__isnull=True)
        .order_by("id")
        .values_list("id", flat=True)[:ESCALATION_BATCH]
    )
    for handoff_id in ids:
        with transaction.atomic():
            handoff = (
                Handoff.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("sla__calendar", "team", "lead__account")
                .filter(id=handoff_id, status=Status.PENDING, assigned_to__isnull=True)
                .first()
            )
            if handoff is None:
                continue
            team = handoff.team or handoff.sla.team
            user_id, detail = _assign(team=team, sla=handoff.sla, now=now)
            if user_id is None:
                continue
            handoff.assigned_to_id = user_id
            handoff.save(update_fields=["assigned_to"])
            _event(handoff, HandoffEvent.Kind.ASSIGNED, at=now, detail=detail)
            assigned += 1
    return assigned


def mqls_reconcile(*, now: dt.datetime | None = None) -> int:
    """Open handoffs for MQLs whose handoff task was lost; return how many.

    An MQL with no pending handoff that entered ``mql`` more than
    RESCORE_RECONCILE_AFTER_SECONDS ago (a minute by default; younger ones
    are still in flight) gets one through ``handoff_open`` (idempotent).
    """
    now = now or timezone.now()
    reconcile_after = dt.timedelta(seconds=settings.RESCORE_RECONCILE_AFTER_SECONDS)
    lead_ids = list(
        Lead.objects.filter(stage=Stage.MQL, stage_changed_at__lt=now - reconcile_after)
        .exclude(handoffs__status=Status.PENDING)
        .order_by("id")
        .values_list("id", flat=True)[:ESCALATION_BATCH]
    )
    opened = 0
    for lead_id in lead_ids:
        try:
            if handoff_open(lead_id=lead_id, now=now) is not None:
                opened += 1
        except NoServiceLevelAgreement:
            logger.exception("no SLA for MQL lead %s", lead_id)
    return opened


# Decisions
# ------------------------------------------------------------------------------


def _lock_handoff(handoff_id: int, actor: Any) -> Handoff:
    """Lock a handoff ``actor`` may see; Handoff.DoesNotExist for any other.

    A handoff outside ``selectors.handoff_for_user`` is answered as missing by
    every caller (the API, the pages), so a refusal never tells an SDR who
    holds another team's lead. One they may see but not decide keeps its
    "assigned to" refusal.
    """
    handoff = (
        Handoff.objects.select_for_update(of=("self",))
        .select_related("sla__calendar", "lead__account", "assigned_to")
        .get(id=handoff_id)
    )
    if not handoff_for_user(actor).filter(id=handoff.id).exists():
        raise Handoff.DoesNotExist(f"No handoff {handoff_id} visible to the actor.")
    return handoff


def _check_decider(handoff: Handoff, actor: Any) -> None:
    if handoff.assigned_to_id == actor.pk or is_manager(actor):
        return
    raise HandoffNotYours(
        f"Handoff {handoff.id} is assigned to "
        f"{handoff.assigned_to or 'nobody yet'}; only they or a manager may decide it."
    )


def _check_pending(handoff: Handoff) -> None:
    if handoff.status == Status.PENDING:
        return
    if handoff.status == Status.EXPIRED:
        raise HandoffAlreadyDecided(
            f"Handoff {handoff.id} expired at "
            f"{handoff.expired_at:%Y-%m-%d %H:%M} UTC and was reassigned; "
            "it can no longer be decided."
        )
    who = handoff.decided_by or "someone"
    raise HandoffAlreadyDecided(
        f"Handoff {handoff.id} was already {handoff.get_status_display().lower()} "
        f"by {who} at {handoff.decided_at:%Y-%m-%d %H:%M} UTC; nothing was changed."
    )


def _follow_up_due(handoff: Handoff, now: dt.datetime) -> dt.datetime:
    return business_hours.add_business_hours(
        now, Decimal(handoff.sla.follow_up_within_hours), handoff.sla.calendar.spec()
    )


def handoff_accept(
    *,
    handoff_id: int,
    actor: Any,
    owner: Any | None = None,
    now: dt.datetime | None = None,
) -> Handoff:
    """Accept an MQL: the lead becomes a SAL owned by ``owner``.

    ``owner`` defaults to the assigned SDR (a manager accepting on their
    behalf does not take the lead), else the actor; a chosen owner must be an
    active SDR or sales rep (DecisionInvalid otherwise). Locks the handoff,
    then the lead. Only the assigned SDR or a manager may decide; a handoff
    decided or expired before raises HandoffAlreadyDecided and changes
    nothing (the loser of a race gets it too). Starts the sales follow-up
    clock.
    """
    now = now or timezone.now()
    if owner is not None and not (
        owner.is_active and owner.groups.filter(name__in=OWNER_ROLES).exists()
    ):
        raise DecisionInvalid(
            {
                "owner": (
                    f"{owner} is not an active SDR, sales rep or admin; "
                    "choose one who is."
                )
            }
        )
    with transaction.atomic():
        handoff = _lock_handoff(handoff_id, actor)
        _check_decider(handoff, actor)
        _check_pending(handoff)
        new_owner = owner or handoff.assigned_to or actor
        try:
            lifecycle.lead_move(
                lead_id=handoff.lead_id,
                to_stage=Stage.SAL,
                actor=actor,
                reason=f"Accepted from handoff {handoff.id} ({handoff.sla})",
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
        detail = "" if new_owner == actor else f"owner: {new_owner}"
        _event(handoff, HandoffEvent.Kind.ACCEPTED, at=now, actor=actor, detail=detail)
        audit_record(
            actor=actor,
            action=AuditEvent.Action.HANDOFF_ACCEPT,
            lead_id=handoff.lead_id,
            at=now,
            details={"handoff_id": handoff.id, "owner_id": new_owner.pk},
        )
        if new_owner != actor:
            _notify("handed_over", handoff.id)
    logger.info("handoff %s accepted by user %s", handoff_id, actor.pk)
    return handoff


def _reason_get(code: Any, *, audience: str) -> RejectionReason:
    if not code:
        raise DecisionInvalid({"reason": "Choose a reason."})
    reason = (
        RejectionReason.objects.filter(code=str(code), audience=audience).first()
        if len(str(code)) <= 40
        else None
    )
    if reason is None or not reason.is_active:
        raise DecisionInvalid(
            {
                "reason": (
                    f"“{str(code)[:40]}” is not an active reason; "
                    "pick one from the list."
                )
            }
        )
    return reason


def _feedback_clean(reason: RejectionReason, feedback: Any) -> str:
    text = str(feedback or "").strip()
    if "\x00" in text:
        raise DecisionInvalid(
            {"feedback": "Remove the NUL character from the feedback."}
        )
    if len(text) > FEEDBACK_MAX:
        raise DecisionInvalid(
            {"feedback": f"Keep the feedback under {FEEDBACK_MAX} characters."}
        )
    if reason.feedback_required and not text:
        raise DecisionInvalid(
            {"feedback": f"“{reason.label}” needs feedback: tell marketing why."}
        )
    return text


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
            team = Team.objects.select_for_update().get(id=member.team_id)
            Team.objects.filter(id=team.id).update(turn=team.turn + 1)
            TeamMember.objects.filter(id=member.id).update(
                assigned_count=member.assigned_count + 1,
                last_turn=team.turn + 1,
                last_assigned_at=now,
            )
        handoff.assigned_to = actor
        handoff.save(update_fields=["assigned_to"])
        _event(
            handoff,
            HandoffEvent.Kind.ASSIGNED,
            at=now,
            actor=actor,
            detail=f"taken from the team queue by {actor}",
        )
        audit_record(
            actor=actor,
            action=AuditEvent.Action.HANDOFF_CLAIM,
            lead_id=handoff.lead_id,
            at=now,
            details={"handoff_id": handoff.id},
        )
    return handoff


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
        label = f"Rejected by SDR: {why.label}" + (f" ({text[:200]})" if text else "")
        move: dict[str, Any] = {}
        if why.action == Action.RECYCLE:
            move = {"to_stage": Stage.NURTURE}
            if why.cooldown_days:
                move["hold_until"] = now + dt.timedelta(days=why.cooldown_days)
        elif why.action == Action.DISQUALIFY:
            move = {"to_stage": Stage.DISQUALIFIED}
        elif why.action == Action.MERGE:
            survivor = _duplicate_clean(duplicate_of, lead)
            try:
                lead_services.lead_merge(
                    duplicate_id=lead.id, survivor_id=survivor, now=now
                )
            except Exception as exc:
                messages = getattr(exc, "message_dict", None)
                if messages is None:
                    raise
                raise DecisionInvalid(
                    {"duplicate_of": " ".join(messages.get("duplicate_of", []))}
                ) from exc
            move = {"to_stage": Stage.DISQUALIFIED}
            label = f"Merged into lead {survivor} as a duplicate"
        elif why.action == Action.ACCOUNT_OWNER:
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
            move = {"to_stage": Stage.NURTURE}
            label = f"Existing customer or open deal: handed to {account_owner}"
        if move:
            try:
                lifecycle.lead_move(
                    lead_id=lead.id,
                    actor=actor,
                    reason=label,
                    expected_stage=Stage.MQL,
                    now=now,
                    **move,
                )
            except (StageChangedConcurrently, InvalidStageTransition) as exc:
                raise HandoffAlreadyDecided(exc.message) from exc
        if why.action == Action.ACCOUNT_OWNER:
            lead_services.lead_owner_set(lead_id=lead.id, owner=lead.account.owner)
        handoff.status = Status.REJECTED
        handoff.decided_at = now
        handoff.decided_by = actor
        handoff.reason = why
        handoff.feedback = text
        handoff.save(
            update_fields=["status", "decided_at", "decided_by", "reason", "feedback"]
        )
        _event(
            handoff, HandoffEvent.Kind.REJECTED, at=now, actor=actor, detail=why.code
        )
        audit_record(
            actor=actor,
            action=AuditEvent.Action.HANDOFF_REJECT,
            lead_id=lead.id,
            at=now,
            details={
                "handoff_id": handoff.id,
                "reason": why.code,
                "to_stage": move.get("to_stage", ""),
            },
        )
        if why.action == Action.REROUTE:
            target = why.reroute_sla
            _create(
                lead=lead,
                sla=target,
                now=now,
                mql_at=handoff.mql_at,
                previous=handoff,
                exclude_user_ids=(handoff.assigned_to_id,)
                if handoff.assigned_to_id
                else (),
            )
        if why.action == Action.ACCOUNT_OWNER:
            _notify("account_owner", handoff.id)
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
        _event(
            handoff,
            HandoffEvent.Kind.ATTEMPT,
            at=at,
            actor=actor,
            detail=f"{attempt.get_channel_display()}: {attempt.get_outcome_display()}",
        )
    return attempt


# The escalation ladder (a beat task every minute)
# ------------------------------------------------------------------------------


def handoffs_remind_at_risk(*, now: dt.datetime | None = None) -> int:
    """Claim pending handoffs past their at-risk point and remind their SDR.

    The claim is ``UPDATE ... SET reminded_at WHERE reminded_at IS NULL``, so
    with two beat processes each handoff is reminded once. Returns how many.
    """
    now = now or timezone.now()
    ids = list(
        Handoff.objects.filter(
            status=Status.PENDING,
            reminded_at__isnull=True,
            at_risk_at__lte=now,
            due_at__gt=now,
        )
        .order_by("at_risk_at", "id")
        .values_list("id", flat=True)[:ESCALATION_BATCH]
    )
    reminded = 0
    for handoff_id in ids:
        with transaction.atomic():
            claimed = Handoff.objects.filter(
                id=handoff_id, status=Status.PENDING, reminded_at__isnull=True
            ).update(reminded_at=now)
            if not claimed:
                continue
            handoff = Handoff.objects.get(id=handoff_id)
            _event(handoff, HandoffEvent.Kind.REMINDED, at=now)
            if handoff.assigned_to_id:
                _notify("at_risk", handoff_id)
            reminded += 1
    return reminded


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
    ids = list(
        Handoff.objects.filter(status=Status.PENDING, due_at__lte=now)
        .order_by("due_at", "id")
        .values_list("id", flat=True)[:ESCALATION_BATCH]
    )
    expired = 0
    for handoff_id in ids:
        with transaction.atomic():
            claimed = Handoff.objects.filter(
                id=handoff_id, status=Status.PENDING, due_at__lte=now
            ).update(status=Status.EXPIRED, expired_at=now)
            if not claimed:
                continue
            handoff = Handoff.objects.select_related(
                "sla__calendar", "sla__team", "assigned_to"
            ).get(id=handoff_id)
            late = handoff.assigned_to or "nobody (unassigned)"
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
                new = _create(
                    lead=lead,
                    sla=handoff.sla,
                    now=now,
                    mql_at=handoff.mql_at,
                    previous=handoff,
                    exclude_user_ids=(handoff.assigned_to_id,)
                    if handoff.assigned_to_id
                    else (),
                )
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
            expired += 1
    return expired


def handoffs_follow_up_breaches(*, now: dt.datetime | None = None) -> int:
    """Record accepted handoffs whose owner did not follow up in time (once each)."""
    now = now or timezone.now()
    ids = list(
        Handoff.objects.filter(
            status=Status.ACCEPTED,
            followed_up_at__isnull=True,
            follow_up_breached_at__isnull=True,
            follow_up_due_at__lte=now,
        )
        .order_by("follow_up_due_at", "id")
        .values_list("id", flat=True)[:ESCALATION_BATCH]
    )
    breached = 0
    for handoff_id in ids:
        with transaction.atomic():
            claimed = Handoff.objects.filter(
                id=handoff_id,
                followed_up_at__isnull=True,
                follow_up_breached_at__isnull=True,
            ).update(follow_up_breached_at=now)
            if not claimed:
                continue
            handoff = Handoff.objects.get(id=handoff_id)
            _event(handoff, HandoffEvent.Kind.FOLLOW_UP_BREACHED, at=now)
            _notify("follow_up_breached", handoff_id)
            breached += 1
    return breached


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


# Sales moves
# ------------------------------------------------------------------------------

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
            if why.action == Action.DISQUALIFY:
                move = {"to_stage": Stage.DISQUALIFIED}
            else:
                move = {"to_stage": Stage.NURTURE}
                if why.cooldown_days:
                    move["hold_until"] = now + dt.timedelta(days=why.cooldown_days)
            label = f"Sent back by sales: {why.label}" + (
                f" ({text[:200]})" if text else ""
            )
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


# Availability
# ------------------------------------------------------------------------------


def availability_set(
    *, user: Any, is_away: bool, away_until: dt.date | None = None
) -> SalesProfile:
    """Mark a person away (no new handoffs) or back."""
    profile, _ = SalesProfile.objects.get_or_create(user=user)
    profile.is_away = is_away
    profile.away_until = away_until if is_away else None
    profile.save(update_fields=["is_away", "away_until"])
    return profile


def team_member_add(*, team: Team, user: Any, weight: int = 1) -> TeamMember:
    """Add an SDR to a team, level with the others so they do not get a burst.

    A newcomer starts with the team's lowest assignment count and as if
    assigned now, so round robin and weighted shares begin fairly.
    """
    with transaction.atomic():
        team = Team.objects.select_for_update().get(id=team.id)
        counts = list(
            TeamMember.objects.filter(team=team, is_active=True).values_list(
                "assigned_count", "weight"
            )
        )
        start = min((c * weight // w for c, w in counts), default=0)
        try:
            with transaction.atomic():
                return TeamMember.objects.create(
                    team=team,
                    user=user,
                    weight=weight,
                    assigned_count=start,
                    # As if just served: the newcomer waits one round.
                    last_turn=team.turn,
                )
        except IntegrityError:
            return TeamMember.objects.get(team=team, user=user)


# People leaving
# ------------------------------------------------------------------------------


def user_deactivate(
    *,
    user: Any,
    to_user: Any | None,
    actor: Any,
    now: dt.datetime | None = None,
) -> dict[str, Any]:
    """Deactivate a person and hand everything they own to ``to_user``.

    People who own work are deactivated, never deleted: deleting them would
    leave their leads ownerless and their handoffs out of every queue and
    pipeline. ``to_user`` receives their leads, their accounts, their
    pending handoffs (an ``assigned`` event on each, as a claim writes) and
    the accepted handoffs whose lead is still in the sales pipeline. It must
    be another active SDR, sales rep or admin; it may be None only when
    there is nothing to hand over. Refusals raise DecisionInvalid (field
    ``to_user``) and change nothing.

    Locks the person's user row, then the handoffs in id order, then the
    leads in id order (handoff before lead, as every handoff service).
    Writes one ``user_deactivate`` audit row with the ids and counts, and
    returns its details. Their sign-in and API token stop working at once
    (both refuse inactive users).
    """
    now = now or timezone.now()
    errors: dict[str, str] = {}
    if to_user is not None:
        if to_user.pk == user.pk:
            errors["to_user"] = "Choose someone else to take the work over."
        elif not (
            to_user.is_active and to_user.groups.filter(name__in=OWNER_ROLES).exists()
        ):
            errors["to_user"] = (
                f"{to_user} is not an active SDR, sales rep or admin; "
                "choose one who is."
            )
    if errors:
        raise DecisionInvalid(errors)
    user_model = type(user)
    with transaction.atomic():
        # NO KEY: rows that point at the user (events, audit rows a decision
        # in flight writes) only take a key-share lock, which this lets
        # through; a full lock here would deadlock with a decision holding
        # its handoff.
        person = user_model.objects.select_for_update(no_key=True).get(pk=user.pk)
        owned = user_owned_work(user_id=person.pk)
        if any(owned.values()) and to_user is None:
            raise DecisionInvalid(
                {"to_user": "Choose who takes over their leads and handoffs."}
            )
        candidates = [
            *Handoff.objects.filter(
                assigned_to_id=person.pk, status=Status.PENDING
            ).values_list("id", flat=True),
            *pipeline_handoffs_owned(person.pk).values_list("id", flat=True),
        ]
        handoffs = list(
            Handoff.objects.select_for_update(of=("self",))
            .filter(id__in=candidates)
            .order_by("id")
        )
        lead_ids = list(
            lock_leads(
                Lead.objects.filter(owner_id=person.pk).values_list("id", flat=True),
                no_key=True,
            ).values_list("id", flat=True)
        )
        # Read again under the locks: a decision that committed meanwhile
        # changed what is theirs.
        pending_ids, accepted_ids = [], []
        for handoff in handoffs:
            if handoff.status == Status.PENDING and handoff.assigned_to_id == person.pk:
                pending_ids.append(handoff.id)
                handoff.assigned_to = to_user
                handoff.save(update_fields=["assigned_to"])
                _event(
                    handoff,
                    HandoffEvent.Kind.ASSIGNED,
                    at=now,
                    actor=actor,
                    detail=f"reassigned from {person} to {to_user} (deactivated)",
                )
                _notify("reassigned", handoff.id)
            elif handoff.status == Status.ACCEPTED and handoff.owner_id == person.pk:
                accepted_ids.append(handoff.id)
                handoff.owner = to_user
                handoff.save(update_fields=["owner"])
        leads = Lead.objects.filter(id__in=lead_ids, owner_id=person.pk).update(
            owner=to_user, updated_at=now
        )
        accounts = Account.objects.filter(owner_id=person.pk).update(owner=to_user)
        person.is_active = False
        person.save(update_fields=["is_active"])
        details = {
            "user_id": person.pk,
            "to_user_id": getattr(to_user, "pk", None),
            "leads": leads,
            "accounts": accounts,
            "pending_handoff_ids": pending_ids,
            "accepted_handoff_ids": accepted_ids,
        }
        audit_record(
            actor=actor,
            action=AuditEvent.Action.USER_DEACTIVATE,
            at=now,
            details=details,
        )
    logger.info(
        "user %s deactivated by user %s; work to user %s",
        user.pk,
        getattr(actor, "pk", None),
        getattr(to_user, "pk", None),
    )
    return details


@transaction.atomic
def user_delete(*, user: Any, actor: Any) -> None:
    """Delete a person who owns nothing; audited (``user_delete``).

    Someone who owns leads, accounts or handoffs raises DecisionInvalid
    (deactivate them with ``user_deactivate`` instead) and stays. Locks the
    user row first, so work handed to them meanwhile is seen.
    """
    person = type(user).objects.select_for_update().get(pk=user.pk)
    owned = user_owned_work(user_id=person.pk)
    if any(owned.values()):
        raise DecisionInvalid({"user": owned_work_text(person, owned)})
    user_id = person.pk
    person.delete()
    audit_record(
        actor=actor,
        action=AuditEvent.Action.USER_DELETE,
        details={"user_id": user_id},
    )


def owned_work_text(user: Any, owned: dict[str, int]) -> str:
    """Why ``user`` cannot be deleted, naming what they own, for people."""
    nouns = {
        "leads": ("lead", "leads"),
        "accounts": ("account", "accounts"),
        "pending_handoffs": ("pending handoff", "pending handoffs"),
        "accepted_handoffs": (
            "accepted handoff in the pipeline",
            "accepted handoffs in the pipeline",
        ),
    }
    parts = [
        f"{n} {one if n == 1 else many}"
        for key, (one, many) in nouns.items()
        if (n := owned.get(key, 0))
    ]
    return (
        f"The user {user} owns {', '.join(parts)}; they cannot be deleted. "
        "Deactivate them and reassign their work instead."
    )
