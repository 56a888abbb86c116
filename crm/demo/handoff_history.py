"""A journey's handoffs: contact attempts, SDR decisions, breaches, follow-ups."""

from __future__ import annotations

import zlib
from datetime import datetime, timedelta
from decimal import Decimal

from crm.demo.catalogue import (
    _ATTEMPT_NOTES,
    _FEEDBACK,
    _FOLLOW_UPS,
    _OUTSIDE_MARKETS,
    _REJECTION_NOTES,
    ATTEMPT_NOTE_SHARE,
)
from crm.demo.defaults import DEMO_MANAGER, DEMO_REPS
from crm.demo.handoff_plans import _Attempt, _HandoffPlan
from crm.demo.journeys import _Journey
from crm.demo.teams import (
    BEAT_INTERVAL,
    BREACH_SHARE,
    FAST_SLA_BREACH_SHARE,
    FAST_SLA_HOURS,
    FOLLOW_UP_LATE_SHARE,
    SYSTEM_DELAY_SECONDS,
)
from handoff import business_hours
from handoff.models import ContactAttempt, Handoff, ServiceLevelAgreement
from handoff.rejections import rejection_destination


def _next_beat(at: datetime) -> datetime:
    """The first run of the once-a-minute beat task at or after ``at``."""
    floor = at.replace(second=0, microsecond=0)
    return floor if floor == at else floor + BEAT_INTERVAL


def _sla_time(
    j: _Journey, sla: ServiceLevelAgreement, start: datetime, hours: float
) -> datetime:
    """``hours`` business hours of the SLA's calendar after ``start``.

    For the moments people act (attempts, decisions): to the whole second.
    """
    at = business_hours.add_business_hours(start, hours, j.world.handoff.calendar(sla))
    return at.replace(microsecond=0)


def _text(j: _Journey, options: tuple[float, tuple[str, ...]], *, rep: str) -> str:
    share, texts = options
    if not texts or j.rng.random() >= share:
        return ""
    return j.rng.choice(texts).format(first=j.lead.first_name, rep=rep)


def _feedback(j: _Journey, code: str) -> str:
    """Feedback with a reason: always when the reason requires it."""
    options = _FEEDBACK.get(code, (0.0, ()))
    if j.world.handoff.reasons[code].feedback_required:
        options = (1.0, options[1] or ("See the call notes.",))
    return _text(j, options, rep=_account_rep(j, record=False))


def _note(j: _Journey, outcome: str, *, rejecting: bool = False) -> str:
    notes = _ATTEMPT_NOTES[outcome]
    if rejecting:
        notes = _REJECTION_NOTES.get(outcome, notes)
    return _text(j, (ATTEMPT_NOTE_SHARE, notes), rep="")


def _account_rep(j: _Journey, *, record: bool = True) -> str:
    """The rep who owns the lead's account; free-mail leads go round the reps."""
    hw = j.world.handoff
    account = j.lead.account
    if account is None:
        rep = DEMO_REPS[hw.rep_turn % len(DEMO_REPS)]
        hw.rep_turn += record
        return rep
    # crc32, not hash(): the same account gets the same rep in every run.
    rep = DEMO_REPS[zlib.crc32(account.domain.encode()) % len(DEMO_REPS)]
    if record:
        hw.account_reps[account.domain] = rep
    return rep


def _handoff_open_plan(
    j: _Journey,
    *,
    sla: ServiceLevelAgreement,
    mql_at: datetime,
    created_at: datetime,
    previous: _HandoffPlan | None = None,
) -> _HandoffPlan:
    """A handoff opened at ``created_at``: assigned, with its due times."""
    hw = j.world.handoff
    exclude = (previous.assigned_to,) if previous else ()
    assigned_to, detail = hw.assign(sla.team_id, created_at, exclude)
    # The same arithmetic as handoff.services.opening._create.
    calendar = hw.calendar(sla)
    hours = Decimal(sla.accept_within_hours)
    return _HandoffPlan(
        sla=sla,
        team_id=sla.team_id,
        assigned_to=assigned_to,
        assign_detail=detail,
        previous=previous,
        mql_at=mql_at,
        created_at=created_at,
        due_at=business_hours.add_business_hours(created_at, hours, calendar),
        at_risk_at=business_hours.add_business_hours(
            created_at, hours * sla.at_risk_percent / 100, calendar
        ),
    )


