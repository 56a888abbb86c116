"""Candidate rules (crm.marketing.rule_candidates) on the hand-built world of
``rule_candidates_data``, whose figures are worked out here by hand, on
SQLite and on PostgreSQL; the suggested points; the demo."""

from __future__ import annotations

import datetime as dt
import io
import math
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.core.management import call_command
from hypothesis import given
from hypothesis import strategies as st

from crm.marketing import rule_candidates as rc
from crm.marketing.rule_stats import Z95, Lift
from leads.models import Lead
from scoring.models import ScoringModel
from tests.crm.rule_candidates_data import FEB, JAN, build

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_counted_figures():
    """Counted figures are cached by model id, which tests reuse."""
    cache.clear()
    yield
    cache.clear()


def approx(value: float) -> object:
    return pytest.approx(value, abs=5e-5)


def _log_interval(a: int, n1: int, c: int, n0: int) -> tuple[float, float, float]:
    """The lift (a/n1) / (c/n0) and its log-method interval, written out."""
    value = (a / n1) / (c / n0)
    spread = Z95 * math.sqrt(1 / a - 1 / n1 + 1 / c - 1 / n0)
    return value, math.exp(math.log(value) - spread), math.exp(math.log(value) + spread)


#: Every candidate of the world at a minimum support of 3, in the order of
#: the SQL lift's lower bound (ties: more leads, then the label), with its
#: leads, SQLs and customers. The cohort: 20 leads, 10 SQLs, 1 customer.
HAND_WORKED = [
    # P1 (9 leads, all SQL): 9/9 against 1/11 -> lift 11, low 1.70.
    ("touch_often:demo_request", 9, 9, 1),
    # Seats 10-14: P1a and P1b's 11-14; 5/5 against 5/15 -> lift 3, low 1.47.
    ("number:seats:10:14", 5, 5, 1),
    # P1 and P2 (10 leads): 9/10 against 1/10 -> lift 9, low 1.39; by label.
    ("field:country:DE", 10, 9, 1),
    ("touch:demo_request", 10, 9, 1),
    ("size:account.employee_count:1000-4999", 10, 9, 1),
    ("field:account.industry:software", 10, 9, 1),
    ("field:region:europe", 10, 9, 1),
    ("field:seniority:vp", 10, 9, 1),
    # "Pro" and " pro" are one value to a rule.
    ("attribute:plan:pro", 10, 9, 1),
    # Seats 15-20: P1b's 15-18 and P2; 4/5 against 6/15 -> lift 2, low 0.94.
    ("number:seats:15:20", 5, 4, 0),
    # Seats 30-34: P3a and P3b's 31-34; 1/5 against 9/15 -> lift 1/3, low 0.055.
    ("number:seats:30:34", 5, 1, 0),
    # P3 (9 leads): 1/9 against 9/11 -> lift 11/81, low 0.021; by label.
    ("size:account.employee_count:50-199", 9, 1, 0),
    ("field:account.industry:retail", 9, 1, 0),
    ("attribute:crm.version:7", 9, 1, 0),
    # P3 and P4 (10 leads): 1/10 against 9/10 -> lift 1/9, low 0.017.
    ("field:country:US", 10, 1, 0),
    ("touch:page_view", 10, 1, 0),
    ("field:region:north_america", 10, 1, 0),
    ("field:seniority:director", 10, 1, 0),
    # "free" and "FREE".
    ("attribute:plan:free", 10, 1, 0),
    # No lower bound: every lead (no rest), then no SQL among 5.
    ("field:department:marketing", 20, 10, 1),
    ("number:seats:35:40", 5, 0, 0),
]


def _candidate(report, key: str):
    return next(c for c in report.candidates if c.key == key)


