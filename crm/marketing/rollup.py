"""The funnel's daily roll-up: what ``crm.marketing.funnel`` sums instead of
reading every lead, with the same figures.

Four tables (``crm.models``), each row one UTC day and one ``source`` and
``region`` of the lead ('' when blank):

- ``FunnelCohortCount``: leads created that day by ``highest_stage``;
- ``FunnelCohortHours``: for each stage after ``lead``, leads created that
  day by whole hours from entering the stage before to entering it;
- ``FunnelFlowCount``: leads with a stage change into a funnel stage that
  day (each lead once a day), by the last earlier day on which the lead
  entered that stage (``previous_day``). A period ``[a, b)`` counts the rows
  whose ``previous_day`` is NULL or before ``a``: each lead exactly once, on
  its first day in the period, however often it re-entered;
- ``FunnelFlowHours``: leads that first entered a stage that day, by whole
  hours from entering the stage before.

Erased leads are left out, as the live funnel leaves them out. Whole hours
make medians additive: a period's median is ``percentile_cont`` over the
sum of its days' histograms (``percentile_cont_counted``).

Rebuilding a day deletes its rows and recomputes them from the leads created
that day, the stage changes on that day and the first entries on that day,
in one transaction that holds the day's advisory lock on PostgreSQL, so two
rebuilds of a day never interleave and a rebuild is idempotent. The work is
done in Python over a few queries per run of days, so it runs on SQLite too.

What to rebuild: ``funnel_rollup_refresh`` (every minute) looks for leads
whose ``updated_at`` moved since its last scan, less an overlap for
transactions that commit late; every stage change, erasure and edit of a lead
stamps it. It rebuilds each such lead's created day and the days of its stage
changes and first entries. ``funnel_rollup_rebuild`` (nightly, and at the end
of ``seed_demo``) rebuilds every day, which also catches leads deleted
outright.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Min, Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from crm.marketing.daily_rollup import (
    day_runs,
    days_lock,
    midnight,
    scan_advance,
    utc_day,
)
from crm.marketing.filters import FunnelFilters
from crm.models import (
    FunnelCohortCount,
    FunnelCohortHours,
    FunnelFlowCount,
    FunnelFlowHours,
    FunnelRollupState,
)
from leads.lifecycle import FUNNEL, stage_rank
from leads.models import Lead, StageTransition

logger = logging.getLogger(__name__)

#: A refresh scans again the leads stamped this long before its last scan: a
#: transaction stamps ``updated_at`` when it writes and may commit later.
OVERLAP = dt.timedelta(minutes=10)
#: Consecutive days rebuilt in one transaction: one query per table serves
#: them all, and the locks held stay few.
DAYS_PER_RUN = 7
#: Lead ids per IN list (well under SQLite's bound on parameters).
IDS_PER_QUERY = 2000
#: First key of the per-day advisory locks (the second is the day's ordinal):
#: "FUNL", so they do not collide with other advisory locks.
_LOCK_SPACE = 0x46554E4C
_HOUR = dt.timedelta(hours=1)
_STATE_ID = 1
_TABLES = (FunnelCohortCount, FunnelCohortHours, FunnelFlowCount, FunnelFlowHours)


def entered_field(stage: str) -> str:
    """The lead's field holding when it first entered ``stage``."""
    return "created_at" if stage == FUNNEL[0] else f"entered_{stage}_at"


def whole_hours(before: dt.datetime, after: dt.datetime) -> int:
    """The span from ``before`` to ``after`` in whole hours (rounded down)."""
    return (after - before) // _HOUR


_TIMED = FUNNEL[1:]
_ENTERED = [entered_field(stage) for stage in _TIMED]


def _spans(
    created_at: dt.datetime, entered: tuple[dt.datetime | None, ...]
) -> Iterator[tuple[str, dt.datetime, int]]:
    """For each stage after ``lead`` a lead entered after the stage before:
    the stage, when it entered it, and the whole hours between."""
    times = (created_at, *entered)
    for rank, stage in enumerate(_TIMED, start=1):
        before, after = times[rank - 1], times[rank]
        if before is not None and after is not None and after >= before:
            yield stage, after, whole_hours(before, after)


