"""Bulk writes of planned leads and handoffs; the MQL handoffs open at the end."""

from __future__ import annotations

import logging
import math
import operator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from crm.demo.bulk_load import rows_copy, rows_insert
from crm.demo.defaults import (
    DEMO_NAMES,
    DEMO_SOURCE,
    HISTORY_DAYS,
    Stage,
)
from crm.demo.handoff_plans import _HandoffPlan, _HandoffWorld
from crm.demo.lead_plans import _LeadPlan
from crm.demo.teams import COMMITMENT_HEADROOM, DEMO_SLAS, LATE_OPEN_EVERY
from crm.demo.world import _World
from handoff import business_hours
from handoff import services as handoff_services
from handoff.models import (
    ContactAttempt,
    Handoff,
    HandoffEvent,
    SalesOutcome,
    ServiceLevelAgreement,
)
from handoff.selectors import (
    last_touchpoint_kinds,
    lead_sla_facts_known,
    sla_pick,
    slas_active,
)
from leads.models import Lead, OwnerChange, StageTransition, Touchpoint
from scoring.engine import (
    ACTIVITY_KINDS,
    CONDITION_KINDS,
    ModelSpec,
    Rule,
    RuleActivity,
    Touch,
    activity_points,
    age_in_days,
    attribute_value,
    evaluate,
    evaluate_touches,
    occurrences_cap,
)
from scoring.models import LeadScoreHistory
from scoring.selectors import ACCOUNT_FACT_FIELDS, LEAD_FACT_FIELDS, facts_from_values

logger = logging.getLogger("crm.demo")

#: At most this many points of a lead's score history come before the end.
SCORE_HISTORY_POINTS = 4
#: MQLs whose latest touchpoint kind one statement reads (their SLA's facts).
SLA_CHUNK = 2000
#: Newest first, as ``scoring.engine.rule_activity`` counts touches.
_NEWEST = operator.attrgetter("occurred_at", "id")
#: The columns of the touchpoint rows ``_chunk_write`` builds.
TOUCHPOINT_COLUMNS = (
    "lead_id",
    "kind_id",
    "occurred_at",
    "campaign_id",
    "properties",
    "source",
    "external_id",
    "received_at",
)
#: The columns of the rows ``_score_history`` gives.
SCORE_HISTORY_COLUMNS = (
    "lead_id",
    "model_id",
    "total",
    "fit_score",
    "engagement_score",
    "at",
)


def _score_snapshot(
    hw: _HandoffWorld, lead: Lead, touchpoints: list[Touch], at: datetime
) -> dict[str, Any]:
    """The lead's score at ``at`` under the active model, as a handoff keeps it."""
    if hw.spec is None:
        return {}
    touches = [t for t in touchpoints if t.occurred_at <= at]
    result = evaluate_touches(hw.spec, _lead_facts(lead), touches, at)
    return {
        "score": result.total,
        "fit_score": result.fit_score,
        "engagement_score": result.engagement_score,
        "grade": result.grade,
        "score_breakdown": result.items,
        "scoring_model": hw.model_name,
    }


def _lead_facts(lead: Lead) -> dict[str, Any]:
    account = None
    if lead.account is not None:
        account = {f: getattr(lead.account, f) for f in ACCOUNT_FACT_FIELDS}
    values = {f: getattr(lead, f) for f in (*LEAD_FACT_FIELDS, "attributes")}
    return facts_from_values(values, account, None)


def _activity_rules(spec: ModelSpec) -> list[tuple[Rule, int]]:
    """The rules of ``spec`` that count touchpoints, with their half-lives.

    The rules ``evaluate_touches`` counts activity for and ``evaluate`` adds
    up as engagement: kinds in both ACTIVITY_KINDS and not CONDITION_KINDS.
    """
    return [
        (rule, spec.half_life(rule))
        for rule in spec.rules
        if rule.kind in ACTIVITY_KINDS and rule.kind not in CONDITION_KINDS
    ]


