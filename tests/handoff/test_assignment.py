"""Who gets the next MQL: strategies, caps, away, account owners, SLA matching."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError

from handoff import assignment, services
from handoff.models import Handoff, ServiceLevelAgreement, Team
from handoff.selectors import sla_for_lead
from handoff.validation import conditions_clean
from leads import lifecycle
from leads.models import Stage
from tests.factories import (
    AccountFactory,
    LeadFactory,
    SlaFactory,
    TeamMemberFactory,
    TouchpointFactory,
    UserFactory,
)

MONDAY_10 = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)


def candidate(member_id: int, **fields) -> assignment.Candidate:
    values = {
        "member_id": member_id,
        "user_id": member_id * 10,
        "weight": 1,
        "assigned_count": 0,
        "last_turn": 0,
        "open_count": 0,
        "today_count": 0,
        "daily_cap": None,
        "open_cap": None,
        "away": False,
    }
    values.update(fields)
    return assignment.Candidate(**values)


def test_round_robin_picks_the_least_recent_turn():
    people = [
        candidate(1, last_turn=5),
        candidate(2, last_turn=3),
        candidate(3, last_turn=4),
    ]

    assert assignment.choose("round_robin", people).member_id == 2


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"away": True}, "away"),
        ({"daily_cap": 2, "today_count": 2}, "at the daily cap of 2"),
        ({"open_cap": 5, "open_count": 5}, "at the cap of 5 open handoffs"),
    ],
)
def test_away_and_capped_people_are_skipped(fields, reason):
    people = [candidate(1, **fields), candidate(2, last_turn=9)]

    assert assignment.skip_reason(people[0]) == reason
    assert assignment.choose("round_robin", people).member_id == 2


def test_nobody_free_gives_none():
    assert assignment.choose("round_robin", [candidate(1, away=True)]) is None


def test_weighted_shares_follow_the_weights():
    people = [candidate(1, weight=3), candidate(2, weight=1)]
    picks = []
    for turn in range(1, 9):
        chosen = assignment.choose("weighted", people)
        picks.append(chosen.member_id)
        people = [
            candidate(
                c.member_id,
                weight=c.weight,
                assigned_count=c.assigned_count + (c is chosen),
                last_turn=turn if c is chosen else c.last_turn,
            )
            for c in people
        ]

    assert picks.count(1) == 6
    assert picks.count(2) == 2


def test_least_loaded_picks_fewest_open():
    people = [candidate(1, open_count=4), candidate(2, open_count=1, last_turn=7)]

    assert assignment.choose("least_loaded", people).member_id == 2


def test_excluded_person_gets_it_only_when_nobody_else_can():
    people = [candidate(1), candidate(2, away=True)]

    assert (
        assignment.choose("round_robin", people, exclude_user_ids=[10]).member_id == 1
    )


@pytest.mark.django_db
def test_account_owner_in_an_sdr_team_gets_the_lead():
    sla = SlaFactory()
    TeamMemberFactory(team=sla.team)
    own_team = Team.objects.create(name="Named accounts")
    owner = TeamMemberFactory(team=own_team).user
    lead = LeadFactory(account=AccountFactory(owner=owner))
    lifecycle.lead_move(lead_id=lead.id, to_stage=Stage.MQL, system_actor="scoring")

    handoff = services.handoff_open(lead_id=lead.id, now=MONDAY_10)

    assert handoff.assigned_to == owner
    assert handoff.team == own_team
    assert "account owner" in handoff.events.get().detail


@pytest.mark.django_db
def test_no_free_sdr_leaves_it_unassigned_until_someone_is_back():
    sla = SlaFactory()
    member = TeamMemberFactory(team=sla.team)
    services.availability_set(user=member.user, is_away=True)
    lead = LeadFactory()
    lifecycle.lead_move(lead_id=lead.id, to_stage=Stage.MQL, system_actor="scoring")

    handoff = services.handoff_open(lead_id=lead.id, now=MONDAY_10)
    assert handoff.assigned_to is None
    services.availability_set(user=member.user, is_away=False)
    assigned = services.handoffs_assign_waiting(now=MONDAY_10)

    assert assigned == 1
    assert Handoff.objects.get(id=handoff.id).assigned_to == member.user


@pytest.mark.django_db
def test_newcomer_joins_level_with_the_team():
    sla = SlaFactory()
    members = [TeamMemberFactory(team=sla.team) for _ in range(2)]
    for _ in range(4):
        lead = LeadFactory()
        lifecycle.lead_move(lead_id=lead.id, to_stage=Stage.MQL, system_actor="scoring")
        services.handoff_open(lead_id=lead.id, now=MONDAY_10)

    newcomer = services.team_member_add(team=sla.team, user=UserFactory(roles=["SDR"]))

    assert newcomer.assigned_count == 2
    lead = LeadFactory()
    lifecycle.lead_move(lead_id=lead.id, to_stage=Stage.MQL, system_actor="scoring")
    # The newcomer waits one round: the person served longest ago is next.
    assert services.handoff_open(lead_id=lead.id, now=MONDAY_10).assigned_to == (
        members[0].user
    )


@pytest.mark.django_db
def test_first_matching_sla_by_priority_wins_else_the_default():
    demo = SlaFactory(
        name="Demo requests",
        priority=5,
        conditions=[
            {
                "attribute": "last_touchpoint_kind",
                "operator": "one_of",
                "value": ["demo_request"],
            }
        ],
    )
    europe = SlaFactory(
        name="Europe",
        priority=10,
        conditions=[{"attribute": "region", "operator": "equals", "value": "europe"}],
    )
    hot = LeadFactory(country="DE", region="europe")
    TouchpointFactory(lead=hot, kind_id="demo_request")
    german = LeadFactory(country="DE", region="europe")
    american = LeadFactory()

    assert sla_for_lead(hot) == demo
    assert sla_for_lead(german) == europe
    assert sla_for_lead(american) == ServiceLevelAgreement.objects.get(is_default=True)


@pytest.mark.django_db
def test_reroute_only_sla_is_never_matched():
    SlaFactory(name="Catch all", reroute_only=True, priority=1)

    assert sla_for_lead(LeadFactory()).name == "Standard MQL"


@pytest.mark.parametrize(
    ("conditions", "message"),
    [
        ("region", "Conditions must be a list"),
        (
            [{"attribute": "shoe_size", "operator": "equals", "value": 1}],
            "not a lead attribute",
        ),
        (
            [{"attribute": "region", "operator": "bigger", "value": 1}],
            "is not a comparison",
        ),
        (
            [{"attribute": "region", "operator": "equals", "value": 1, "x": 2}],
            "unknown keys: x",
        ),
        (
            [{"attribute": "score", "operator": "at_least", "value": "many"}],
            "Enter a number",
        ),
    ],
)
def test_bad_sla_conditions_say_what_to_fix(conditions, message):
    with pytest.raises(ValidationError, match=message):
        conditions_clean(conditions)


@pytest.mark.django_db
def test_the_assignment_log_names_who_was_skipped_and_why():
    sla = SlaFactory()
    away = TeamMemberFactory(team=sla.team, user__username="lena").user
    services.availability_set(user=away, is_away=True)
    TeamMemberFactory(team=sla.team, user__username="jordan")
    lead = LeadFactory()
    lifecycle.lead_move(lead_id=lead.id, to_stage=Stage.MQL, system_actor="scoring")

    handoff = services.handoff_open(lead_id=lead.id, now=MONDAY_10)

    assert handoff.assigned_to.username == "jordan"
    assert handoff.events.get().detail == (
        f"round robin in {sla.team}; skipped lena (away)"
    )
