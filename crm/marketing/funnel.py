"""The funnel lead -> MQL -> SAL -> SQL -> opportunity -> customer over a period.

Two ways to count, as a marketer asks two questions:

- **cohort**: the leads created in the period, each counted at every funnel
  stage up to the furthest it ever reached (``Lead.highest_stage``), so a lead
  recycled later never rewrites a closed month. Days between stages are from
  the lead's first entry into the previous stage to its first entry into this
  one (``Lead.entered_<stage>_at``; a lead's creation for ``lead``), over the
  cohort's leads that have both.
- **flow**: how many leads entered each stage during the period, whenever they
  were created: distinct leads with a stage change into it in the period (a
  lead created in the period for ``lead``); a recycled lead that qualifies
  again counts again. Days between stages are over the leads whose first
  entry into the stage fell in the period.

Filters (``crm.marketing.filters.FunnelFilters``) narrow the leads counted,
combined with AND: campaign = leads with at least one touchpoint of that
campaign; channel = leads with a touchpoint of a campaign in that channel
(``Campaign.channel``); source = ``Lead.source``; region = ``Lead.region``;
SLA = leads that were handed off under that SLA, at any time. In flow mode
the filters pick the leads whose stage changes count. With no filter the
queries are the unfiltered ones.

Erased people are left out, as the lead list leaves them out, so a count
and the list it links to agree. The period is ``[start, end)`` in UTC days.
Rates are this stage's count over the previous stage's (None when the
previous is 0). Days between stages are medians of the spans truncated to
whole hours (the floor of seconds / 3600): PostgreSQL's ``percentile_cont``
over those hours (the same in Python on SQLite), shown in days rounded to
one decimal. Whole hours make the medians additive, which the roll-up needs.

With ``FUNNEL_ROLLUP`` on, once the daily roll-up has been built
(``crm.marketing.rollup``), a funnel with no filter or only the source and
region filters sums the roll-up instead of reading the leads, with the same
figures; the campaign, channel and SLA filters always read the leads.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.db import connection
from django.db.models import Count, F, Q, QuerySet

from crm.common.percentiles import (
    PercentileWholeHours,
    percentile_cont,
    percentile_cont_counted,
)
from crm.marketing import rollup
from crm.marketing.filters import NO_FILTERS, FunnelFilters
from leads.lifecycle import FUNNEL, stage_rank
from leads.models import Lead, StageTransition

MODES = ("cohort", "flow")
_HOURS_A_DAY = Decimal(24)


@dataclass(frozen=True)
class FunnelStage:
    stage: str
    count: int
    #: This stage's count over the previous stage's (None for the first, or
    #: when the previous stage counts nobody), rounded to four places.
    rate_from_previous: Decimal | None
    #: Median days from entering the previous stage to entering this one.
    median_days_from_previous: Decimal | None


def _people(filters: FunnelFilters = NO_FILTERS) -> QuerySet[Lead]:
    """The leads the funnel counts: not erased, as the lead list shows them,
    narrowed by ``filters``."""
    return filters.apply(Lead.objects.filter(erased_at__isnull=True))


def _bounds(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    def midnight(day: dt.date) -> dt.datetime:
        return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)

    return midnight(start), midnight(end)


_entered = rollup.entered_field


def _days(hours: float | None) -> Decimal | None:
    """A median in hours as days, rounded to one decimal."""
    if hours is None:
        return None
    return (Decimal(repr(hours)) / _HOURS_A_DAY).quantize(
        Decimal("0.1"), rounding=ROUND_HALF_UP
    )


def _median_days(leads: QuerySet[Lead], previous: str, stage: str) -> Decimal | None:
    """Median days from first entering ``previous`` to first entering
    ``stage`` (in whole hours) over ``leads`` that did both, in that order."""
    before, after = _entered(previous), _entered(stage)
    both = leads.filter(
        **{f"{before}__isnull": False, f"{after}__isnull": False},
        **{f"{after}__gte": F(before)},
    )
    if connection.vendor == "postgresql":
        hours = both.aggregate(
            median=PercentileWholeHours(F(after) - F(before), fraction=0.5)
        )["median"]
    else:
        hours = percentile_cont(
            [rollup.whole_hours(a, b) for a, b in both.values_list(before, after)],
            0.5,
        )
    return _days(hours)


def _rate(count: int, previous: int | None) -> Decimal | None:
    if not previous:
        return None
    return (Decimal(count) / Decimal(previous)).quantize(
        Decimal("0.0001"), rounding=ROUND_HALF_UP
    )


def _cohort_counts(cohort: QuerySet[Lead]) -> dict[str, int]:
    reached = dict(
        cohort.values_list("highest_stage").annotate(n=Count("id")).order_by()
    )
    return {
        stage: sum(n for top, n in reached.items() if stage_rank(top) >= rank)
        for rank, stage in enumerate(FUNNEL)
    }


def _flow_counts(
    low: dt.datetime, high: dt.datetime, filters: FunnelFilters
) -> dict[str, int]:
    moves = StageTransition.objects.all()
    if filters:
        moves = moves.filter(lead__in=_people(filters).values("id"))
    else:
        moves = moves.filter(lead__erased_at__isnull=True)
    entered = dict(
        moves.filter(
            at__gte=low,
            at__lt=high,
            to_stage__in=FUNNEL[1:],
        )
        .values_list("to_stage")
        .annotate(n=Count("lead_id", distinct=True))
        .order_by()
    )
    created = _people(filters).filter(created_at__gte=low, created_at__lt=high).count()
    return {FUNNEL[0]: created} | {stage: entered.get(stage, 0) for stage in FUNNEL[1:]}


def funnel(
    *,
    start: dt.date,
    end: dt.date,
    mode: str,
    filters: FunnelFilters = NO_FILTERS,
) -> list[FunnelStage]:
    """The six funnel stages in order for ``[start, end)`` counted by ``mode``,
    over the leads ``filters`` picks."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}.")
    if end <= start:
        raise ValueError("end must come after start.")
    if rollup.rollup_serves(filters) and rollup.rollup_as_of() is not None:
        return _from_rollup(start=start, end=end, mode=mode, filters=filters)
    low, high = _bounds(start, end)
    if mode == "cohort":
        cohort = _people(filters).filter(created_at__gte=low, created_at__lt=high)
        counts = _cohort_counts(cohort)
    else:
        counts = _flow_counts(low, high, filters)
    stages: list[FunnelStage] = []
    for rank, stage in enumerate(FUNNEL):
        if rank == 0:
            stages.append(FunnelStage(stage, counts[stage], None, None))
            continue
        previous = FUNNEL[rank - 1]
        if mode == "cohort":
            timed = cohort
        else:
            timed = _people(filters).filter(
                Q(**{f"{_entered(stage)}__gte": low, f"{_entered(stage)}__lt": high})
            )
        stages.append(
            FunnelStage(
                stage,
                counts[stage],
                _rate(counts[stage], counts[previous]),
                _median_days(timed, previous, stage),
            )
        )
    return stages


def funnel_as_of(filters: FunnelFilters = NO_FILTERS) -> dt.datetime | None:
    """When the figures ``funnel`` gives for ``filters`` were last brought up to
    date, if it reads the roll-up for them; None when it reads the leads."""
    return rollup.rollup_as_of() if rollup.rollup_serves(filters) else None


def _from_rollup(
    *, start: dt.date, end: dt.date, mode: str, filters: FunnelFilters
) -> list[FunnelStage]:
    counts = rollup.rollup_counts(start=start, end=end, mode=mode, filters=filters)
    hours = rollup.rollup_hours(start=start, end=end, mode=mode, filters=filters)
    stages = [FunnelStage(FUNNEL[0], counts[FUNNEL[0]], None, None)]
    for previous, stage in itertools.pairwise(FUNNEL):
        stages.append(
            FunnelStage(
                stage,
                counts[stage],
                _rate(counts[stage], counts[previous]),
                _days(percentile_cont_counted(hours[stage], 0.5)),
            )
        )
    return stages