def _rule_touches(
    rules: list[tuple[Rule, int]], touches: list[Touch]
) -> list[tuple[Rule, int, list[Touch]]]:
    """Per activity rule, the touches it may count whatever the moment.

    Those of its kind meeting its property condition, newest first, as
    ``rule_activity`` orders them; the rules with none are left out. What
    depends on the moment (touches up to it, the look-back, the cap) is left
    to ``_engagement``, so each condition is tested once per touch.
    """
    by_kind: dict[str, list[Touch]] = {}
    for t in touches:
        by_kind.setdefault(t.kind, []).append(t)
    found = []
    for rule, half_life in rules:
        matched = by_kind.get(rule.touchpoint_kind)
        if matched and rule.property_name:
            condition, name = rule.property_condition, rule.property_name
            matched = [
                t for t in matched if condition(attribute_value(t.properties, name))
            ]
        if matched:
            found.append((rule, half_life, sorted(matched, key=_NEWEST, reverse=True)))
    return found


def _engagement(
    rule_touches: list[tuple[Rule, int, list[Touch]]], at: datetime
) -> Decimal:
    """The engagement score at ``at`` (``evaluate_touches``'s, without the rest).

    Each rule counts its touches up to ``at`` within its look-back, at most
    its cap, the newest first, as ``rule_activity`` counts them, decayed as
    ``evaluate`` does.
    """
    engagement = Decimal(0)
    for rule, half_life, touches in rule_touches:
        lookback = rule.lookback_days
        ages = []
        for t in touches:
            if t.occurred_at > at:
                continue
            age = age_in_days(t.occurred_at, at)
            if lookback is None or age <= lookback:
                ages.append(age)
        del ages[occurrences_cap(rule) :]
        if ages:
            activity = RuleActivity(ages=tuple(ages), touch_ids=())
            engagement += activity_points(rule, activity, half_life)
    return engagement


def _score_history(
    hw: _HandoffWorld, plan: _LeadPlan, end: datetime
) -> list[tuple[Any, ...]]:
    """The lead's total each time it changed before the end, as scoring kept it.

    Real-time scoring rescored the lead as each day's touchpoints arrived
    (at most SCORE_HISTORY_POINTS of those days, spread over its life) and
    stored a row when the total moved; a lead active on one day only has
    just the current score (nothing here). The final rescore at ``end``
    (``model_rescore_all``) stores the current score, so a last row with the
    same totals is left to it. Nothing without an active model. Rows of
    SCORE_HISTORY_COLUMNS.

    The totals are ``evaluate_touches``'s: the fit score depends on the
    lead's facts alone, so it is scored once, and only the engagement is
    counted again at each moment.
    """
    if hw.spec is None or len({t.occurred_at.date() for t in plan.touchpoints}) < 2:
        return []  # one day of activity: the current score is its history
    fit = evaluate(hw.spec, _lead_facts(plan.lead), {}).fit_score
    if hw.activity_rules is None:
        hw.activity_rules = _activity_rules(hw.spec)
    # plan.touchpoints and plan.touches are parallel: the same touchpoints.
    received = {
        t.id: touch.received_at
        for t, touch in zip(plan.touchpoints, plan.touches, strict=True)
    }
    touches = sorted(plan.touchpoints, key=lambda t: t.occurred_at)
    rule_touches = _rule_touches(hw.activity_rules, touches)
    # The moment after each day's last touchpoint arrived.
    moments = list({t.occurred_at.date(): received[t.id] for t in touches}.values())
    if len(moments) > SCORE_HISTORY_POINTS:
        step = (len(moments) - 1) / (SCORE_HISTORY_POINTS - 1)
        moments = [moments[round(i * step)] for i in range(SCORE_HISTORY_POINTS)]
    rows: list[tuple[Any, ...]] = []
    last = None
    for at in [*moments, end]:
        engagement = _engagement(rule_touches, at)
        totals = (fit + engagement, fit, engagement)
        if totals == last:
            continue
        if at == end:
            break
        last = totals
        rows.append((plan.lead.id, hw.model_id, *totals, at))
    else:
        rows = rows[:-1]  # the end's totals are the last row's: scoring stores it
    return rows


