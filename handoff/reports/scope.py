"""The report period and its filters: which handoffs a report covers."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet

from handoff.models import Handoff

#: Presets of the period filter, in days, and the one shown when none is chosen.
PERIOD_DAYS = (7, 30, 90)
DEFAULT_PERIOD_DAYS = 30
#: The longest custom period: a year, leap day included. Keeps the SQLite
#: percentile path (which fetches one row per handoff) bounded.
MAX_PERIOD_DAYS = 366


@dataclass(frozen=True)
class ReportScope:
    """Which handoffs a report covers: assigned in [start, end), as of ``now``."""

    start: dt.datetime
    end: dt.datetime
    now: dt.datetime
    label: str = ""
    sla_id: int | None = None
    team_id: int | None = None
    #: Only the handoffs of these leads (a Lead queryset a higher app
    #: narrowed, e.g. the marketer's dashboard filters); None for all.
    leads: QuerySet[Any] | None = None

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
    if scope.leads is not None:
        qs = qs.filter(lead__in=scope.leads.values("id"))
    return qs.order_by()
