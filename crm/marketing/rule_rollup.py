"""Rule analytics' daily roll-up: what ``crm.marketing.rule_analytics`` sums
instead of reading every scored lead and every rejection of a period, with
the same figures.

Four tables (``crm.models``), each row one UTC day:

- ``RuleCohortScore``: per scoring model and whole point of the total
  (rounded down), the scored leads created that day (not erased) in it, how
  many of them an SDR decided and accepted and reached MQL, SQL and
  customer, and how many scored at or above the model's threshold (with
  their SQLs): the cohort's totals and the score's quality (AUC over whole
  points, precision at the threshold, bands) add up over days, in rows that
  do not grow with the leads;
- ``RuleCohortCount``: per scoring model and rule, of those leads the ones
  the rule fired on, with the same outcomes: each rule's rates and lifts;
- ``RuleRejectionCount``: the rejections made that day (SDR rejections and
  sales send-backs) by reason, first-touch campaign, SLA and grade; a week's
  row is the sum of its days;
- ``RuleRejectionRule``: those rejections by reason and rule label at handoff.

Every row is counted from the live path's own definitions
(``rule_analytics._cohort_sql`` and ``rule_analytics._rejections``) over a
run of days, grouped by day, so a period's sums are the live counts; the
statistics are computed from the sums by the same functions.

Rebuilding a day deletes its rows and recounts them, in one transaction that
holds the day's advisory lock on PostgreSQL (two rebuilds of a day never
interleave; a rebuild is idempotent).

What to rebuild: ``rule_rollup_refresh`` (every minute) takes the leads whose
``updated_at`` moved since its last scan (stage changes, erasures, edits),
whose score under any model was written since (``computed_at``) and whose
handoff was decided since, less an overlap for transactions that commit late,
and rebuilds their created days; and the days of the rejections and sales
send-backs made since. ``rule_rollup_rebuild`` (nightly, and at the end of
``seed_demo``) rebuilds every day, which also catches what no scan sees (a
lead deleted outright, a backdated touchpoint changing a first-touch
campaign).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, Max, Min
from django.db.models.functions import TruncDate
from django.utils import timezone

from crm.marketing import rule_analytics as live
from crm.marketing.daily_rollup import (
    day_runs,
    days_lock,
    midnight,
    scan_advance,
    utc_day,
)
from crm.marketing.rollup import RollupRun
from crm.models import (
    RuleCohortCount,
    RuleCohortScore,
    RuleRejectionCount,
    RuleRejectionRule,
    RuleRollupState,
)
from handoff.models import Handoff, SalesOutcome
from leads.models import Lead
from scoring.models import LeadScore, ScoringModel

logger = logging.getLogger(__name__)

#: A refresh scans again what was stamped this long before its last scan: a
#: transaction stamps when it writes and may commit later.
OVERLAP = dt.timedelta(minutes=10)
#: Consecutive days rebuilt in one transaction: one query per table serves
#: them all (at a million leads a week holds about 80,000 scored leads).
DAYS_PER_RUN = 7
#: First key of the per-day advisory locks (the second is the day's ordinal):
#: "RULE", apart from the funnel's and attribution's locks.
_LOCK_SPACE = 0x52554C45
_STATE_ID = live._ROLLUP_STATE_ID
_TABLES = (RuleCohortScore, RuleCohortCount, RuleRejectionCount, RuleRejectionRule)
_DAY_FIELD = {live.SDR: "decided_at", live.SALES: "at"}


def _as_date(value: dt.date | str) -> dt.date:
    # SQLite's date() answers text.
    return dt.date.fromisoformat(value) if isinstance(value, str) else value


def _day_sql(column: str) -> str:
    """The UTC day of a timestamp column of the cohort, in SQL."""
    if connection.vendor == "postgresql":
        return f"({column} AT TIME ZONE 'UTC')::date"
    # SQLite keeps timestamps as UTC text.
    return f"date({column})"


# Rebuilding ----------------------------------------------------------------


def _score_rows(cohort: str, params: list[Any]) -> list[RuleCohortScore]:
    """Per model, day and whole point: ``rule_analytics._by_points``'s
    figures, from the cohort grouped by total and flags as ``_groups`` does."""
    columns = ", ".join(live._GROUP_COLUMNS)
    rows = live._fetch(
        f"SELECT c.model_id, {_day_sql('c.created_at')}, {columns}, count(*) "  # nosec B608: names are constants, values bound
        f"FROM ({cohort}) c GROUP BY 1, 2, {columns}",
        params,
    )
    thresholds = dict(ScoringModel.objects.values_list("id", "mql_threshold"))
    by_day: dict[tuple[int, dt.date], dict[int, list[int]]] = defaultdict(dict)
    for model_id, day, total, *flags, n in rows:
        live.by_points_add(
            by_day[model_id, _as_date(day)],
            # SQLite returns the decimal column as a float: by its text.
            total=Decimal(str(total)).quantize(Decimal("0.01")),
            threshold=thresholds[model_id],
            n=n,
            flags=dict(zip(live._GROUP_COLUMNS[1:], map(bool, flags), strict=True)),
        )
    return [
        RuleCohortScore(
            model_id=model_id,
            day=day,
            points=points,
            **dict(zip(live._SCORE_FIGURES, figures, strict=True)),
        )
        for (model_id, day), by_points in by_day.items()
        for points, figures in by_points.items()
    ]


def _count_rows(cohort: str, params: list[Any]) -> list[RuleCohortCount]:
    """Per model, day and rule: the live path's per-rule counts
    (``rule_analytics._rule_counts``), by day."""
    if connection.vendor == "postgresql":
        sums = ", ".join(f"sum(c.{name})" for name in live._OUTCOMES)
        rows = live._fetch(
            f"SELECT c.model_id, {_day_sql('c.created_at')}, "  # nosec B608: names are constants, values bound
            f"(item ->> 'rule')::bigint, count(*), {sums} "
            f"FROM ({cohort}) c CROSS JOIN LATERAL jsonb_array_elements("
            "CASE WHEN jsonb_typeof(c.items) = 'array' THEN c.items ELSE '[]' END "
            "|| CASE WHEN jsonb_typeof(c.gates) = 'array' THEN c.gates ELSE '[]' END"
            ") item GROUP BY 1, 2, 3",
            params,
        )
        counts = {
            (model_id, _as_date(day), rule): [int(n) for n in figures]
            for model_id, day, rule, *figures in rows
            if rule
        }
    else:
        counts = _count_rows_python(cohort, params)
    return [
        RuleCohortCount(
            model_id=model_id,
            day=day,
            rule_id=rule,
            leads=n,
            decided=decided,
            accepted=accepted,
            sqls=sqls,
            customers=customers,
        )
        for (model_id, day, rule), (n, decided, accepted, sqls, customers) in (
            counts.items()
        )
    ]


def _count_rows_python(
    cohort: str, params: list[Any]
) -> dict[tuple[int, dt.date, int], list[int]]:
    """``_count_rows`` read lead by lead, as ``_rule_counts_python`` does."""
    counts: dict[tuple[int, dt.date, int], list[int]] = defaultdict(lambda: [0] * 5)
    outcomes = ", ".join(f"c.{name}" for name in live._OUTCOMES)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT c.model_id, {_day_sql('c.created_at')}, c.items, c.gates, "  # nosec B608: names are constants, values bound
            f"{outcomes} FROM ({cohort}) c",
            params,
        )
        while batch := cursor.fetchmany(2000):
            for model_id, day, items, gates, *flags in batch:
                rules = {
                    item.get("rule")
                    for item in [*live._json_list(items), *live._json_list(gates)]
                    if isinstance(item, dict)
                }
                for rule in rules - {None}:
                    row = counts[model_id, _as_date(day), int(rule)]
                    row[0] += 1
                    for i, flag in enumerate(flags, start=1):
                        row[i] += int(flag)
    return dict(counts)


def _rejection_rows(
    low: dt.datetime, high: dt.datetime
) -> tuple[list[RuleRejectionCount], list[RuleRejectionRule]]:
    """The live rejections (``rule_analytics._rejections``) of ``[low, high)``
    counted per day and dimension."""
    counts: Counter[tuple] = Counter()
    labels: Counter[tuple] = Counter()
    for audience, rows in live._rejections(low, high).items():
        rows = rows.annotate(day=TruncDate(_DAY_FIELD[audience], tzinfo=dt.UTC))
        grouped = (
            rows.values("day", "why", "campaign", "agreement", "graded")
            .annotate(n=Count("id"))
            .order_by()
        )
        for row in grouped:
            key = (row["day"], row["why"], row["campaign"], row["agreement"])
            counts[(*key, row["graded"])] += row["n"]
        for item_label, why, day, n in _rule_rejection_days(rows):
            labels[day, why, item_label] += n
    return (
        [
            RuleRejectionCount(
                day=day,
                reason_id=why,
                campaign_id=campaign,
                sla_id=sla,
                grade=grade,
                rejections=n,
            )
            for (day, why, campaign, sla, grade), n in counts.items()
        ],
        [
            RuleRejectionRule(day=day, reason_id=why, label=label, rejections=n)
            for (day, why, label), n in labels.items()
        ],
    )


def _rule_rejection_days(rows: Any) -> Iterator[tuple[str, int, dt.date, int]]:
    """(label, reason id, day, rejections): ``rule_analytics._rule_rejections``
    by day."""
    if connection.vendor == "postgresql":
        inner, params = rows.values("id", "why", "rules", "day").query.sql_with_params()
        sql = (
            # DISTINCT: a label twice in one breakdown counts its rejection once.
            "SELECT item ->> 'label', c.why, c.day, count(DISTINCT c.id) "  # nosec B608: Django's query, values bound
            f"FROM ({inner}) c CROSS JOIN LATERAL jsonb_array_elements("
            "CASE WHEN jsonb_typeof(c.rules) = 'array' THEN c.rules ELSE '[]' END"
            ") item GROUP BY 1, 2, 3"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            for label, why, day, n in cursor.fetchall():
                if label:
                    yield label, why, day, n
        return
    counts: Counter[tuple[str, int, dt.date]] = Counter()
    for why, day, items in rows.values_list("why", "day", "rules").iterator(
        chunk_size=2000
    ):
        found = {
            item.get("label")
            for item in live._json_list(items)
            if isinstance(item, dict) and item.get("label")
        }
        for label in found:
            counts[label, why, day] += 1
    for (label, why, day), n in counts.items():
        yield label, why, day, n


@transaction.atomic
def rule_rollup_rebuild_days(*, first: dt.date, last: dt.date) -> None:
    """Rebuild the roll-up's rows of the days ``first`` to ``last`` (both
    included) from the scores, leads, handoffs and sales outcomes as they are
    now, for every scoring model.

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
    cohort, params = live._cohort_sql(None, low, high)
    RuleCohortScore.objects.bulk_create(_score_rows(cohort, params), batch_size=1000)
    RuleCohortCount.objects.bulk_create(_count_rows(cohort, params), batch_size=1000)
    counts, labels = _rejection_rows(low, high)
    RuleRejectionCount.objects.bulk_create(counts, batch_size=1000)
    RuleRejectionRule.objects.bulk_create(labels, batch_size=1000)