# Rebuilding ----------------------------------------------------------------


def _cohort_rows(
    low: dt.datetime, high: dt.datetime
) -> tuple[list[FunnelCohortCount], list[FunnelCohortHours]]:
    counts: Counter[tuple] = Counter()
    hours: Counter[tuple] = Counter()
    leads = Lead.objects.filter(
        erased_at__isnull=True, created_at__gte=low, created_at__lt=high
    ).values_list("created_at", "source", "region", "highest_stage", *_ENTERED)
    for created_at, source, region, highest, *entered in leads.iterator(2000):
        day = utc_day(created_at)
        counts[day, source, region, highest] += 1
        for stage, _, span in _spans(created_at, tuple(entered)):
            hours[day, source, region, stage, span] += 1
    return (
        [
            FunnelCohortCount(day=d, source=s, region=r, highest_stage=top, leads=n)
            for (d, s, r, top), n in counts.items()
        ],
        [
            FunnelCohortHours(day=d, source=s, region=r, stage=st, hours=h, leads=n)
            for (d, s, r, st, h), n in hours.items()
        ],
    )


def _flow_count_rows(low: dt.datetime, high: dt.datetime) -> list[FunnelFlowCount]:
    moves = StageTransition.objects.filter(
        at__gte=low,
        at__lt=high,
        to_stage__in=_TIMED,
        lead__erased_at__isnull=True,
    ).values_list("lead_id", "to_stage", "at", "lead__source", "lead__region")
    days: dict[tuple[int, str], set[dt.date]] = defaultdict(set)
    where: dict[int, tuple[str, str]] = {}
    for lead_id, stage, at, source, region in moves.iterator(2000):
        days[lead_id, stage].add(utc_day(at))
        where[lead_id] = (source, region)
    before: dict[tuple[int, str], dt.date] = {}
    ids = sorted(where)
    for i in range(0, len(ids), IDS_PER_QUERY):
        last = (
            StageTransition.objects.filter(
                lead_id__in=ids[i : i + IDS_PER_QUERY],
                to_stage__in=_TIMED,
                at__lt=low,
            )
            .values_list("lead_id", "to_stage")
            .annotate(last=Max("at"))
            .order_by()
        )
        for lead_id, stage, at in last:
            before[lead_id, stage] = utc_day(at)
    counts: Counter[tuple] = Counter()
    for (lead_id, stage), entered_on in days.items():
        previous = before.get((lead_id, stage))
        source, region = where[lead_id]
        for day in sorted(entered_on):
            counts[day, previous, source, region, stage] += 1
            previous = day
    return [
        FunnelFlowCount(day=d, previous_day=p, source=s, region=r, stage=st, leads=n)
        for (d, p, s, r, st), n in counts.items()
    ]


def _flow_hours_rows(low: dt.datetime, high: dt.datetime) -> list[FunnelFlowHours]:
    entered_in = Q()
    for field in _ENTERED:
        entered_in |= Q(**{f"{field}__gte": low, f"{field}__lt": high})
    leads = (
        Lead.objects.filter(erased_at__isnull=True)
        .filter(entered_in)
        .values_list("created_at", "source", "region", *_ENTERED)
    )
    hours: Counter[tuple] = Counter()
    for created_at, source, region, *entered in leads.iterator(2000):
        for stage, at, span in _spans(created_at, tuple(entered)):
            if low <= at < high:
                hours[utc_day(at), source, region, stage, span] += 1
    return [
        FunnelFlowHours(day=d, source=s, region=r, stage=st, hours=h, leads=n)
        for (d, s, r, st, h), n in hours.items()
    ]


