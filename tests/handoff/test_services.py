"""The handoff services: opening, assignment, decisions, the escalation ladder."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core import mail

from handoff import services
from handoff.exceptions import DecisionInvalid, HandoffAlreadyDecided, HandoffNotYours
from handoff.models import ContactAttempt, Handoff, HandoffEvent, SalesOutcome
from leads import lifecycle
from leads.models import Lead, Stage, StageTransition, Touchpoint
from tests.factories import (
    AccountFactory,
    LeadFactory,
    TeamMemberFactory,
    TouchpointFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

# Monday 2026-03-02 10:00 UTC: inside business hours of the UTC calendar.
MONDAY_10 = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)


@pytest.fixture
def sdrs(sla):
    return [TeamMemberFactory(team=sla.team).user for _ in range(3)]


def make_mql(*, now=MONDAY_10, **fields) -> Lead:
    lead = LeadFactory(**fields)
    lifecycle.lead_move(
        lead_id=lead.id, to_stage=Stage.MQL, system_actor="scoring", now=now
    )
    return lead


def open_for(lead: Lead, now=MONDAY_10) -> Handoff:
    handoff = services.handoff_open(lead_id=lead.id, now=now)
    assert handoff is not None
    return handoff


def test_open_gives_one_pending_handoff_due_in_business_hours(sla, sdrs):
    lead = make_mql()

    handoff = open_for(lead)
    again = services.handoff_open(lead_id=lead.id, now=MONDAY_10)

    assert again == handoff
    assert Handoff.objects.filter(lead=lead).count() == 1
    assert handoff.sla == sla
    assert handoff.assigned_to == sdrs[0]
    # 8 business hours from Monday 10:00 (09-17): Tuesday 10:00.
    assert handoff.due_at == dt.datetime(2026, 3, 3, 10, 0, tzinfo=dt.UTC)
    # 75% = 6 hours: Monday 16:00.
    assert handoff.at_risk_at == dt.datetime(2026, 3, 2, 16, 0, tzinfo=dt.UTC)
    assert HandoffEvent.objects.get(handoff=handoff).kind == "assigned"


def test_round_robin_spreads_mqls_in_turn(sla, sdrs):
    handoffs = [open_for(make_mql()) for _ in range(7)]

    assert [h.assigned_to for h in handoffs] == [*sdrs, *sdrs, sdrs[0]]


@pytest.fixture
def bo_away(sla):
    """Bo Berg (username ``bo``), of the SLA's team, away."""
    bo = TeamMemberFactory(
        team=sla.team,
        user__username="bo",
        user__first_name="Bo",
        user__last_name="Berg",
    ).user
    services.availability_set(user=bo, is_away=True)
    return bo


def test_the_assignment_event_names_skipped_people_by_full_name(sla, bo_away):
    free = TeamMemberFactory(team=sla.team).user

    handoff = open_for(make_mql())

    assert handoff.assigned_to == free
    event = HandoffEvent.objects.get(handoff=handoff)
    assert event.detail == f"round robin in {sla.team}; skipped Bo Berg (away)"


def test_nobody_free_is_said_with_full_names(sla, bo_away):
    handoff = open_for(make_mql())

    assert handoff.assigned_to is None
    event = HandoffEvent.objects.get(handoff=handoff)
    assert event.detail == f"Nobody in {sla.team} can take it (Bo Berg (away))"


def test_accept_moves_lead_to_sal_and_makes_the_sdr_owner(sla, sdrs):
    lead = make_mql()
    handoff = open_for(lead)
    later = MONDAY_10 + dt.timedelta(hours=1)

    services.handoff_accept(handoff_id=handoff.id, actor=sdrs[0], now=later)

    handoff.refresh_from_db()
    lead.refresh_from_db()
    assert handoff.status == "accepted"
    assert handoff.decided_by == sdrs[0]
    assert handoff.decided_at == later
    assert lead.stage == Stage.SAL
    assert lead.owner == sdrs[0]
    # 16 business hours from Monday 11:00: Wednesday 11:00.
    assert handoff.follow_up_due_at == dt.datetime(2026, 3, 4, 11, 0, tzinfo=dt.UTC)


