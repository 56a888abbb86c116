"""Tracking's reads: sources with their counts, the event table of the
mapping page, a lead's visitors, and the write-key lookup of the endpoint."""

from __future__ import annotations

import datetime as dt
import functools
import json
from typing import Any

from django.db import connection
from django.db.models import (
    CharField,
    Count,
    IntegerField,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Cast, Coalesce, Concat
from django.utils import timezone

from leads.models import (
    TRACKING_SOURCE_PREFIX,
    EventMapping,
    Lead,
    Touchpoint,
    TouchpointKind,
    TrackedEvent,
    TrackingSource,
    Visitor,
)
from leads.tracking.mapping import EventKinds, event_kinds_build, event_kinds_load

#: The window of a source's "events last 7 days" count.
RECENT_EVENTS_WINDOW = dt.timedelta(days=7)


def sources_with_counts(*, now: dt.datetime | None = None) -> QuerySet[TrackingSource]:
    """Every tracking source, by name, annotated with ``visitors_count``,
    ``identified_count`` (visitors linked to a lead) and ``events_7d``
    (tracked events and touchpoints it delivered in the last 7 days)."""
    since = (now or timezone.now()) - RECENT_EVENTS_WINDOW
    visitors = (
        Visitor.objects.filter(source=OuterRef("pk"))
        .order_by()
        .values("source")
        .annotate(
            n=Count("id"),
            identified=Count("id", filter=Q(lead__isnull=False)),
        )
    )
    tracked = (
        TrackedEvent.objects.filter(source=OuterRef("pk"), received_at__gte=since)
        .order_by()
        .values("source")
        .annotate(n=Count("id"))
        .values("n")
    )
    # Tracking touchpoints all carry an external_id, so the unique index on
    # (source, external_id) finds a source's rows.
    touchpoints = (
        Touchpoint.objects.filter(
            source=Concat(
                Value(TRACKING_SOURCE_PREFIX),
                Cast(OuterRef("pk"), CharField()),
                output_field=CharField(),
            ),
            external_id__isnull=False,
            received_at__gte=since,
        )
        .order_by()
        .values("source")
        .annotate(n=Count("id"))
        .values("n")
    )
    return TrackingSource.objects.annotate(
        visitors_count=Coalesce(
            Subquery(visitors.values("n"), output_field=IntegerField()), 0
        ),
        identified_count=Coalesce(
            Subquery(visitors.values("identified"), output_field=IntegerField()), 0
        ),
        events_7d=Coalesce(Subquery(tracked, output_field=IntegerField()), 0)
        + Coalesce(Subquery(touchpoints, output_field=IntegerField()), 0),
    ).order_by("name")


def source_for_write_key(
    key: str, *, now: dt.datetime | None = None
) -> TrackingSource | None:
    """The source whose write key (or previous key, within its 24 hours) is
    ``key``, active or not; None when no source has it."""
    if not key:
        return None
    at = now or timezone.now()
    return (
        TrackingSource.objects.filter(
            Q(write_key=key)
            | Q(previous_write_key=key, previous_key_valid_until__gt=at)
        )
        .order_by("id")
        .first()
    )


#: The source of a write key (or of a previous key within its 24 hours)
#: with the event mappings and the active kinds (in label order, as
#: ``event_kinds_load`` reads them) as two JSON columns: one statement
#: written out, since building it through the ORM cost more than running it.
_SOURCE_AND_KINDS_SQL = """
    SELECT {columns},
        (SELECT COALESCE(json_agg(json_build_array(event_key, kind_id)), '[]')
         FROM {mapping})::text,
        (SELECT COALESCE(json_agg(json_build_array(code, label) ORDER BY label),
                         '[]')
         FROM {kind} WHERE is_active)::text
    FROM {source} AS s
    WHERE s.write_key = %s
       OR (s.previous_write_key = %s AND s.previous_key_valid_until > %s)
    ORDER BY s.id
    LIMIT 1
"""


@functools.cache
def _source_and_kinds_sql() -> str:
    # Only table and column names are formatted in; values are parameters.
    return _SOURCE_AND_KINDS_SQL.format(  # nosec B608
        columns=", ".join(
            f"s.{f.column}" for f in TrackingSource._meta.concrete_fields
        ),
        mapping=EventMapping._meta.db_table,
        kind=TouchpointKind._meta.db_table,
        source=TrackingSource._meta.db_table,
    )


def source_and_kinds_for_write_key(
    key: str, *, now: dt.datetime | None = None
) -> tuple[TrackingSource | None, EventKinds | None]:
    """``source_for_write_key`` and, when a source has the key, the event
    mappings and active kinds (``event_kinds_load``): on PostgreSQL in one
    query, since every tracking request needs both; elsewhere in three."""
    if connection.vendor != "postgresql":
        source = source_for_write_key(key, now=now)
        return source, event_kinds_load() if source is not None else None
    if not key:
        return None, None
    at = now or timezone.now()
    fields = TrackingSource._meta.concrete_fields
    with connection.cursor() as cursor:
        cursor.execute(_source_and_kinds_sql(), [key, key, at])
        row = cursor.fetchone()
    if row is None:
        return None, None
    source = TrackingSource.from_db(
        connection.alias, [f.attname for f in fields], row[: len(fields)]
    )
    mapped, active = row[len(fields) :]
    return source, event_kinds_build(json.loads(mapped), json.loads(active))


def event_table() -> list[dict[str, Any]]:
    """The event names of the mapping page: every mapping and every name of
    kept unmapped events, each a dict ``{event, event_key, kind (the mapped
    TouchpointKind or None), mapping (EventMapping or None), kept (count of
    kept unmapped events), last_seen (latest received, or None)}``; names
    with no mapping first, then by most kept, then by name. Two queries."""
    unmapped = {
        row["event_key"]: row
        for row in TrackedEvent.objects.filter(kind__isnull=True)
        .order_by()
        .values("event_key")
        .annotate(kept=Count("id"), last_seen=Max("received_at"), event=Min("event"))
    }
    rows: list[dict[str, Any]] = []
    for mapping in EventMapping.objects.select_related("kind").order_by("event_key"):
        kept = unmapped.pop(mapping.event_key, None)
        rows.append(
            {
                "event": mapping.event,
                "event_key": mapping.event_key,
                "kind": mapping.kind,
                "mapping": mapping,
                "kept": kept["kept"] if kept else 0,
                "last_seen": kept["last_seen"] if kept else None,
            }
        )
    for key, row in unmapped.items():
        rows.append(
            {
                "event": row["event"],
                "event_key": key,
                "kind": None,
                "mapping": None,
                "kept": row["kept"],
                "last_seen": row["last_seen"],
            }
        )
    rows.sort(key=lambda r: (r["mapping"] is not None, -r["kept"], r["event_key"]))
    return rows


def lead_visitors(lead: Lead) -> QuerySet[Visitor]:
    """The lead's visitors (devices identified as this lead), first seen
    first, with their source and first-touch campaign."""
    return (
        Visitor.objects.filter(lead=lead)
        .select_related("source", "campaign")
        .order_by("first_seen_at", "id")
    )
