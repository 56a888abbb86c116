"""The hand-built April several campaign test modules share.

Campaigns A (paid search) and B (e-mail); the touches and moves:

- L1: touches A (1 Apr), B (3 Apr), A (5 Apr); created 2 Apr, MQL 4 Apr, SQL
  6 Apr, opportunity 7 Apr, customer 10 Apr with a deal won of 10,000.
- L2: no touches; created 3 Apr, MQL 8 Apr.
- L3: touches B and one with no campaign (4 Apr, before it was created that
  day); MQL 12 Apr.
- L4: touch A; created 5 Apr, erased: left out.
- L5: touch A (29 Mar); created 30 Mar (outside April), MQL 2 Apr.

Linear: L1's lead goes to A (its only touch by then); its MQL half to A,
half to B; its SQL, customer and revenue two thirds to A. W-shaped: L1's
MQL gives A the first touch's 30 and B the MQL touch's 30 plus the
opportunity touch's 30 (B is the last touch by then): A 1/3, B 2/3.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from crm.marketing.attribution_rollup import attribution_all_rebuild
from handoff.models import SalesOutcome
from leads import lifecycle
from leads.models import Campaign, CampaignSpend, Stage
from tests.factories import CampaignFactory, LeadFactory, TouchpointFactory

APRIL, MAY = dt.date(2026, 4, 1), dt.date(2026, 5, 1)
NOW = dt.datetime(2026, 5, 2, 6, 0, tzinfo=dt.UTC)


def at(month: int, day: int, hour: int = 9, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=dt.UTC)


def moves(lead, *steps: tuple[str, dt.datetime]) -> None:
    for stage, when in steps:
        lifecycle.lead_move(
            lead_id=lead.id, to_stage=stage, system_actor="test", now=when
        )


def april_build() -> tuple[Campaign, Campaign]:
    """Build the April of the module docstring and its roll-up; return A, B."""
    a = CampaignFactory(name="A", channel=Campaign.Channel.PAID_SEARCH)
    b = CampaignFactory(name="B", channel=Campaign.Channel.EMAIL)
    l1 = LeadFactory(created_at=at(4, 2))
    for campaign, day in ((a, 1), (b, 3), (a, 5)):
        TouchpointFactory(lead=l1, campaign=campaign, occurred_at=at(4, day, 10))
    moves(
        l1,
        (Stage.MQL, at(4, 4)),
        (Stage.SAL, at(4, 5, 12)),
        (Stage.SQL, at(4, 6)),
        (Stage.OPPORTUNITY, at(4, 7)),
        (Stage.CUSTOMER, at(4, 10)),
    )
    SalesOutcome.objects.create(
        lead=l1,
        from_stage=Stage.OPPORTUNITY,
        to_stage=Stage.CUSTOMER,
        amount=Decimal("10000.00"),
        at=at(4, 10),
    )
    l2 = LeadFactory(created_at=at(4, 3))
    moves(l2, (Stage.MQL, at(4, 8)))
    l3 = LeadFactory(created_at=at(4, 4))
    TouchpointFactory(lead=l3, campaign=b, occurred_at=at(4, 4, 8))
    TouchpointFactory(lead=l3, campaign=None, occurred_at=at(4, 4, 8, 30))
    moves(l3, (Stage.MQL, at(4, 12)))
    l4 = LeadFactory(created_at=at(4, 5), erased_at=at(4, 20))
    TouchpointFactory(lead=l4, campaign=a, occurred_at=at(4, 5, 8))
    l5 = LeadFactory(created_at=at(3, 30))
    TouchpointFactory(lead=l5, campaign=a, occurred_at=at(3, 29))
    moves(l5, (Stage.MQL, at(4, 2)))
    CampaignSpend.objects.create(campaign=a, month=dt.date(2026, 3, 1), amount=3100)
    CampaignSpend.objects.create(campaign=a, month=dt.date(2026, 4, 1), amount=2000)
    CampaignSpend.objects.create(campaign=a, month=dt.date(2026, 4, 1), amount=1000)
    CampaignSpend.objects.create(campaign=a, month=dt.date(2026, 5, 1), amount=1000)
    CampaignSpend.objects.create(campaign=b, month=dt.date(2026, 4, 1), amount=600)
    attribution_all_rebuild(now=NOW)
    return a, b