@transaction.atomic
def funnel_rollup_rebuild_days(*, first: dt.date, last: dt.date) -> None:
    """Rebuild the roll-up's rows of the days ``first`` to ``last`` (both
    included) from the leads as they are now.

    Holds each day's advisory lock (PostgreSQL) until the rebuild commits, so
    a concurrent rebuild of the same days waits and then redoes them from the
    newer data. Idempotent: a second run writes the same rows.
    """
    if last < first:
        raise ValueError("last must not come before first.")
    days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    days_lock(_LOCK_SPACE, days)
    for table in _TABLES:
        table.objects.filter(day__gte=first, day__lte=last).delete()
    low, high = midnight(first), midnight(last + dt.timedelta(days=1))
    cohort_counts, cohort_hours = _cohort_rows(low, high)
    FunnelCohortCount.objects.bulk_create(cohort_counts, batch_size=1000)
    FunnelCohortHours.objects.bulk_create(cohort_hours, batch_size=1000)
    FunnelFlowCount.objects.bulk_create(_flow_count_rows(low, high), batch_size=1000)
    FunnelFlowHours.objects.bulk_create(_flow_hours_rows(low, high), batch_size=1000)


@dataclass(frozen=True)
class RollupRun:
    """What a rebuild or refresh did."""

    days: int
    leads_changed: int | None = None


def funnel_rollup_rebuild(
    *, since: dt.date | None = None, now: dt.datetime | None = None
) -> RollupRun:
    """Rebuild every day of the roll-up from ``since`` (default: the first day
    with a lead, a stage change or a roll-up row) to the day of ``now``.

    Without ``since`` the whole roll-up is rebuilt and recorded as up to date
    as of ``now`` (the funnel starts reading it then); with ``since`` it is
    recorded only if it was already. Days are rebuilt DAYS_PER_RUN at a time,
    each run in its own transaction (``funnel_rollup_rebuild_days``). Safe
    to run while other rebuilds and refreshes run; a second run is a no-op.
    """
    now = now or timezone.now()
    started = time.monotonic()
    today = utc_day(now)
    first = since
    if first is None:
        starts = [
            Lead.objects.aggregate(d=Min("created_at"))["d"],
            StageTransition.objects.aggregate(d=Min("at"))["d"],
        ]
        days = [utc_day(at) for at in starts if at is not None]
        days += [
            d
            for table in _TABLES
            if (d := table.objects.aggregate(d=Min("day"))["d"]) is not None
        ]
        first = min(days, default=today)
    ends = [
        Lead.objects.aggregate(d=Max("created_at"))["d"],
        StageTransition.objects.aggregate(d=Max("at"))["d"],
    ]
    last = max(
        [
            today,
            *(utc_day(at) for at in ends if at is not None),
            *(
                d
                for table in _TABLES
                if (d := table.objects.aggregate(d=Max("day"))["d"]) is not None
            ),
        ]
    )
    count = 0
    day = first
    while day <= last:
        end = min(day + dt.timedelta(days=DAYS_PER_RUN - 1), last)
        funnel_rollup_rebuild_days(first=day, last=end)
        count += (end - day).days + 1
        day = end + dt.timedelta(days=1)
    if since is None or FunnelRollupState.objects.filter(id=_STATE_ID).exists():
        scan_advance(FunnelRollupState, _STATE_ID, scanned_until=now)
    logger.info(
        "funnel roll-up rebuilt: %s days from %s in %.1f s",
        count,
        first,
        time.monotonic() - started,
    )
    return RollupRun(days=count)


def _changed_days(since: dt.datetime) -> tuple[set[dt.date], int]:
    changed = Lead.objects.filter(updated_at__gte=since)
    days: set[dt.date] = set()
    leads = 0
    for created_at, *entered in changed.values_list("created_at", *_ENTERED):
        leads += 1
        days.update(utc_day(at) for at in (created_at, *entered) if at is not None)
    moved_on = (
        StageTransition.objects.filter(lead__updated_at__gte=since)
        .annotate(day=TruncDate("at", tzinfo=dt.UTC))
        .values_list("day", flat=True)
        .distinct()
        .order_by()
    )
    days.update(moved_on)
    return days, leads


