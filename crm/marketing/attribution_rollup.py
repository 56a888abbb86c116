"""The daily roll-up of campaign attribution that the campaign report sums.

For every UTC day, every attribution model of ``leads.attribution.MODELS``
and every kind of conversion, ``crm.models.CampaignCredit`` holds the credit
each campaign earned (``campaign`` None: unattributed). The conversions of a
day are its events, erased leads left out:

- lead: a lead created that day (``Lead.created_at``), worth 1;
- mql, sql, customer: a lead that first entered the stage that day
  (``entered_<stage>_at``), worth 1;
- revenue: a deal won that day (a ``SalesOutcome`` to customer, ``at``),
  worth its ``amount``.

Each conversion's worth is split over the lead's touchpoints by
``leads.attribution.credit`` (touches after the conversion earn nothing;
the W-shaped model reads when the lead became an MQL and opened an
opportunity).

A day is rebuilt whole (``attribution_day_rebuild``): in one transaction,
serialised per day (a PostgreSQL advisory lock; SQLite has one writer), its
rows are deleted and recomputed from the data, so a rebuild is idempotent
and two rebuilds of a day leave one correct set of rows. What to rebuild:
the days the services marked (``leads.attribution_marks``), taken every
minute by ``attribution_marked_rebuild``, which deletes and commits the
marks it takes before it reads anything, so a change committed later keeps
its mark for the next run, and rebuilds them the latest first within a time
budget, marking the rest again; nightly every day with conversions is marked
(``attribution_all_mark``), which catches what marks do not (a backdated
touchpoint, an admin's edit of a touchpoint's campaign) a minute's budget
at a time. ``attribution_all_rebuild`` rebuilds every such day at once (the
``rebuild_attribution`` command, the demo).
"""

from __future__ import annotations

import datetime as dt
import logging
import multiprocessing
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection, connections, transaction
from django.db.models import Q
from django.db.models.functions import TruncDate

from crm.models import AttributionDay, CampaignCredit
from handoff.models import SalesOutcome
from leads.attribution import MODELS, Touch, credit
from leads.attribution_marks import attribution_days_mark, attribution_marks_taken
from leads.models import AttributionMark, Lead, Stage, Touchpoint

logger = logging.getLogger(__name__)

Kind = CampaignCredit.Kind
#: Lead ids per touchpoint query (under SQLite's bound on query parameters).
TOUCH_CHUNK = 900
#: Marks taken per run at most, so a flood of marks is worked off in bounded
#: runs (the rest waits a minute) rather than held in one worker's memory.
MARKS_PER_RUN = 50_000
#: How long a marked run starts new days for: under the minute between two
#: beats, so runs rarely overlap (they may: every day's rebuild is locked).
MARKED_RUN_SECONDS = 45.0
#: First key of the advisory lock that serialises the rebuilds of a day (the
#: second is the day's ordinal); any constant no other lock in the product uses.
_LOCK_CLASS = 0x0A77
#: The stage conversions and the Lead field holding when each happened.
_STAGE_FIELDS = (
    (Kind.MQL, "entered_mql_at"),
    (Kind.SQL, "entered_sql_at"),
    (Kind.CUSTOMER, "entered_customer_at"),
)

CreditKey = tuple[str, str, int | None]


@dataclass(frozen=True)
class _Conversion:
    lead_id: int
    kind: str
    at: dt.datetime
    amount: Decimal


def _bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.combine(day, dt.time.min, dt.UTC)
    return start, start + dt.timedelta(days=1)


def _conversions(
    day: dt.date,
) -> tuple[list[_Conversion], dict[int, tuple[dt.datetime | None, ...]]]:
    """The day's conversions, and each converting lead's (mql_at,
    opportunity_at) for the W-shaped model; two queries."""
    start, end = _bounds(day)
    on_day = Q(created_at__gte=start, created_at__lt=end)
    for _kind, name in _STAGE_FIELDS:
        on_day |= Q(**{f"{name}__gte": start, f"{name}__lt": end})
    leads = Lead.objects.filter(on_day, erased_at__isnull=True).values_list(
        "id",
        "created_at",
        "entered_mql_at",
        "entered_sql_at",
        "entered_customer_at",
        "entered_opportunity_at",
    )
    conversions: list[_Conversion] = []
    steps: dict[int, tuple[dt.datetime | None, ...]] = {}
    one = Decimal(1)
    for lead_id, created, mql, sql, customer, opportunity in leads:
        steps[lead_id] = (mql, opportunity)
        for kind, at in (
            (Kind.LEAD, created),
            (Kind.MQL, mql),
            (Kind.SQL, sql),
            (Kind.CUSTOMER, customer),
        ):
            if at is not None and start <= at < end:
                conversions.append(_Conversion(lead_id, kind, at, one))
    won = SalesOutcome.objects.filter(
        to_stage=Stage.CUSTOMER,
        at__gte=start,
        at__lt=end,
        amount__isnull=False,
        lead__erased_at__isnull=True,
    ).values_list(
        "lead_id",
        "at",
        "amount",
        "lead__entered_mql_at",
        "lead__entered_opportunity_at",
    )
    for lead_id, at, amount, mql, opportunity in won:
        steps.setdefault(lead_id, (mql, opportunity))
        conversions.append(_Conversion(lead_id, Kind.REVENUE, at, amount))
    return conversions, steps


