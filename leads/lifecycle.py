"""The lead lifecycle: the only code that changes a lead's stage.

Stages: ``lead`` -> ``mql`` -> ``sal`` -> ``sql`` -> ``opportunity`` ->
``customer``, plus ``nurture`` (recycled) and ``disqualified``. ``lead_move``
locks the lead row, checks the move against ``ALLOWED_MOVES``, updates the
stage, the highest stage ever reached and the first-entered date of the new
stage, writes a StageTransition in the same transaction and, after commit,
sends ``leads.signals.lead_stage_changed``.

``history_replay`` applies a list of past moves to a lead that is being
created in bulk (demo data, CRM imports): the same rules, no lock, no signal,
because history must not trigger present-day work such as a handoff.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from leads.attribution_marks import attribution_days_mark
from leads.exceptions import InvalidStageTransition, StageChangedConcurrently
from leads.locks import lock_lead
from leads.models import Lead, StageTransition
from leads.signals import lead_stage_changed

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

logger = logging.getLogger(__name__)

Stage = Lead.Stage

#: The funnel in order. ``highest_stage`` is the furthest of these ever reached.
FUNNEL: tuple[str, ...] = (
    Stage.LEAD,
    Stage.MQL,
    Stage.SAL,
    Stage.SQL,
    Stage.OPPORTUNITY,
    Stage.CUSTOMER,
)
_FUNNEL_RANK = {stage: rank for rank, stage in enumerate(FUNNEL)}

#: Every allowed move. Anything else raises InvalidStageTransition.
ALLOWED_MOVES: dict[str, frozenset[str]] = {
    # Scoring qualifies a lead; marketing can park or drop it.
    Stage.LEAD: frozenset({Stage.MQL, Stage.NURTURE, Stage.DISQUALIFIED}),
    # An SDR accepts or rejects the handoff.
    Stage.MQL: frozenset({Stage.SAL, Stage.NURTURE, Stage.DISQUALIFIED}),
    # A rep qualifies an accepted lead, or sends it back.
    Stage.SAL: frozenset({Stage.SQL, Stage.NURTURE, Stage.DISQUALIFIED}),
    Stage.SQL: frozenset({Stage.OPPORTUNITY, Stage.NURTURE, Stage.DISQUALIFIED}),
    # Closed won, or closed lost back to nurture.
    Stage.OPPORTUNITY: frozenset({Stage.CUSTOMER, Stage.NURTURE, Stage.DISQUALIFIED}),
    Stage.CUSTOMER: frozenset(),
    # A recycled lead re-qualifies through scoring.
    Stage.NURTURE: frozenset({Stage.MQL, Stage.DISQUALIFIED}),
    # Reinstating a disqualified lead recycles it; it must re-qualify.
    Stage.DISQUALIFIED: frozenset({Stage.NURTURE}),
}

#: Moves that step out of the funnel (or back into it) must say why.
_REASON_REQUIRED_TO = frozenset({Stage.NURTURE, Stage.DISQUALIFIED})

_ENTERED_FIELD = {stage.value: f"entered_{stage.value}_at" for stage in Stage}
#: Stages whose first entry is a conversion campaign attribution credits.
_ATTRIBUTED_STAGES = frozenset({Stage.MQL, Stage.SQL, Stage.CUSTOMER})


def stage_rank(stage: str) -> int:
    """Position of a funnel stage (``lead`` = 0); -1 for nurture/disqualified."""
    return _FUNNEL_RANK.get(stage, -1)


def allowed_moves(from_stage: str) -> frozenset[str]:
    return ALLOWED_MOVES.get(from_stage, frozenset())


def check_move(*, lead_id: int, from_stage: str, to_stage: str, reason: str) -> None:
    """Raise InvalidStageTransition unless the move is allowed as asked."""
    labels = dict(Stage.choices)
    if to_stage not in labels:
        raise InvalidStageTransition(
            lead_id=lead_id,
            from_stage=from_stage,
            to_stage=to_stage,
            message=f"Unknown stage {to_stage!r}; use one of: {', '.join(labels)}.",
        )
    if from_stage == to_stage:
        raise InvalidStageTransition(
            lead_id=lead_id,
            from_stage=from_stage,
            to_stage=to_stage,
            message=f"Lead {lead_id} is already in stage {labels[to_stage]}.",
        )
    if to_stage not in allowed_moves(from_stage):
        allowed = ", ".join(sorted(allowed_moves(from_stage))) or "none"
        raise InvalidStageTransition(
            lead_id=lead_id,
            from_stage=from_stage,
            to_stage=to_stage,
            message=(
                f"Lead {lead_id} cannot move from {labels[from_stage]} to "
                f"{labels[to_stage]}; allowed from {from_stage}: {allowed}."
            ),
        )
    if (
        to_stage in _REASON_REQUIRED_TO or from_stage == Stage.DISQUALIFIED
    ) and not reason.strip():
        raise InvalidStageTransition(
            lead_id=lead_id,
            from_stage=from_stage,
            to_stage=to_stage,
            message=f"Give a reason for moving lead {lead_id} to {labels[to_stage]}.",
        )


def _apply(lead: Lead, to_stage: str, at: datetime) -> list[str]:
    """Set the stage fields of ``lead`` for a move at ``at``; return changed fields."""
    lead.stage = to_stage
    lead.stage_changed_at = at
    changed = ["stage", "stage_changed_at"]
    if stage_rank(to_stage) > stage_rank(lead.highest_stage):
        lead.highest_stage = to_stage
        changed.append("highest_stage")
    entered = _ENTERED_FIELD[to_stage]
    if getattr(lead, entered) is None:
        setattr(lead, entered, at)
        changed.append(entered)
    return changed


def _check_actor(actor: AbstractBaseUser | None, system_actor: str) -> None:
    if (actor is None) == (not system_actor):
        raise ValueError("Pass exactly one of actor (a user) or system_actor.")


@transaction.atomic
def lead_move(
    *,
    lead_id: int,
    to_stage: str,
    actor: AbstractBaseUser | None = None,
    system_actor: str = "",
    reason: str = "",
    expected_stage: str | None = None,
    hold_until: datetime | None = None,
    now: datetime | None = None,
) -> StageTransition:
    """Move one lead to ``to_stage`` and record who or what did it and why.

    Locks the lead row (FOR NO KEY UPDATE: a move writes only the lead's own
    columns, so touchpoints of the lead can still be stored meanwhile, and a
    rescore that already holds that lock never has to take a stronger one
    behind them) for the rest of the caller's transaction, so of two
    concurrent moves one waits and then sees the other's result: a
    move that is no longer allowed raises InvalidStageTransition and writes
    nothing. ``hold_until`` (only for a move to nurture) starts a recycle
    cool-down: until then only a high-intent touchpoint makes the lead an MQL
    again; any other move clears it. With ``expected_stage``, a lead that has
    left that stage raises StageChangedConcurrently (the caller acted on a
    stale view). Exactly one of ``actor`` or ``system_actor`` names who moved
    it. After commit, ``lead_stage_changed`` is sent. Raises
    Lead.DoesNotExist for a missing lead.
    """
    _check_actor(actor, system_actor)
    at = now or timezone.now()
    lead = lock_lead(lead_id, no_key=True)
    from_stage = lead.stage
    if expected_stage is not None and from_stage != expected_stage:
        raise StageChangedConcurrently(
            lead_id=lead_id,
            from_stage=from_stage,
            to_stage=to_stage,
            message=(
                f"Lead {lead_id} was moved to {lead.get_stage_display()} by someone "
                "else in the meantime; reload it and try again."
            ),
        )
    check_move(lead_id=lead_id, from_stage=from_stage, to_stage=to_stage, reason=reason)
    if hold_until is not None and to_stage != Stage.NURTURE:
        raise ValueError("hold_until applies only to a move to nurture.")
    changed = _apply(lead, to_stage, at)
    if _ENTERED_FIELD[to_stage] in changed and to_stage in _ATTRIBUTED_STAGES:
        attribution_days_mark(moments=[at])
    if hold_until is not None or lead.recycle_until is not None:
        lead.recycle_until = hold_until
        changed.append("recycle_until")
    lead.save(update_fields=[*changed, "updated_at"])
    transition = StageTransition.objects.create(
        lead=lead,
        from_stage=from_stage,
        to_stage=to_stage,
        at=at,
        actor=actor,
        system_actor=system_actor,
        reason=reason.strip(),
    )
    logger.info(
        "lead %s moved %s -> %s by %s",
        lead_id,
        from_stage,
        to_stage,
        getattr(actor, "pk", None) or system_actor,
    )
    payload = {
        "lead_id": lead.id,
        "transition_id": transition.id,
        "from_stage": from_stage,
        "to_stage": to_stage,
        "actor_id": getattr(actor, "pk", None),
        "system_actor": system_actor,
        "at": at,
    }
    transaction.on_commit(lambda: _send_stage_changed(payload))
    return transition


def _send_stage_changed(payload: dict) -> None:
    # send_robust: a failing receiver (say, a broker that is down) must not turn
    # a committed move into an error; the receivers' reconcilers catch up.
    for receiver, result in lead_stage_changed.send_robust(sender=Lead, **payload):
        if isinstance(result, Exception):
            logger.error(
                "lead_stage_changed receiver %r failed for lead %s: %r",
                receiver,
                payload["lead_id"],
                result,
            )


@dataclass(frozen=True)
class HistoryStep:
    to_stage: str
    at: datetime
    reason: str = ""


def history_replay(
    lead: Lead, steps: Sequence[HistoryStep], *, system_actor: str
) -> list[StageTransition]:
    """Apply past moves to ``lead`` in memory and return unsaved transitions.

    For bulk creation of leads with a known history (demo data, imports from
    another CRM). Each step is checked like a live move, in time order, and
    must not be earlier than the previous one; InvalidStageTransition names the
    first bad step and leaves ``lead`` unchanged. The caller saves the lead
    and bulk-creates the transitions in one transaction (they need
    ``lead.id``). No lock and no signal: history triggers no present-day work.
    """
    if not system_actor:
        raise ValueError("history_replay needs a system_actor such as 'import'.")
    snapshot = {f: getattr(lead, f) for f in _history_fields()}
    transitions: list[StageTransition] = []
    previous_at: datetime | None = lead.entered_lead_at
    try:
        for step in steps:
            if previous_at is not None and step.at < previous_at:
                raise InvalidStageTransition(
                    lead_id=lead.id or 0,
                    from_stage=lead.stage,
                    to_stage=step.to_stage,
                    message=(
                        f"History step to {step.to_stage} at {step.at.isoformat()} "
                        "is earlier than the step before it."
                    ),
                )
            check_move(
                lead_id=lead.id or 0,
                from_stage=lead.stage,
                to_stage=step.to_stage,
                reason=step.reason or system_actor,
            )
            transitions.append(
                StageTransition(
                    lead=lead,
                    from_stage=lead.stage,
                    to_stage=step.to_stage,
                    at=step.at,
                    system_actor=system_actor,
                    reason=step.reason,
                )
            )
            _apply(lead, step.to_stage, step.at)
            previous_at = step.at
    except InvalidStageTransition:
        for field, value in snapshot.items():
            setattr(lead, field, value)
        raise
    return transitions


def _history_fields() -> list[str]:
    return ["stage", "highest_stage", "stage_changed_at", *_ENTERED_FIELD.values()]
