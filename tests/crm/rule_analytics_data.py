"""A small hand-built world for rule analytics, with its figures worked out
by hand in ``test_rule_analytics.py``.

A published (archived) model "Hand" with MQL threshold 30 and three rules:
"Director" (fit, 30 points), "Demo request" (engagement, 10 points) and
"Big company" (fit, 20 points). Ten leads created in January 2026:

=====  =====  ============  =========  ==========================
lead   total  rules fired   reached    handoff
=====  =====  ============  =========  ==========================
L1     50     Dir, Demo     customer   accepted
L2     40     Dir, Demo     sql        accepted (then sent back)
L3     30     Dir           sql        accepted
L4     30     Dir           mql        rejected: No budget
L5     20     Big           sql        accepted
L6     20     Big           mql        rejected: Wrong person
L7     10     Demo          mql        rejected: No budget
L8     10     Demo          lead       none
L9     0      (none)        lead       none
L10    0      (none)        lead       expired (not decided)
=====  =====  ============  =========  ==========================

Left out: a lead created in February, an erased lead and a lead scored only
by another model, each one's score firing every rule and reaching customer.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from handoff.models import Handoff, RejectionReason, SalesOutcome
from leads.models import Campaign
from scoring.models import LeadScore, ScoringModel, ScoringRule
from tests.factories import CampaignFactory, LeadFactory, SlaFactory, TouchpointFactory

JAN = dt.date(2026, 1, 1)
FEB = dt.date(2026, 2, 1)


def at(day: int, hour: int = 10, month: int = 1) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, tzinfo=dt.UTC)


#: The reason of each rejected handoff of the table.
REJECTED = {"L4": "budget", "L6": "person", "L7": "budget"}


@dataclass
class World:
    model: ScoringModel
    rules: dict[str, ScoringRule]
    leads: dict[str, object]
    handoffs: dict[str, Handoff]
    reasons: dict[str, RejectionReason]
    campaigns: dict[str, Campaign]
    slas: dict[str, object]


def _item(rule: ScoringRule) -> dict[str, object]:
    return {
        "rule": rule.id,
        "label": rule.label,
        "kind": rule.kind,
        "points": str(rule.points),
        "occurrences": 1,
        "attribute": "",
        "value": None,
        "touchpoints": [],
    }


def build() -> World:
    model = ScoringModel.objects.create(
        name="Hand",
        version=1,
        status=ScoringModel.Status.ARCHIVED,
        mql_threshold=30,
        published_at=at(1, 0),
    )
    other = ScoringModel.objects.create(
        name="Other", version=1, status=ScoringModel.Status.ARCHIVED
    )
    rules = {
        key: ScoringRule.objects.create(
            model=model, position=i, kind=kind, label=label, points=points
        )
        for i, (key, kind, label, points) in enumerate(
            [
                ("dir", "fit", "Director", 30),
                ("demo", "engagement", "Demo request", 10),
                ("big", "fit", "Big company", 20),
            ]
        )
    }
    reasons = {
        "budget": RejectionReason.objects.create(
            code="hand-no-budget",
            label="No budget",
            audience="sdr",
            action="recycle",
            position=0,
        ),
        "person": RejectionReason.objects.create(
            code="hand-wrong-person",
            label="Wrong person",
            audience="sdr",
            action="disqualify",
            position=1,
        ),
        "ready": RejectionReason.objects.create(
            code="hand-not-ready",
            label="Not ready",
            audience="sales",
            action="recycle",
            position=0,
        ),
    }
    campaigns = {
        "spring": CampaignFactory(name="Spring webinar"),
        "show": CampaignFactory(name="Trade show"),
    }
    slas = {"s1": SlaFactory(name="Hand SLA 1"), "s2": SlaFactory(name="Hand SLA 2")}
    table = [
        # key, total, rules, highest stage, handoff status
        ("L1", 50, ["dir", "demo"], "customer", "accepted"),
        ("L2", 40, ["dir", "demo"], "sql", "accepted"),
        ("L3", 30, ["dir"], "sql", "accepted"),
        ("L4", 30, ["dir"], "mql", "rejected"),
        ("L5", 20, ["big"], "sql", "accepted"),
        ("L6", 20, ["big"], "mql", "rejected"),
        ("L7", 10, ["demo"], "mql", "rejected"),
        ("L8", 10, ["demo"], "lead", None),
        ("L9", 0, [], "lead", None),
        ("L10", 0, [], "lead", "expired"),
    ]
    leads, handoffs = {}, {}
    for n, (key, total, fired, highest, status) in enumerate(table, start=1):
        lead = LeadFactory(created_at=at(n + 1), highest_stage=highest, stage=highest)
        leads[key] = lead
        items = [_item(rules[r]) for r in fired]
        LeadScore.objects.create(
            lead=lead,
            model=model,
            total=Decimal(total),
            fit_score=0,
            engagement_score=0,
            grade="A",
            breakdown=items,
            computed_at=at(n + 1),
        )
        if status:
            handoffs[key] = Handoff.objects.create(
                lead=lead,
                sla=slas["s1"],
                status=status,
                mql_at=at(n + 1),
                created_at=at(n + 1),
                due_at=at(n + 2),
                at_risk_at=at(n + 2),
                decided_at=at(n + 2) if status != "expired" else None,
                expired_at=at(n + 2) if status == "expired" else None,
                grade="A",
                score_breakdown=items,
                reason=reasons[REJECTED[key]] if status == "rejected" else None,
            )
    # Left out of the cohort: firing every rule and reaching customer.
    everything = [_item(r) for r in rules.values()]
    outside = [
        LeadFactory(created_at=at(2, month=2), highest_stage="customer"),
        LeadFactory(created_at=at(3), highest_stage="customer", erased_at=at(4)),
    ]
    for lead in outside:
        LeadScore.objects.create(
            lead=lead,
            model=model,
            total=90,
            fit_score=0,
            engagement_score=0,
            grade="A",
            breakdown=everything,
            computed_at=at(5),
        )
    LeadScore.objects.create(
        lead=LeadFactory(created_at=at(6), highest_stage="customer"),
        model=other,
        total=90,
        fit_score=0,
        engagement_score=0,
        grade="A",
        breakdown=everything,
        computed_at=at(6),
    )
    _rejections(leads, handoffs, reasons, campaigns, slas, rules, outside[0])
    return World(model, rules, leads, handoffs, reasons, campaigns, slas)


def _rejections(leads, handoffs, reasons, campaigns, slas, rules, late_lead) -> None:
    """The period's rejections: three SDR rejections and one sales send-back
    (weeks starting Monday 12 and Monday 19 January), and one in February."""
    decided = {
        # key: reason, decided at, grade, SLA, first-touch campaign, feedback
        "L4": ("budget", at(12), "B", "s1", "spring", "Budget frozen until Q3"),
        "L6": ("person", at(14), "C", "s1", "show", "Intern, not the buyer"),
        "L7": ("budget", at(21), "D", "s2", None, ""),
    }
    for key, (reason, when, grade, sla, campaign, feedback) in decided.items():
        Handoff.objects.filter(id=handoffs[key].id).update(
            reason=reasons[reason],
            decided_at=when,
            grade=grade,
            sla=slas[sla],
            feedback=feedback,
        )
        if campaign:
            TouchpointFactory(
                lead=leads[key], campaign=campaigns[campaign], occurred_at=at(2)
            )
    # L6's later touch is of another campaign: its first touch stays "show".
    TouchpointFactory(lead=leads["L6"], campaign=campaigns["spring"], occurred_at=at(9))
    Handoff.objects.filter(id=handoffs["L2"].id).update(
        sla=slas["s2"], grade="A", decided_at=at(6)
    )
    TouchpointFactory(lead=leads["L2"], campaign=campaigns["spring"], occurred_at=at(1))
    SalesOutcome.objects.create(
        lead=leads["L2"],
        handoff=handoffs["L2"],
        from_stage="sql",
        to_stage="nurture",
        reason=reasons["ready"],
        feedback="Wants to revisit after the budget review",
        at=at(22),
    )
    # Outside the period: a rejection on 3 February (of February's lead).
    Handoff.objects.create(
        lead=late_lead,
        sla=slas["s1"],
        status="rejected",
        mql_at=at(2, month=2),
        created_at=at(2, month=2),
        due_at=at(3, month=2),
        at_risk_at=at(3, month=2),
        decided_at=at(3, month=2),
        reason=reasons["budget"],
        grade="A",
        feedback="No budget at all this year",
        score_breakdown=[_item(rules["demo"])],
    )