def _touches(lead_ids: Iterable[int], before: dt.datetime) -> dict[int, list[Touch]]:
    """The touches of the leads up to ``before``, per lead, in time order."""
    ids = sorted(set(lead_ids))
    touches: dict[int, list[Touch]] = defaultdict(list)
    for first in range(0, len(ids), TOUCH_CHUNK):
        rows = (
            Touchpoint.objects.filter(
                lead_id__in=ids[first : first + TOUCH_CHUNK], occurred_at__lt=before
            )
            .order_by("lead_id", "occurred_at", "id")
            .values_list("lead_id", "occurred_at", "campaign_id")
        )
        for lead_id, at, campaign_id in rows:
            touches[lead_id].append(Touch(at=at, campaign_id=campaign_id))
    return touches


def day_credits(day: dt.date) -> dict[CreditKey, Decimal]:
    """The credit of ``day``'s conversions: (model, kind, campaign id or None)
    -> amount, zeros left out. Reads only; a few queries whatever the day's
    size (the conversions, the won deals, the touches in chunks)."""
    conversions, steps = _conversions(day)
    touches = _touches(steps, _bounds(day)[1])
    totals: dict[CreditKey, Decimal] = defaultdict(Decimal)
    for conversion in conversions:
        mql_at, opportunity_at = steps[conversion.lead_id]
        lead_touches = touches.get(conversion.lead_id, [])
        for model in MODELS:
            shares = credit(
                lead_touches,
                model=model,
                amount=conversion.amount,
                converted_at=conversion.at,
                mql_at=mql_at,
                opportunity_at=opportunity_at,
            )
            for campaign_id, share in shares.items():
                totals[(model, conversion.kind, campaign_id)] += share
    return {key: value for key, value in totals.items() if value}


