"""Row locks for leads, always taken in primary-key order to avoid deadlocks.

Every lock on lead rows goes through here, so every transaction takes them
in the same order (ascending id) and only on the lead table (``of=self``,
whatever the query joins): two transactions that lock overlapping sets then
queue behind each other instead of deadlocking. On SQLite (which locks the
whole database for a write transaction) these are plain reads.

``no_key`` takes FOR NO KEY UPDATE: enough for a writer of the lead's own
columns (writers still queue behind each other), while rows that reference
the lead (touchpoints, transitions) can still be inserted; use the full lock
to delete or merge.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable
from typing import Any

from django.db import connection
from django.db.models import Q, QuerySet

from leads.models import Lead


def leads_for_update(
    *conditions: Q, no_key: bool = False, skip_locked: bool = False, **lookups: Any
) -> QuerySet[Lead]:
    """The leads matching the filters, in id order, to be locked FOR UPDATE.

    Lazy: the locks are taken when the queryset is evaluated (``list``,
    ``first``, ``get``, a ``values_list`` or a slice of it), which must be
    inside ``transaction.atomic``. With ``skip_locked``, rows another
    transaction holds are left out instead of waited for.
    """
    return (
        Lead.objects.filter(*conditions, **lookups)
        .order_by("id")
        .select_for_update(of=("self",), no_key=no_key, skip_locked=skip_locked)
    )


def lock_leads(lead_ids: Iterable[int], *, no_key: bool = False) -> QuerySet[Lead]:
    """Return the leads with these ids, locked FOR UPDATE in id order.

    Call inside ``transaction.atomic``. The queryset is evaluated here so the
    locks are held when this returns.
    """
    qs = leads_for_update(id__in=sorted(set(lead_ids)), no_key=no_key)
    list(qs)  # take the locks now
    return qs


def lock_lead(lead_id: int, *, no_key: bool = False) -> Lead:
    """Return one lead locked FOR UPDATE (FOR NO KEY UPDATE with ``no_key``);
    raises Lead.DoesNotExist if missing."""
    return leads_for_update(id=lead_id, no_key=no_key).get()


_LOCK_LEAD_NO_KEY_SQL = (
    f"SELECT 1 FROM {Lead._meta.db_table} WHERE id = %s FOR NO KEY UPDATE"  # nosec B608
)


def lock_lead_no_key_raw(lead_id: int) -> bool:
    """Lock one lead FOR NO KEY UPDATE with a statement built once; False if
    there is no such lead.

    PostgreSQL only, for a hot path where building the ORM query costs more
    than running it (a single-lead rescore). Call inside ``transaction.atomic``.
    """
    with connection.cursor() as cursor:
        cursor.execute(_LOCK_LEAD_NO_KEY_SQL, [lead_id])
        return cursor.fetchone() is not None


def leads_set_in_id_order(lead_ids: list[int], *, column: str, value: Any) -> None:
    """Set ``column`` of these leads to ``value`` in one statement, locking
    them FOR NO KEY UPDATE in id order first (a materialized CTE read in id
    order, which the UPDATE then joins: it reaches no row the CTE has not
    locked), as ``leads_for_update(no_key=True)`` and then an UPDATE would in
    two statements. PostgreSQL only; call inside the writing transaction.
    The ids travel as one JSON array: an IN list of a thousand placeholders
    cost psycopg more to rewrite than the statement to run, and its
    adaptation of a list parameter more than json.dumps.
    """
    with connection.cursor() as cursor:
        cursor.execute(_set_in_id_order_sql(column), [json.dumps(lead_ids), value])


@functools.cache
def _set_in_id_order_sql(field_name: str) -> str:
    table = Lead._meta.db_table
    column = Lead._meta.get_field(field_name).column
    # Only the table and column names are formatted in; ids and value are
    # parameters.
    return (
        f"WITH locked AS MATERIALIZED (SELECT id FROM {table} "  # nosec B608
        "WHERE id = ANY(ARRAY(SELECT json_array_elements_text(%s::json)::bigint)) "
        "ORDER BY id FOR NO KEY UPDATE) "
        f'UPDATE {table} AS l SET "{column}" = %s FROM locked WHERE l.id = locked.id'
    )
