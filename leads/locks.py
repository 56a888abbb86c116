"""Row locks for leads, always taken in primary-key order to avoid deadlocks."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import QuerySet

from leads.models import Lead


def lock_leads(lead_ids: Iterable[int], *, no_key: bool = False) -> QuerySet[Lead]:
    """Return the leads with these ids, locked FOR UPDATE in id order.

    Call inside ``transaction.atomic``. The queryset is evaluated here so the
    locks are held when this returns. On SQLite (which locks the whole database
    for a write transaction) this is a plain read. With ``no_key``, FOR NO KEY
    UPDATE: enough for a writer of the lead's own columns (writers still queue
    behind each other), while rows that reference the lead (touchpoints,
    transitions) can still be inserted; use the full lock to delete or merge.
    """
    qs = (
        Lead.objects.filter(id__in=sorted(set(lead_ids)))
        .order_by("id")
        .select_for_update(of=("self",), no_key=no_key)
    )
    list(qs)  # take the locks now
    return qs


def lock_lead(lead_id: int, *, no_key: bool = False) -> Lead:
    """Return one lead locked FOR UPDATE (FOR NO KEY UPDATE with ``no_key``, see
    lock_leads); raises Lead.DoesNotExist if missing."""
    return Lead.objects.select_for_update(of=("self",), no_key=no_key).get(id=lead_id)