def _lock_day(day: dt.date) -> None:
    """Serialise the rebuilds of ``day`` until the transaction ends."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)", [_LOCK_CLASS, day.toordinal()]
            )


def attribution_day_rebuild(*, day: dt.date, now: dt.datetime) -> int:
    """Replace ``day``'s campaign credits by a fresh computation.

    One transaction holding the day's advisory lock from before it reads:
    a second rebuild of the day waits, then reads the data as committed by
    then, so concurrent rebuilds end with one correct set of rows. Records
    ``now`` as the day's ``rebuilt_at``. Idempotent. Returns the rows written.
    """
    with transaction.atomic():
        _lock_day(day)
        CampaignCredit.objects.filter(day=day).delete()
        rows = [
            CampaignCredit(
                day=day, model=model, kind=kind, campaign_id=campaign_id, amount=amount
            )
            for (model, kind, campaign_id), amount in sorted(
                day_credits(day).items(), key=lambda item: str(item[0])
            )
        ]
        CampaignCredit.objects.bulk_create(rows, batch_size=2000)
        AttributionDay.objects.update_or_create(day=day, defaults={"rebuilt_at": now})
    return len(rows)


@dataclass(frozen=True)
class RebuildResult:
    """What a rebuild did: the days it rebuilt and the credit rows written."""

    days: list[dt.date]
    rows: int
    #: Days taken but left for the next run (marked again): out of time.
    left: int = 0


def attribution_days_rebuild(
    *, days: Iterable[dt.date], now: dt.datetime
) -> RebuildResult:
    """Rebuild each of ``days`` (each in its own transaction), oldest first."""
    done: list[dt.date] = []
    rows = 0
    for day in sorted(set(days)):
        rows += attribution_day_rebuild(day=day, now=now)
        done.append(day)
    return RebuildResult(days=done, rows=rows)


def _marks_take(*, since: dt.date | None = None, limit: int | None) -> list[dt.date]:
    """Delete the oldest ``limit`` marks (all with None; from ``since`` on
    when given), committed, and return their days."""
    table = AttributionMark._meta.db_table
    where, params = ("WHERE day >= %s", [since]) if since is not None else ("", [])
    pick = f"SELECT id FROM {table} {where} ORDER BY id"  # nosec B608: name from model meta, values bound
    if limit is not None:
        pick += " LIMIT %s"
        params.append(limit)
    with transaction.atomic(), connection.cursor() as cursor:
        # DELETE ... RETURNING on PostgreSQL and SQLite 3.35+. Two takers
        # never get the same row.
        cursor.execute(
            f"DELETE FROM {table} WHERE id IN ({pick}) RETURNING day",  # nosec B608: name from model meta, values bound
            params,
        )
        found = cursor.fetchall()
    attribution_marks_taken()
    days = set()
    for (day,) in found:
        days.add(dt.date.fromisoformat(day) if isinstance(day, str) else day)
    return sorted(days)


def attribution_marked_rebuild(
    *,
    now: dt.datetime,
    budget_seconds: float | None = MARKED_RUN_SECONDS,
    clock: Callable[[], float] = time.monotonic,
) -> RebuildResult:
    """Rebuild the days marked since the last run, the latest day first.

    First deletes (and commits) the marks it takes, then rebuilds their days:
    a change committed after that leaves a mark for the next run, so nothing
    is missed, and a mark taken by another run concurrently is rebuilt by
    that run. Starts no new day once ``budget_seconds`` have passed (None:
    no limit; at least one day is always rebuilt): the days left are marked
    again for the next run, so a backlog (the nightly marking of every day)
    is worked off a minute at a time, today's figures first. If a rebuild
    fails, the days not yet rebuilt are marked again before the error
    propagates. Safe to run in several processes at once.
    """
    days = sorted(set(_marks_take(limit=MARKS_PER_RUN)), reverse=True)
    deadline = None if budget_seconds is None else clock() + budget_seconds
    result = _rebuild_or_remark(days, now=now, until=deadline, clock=clock)
    if result.days:
        logger.info(
            "campaign attribution rebuilt for %s marked days, %s left for the next run",
            len(result.days),
            result.left,
        )
    return result


def _rebuild_or_remark(
    days: list[dt.date],
    *,
    now: dt.datetime,
    until: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> RebuildResult:
    """Rebuild ``days`` in their order, starting none after ``until`` (but
    at least one); mark the rest again. If one fails, mark it and the rest
    again and re-raise."""
    done: list[dt.date] = []
    rows = 0
    try:
        for day in days:
            if done and until is not None and clock() >= until:
                break
            rows += attribution_day_rebuild(day=day, now=now)
            done.append(day)
    finally:
        left = [day for day in days if day not in set(done)]
        if left:
            with transaction.atomic():
                attribution_days_mark(moments=left)
    return RebuildResult(days=done, rows=rows, left=len(left))


def attribution_all_mark(*, since: dt.date | None = None) -> int:
    """Mark every day with conversions (from ``since`` on when given) for the
    marked rebuild: the nightly catch-up of what no mark announces, worked
    off by the minute runs within their time budget. Returns the days
    marked."""
    with transaction.atomic():
        return attribution_days_mark(moments=conversion_days(since=since))


def conversion_days(*, since: dt.date | None = None) -> list[dt.date]:
    """Every UTC day with a conversion (or already holding credits), from
    ``since`` on when given: what a full rebuild goes over."""
    days: set[dt.date] = set()
    sources = [
        (Lead.objects.filter(erased_at__isnull=True), name)
        for name in ("created_at", *(field for _kind, field in _STAGE_FIELDS))
    ]
    sources.append(
        (
            SalesOutcome.objects.filter(to_stage=Stage.CUSTOMER, amount__isnull=False),
            "at",
        )
    )
    for queryset, name in sources:
        filtered = queryset.filter(**{f"{name}__isnull": False})
        if since is not None:
            filtered = filtered.filter(**{f"{name}__gte": _bounds(since)[0]})
        days.update(
            filtered.annotate(day=TruncDate(name, tzinfo=dt.UTC))
            .order_by()
            .values_list("day", flat=True)
            .distinct()
        )
    held = AttributionDay.objects.all()
    if since is not None:
        held = held.filter(day__gte=since)
    days.update(held.values_list("day", flat=True))
    return sorted(days)


def _days_rebuild_worker(days: list[dt.date], now: dt.datetime) -> RebuildResult:
    try:
        return _rebuild_or_remark(days, now=now)
    finally:
        connections.close_all()


def _rebuild_in_processes(
    days: list[dt.date], *, now: dt.datetime, workers: int
) -> RebuildResult:
    """``_rebuild_or_remark`` of ``days`` dealt round to forked processes."""
    shares = [days[i::workers] for i in range(workers)]
    # A forked child must not share the parent's connection: each opens its own.
    connections.close_all()
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        results = pool.starmap(_days_rebuild_worker, [(share, now) for share in shares])
    return RebuildResult(
        days=sorted(day for result in results for day in result.days),
        rows=sum(result.rows for result in results),
        left=sum(result.left for result in results),
    )


def attribution_all_rebuild(
    *, now: dt.datetime, since: dt.date | None = None, workers: int = 1
) -> RebuildResult:
    """Rebuild every day with conversions (from ``since`` on when given).

    Takes the marks of those days first, as the marked rebuild does (their
    days are rebuilt here), then rebuilds each day in its own transaction
    under its lock, so both may run at once. With ``workers`` above 1 on
    PostgreSQL, that many processes share the days (each its own
    connection; crediting is Python work, so this uses the machine's
    cores). Inside a transaction the other processes could not see its
    rows, so there it rebuilds alone.
    """
    taken = _marks_take(since=since, limit=None)
    days = sorted(set(conversion_days(since=since)) | set(taken))
    if (
        workers > 1
        and connection.vendor == "postgresql"
        and not connection.in_atomic_block
        and len(days) > 1
    ):
        result = _rebuild_in_processes(days, now=now, workers=workers)
    else:
        result = _rebuild_or_remark(days, now=now)
    logger.info(
        "campaign attribution rebuilt for %s days, %s rows",
        len(result.days),
        result.rows,
    )
    return result
