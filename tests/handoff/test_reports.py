"""The SLA report: compliance, speed to lead, workload, reasons, volume, the page."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from django.db import connection
from django.db.models import Count
from django.test.utils import CaptureQueriesContext

from crm.common.percentiles import percentile_cont
from handoff import reports, services
from handoff.models import Handoff, RejectionReason, SalesOutcome, SalesProfile
from handoff.reports import ReportScope
from handoff.reports.percentiles import _percentile_aggregates, _python_percentiles
from handoff.reports.scope import _period_handoffs
from handoff.reports.speed import _band_filters
from leads import lifecycle
from leads.models import Stage
from tests.factories import LeadFactory, SlaFactory, TeamMemberFactory, UserFactory

pytestmark = pytest.mark.django_db

# Thursday 16 April 2026, midnight UTC: half of April (30 days) and 3 of the
# week's 7 days have passed.
NOW = dt.datetime(2026, 4, 16, 0, 0, tzinfo=dt.UTC)
BASE = NOW - dt.timedelta(days=10)
LAST_30_DAYS = ReportScope(start=NOW - dt.timedelta(days=30), end=NOW, now=NOW)


ONE_MINUTE = dt.timedelta(minutes=1)
EIGHT_HOURS = dt.timedelta(hours=8)


def minutes(n: float) -> dt.timedelta:
    return dt.timedelta(minutes=n)


def hours(n: float) -> dt.timedelta:
    return dt.timedelta(hours=n)


def make_handoff(
    *,
    sla,
    assigned_to=None,
    created_at: dt.datetime,
    status: str = "pending",
    mql_before: dt.timedelta = ONE_MINUTE,
    due_after: dt.timedelta = EIGHT_HOURS,
    first_attempt_after: dt.timedelta | None = None,
    decided_after: dt.timedelta | None = None,
    reason: str | None = None,
    feedback: str = "",
    sequence: int = 1,
    team=None,
    **fields,
) -> Handoff:
    """A handoff with exact times; reports only read, so no service is needed."""
    expired_at = created_at + due_after if status == "expired" else None
    return Handoff.objects.create(
        lead=fields.pop("lead", None) or LeadFactory(),
        sla=sla,
        team=team or sla.team,
        assigned_to=assigned_to,
        status=status,
        sequence=sequence,
        mql_at=created_at - mql_before,
        created_at=created_at,
        due_at=created_at + due_after,
        at_risk_at=created_at + due_after * 0.75,
        expired_at=expired_at,
        first_attempt_at=(
            created_at + first_attempt_after if first_attempt_after else None
        ),
        decided_at=created_at + decided_after if decided_after else None,
        reason=RejectionReason.objects.get(code=reason) if reason else None,
        feedback=feedback,
        **fields,
    )


@pytest.fixture
def sla_a():
    return SlaFactory(name="Enterprise", accept_within_hours=8, priority=1)


@pytest.fixture
def sla_b(sla_a):
    return SlaFactory(name="SMB", accept_within_hours=4, priority=2, team=sla_a.team)


@pytest.fixture
def ann(sla_a):
    user = UserFactory(username="ann", first_name="Ann", last_name="Lee", roles=["SDR"])
    TeamMemberFactory(team=sla_a.team, user=user)
    return user


@pytest.fixture
def bob(sla_a):
    user = UserFactory(username="bob", first_name="Bob", last_name="Kim", roles=["SDR"])
    TeamMemberFactory(team=sla_a.team, user=user)
    return user


@pytest.fixture
def period(sla_a, sla_b, ann, bob):
    """Eight handoffs in the last 30 days and one before; see each comment."""
    h = {}
    # Ann: in time, in time at exactly the due time, late, expired.
    h[1] = make_handoff(
        sla=sla_a, assigned_to=ann, created_at=BASE, status="accepted",
        mql_before=dt.timedelta(seconds=30),
        first_attempt_after=minutes(10), decided_after=hours(1),
    )  # fmt: skip
    h[2] = make_handoff(
        sla=sla_a, assigned_to=ann, created_at=BASE + hours(1), status="rejected",
        mql_before=minutes(2), first_attempt_after=minutes(30),
        decided_after=hours(8), reason="no_budget",
    )  # fmt: skip
    h[3] = make_handoff(
        sla=sla_a, assigned_to=ann, created_at=BASE + hours(2), status="accepted",
        mql_before=minutes(7), first_attempt_after=hours(2), decided_after=hours(9),
    )  # fmt: skip
    h[4] = make_handoff(
        sla=sla_a, assigned_to=ann, created_at=BASE + hours(3), status="expired",
        mql_before=minutes(20),
    )  # fmt: skip
    # Bob: open (due tomorrow), pending past due, rejected in time under SMB,
    # and Ann's expired lead, reassigned to him and accepted in time.
    h[5] = make_handoff(
        sla=sla_a, assigned_to=bob, created_at=NOW - hours(2), mql_before=minutes(1),
    )  # fmt: skip
    h[6] = make_handoff(
        sla=sla_a, assigned_to=bob, created_at=NOW - hours(10),
        mql_before=minutes(90),
    )  # fmt: skip
    h[7] = make_handoff(
        sla=sla_b, assigned_to=bob, created_at=BASE + hours(4), status="rejected",
        mql_before=minutes(3), first_attempt_after=minutes(4),
        decided_after=hours(2), reason="bad_timing", due_after=hours(4),
    )  # fmt: skip
    h[9] = make_handoff(
        sla=sla_a, assigned_to=bob, lead=h[4].lead, previous=h[4], sequence=2,
        created_at=h[4].expired_at, status="accepted",
        # The reassignment keeps the original MQL time: 8 h 20 min earlier.
        mql_before=hours(8) + minutes(20),
        first_attempt_after=minutes(5), decided_after=hours(3),
    )  # fmt: skip
    # Assigned 31 days ago: outside the period.
    h[8] = make_handoff(
        sla=sla_a, assigned_to=ann, created_at=NOW - dt.timedelta(days=31),
        status="accepted", decided_after=hours(1),
    )  # fmt: skip
    return h


# Compliance
# ------------------------------------------------------------------------------


def test_compliance_share_counts_in_time_against_breached_and_leaves_open_out(
    period,
):
    totals = reports.compliance_totals(scope=LAST_30_DAYS)

    assert totals == reports.Compliance(
        assigned=8, in_time=4, breached=3, open=1, pending=2,
        accepted=3, rejected=2, expired=1, late=1, overdue=1,
    )  # fmt: skip
    assert totals.share == 4 / 7
    assert totals.acceptance_rate == 3 / 5


def test_each_handoff_counts_for_its_own_assignee(period):
    rows = reports.compliance_by_sdr(scope=LAST_30_DAYS)

    assert [(r.name, r.compliance) for r in rows] == [
        (
            "Ann Lee",
            reports.Compliance(
                assigned=4, in_time=2, breached=2, open=0, pending=0,
                accepted=2, rejected=1, expired=1, late=1, overdue=0,
            ),
        ),
        (
            "Bob Kim",
            reports.Compliance(
                assigned=4, in_time=2, breached=1, open=1, pending=2,
                accepted=1, rejected=1, expired=0, late=0, overdue=1,
            ),
        ),
    ]  # fmt: skip
    ann, bob = rows
    assert (ann.compliance.share, bob.compliance.share) == (0.5, 2 / 3)
    assert (ann.compliance.acceptance_rate, bob.compliance.acceptance_rate) == (
        2 / 3,
        0.5,
    )
    # Ann's first touches: 10 min, 30 min, 2 h; decisions: 1 h, 8 h, 9 h.
    assert ann.median_first_touch.seconds == 1800
    assert ann.median_decision.seconds == 8 * 3600
    # Bob's: 4 min and 5 min; 2 h and 3 h (interpolated medians).
    assert bob.median_first_touch.seconds == 270
    assert bob.median_decision.seconds == 2.5 * 3600


def test_compliance_per_sla_carries_the_target(period, sla_a, sla_b):
    rows = reports.compliance_by_sla(scope=LAST_30_DAYS)

    assert [
        (r.name, str(r.target_hours), r.compliance.assigned, r.compliance.share)
        for r in rows
    ] == [("Enterprise", "8.00", 7, 3 / 6), ("SMB", "4.00", 1, 1.0)]
    assert rows[1].median_decision.seconds == 2 * 3600


def test_sla_and_team_filters_narrow_every_count(period, sla_b):
    scope = ReportScope(start=LAST_30_DAYS.start, end=NOW, now=NOW, sla_id=sla_b.id)
    other_team = SlaFactory().team

    assert reports.compliance_totals(scope=scope).assigned == 1
    assert [r.name for r in reports.compliance_by_sdr(scope=scope)] == ["Bob Kim"]
    assert (
        reports.compliance_totals(
            scope=ReportScope(
                start=LAST_30_DAYS.start, end=NOW, now=NOW, team_id=other_team.id
            )
        ).assigned
        == 0
    )


def test_unassigned_handoffs_get_their_own_row_last(period, sla_a):
    make_handoff(sla=sla_a, created_at=BASE)

    rows = reports.compliance_by_sdr(scope=LAST_30_DAYS)

    assert [(r.user_id, r.name, r.compliance.assigned) for r in rows][-1] == (
        None,
        "Unassigned",
        1,
    )


# Speed to lead
# ------------------------------------------------------------------------------


def test_speed_to_lead_bands_and_percentiles(period):
    speed = {m.key: m for m in reports.speed_to_lead(scope=LAST_30_DAYS)}

    # First handoffs only: 30 s, 1, 2, 3, 7, 20 and 90 min (the reassignment's
    # 8 h 20 min since the original MQL time is not an assignment delay).
    assignment = speed["assignment"]
    assert assignment.measured == 7
    assert [b.count for b in assignment.bands] == [4, 1, 1, 1]
    assert assignment.p50.seconds == 180
    assert assignment.p95.seconds == pytest.approx(1200 + (5400 - 1200) * 0.7)
    # 4, 5 (exactly: the 5-15 band), 10, 30 and 120 minutes.
    first_touch = speed["first_touch"]
    assert first_touch.measured == 5
    assert [b.count for b in first_touch.bands] == [1, 2, 1, 1]
    assert first_touch.p50.seconds == 600
    assert first_touch.p95.seconds == pytest.approx(1800 + (7200 - 1800) * 0.8)
    # Decisions: 1, 2, 3, 8 and 9 hours.
    decision = speed["decision"]
    assert decision.measured == 5
    assert [b.count for b in decision.bands] == [0, 0, 0, 5]
    assert decision.p50.seconds == 3 * 3600
    assert [(b.x, b.width) for b in first_touch.bands] == [
        (0, 20.0),
        (20.0, 40.0),
        (60.0, 20.0),
        (80.0, 20.0),
    ]


def test_speed_to_lead_with_no_handoffs_is_empty():
    speed = reports.speed_to_lead(scope=LAST_30_DAYS)

    assert [(m.measured, m.p50, m.p95) for m in speed] == [(0, None, None)] * 3
    assert [b.share for b in speed[0].bands] == [None] * 4


@pytest.mark.parametrize(
    ("values", "fraction", "expected"),
    [
        ([], 0.5, None),
        ([7.0], 0.95, 7.0),
        ([1.0, 2.0, 3.0, 4.0], 0.5, 2.5),
        ([10.0, 0.0, 20.0, 30.0, 40.0], 0.95, 38.0),
        ([5.0, 1.0], 0.0, 1.0),
        ([5.0, 1.0], 1.0, 5.0),
    ],
)
def test_percentile_cont_interpolates_like_postgresql(values, fraction, expected):
    assert percentile_cont(values, fraction) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (42, "42 s"),
        (59.6, "1.0 min"),
        (270, "4.5 min"),
        (598.2, "10 min"),
        (5340, "89 min"),
        (5400, "1.5 h"),
        (47.9 * 3600, "47.9 h"),
        (48 * 3600, "2.0 d"),
    ],
)
def test_durations_read_in_the_unit_that_fits(seconds, text):
    assert str(reports.Duration(seconds)) == text


@pytest.mark.postgres
def test_postgresql_percentiles_equal_the_python_ones(sla_a, ann):
    rng = random.Random(7)
    for i in range(40):
        make_handoff(
            sla=sla_a,
            assigned_to=ann,
            created_at=BASE + minutes(i),
            mql_before=dt.timedelta(seconds=rng.randint(0, 20_000)),
            first_attempt_after=dt.timedelta(microseconds=rng.randint(1, 10**10)),
        )
    qs = Handoff.objects.all()

    in_database = qs.aggregate(
        **_percentile_aggregates(["assignment", "first_touch"], [0.5, 0.95])
    )
    in_python = _python_percentiles(
        qs,
        group_by=None,
        measures=["assignment", "first_touch"],
        fractions=[0.5, 0.95],
    )[None]

    assert in_database == in_python


def test_band_counts_in_the_database_equal_the_python_ones(sla_a, ann, monkeypatch):
    """The two speed-to-lead paths (PostgreSQL's, SQLite's) count alike."""
    rng = random.Random(11)
    edges = [0, 5 * 60, 15 * 60, 60 * 60]
    for i in range(60):
        # Exact band edges, a microsecond either side, and random spans.
        edge = dt.timedelta(seconds=rng.choice(edges))
        tick = dt.timedelta(microseconds=1)
        random_span = dt.timedelta(seconds=rng.uniform(0, 7200))
        span = rng.choice([edge, edge - tick, edge + tick, random_span])
        make_handoff(
            sla=sla_a, assigned_to=ann, created_at=BASE + minutes(i),
            mql_before=span, first_attempt_after=span or None,
            decided_after=span + hours(1), status="accepted",
            sequence=rng.choice([1, 1, 2]),
        )  # fmt: skip
    qs = _period_handoffs(LAST_30_DAYS)
    in_database = qs.aggregate(
        **{
            f"{measure}_{i}": Count("id", filter=band)
            for measure in reports.MEASURES
            for i, band in enumerate(_band_filters(measure))
        }
    )
    monkeypatch.setattr("handoff.reports.speed._percentiles_in_database", lambda: False)

    in_python = {
        f"{m.key}_{i}": band.count
        for m in reports.speed_to_lead(scope=LAST_30_DAYS)
        for i, band in enumerate(m.bands)
    }

    assert in_python == in_database


# Trend
# ------------------------------------------------------------------------------


def test_trend_has_a_column_per_day_stacked_by_outcome(period):
    scope = ReportScope(start=NOW - dt.timedelta(days=7), end=NOW, now=NOW)

    chart = reports.compliance_trend(scope=scope)

    assert chart.per == "day"
    assert [c.day.day for c in chart.columns] == [9, 10, 11, 12, 13, 14, 15]
    last = chart.columns[-1]
    # h5 (open) and h6 (pending past due) were assigned on the 15th.
    assert (last.in_time, last.breached, last.open) == (0, 1, 1)
    assert [s["kind"] for s in last.segments] == ["breached", "open"]
    assert chart.max_total == 2


def test_trend_of_a_long_period_has_weekly_columns(period):
    scope = ReportScope(start=NOW - dt.timedelta(days=90), end=NOW, now=NOW)

    chart = reports.compliance_trend(scope=scope)

    assert chart.per == "week"
    assert all(c.day.weekday() == 0 for c in chart.columns)
    assert sum(c.in_time + c.breached + c.open for c in chart.columns) == 9


# Workload
# ------------------------------------------------------------------------------


def test_workload_counts_pending_at_risk_and_overdue_and_shows_who_is_away(
    sla_a, ann, bob
):
    carl = UserFactory(username="carl", roles=["SDR"])
    TeamMemberFactory(team=sla_a.team, user=carl)
    SalesProfile.objects.create(user=carl, away_until=dt.date(2026, 4, 20))
    # Ann: one overdue, one at risk (past 75% of 8 h), one fresh.
    make_handoff(sla=sla_a, assigned_to=ann, created_at=NOW - hours(9))
    make_handoff(sla=sla_a, assigned_to=ann, created_at=NOW - hours(7))
    make_handoff(sla=sla_a, assigned_to=ann, created_at=NOW - hours(1))
    # Bob: one decided (not pending any more).
    make_handoff(
        sla=sla_a, assigned_to=bob, created_at=NOW - hours(1), status="accepted",
        decided_after=minutes(5),
    )  # fmt: skip

    rows = reports.workload_list(now=NOW)

    assert [
        (r.name, r.pending, r.at_risk, r.overdue, r.away, r.away_until) for r in rows
    ] == [
        ("Ann Lee", 3, 1, 1, False, None),
        ("Bob Kim", 0, 0, 0, False, None),
        ("carl", 0, 0, 0, True, dt.date(2026, 4, 20)),
    ]
    assert rows[0].oldest_due_at == NOW - hours(1)
    assert rows[0].teams == [sla_a.team.name]


# Rejection reasons and sales outcomes
# ------------------------------------------------------------------------------


def test_rejection_reasons_count_share_and_the_latest_feedback(sla_a, ann):
    for i, text in enumerate(["first", "", "second", "third", "fourth"]):
        make_handoff(
            sla=sla_a, assigned_to=ann, created_at=BASE + hours(i),
            status="rejected", decided_after=hours(1), reason="no_budget",
            feedback=text, decided_by=ann,
        )  # fmt: skip
    make_handoff(
        sla=sla_a, assigned_to=ann, created_at=BASE, status="rejected",
        decided_after=hours(1), reason="bad_timing",
    )  # fmt: skip
    make_handoff(
        sla=sla_a, assigned_to=ann, created_at=NOW - dt.timedelta(days=40),
        status="rejected", decided_after=hours(1), reason="bad_timing",
    )  # fmt: skip

    rows = reports.rejection_reasons(scope=LAST_30_DAYS)

    assert [(r.code, r.count, r.share) for r in rows] == [
        ("no_budget", 5, 5 / 6),
        ("bad_timing", 1, 1 / 6),
    ]
    assert [(f.text, f.by) for f in rows[0].feedback] == [
        ("fourth", "Ann Lee"),
        ("third", "Ann Lee"),
        ("second", "Ann Lee"),
    ]
    assert rows[1].feedback == []


def test_sales_outcomes_count_moves_by_stage_and_reason(sla_a, ann):
    handoff = make_handoff(
        sla=sla_a, assigned_to=ann, created_at=BASE, status="accepted",
        decided_after=hours(1),
    )  # fmt: skip
    moves = [
        ("sal", "sql", None),
        ("sql", "opportunity", None),
        ("sal", "sql", None),
        ("sql", "nurture", "sales_lost_price"),
        ("sal", "nurture", "sales_lost_price"),
        ("sal", "disqualified", "sales_no_fit"),
    ]
    for i, (from_stage, to_stage, reason) in enumerate(moves):
        SalesOutcome.objects.create(
            lead=handoff.lead,
            handoff=handoff,
            from_stage=from_stage,
            to_stage=to_stage,
            reason=RejectionReason.objects.get(code=reason) if reason else None,
            at=BASE + hours(i),
        )
    SalesOutcome.objects.create(
        lead=handoff.lead, handoff=handoff, from_stage="sal", to_stage="sql",
        at=NOW + hours(1),
    )  # fmt: skip

    sales = reports.sales_outcomes(scope=LAST_30_DAYS)

    assert sales.total == 6
    assert [(s.code, s.count) for s in sales.stages] == [
        ("sql", 2),
        ("opportunity", 1),
        ("nurture", 2),
        ("disqualified", 1),
    ]
    assert [(r.code, r.count, r.share) for r in sales.reasons] == [
        ("sales_lost_price", 2, 2 / 3),
        ("sales_no_fit", 1, 1 / 3),
    ]


# Volume commitment
# ------------------------------------------------------------------------------


def test_monthly_and_weekly_pacing(ann):
    monthly = SlaFactory(name="Monthly", volume_commitment=20, volume_period="month")
    behind = SlaFactory(name="Behind", volume_commitment=20, volume_period="month")
    weekly = SlaFactory(name="Weekly", volume_commitment=14, volume_period="week")
    for i in range(10):
        first = make_handoff(
            sla=monthly, created_at=dt.datetime(2026, 4, 1, tzinfo=dt.UTC) + hours(i)
        )
    # Not delivered this month: a reassignment, March, and after now.
    make_handoff(sla=monthly, created_at=NOW - hours(1), sequence=2, previous=first)
    make_handoff(sla=monthly, created_at=dt.datetime(2026, 3, 31, 23, tzinfo=dt.UTC))
    make_handoff(sla=monthly, created_at=NOW + hours(1))
    for i in range(4):
        make_handoff(sla=behind, created_at=NOW - hours(i + 1))
    # Monday 13 April onwards counts; Sunday 12 April does not.
    for i in range(9):
        make_handoff(
            sla=weekly, created_at=dt.datetime(2026, 4, 13, tzinfo=dt.UTC) + hours(i)
        )
    make_handoff(sla=weekly, created_at=dt.datetime(2026, 4, 12, 23, tzinfo=dt.UTC))

    rows = {v.name: v for v in reports.volume_pacing(now=NOW)}

    assert set(rows) == {"Monthly", "Behind", "Weekly"}
    month = rows["Monthly"]
    assert (month.period, month.period_label) == ("month", "April 2026")
    assert (month.delivered, month.elapsed_share, month.expected) == (10, 0.5, 10.0)
    assert month.pace == "on_pace"
    assert (rows["Behind"].delivered, rows["Behind"].pace) == (4, "behind")
    week = rows["Weekly"]
    assert week.period_label == "the week of 13 Apr 2026"
    assert week.period_start == dt.datetime(2026, 4, 13, tzinfo=dt.UTC)
    assert week.elapsed_share == 3 / 7
    assert week.expected == pytest.approx(6.0)
    assert (week.delivered, week.pace) == (9, "ahead")


@pytest.mark.parametrize(
    ("delivered", "expected", "pace"),
    [
        (0, 0.0, "on_pace"),
        (1, 0.0, "ahead"),
        (89, 100.0, "behind"),
        (90, 100.0, "on_pace"),
        (110, 100.0, "on_pace"),
        (111, 100.0, "ahead"),
    ],
)
def test_pace_allows_ten_percent_either_way(delivered, expected, pace):
    assert reports.pace_of(delivered=delivered, expected=expected) == pace


def test_volume_period_bounds_of_a_week_and_a_month():
    sunday_night = dt.datetime(2026, 4, 19, 23, 59, tzinfo=dt.UTC)
    december = dt.datetime(2026, 12, 31, 12, tzinfo=dt.UTC)

    assert reports.volume_period_bounds("week", sunday_night) == (
        dt.datetime(2026, 4, 13, tzinfo=dt.UTC),
        dt.datetime(2026, 4, 20, tzinfo=dt.UTC),
    )
    assert reports.volume_period_bounds("month", december) == (
        dt.datetime(2026, 12, 1, tzinfo=dt.UTC),
        dt.datetime(2027, 1, 1, tzinfo=dt.UTC),
    )


# Period
# ------------------------------------------------------------------------------


def test_custom_period_covers_whole_utc_days(sla_a, ann):
    inside = make_handoff(
        sla=sla_a, created_at=dt.datetime(2026, 4, 10, 23, 59, tzinfo=dt.UTC)
    )
    make_handoff(sla=sla_a, created_at=dt.datetime(2026, 4, 11, tzinfo=dt.UTC))
    make_handoff(sla=sla_a, created_at=dt.datetime(2026, 4, 2, 23, 59, tzinfo=dt.UTC))

    scope = reports.report_scope(
        now=NOW,
        period="custom",
        date_from=dt.date(2026, 4, 3),
        date_to=dt.date(2026, 4, 10),
    )

    assert (scope.start, scope.end) == (
        dt.datetime(2026, 4, 3, tzinfo=dt.UTC),
        dt.datetime(2026, 4, 11, tzinfo=dt.UTC),
    )
    assert scope.label == "3 Apr 2026 \u2013 10 Apr 2026"
    assert list(_period_handoffs(scope).values_list("id", flat=True)) == [inside.id]


def test_services_and_report_agree_on_a_breach_and_its_reassignment(sla_a, ann, bob):
    """End to end: real services decide and expire; the report counts them."""
    monday_10 = dt.datetime(2026, 3, 2, 10, tzinfo=dt.UTC)
    leads = [LeadFactory() for _ in range(2)]
    for lead in leads:
        lifecycle.lead_move(
            lead_id=lead.id, to_stage=Stage.MQL, system_actor="scoring", now=monday_10
        )
    first = services.handoff_open(lead_id=leads[0].id, now=monday_10)
    second = services.handoff_open(lead_id=leads[1].id, now=monday_10)
    services.handoff_accept(
        handoff_id=first.id, actor=first.assigned_to, now=monday_10 + hours(1)
    )
    # 8 business hours from Monday 10:00 is Tuesday 10:00.
    services.escalation_run(now=dt.datetime(2026, 3, 3, 10, 1, tzinfo=dt.UTC))
    scope = ReportScope(
        start=dt.datetime(2026, 3, 1, tzinfo=dt.UTC),
        end=dt.datetime(2026, 3, 8, tzinfo=dt.UTC),
        now=dt.datetime(2026, 3, 3, 12, tzinfo=dt.UTC),
    )

    rows = {r.name: r.compliance for r in reports.compliance_by_sdr(scope=scope)}

    assert second.assigned_to == bob
    assert (rows["Ann Lee"].in_time, rows["Ann Lee"].breached) == (1, 0)
    # Bob let the second one expire and got no second chance; Ann has the
    # reassignment, open until Wednesday.
    assert (rows["Bob Kim"].breached, rows["Bob Kim"].assigned) == (1, 1)
    assert Handoff.objects.get(lead=leads[1], status="pending").assigned_to == ann
    assert (rows["Ann Lee"].open, rows["Ann Lee"].assigned) == (1, 2)


# The page
# ------------------------------------------------------------------------------

URL = "/reports/sla/"


@pytest.mark.parametrize("role", ["SDR", "Sales", "Marketing"])
def test_the_report_is_refused_to_roles_without_the_manager_flag(client, role):
    client.force_login(UserFactory(roles=[role]))

    response = client.get(URL)

    assert response.status_code == 403
    assert "The SLA report is for managers" in response.content.decode()


def test_the_report_sends_anonymous_visitors_to_log_in(client):
    response = client.get(URL)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("who", ["admin", "manager"])
def test_admins_and_flagged_managers_see_the_report(client, who, period):
    if who == "admin":
        user = UserFactory(roles=["Admin"])
    else:
        user = UserFactory(roles=["SDR"])
        SalesProfile.objects.create(user=user, is_manager=True)
    client.force_login(user)

    response = client.get(URL)

    assert response.status_code == 200
    report = response.context["report"]
    assert report.scope.label == "Last 30 days"
    content = response.content.decode()
    assert "Compliance per SDR" in content
    assert "How these are measured" in content


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        (
            "date_from=2026-02-30&date_to=2026-03-05",
            "date_from",
            "Enter a real date as YYYY-MM-DD",
        ),
        ("date_from=2026-03-05&date_to=2026-03-01", "date_to", "on or after"),
        ("date_from=2025-01-01&date_to=2026-01-02", "date_to", "at most 366 days"),
        ("date_from=2026-03-01", "date_to", "Choose the last day"),
        ("period=custom", "date_from", "Choose the first day"),
        ("date_from=2026-03-01&date_to=2999-01-01", "date_to", "cannot end after"),
        ("period=45", "period", "Select a valid choice"),
        ("sla=999999", "sla", "Select a valid choice"),
    ],
)
def test_a_bad_period_or_filter_is_a_400_with_the_form_error(
    admin_client_role, query, field, message
):
    response = admin_client_role.get(f"{URL}?{query}")

    assert response.status_code == 400
    assert response.context["report"] is None
    errors = response.context["form"].errors
    assert message in " ".join(errors[field])
    assert "could not be run with these filters" in response.content.decode()


def test_a_full_year_and_a_day_is_allowed(admin_client_role):
    response = admin_client_role.get(f"{URL}?date_from=2024-01-01&date_to=2024-12-31")

    assert response.status_code == 200
    assert response.context["report"].scope.days == 366


def test_dates_make_the_period_custom_even_with_a_preset(admin_client_role):
    response = admin_client_role.get(
        f"{URL}?period=7&date_from=2024-01-01&date_to=2024-01-31"
    )

    assert response.context["report"].scope.label == "1 Jan 2024 \u2013 31 Jan 2024"
    assert 'value="custom" selected' in response.content.decode()


def test_feedback_is_escaped_on_the_page(admin_client_role, sla_a, ann):
    make_handoff(
        sla=sla_a, assigned_to=ann, created_at=dt.datetime.now(dt.UTC) - hours(3),
        status="rejected", decided_after=hours(1), reason="other",
        feedback='<script>alert("x")</script> wrong person',
    )  # fmt: skip

    content = admin_client_role.get(URL).content.decode()

    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; wrong person" in content
    assert '<script>alert("x")' not in content


def test_the_page_states_the_pacing_in_words(admin_client_role, ann):
    sla = SlaFactory(name="Monthly", volume_commitment=120, volume_period="month")
    now = dt.datetime.now(dt.UTC)
    start, _ = reports.volume_period_bounds("month", now)
    for _ in range(3):
        make_handoff(sla=sla, created_at=start)

    content = admin_client_role.get(URL).content.decode()

    assert f"<strong>3</strong> of 120 MQLs so far in {start:%B %Y}," in content
    assert "% of the month elapsed → expected" in content


# Query budget
# ------------------------------------------------------------------------------


def _add_sdrs(sla, count: int, now: dt.datetime) -> None:
    for i in range(count):
        user = UserFactory(roles=["SDR"])
        TeamMemberFactory(team=sla.team, user=user)
        SalesProfile.objects.create(user=user, is_away=i % 2 == 0)
        make_handoff(
            sla=sla, assigned_to=user, created_at=now - hours(3), status="rejected",
            decided_after=hours(1), first_attempt_after=minutes(3),
            reason="no_budget", feedback="Frozen",
        )  # fmt: skip
        make_handoff(sla=sla, assigned_to=user, created_at=now - hours(2))


def test_the_report_costs_the_same_queries_for_2_or_12_sdrs(sla_a):
    sla_a.volume_commitment = 50
    sla_a.save()
    _add_sdrs(sla_a, 2, NOW)
    with CaptureQueriesContext(connection) as few:
        reports.sla_report(now=NOW)
    _add_sdrs(sla_a, 10, NOW)

    with CaptureQueriesContext(connection) as many:
        report = reports.sla_report(now=NOW)

    assert len(report.sdrs) == 12
    assert len(report.workload) == 12
    assert len(many) == len(few)
    # 9 selectors, 11 queries (workload and reasons take 2 each); SQLite adds
    # one for the medians per SDR and one for those per SLA.
    assert len(many) == (11 if connection.vendor == "postgresql" else 13)


def test_the_page_stays_within_its_query_budget(
    admin_client_role, sla_a, django_assert_max_num_queries
):
    _add_sdrs(sla_a, 12, dt.datetime.now(dt.UTC))

    # Session, user and the manager check (3), the report (11, 13 on SQLite),
    # the navigation's roles and permissions (4), the SLA and team choices (2).
    with django_assert_max_num_queries(23):
        response = admin_client_role.get(URL)

    assert response.status_code == 200


@pytest.fixture
def admin_client_role(client):
    client.force_login(UserFactory(username="boss", roles=["Admin"]))
    return client
