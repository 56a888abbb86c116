"""Rule analytics (crm.marketing.rule_analytics) on a hand-built world whose
figures are worked out here by hand, on SQLite and on PostgreSQL, and on the
demo data."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from fractions import Fraction

import pytest
from django.core.cache import cache
from django.core.management import call_command

from crm.marketing import rule_analytics as ra
from handoff.models import Handoff
from scoring.models import ScoringModel
from tests.crm.rule_analytics_data import FEB, JAN, build

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_counted_figures():
    """Counted figures are cached by model id, which tests reuse."""
    cache.clear()
    yield
    cache.clear()


def approx(value: float) -> object:
    return pytest.approx(value, abs=5e-5)


def _rate(rate) -> tuple:
    return (rate.hits, rate.total)


def _rule(report, label: str):
    return next(row for row in report.rules if row.label == label)


def _table(report, key: str):
    return next(t for t in report.rejections if t.key == key)


def _assert_hand_worked(report) -> None:
    """Every figure of the world in rule_analytics_data, by hand."""
    # The cohort: L1-L10; decided (accepted or rejected): L1-L7.
    assert (report.leads, report.decided) == (10, 7)
    # Median of the positive fit and engagement points 30, 10, 20.
    assert report.median_points == Decimal(20)
    assert [row.label for row in report.rules] == [
        "Director",
        "Demo request",
        "Big company",
    ]

    director = _rule(report, "Director")  # L1-L4
    assert (director.fired, director.rest) == (4, 6)
    # Acceptance: L1-L3 of L1-L4 against L5 of L5-L7.
    assert _rate(director.acceptance.fired) == (3, 4)
    assert _rate(director.acceptance.rest) == (1, 3)
    # (3/4) / (1/3) = 2.25; exp(ln 2.25 +- 1.96 sqrt(1/3 - 1/4 + 1/1 - 1/3)).
    lift = director.acceptance.lift
    assert (lift.value, lift.low, lift.high) == (
        approx(2.25),
        approx(0.4121),
        approx(12.2841),
    )
    # SQL: L1-L3 of 4 against L5 of L5-L10.
    assert _rate(director.sql.fired) == (3, 4)
    assert _rate(director.sql.rest) == (1, 6)
    # Wilson 3/4: (0.75 + z^2/8 -+ z sqrt(0.75 * 0.25 / 4 + z^2/64)) / (1 + z^2/4).
    assert director.sql.fired.interval == (approx(0.3006), approx(0.9544))
    assert director.sql.rest.interval == (approx(0.0301), approx(0.5635))
    # 0.75 / (1/6) = 4.5; spread 1.96 sqrt(1/3 - 1/4 + 1 - 1/6).
    lift = director.sql.lift
    assert (lift.value, lift.low, lift.high) == (
        approx(4.5),
        approx(0.6890),
        approx(29.3884),
    )
    # Customer: L1 of 4 against none of 6: no lift (the rest's rate is 0).
    assert _rate(director.customer.fired) == (1, 4)
    assert _rate(director.customer.rest) == (0, 6)
    assert director.customer.lift.value is None
    # 30 points >= the median but the interval reaches 29: too few to say.
    assert director.weight == ""

    demo = _rule(report, "Demo request")  # L1, L2, L7, L8
    assert (demo.fired, demo.rest) == (4, 6)
    assert _rate(demo.acceptance.fired) == (2, 3)  # L1, L2 of L1, L2, L7
    assert _rate(demo.acceptance.rest) == (2, 4)  # L3, L5 of L3-L6
    lift = demo.acceptance.lift
    assert (lift.value, lift.low, lift.high) == (
        approx(4 / 3),
        approx(0.3763),
        approx(4.7248),
    )
    assert _rate(demo.sql.fired) == (2, 4)
    assert _rate(demo.sql.rest) == (2, 6)
    lift = demo.sql.lift
    assert (lift.value, lift.low, lift.high) == (
        approx(1.5),
        approx(0.3357),
        approx(6.7020),
    )
    assert demo.weight == ""

    big = _rule(report, "Big company")  # L5, L6
    assert (big.fired, big.rest) == (2, 8)
    assert _rate(big.acceptance.fired) == (1, 2)
    assert _rate(big.acceptance.rest) == (3, 5)
    assert big.acceptance.lift.value == approx(0.5 / 0.6)
    assert _rate(big.sql.fired) == (1, 2)
    assert _rate(big.sql.rest) == (3, 8)
    assert big.sql.lift.value == approx(0.5 / 0.375)
    # No customer among its two leads: a lift of 0 and no interval (log 0).
    assert big.customer.lift.value == 0
    assert (big.customer.lift.low, big.customer.lift.high) == (None, None)

    quality = report.quality
    # SQL (L1 50, L2 40, L3 30, L5 20) over the rest (30, 20, 10, 10, 0, 0):
    # L1 and L2 beat all 6, L3 beats 5 and ties 1, L5 beats 4 and ties 1:
    # (6 + 6 + 5.5 + 4.5) / (4 * 6) = 22/24.
    assert quality.auc_sql == Fraction(11, 12)
    # The one customer (50) outscores the nine others.
    assert quality.auc_customer == Fraction(1)
    assert (quality.sqls, quality.customers) == (4, 1)
    # At or above 30: L1-L4, of whom L1-L3 reached SQL.
    assert quality.threshold == Decimal(30)
    assert _rate(quality.precision_at_threshold) == (3, 4)
    # MQLs (L1-L7) by bands of 10 points.
    assert [(b.low, b.high, _rate(b.mql_to_sql)) for b in quality.bands] == [
        (Decimal(10), Decimal("19.99"), (0, 1)),  # L7
        (Decimal(20), Decimal("29.99"), (1, 2)),  # L5, L6
        (Decimal(30), Decimal("39.99"), (1, 2)),  # L3, L4
        (Decimal(40), Decimal("49.99"), (1, 1)),  # L2
        (Decimal(50), Decimal("59.99"), (1, 1)),  # L1
    ]

    # Rejections in January: L4 No budget, L6 Wrong person, L7 No budget
    # (SDR) and L2's send-back Not ready (sales); February's is left out.
    columns = _table(report, "campaign").columns
    assert [(c.label, c.audience) for c in columns] == [
        ("No budget", "sdr"),
        ("Wrong person", "sdr"),
        ("Not ready", "sales"),
    ]

    def rows(key: str) -> list[tuple[str, list[int]]]:
        return [(row.label, row.counts) for row in _table(report, key).rows]

    # First touch: L4 and L2 Spring webinar, L6 Trade show (its later touch
    # is Spring's), L7 none.
    assert rows("campaign") == [
        ("Spring webinar", [1, 0, 1]),
        ("No campaign", [1, 0, 0]),
        ("Trade show", [0, 1, 0]),
    ]
    assert rows("agreement") == [
        ("Hand SLA 1", [1, 1, 0]),
        ("Hand SLA 2", [1, 0, 1]),
    ]
    # L4 Director, L6 Big company, L7 Demo request, L2 both Director and Demo.
    assert rows("rule") == [
        ("Demo request", [1, 0, 1]),
        ("Director", [1, 0, 1]),
        ("Big company", [0, 1, 0]),
    ]
    assert rows("graded") == [
        ("A", [0, 0, 1]),
        ("B", [1, 0, 0]),
        ("C", [0, 1, 0]),
        ("D", [1, 0, 0]),
    ]
    # Weeks from Monday: 12 Jan (L4 on the 12th, L6 on the 14th) and 19 Jan
    # (L7 on the 21st, L2 on the 22nd).
    assert rows("week") == [
        ("Week of 12 Jan 2026", [1, 1, 0]),
        ("Week of 19 Jan 2026", [1, 0, 1]),
    ]
    assert _table(report, "week").rows[0].key == dt.date(2026, 1, 12)
    assert _table(report, "campaign").totals == [2, 1, 1]
    assert _table(report, "campaign").grand_total == 4
    # The page shows the SDR and the sales reasons apart.
    sdr, sales = _table(report, "campaign").parts
    assert (sdr.title, [c.label for c in sdr.columns]) == (
        "SDR rejections",
        ["No budget", "Wrong person"],
    )
    assert [(r.label, r.counts) for r in sdr.rows] == [
        ("Spring webinar", [1, 0]),
        ("No campaign", [1, 0]),
        ("Trade show", [0, 1]),
    ]
    assert (sdr.totals, sdr.grand_total) == ([2, 1], 3)
    assert (sales.title, [(r.label, r.counts) for r in sales.rows], sales.totals) == (
        "Sales send-backs",
        [("Spring webinar", [1])],
        [1],
    )


def test_the_hand_worked_figures():
    world = build()

    report = ra.rule_analytics(model=world.model, start=JAN, end=FEB)

    _assert_hand_worked(report)
    # The latest feedback first; L7's empty one and February's are left out.
    assert [(f.text, f.audience) for f in report.feedback] == [
        ("Wants to revisit after the budget review", "sales"),
        ("Intern, not the buyer", "sdr"),
        ("Budget frozen until Q3", "sdr"),
    ]
    assert report.feedback[0].handoff_id == world.handoffs["L2"].id
    assert report.feedback[1].lead_id == world.leads["L6"].id


def test_the_feedback_search_is_case_insensitive():
    world = build()

    report = ra.rule_analytics(model=world.model, start=JAN, end=FEB, search=" BUDGET ")

    assert report.search == "BUDGET"
    assert [f.text for f in report.feedback] == [
        "Wants to revisit after the budget review",
        "Budget frozen until Q3",
    ]


@pytest.mark.postgres
def test_the_hand_worked_figures_on_postgresql_and_both_paths_agree():
    world = build()

    report = ra.rule_analytics(model=world.model, start=JAN, end=FEB)

    _assert_hand_worked(report)
    since, until = ra._bounds(JAN, FEB)
    cohort, params = ra._cohort_sql(world.model.id, since, until)
    assert ra._rule_counts(cohort, params) == ra._rule_counts_python(cohort, params)
    for rows in ra._rejections(since, until).values():
        assert ra._rule_rejections(rows) == ra._rule_rejections_python(rows)


def test_the_counts_are_reused_for_five_minutes_but_the_feedback_is_read_anew():
    world = build()
    first = ra.rule_analytics(
        model=world.model,
        start=JAN,
        end=FEB,
        now=dt.datetime(2026, 2, 2, tzinfo=dt.UTC),
    )
    world.leads["L9"].delete()
    Handoff.objects.filter(id=world.handoffs["L6"].id).update(feedback="Changed")

    again = ra.rule_analytics(model=world.model, start=JAN, end=FEB, search="changed")
    cache.clear()
    recounted = ra.rule_analytics(model=world.model, start=JAN, end=FEB)

    assert (
        first.counted_at == again.counted_at == dt.datetime(2026, 2, 2, tzinfo=dt.UTC)
    )
    assert (first.leads, again.leads, recounted.leads) == (10, 10, 9)
    assert [f.text for f in again.feedback] == ["Changed"]
    assert recounted.counted_at > first.counted_at


def test_a_period_without_leads_has_no_rates_and_no_lifts():
    world = build()

    report = ra.rule_analytics(
        model=world.model, start=dt.date(2025, 6, 1), end=dt.date(2025, 7, 1)
    )

    assert report.leads == 0
    assert all(row.fired == row.rest == 0 for row in report.rules)
    assert all(row.sql.lift.value is None for row in report.rules)
    assert report.quality.auc_sql is None
    assert report.quality.bands == []
    assert all(table.rows == [] for table in report.rejections)
    assert report.feedback == []


def test_a_period_that_ends_before_it_starts_is_refused():
    world = build()

    with pytest.raises(ValueError, match="ends before it starts"):
        ra.rule_analytics(model=world.model, start=FEB, end=JAN)


def test_drafts_are_not_offered():
    world = build()
    draft = ScoringModel.objects.create(name="Draft", version=1)

    offered = list(ra.analytics_models())

    assert world.model in offered
    assert draft not in offered
    assert offered[0].status == ScoringModel.Status.ACTIVE


@pytest.mark.parametrize(
    ("kind", "points", "low", "high", "flag"),
    [
        # At least the median (20) and a lift surely under 1.5: over.
        ("fit", 20, 0.8, 1.3, ra.OVER_WEIGHTED),
        ("engagement", 40, 0.5, 0.9, ra.OVER_WEIGHTED),
        # The interval reaches 1.5: it may earn its points.
        ("fit", 20, 0.9, 1.6, ""),
        # Surely above 1 but under 1.5: some lift; no flag.
        ("fit", 30, 1.1, 1.4, ""),
        # Below the median and surely above 1.5: under.
        ("engagement", 10, 1.6, 3.0, ra.UNDER_WEIGHTED),
        ("fit", 10, 1.4, 3.0, ""),
        # A negative rule, or no interval: never flagged.
        ("negative", -10, 0.5, 0.9, ""),
        ("fit", 10, None, None, ""),
    ],
)
def test_weight_flags(kind, points, low, high, flag):
    sql = ra.Lift(1.0, low, high)

    assert (
        ra.weight_flag(kind=kind, points=Decimal(points), median=Decimal(20), sql=sql)
        == flag
    )


def test_on_the_demo_a_demo_request_lifts_sql(settings):
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

    report = ra.rule_analytics(
        model=model, start=dt.date(2025, 12, 1), end=dt.date(2026, 3, 2)
    )

    demo = _rule(report, "Demo request")
    assert demo.fired > 0
    assert demo.sql.lift.low > 1.5
    assert report.quality.auc_sql > Fraction(1, 2)