def _attempts_before(
    j: _Journey,
    plan: _HandoffPlan,
    script: list[tuple[str, str]],
    *,
    user: str,
    within: float,
    rejecting: bool = False,
) -> None:
    """Log ``script`` (channel, outcome) in the first ``within`` business hours."""
    shares = sorted(j.rng.uniform(0.05, 0.95) for _ in script)
    for share, (channel, outcome) in zip(shares, script, strict=True):
        at = _sla_time(j, plan.sla, plan.created_at, within * share)
        note = _note(j, outcome, rejecting=rejecting)
        plan.attempts.append(_Attempt(user, channel, outcome, note, at))


def _attempt_script(j: _Journey, code: str | None) -> list[tuple[str, str]]:
    """The contact attempts an SDR logs before accepting or rejecting (``code``)."""
    rng = j.rng
    call, email = ContactAttempt.Channel.CALL, ContactAttempt.Channel.EMAIL
    outcome = ContactAttempt.Outcome
    if code is None:
        before = rng.choice(
            ((), ((call, outcome.NO_ANSWER),), ((email, outcome.SENT),))
        )
        last = (call, rng.choice((outcome.CONNECTED, outcome.MEETING)))
        script = [*before, last]
    elif code == "bad_contact_data":
        script = [rng.choice(((call, outcome.BOUNCED), (email, outcome.BOUNCED)))]
    elif code in ("competitor_spam", "existing_customer", "wrong_region", "no_fit"):
        # Decided from the record itself, sometimes after a short reply.
        script = [(email, outcome.REPLIED)] if rng.random() < 0.3 else []
    elif code == "unable_to_reach":
        script = [(call, outcome.NO_ANSWER), (call, outcome.VOICEMAIL)]
    else:  # they talked: budget, authority, need or timing came up
        script = rng.choice(
            (
                [(call, outcome.CONNECTED)],
                [(call, outcome.NO_ANSWER), (call, outcome.CONNECTED)],
                [(email, outcome.SENT), (email, outcome.REPLIED)],
            )
        )
    if code is not None:
        needed = j.world.handoff.reasons[code].min_attempts
        script += [(email, outcome.SENT)] * max(0, needed - len(script))
    return script


def _handoff_decide(
    j: _Journey, plan: _HandoffPlan, code: str | None, feedback: str | None = None
) -> None:
    """The assigned SDR logs attempts, then accepts (``code`` None) or rejects."""
    rng = j.rng
    hours = float(plan.sla.accept_within_hours)
    # Most decisions come early in the window; unable-to-reach takes tries.
    if code == "unable_to_reach":
        share = rng.uniform(0.6, 0.95)
    else:
        share = min(0.95, max(0.02, rng.betavariate(1.3, 3.0)))
    decider = plan.assigned_to or DEMO_MANAGER
    _attempts_before(
        j,
        plan,
        _attempt_script(j, code),
        user=decider,
        within=hours * share,
        rejecting=code is not None,
    )
    plan.decided_at = _sla_time(j, plan.sla, plan.created_at, hours * share)
    plan.decided_by = decider
    if _next_beat(plan.at_risk_at) < plan.decided_at:
        plan.reminded_at = _next_beat(plan.at_risk_at)
    if code is None:
        plan.status = Handoff.Status.ACCEPTED
        return
    plan.status = Handoff.Status.REJECTED
    plan.reason = code
    plan.feedback = _feedback(j, code) if feedback is None else feedback


def _handoff_expire(j: _Journey, plan: _HandoffPlan) -> None:
    """Nobody decided in time: reminded, then expired and escalated by the beat."""
    if j.rng.random() < 0.3 and plan.assigned_to:
        script = [(ContactAttempt.Channel.CALL, ContactAttempt.Outcome.NO_ANSWER)]
        within = float(plan.sla.accept_within_hours) * plan.sla.at_risk_percent / 100
        _attempts_before(j, plan, script, user=plan.assigned_to, within=within)
    plan.expired_at = _next_beat(plan.due_at)
    if _next_beat(plan.at_risk_at) < plan.expired_at:
        plan.reminded_at = _next_beat(plan.at_risk_at)
    plan.status = Handoff.Status.EXPIRED


