"""The MQL planner's arithmetic against a small reference quarter worked out
by hand: conversions, rounding up stage by stage, enter-by dates, revenue
targets, the spend mix, where the period stands, and its refusals.

The reference is Q1 2026, ten leads created on 5 January:

    lead 10 -> MQL 5 (L1-L5) -> SAL 4 (L1-L4) -> SQL 3 (L1-L3)
    -> opportunity 3 -> customer 2 (L1, L2)

Median days: MQL 2.0 (2, 2, 2, 2, 7), SAL 1.5 (1, 1, 2, 2), SQL 3.0 (3, 3, 2),
opportunity 10.0, customer 20.0. L1 and L2 were won for 10,000 and 15,000
(mean 12,500). First touches: paid search L1-L4 (4 MQLs), webinar L5-L6
(1 MQL), no campaign L7-L10. Spend in Q1: paid search 3,000 a month, webinar
2,000 in March, e-mail 310 in March (and 1,000 in December, outside).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm.marketing.planner import (
    ChannelCosts,
    PlanError,
    ReferenceStage,
    commitment_for_period,
    customers_for_revenue,
    historical_average_deal,
    plan_build,
    plan_data,
    plan_from_data,
    plan_standing,
    reference_channel_costs,
    reference_default,
    spend_plan,
    standing_rows,
    work_back,
)
from leads.models import Stage
from tests.crm.planner_reference import Q1, Q2, Q3, at, journey, reference_quarter

pytestmark = pytest.mark.django_db


@pytest.fixture
def reference():
    """The reference quarter of the module's docstring."""
    reference_quarter()


def needed(plan):
    return [(s.stage, s.needed) for s in plan.stages]


def test_three_customers_work_back_rounding_up_at_every_stage(reference):
    plan = plan_build(start=Q2, end=Q3, target_customers=3)

    # opportunity 3 x 3/2 = 4.5 -> 5; SQL 5 x 3/3 = 5; SAL 5 x 4/3 = 6.67 -> 7;
    # MQL 7 x 5/4 = 8.75 -> 9; lead 9 x 10/5 = 18.
    assert needed(plan) == [
        ("lead", 18),
        ("mql", 9),
        ("sal", 7),
        ("sql", 5),
        ("opportunity", 5),
        ("customer", 3),
    ]
    assert [s.rate_used for s in plan.stages] == [
        None,
        Decimal("0.5000"),
        Decimal("0.8000"),
        Decimal("0.7500"),
        Decimal("1.0000"),
        Decimal("0.6667"),
    ]
    assert (plan.reference_start, plan.reference_end, plan.reference_kind) == (
        Q1,
        Q2,
        "previous_quarter",
    )


def test_enter_by_works_back_from_the_last_day_by_the_median_days(reference):
    plan = plan_build(start=Q2, end=Q3, target_customers=3)

    # Customer by 30 June; opportunity 20 days before, SQL 30, SAL 33,
    # MQL 34.5 -> 35, lead 36.5 -> 37.
    assert [(s.stage, s.days_from_previous, s.enter_by) for s in plan.stages] == [
        ("lead", None, dt.date(2026, 5, 24)),
        ("mql", Decimal("2.0"), dt.date(2026, 5, 26)),
        ("sal", Decimal("1.5"), dt.date(2026, 5, 28)),
        ("sql", Decimal("3.0"), dt.date(2026, 5, 31)),
        ("opportunity", Decimal("10.0"), dt.date(2026, 6, 10)),
        ("customer", Decimal("20.0"), dt.date(2026, 6, 30)),
    ]


def test_a_revenue_target_uses_the_mean_amount_won_in_the_reference(reference):
    plan = plan_build(start=Q2, end=Q3, target_revenue=Decimal("40000"))

    # 40,000 / 12,500 = 3.2 -> 4 customers; opportunity 6, SQL 6, SAL 8,
    # MQL 10, lead 20.
    assert (plan.average_deal, plan.average_deal_source, plan.won_deals) == (
        Decimal("12500.00"),
        "history",
        2,
    )
    assert needed(plan) == [
        ("lead", 20),
        ("mql", 10),
        ("sal", 8),
        ("sql", 6),
        ("opportunity", 6),
        ("customer", 4),
    ]


def test_a_typed_average_deal_size_wins_over_history(reference):
    plan = plan_build(
        start=Q2,
        end=Q3,
        target_revenue=Decimal("40000"),
        average_deal=Decimal("20000"),
    )

    assert (plan.average_deal, plan.average_deal_source, plan.won_deals) == (
        Decimal("20000"),
        "typed",
        None,
    )
    assert needed(plan)[-2:] == [("opportunity", 3), ("customer", 2)]


def test_the_historical_average_counts_only_deals_won_in_the_period(reference):
    assert historical_average_deal(start=Q1, end=Q2) == (Decimal("12500.00"), 2)
    assert historical_average_deal(start=Q2, end=Q3) == (Decimal("99999.00"), 1)
    assert historical_average_deal(start=Q3, end=dt.date(2026, 10, 1)) == (None, 0)


