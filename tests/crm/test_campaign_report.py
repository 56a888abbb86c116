"""The campaign report over a small April worked out by hand
(``tests/crm/campaign_april.py``).

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

import pytest

from crm.marketing.campaign_report import (
    campaign_report,
    period_spend,
    rows_sorted,
)
from leads.attribution import UnknownModel
from leads.models import Stage
from tests.crm.campaign_april import APRIL, MAY, NOW, april_build, at, moves
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def april():
    return april_build()


def figures(row) -> tuple:
    return (row.spend, row.leads, row.mqls, row.sqls, row.customers, row.revenue)


def D(text: str) -> Decimal:
    return Decimal(text)


def test_linear_credits_every_touch_equally_and_adds_up_to_the_total(april):
    a, b = april

    report = campaign_report(start=APRIL, end=MAY, model="linear")

    assert [(r.id, r.name, r.channel, r.channel_label) for r in report.rows] == [
        (a.id, "A", "paid_search", "Paid search"),
        (b.id, "B", "email", "E-mail"),
    ]
    assert figures(report.rows[0]) == (
        D("3000.00"),
        D("1"),
        D("1.5"),
        D("0.6667"),
        D("0.6667"),
        D("6666.6667"),
    )
    assert figures(report.rows[1]) == (
        D("600.00"),
        D("0.5"),
        D("1.0"),
        D("0.3333"),
        D("0.3333"),
        D("3333.3333"),
    )
    assert figures(report.unattributed) == (0, D("1.5"), D("1.5"), 0, 0, 0)
    assert figures(report.total) == (
        D("3600.00"),
        D("3"),
        D("4"),
        D("1"),
        D("1"),
        D("10000"),
    )


def test_linear_costs_rates_and_roi(april):
    report = campaign_report(start=APRIL, end=MAY, model="linear")
    a, b = report.rows

    assert (a.cost_per_lead, a.cost_per_mql, a.cost_per_sql) == (
        D("3000.00"),
        D("2000.00"),
        D("4499.78"),
    )
    assert (a.cost_per_customer, a.mql_to_sql_rate, a.roi) == (
        D("4499.78"),
        D("0.4445"),
        D("1.2222"),
    )
    assert (b.cost_per_lead, b.cost_per_mql, b.mql_to_sql_rate, b.roi) == (
        D("1200.00"),
        D("600.00"),
        D("0.3333"),
        D("4.5556"),
    )
    unattributed = report.unattributed
    # No campaign, no spend to divide: its costs are unknown, not zero.
    assert (unattributed.cost_per_mql, unattributed.roi) == (None, None)
    assert (unattributed.cost_per_sql, unattributed.mql_to_sql_rate) == (None, 0)
    assert report.total.roi == D("1.7778")


def test_w_shaped_credits_the_first_mql_and_opportunity_touches(april):
    report = campaign_report(start=APRIL, end=MAY, model="w_shaped")
    a, b = report.rows

    assert figures(a) == (
        D("3000.00"),
        D("1"),
        D("1.3333"),
        D("0.6667"),
        D("0.6667"),
        D("6666.6667"),
    )
    assert figures(b) == (
        D("600.00"),
        D("0.5"),
        D("1.1667"),
        D("0.3333"),
        D("0.3333"),
        D("3333.3333"),
    )
    assert figures(report.unattributed) == (0, D("1.5"), D("1.5"), 0, 0, 0)
    assert (a.roi, b.roi, a.cost_per_mql) == (D("1.2222"), D("4.5556"), D("2250.06"))


def test_first_touch_gives_l1_and_l5_wholly_to_a(april):
    report = campaign_report(start=APRIL, end=MAY, model="first_touch")
    a, b = report.rows

    assert figures(a)[1:] == (D("1"), D("2"), D("1"), D("1"), D("10000"))
    # L3's first touch is B's.
    assert figures(b)[1:] == (D("1"), D("1"), 0, 0, 0)
    assert figures(report.unattributed)[1:] == (D("1"), D("1"), 0, 0, 0)


def test_channels_group_the_campaign_rows(april):
    report = campaign_report(start=APRIL, end=MAY, model="linear")

    assert [(c.channel, c.label, c.spend, c.mqls) for c in report.channels] == [
        ("paid_search", "Paid search", D("3000.00"), D("1.5")),
        ("email", "E-mail", D("600.00"), D("1.0")),
    ]


def test_a_period_before_the_conversions_shows_only_spend(april):
    a, _b = april

    report = campaign_report(
        start=dt.date(2026, 3, 1), end=dt.date(2026, 3, 31), model="linear"
    )

    # L5 was created on 30 March: its lead credit; March's 3,100 over 30 of 31 days.
    assert [(r.id, r.spend, r.leads, r.mqls) for r in report.rows] == [
        (a.id, D("3000.00"), D("1"), 0)
    ]
    assert report.total.leads == D("1")


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        # Ten of April's 30 days: a third of 3,000.
        (dt.date(2026, 4, 10), dt.date(2026, 4, 20), D("1000.00")),
        # 12 of March's 31 days (1,200) and 4 of April's 30 (400).
        (dt.date(2026, 3, 20), dt.date(2026, 4, 5), D("1600.00")),
        # March, April and May whole.
        (dt.date(2026, 3, 1), dt.date(2026, 6, 1), D("7100.00")),
    ],
)
def test_spend_counts_months_in_proportion_to_their_days_inside(
    april, start, end, expected
):
    a, _b = april

    assert period_spend(start=start, end=end)[a.id] == expected


def test_freshness_names_when_the_days_were_rebuilt(april):
    report = campaign_report(start=APRIL, end=MAY, model="linear")

    # Conversions fell on 2, 3, 4, 6, 8, 10 and 12 April.
    assert report.freshness.as_of == NOW
    assert report.freshness.days_rebuilt == 7
    assert report.freshness.days_pending == 0


def test_a_day_marked_since_the_rebuild_is_pending(april):
    lead = LeadFactory(created_at=at(4, 20))
    moves(lead, (Stage.MQL, at(4, 21)))

    report = campaign_report(start=APRIL, end=MAY, model="linear")

    assert report.freshness.days_pending == 1
    assert report.freshness.days_rebuilt == 7


def test_rows_sort_by_a_column_with_undefined_values_last(april):
    report = campaign_report(start=APRIL, end=MAY, model="linear")

    assert [r.name for r in rows_sorted(report.rows, sort="-roi")] == ["B", "A"]
    assert [r.name for r in rows_sorted(report.rows, sort="cost_per_mql")] == [
        "B",
        "A",
    ]
    assert [r.name for r in rows_sorted(report.rows, sort="-name")] == ["B", "A"]


def test_an_unknown_model_is_refused():
    with pytest.raises(UnknownModel, match="No attribution model is called 'x'"):
        campaign_report(start=APRIL, end=MAY, model="x")