def test_second_decision_is_refused_and_changes_nothing(sla, sdrs):
    lead = make_mql()
    handoff = open_for(lead)
    services.handoff_accept(handoff_id=handoff.id, actor=sdrs[0], now=MONDAY_10)

    with pytest.raises(HandoffAlreadyDecided):
        services.handoff_reject(
            handoff_id=handoff.id, actor=sdrs[0], reason="no_budget", now=MONDAY_10
        )

    handoff.refresh_from_db()
    assert handoff.status == "accepted"
    assert Lead.objects.get(id=lead.id).stage == Stage.SAL


def test_only_the_assigned_sdr_or_a_manager_decides(sla, sdrs):
    handoff = open_for(make_mql())
    admin = UserFactory(roles=["Admin"])

    with pytest.raises(HandoffNotYours):
        services.handoff_accept(handoff_id=handoff.id, actor=sdrs[1])
    services.handoff_accept(handoff_id=handoff.id, actor=admin)

    handoff.refresh_from_db()
    assert handoff.decided_by == admin
    # The SLA has no sales team: the assigned SDR keeps the lead.
    assert handoff.owner == sdrs[0]


def test_reject_recycles_with_cool_down(sla, sdrs):
    lead = make_mql()
    handoff = open_for(lead)

    services.handoff_reject(
        handoff_id=handoff.id,
        actor=sdrs[0],
        reason="no_budget",
        feedback="Budget frozen until Q3",
        now=MONDAY_10,
    )

    lead.refresh_from_db()
    assert lead.stage == Stage.NURTURE
    assert lead.recycle_until == MONDAY_10 + dt.timedelta(days=90)
    transition = StageTransition.objects.filter(lead=lead).latest("id")
    assert transition.reason == "Rejected by SDR: No budget (Budget frozen until Q3)"


def test_reject_needing_feedback_without_it_is_refused(sla, sdrs):
    lead = make_mql()
    handoff = open_for(lead)

    with pytest.raises(DecisionInvalid) as exc:
        services.handoff_reject(handoff_id=handoff.id, actor=sdrs[0], reason="no_fit")

    assert set(exc.value.errors) == {"feedback"}
    handoff.refresh_from_db()
    assert handoff.status == "pending"
    assert Lead.objects.get(id=lead.id).stage == Stage.MQL


def test_unable_to_reach_needs_three_attempts(sla, sdrs):
    handoff = open_for(make_mql())
    for _ in range(2):
        services.attempt_log(
            handoff_id=handoff.id, actor=sdrs[0], channel="call", outcome="no_answer"
        )

    with pytest.raises(DecisionInvalid, match="2 logged so far"):
        services.handoff_reject(
            handoff_id=handoff.id, actor=sdrs[0], reason="unable_to_reach"
        )
    services.attempt_log(
        handoff_id=handoff.id, actor=sdrs[0], channel="email", outcome="sent"
    )
    services.handoff_reject(
        handoff_id=handoff.id, actor=sdrs[0], reason="unable_to_reach"
    )

    assert ContactAttempt.objects.filter(handoff=handoff).count() == 3
    assert Handoff.objects.get(id=handoff.id).status == "rejected"


def test_reject_as_duplicate_merges_into_the_other_lead(sla, sdrs):
    survivor = LeadFactory(first_name="", phone="")
    lead = make_mql(phone="+1 555 0100")
    TouchpointFactory(lead=lead)
    handoff = open_for(lead)

    services.handoff_reject(
        handoff_id=handoff.id,
        actor=sdrs[0],
        reason="duplicate",
        duplicate_of=survivor.id,
    )

    lead.refresh_from_db()
    survivor.refresh_from_db()
    assert lead.stage == Stage.DISQUALIFIED
    assert lead.merged_into == survivor
    assert survivor.phone == "+1 555 0100"
    assert Touchpoint.objects.filter(lead=survivor).count() == 1


def test_reject_as_existing_customer_hands_to_the_account_owner(
    sla, sdrs, django_capture_on_commit_callbacks
):
    rep = UserFactory(roles=["Sales"], email="rep@leadflow.test")
    account = AccountFactory(owner=rep)
    lead = make_mql(account=account)
    handoff = open_for(lead)

    with django_capture_on_commit_callbacks(execute=True):
        services.handoff_reject(
            handoff_id=handoff.id, actor=sdrs[0], reason="existing_customer"
        )

    lead.refresh_from_db()
    assert lead.owner == rep
    assert lead.stage == Stage.NURTURE
    assert [m.to for m in mail.outbox] == [["rep@leadflow.test"]]