def _handoff_events(
    plan: _HandoffPlan, users: dict[str, int], reasons: dict[str, str]
) -> list[HandoffEvent]:
    """The audit trail the services would have written, in time order."""
    kind = HandoffEvent.Kind
    names = DEMO_NAMES
    row = plan.row

    def event(
        at: datetime, what: str, actor: str | None = None, detail: str = ""
    ) -> HandoffEvent:
        return HandoffEvent(
            handoff=row,
            kind=what,
            at=at,
            actor_id=users[actor] if actor else None,
            detail=detail[:300],
        )

    events = [event(plan.created_at, kind.ASSIGNED, detail=plan.assign_detail)]
    if plan.reminded_at:
        events.append(event(plan.reminded_at, kind.REMINDED))
    for attempt in plan.attempts:
        channel = ContactAttempt.Channel(attempt.channel).label
        outcome = ContactAttempt.Outcome(attempt.outcome).label
        events.append(
            event(attempt.at, kind.ATTEMPT, attempt.user, f"{channel}: {outcome}")
        )
    if plan.expired_at:
        late = names.get(plan.assigned_to or "", "nobody (unassigned)")
        events += [
            event(
                plan.expired_at,
                kind.EXPIRED,
                detail=f"Not decided by {plan.due_at:%Y-%m-%d %H:%M} UTC by {late}",
            ),
            event(
                plan.expired_at,
                kind.ESCALATED,
                detail=plan.sla.escalation_email or "no escalation contact",
            ),
        ]
    if plan.status == Handoff.Status.ACCEPTED:
        # As handoff_accept records it: the owner named unless the SDR kept it.
        first_owner = plan.owner_at(plan.decided_at)
        detail = (
            ""
            if first_owner == plan.decided_by
            else f"now owned by {names[first_owner]}"
        )
        events.append(event(plan.decided_at, kind.ACCEPTED, plan.decided_by, detail))
        if plan.handed_rule:
            events.append(
                event(
                    plan.decided_at,
                    kind.HANDED_TO_SALES,
                    plan.decided_by,
                    plan.handed_rule,
                )
            )
    elif plan.status == Handoff.Status.REJECTED:
        events.append(
            event(plan.decided_at, kind.REJECTED, plan.decided_by, reasons[plan.reason])
        )
    if plan.follow_up_breached_at:
        events.append(event(plan.follow_up_breached_at, kind.FOLLOW_UP_BREACHED))
    events.sort(key=lambda e: e.at)  # stable: accepted stays before handed over
    return events


def _handoffs_insert(world: _World, plans: list[_LeadPlan]) -> None:
    """Insert the chunk's handoffs, predecessors first, then their children.

    Needs the leads' and touchpoints' ids (the score snapshot names its
    touchpoints); names the accepting handoff in its stage transition.
    """
    hw = world.handoff
    users = hw.users
    by_sequence: dict[int, list[Handoff]] = {}
    for plan in plans:
        for h in plan.handoffs:
            reason = hw.reasons[h.reason] if h.reason else None
            h.row = Handoff(
                lead_id=plan.lead.id,
                sla_id=h.sla.id,
                team_id=h.team_id,
                assigned_to_id=users[h.assigned_to] if h.assigned_to else None,
                status=h.status,
                previous=h.previous.row if h.previous else None,
                sequence=h.sequence,
                mql_at=h.mql_at,
                created_at=h.created_at,
                due_at=h.due_at,
                at_risk_at=h.at_risk_at,
                reminded_at=h.reminded_at,
                expired_at=h.expired_at,
                first_attempt_at=min((a.at for a in h.attempts), default=None),
                decided_at=h.decided_at,
                decided_by_id=users[h.decided_by] if h.decided_by else None,
                reason=reason,
                feedback=h.feedback,
                owner_id=users[h.owner] if h.owner else None,
                follow_up_due_at=h.follow_up_due_at,
                followed_up_at=h.followed_up_at,
                follow_up_breached_at=h.follow_up_breached_at,
                **_score_snapshot(hw, plan.lead, plan.touchpoints, h.created_at),
            )
            by_sequence.setdefault(h.sequence, []).append(h.row)
    # A handoff points at the one it replaced, so that one needs its id first.
    for sequence in sorted(by_sequence):
        rows_insert(Handoff, by_sequence[sequence])
    for plan in plans:
        for transition, h in plan.accepted_steps:
            transition.reason = f"Accepted under the {h.sla} SLA"


