"""The MQL planner's reference quarter, built by hand (Q1 2026).

Ten leads created on 5 January:

    lead 10 -> MQL 5 (L1-L5) -> SAL 4 (L1-L4) -> SQL 3 (L1-L3)
    -> opportunity 3 -> customer 2 (L1, L2)

Median days: MQL 2.0 (2, 2, 2, 2, 7), SAL 1.5 (1, 1, 2, 2), SQL 3.0 (3, 3, 2),
opportunity 10.0, customer 20.0. L1 and L2 were won for 10,000 and 15,000
(mean 12,500). First touches: paid search L1-L4 (4 MQLs), webinar L5-L6
(1 MQL), no campaign L7-L10. Spend in Q1: paid search 3,000 a month, webinar
2,000 in March, e-mail 310 in March (and 1,000 in December, outside).

For a target of three customers in Q2 (91 days) the plan needs 18 leads,
9 MQLs, 7 SALs, 5 SQLs, 5 opportunities.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from crm.marketing.attribution_rollup import attribution_all_rebuild
from handoff.models import SalesOutcome
from leads import lifecycle
from leads.models import CampaignSpend, Stage
from tests.factories import CampaignFactory, LeadFactory, TouchpointFactory

Q1, Q2, Q3 = dt.date(2026, 1, 1), dt.date(2026, 4, 1), dt.date(2026, 7, 1)


def at(month: int, day: int, year: int = 2026) -> dt.datetime:
    return dt.datetime(year, month, day, 9, 0, tzinfo=dt.UTC)


def journey(created: dt.datetime, *moves: tuple[str, dt.datetime]):
    lead = LeadFactory(created_at=created)
    for stage, when in moves:
        lifecycle.lead_move(
            lead_id=lead.id, to_stage=stage, system_actor="test", now=when
        )
    return lead


def won(lead, amount: str, when: dt.datetime, to_stage: str = Stage.CUSTOMER):
    SalesOutcome.objects.create(
        lead=lead,
        from_stage=Stage.OPPORTUNITY,
        to_stage=to_stage,
        amount=Decimal(amount),
        at=when,
    )


def reference_quarter() -> None:
    """Build the reference quarter of the module's docstring."""
    search = CampaignFactory(name="Search", channel="paid_search")
    webinar = CampaignFactory(name="Webinar", channel="webinar")
    email = CampaignFactory(name="Newsletter", channel="email")
    created = at(1, 5)
    full = [
        (Stage.MQL, at(1, 7)),
        (Stage.SAL, at(1, 8)),
        (Stage.SQL, at(1, 11)),
        (Stage.OPPORTUNITY, at(1, 21)),
        (Stage.CUSTOMER, at(2, 10)),
    ]
    l1 = journey(created, *full)
    l2 = journey(created, *full)
    l3 = journey(
        created,
        (Stage.MQL, at(1, 7)),
        (Stage.SAL, at(1, 9)),
        (Stage.SQL, at(1, 11)),
        (Stage.OPPORTUNITY, at(1, 21)),
    )
    l4 = journey(created, (Stage.MQL, at(1, 7)), (Stage.SAL, at(1, 9)))
    l5 = journey(created, (Stage.MQL, at(1, 12)))
    l6 = journey(created)
    l7 = journey(created)
    l8 = journey(created)
    journey(created)
    journey(created)
    for lead in (l1, l2, l3, l4):
        TouchpointFactory(lead=lead, campaign=search, occurred_at=at(1, 5))
    for lead in (l5, l6):
        TouchpointFactory(lead=lead, campaign=webinar, occurred_at=at(1, 5))
        # A later touch elsewhere does not move the first touch.
        TouchpointFactory(lead=lead, campaign=search, occurred_at=at(1, 6))
    for lead in (l7, l8):
        TouchpointFactory(lead=lead, campaign=None, occurred_at=at(1, 5))
    for month in (1, 2, 3):
        CampaignSpend.objects.create(
            campaign=search, month=dt.date(2026, month, 1), amount=Decimal(3000)
        )
    CampaignSpend.objects.create(
        campaign=webinar, month=dt.date(2026, 3, 1), amount=Decimal(2000)
    )
    CampaignSpend.objects.create(
        campaign=email, month=dt.date(2026, 3, 1), amount=Decimal(310)
    )
    CampaignSpend.objects.create(
        campaign=email, month=dt.date(2025, 12, 1), amount=Decimal(1000)
    )
    won(l1, "10000", at(2, 10))
    won(l2, "15000", at(2, 10))
    # Outside the reference, and an opportunity opened (not won): ignored.
    won(l3, "99999", at(4, 5))
    won(l3, "50000", at(1, 21), to_stage=Stage.OPPORTUNITY)
    # The campaigns' daily roll-up, as its minute task leaves it.
    attribution_all_rebuild(now=at(7, 1))