def test_reroute_opens_a_handoff_under_the_other_sla(sla, sdrs):
    lead = make_mql()
    handoff = open_for(lead)

    services.handoff_reject(handoff_id=handoff.id, actor=sdrs[0], reason="wrong_region")

    new = Handoff.objects.get(lead=lead, status="pending")
    assert new.sla.name == "Territory review"
    assert new.previous == handoff
    assert Lead.objects.get(id=lead.id).stage == Stage.MQL


def test_ladder_reminds_expires_escalates_and_reassigns_once(
    sla, sdrs, django_capture_on_commit_callbacks
):
    lead = make_mql()
    handoff = open_for(lead)
    at_risk = dt.datetime(2026, 3, 2, 16, 30, tzinfo=dt.UTC)
    overdue = dt.datetime(2026, 3, 3, 10, 1, tzinfo=dt.UTC)

    with django_capture_on_commit_callbacks(execute=True):
        first = services.escalation_run(now=at_risk)
        second = services.escalation_run(now=at_risk)
        third = services.escalation_run(now=overdue)
        fourth = services.escalation_run(now=overdue)

    assert first["reminded"] == 1
    assert second["reminded"] == 0
    assert third["expired"] == 1
    assert fourth["expired"] == 0
    handoff.refresh_from_db()
    assert handoff.status == "expired"
    new = Handoff.objects.get(lead=lead, status="pending")
    assert new.assigned_to == sdrs[1]
    assert new.sequence == 2
    assert new.due_at == dt.datetime(2026, 3, 4, 10, 1, tzinfo=dt.UTC)
    kinds = sorted(
        HandoffEvent.objects.filter(handoff=handoff).values_list("kind", flat=True)
    )
    assert kinds == ["assigned", "escalated", "expired", "reminded"]
    assert [(m.subject, m.to) for m in mail.outbox] == [
        (f"[Leadflow] At risk: {lead} is due Tue 3 Mar, 10:00 UTC", [sdrs[0].email]),
        (
            f"[Leadflow] SLA breached: {lead} was not decided in time",
            ["escalations@leadflow.test"],
        ),
        (f"[Leadflow] Reassigned to you: {lead}", [sdrs[1].email]),
    ]


def test_sales_moves_forward_and_back_with_a_reason(sla, sdrs):
    rep = UserFactory(roles=["Sales"])
    lead = make_mql()
    handoff = open_for(lead)
    services.handoff_accept(handoff_id=handoff.id, actor=sdrs[0], owner=rep)

    services.lead_sales_move(lead_id=lead.id, actor=rep, to_stage=Stage.SQL)
    services.lead_sales_move(
        lead_id=lead.id, actor=rep, reason="sales_lost_price", feedback="Too pricey"
    )

    lead.refresh_from_db()
    assert lead.stage == Stage.NURTURE
    outcomes = list(SalesOutcome.objects.filter(lead=lead).order_by("id"))
    assert [(o.from_stage, o.to_stage) for o in outcomes] == [
        ("sal", "sql"),
        ("sql", "nurture"),
    ]
    assert Handoff.objects.get(id=handoff.id).followed_up_at is not None


def test_lead_becoming_mql_opens_its_handoff_after_commit(
    sla, sdrs, django_capture_on_commit_callbacks
):
    lead = LeadFactory()

    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.lead_move(lead_id=lead.id, to_stage=Stage.MQL, system_actor="scoring")

    assert Handoff.objects.get(lead=lead).status == "pending"


def test_a_team_member_takes_an_unassigned_handoff_once(sla, sdrs):
    for sdr in sdrs:
        services.availability_set(user=sdr, is_away=True)
    handoff = open_for(make_mql())
    assert handoff.assigned_to is None
    outsider = UserFactory(roles=["SDR"])

    # Someone outside the team does not see the handoff at all.
    with pytest.raises(Handoff.DoesNotExist):
        services.handoff_claim(handoff_id=handoff.id, actor=outsider)
    services.handoff_claim(handoff_id=handoff.id, actor=sdrs[1], now=MONDAY_10)
    with pytest.raises(HandoffAlreadyDecided, match="already assigned"):
        services.handoff_claim(handoff_id=handoff.id, actor=sdrs[2])

    handoff.refresh_from_db()
    assert handoff.assigned_to == sdrs[1]
    assert handoff.events.filter(kind="assigned", actor=sdrs[1]).count() == 1