def _handoff_children_insert(world: _World, plans: list[_LeadPlan]) -> tuple[int, int]:
    """Insert the attempts, events and sales outcomes of the chunk's handoffs,
    and its leads' owner changes."""
    hw = world.handoff
    users = hw.users
    attempts: list[ContactAttempt] = []
    events: list[HandoffEvent] = []
    outcomes: list[SalesOutcome] = []
    for plan in plans:
        for h in plan.handoffs:
            attempts += [
                ContactAttempt(
                    handoff=h.row,
                    user_id=users[a.user],
                    channel=a.channel,
                    outcome=a.outcome,
                    note=a.note,
                    at=a.at,
                )
                for a in h.attempts
            ]
            events += _handoff_events(
                h, users, {code: r.label for code, r in hw.reasons.items()}
            )
            outcomes += [
                SalesOutcome(
                    lead_id=plan.lead.id,
                    handoff=h.row,
                    from_stage=o.from_stage,
                    to_stage=o.to_stage,
                    reason=hw.reasons[o.reason] if o.reason else None,
                    feedback=o.feedback,
                    amount=o.amount,
                    expected_close_on=o.expected_close_on,
                    actor_id=users[o.actor],
                    at=o.at,
                )
                for o in h.outcomes
            ]
    owner_changes = [
        OwnerChange(
            lead_id=plan.lead.id,
            at=move.at,
            actor_id=users[move.actor],
            from_owner_id=users[move.from_owner] if move.from_owner else None,
            to_owner_id=users[move.to_owner],
            reason=move.reason,
            notified_at=move.at,  # the new owner's e-mail went out then
        )
        for plan in plans
        for move in plan.owner_moves
    ]
    rows_insert(ContactAttempt, attempts)
    rows_insert(HandoffEvent, events)
    rows_insert(SalesOutcome, outcomes)
    rows_insert(OwnerChange, owner_changes)
    return len(attempts), len(outcomes)


def _handoffs_open_present(world: _World) -> int:
    """Give every MQL its pending handoff as ``handoff_open`` would; return how many.

    The real path in bulk (``handoffs_open_many``, the same rows as
    ``handoff_open`` for each lead in turn): the lead's SLA, the team's next
    SDR (skipping the one who is away) and business-hours due times. Those
    scoring promoted open at the end of the history (on track). A lead that
    became an MQL in the history opens as of then (a few minutes after), so
    most are overdue at the end; every LATE_OPEN_EVERY-th of those, the most
    recent first, opens later instead, as the reconciler would open one
    whose task was lost, at the moment that leaves it at risk at the end. So
    the SAL queue shows all three states. Opened in time order, so the round
    robin runs as it would.
    """
    end = world.end
    mqls = list(
        Lead.objects.filter(stage=Stage.MQL).select_related("account").order_by("id")
    )
    slas = _slas_for(mqls)
    opens = {
        lead.id: world.waiting.get(lead.id) or lead.stage_changed_at or end
        for lead in mqls
    }
    late = [
        (lead, at_risk)
        for lead in sorted(mqls, key=lambda lead: (opens[lead.id], lead.id))
        if opens[lead.id] < end
        and (at_risk := _at_risk_open(world, slas[lead.id])) is not None
        and opens[lead.id] < at_risk
    ]
    for lead, at_risk in late[::-LATE_OPEN_EVERY]:
        opens[lead.id] = at_risk
    return handoff_services.handoffs_open_many(
        openings=[
            (lead_id, at) for at, lead_id in sorted((at, i) for i, at in opens.items())
        ]
    )


def _slas_for(leads: list[Lead]) -> dict[int, ServiceLevelAgreement | None]:
    """The SLA that covers each lead (``sla_for_lead``), a chunk of leads a query."""
    slas = slas_active()
    kinds: dict[int, str] = {}
    for low in range(0, len(leads), SLA_CHUNK):
        kinds.update(
            last_touchpoint_kinds([lead.id for lead in leads[low : low + SLA_CHUNK]])
        )
    return {
        lead.id: sla_pick(
            slas, lead_sla_facts_known(lead, last_touchpoint_kind=kinds.get(lead.id))
        )
        for lead in leads
    }