def _assert_hand_worked(report) -> None:
    assert report.leads == 20
    assert [
        (c.key, c.leads, c.sql.fired.hits, c.customer.fired.hits)
        for c in report.candidates
    ] == HAND_WORKED
    for c in report.candidates:
        assert c.rest == 20 - c.leads
        assert (c.sql.rest.hits, c.customer.rest.hits) == (
            10 - c.sql.fired.hits,
            1 - c.customer.fired.hits,
        )

    vp = _candidate(report, "field:seniority:vp")
    assert vp.label == "Seniority is Vice president"
    value, low, high = _log_interval(9, 10, 1, 10)
    assert (vp.sql.lift.value, vp.sql.lift.low, vp.sql.lift.high) == (
        approx(9),
        approx(1.3860),
        approx(58.4430),
    )
    assert (value, low, high) == (approx(9), approx(1.3860), approx(58.4430))
    # 1 customer of 10 against none of 10: no lift.
    assert vp.customer.lift == Lift(None, None, None)
    # round(10 ln 1.3860) = round(3.26).
    assert vp.points == 3
    assert vp.rule == {
        "kind": "fit",
        "label": "Seniority is Vice president",
        "attribute": "seniority",
        "operator": "equals",
        "value": "vp",
    }
    assert vp.covered_by == ["VP"]

    often = _candidate(report, "touch_often:demo_request")
    assert (often.sql.lift.value, often.sql.lift.low) == (
        approx(11),
        approx(math.exp(math.log(11) - Z95 * math.sqrt(1 - 1 / 11))),
    )
    assert often.rule is None
    assert not often.addable
    assert "no “3 or more times” condition" in often.reason_not_addable
    assert often.covered_by == ["Demo"]

    demo = _candidate(report, "touch:demo_request")
    assert demo.rule == {
        "kind": "engagement",
        "label": "Demo request, counted once",
        "touchpoint_kind": "demo_request",
        "max_occurrences": 1,
    }

    seats = _candidate(report, "number:seats:10:14")
    assert seats.label == "attributes.seats is 10 to 14"
    # 5/5 against 5/15: lift 3, spread 1.96 sqrt(1/5 - 1/5 + 1/5 - 1/15).
    assert (seats.sql.lift.value, seats.sql.lift.low) == (approx(3), approx(1.4666))
    assert seats.points == 4  # round(10 ln 1.4666) = round(3.83)
    assert seats.rule["operator"] == "between"
    assert seats.rule["value"] == ["10", "14"]
    # "Many seats" (at least 15) misses 10-14 but holds for the other bins.
    assert seats.covered_by == []
    assert _candidate(report, "number:seats:15:20").covered_by == ["Many seats"]
    # 4/5 against 6/15: lift 2, low exp(ln 2 - 1.96 sqrt(1/4 - 1/5 + 1/6 - 1/15)).
    middle = _candidate(report, "number:seats:15:20").sql.lift
    assert (middle.value, middle.low) == (approx(2), approx(0.9362))
    assert _candidate(report, "number:seats:15:20").points == 0

    size = _candidate(report, "size:account.employee_count:1000-4999")
    assert size.label == "Employees 1,000\u20134,999"
    assert (size.rule["operator"], size.rule["value"]) == ("between", [1000, 4999])
    assert size.covered_by == ["Mid-size"]

    plan = _candidate(report, "attribute:plan:pro")
    assert plan.rule["attribute"] == "attributes.plan"
    assert plan.rule["value"] == "pro"
    assert plan.covered_by == []

    # 1/10 against 9/10: lift 1/9; its high end exp(-ln 9 + spread) < 1.
    director = _candidate(report, "field:seniority:director")
    assert director.sql.lift.high == approx(0.7215)
    assert director.points == -3  # round(10 ln 0.7215) = round(-3.26)

    dotted = _candidate(report, "attribute:crm.version:7")
    assert dotted.rule is None
    assert dotted.reason_not_addable == (
        "A rule reads a dot in an attribute's name as a nested value."
    )

    everyone = _candidate(report, "field:department:marketing")
    assert everyone.rest == 0
    assert not everyone.addable


def test_the_hand_worked_candidates():
    world = build()

    report = rc.rule_candidates(model=world.model, start=JAN, end=FEB, min_support=3)

    _assert_hand_worked(report)


def test_the_minimum_support_cuts_smaller_candidates():
    world = build()

    report = rc.rule_candidates(model=world.model, start=JAN, end=FEB, min_support=10)

    # The seats bins (5 leads) and P1's or P3's alone (9) are left out.
    assert report.min_support == 10
    assert [c.key for c in report.candidates] == [
        key for key, leads, *_ in HAND_WORKED if leads >= 10
    ]
    assert len(report.candidates) == 13


def test_the_default_minimum_support_is_30_and_leaves_none_here():
    world = build()

    report = rc.rule_candidates(model=world.model, start=JAN, end=FEB)

    assert (report.min_support, report.candidates) == (30, [])
    assert rc.MIN_SUPPORT_DEFAULT == 30


@pytest.mark.parametrize("support", [1, 0, -1, rc.MIN_SUPPORT_MAX + 1])
def test_a_minimum_support_out_of_range_is_refused(support):
    world = build()

    with pytest.raises(ValueError, match="minimum support"):
        rc.rule_candidates(model=world.model, start=JAN, end=FEB, min_support=support)


def _one_lead_notes(world) -> None:
    """A free-text attribute: a value per lead, two leads sharing one."""
    for n, lead in enumerate(world.leads["P3b"]):
        note = "same" if n < 2 else f"only lead {n}"
        Lead.objects.filter(id=lead.id).update(
            attributes={**lead.attributes, "note": note}
        )


