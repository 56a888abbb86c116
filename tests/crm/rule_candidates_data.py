"""A small hand-built world for candidate rules, with its figures worked out
by hand in ``test_rule_candidates.py``.

The active model "Cand" (it replaces the default one) has four rules:
"VP" (fit: seniority is one of vp, executive), "Demo" (engagement:
demo_request), "Mid-size" (fit: account.employee_count between 50 and 5000)
and "Many seats" (fit: attributes.seats at least 15). Twenty leads created
in January 2026, each scored by it (the score itself plays no part):

=====  ==  =========  =======  ==============  ======================  ========
group  n   seniority  country  account         attributes              reached
=====  ==  =========  =======  ==============  ======================  ========
P1a    1   vp         DE       Big             plan "Pro", seats 10    customer
P1b    8   vp         DE       Big             plan "Pro", seats 11-18 sql
P2     1   vp         DE       Big             plan " pro", seats 20   lead
P3a    1   director   US       Small           plan "free", seats 30   sql
P3b    8   director   US       Small           plan "free", seats      mql
                                               31-38
P4     1   director   US       (none)          plan "FREE", seats 40   lead
=====  ==  =========  =======  ==============  ======================  ========

Big is a software company of 2000 employees, Small a retailer of 100. DE
leads are in region europe, US leads in north_america. P3's leads also have
the attribute "crm.version": "7"; P4 has "team": {"a": 1} (an object, no
candidate).

Every lead is in marketing and has no source. Touchpoints: each P1 lead
three demo requests in January, P2 one, P4 one in February (after the
period); each P3 and P4 lead one page view in January.

Left out: a lead created in February, an erased lead and a lead scored only
by another model, each a vp at Big with plan "Pro" that became a customer.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from leads.models import Lead
from scoring.models import LeadScore, ScoringModel, ScoringRule
from tests.factories import AccountFactory, LeadFactory, TouchpointFactory

JAN = dt.date(2026, 1, 1)
FEB = dt.date(2026, 2, 1)


def at(day: int, hour: int = 10, month: int = 1) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, tzinfo=dt.UTC)


@dataclass
class World:
    model: ScoringModel
    rules: dict[str, ScoringRule]
    leads: dict[str, list[Lead]]


def _lead(
    model: ScoringModel, *, created: dt.datetime, highest: str, **fields: Any
) -> Lead:
    lead = LeadFactory(
        created_at=created,
        highest_stage=highest,
        stage=highest,
        department="marketing",
        source="",
        **fields,
    )
    LeadScore.objects.create(
        lead=lead,
        model=model,
        total=Decimal(0),
        fit_score=0,
        engagement_score=0,
        grade="D",
        breakdown=[],
        computed_at=created,
    )
    return lead


def build() -> World:
    ScoringModel.objects.filter(status=ScoringModel.Status.ACTIVE).update(
        status=ScoringModel.Status.ARCHIVED
    )
    model = ScoringModel.objects.create(
        name="Cand",
        version=1,
        status=ScoringModel.Status.ACTIVE,
        mql_threshold=30,
        published_at=at(1, 0),
    )
    other = ScoringModel.objects.create(
        name="Other", version=1, status=ScoringModel.Status.ARCHIVED
    )
    rules = {
        "vp": ScoringRule.objects.create(
            model=model,
            position=1,
            kind="fit",
            label="VP",
            points=20,
            attribute="seniority",
            operator="one_of",
            value=["vp", "executive"],
        ),
        "demo": ScoringRule.objects.create(
            model=model,
            position=2,
            kind="engagement",
            label="Demo",
            points=10,
            touchpoint_kind="demo_request",
        ),
        "mid": ScoringRule.objects.create(
            model=model,
            position=3,
            kind="fit",
            label="Mid-size",
            points=10,
            attribute="account.employee_count",
            operator="between",
            value=[50, 5000],
        ),
        "seats": ScoringRule.objects.create(
            model=model,
            position=4,
            kind="fit",
            label="Many seats",
            points=5,
            attribute="attributes.seats",
            operator="at_least",
            value=15,
        ),
    }
    big = AccountFactory(name="Big", industry="software", employee_count=2000)
    small = AccountFactory(name="Small", industry="retail", employee_count=100)
    europe = {"seniority": "vp", "country": "DE", "region": "europe"}
    america = {"seniority": "director", "country": "US", "region": "north_america"}
    leads: dict[str, list[Lead]] = {}
    day = iter(range(2, 31))

    def group(key: str, seats: list[int], highest: str, **fields: Any) -> None:
        leads[key] = []
        for n in seats:
            attributes = dict(fields.pop("attributes", {}), seats=n)
            lead = _lead(
                model,
                created=at(next(day)),
                highest=highest,
                attributes=attributes,
                **fields,
            )
            fields["attributes"] = {k: v for k, v in attributes.items() if k != "seats"}
            leads[key].append(lead)

    group("P1a", [10], "customer", account=big, attributes={"plan": "Pro"}, **europe)
    group(
        "P1b",
        list(range(11, 19)),
        "sql",
        account=big,
        attributes={"plan": "Pro"},
        **europe,
    )
    group("P2", [20], "lead", account=big, attributes={"plan": " pro"}, **europe)
    group(
        "P3a",
        [30],
        "sql",
        account=small,
        attributes={"plan": "free", "crm.version": "7"},
        **america,
    )
    group(
        "P3b",
        list(range(31, 39)),
        "mql",
        account=small,
        attributes={"plan": "free", "crm.version": "7"},
        **america,
    )
    group(
        "P4",
        [40],
        "lead",
        account=None,
        attributes={"plan": "FREE", "team": {"a": 1}},
        **america,
    )
    for lead in leads["P1a"] + leads["P1b"]:
        for hour in (9, 10, 11):
            TouchpointFactory(
                lead=lead, kind_id="demo_request", occurred_at=at(20, hour)
            )
    TouchpointFactory(lead=leads["P2"][0], kind_id="demo_request", occurred_at=at(20))
    for lead in leads["P3a"] + leads["P3b"] + leads["P4"]:
        TouchpointFactory(lead=lead, kind_id="page_view", occurred_at=at(21))
    TouchpointFactory(
        lead=leads["P4"][0], kind_id="demo_request", occurred_at=at(3, month=2)
    )
    # Left out, each of them a customer vp at Big with plan "Pro".
    outside = {"account": big, "attributes": {"plan": "Pro", "seats": 12}, **europe}
    _lead(model, created=at(2, month=2), highest="customer", **outside)
    erased = _lead(model, created=at(30), highest="customer", **outside)
    Lead.objects.filter(id=erased.id).update(erased_at=at(31))
    _lead(other, created=at(30), highest="customer", **outside)
    return World(model=model, rules=rules, leads=leads)