def _at_risk_open(world: _World, sla: ServiceLevelAgreement | None) -> datetime | None:
    """When to open a lead's handoff so that it is at risk at the end.

    Halfway between the SLA's at-risk point and its due time, in the
    business hours of ``sla`` (the SLA that covers the lead); None without
    an SLA.
    """
    if sla is None:
        return None
    calendar = world.handoff.calendar(sla)
    share = (1 + sla.at_risk_percent / 100) / 2
    wanted = float(sla.accept_within_hours) * share * 3600
    # business_seconds_between(t, end) falls as t rises: bisect for it.
    low, high = world.end - timedelta(days=HISTORY_DAYS), world.end
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if business_hours.business_seconds_between(middle, world.end, calendar) >= (
            wanted
        ):
            low = middle
        else:
            high = middle
    return low.replace(microsecond=0)


def _commitments_set(world: _World) -> None:
    """Commit each demo SLA to a little more than the MQLs it got per month."""
    for spec in DEMO_SLAS:
        received = Handoff.objects.filter(
            sla__name=spec.name, previous__isnull=True, created_at__gte=world.start
        ).count()
        monthly = received * 30 / HISTORY_DAYS * COMMITMENT_HEADROOM
        ServiceLevelAgreement.objects.filter(name=spec.name).update(
            volume_commitment=max(5, math.ceil(monthly / 5) * 5)
        )


def _leads_insert(leads: list[Lead]) -> None:
    # As _timestamps_fix leaves it: a lead was last changed by its last move.
    for lead in leads:
        lead.updated_at = lead.stage_changed_at
    # Sets the ids: the touchpoints, handoffs and transitions need them.
    rows_insert(Lead, leads, stamps_kept=("updated_at",))


def _touchpoints_insert(rows: list[tuple[Any, ...]]) -> list[int]:
    """Insert touchpoint rows of TOUCHPOINT_COLUMNS; their ids, in order."""
    return rows_copy(Touchpoint, TOUCHPOINT_COLUMNS, rows)


def _transitions_insert(transitions: list[StageTransition]) -> None:
    rows_insert(StageTransition, transitions)


def _chunk_write(world: _World, plans: list[_LeadPlan]) -> tuple[int, int]:
    """Insert one chunk of leads, their touchpoints, handoffs and transitions."""
    _leads_insert([plan.lead for plan in plans])
    campaign_ids = {key: c.id for key, c in world.campaigns.items()}
    # Plain rows: the touchpoints are only written, and read back as the
    # engine's Touch (the score history and the handoffs' snapshots).
    ids = _touchpoints_insert(
        [
            (
                plan.lead.id,
                touch.kind,
                touch.at,
                campaign_ids[touch.campaign] if touch.campaign else None,
                touch.properties,
                DEMO_SOURCE,
                None,
                touch.received_at,
            )
            for plan in plans
            for touch in plan.touches
        ]
    )
    next_id = iter(ids).__next__
    for plan in plans:
        plan.touchpoints = [
            Touch(next_id(), touch.kind, touch.at, touch.properties)
            for touch in plan.touches
        ]
    # Before the transitions: an acceptance's transition names its handoff.
    _handoffs_insert(world, plans)
    transitions = [t for plan in plans for t in plan.transitions]
    # The transitions hold their (now saved) lead, which lends them its id.
    _transitions_insert(transitions)
    _handoff_children_insert(world, plans)
    rows_copy(
        LeadScoreHistory,
        SCORE_HISTORY_COLUMNS,
        [
            row
            for plan in plans
            for row in _score_history(world.handoff, plan, world.end)
        ],
    )
    for plan in plans:
        if plan.waiting_since is not None:
            world.waiting[plan.lead.id] = plan.waiting_since
        plan.touchpoints = []  # the chunk is written; let it go
    return len(ids), len(transitions)