def test_revenue_without_won_deals_or_a_typed_average_is_refused(reference):
    with pytest.raises(PlanError, match="No deal was won with an amount"):
        plan_build(
            start=Q2,
            end=Q3,
            reference_start=dt.date(2025, 10, 1),
            reference_end=Q1,
            target_revenue=Decimal("40000"),
        )


def test_a_step_nobody_took_in_the_reference_cannot_be_planned_through(reference):
    journey(at(10, 5, 2025), (Stage.MQL, at(10, 6, 2025)))

    with pytest.raises(PlanError) as refused:
        plan_build(
            start=Q2,
            end=Q3,
            reference_start=dt.date(2025, 10, 1),
            reference_end=Q1,
            target_customers=3,
        )

    assert str(refused.value) == (
        "No lead in the reference period went from Opportunity to Customer "
        "(a conversion of 0%), so the plan cannot work back through that step. "
        "Pick a longer or another reference period."
    )


def test_spend_follows_the_reference_mix_at_each_channels_costs(reference):
    plan = plan_build(start=Q2, end=Q3, target_customers=3)

    # MQLs 9: paid search 4/5 -> 7.2 at 9,000/4 = 2,250 -> 16,200; webinar
    # 1/5 -> 1.8 at 2,000 -> 3,600. Leads 18: search 4/10 -> 7.2 at 2,250;
    # webinar 2/10 -> 3.6 at 1,000; no campaign 4/10 -> 7.2 at zero cost.
    rows = [
        (
            c.channel,
            c.spend,
            c.leads,
            c.mqls,
            c.cost_per_lead,
            c.cost_per_mql,
            c.planned_leads,
            c.spend_for_leads,
            c.planned_mqls,
            c.spend_for_mqls,
        )
        for c in plan.spend.channels
    ]
    assert rows == [
        (
            "paid_search",
            Decimal("9000.00"),
            4,
            4,
            Decimal("2250.00"),
            Decimal("2250.00"),
            Decimal("7.2"),
            Decimal("16200.00"),
            Decimal("7.2"),
            Decimal("16200.00"),
        ),
        (
            "webinar",
            Decimal("2000.00"),
            2,
            1,
            Decimal("1000.00"),
            Decimal("2000.00"),
            Decimal("3.6"),
            Decimal("3600.00"),
            Decimal("1.8"),
            Decimal("3600.00"),
        ),
        (
            "none",
            Decimal("0.00"),
            4,
            0,
            Decimal("0.00"),
            None,
            Decimal("7.2"),
            Decimal("0.00"),
            Decimal("0.0"),
            Decimal("0.00"),
        ),
        (
            "email",
            Decimal("310.00"),
            0,
            0,
            None,
            None,
            Decimal("0.0"),
            Decimal("0.00"),
            Decimal("0.0"),
            Decimal("0.00"),
        ),
    ]
    assert (plan.spend.total_for_leads, plan.spend.total_for_mqls) == (
        Decimal("19800.00"),
        Decimal("19800.00"),
    )


def test_channel_spend_is_prorated_by_the_days_of_each_month_inside(reference):
    costs = reference_channel_costs(dt.date(2026, 1, 16), dt.date(2026, 2, 15))

    # 3,000 x 16/31 = 1,548.39 in January, 3,000 x 14/28 = 1,500 in February;
    # nobody was created in the window.
    assert costs == [
        ChannelCosts("paid_search", "Paid search", Decimal("3048.39"), 0, 0)
    ]


def test_spend_without_any_mql_in_the_reference_has_no_mix():
    spend = spend_plan(
        channels=[ChannelCosts("email", "E-mail", Decimal("500"), 5, 0)],
        leads_needed=3,
        mqls_needed=2,
    )

    assert (spend.total_for_leads, spend.total_for_mqls) == (
        Decimal("300.00"),
        None,
    )
    assert spend.channels[0].planned_mqls is None


def test_the_default_reference_is_the_previous_quarter_or_the_last_90_days():
    assert reference_default(Q2) == (Q1, Q2, "previous_quarter")
    assert reference_default(Q1) == (dt.date(2025, 10, 1), Q1, "previous_quarter")
    assert reference_default(dt.date(2026, 5, 10)) == (
        dt.date(2026, 2, 9),
        dt.date(2026, 5, 10),
        "last_90_days",
    )


@pytest.mark.parametrize(
    ("target", "average", "customers"),
    [("40000", "12500", 4), ("37500", "12500", 3), ("0.01", "12500", 1)],
)
def test_revenue_becomes_customers_rounded_up(target, average, customers):
    assert (
        customers_for_revenue(target=Decimal(target), average_deal=Decimal(average))
        == customers
    )


def test_an_absurd_revenue_for_the_deal_size_is_refused():
    with pytest.raises(PlanError, match="plan at most 1,000,000"):
        customers_for_revenue(
            target=Decimal("1000000000"), average_deal=Decimal("0.01")
        )


