"""Deal amounts and expected close dates on the sales moves (the service)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from handoff import services
from handoff.exceptions import DecisionInvalid
from handoff.models import SalesOutcome
from leads import lifecycle
from leads.models import AuditEvent, Lead, Stage
from tests.factories import LeadFactory, UserFactory

pytestmark = pytest.mark.django_db

# Monday 2026-03-02 10:00 UTC.
NOW = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)
TODAY = NOW.date()


@pytest.fixture
def rep(sla):
    return UserFactory(roles=["Sales"], first_name="Rita")


def qualified(sla, sdr, rep, stage=Stage.SQL) -> Lead:
    """A lead accepted by ``rep`` and moved on to ``stage`` (SQL or opportunity)."""
    lead = LeadFactory()
    lifecycle.lead_move(
        lead_id=lead.id, to_stage=Stage.MQL, system_actor="scoring", now=NOW
    )
    handoff = services.handoff_open(lead_id=lead.id, now=NOW)
    services.handoff_accept(handoff_id=handoff.id, actor=sdr, owner=rep, now=NOW)
    services.lead_sales_move(lead_id=lead.id, actor=rep, to_stage=Stage.SQL, now=NOW)
    if stage == Stage.OPPORTUNITY:
        services.lead_sales_move(
            lead_id=lead.id,
            actor=rep,
            to_stage=Stage.OPPORTUNITY,
            amount="25000",
            expected_close_on=TODAY + dt.timedelta(days=30),
            now=NOW,
        )
    return lead


def test_opening_an_opportunity_records_the_deal_amount_and_close_date(sla, sdr, rep):
    lead = qualified(sla, sdr, rep)

    outcome = services.lead_sales_move(
        lead_id=lead.id,
        actor=rep,
        to_stage=Stage.OPPORTUNITY,
        amount=Decimal("25000"),
        expected_close_on=dt.date(2026, 4, 15),
        now=NOW,
    )

    outcome.refresh_from_db()
    assert (outcome.amount, outcome.expected_close_on) == (
        Decimal("25000.00"),
        dt.date(2026, 4, 15),
    )
    event = AuditEvent.objects.filter(action="sales_move").latest("id")
    assert event.details["amount"] == "25000.00"
    assert event.details["expected_close_on"] == "2026-04-15"


@pytest.mark.parametrize(
    ("amount", "close_on", "errors"),
    [
        (
            None,
            None,
            {
                "amount": "Give the deal amount.",
                "expected_close_on": "Give the date you expect the deal to close.",
            },
        ),
        ("0", TODAY, {"amount": "The deal amount must be more than zero."}),
        ("-5", TODAY, {"amount": "The deal amount must be more than zero."}),
        (
            "1000000000.01",
            TODAY,
            {"amount": "The deal amount can be at most 1,000,000,000."},
        ),
        ("NaN", TODAY, {"amount": "Give the deal amount as a number, like 25000."}),
        ("lots", TODAY, {"amount": "Give the deal amount as a number, like 25000."}),
        (
            "10.005",
            TODAY,
            {"amount": "Give the deal amount in whole cents (two decimals at most)."},
        ),
        (
            "100",
            TODAY - dt.timedelta(days=1),
            {"expected_close_on": "The expected close date cannot be in the past."},
        ),
        (
            "100",
            dt.date(2029, 3, 3),
            {
                "expected_close_on": (
                    "The expected close date can be at most 3 years ahead."
                )
            },
        ),
        (
            "100",
            "next week",
            {
                "expected_close_on": (
                    "Give the expected close date as a date, like 2027-01-15."
                )
            },
        ),
    ],
)
def test_an_opportunity_without_sound_deal_terms_is_refused_and_nothing_changes(
    sla, sdr, rep, amount, close_on, errors
):
    lead = qualified(sla, sdr, rep)

    with pytest.raises(DecisionInvalid) as refused:
        services.lead_sales_move(
            lead_id=lead.id,
            actor=rep,
            to_stage=Stage.OPPORTUNITY,
            amount=amount,
            expected_close_on=close_on,
            now=NOW,
        )

    assert refused.value.errors == errors
    assert Lead.objects.get(id=lead.id).stage == Stage.SQL
    assert not SalesOutcome.objects.filter(lead=lead, to_stage="opportunity").exists()


def test_the_limits_themselves_are_accepted(sla, sdr, rep):
    lead = qualified(sla, sdr, rep)

    outcome = services.lead_sales_move(
        lead_id=lead.id,
        actor=rep,
        to_stage=Stage.OPPORTUNITY,
        amount="1000000000",
        expected_close_on=dt.date(2029, 3, 2),
        now=NOW,
    )

    assert outcome.amount == Decimal("1000000000")


def test_closing_won_records_the_amount_won(sla, sdr, rep):
    lead = qualified(sla, sdr, rep, stage=Stage.OPPORTUNITY)

    with pytest.raises(DecisionInvalid) as refused:
        services.lead_sales_move(
            lead_id=lead.id, actor=rep, to_stage=Stage.CUSTOMER, now=NOW
        )
    assert refused.value.errors == {"amount": "Give the amount won."}
    assert Lead.objects.get(id=lead.id).stage == Stage.OPPORTUNITY

    won = services.lead_sales_move(
        lead_id=lead.id, actor=rep, to_stage=Stage.CUSTOMER, amount="23500.5", now=NOW
    )

    assert (won.amount, won.expected_close_on) == (Decimal("23500.50"), None)
    assert Lead.objects.get(id=lead.id).stage == Stage.CUSTOMER


def test_closing_lost_needs_a_reason_and_no_amount(sla, sdr, rep):
    lead = qualified(sla, sdr, rep, stage=Stage.OPPORTUNITY)

    lost = services.lead_sales_move(
        lead_id=lead.id,
        actor=rep,
        reason="sales_lost_price",
        feedback="Too pricey",
        now=NOW,
    )

    assert (lost.to_stage, lost.amount) == (Stage.NURTURE, None)