def _edge_days(aggregate: type[Min] | type[Max]) -> list[dt.date]:
    """The first (Min) or last (Max) day of each source and of the roll-up."""
    moments = [
        Lead.objects.aggregate(d=aggregate("created_at"))["d"],
        Handoff.objects.aggregate(d=aggregate("decided_at"))["d"],
        SalesOutcome.objects.aggregate(d=aggregate("at"))["d"],
    ]
    days = [utc_day(at) for at in moments if at is not None]
    days += [
        d
        for table in _TABLES
        if (d := table.objects.aggregate(d=aggregate("day"))["d"]) is not None
    ]
    return days


def rule_rollup_rebuild(
    *, since: dt.date | None = None, now: dt.datetime | None = None
) -> RollupRun:
    """Rebuild every day of the roll-up from ``since`` (default: the first day
    with a lead, a decision, a sales move or a roll-up row) to the last such
    day or the day of ``now``.

    Without ``since`` the whole roll-up is rebuilt and recorded as up to date
    as of ``now`` (rule analytics start reading it then); with ``since`` it
    is recorded only if it was already. Days are rebuilt DAYS_PER_RUN at a
    time, each run in its own transaction (``rule_rollup_rebuild_days``).
    Safe to run while other rebuilds and refreshes run; a second run writes
    the same rows.
    """
    now = now or timezone.now()
    started = time.monotonic()
    today = utc_day(now)
    first = since if since is not None else min(_edge_days(Min), default=today)
    last = max([today, *_edge_days(Max)])
    count = 0
    day = first
    while day <= last:
        end = min(day + dt.timedelta(days=DAYS_PER_RUN - 1), last)
        rule_rollup_rebuild_days(first=day, last=end)
        count += (end - day).days + 1
        day = end + dt.timedelta(days=1)
    if since is None or RuleRollupState.objects.filter(id=_STATE_ID).exists():
        scan_advance(RuleRollupState, _STATE_ID, scanned_until=now)
    logger.info(
        "rule roll-up rebuilt: %s days from %s in %.1f s",
        count,
        first,
        time.monotonic() - started,
    )
    return RollupRun(days=count)