def test_a_text_value_only_one_lead_holds_is_not_counted():
    world = build()
    _one_lead_notes(world)

    counts = rc._count(world.model.id, JAN, FEB)

    notes = {k: row for k, row in counts.groups.items() if k[1] == "note"}
    assert notes == {(rc.ATTRIBUTE, "note", "same"): [2, 0, 0]}
    report = rc.rule_candidates(model=world.model, start=JAN, end=FEB, min_support=2)
    assert "attribute:note:same" in [c.key for c in report.candidates]


@pytest.mark.postgres
def test_the_hand_worked_candidates_on_postgresql_and_both_paths_agree():
    world = build()
    _one_lead_notes(world)

    _assert_hand_worked(
        rc.rule_candidates(model=world.model, start=JAN, end=FEB, min_support=3)
    )
    since, until = rc._bounds(JAN, FEB)
    cohort, params = rc._cohort_sql(world.model.id, since, until)
    in_sql, in_python = {}, {}
    rc._count_fields_sql(cohort, params, in_sql)
    rc._count_fields_python(cohort, params, in_python)
    assert in_sql == in_python
    assert in_sql[(rc.NUMBER, "seats", Decimal(10))] == [1, 1, 1]
    assert {k: row for k, row in in_sql.items() if k[1] == "note"} == {
        (rc.ATTRIBUTE, "note", "same"): [2, 0, 0]
    }


def test_the_counts_are_kept_five_minutes_and_the_support_only_filters_them(
    django_assert_num_queries,
):
    world = build()
    rc.rule_candidates(model=world.model, start=JAN, end=FEB, min_support=3)

    # Only the touchpoint kinds' labels and the active model and its rules.
    with django_assert_num_queries(3):
        report = rc.rule_candidates(
            model=world.model, start=JAN, end=FEB, min_support=10
        )

    assert len(report.candidates) == 13


@pytest.mark.parametrize(
    ("low", "high", "points"),
    [
        # 10 ln 2 = 6.93; 10 ln 3 = 10.99; 10 ln 1.05 = 0.49 -> at least 1.
        (2.0, 9.0, 7),
        (3.0, 9.0, 11),
        (1.05, 2.0, 1),
        # 10 ln 100 = 46 -> at most 25.
        (100.0, 200.0, 25),
        # Below 1: the high end. 10 ln 0.5 = -6.93; 10 ln 0.99 -> at least -1.
        (0.1, 0.5, -7),
        (0.5, 0.99, -1),
        (0.0001, 0.001, -25),
        # The interval holds 1, or has no end.
        (0.8, 1.2, 0),
        (1.0, 3.0, 0),
        (None, None, 0),
    ],
)
def test_suggested_points(low, high, points):
    assert rc.suggested_points(Lift(1.0, low, high)) == points


@given(
    st.floats(min_value=1e-6, max_value=1e6),
    st.floats(min_value=1e-6, max_value=1e6),
)
def test_suggested_points_are_bounded_and_point_the_lift_s_way(a, b):
    low, high = sorted((a, b))
    points = rc.suggested_points(Lift(None, low, high))

    assert -rc.POINTS_MAX <= points <= rc.POINTS_MAX
    if low > 1:
        assert points >= 1
    elif high < 1:
        assert points <= -1
    else:
        assert points == 0


def test_numbers_fall_in_quantile_bins_that_keep_ties_together():
    # Ten leads at 1, one each at 2 and 3: the tie fills the first bins' share.
    values = {
        Decimal(1): [10, 0, 0],
        Decimal(2): [1, 1, 0],
        Decimal(3): [1, 0, 0],
    }

    # 1: 0 below -> bin 0; 2: 10 of 12 below -> 10 * 4 // 12 = 3; 3: 11 -> 3.
    assert rc._number_bins(values) == [
        (Decimal(1), Decimal(1), [10, 0, 0]),
        (Decimal(2), Decimal(3), [2, 1, 0]),
    ]


def test_on_the_demo_a_demo_request_is_a_candidate_the_model_has(settings):
    """The demo's journeys send demo requests on to sales far more often."""
    settings.DEBUG = True  # seed_demo runs in development only
    call_command(
        "seed_demo",
        "--leads",
        "300",
        "--seed",
        "11",
        "--today",
        "2026-03-01",
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )
    model = ScoringModel.objects.get(status=ScoringModel.Status.ACTIVE)

    report = rc.rule_candidates(
        model=model,
        start=dt.date(2025, 12, 1),
        end=dt.date(2026, 3, 2),
        min_support=3,
    )

    demo = _candidate(report, "touch:demo_request")
    assert demo.sql.lift.low > 1
    assert demo.covered_by == ["Demo request"]
    assert all(c.leads >= 3 for c in report.candidates)
