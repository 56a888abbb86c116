"""Read-only aggregations of the SLA report: compliance, speed to lead, volume.

Managers read this page to answer four questions: do SDRs decide MQLs within
the SLA, how fast is a lead touched, where does the work pile up, and does
marketing deliver the MQLs it committed to. Every function here is a
selector: it reads, never writes, takes the time as ``now=`` (so a test can
fix it) and returns plain dataclasses the template shows as they are.

Definitions (the page repeats them under "How these are measured"):

- A handoff belongs to the report period by ``created_at`` (its assignment),
  in UTC. Filters by SLA and by team use the handoff's own ``sla`` and
  ``team``; a reassigned lead (``sequence`` > 1) counts once per handoff,
  each for its own assignee.
- *In time*: accepted or rejected with ``decided_at <= due_at``.
  *Breached*: expired, decided after ``due_at``, or still pending with
  ``due_at <= now``. *Open*: pending and not yet due; excluded from the
  compliance share = in time / (in time + breached).
- Speed to lead, in wall-clock time: assignment = ``created_at - mql_at``
  (first handoffs only: a reassignment keeps the original ``mql_at``); first
  touch = ``first_attempt_at - created_at``; decision = ``decided_at -
  created_at``. Percentiles are PostgreSQL's ``percentile_cont`` (linear
  interpolation between the closest ranks); SQLite gets the same arithmetic
  in Python.
- Volume commitment: handoffs with ``sequence = 1`` (distinct MQLs handed
  off, not reassignments) created in the SLA's current week (Monday 00:00
  UTC) or calendar month, up to ``now``; pacing compares them with the
  commitment times the elapsed share of the period.

Query budget: each selector runs one query (two on SQLite where
percentiles are computed in Python), whatever the number of SDRs, SLAs or
reasons, so the page costs a fixed number of queries
(``tests/handoff/test_reports.py`` asserts it).
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import pairwise
from typing import Any

from django.db import connection
from django.db.models import (
    Aggregate,
    Count,
    F,
    FilteredRelation,
    FloatField,
    Min,
    Q,
    QuerySet,
    Window,
)
from django.db.models.functions import RowNumber, TruncDate, TruncWeek
from django.utils import timezone

from handoff.models import (
    Handoff,
    SalesOutcome,
    ServiceLevelAgreement,
    Team,
    TeamMember,
)
from leads.models import Stage

Status = Handoff.Status
DECIDED = (Status.ACCEPTED, Status.REJECTED)

#: Presets of the period filter, in days, and the one shown when none is chosen.
PERIOD_DAYS = (7, 30, 90)
DEFAULT_PERIOD_DAYS = 30
#: The longest custom period: a year, leap day included. Keeps the SQLite
#: percentile path (which fetches one row per handoff) bounded.
MAX_PERIOD_DAYS = 366
#: Speed-to-lead bands in minutes: [0, 5), [5, 15), [15, 60), 60 and more.
BAND_EDGES_MINUTES = (5, 15, 60)
# En dashes as "\u2013" (ruff RUF001 flags the literal character).
BAND_LABELS = ("0\u20135 min", "5\u201315 min", "15\u201360 min", "60+ min")
#: Latest feedback texts shown under each rejection reason.
FEEDBACK_SNIPPETS = 3
#: Pacing within this share of the expected volume is "on pace".
PACE_TOLERANCE = 0.10
#: Compliance colour bands: at or above GOOD is green, below WARN is red.
#: 90% is the usual first SLA target between marketing and sales teams.
COMPLIANCE_GOOD = 0.90
COMPLIANCE_WARN = 0.75
#: Up to this many days the trend chart has a column per day, beyond it per week.
TREND_DAILY_MAX_DAYS = 62
#: The trend chart's drawing area in SVG units (as the lead page's score chart).
CHART_WIDTH, CHART_HEIGHT, CHART_PAD = 640, 180, 24


# Period and scope
# ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportScope:
    """Which handoffs a report covers: assigned in [start, end), as of ``now``."""

    start: dt.datetime
    end: dt.datetime
    now: dt.datetime
    label: str = ""
    sla_id: int | None = None
    team_id: int | None = None

    @property
    def days(self) -> float:
        return (self.end - self.start).total_seconds() / 86400


def report_scope(
    *,
    now: dt.datetime,
    period: str = str(DEFAULT_PERIOD_DAYS),
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    sla_id: int | None = None,
    team_id: int | None = None,
) -> ReportScope:
    """The scope of a preset (the last N days up to ``now``) or of whole UTC days.

    ``period`` is a preset's number of days as a string, or ``custom``: then
    ``date_from`` and ``date_to`` are both required and inclusive, and the
    scope runs from ``date_from`` 00:00 UTC to the day after ``date_to``.
    The caller (the view's form) has validated the dates.
    """
    if period == "custom":
        if date_from is None or date_to is None:
            raise ValueError("A custom period needs date_from and date_to.")
        start = dt.datetime.combine(date_from, dt.time.min, dt.UTC)
        end = dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time.min, dt.UTC)
        label = f"{_day(date_from)} \u2013 {_day(date_to)}"
    else:
        days = int(period)
        start, end = now - dt.timedelta(days=days), now
        label = f"Last {days} days"
    return ReportScope(
        start=start, end=end, now=now, label=label, sla_id=sla_id, team_id=team_id
    )


def _day(day: dt.date) -> str:
    return f"{day.day} {day:%b %Y}"


def _period_handoffs(scope: ReportScope) -> QuerySet[Handoff]:
    # handoff_created_idx serves the range; the filters below narrow it.
    qs = Handoff.objects.filter(created_at__gte=scope.start, created_at__lt=scope.end)
    if scope.sla_id:
        qs = qs.filter(sla_id=scope.sla_id)
    if scope.team_id:
        qs = qs.filter(team_id=scope.team_id)
    return qs.order_by()


# Outcome classification
# ------------------------------------------------------------------------------


def _in_time() -> Q:
    return Q(status__in=DECIDED, decided_at__lte=F("due_at"))


def _breached(now: dt.datetime) -> Q:
    return (
        Q(status=Status.EXPIRED)
        | Q(status__in=DECIDED, decided_at__gt=F("due_at"))
        | Q(status=Status.PENDING, due_at__lte=now)
    )


def _open(now: dt.datetime) -> Q:
    return Q(status=Status.PENDING, due_at__gt=now)


def _compliance_aggregates(now: dt.datetime) -> dict[str, Aggregate]:
    return {
        "assigned": Count("id"),
        "in_time": Count("id", filter=_in_time()),
        "breached": Count("id", filter=_breached(now)),
        "open": Count("id", filter=_open(now)),
        "pending": Count("id", filter=Q(status=Status.PENDING)),
        "accepted": Count("id", filter=Q(status=Status.ACCEPTED)),
        "rejected": Count("id", filter=Q(status=Status.REJECTED)),
        "expired": Count("id", filter=Q(status=Status.EXPIRED)),
        "late": Count("id", filter=Q(status__in=DECIDED, decided_at__gt=F("due_at"))),
        "overdue": Count("id", filter=Q(status=Status.PENDING, due_at__lte=now)),
    }


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _compliance_level(share: float | None) -> str:
    if share is None:
        return "none"
    if share >= COMPLIANCE_GOOD:
        return "good"
    return "warn" if share >= COMPLIANCE_WARN else "bad"


@dataclass(frozen=True)
class Duration:
    """A wall-clock span in seconds, written the short way people read it."""

    seconds: float

    @property
    def minutes(self) -> float:
        return self.seconds / 60

    def __str__(self) -> str:
        # Round first, then pick the unit, so 9.97 min reads "10 min", not "10.0".
        if abs(round(self.seconds)) < 60:
            return f"{self.seconds:.0f} s"
        minutes = self.seconds / 60
        if abs(round(minutes, 1)) < 10:
            return f"{minutes:.1f} min"
        if abs(round(minutes)) < 90:
            return f"{minutes:.0f} min"
        hours = minutes / 60
        if abs(round(hours, 1)) < 48:
            return f"{hours:.1f} h"
        return f"{hours / 24:.1f} d"


def _duration(seconds: float | None) -> Duration | None:
    return None if seconds is None else Duration(float(seconds))


@dataclass(frozen=True)
class Compliance:
    """Counts of one group of handoffs (the period, an SDR, an SLA)."""

    assigned: int = 0
    in_time: int = 0
    breached: int = 0
    open: int = 0
    pending: int = 0
    accepted: int = 0
    rejected: int = 0
    expired: int = 0
    # The breaches other than expiries: decided late, or pending past due.
    late: int = 0
    overdue: int = 0

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Compliance:
        return cls(**{name: row[name] or 0 for name in cls.__dataclass_fields__})

    @property
    def judged(self) -> int:
        """Handoffs the compliance share counts (in time + breached)."""
        return self.in_time + self.breached

    @property
    def share(self) -> float | None:
        """In time / (in time + breached); None when nothing was due yet."""
        return _share(self.in_time, self.judged)

    @property
    def percent(self) -> float | None:
        return None if self.share is None else 100 * self.share

    @property
    def level(self) -> str:
        return _compliance_level(self.share)

    @property
    def decided(self) -> int:
        return self.accepted + self.rejected

    @property
    def acceptance_rate(self) -> float | None:
        """Accepted / (accepted + rejected)."""
        return _share(self.accepted, self.decided)

    @property
    def acceptance_percent(self) -> float | None:
        rate = self.acceptance_rate
        return None if rate is None else 100 * rate


# Percentiles
# ------------------------------------------------------------------------------

#: The three speed-to-lead measures: (start field, end field, which handoffs).
MEASURES: dict[str, tuple[str, str, Q, str]] = {
    "assignment": ("mql_at", "created_at", Q(sequence=1), "MQL to assignment"),
    "first_touch": (
        "created_at",
        "first_attempt_at",
        Q(first_attempt_at__isnull=False),
        "Assignment to first touch",
    ),
    "decision": (
        "created_at",
        "decided_at",
        Q(decided_at__isnull=False),
        "Assignment to decision",
    ),
}


class PercentileSeconds(Aggregate):
    """PostgreSQL's ``percentile_cont`` over a span between two timestamps, in seconds.

    An ordered-set aggregate: NULL spans are ignored, and a ``filter=`` becomes
    ``FILTER (WHERE ...)`` after the ``WITHIN GROUP`` clause, which is where
    PostgreSQL wants it.
    """

    function = "percentile_cont"
    name = "PercentileSeconds"
    template = (
        "%(function)s(%(fraction)s) WITHIN GROUP "
        "(ORDER BY EXTRACT(EPOCH FROM %(expressions)s)::double precision)"
    )
    output_field = FloatField()

    def __init__(self, span: Any, *, fraction: float, **extra: Any) -> None:
        if not 0 <= fraction <= 1:
            raise ValueError(f"fraction must lie in [0, 1], got {fraction!r}.")
        # A literal built from a float, never from input: safe to inline.
        super().__init__(span, fraction=repr(float(fraction)), **extra)


def _span(measure: str) -> Any:
    start, end, _, _ = MEASURES[measure]
    return F(end) - F(start)


def percentile_cont(values: Sequence[float], fraction: float) -> float | None:
    """PostgreSQL's ``percentile_cont`` in Python (None for no values).

    The value at rank ``fraction * (n - 1)``, interpolated linearly between
    the two closest ranks with PostgreSQL's ``lo + (hi - lo) * fraction``, so
    both databases give the same float.
    """
    if not values:
        return None
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    lower = math.floor(position)
    low, high = ordered[lower], ordered[math.ceil(position)]
    return low + (high - low) * (position - lower)


def _percentiles_in_database() -> bool:
    return connection.vendor == "postgresql"


def _percentile_aggregates(
    measures: Iterable[str], fractions: Iterable[float]
) -> dict[str, Aggregate]:
    """``<measure>_p<NN>`` aggregates for PostgreSQL; nothing elsewhere."""
    if not _percentiles_in_database():
        return {}
    result = {}
    for measure in measures:
        where = MEASURES[measure][2]
        for fraction in fractions:
            result[f"{measure}_p{round(fraction * 100)}"] = PercentileSeconds(
                _span(measure), fraction=fraction, filter=where
            )
    return result


def _python_spans(
    qs: QuerySet[Handoff], *, group_by: str | None, measures: Sequence[str]
) -> dict[Any, dict[str, list[dt.timedelta]]]:
    """Each measure's spans per group, from one row per handoff (one query).

    SQLite has no percentile aggregate, and its date arithmetic runs as a
    Python function per row anyway, so there the spans come to Python. The
    rows are bounded by MAX_PERIOD_DAYS of handoffs.
    """
    fields = sorted({f for m in measures for f in MEASURES[m][:2]})
    columns = [group_by or "id", "sequence", *fields]
    spans: dict[Any, dict[str, list[dt.timedelta]]] = defaultdict(
        lambda: defaultdict(list)
    )
    for row in qs.values_list(*columns):
        key = row[0] if group_by else None
        values = dict(zip(columns[2:], row[2:], strict=True))
        for measure in measures:
            start_field, end_field, _, _ = MEASURES[measure]
            # The same handoffs as MEASURES' filters: first handoffs for the
            # assignment, and only spans whose end has happened.
            if measure == "assignment" and row[1] != 1:
                continue
            if values[start_field] is None or values[end_field] is None:
                continue
            spans[key][measure].append(values[end_field] - values[start_field])
    return spans


def _python_percentiles(
    qs: QuerySet[Handoff],
    *,
    group_by: str | None,
    measures: Sequence[str],
    fractions: Sequence[float],
) -> dict[Any, dict[str, float | None]]:
    """The ``<measure>_p<NN>`` values PostgreSQL computes, from ``_python_spans``."""
    spans = _python_spans(qs, group_by=group_by, measures=measures)
    return {
        key: _percentiles_of(by_measure, measures, fractions)
        for key, by_measure in spans.items()
    }


def _percentiles_of(
    by_measure: dict[str, list[dt.timedelta]],
    measures: Sequence[str],
    fractions: Sequence[float],
) -> dict[str, float | None]:
    result = {}
    for measure in measures:
        seconds = [span.total_seconds() for span in by_measure.get(measure, [])]
        for fraction in fractions:
            result[f"{measure}_p{round(fraction * 100)}"] = percentile_cont(
                seconds, fraction
            )
    return result


def _with_percentiles(
    rows: list[dict[str, Any]],
    qs: QuerySet[Handoff],
    *,
    group_by: str | None,
    measures: Sequence[str],
    fractions: Sequence[float],
) -> list[dict[str, Any]]:
    """Add the percentile keys to grouped rows (already there on PostgreSQL)."""
    if _percentiles_in_database():
        return rows
    computed = _python_percentiles(
        qs, group_by=group_by, measures=measures, fractions=fractions
    )
    empty = {f"{m}_p{round(f * 100)}": None for m in measures for f in fractions}
    for row in rows:
        key = row[group_by] if group_by else None
        row.update(computed.get(key, empty))
    return rows


# Compliance: the period, per SDR, per SLA
# ------------------------------------------------------------------------------


def _person_name(first: str | None, last: str | None, username: str | None) -> str:
    full = f"{first or ''} {last or ''}".strip()
    return full or username or "Unassigned"


@dataclass(frozen=True)
class SdrRow:
    user_id: int | None
    name: str
    compliance: Compliance
    median_first_touch: Duration | None
    median_decision: Duration | None


@dataclass(frozen=True)
class SlaRow:
    sla_id: int
    name: str
    target_hours: Decimal
    compliance: Compliance
    median_first_touch: Duration | None
    median_decision: Duration | None


def compliance_totals(*, scope: ReportScope) -> Compliance:
    """The period's counts (one query)."""
    row = _period_handoffs(scope).aggregate(**_compliance_aggregates(scope.now))
    return Compliance.from_row(row)


def compliance_by_sdr(*, scope: ReportScope) -> list[SdrRow]:
    """One row per assignee (and one for unassigned handoffs), by name.

    Each handoff counts for the person it was assigned to, so a lead that
    breached with one SDR and was reassigned counts once for each of them.
    One query on PostgreSQL (medians by ``percentile_cont``), two on SQLite.
    """
    qs = _period_handoffs(scope)
    measures = ("first_touch", "decision")
    rows = list(
        qs.values(
            "assigned_to",
            "assigned_to__username",
            "assigned_to__first_name",
            "assigned_to__last_name",
        ).annotate(
            **_compliance_aggregates(scope.now),
            **_percentile_aggregates(measures, (0.5,)),
        )
    )
    rows = _with_percentiles(
        rows, qs, group_by="assigned_to", measures=measures, fractions=(0.5,)
    )
    result = [
        SdrRow(
            user_id=row["assigned_to"],
            name=_person_name(
                row["assigned_to__first_name"],
                row["assigned_to__last_name"],
                row["assigned_to__username"],
            ),
            compliance=Compliance.from_row(row),
            median_first_touch=_duration(row["first_touch_p50"]),
            median_decision=_duration(row["decision_p50"]),
        )
        for row in rows
    ]
    # Unassigned last, the people by name.
    return sorted(result, key=lambda r: (r.user_id is None, r.name.lower()))


def compliance_by_sla(*, scope: ReportScope) -> list[SlaRow]:
    """One row per SLA with handoffs in the scope, in SLA priority order."""
    qs = _period_handoffs(scope)
    measures = ("first_touch", "decision")
    rows = list(
        qs.values(
            "sla", "sla__name", "sla__accept_within_hours", "sla__priority"
        ).annotate(
            **_compliance_aggregates(scope.now),
            **_percentile_aggregates(measures, (0.5,)),
        )
    )
    rows = _with_percentiles(
        rows, qs, group_by="sla", measures=measures, fractions=(0.5,)
    )
    rows.sort(key=lambda r: (r["sla__priority"], r["sla"]))
    return [
        SlaRow(
            sla_id=row["sla"],
            name=row["sla__name"],
            target_hours=row["sla__accept_within_hours"],
            compliance=Compliance.from_row(row),
            median_first_touch=_duration(row["first_touch_p50"]),
            median_decision=_duration(row["decision_p50"]),
        )
        for row in rows
    ]


# Speed to lead
# ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Band:
    label: str
    count: int
    share: float | None
    # The band's segment of the distribution bar, in percent of its width.
    x: float = 0.0
    width: float = 0.0

    @property
    def percent(self) -> float | None:
        return None if self.share is None else 100 * self.share


@dataclass(frozen=True)
class SpeedMeasure:
    key: str
    label: str
    measured: int
    p50: Duration | None
    p95: Duration | None
    bands: list[Band]


def _band_filters(measure: str) -> list[Q]:
    """One Q per band: the span compared through ``end < start + edge``."""
    start, end, where, _ = MEASURES[measure]
    edges = [F(start) + dt.timedelta(minutes=m) for m in BAND_EDGES_MINUTES]
    # A span below zero (an attempt logged with an earlier time) counts as 0-5.
    bounds = [None, *edges, None]
    filters = []
    for low, high in pairwise(bounds):
        q = where & Q(**{f"{end}__isnull": False})
        if low is not None:
            q &= Q(**{f"{end}__gte": low})
        if high is not None:
            q &= Q(**{f"{end}__lt": high})
        filters.append(q)
    return filters


def speed_to_lead(*, scope: ReportScope) -> list[SpeedMeasure]:
    """p50, p95 and the band counts of the three measures (one query).

    PostgreSQL counts the bands and computes the percentiles in one
    aggregate; SQLite fetches the spans (``_python_spans``) and Python does
    the same arithmetic, which there beats a date function per row and band.
    """
    qs = _period_handoffs(scope)
    measures = tuple(MEASURES)
    fractions = (0.5, 0.95)
    if _percentiles_in_database():
        aggregates: dict[str, Aggregate] = {}
        for measure in measures:
            aggregates[f"{measure}_measured"] = Count("id", filter=MEASURES[measure][2])
            for i, band_filter in enumerate(_band_filters(measure)):
                aggregates[f"{measure}_band{i}"] = Count("id", filter=band_filter)
        aggregates.update(_percentile_aggregates(measures, fractions))
        row = qs.aggregate(**aggregates)
    else:
        spans = _python_spans(qs, group_by=None, measures=measures).get(None, {})
        row = _percentiles_of(spans, measures, fractions)
        edges = [dt.timedelta(minutes=m) for m in BAND_EDGES_MINUTES]
        for measure in measures:
            values = spans.get(measure, [])
            row[f"{measure}_measured"] = len(values)
            for i in range(len(BAND_LABELS)):
                low = edges[i - 1] if i else None
                high = edges[i] if i < len(edges) else None
                row[f"{measure}_band{i}"] = sum(
                    1
                    for span in values
                    if (low is None or span >= low) and (high is None or span < high)
                )
    result = []
    for measure in measures:
        counts = [row[f"{measure}_band{i}"] for i in range(len(BAND_LABELS))]
        total = sum(counts)
        bands, x = [], 0.0
        for label, count in zip(BAND_LABELS, counts, strict=True):
            share = _share(count, total)
            width = round(100 * (share or 0), 2)
            bands.append(
                Band(label=label, count=count, share=share, x=round(x, 2), width=width)
            )
            x += width
        result.append(
            SpeedMeasure(
                key=measure,
                label=MEASURES[measure][3],
                measured=row[f"{measure}_measured"],
                p50=_duration(row[f"{measure}_p50"]),
                p95=_duration(row[f"{measure}_p95"]),
                bands=bands,
            )
        )
    return result


# Trend
# ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrendColumn:
    day: dt.date
    in_time: int
    breached: int
    open: int
    share: float | None
    x: float
    width: float
    # y and height of the stacked segments, bottom up: in time, breached, open.
    segments: list[dict[str, Any]]


@dataclass(frozen=True)
class TrendChart:
    per: str  # "day" or "week"
    columns: list[TrendColumn]
    max_total: int
    baseline_y: float


def compliance_trend(*, scope: ReportScope) -> TrendChart | None:
    """In time, breached and open handoffs per day (per week beyond 62 days).

    One query; the columns are SVG coordinates for a stacked column chart.
    Days without handoffs get empty columns. None when nothing was assigned.
    """
    per = "day" if scope.days <= TREND_DAILY_MAX_DAYS else "week"
    trunc = (
        TruncDate("created_at", tzinfo=dt.UTC)
        if per == "day"
        else TruncWeek("created_at", tzinfo=dt.UTC)
    )
    now = scope.now
    rows = (
        _period_handoffs(scope)
        .annotate(bucket=trunc)
        .values("bucket")
        .annotate(
            in_time=Count("id", filter=_in_time()),
            breached=Count("id", filter=_breached(now)),
            open=Count("id", filter=_open(now)),
        )
    )
    counts = {}
    for row in rows:
        bucket = row["bucket"]
        day = bucket.date() if isinstance(bucket, dt.datetime) else bucket
        counts[day] = row
    if not counts:
        return None
    first = scope.start.astimezone(dt.UTC).date()
    last = (scope.end - dt.timedelta(microseconds=1)).astimezone(dt.UTC).date()
    step = dt.timedelta(days=1 if per == "day" else 7)
    if per == "week":
        first -= dt.timedelta(days=first.weekday())
    days = []
    day = first
    while day <= last:
        days.append(day)
        day += step
    max_total = max(
        (r["in_time"] + r["breached"] + r["open"] for r in counts.values()), default=0
    )
    scale = max(max_total, 1)
    usable_w = CHART_WIDTH - 2 * CHART_PAD
    usable_h = CHART_HEIGHT - 2 * CHART_PAD
    slot = usable_w / len(days)
    width = round(max(slot * 0.72, 1.0), 2)
    baseline = CHART_HEIGHT - CHART_PAD
    columns = []
    for i, day in enumerate(days):
        row = counts.get(day, {"in_time": 0, "breached": 0, "open": 0})
        y = float(baseline)
        segments = []
        for kind in ("in_time", "breached", "open"):
            height = usable_h * row[kind] / scale
            if row[kind]:
                segments.append(
                    {
                        "kind": kind,
                        "count": row[kind],
                        "y": round(y - height, 2),
                        "height": round(height, 2),
                    }
                )
            y -= height
        columns.append(
            TrendColumn(
                day=day,
                in_time=row["in_time"],
                breached=row["breached"],
                open=row["open"],
                share=_share(row["in_time"], row["in_time"] + row["breached"]),
                x=round(CHART_PAD + slot * i + (slot - width) / 2, 2),
                width=width,
                segments=segments,
            )
        )
    return TrendChart(
        per=per, columns=columns, max_total=max_total, baseline_y=float(baseline)
    )


# Workload now
# ------------------------------------------------------------------------------


@dataclass
class WorkloadRow:
    user_id: int | None
    name: str
    teams: list[str] = field(default_factory=list)
    pending: int = 0
    at_risk: int = 0
    overdue: int = 0
    oldest_due_at: dt.datetime | None = None
    away: bool = False
    away_until: dt.date | None = None


def workload_list(
    *, now: dt.datetime, sla_id: int | None = None, team_id: int | None = None
) -> list[WorkloadRow]:
    """Pending handoffs per person right now, with every active team member.

    Not bound to the report period: it is the queue as it stands. At risk =
    past ``at_risk_at`` but not yet due; overdue = ``due_at <= now``. Members
    of the filtered team (or of the filtered SLA's team, or of every team)
    are listed even with nothing pending, so an idle or away SDR shows.
    Two queries. Sorted by overdue, then pending, most first.
    """
    pending = Handoff.objects.filter(status=Status.PENDING)
    members = TeamMember.objects.filter(is_active=True, user__is_active=True)
    if sla_id:
        pending = pending.filter(sla_id=sla_id)
        members = members.filter(team__slas__id=sla_id)
    if team_id:
        pending = pending.filter(team_id=team_id)
        members = members.filter(team_id=team_id)
    rows: dict[int | None, WorkloadRow] = {}
    for member in members.select_related("team", "user__sales_profile").order_by(
        "team__name", "id"
    ):
        user = member.user
        row = rows.get(user.id)
        if row is None:
            profile = getattr(user, "sales_profile", None)
            row = rows[user.id] = WorkloadRow(
                user_id=user.id,
                name=_person_name(user.first_name, user.last_name, user.username),
                away=bool(profile and profile.away_on(now.astimezone(dt.UTC).date())),
                away_until=profile.away_until if profile else None,
            )
        row.teams.append(member.team.name)
    # handoff_queue_idx (status, assigned_to, due_at) serves this grouping.
    counts = (
        pending.order_by()
        .values(
            "assigned_to",
            "assigned_to__username",
            "assigned_to__first_name",
            "assigned_to__last_name",
        )
        .annotate(
            pending=Count("id"),
            at_risk=Count("id", filter=Q(at_risk_at__lte=now, due_at__gt=now)),
            overdue=Count("id", filter=Q(due_at__lte=now)),
            oldest_due_at=Min("due_at"),
        )
    )
    for count in counts:
        user_id = count["assigned_to"]
        row = rows.get(user_id)
        if row is None:
            row = rows[user_id] = WorkloadRow(
                user_id=user_id,
                name=_person_name(
                    count["assigned_to__first_name"],
                    count["assigned_to__last_name"],
                    count["assigned_to__username"],
                ),
            )
        row.pending = count["pending"]
        row.at_risk = count["at_risk"]
        row.overdue = count["overdue"]
        row.oldest_due_at = count["oldest_due_at"]
    return sorted(
        rows.values(),
        key=lambda r: (-r.overdue, -r.pending, r.user_id is None, r.name.lower()),
    )


# Rejection reasons and sales outcomes
# ------------------------------------------------------------------------------


@dataclass(frozen=True)
class FeedbackSnippet:
    text: str
    at: dt.datetime | None
    by: str


@dataclass(frozen=True)
class ReasonRow:
    reason_id: int
    code: str
    label: str
    action: str
    count: int
    share: float
    feedback: list[FeedbackSnippet]

    @property
    def percent(self) -> float:
        return 100 * self.share


def rejection_reasons(*, scope: ReportScope) -> list[ReasonRow]:
    """SDR rejections in the scope per reason, most frequent first.

    Each row carries the latest FEEDBACK_SNIPPETS non-empty feedback texts
    (user text: the template escapes it). Two queries; the snippets come from
    one window query however many reasons there are.
    """
    rejected = _period_handoffs(scope).filter(status=Status.REJECTED)
    counts = list(
        rejected.values("reason", "reason__code", "reason__label", "reason__action")
        .annotate(n=Count("id"))
        .order_by("-n", "reason__label")
    )
    total = sum(row["n"] for row in counts)
    snippets: dict[int, list[FeedbackSnippet]] = defaultdict(list)
    if counts:
        latest = (
            rejected.exclude(feedback="")
            .annotate(
                rank=Window(
                    RowNumber(),
                    partition_by=[F("reason_id")],
                    order_by=[F("decided_at").desc(), F("id").desc()],
                )
            )
            .filter(rank__lte=FEEDBACK_SNIPPETS)
            .order_by("reason_id", "rank")
            .values(
                "reason_id",
                "feedback",
                "decided_at",
                "decided_by__username",
                "decided_by__first_name",
                "decided_by__last_name",
            )
        )
        for row in latest:
            snippets[row["reason_id"]].append(
                FeedbackSnippet(
                    text=row["feedback"],
                    at=row["decided_at"],
                    by=_person_name(
                        row["decided_by__first_name"],
                        row["decided_by__last_name"],
                        row["decided_by__username"],
                    ),
                )
            )
    return [
        ReasonRow(
            reason_id=row["reason"],
            code=row["reason__code"],
            label=row["reason__label"],
            action=row["reason__action"],
            count=row["n"],
            share=row["n"] / total,
            feedback=snippets.get(row["reason"], []),
        )
        for row in counts
    ]


#: Sales moves forward in the funnel, in funnel order; the rest are steps back.
SALES_FORWARD_STAGES = (Stage.SQL, Stage.OPPORTUNITY, Stage.CUSTOMER)


@dataclass(frozen=True)
class CountRow:
    code: str
    label: str
    count: int
    share: float

    @property
    def percent(self) -> float:
        return 100 * self.share


@dataclass(frozen=True)
class SalesOutcomes:
    total: int
    stages: list[CountRow]
    reasons: list[CountRow]


def sales_outcomes(*, scope: ReportScope) -> SalesOutcomes:
    """Sales reps' moves made in the period (by ``at``), by stage and by reason.

    The SLA and team filters apply through the move's handoff. One query.
    """
    qs = SalesOutcome.objects.filter(at__gte=scope.start, at__lt=scope.end)
    if scope.sla_id:
        qs = qs.filter(handoff__sla_id=scope.sla_id)
    if scope.team_id:
        qs = qs.filter(handoff__team_id=scope.team_id)
    rows = list(
        qs.order_by()
        .values("to_stage", "reason__code", "reason__label")
        .annotate(n=Count("id"))
    )
    total = sum(r["n"] for r in rows)
    by_stage: dict[str, int] = defaultdict(int)
    by_reason: dict[tuple[str, str], int] = defaultdict(int)
    for row in rows:
        by_stage[row["to_stage"]] += row["n"]
        if row["reason__code"]:
            by_reason[(row["reason__code"], row["reason__label"])] += row["n"]
    order = [*SALES_FORWARD_STAGES, Stage.NURTURE, Stage.DISQUALIFIED]
    stage_codes = [s for s in order if s in by_stage] + sorted(
        s for s in by_stage if s not in order
    )
    labels = dict(Stage.choices)
    stages = [
        CountRow(
            code=code,
            label=str(labels.get(code, code)),
            count=by_stage[code],
            share=by_stage[code] / total,
        )
        for code in stage_codes
    ]
    reason_total = sum(by_reason.values())
    reasons = [
        CountRow(code=code, label=label, count=n, share=n / reason_total)
        for (code, label), n in sorted(
            by_reason.items(), key=lambda item: (-item[1], item[0][1])
        )
    ]
    return SalesOutcomes(total=total, stages=stages, reasons=reasons)


# Volume commitment and pacing
# ------------------------------------------------------------------------------


def volume_period_bounds(
    period: str, now: dt.datetime
) -> tuple[dt.datetime, dt.datetime]:
    """The UTC week (from Monday 00:00) or calendar month that contains ``now``."""
    today = now.astimezone(dt.UTC).date()
    if period == ServiceLevelAgreement.Period.WEEK:
        monday = today - dt.timedelta(days=today.weekday())
        start = dt.datetime.combine(monday, dt.time.min, dt.UTC)
        return start, start + dt.timedelta(days=7)
    first = today.replace(day=1)
    following = (first + dt.timedelta(days=32)).replace(day=1)
    return (
        dt.datetime.combine(first, dt.time.min, dt.UTC),
        dt.datetime.combine(following, dt.time.min, dt.UTC),
    )


@dataclass(frozen=True)
class VolumePace:
    sla_id: int
    name: str
    period: str
    period_label: str
    period_start: dt.datetime
    period_end: dt.datetime
    commitment: int
    delivered: int
    elapsed_share: float
    expected: float
    pace: str  # "ahead", "on_pace" or "behind"

    @property
    def pace_label(self) -> str:
        return {"ahead": "ahead", "on_pace": "on pace", "behind": "behind"}[self.pace]

    @property
    def elapsed_percent(self) -> float:
        return 100 * self.elapsed_share

    @property
    def expected_rounded(self) -> int:
        return round(self.expected)

    @property
    def delivered_percent(self) -> float:
        """Delivered as a share of the commitment (may pass 100)."""
        return 100 * self.delivered / self.commitment

    # The bullet bar: its scale is the commitment or the delivery, if more.
    @property
    def _scale(self) -> int:
        return max(self.commitment, self.delivered, 1)

    @property
    def bar_delivered(self) -> float:
        return round(100 * self.delivered / self._scale, 2)

    @property
    def bar_commitment(self) -> float:
        return round(100 * self.commitment / self._scale, 2)

    @property
    def bar_expected(self) -> float:
        return round(100 * self.expected / self._scale, 2)


def pace_of(*, delivered: int, expected: float) -> str:
    """Ahead or behind by more than PACE_TOLERANCE of the expected, else on pace."""
    if expected <= 0:
        return "ahead" if delivered > 0 else "on_pace"
    ratio = delivered / expected
    if ratio < 1 - PACE_TOLERANCE:
        return "behind"
    if ratio > 1 + PACE_TOLERANCE:
        return "ahead"
    return "on_pace"


def volume_pacing(
    *, now: dt.datetime, sla_id: int | None = None, team_id: int | None = None
) -> list[VolumePace]:
    """Each active SLA with a commitment: MQLs delivered so far this period.

    Delivered = handoffs with ``sequence = 1`` (an MQL's first handoff, so a
    reassignment is not a second delivery) created from the period's start up
    to ``now``. Expected = commitment x elapsed share of the period. Not bound
    to the report period: the commitment's own week or month applies. With a
    team filter, the SLAs of that team. One query for every SLA.
    """
    week = volume_period_bounds(ServiceLevelAgreement.Period.WEEK, now)
    month = volume_period_bounds(ServiceLevelAgreement.Period.MONTH, now)

    # The join keeps only first handoffs since the earlier of the two period
    # starts, so handoff_created_idx bounds the rows read, not the SLAs' history.
    since = min(week[0], month[0])
    recent = FilteredRelation(
        "handoffs",
        condition=Q(
            handoffs__sequence=1,
            handoffs__created_at__gte=since,
            handoffs__created_at__lt=now,
        ),
    )

    def delivered_in(bounds: tuple[dt.datetime, dt.datetime]) -> Count:
        return Count("recent", filter=Q(recent__created_at__gte=bounds[0]))

    slas = ServiceLevelAgreement.objects.filter(is_active=True, volume_commitment__gt=0)
    if sla_id:
        slas = slas.filter(id=sla_id)
    if team_id:
        slas = slas.filter(team_id=team_id)
    slas = (
        slas.annotate(recent=recent)
        .annotate(
            week_delivered=delivered_in(week), month_delivered=delivered_in(month)
        )
        .order_by("priority", "id")
    )
    result = []
    for sla in slas:
        is_week = sla.volume_period == ServiceLevelAgreement.Period.WEEK
        start, end = week if is_week else month
        delivered = sla.week_delivered if is_week else sla.month_delivered
        elapsed = min(max((now - start) / (end - start), 0.0), 1.0)
        expected = sla.volume_commitment * elapsed
        result.append(
            VolumePace(
                sla_id=sla.id,
                name=sla.name,
                period="week" if is_week else "month",
                period_label=(
                    f"the week of {_day(start.date())}" if is_week else f"{start:%B %Y}"
                ),
                period_start=start,
                period_end=end,
                commitment=sla.volume_commitment,
                delivered=delivered,
                elapsed_share=elapsed,
                expected=expected,
                pace=pace_of(delivered=delivered, expected=expected),
            )
        )
    return result


# The whole page
# ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SlaReport:
    scope: ReportScope
    totals: Compliance
    speed: list[SpeedMeasure]
    sdrs: list[SdrRow]
    slas: list[SlaRow]
    trend: TrendChart | None
    workload: list[WorkloadRow]
    reasons: list[ReasonRow]
    sales: SalesOutcomes
    volume: list[VolumePace]

    @property
    def first_touch(self) -> SpeedMeasure:
        return next(m for m in self.speed if m.key == "first_touch")

    @property
    def rejected_total(self) -> int:
        return sum(r.count for r in self.reasons)


def sla_report(
    *,
    period: str = str(DEFAULT_PERIOD_DAYS),
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    sla: ServiceLevelAgreement | None = None,
    team: Team | None = None,
    now: dt.datetime | None = None,
) -> SlaReport:
    """Everything the SLA report page shows, in a fixed number of queries.

    Arguments are the report form's cleaned data (validated there: a custom
    period has both dates, in order, at most MAX_PERIOD_DAYS long).
    """
    now = now or timezone.now()
    scope = report_scope(
        now=now,
        period=period,
        date_from=date_from,
        date_to=date_to,
        sla_id=sla.id if sla else None,
        team_id=team.id if team else None,
    )
    return SlaReport(
        scope=scope,
        totals=compliance_totals(scope=scope),
        speed=speed_to_lead(scope=scope),
        sdrs=compliance_by_sdr(scope=scope),
        slas=compliance_by_sla(scope=scope),
        trend=compliance_trend(scope=scope),
        workload=workload_list(now=now, sla_id=scope.sla_id, team_id=scope.team_id),
        reasons=rejection_reasons(scope=scope),
        sales=sales_outcomes(scope=scope),
        volume=volume_pacing(now=now, sla_id=scope.sla_id, team_id=scope.team_id),
    )
