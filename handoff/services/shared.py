"""Pieces every handoff use-case shares: limits, locking and checks, records.

Locking a handoff the actor may see, the checks before a decision (who may
decide, still pending), the rejection reason and feedback a decision cites,
the handoff event rows, and the e-mail enqueued after commit.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction

from crm.common.roles import ADMIN, SALES, SDR
from handoff.exceptions import DecisionInvalid, HandoffAlreadyDecided, HandoffNotYours
from handoff.models import Handoff, HandoffEvent, RejectionReason, Team, TeamMember
from handoff.selectors import handoff_for_user, is_manager

SYSTEM_ACTOR = "handoff"
#: Rows each escalation step claims per beat run; the rest wait a minute.
ESCALATION_BATCH = 500
FEEDBACK_MAX = 5000
#: Groups whose members may own an accepted lead.
OWNER_ROLES = (SDR, SALES, ADMIN)
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


def _notify_owner_change(change_id: int) -> None:
    """E-mail a lead's new owner about an OwnerChange after commit (never inline)."""
    from handoff.tasks import send_owner_change_task  # the sanctioned cycle

    # robust, as above: the reassignment stands if the broker is down.
    transaction.on_commit(lambda: send_owner_change_task.delay(change_id), robust=True)


def _turn_take(team: Team, *, member_id: int, served: int, now: dt.datetime) -> None:
    """Count a turn of ``team`` (locked by the caller) for one of its members.

    ``served`` is the member's assignment count before this turn; the member
    becomes the most recently served, so round robin moves on from them.
    """
    turn = team.turn + 1
    Team.objects.filter(id=team.id).update(turn=turn)
    TeamMember.objects.filter(id=member_id).update(
        assigned_count=served + 1, last_turn=turn, last_assigned_at=now
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
