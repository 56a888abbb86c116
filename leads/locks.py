"""Row locks for leads, always taken in primary-key order to avoid deadlocks."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import QuerySet

from leads.models import Lead


def lock_leads(lead_ids: Iterable[int]) -> QuerySet[Lead]:
    """Return the leads with these ids, locked FOR UPDATE in id order.

    Call inside ``transaction.atomic``. The queryset is evaluated here so the
    locks are held when this returns. On SQLite (which locks the whole database
    for a write transaction) this is a plain read.
    """
    qs = (
        Lead.objects.filter(id__in=sorted(set(lead_ids)))
        .order_by("id")
        .select_for_update(of=("self",))
    )
    list(qs)  # take the locks now
    return qs


def lock_lead(lead_id: int) -> Lead:
    """Return one lead locked FOR UPDATE; raises Lead.DoesNotExist if missing."""
    return Lead.objects.select_for_update(of=("self",)).get(id=lead_id)
