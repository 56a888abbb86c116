"""What the daily roll-ups (the funnel's and rule analytics') share: UTC days,
runs of consecutive days rebuilt together, the per-day advisory locks that
keep two rebuilds of one day apart, and the state row that records how far
the minute refresh has scanned."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from typing import Any

from django.db import IntegrityError, connection, transaction


def utc_day(at: dt.datetime) -> dt.date:
    return at.astimezone(dt.UTC).date()


def midnight(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)


def days_lock(space: int, days: Iterable[dt.date]) -> None:
    """Take the transaction-level advisory lock of each day in ``space``
    (PostgreSQL; elsewhere nothing runs concurrently). In day order, so two
    rebuilds of overlapping days cannot deadlock."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for day in sorted(days):
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)", [space, day.toordinal()]
            )


def day_runs(
    days: Iterable[dt.date], *, longest: int
) -> Iterator[tuple[dt.date, dt.date]]:
    """Sorted ``days`` as runs of consecutive days, at most ``longest`` long."""
    start = end = None
    for day in sorted(set(days)):
        follows = start is not None and day == end + dt.timedelta(days=1)
        if follows and (day - start).days < longest:
            end = day
            continue
        if start is not None:
            yield start, end
        start = end = day
    if start is not None:
        yield start, end


def scan_advance(
    state: type[Any], state_id: int, *, scanned_until: dt.datetime
) -> None:
    """Record in the ``state`` row ``state_id`` a scan that began at
    ``scanned_until``, unless a later one is already recorded (two refreshes
    may finish out of order)."""
    later = state.objects.filter(id=state_id, scanned_until__lt=scanned_until)
    moved = later.update(scanned_until=scanned_until, refreshed_at=scanned_until)
    if moved or state.objects.filter(id=state_id).exists():
        return
    try:
        with transaction.atomic():
            state.objects.create(
                id=state_id, scanned_until=scanned_until, refreshed_at=scanned_until
            )
    except IntegrityError:
        # Another rebuild recorded itself first: keep the later of the two.
        later.update(scanned_until=scanned_until, refreshed_at=scanned_until)