def _sdr_decides(
    j: _Journey, code: str | None, feedback: str | None = None
) -> _HandoffPlan | None:
    """Open the new MQL's handoff and play the SDRs' work up to the decision.

    ``code`` is the rejection reason, None to accept; ``feedback`` the SDR's
    (None: drawn for the reason). The handoff goes to the first SLA that
    covers the lead (as ``handoff_open`` does) and the team's next SDR. A
    breach expires it at the beat after its due time, escalates it and
    reassigns the lead to another SDR, as the escalation ladder does; a
    rerouting rejection (wrong region) sends the lead to the reason's SLA, whose team
    disqualifies it as no fit. Returns the deciding handoff, with the chain
    recorded on the journey and its clock at the decision, or None (nothing
    recorded, counters restored) when the decision falls after today.
    """
    hw = j.world.handoff
    rng = j.rng
    state = hw.state()
    mql_at = j.now
    sla = hw.match(j.sla_facts())
    created_at = mql_at + timedelta(seconds=rng.randint(*SYSTEM_DELAY_SECONDS))
    chain = [_handoff_open_plan(j, sla=sla, mql_at=mql_at, created_at=created_at)]
    fast = sla.accept_within_hours <= FAST_SLA_HOURS
    if rng.random() < (FAST_SLA_BREACH_SHARE if fast else BREACH_SHARE):
        late = chain[-1]
        _handoff_expire(j, late)
        chain.append(
            _handoff_open_plan(
                j, sla=sla, mql_at=mql_at, created_at=late.expired_at, previous=late
            )
        )
    target = rejection_destination(hw.reasons[code]).reroute_sla if code else None
    if target is not None:
        first = chain[-1]
        _handoff_decide(j, first, code)
        chain.append(
            _handoff_open_plan(
                j,
                sla=target,
                mql_at=mql_at,
                created_at=first.decided_at,
                previous=first,
            )
        )
        code, feedback = "no_fit", _OUTSIDE_MARKETS
    last = chain[-1]
    _handoff_decide(j, last, code, feedback)
    if last.decided_at >= j.world.end:
        hw.restore(state)
        return None
    j.handoffs.extend(chain)
    j._move_to(last.decided_at)
    return last


def _follow_up_plan(j: _Journey, handoff: _HandoffPlan) -> None:
    """Start the follow-up clock and plan when the owner follows up.

    Whether the planned attempt happens (or a sales move comes first) is
    settled when the journey is over (``_handoffs_finish``).
    """
    rng = j.rng
    hours = float(handoff.sla.follow_up_within_hours)
    # As handoff_accept computes it.
    handoff.follow_up_due_at = business_hours.add_business_hours(
        handoff.decided_at,
        Decimal(handoff.sla.follow_up_within_hours),
        j.world.handoff.calendar(handoff.sla),
    )
    late = rng.random() < FOLLOW_UP_LATE_SHARE
    share = rng.uniform(1.1, 2.5) if late else rng.uniform(0.05, 0.8)
    handoff.follow_up_at = _sla_time(j, handoff.sla, handoff.decided_at, hours * share)


def _handoffs_finish(j: _Journey) -> None:
    """Settle the follow-ups of the accepted handoffs once the journey is over.

    The owner's planned attempt stops the follow-up clock unless a sales move
    came first (which stops it too); a clock still running a minute after
    its due time was breached, as the escalation ladder records it.
    """
    end = j.world.end
    for plan in j.handoffs:
        if plan.status != Handoff.Status.ACCEPTED or plan.follow_up_due_at is None:
            continue
        first_move = plan.outcomes[0].at if plan.outcomes else None
        planned = plan.follow_up_at
        if (
            planned is not None
            and planned < end
            and (first_move is None or planned < first_move)
        ):
            channel, outcome = j.rng.choice(_FOLLOW_UPS)
            owner = plan.owner_at(planned) or plan.decided_by or DEMO_MANAGER
            plan.attempts.append(
                _Attempt(owner, channel, outcome, _note(j, outcome), planned)
            )
            plan.followed_up_at = planned
        elif first_move is not None:
            plan.followed_up_at = first_move
        breach = _next_beat(plan.follow_up_due_at)
        if breach < end and (
            plan.followed_up_at is None or plan.followed_up_at > breach
        ):
            plan.follow_up_breached_at = breach
