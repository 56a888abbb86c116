"""Percentiles of the speed-to-lead spans, on PostgreSQL and in Python.

PostgreSQL computes them with ``percentile_cont``; SQLite has no such
aggregate, so there the spans come to Python and the same arithmetic runs
on them, giving the same floats (both from ``crm.common.percentiles``).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection
from django.db.models import Aggregate, F, Q, QuerySet

from crm.common.percentiles import PercentileSeconds, percentile_cont
from handoff.models import Handoff

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


def _span(measure: str) -> Any:
    start, end, _, _ = MEASURES[measure]
    return F(end) - F(start)


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
