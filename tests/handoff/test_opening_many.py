"""Opening many MQLs' handoffs at once gives what ``handoff_open`` gives one by one."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.db import transaction

from handoff import services
from handoff.models import Handoff, HandoffEvent, SalesProfile, Team, TeamMember
from leads.models import Lead, Stage
from scoring.models import LeadScore, ScoringModel
from tests.factories import (
    AccountFactory,
    CalendarFactory,
    LeadFactory,
    SlaFactory,
    TeamMemberFactory,
    TouchpointFactory,
)

pytestmark = pytest.mark.django_db

# Friday 2026-03-06 15:00 UTC (16:00 in Berlin): openings run over the
# weekend and into Monday, across the Berlin calendar's midnight.
FRIDAY_15 = dt.datetime(2026, 3, 6, 15, 0, tzinfo=dt.UTC)


def mql(**fields: Any) -> Lead:
    return LeadFactory(
        stage=Stage.MQL, stage_changed_at=FRIDAY_15 - dt.timedelta(hours=1), **fields
    )


@pytest.fixture
def world() -> list[tuple[int, dt.datetime]]:
    """Four SLAs and teams that use every assignment rule, their MQLs, and
    the openings of those (with a lead that is gone, one that is no MQL, one
    already pending and one opened twice), in time order."""
    berlin = CalendarFactory(time_zone="Europe/Berlin")
    europe = SlaFactory(
        priority=5,
        calendar=berlin,
        team__strategy=Team.Strategy.WEIGHTED,
        accept_within_hours=4,
        at_risk_percent=50,
        conditions=[{"attribute": "region", "operator": "equals", "value": "europe"}],
    )
    demos = SlaFactory(
        priority=6,
        team__strategy=Team.Strategy.LEAST_LOADED,
        conditions=[
            {
                "attribute": "last_touchpoint_kind",
                "operator": "one_of",
                "value": ["demo_request"],
            }
        ],
    )
    rest = SlaFactory(priority=7, team__strategy=Team.Strategy.ROUND_ROBIN)
    # Nobody can take these: the team has no members.
    SlaFactory(
        priority=4,
        conditions=[{"attribute": "grade", "operator": "equals", "value": "D"}],
    )
    TeamMemberFactory(team=europe.team, weight=3, user__first_name="Heavy")
    TeamMemberFactory(
        team=europe.team, weight=1, daily_cap=1, user__first_name="Capped"
    )
    loaded = TeamMemberFactory(team=demos.team).user
    TeamMemberFactory(team=demos.team)
    for _ in range(3):
        TeamMemberFactory(team=rest.team)
    away = TeamMemberFactory(team=rest.team, user__first_name="Bo").user
    SalesProfile.objects.create(user=away, away_until=dt.date(2026, 3, 9))
    TeamMemberFactory(team=rest.team, open_cap=1, user__first_name="Open")
    owner = TeamMemberFactory(team=demos.team).user
    owned = AccountFactory(owner=owner)

    model = ScoringModel.objects.get(status=ScoringModel.Status.ACTIVE)
    leads = []
    for i in range(36):
        region = "europe" if i % 3 == 2 else "north_america"
        lead = mql(
            region=region,
            score=Decimal(i),
            grade="ABCD"[i % 4],
            account=owned if i % 7 == 0 else None,
        )
        if i % 4 == 1:
            TouchpointFactory(lead=lead, kind_id="demo_request")
        if i % 5:
            LeadScore.objects.create(
                lead=lead,
                model=model,
                total=Decimal(i),
                fit_score=1,
                engagement_score=2,
                grade="B",
                breakdown=[{"rule": i, "points": str(i)}],
                computed_at=FRIDAY_15,
            )
        leads.append(lead)
    # Work already pending: it counts towards loads and the open cap.
    services.handoff_open(lead_id=mql(region="north_america").id, now=FRIDAY_15)
    pending = leads.pop()
    services.handoff_open(lead_id=pending.id, now=FRIDAY_15)
    Handoff.objects.create(
        lead=LeadFactory(),
        sla=demos,
        team=demos.team,
        assigned_to=loaded,
        mql_at=FRIDAY_15,
        created_at=FRIDAY_15,
        due_at=FRIDAY_15,
        at_risk_at=FRIDAY_15,
    )
    not_mql = LeadFactory()
    openings = [
        (lead.id, FRIDAY_15 + dt.timedelta(hours=i)) for i, lead in enumerate(leads)
    ]
    openings[4:4] = [(pending.id, FRIDAY_15), (not_mql.id, FRIDAY_15)]
    openings.append((leads[0].id, openings[-1][1]))
    openings.append((10**9, openings[-1][1]))
    return openings


def stored() -> dict[str, list[dict[str, Any]]]:
    """Every stored field the opening writes, handoffs named by their lead."""
    lead_of = dict(Handoff.objects.values_list("id", "lead_id"))
    handoffs = [
        {**row, "id": None, "order": index}
        for index, row in enumerate(Handoff.objects.order_by("id").values())
    ]
    events = [
        {**row, "id": None, "handoff_id": lead_of[row["handoff_id"]]}
        for row in HandoffEvent.objects.order_by("id").values()
    ]
    return {
        "handoffs": handoffs,
        "events": events,
        "teams": list(Team.objects.order_by("id").values()),
        "members": list(TeamMember.objects.order_by("id").values()),
        "leads": list(Lead.objects.order_by("id").values()),
    }


def one_by_one(openings: list[tuple[int, dt.datetime]]) -> None:
    for lead_id, now in openings:
        services.handoff_open(lead_id=lead_id, now=now)


def test_opening_many_stores_what_opening_each_in_turn_stores(world):
    before = Handoff.objects.count()
    point = transaction.savepoint()
    one_by_one(world)
    expected = stored()
    transaction.savepoint_rollback(point)

    opened = services.handoffs_open_many(openings=world)

    assert stored() == expected
    assert opened == len(expected["handoffs"]) - before == 35
    details = [e["detail"] for e in expected["events"]]
    # The world reaches every rule: the owner, each strategy, skips, nobody.
    assert any(d.startswith("account owner") for d in details)
    assert any(d.startswith("weighted round robin") for d in details)
    assert any(d.startswith("least loaded") for d in details)
    assert any("(away)" in d for d in details)
    assert any("at the daily cap of 1" in d for d in details)
    assert any("at the cap of 1 open handoffs" in d for d in details)
    assert any(d.startswith("Nobody in") for d in details)
    assert len({h["assigned_to_id"] for h in expected["handoffs"]}) >= 6
    assert any(h["score_breakdown"] for h in expected["handoffs"])
    assert any(not h["score_breakdown"] for h in expected["handoffs"])


def test_opening_many_again_opens_nothing(world):
    services.handoffs_open_many(openings=world)
    expected = stored()

    assert services.handoffs_open_many(openings=world) == 0
    assert stored() == expected


def test_opening_many_takes_a_few_statements_whatever_the_number_of_leads(
    world, django_assert_max_num_queries
):
    # 38 openings; a statement per active SLA's calendar, the rest per chunk.
    with django_assert_max_num_queries(30):
        services.handoffs_open_many(openings=world)
