"""The funnel, cohort and flow, against a small journey worked out by hand."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from crm.marketing.funnel import funnel
from crm.roles import ADMIN, MARKETING, SALES, SDR
from leads import lifecycle
from leads.models import Stage
from tests.factories import LeadFactory, UserFactory

pytestmark = pytest.mark.django_db
MARCH, APRIL = dt.date(2026, 3, 1), dt.date(2026, 4, 1)


def day(month: int, number: int) -> dt.datetime:
    return dt.datetime(2026, month, number, 9, 0, tzinfo=dt.UTC)


def journey(created: dt.datetime, *moves: tuple[str, dt.datetime]) -> None:
    lead = LeadFactory(created_at=created)
    for stage, at in moves:
        lifecycle.lead_move(
            lead_id=lead.id,
            to_stage=stage,
            system_actor="test",
            reason="sent back" if stage == Stage.NURTURE else "",
            now=at,
        )


@pytest.fixture
def leads():
    # A: the whole way, closed won in April.
    journey(
        day(3, 2),
        (Stage.MQL, day(3, 4)),
        (Stage.SAL, day(3, 5)),
        (Stage.SQL, day(3, 10)),
        (Stage.OPPORTUNITY, day(3, 20)),
        (Stage.CUSTOMER, day(4, 10)),
    )
    # B: accepted, then sent back to nurture.
    journey(
        day(3, 3),
        (Stage.MQL, day(3, 5)),
        (Stage.SAL, day(3, 7)),
        (Stage.NURTURE, day(3, 8)),
    )
    # C: an MQL twice in March (recycled in between).
    journey(
        day(3, 10),
        (Stage.MQL, day(3, 12)),
        (Stage.NURTURE, day(3, 13)),
        (Stage.MQL, day(3, 20)),
    )
    # D: still a lead.
    journey(day(3, 15))
    # E: created in February, qualified and accepted in March.
    journey(day(2, 20), (Stage.MQL, day(3, 1)), (Stage.SAL, day(3, 2)))
    # F: created in April.
    journey(day(4, 1), (Stage.MQL, day(4, 2)))


def rows(stages):
    return [
        (s.stage, s.count, s.rate_from_previous, s.median_days_from_previous)
        for s in stages
    ]


def test_a_cohort_counts_its_leads_at_every_stage_they_ever_reached(leads):
    assert rows(funnel(start=MARCH, end=APRIL, mode="cohort")) == [
        ("lead", 4, None, None),
        # A, B, C: two days from creation each.
        ("mql", 3, Decimal("0.7500"), Decimal("2.0")),
        # A after 1 day, B after 2.
        ("sal", 2, Decimal("0.6667"), Decimal("1.5")),
        ("sql", 1, Decimal("0.5000"), Decimal("5.0")),
        ("opportunity", 1, Decimal("1.0000"), Decimal("10.0")),
        # A was won in April: a cohort follows its leads past the period.
        ("customer", 1, Decimal("1.0000"), Decimal("21.0")),
    ]


def test_flow_counts_the_leads_that_entered_each_stage_in_the_period(leads):
    assert rows(funnel(start=MARCH, end=APRIL, mode="flow")) == [
        ("lead", 4, None, None),
        # A, B, C (twice, counted once) and E; E took 9 days (from 20 Feb).
        ("mql", 4, Decimal("1.0000"), Decimal("2.0")),
        # A, B and E: 1, 2 and 1 days.
        ("sal", 3, Decimal("0.7500"), Decimal("1.0")),
        ("sql", 1, Decimal("0.3333"), Decimal("5.0")),
        ("opportunity", 1, Decimal("1.0000"), Decimal("10.0")),
        ("customer", 0, Decimal("0.0000"), None),
    ]


def test_a_later_recycle_does_not_rewrite_a_closed_cohort(leads):
    before = rows(funnel(start=MARCH, end=APRIL, mode="cohort"))
    b = LeadFactory._meta.model.objects.get(created_at=day(3, 3))
    lifecycle.lead_move(
        lead_id=b.id, to_stage=Stage.MQL, system_actor="test", now=day(5, 1)
    )

    assert rows(funnel(start=MARCH, end=APRIL, mode="cohort")) == before


def test_an_empty_period_has_no_rates():
    assert rows(funnel(start=MARCH, end=APRIL, mode="cohort")) == [
        (stage, 0, None, None)
        for stage in ("lead", "mql", "sal", "sql", "opportunity", "customer")
    ]


# The API
# ------------------------------------------------------------------------------

URL = "/api/v1/reports/funnel/"


@pytest.mark.parametrize("role", [MARKETING, ADMIN])
def test_the_api_answers_the_pages_figures(client, leads, role):
    client.force_login(UserFactory(roles=[role]))

    response = client.get(
        URL, {"start": "2026-03-01", "end": "2026-04-01", "mode": "flow"}
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["start"], body["end"], body["mode"]) == (
        "2026-03-01",
        "2026-04-01",
        "flow",
    )
    assert body["stages"][2] == {
        "stage": "sal",
        "count": 3,
        "rate_from_previous": 0.75,
        "median_days_from_previous": 1.0,
    }
    assert [s["stage"] for s in body["stages"]] == [
        "lead",
        "mql",
        "sal",
        "sql",
        "opportunity",
        "customer",
    ]


def test_the_api_counts_a_cohort_by_default(client, leads):
    client.force_login(UserFactory(roles=[MARKETING]))

    body = client.get(URL, {"start": "2026-03-01", "end": "2026-04-01"}).json()

    assert body["mode"] == "cohort"
    assert [s["count"] for s in body["stages"]] == [4, 3, 2, 1, 1, 1]


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ({"end": "2026-04-01"}, "start", "This field is required."),
        ({"start": "2026-03-01", "end": "1 April"}, "end", "Date has wrong format"),
        ({"start": "2026-04-01", "end": "2026-04-01"}, "end", "Give an end after"),
        ({"start": "2016-01-01", "end": "2026-04-01"}, "end", "at most 3,660 days"),
        (
            {"start": "2026-03-01", "end": "2026-04-01", "mode": "weekly"},
            "mode",
            "not a valid choice",
        ),
    ],
)
def test_a_bad_period_or_mode_says_what_to_fix(client, query, field, message):
    client.force_login(UserFactory(roles=[MARKETING]))

    response = client.get(URL, query)

    assert response.status_code == 400
    assert message in str(response.json())
    assert field in str(response.json())


@pytest.mark.parametrize("role", [SDR, SALES])
def test_other_roles_may_not_read_the_funnel(client, role):
    client.force_login(UserFactory(roles=[role]))

    response = client.get(URL, {"start": "2026-03-01", "end": "2026-04-01"})

    assert response.status_code == 403


def test_an_erased_person_is_left_out_as_the_lead_list_leaves_them_out(leads):
    Lead = LeadFactory._meta.model
    Lead.objects.filter(created_at=day(3, 2)).update(erased_at=day(5, 1))

    cohort = rows(funnel(start=MARCH, end=APRIL, mode="cohort"))
    flow = rows(funnel(start=MARCH, end=APRIL, mode="flow"))

    # A (the one that went the whole way) is gone from every stage.
    assert [count for _, count, _, _ in cohort] == [3, 2, 1, 0, 0, 0]
    assert [count for _, count, _, _ in flow] == [3, 3, 2, 0, 0, 0]
