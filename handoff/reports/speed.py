"""Speed to lead: p50, p95 and the time bands of the three measures."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from itertools import pairwise

from django.db.models import Aggregate, Count, F, Q

from handoff.reports.display import Duration, _duration, _share
from handoff.reports.percentiles import (
    MEASURES,
    _percentile_aggregates,
    _percentiles_in_database,
    _percentiles_of,
    _python_spans,
)
from handoff.reports.scope import ReportScope, _period_handoffs

#: Speed-to-lead bands in minutes: [0, 5), [5, 15), [15, 60), 60 and more.
BAND_EDGES_MINUTES = (5, 15, 60)
# En dashes as "\u2013" (ruff RUF001 flags the literal character).
BAND_LABELS = ("0\u20135 min", "5\u201315 min", "15\u201360 min", "60+ min")


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
