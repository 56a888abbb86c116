"""The volume commitment: MQLs delivered this week or month, and the pace."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, FilteredRelation, Q, QuerySet
from django.db.models.functions import TruncWeek

from handoff.models import Handoff, ServiceLevelAgreement
from handoff.reports.scope import _day

#: Pacing within this share of the expected volume is "on pace".
PACE_TOLERANCE = 0.10
#: A monthly commitment as a weekly one: 12 months over 52 weeks.
WEEKS_PER_MONTH = 52 / 12
#: A delivered MQL: an MQL's first handoff (a reassignment is not a second one).
FIRST_HANDOFF = {"sequence": 1}


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
            handoffs__sequence=FIRST_HANDOFF["sequence"],
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


@dataclass(frozen=True)
class WeekVolume:
    """MQLs delivered in one Monday-to-Sunday UTC week, clipped to a period."""

    week_start: dt.date
    #: Days of this week inside the period (1 to 7).
    days: int
    delivered: int
    #: The active SLAs' commitments for those days (monthly ones as weekly).
    committed: float

    @property
    def committed_rounded(self) -> int:
        return round(self.committed)

    @property
    def pace(self) -> str:
        return pace_of(delivered=self.delivered, expected=self.committed)

    @property
    def pace_label(self) -> str:
        return {"ahead": "ahead", "on_pace": "on pace", "behind": "behind"}[self.pace]


def weekly_commitment(*, sla_id: int | None = None) -> float:
    """The active SLAs' volume commitments added up per week (only that SLA's
    with ``sla_id``)."""
    total = 0.0
    slas = ServiceLevelAgreement.objects.filter(is_active=True, volume_commitment__gt=0)
    if sla_id is not None:
        slas = slas.filter(id=sla_id)
    for sla in slas.only("volume_commitment", "volume_period"):
        weekly = sla.volume_period == ServiceLevelAgreement.Period.WEEK
        total += sla.volume_commitment / (1 if weekly else WEEKS_PER_MONTH)
    return total


def volume_by_week(
    *,
    start: dt.date,
    end: dt.date,
    sla_id: int | None = None,
    leads: QuerySet[Any] | None = None,
) -> list[WeekVolume]:
    """MQLs delivered per UTC week of ``[start, end)`` against the commitment.

    Delivered counts as the volume commitment does (``FIRST_HANDOFF``
    created in the week); a week the period cuts short is compared with the
    commitment for its days only. With ``sla_id``, that SLA's handoffs and
    commitment only; ``leads`` (a Lead queryset) narrows the delivered MQLs
    but not the commitment, which is not per lead. Two queries.
    """
    low = dt.datetime.combine(start, dt.time.min, dt.UTC)
    high = dt.datetime.combine(end, dt.time.min, dt.UTC)
    handoffs = Handoff.objects.filter(
        **FIRST_HANDOFF, created_at__gte=low, created_at__lt=high
    )
    if sla_id is not None:
        handoffs = handoffs.filter(sla_id=sla_id)
    if leads is not None:
        handoffs = handoffs.filter(lead__in=leads.values("id"))
    counts = {
        (week.date() if isinstance(week, dt.datetime) else week): n
        for week, n in handoffs.annotate(week=TruncWeek("created_at", tzinfo=dt.UTC))
        .values_list("week")
        .annotate(n=Count("id"))
        .order_by()
    }
    per_day = weekly_commitment(sla_id=sla_id) / 7
    weeks = []
    monday = start - dt.timedelta(days=start.weekday())
    while monday < end:
        days = (min(monday + dt.timedelta(days=7), end) - max(monday, start)).days
        weeks.append(
            WeekVolume(
                week_start=monday,
                days=days,
                delivered=counts.get(monday, 0),
                committed=per_day * days,
            )
        )
        monday += dt.timedelta(days=7)
    return weeks
