"""Marks of the UTC days whose campaign attribution must be rebuilt.

The services that change a conversion call ``attribution_days_mark`` in
their own transaction: lead creation (the day the lead was created), the
lifecycle when a lead first enters a stage (that day), the sales outcome of
a won deal (the day it was won) and erasure (every conversion day of the
lead). A mark is one inserted row per distinct day, never an update, so
marking takes no lock a rebuild or another writer could hold; a rolled-back
write leaves no mark. The rebuild (``crm.marketing.attribution_rollup``)
takes the marks, then recomputes those days.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db import transaction

from leads.models import AttributionMark


class _Marked:
    """The days marked so far in a transaction, registered as an on-commit
    callback (which does nothing) so that it lives exactly as long as the
    marks: Django drops it with the savepoint or transaction that rolls back,
    together with the rows inserted there."""

    def __init__(self, days: set[dt.date]) -> None:
        self.days = days

    def __call__(self) -> None:
        return None


def _marked_in_transaction() -> set[dt.date]:
    """The days this transaction marked, as far as they were not rolled back.

    Cached on the connection with the on-commit list it was read from:
    Django replaces that list (a new object) when a savepoint rolls back or
    the transaction ends, and only appends to it otherwise, so the cache
    holds while the list is the same object, and a chunk moving thousands of
    leads in one transaction does not scan its on-commit list for each.
    """
    connection = transaction.get_connection()
    cached = getattr(connection, "_attribution_marked", None)
    if cached is not None and cached[0] is connection.run_on_commit:
        return cached[1]
    days = {
        day
        for _sids, callback, _robust in connection.run_on_commit
        if isinstance(callback, _Marked)
        for day in callback.days
    }
    connection._attribution_marked = (connection.run_on_commit, days)
    return days


def _day(moment: dt.datetime | dt.date) -> dt.date:
    if isinstance(moment, dt.datetime):
        return moment.astimezone(dt.UTC).date()
    return moment


def attribution_days_mark(*, moments: Iterable[dt.datetime | dt.date | None]) -> int:
    """Mark the UTC days of ``moments`` (None skipped) for a rebuild.

    One row per distinct day, in one insert, in the caller's transaction; a
    day already marked earlier in the same transaction (and not rolled back)
    is not marked again. Returns the number of days marked.
    """
    days = sorted({_day(m) for m in moments if m is not None})
    if transaction.get_connection().in_atomic_block:
        already = _marked_in_transaction()
        days = [day for day in days if day not in already]
        if days:
            transaction.on_commit(_Marked(set(days)))
            already.update(days)
    AttributionMark.objects.bulk_create([AttributionMark(day=day) for day in days])
    return len(days)


def attribution_marks_taken() -> None:
    """Forget which days this transaction marked: the rebuild took (deleted)
    the marks, so a later change in the same transaction marks again. Only
    matters when the rebuild runs inside a transaction that marked too (a
    test, a command wrapping both)."""
    connection = transaction.get_connection()
    connection.run_on_commit = [
        entry for entry in connection.run_on_commit if not isinstance(entry[1], _Marked)
    ]


def lead_conversion_moments(lead: object) -> list[dt.datetime | None]:
    """When ``lead`` (a Lead) converted: created, and first entered MQL, SQL
    and customer."""
    return [
        getattr(lead, "created_at", None),
        getattr(lead, "entered_mql_at", None),
        getattr(lead, "entered_sql_at", None),
        getattr(lead, "entered_customer_at", None),
    ]