def _days_of(moments: Iterable[dt.date | None]) -> set[dt.date]:
    return {day for day in moments if day is not None}


def _changed_days(since: dt.datetime) -> tuple[set[dt.date], int]:
    """The days to rebuild for what changed at or after ``since``, and how
    many leads changed."""
    changed = Lead.objects.filter(updated_at__gte=since).values_list(
        "created_at", flat=True
    )
    days: set[dt.date] = set()
    leads = 0
    for created_at in changed:
        leads += 1
        days.add(utc_day(created_at))
    created_day = TruncDate("lead__created_at", tzinfo=dt.UTC)
    for rows in (
        LeadScore.objects.filter(computed_at__gte=since),
        Handoff.objects.filter(decided_at__gte=since),
    ):
        days |= _days_of(
            rows.annotate(day=created_day)
            .values_list("day", flat=True)
            .distinct()
            .order_by()
        )
    for rows, field in (
        (Handoff.objects.filter(decided_at__gte=since), "decided_at"),
        (SalesOutcome.objects.filter(at__gte=since), "at"),
    ):
        days |= _days_of(
            rows.annotate(day=TruncDate(field, tzinfo=dt.UTC))
            .values_list("day", flat=True)
            .distinct()
            .order_by()
        )
    return days, leads


def rule_rollup_refresh(*, now: dt.datetime | None = None) -> RollupRun:
    """Bring the roll-up up to date with what changed since the last scan.

    Rebuilds the created days of the leads changed, rescored or decided at or
    after the last scan's start less OVERLAP, and the days of the rejections
    and sales moves made since, then records this scan as begun at ``now``.
    With no scan recorded yet, rebuilds everything (``rule_rollup_rebuild``).
    Safe with two workers: each day's rebuild is serialised and idempotent,
    and the recorded scan only moves forward.
    """
    now = now or timezone.now()
    state = RuleRollupState.objects.filter(id=_STATE_ID).first()
    if state is None:
        return rule_rollup_rebuild(now=now)
    days, leads = _changed_days(state.scanned_until - OVERLAP)
    for first, last in day_runs(days, longest=DAYS_PER_RUN):
        rule_rollup_rebuild_days(first=first, last=last)
    scan_advance(RuleRollupState, _STATE_ID, scanned_until=now)
    if days:
        logger.info(
            "rule roll-up refreshed: %s days for %s changed leads", len(days), leads
        )
    return RollupRun(days=len(days), leads_changed=leads)
