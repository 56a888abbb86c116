"""The compliance trend: in time, breached and open handoffs per day or week."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Count
from django.db.models.functions import TruncDate, TruncWeek

from handoff.reports.compliance import _breached, _in_time, _open
from handoff.reports.display import _share
from handoff.reports.scope import ReportScope, _period_handoffs

#: Up to this many days the trend chart has a column per day, beyond it per week.
TREND_DAILY_MAX_DAYS = 62
#: The trend chart's drawing area in SVG units (as the lead page's score chart).
CHART_WIDTH, CHART_HEIGHT, CHART_PAD = 640, 180, 24


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