def funnel_rollup_refresh(*, now: dt.datetime | None = None) -> RollupRun:
    """Bring the roll-up up to date with the leads changed since the last scan.

    Rebuilds the created day, the stage-change days and the first-entry days
    of every lead whose ``updated_at`` is at or after the last scan's start
    less OVERLAP, then records this scan as begun at ``now``. With no scan
    recorded yet, rebuilds everything (``funnel_rollup_rebuild``). Safe with
    two workers: each day's rebuild is serialised and idempotent, and the
    recorded scan only moves forward.
    """
    now = now or timezone.now()
    state = FunnelRollupState.objects.filter(id=_STATE_ID).first()
    if state is None:
        return funnel_rollup_rebuild(now=now)
    days, leads = _changed_days(state.scanned_until - OVERLAP)
    for first, last in day_runs(days, longest=DAYS_PER_RUN):
        funnel_rollup_rebuild_days(first=first, last=last)
    scan_advance(FunnelRollupState, _STATE_ID, scanned_until=now)
    if days:
        logger.info(
            "funnel roll-up refreshed: %s days for %s changed leads", len(days), leads
        )
    return RollupRun(days=len(days), leads_changed=leads)


# Reading -------------------------------------------------------------------


def rollup_serves(filters: FunnelFilters) -> bool:
    """Whether the funnel reads the roll-up for ``filters`` (when it is built):
    the setting is on and no filter needs the leads' touchpoints or handoffs."""
    return bool(
        settings.FUNNEL_ROLLUP
        and filters.campaign_id is None
        and not filters.channel
        and filters.sla_id is None
    )


def rollup_as_of() -> dt.datetime | None:
    """When the roll-up was last brought up to date (None: never built)."""
    return (
        FunnelRollupState.objects.filter(id=_STATE_ID)
        .values_list("refreshed_at", flat=True)
        .first()
    )


def _rows(
    table: type, start: dt.date, end: dt.date, filters: FunnelFilters
) -> QuerySet:
    rows = table.objects.filter(day__gte=start, day__lt=end)
    if filters.source:
        rows = rows.filter(source=filters.source)
    if filters.region:
        rows = rows.filter(region=filters.region)
    return rows


def rollup_counts(
    *, start: dt.date, end: dt.date, mode: str, filters: FunnelFilters
) -> dict[str, int]:
    """Each funnel stage's count for ``[start, end)`` from the roll-up."""
    reached = dict(
        _rows(FunnelCohortCount, start, end, filters)
        .values_list("highest_stage")
        .annotate(n=Sum("leads"))
        .order_by()
    )
    if mode == "cohort":
        return {
            stage: sum(n for top, n in reached.items() if stage_rank(top) >= rank)
            for rank, stage in enumerate(FUNNEL)
        }
    entered = dict(
        _rows(FunnelFlowCount, start, end, filters)
        .filter(Q(previous_day__isnull=True) | Q(previous_day__lt=start))
        .values_list("stage")
        .annotate(n=Sum("leads"))
        .order_by()
    )
    return {FUNNEL[0]: sum(reached.values())} | {
        stage: entered.get(stage, 0) for stage in _TIMED
    }


def rollup_hours(
    *, start: dt.date, end: dt.date, mode: str, filters: FunnelFilters
) -> dict[str, dict[int, int]]:
    """For each stage after ``lead``, the histogram of whole hours from the
    stage before (hours -> leads) over ``[start, end)`` from the roll-up."""
    table = FunnelCohortHours if mode == "cohort" else FunnelFlowHours
    histograms: dict[str, dict[int, int]] = {stage: {} for stage in _TIMED}
    rows = (
        _rows(table, start, end, filters)
        .values_list("stage", "hours")
        .annotate(n=Sum("leads"))
        .order_by()
    )
    for stage, hours, n in rows:
        histograms[stage][hours] = n
    return histograms