def test_a_stage_without_a_median_leaves_the_stages_before_it_undated():
    reference = [
        ReferenceStage("lead", 4, None, None),
        ReferenceStage("mql", 2, Decimal("0.5"), Decimal("1.0")),
        ReferenceStage("sal", 2, Decimal("1"), None),
        ReferenceStage("sql", 2, Decimal("1"), Decimal("2.0")),
        ReferenceStage("opportunity", 2, Decimal("1"), Decimal("2.0")),
        ReferenceStage("customer", 1, Decimal("0.5"), Decimal("4.0")),
    ]

    stages = work_back(customers=1, reference=reference, last_day=dt.date(2026, 6, 30))

    assert [s.enter_by for s in stages] == [
        None,
        None,
        dt.date(2026, 6, 22),
        dt.date(2026, 6, 24),
        dt.date(2026, 6, 26),
        dt.date(2026, 6, 30),
    ]


@pytest.mark.parametrize(
    ("period", "commitment"),
    # 9 x 7 / 91 = 0.69 -> 1; 9 x 30.4375 / 91 = 3.01 -> 4.
    [("week", 1), ("month", 4)],
)
def test_the_mqls_needed_become_a_commitment_per_period_rounded_up(period, commitment):
    assert (
        commitment_for_period(mqls_needed=9, plan_days=91, period=period) == commitment
    )


def test_standing_counts_what_entered_so_far_against_the_pro_rata_need(reference):
    journey(at(4, 2), (Stage.MQL, at(4, 3)))
    plan = plan_build(start=Q2, end=Q3, target_customers=3)

    standing = plan_standing(plan=plan, today=dt.date(2026, 4, 10))

    # 10 of 91 days: lead 18 x 10/91 = 1.98, MQL 0.99 (1 is within 10%).
    assert (standing.days_passed, standing.days) == (10, 91)
    assert [(r.stage, r.so_far, r.expected, r.pace) for r in standing.rows] == [
        ("lead", 1, Decimal("2.0"), "behind"),
        ("mql", 1, Decimal("1.0"), "on_pace"),
        ("sal", 0, Decimal("0.8"), "behind"),
        ("sql", 0, Decimal("0.5"), "behind"),
        ("opportunity", 0, Decimal("0.5"), "behind"),
        ("customer", 0, Decimal("0.3"), "behind"),
    ]


def test_before_the_plan_starts_nothing_is_expected(reference):
    plan = plan_build(start=Q2, end=Q3, target_customers=3)

    standing = plan_standing(plan=plan, today=dt.date(2026, 3, 20))

    assert standing.days_passed == 0
    assert {(r.so_far, r.expected, r.pace) for r in standing.rows} == {
        (0, Decimal("0.0"), "not_started")
    }


def test_more_than_expected_is_ahead():
    rows = standing_rows(
        stages=work_back(
            customers=1,
            reference=[
                ReferenceStage(stage, 1, Decimal(1), Decimal(0))
                for stage in ("lead", "mql", "sal", "sql", "opportunity", "customer")
            ],
            last_day=dt.date(2026, 6, 30),
        ),
        so_far={"lead": 2},
        days_passed=5,
        days=10,
    )

    assert [(r.stage, r.expected, r.pace) for r in rows[:2]] == [
        ("lead", Decimal("0.5"), "ahead"),
        ("mql", Decimal("0.5"), "behind"),
    ]


def test_a_plan_survives_its_stored_form(reference):
    plan = plan_build(start=Q2, end=Q3, target_revenue=Decimal("40000"))

    again = plan_from_data(
        plan_data(plan),
        start=plan.start,
        end=plan.end,
        target_kind=plan.target_kind,
        target_value=plan.target_value,
        computed_at=plan.computed_at,
    )

    assert again == plan


@given(
    customers=st.integers(min_value=1, max_value=500),
    steps=st.lists(
        st.tuples(st.integers(1, 50), st.integers(1, 50)), min_size=5, max_size=5
    ),
)
def test_each_need_is_the_least_that_covers_the_next_stage(customers, steps):
    # Counts that only shrink down the funnel, from random step sizes.
    counts = [1000]
    for kept, of in steps:
        counts.append(max(1, counts[-1] * min(kept, of) // max(kept, of)))
    reference = [
        ReferenceStage(stage, count, None, None)
        for stage, count in zip(
            ("lead", "mql", "sal", "sql", "opportunity", "customer"),
            counts,
            strict=True,
        )
    ]

    stages = work_back(
        customers=customers, reference=reference, last_day=dt.date(2026, 6, 30)
    )

    assert stages[-1].needed == customers
    for rank in range(1, 6):
        need, before = stages[rank].needed, stages[rank - 1].needed
        # Enough at the reference conversion, and one fewer would not be.
        assert before * counts[rank] >= need * counts[rank - 1]
        assert (before - 1) * counts[rank] < need * counts[rank - 1]
