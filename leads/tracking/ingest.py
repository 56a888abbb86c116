"""Checked tracking messages stored, set-based: a fixed number of queries
per request whatever the number of events, besides one transaction per
identification.

Per request, when a message may identify someone (an e-mail, a token, a
userId, a previousId): the visitors (read, the missing ones created), then
the identifications (``leads.tracking.stitching``), then in one transaction
the events, their visitors locked again. Otherwise, on PostgreSQL (the
common request: page views and events of a browser), the visitors are not
read before the transaction: one visitor is created or locked by one upsert
that also reads the messageIds already stored; several are created in one
statement and locked in id order. Then an identified visitor's mapped
events become touchpoints through ``leads.ingestion.touchpoints_ingest``
(source ``tracking:<id>``, ``external_id`` the messageId), every other
event is a TrackedEvent (inserted ignoring a messageId already stored), and
the visitors' counters move, the tracked events and the counters in one
statement. An anonymous page view or event costs three statements: the
source with the event mappings (``selectors.source_and_kinds_for_write_key``),
then in one transaction the upsert and that store. A messageId already
stored, as a touchpoint or as a tracked event, changes nothing. A bot's
events and an anonymous visitor's beyond ANONYMOUS_EVENTS_CAP are counted
(visitor and source), never stored.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import F, Field
from django.utils import timezone

from leads.edit_scope import UTM_FIELDS
from leads.ingestion import BATCH_LIMIT, TouchpointIn, touchpoints_ingest
from leads.models import (
    BEFORE_IDENTIFICATION,
    Campaign,
    Lead,
    Touchpoint,
    TrackedEvent,
    TrackingSource,
    Visitor,
)
from leads.tracking.bots import is_bot_user_agent
from leads.tracking.links import lead_from_token
from leads.tracking.mapping import EventKinds, event_kinds_load
from leads.tracking.protocol import (
    USER_KEY_PREFIX,
    Message,
    lead_fields_from_traits,
)
from leads.tracking.stitching import visitor_identify

logger = logging.getLogger(__name__)

#: Anonymous events stored per visitor; later ones are counted only. A
#: person browsing for months stays far below; a script replaying one
#: anonymous id cannot fill the table.
ANONYMOUS_EVENTS_CAP = 1_000
#: A visitor sending more than BURST_LIMIT events within BURST_WINDOW is a
#: bot (marked, nothing more stored): no person triggers five events a
#: second for a minute, while a page load with a few tracked clicks is
#: far below.
BURST_WINDOW = dt.timedelta(minutes=1)
BURST_LIMIT = 300


@dataclass
class IngestResult:
    """What one request's messages did."""

    received: int = 0
    # Events stored now, as touchpoints or tracked events (a repeat of a
    # stored messageId is not counted).
    stored: int = 0
    duplicates: int = 0
    # Counted, not stored: a bot's, or beyond a visitor's cap.
    dropped: int = 0
    identified: int = 0
    # Identifications the sender asked for that could not be made (a token
    # expired, an e-mail refused): index -> why.
    notes: dict[int, str] = field(default_factory=dict)


def messages_ingest(
    *,
    source: TrackingSource,
    messages: Sequence[Message],
    user_agent: str = "",
    kinds: EventKinds | None = None,
    now: dt.datetime | None = None,
) -> IngestResult:
    """Store checked messages of ``source``; see the module's docstring.

    ``user_agent`` is the HTTP client's (a browser's, when the request came
    with an Origin), used for messages that name none in their context.
    ``kinds`` are the event mappings read with the source (else read here).
    Idempotent by messageId per source.
    """
    at = now or timezone.now()
    result = IngestResult(received=len(messages))
    if not messages:
        return result
    kinds = kinds or event_kinds_load()
    if _events_only(messages):
        _events_ingest(
            source, messages, kinds, user_agent=user_agent, result=result, now=at
        )
    else:
        visitors = _visitors_for(source, messages, user_agent=user_agent, now=at)
        moments = _identifications(source, messages, visitors, result=result, now=at)
        if any(m.is_event for m in messages):
            with transaction.atomic():
                _events_store(
                    source, messages, visitors, kinds, moments, result=result, now=at
                )
    if result.dropped:
        TrackingSource.objects.filter(pk=source.pk).update(
            dropped_count=F("dropped_count") + result.dropped
        )
    return result


def _events_only(messages: Sequence[Message]) -> bool:
    """Whether the messages are events that can identify nobody (no e-mail,
    token, userId or previousId): the common request, stored without
    reading the visitors before their lock (PostgreSQL)."""
    return connection.vendor == "postgresql" and all(
        m.is_event
        and m.email is None
        and not m.token
        and m.user_id is None
        and m.previous_id is None
        for m in messages
    )


def _events_ingest(
    source: TrackingSource,
    messages: Sequence[Message],
    kinds: EventKinds,
    *,
    user_agent: str,
    result: IngestResult,
    now: dt.datetime,
) -> None:
    """Store events that identify nobody (``_events_only``), their visitors
    created as needed. One visitor (a single call): created or locked, with
    the messageIds already stored, by one upsert inside the transaction.
    More: the missing ones created first in their own statement, then all
    locked in id order inside the transaction, as ``_events_store`` does."""
    firsts = _first_messages(messages)
    campaigns = _campaigns_by_utm(messages)
    new = [
        _visitor_new(
            source,
            key,
            firsts[key],
            user_agent=user_agent,
            now=now,
            campaigns=campaigns,
        )
        for key in sorted(firsts)
    ]
    if len(new) == 1:
        with transaction.atomic():
            visitor, known = _visitor_upsert_locked(
                new[0], source=source, message_ids={m.message_id for m in messages}
            )
            _events_store(
                source,
                messages,
                {visitor.anonymous_id: visitor},
                kinds,
                {},
                result=result,
                now=now,
                locked={visitor.id: visitor},
                known=known,
                campaigns=campaigns,
            )
        return
    _visitors_insert(new)
    with transaction.atomic():
        locked = {v.id: v for v in _visitors_lock(source, list(firsts))}
        _events_store(
            source,
            messages,
            {v.anonymous_id: v for v in locked.values()},
            kinds,
            {},
            result=result,
            now=now,
            locked=locked,
            campaigns=campaigns,
        )


def _visitors_for(
    source: TrackingSource,
    messages: Sequence[Message],
    *,
    user_agent: str,
    now: dt.datetime,
) -> dict[str, Visitor]:
    """The visitors the messages name, keyed by anonymous id; the missing
    ones created with their first touch (three queries at most)."""
    first = _first_messages(messages)
    found = {
        v.anonymous_id: v
        for v in Visitor.objects.filter(source=source, anonymous_id__in=list(first))
    }
    missing = [key for key in first if key not in found]
    if missing:
        campaigns = _campaigns_by_utm([first[k] for k in missing])
        new = [
            _visitor_new(
                source,
                key,
                first[key],
                user_agent=user_agent,
                now=now,
                campaigns=campaigns,
            )
            for key in sorted(missing)
        ]
        if connection.vendor == "postgresql":
            found.update((v.anonymous_id, v) for v in _visitors_insert(new))
        else:
            Visitor.objects.bulk_create(
                [Visitor(**row) for row in new], ignore_conflicts=True
            )
        # Made by another request meanwhile (or anywhere but on PostgreSQL).
        if late := [key for key in missing if key not in found]:
            found.update(
                (v.anonymous_id, v)
                for v in Visitor.objects.filter(source=source, anonymous_id__in=late)
            )
    return found


def _first_messages(messages: Sequence[Message]) -> dict[str, Message]:
    """Per anonymous id the messages name, the message of its first touch."""
    first: dict[str, Message] = {}
    for message in sorted(messages, key=lambda m: m.occurred_at):
        keys = [message.visitor_key]
        if message.previous_id:
            keys.append(message.previous_id)
        for key in keys:
            current = first.get(key)
            # The first event is the first touch; an identify only if alone.
            if current is None or (not current.is_event and message.is_event):
                first[key] = message
    return first


def _visitor_new(
    source: TrackingSource,
    key: str,
    message: Message,
    *,
    user_agent: str,
    now: dt.datetime,
    campaigns: dict[tuple[str, str, str], int],
) -> dict[str, Any]:
    """The field values of visitor ``key`` as its first message makes it."""
    agent = message.user_agent or user_agent
    row: dict[str, Any] = {
        "source_id": source.pk,
        "anonymous_id": key,
        "first_seen_at": min(message.occurred_at, now),
        "last_seen_at": now,
        "user_agent": agent[:500],
        "is_bot": bool(agent) and is_bot_user_agent(agent),
    }
    if message.is_event:
        row["referrer"] = message.referrer
        row["landing_url"] = message.url
        row.update(message.utm)
        row["campaign_id"] = campaigns.get(_utm_key(message))
    return row


def _json_value(value: object) -> str:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON")


def _rows_json(fields: Sequence[Field], rows: Sequence[dict[str, Any]]) -> str:
    """``rows`` (field values by attname, a field left out taking its
    default) as one JSON array keyed by column, for ``json_to_recordset``:
    one parameter whatever the number of rows, and json.dumps costs a
    fraction of what psycopg's per-element array and row adaptation costs."""
    named = [(f.attname, f.column, f.get_default()) for f in fields]
    return json.dumps(
        [
            {column: row.get(name, default) for name, column, default in named}
            for row in rows
        ],
        default=_json_value,
    )


def _recordset(fields: Sequence[Field]) -> str:
    """The column definition list of ``json_to_recordset`` for ``fields``."""
    return ", ".join(f"{f.column} {f.db_type(connection)}" for f in fields)


@functools.cache
def _visitor_fields() -> list[Field]:
    return [f for f in Visitor._meta.concrete_fields if not f.primary_key]


#: The missing visitors created (one statement, in anonymous id order, as
#: ``bulk_create`` did); a visitor another request creates meanwhile is
#: kept: theirs is as good.
_VISITORS_INSERT_SQL = """
    INSERT INTO {visitor} ({columns})
    SELECT {columns} FROM json_to_recordset(%s::json) AS r({recordset})
    ORDER BY r.anonymous_id
    ON CONFLICT (source_id, anonymous_id) DO NOTHING
    RETURNING {returning}
"""


@functools.cache
def _visitors_insert_sql() -> str:
    fields = _visitor_fields()
    # Only table and column names and types are formatted in; values are a
    # parameter.
    return _VISITORS_INSERT_SQL.format(  # nosec B608
        visitor=Visitor._meta.db_table,
        columns=", ".join(f.column for f in fields),
        recordset=_recordset(fields),
        returning=", ".join(f.column for f in Visitor._meta.concrete_fields),
    )


def _visitors_insert(rows: list[dict[str, Any]]) -> list[Visitor]:
    """Create the visitors of ``rows`` (``_visitor_new``) that do not exist,
    in one statement (PostgreSQL); returns those created here."""
    every = Visitor._meta.concrete_fields
    with connection.cursor() as cursor:
        cursor.execute(_visitors_insert_sql(), [_rows_json(_visitor_fields(), rows)])
        created = cursor.fetchall()
    names = [f.attname for f in every]
    return [Visitor.from_db(connection.alias, names, row) for row in created]


#: The source's visitors with these anonymous ids (a JSON array), locked FOR
#: NO KEY UPDATE in id order, as ``stitching.visitors_lock`` takes them.
_LOCK_SQL = """
    SELECT {columns} FROM {visitor}
    WHERE source_id = %s AND anonymous_id = ANY(
        ARRAY(SELECT json_array_elements_text(%s::json)))
    ORDER BY id
    FOR NO KEY UPDATE
"""


@functools.cache
def _lock_sql() -> str:
    # Only table and column names are formatted in; values are parameters.
    return _LOCK_SQL.format(  # nosec B608
        columns=", ".join(f.column for f in Visitor._meta.concrete_fields),
        visitor=Visitor._meta.db_table,
    )


def _visitors_lock(source: TrackingSource, keys: list[str]) -> list[Visitor]:
    """``stitching.visitors_lock`` in one written-out statement (PostgreSQL):
    the ORM's building of a long IN list cost more than running it."""
    every = Visitor._meta.concrete_fields
    with connection.cursor() as cursor:
        cursor.execute(_lock_sql(), [source.pk, json.dumps(keys)])
        rows = cursor.fetchall()
    names = [f.attname for f in every]
    return [Visitor.from_db(connection.alias, names, row) for row in rows]


#: A visitor created, or locked FOR NO KEY UPDATE (an ON CONFLICT DO UPDATE
#: of no key column takes that lock, on the latest committed row), and the
#: source's messageIds among those sent, in one statement. The messageIds
#: are read in the statement's snapshot: one a concurrent request stores
#: while this waits for the lock is missed, and the inserts' own conflict
#: handling (ON CONFLICT, ``touchpoints_ingest``) keeps it from a second row.
_UPSERT_SQL = """
    WITH v AS (
        INSERT INTO {visitor} AS t ({columns})
        SELECT {columns} FROM json_to_recordset(%s::json) AS r({recordset})
        ON CONFLICT (source_id, anonymous_id)
        DO UPDATE SET last_seen_at = t.last_seen_at
        RETURNING {returning}
    )
    SELECT v.*, ARRAY({known}) FROM v
"""
#: The messageIds among those sent (a JSON array) that the source stored
#: already, as a touchpoint or as a tracked event; each side an index scan
#: of its unique (source, id) index.
_KNOWN_SQL = """
    SELECT external_id FROM {touchpoint}
    WHERE source = %s AND external_id = ANY(
        ARRAY(SELECT json_array_elements_text(%s::json)))
    UNION ALL
    SELECT message_id FROM {tracked}
    WHERE source_id = %s AND message_id = ANY(
        ARRAY(SELECT json_array_elements_text(%s::json)))
"""


@functools.cache
def _known_sql() -> str:
    # Only table names are formatted in; values are parameters.
    return _KNOWN_SQL.format(  # nosec B608
        touchpoint=Touchpoint._meta.db_table, tracked=TrackedEvent._meta.db_table
    )


def _known_params(source: TrackingSource, message_ids: set[str]) -> list[object]:
    ids = json.dumps(sorted(message_ids))
    return [source.touchpoint_source, ids, source.pk, ids]


def _known_read(source: TrackingSource, message_ids: set[str]) -> set[str]:
    """The messageIds of ``message_ids`` the source stored already."""
    if connection.vendor != "postgresql":
        return set(
            Touchpoint.objects.filter(
                source=source.touchpoint_source, external_id__in=message_ids
            )
            .order_by()
            .values_list("external_id", flat=True)
            .union(
                TrackedEvent.objects.filter(source=source, message_id__in=message_ids)
                .order_by()
                .values_list("message_id", flat=True),
                all=True,
            )
        )
    with connection.cursor() as cursor:
        cursor.execute(_known_sql(), _known_params(source, message_ids))
        return {row[0] for row in cursor.fetchall()}


@functools.cache
def _upsert_sql() -> str:
    fields = _visitor_fields()
    # Only table and column names and types are formatted in; values are
    # parameters.
    return _UPSERT_SQL.format(  # nosec B608
        visitor=Visitor._meta.db_table,
        columns=", ".join(f.column for f in fields),
        recordset=_recordset(fields),
        returning=", ".join(f"t.{f.column}" for f in Visitor._meta.concrete_fields),
        known=_known_sql(),
    )


def _visitor_upsert_locked(
    row: dict[str, Any], *, source: TrackingSource, message_ids: set[str]
) -> tuple[Visitor, set[str]]:
    """Create the visitor of ``row`` (``_visitor_new``) or lock the stored
    one (inside the caller's transaction); returns the visitor as stored and
    the messageIds of ``message_ids`` already stored for ``source``."""
    every = Visitor._meta.concrete_fields
    params = [_rows_json(_visitor_fields(), [row])]
    params += _known_params(source, message_ids)
    with connection.cursor() as cursor:
        cursor.execute(_upsert_sql(), params)
        stored = cursor.fetchone()
    visitor = Visitor.from_db(
        connection.alias, [f.attname for f in every], stored[: len(every)]
    )
    return visitor, set(stored[len(every)])


def _utm_key(message: Message) -> tuple[str, str, str]:
    return (
        message.utm.get("utm_source", ""),
        message.utm.get("utm_medium", ""),
        message.utm.get("utm_campaign", ""),
    )


def _campaigns_by_utm(messages: Sequence[Message]) -> dict[tuple[str, str, str], int]:
    """Campaign id per UTM keys (one query), as ``touchpoints_ingest`` matches
    them: all three keys equal, the campaign name required."""
    names = {m.utm["utm_campaign"] for m in messages if m.utm.get("utm_campaign")}
    if not names:
        return {}
    return {
        (c.utm_source, c.utm_medium, c.utm_campaign): c.id
        for c in Campaign.objects.filter(utm_campaign__in=names)
    }


def _identifications(
    source: TrackingSource,
    messages: Sequence[Message],
    visitors: dict[str, Visitor],
    *,
    result: IngestResult,
    now: dt.datetime,
) -> dict[str, dt.datetime]:
    """Identify the visitors the messages name, each (visitor, e-mail) once
    per request, skipping a visitor already this e-mail's lead. Returns, per
    anonymous id identified here, the time of the message that identified
    it: the events of the same request sent before it are history from
    before identification."""
    moments: dict[str, dt.datetime] = {}
    if not any(m.email or m.token or m.user_id is not None for m in messages):
        return moments  # nothing here can identify anyone: spare the query
    lead_emails = dict(
        Lead.objects.filter(
            id__in={v.lead_id for v in visitors.values() if v.lead_id}
        ).values_list("id", "email")
    )
    done: set[tuple[str, str]] = set()
    for index, message in enumerate(messages):
        email = message.email
        if message.token and email is None:
            lead = lead_from_token(message.token)
            if lead is None:
                result.notes[index] = (
                    "context.leadflow_token is not valid or has expired; the "
                    "visitor stays anonymous."
                )
                continue
            email = lead.email
        keys = [message.visitor_key]
        if message.previous_id:
            keys = [message.previous_id, *keys]
        if email is None and message.user_id is not None:
            # An opaque userId identified before (identify with an e-mail)
            # names the lead of its ``user:`` visitor.
            user_visitor = visitors.get(f"{USER_KEY_PREFIX}{message.user_id}")
            if user_visitor is not None and user_visitor.lead_id:
                email = lead_emails.get(user_visitor.lead_id)
        if email is None:
            continue
        if (
            message.user_id is not None
            and message.anonymous_id is not None
            and "@" not in message.user_id
        ):
            # Remember an opaque userId, so its later messages without an
            # anonymousId (server SDKs) reach the same lead; an e-mail as
            # userId names its lead by itself.
            keys.append(f"{USER_KEY_PREFIX}{message.user_id}")
        keys = [k for k in dict.fromkeys(keys) if (k, email.lower()) not in done]
        if not keys:
            continue
        done.update((k, email.lower()) for k in keys)
        known = [visitors.get(k) for k in keys]
        if any(v is not None and v.is_bot for v in known):
            result.notes[index] = "Sent by a bot; the visitor stays anonymous."
            continue
        if (
            message.type != "identify"
            and all(v is not None and v.lead_id for v in known)
            and all(
                lead_emails.get(v.lead_id, "").lower() == email.lower()
                for v in known
                if v is not None
            )
        ):
            continue  # already this lead's: nothing to do
        try:
            identification = visitor_identify(
                source=source,
                anonymous_ids=keys,
                email=email,
                fields=lead_fields_from_traits(message.traits),
                now=now,
            )
        except ValidationError as exc:
            result.notes[index] = "The e-mail cannot identify a lead: " + " ".join(
                exc.messages
            )
            continue
        if identification.linked:
            result.identified += 1
        lead_emails[identification.lead.id] = identification.lead.email
        for key in keys:
            if key in visitors:
                visitors[key].lead_id = identification.lead.id
            moments.setdefault(key, message.occurred_at)
    return moments


def _events_store(
    source: TrackingSource,
    messages: Sequence[Message],
    visitors: dict[str, Visitor],
    kinds: EventKinds,
    moments: dict[str, dt.datetime],
    *,
    result: IngestResult,
    now: dt.datetime,
    locked: dict[int, Visitor] | None = None,
    known: set[str] | None = None,
    campaigns: dict[tuple[str, str, str], int] | None = None,
) -> None:
    """Store the events (inside the caller's transaction). ``locked``: the
    event visitors by id when the caller locked them already; ``known``: the
    messageIds already stored when the caller read them under those locks;
    ``campaigns``: when the caller read them for these events."""
    events = [m for m in messages if m.is_event]
    # The event visitors first, locked FOR NO KEY UPDATE in id order and read
    # again: whether each is identified is decided under the lock, so an
    # identification running now either commits first (its lead is read
    # here) or waits and then moves the events stored here. Stitching takes
    # the visitors before the lead too, so neither waits on the other in a
    # circle.
    event_ids = sorted({visitors[m.visitor_key].id for m in events})
    if locked is None:
        locked = {
            v.id: v
            for v in Visitor.objects.filter(id__in=event_ids)
            .order_by("id")
            .select_for_update(no_key=True)
        }
    for key, visitor in list(visitors.items()):
        if visitor.id in locked:
            visitors[key] = locked[visitor.id]
    touchpoint_source = source.touchpoint_source
    if known is None:
        known = _known_read(source, {m.message_id for m in events})
    if campaigns is None:
        campaigns = _campaigns_by_utm(events)
    seen: set[str] = set(known)
    result.duplicates += sum(1 for m in events if m.message_id in known)
    received: dict[int, list[Message]] = {}
    pending: dict[int, int] = {}
    touchpoints: list[TouchpointIn] = []
    # The TrackedEvent rows, as field values (no model instances).
    tracked: list[dict[str, Any]] = []
    for message in events:
        visitor = visitors[message.visitor_key]
        received.setdefault(visitor.id, []).append(message)
        if message.message_id in seen:
            continue
        seen.add(message.message_id)
        if visitor.is_bot:
            result.dropped += 1
            continue
        kind = kinds.kind_for(message.event_key, page=message.type != "track")
        if visitor.lead_id and kind:
            identified_at = moments.get(message.visitor_key)
            properties = message.properties
            if identified_at is not None and message.occurred_at < identified_at:
                # Sent before the identify of the same request (a batch):
                # history from before identification, marked as stitched
                # history is.
                properties = {
                    **properties,
                    BEFORE_IDENTIFICATION: True,
                    "anonymous_id": message.visitor_key,
                }
            touchpoints.append(
                TouchpointIn(
                    kind=kind,
                    occurred_at=message.occurred_at,
                    lead_id=visitor.lead_id,
                    utm_source=message.utm.get("utm_source", "")[:100],
                    utm_medium=message.utm.get("utm_medium", "")[:100],
                    utm_campaign=message.utm.get("utm_campaign", ""),
                    properties=properties,
                    external_id=message.message_id,
                )
            )
            continue
        if not visitor.lead_id:
            stored_before = visitor.events_count + pending.get(visitor.id, 0)
            if stored_before >= ANONYMOUS_EVENTS_CAP:
                result.dropped += 1
                continue
            pending[visitor.id] = pending.get(visitor.id, 0) + 1
        tracked.append(
            {
                "source_id": source.pk,
                "visitor_id": visitor.id,
                "lead_id": visitor.lead_id,
                "event": message.event,
                "event_key": message.event_key,
                # Unmapped with a lead: kept for a mapping set later.
                "kind_id": kind if not visitor.lead_id else None,
                "occurred_at": message.occurred_at,
                "received_at": now,
                "campaign_id": campaigns.get(_utm_key(message)),
                "properties": message.properties,
                "message_id": message.message_id,
            }
        )
    outcomes = [
        outcome
        for start in range(0, len(touchpoints), BATCH_LIMIT)
        for outcome in touchpoints_ingest(
            items=touchpoints[start : start + BATCH_LIMIT],
            source=touchpoint_source,
            now=now,
            active_kinds=kinds.active,
        )
    ]
    for outcome in outcomes:
        if outcome.status == "created":
            result.stored += 1
        elif outcome.status == "duplicate":
            result.duplicates += 1
        else:
            logger.warning(
                "tracking source %s: event not recorded (%s): %s",
                source.pk,
                outcome.status,
                outcome.errors,
            )
    # In messageId order, as touchpoints: no deadlock on the index.
    tracked.sort(key=lambda e: e["message_id"])
    rows = [locked[i] for i in event_ids]
    first_touch = _visitors_count(rows, received, campaigns=campaigns, now=now)
    result.stored += _tracked_and_counters_write(tracked, rows, first_touch)


def _visitors_count(
    rows: list[Visitor],
    received: dict[int, list[Message]],
    *,
    campaigns: dict[tuple[str, str, str], int],
    now: dt.datetime,
) -> set[int]:
    """Move the visitors' counters (in memory): events received, last seen,
    the burst window, the bot mark for a visitor over BURST_LIMIT, and the
    first touch of a visitor that had none (known first by an identify).
    ``rows`` are the visitors locked by the caller; returns the ids of those
    whose first touch is set now."""
    lacking: set[int] = set()
    for visitor in rows:
        if not visitor.landing_url and any(m.url for m in received[visitor.id]):
            lacking.add(visitor.id)
            first = min(received[visitor.id], key=lambda m: m.occurred_at)
            visitor.landing_url = first.url
            visitor.referrer = first.referrer
            for name, value in first.utm.items():
                setattr(visitor, name, value)
            visitor.campaign_id = campaigns.get(_utm_key(first))
        count = len(received[visitor.id])
        visitor.events_count += count
        visitor.last_seen_at = max(visitor.last_seen_at, now)
        if (
            visitor.burst_started_at is None
            or now - visitor.burst_started_at >= BURST_WINDOW
        ):
            visitor.burst_started_at = now
            visitor.burst_count = count
        else:
            visitor.burst_count += count
        if visitor.burst_count > BURST_LIMIT and not visitor.is_bot:
            visitor.is_bot = True
            logger.warning(
                "visitor %s sent %s events within %s s: marked a bot",
                visitor.id,
                visitor.burst_count,
                int(BURST_WINDOW.total_seconds()),
            )
    return lacking


#: Fields of the first touch, set on a visitor that had none.
_FIRST_TOUCH = ("landing_url", "referrer", *UTM_FIELDS, "campaign_id")
#: The tracked events inserted and the visitors' counters (and first touch)
#: written in one statement on PostgreSQL, each side from one JSON parameter.
_STORE_SQL = """
    WITH ins AS (
        INSERT INTO {tracked} ({columns})
        SELECT {columns}
        FROM ROWS FROM (json_to_recordset(%s::json) AS ({recordset}))
             WITH ORDINALITY AS e({columns}, n)
        ORDER BY e.n
        ON CONFLICT (source_id, message_id) DO NOTHING
        RETURNING 1
    ), upd AS (
        UPDATE {visitor} AS v
        SET events_count = d.events_count, last_seen_at = d.last_seen_at,
            burst_started_at = d.burst_started_at, burst_count = d.burst_count,
            is_bot = d.is_bot,
            {first_touch}
        FROM json_to_recordset(%s::json) AS d({counters}, first boolean)
        WHERE v.id = d.id
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM ins), (SELECT count(*) FROM upd)
"""
#: The counters every request moves.
_COUNTERS = ("events_count", "last_seen_at", "burst_started_at", "burst_count")


@functools.cache
def _tracked_fields() -> list[Field]:
    return [f for f in TrackedEvent._meta.concrete_fields if not f.primary_key]


@functools.cache
def _counter_fields() -> list[Field]:
    names = ("id", *_COUNTERS, "is_bot", *_FIRST_TOUCH)
    return [Visitor._meta.get_field(n) for n in names]


@functools.cache
def _store_sql() -> str:
    tracked = _tracked_fields()
    counters = _counter_fields()
    first_touch = [f.column for f in counters if f.attname in _FIRST_TOUCH]
    # Only table and column names and types are formatted in; values are
    # parameters.
    return _STORE_SQL.format(  # nosec B608
        tracked=TrackedEvent._meta.db_table,
        visitor=Visitor._meta.db_table,
        columns=", ".join(f.column for f in tracked),
        recordset=_recordset(tracked),
        first_touch=",\n            ".join(
            f"{c} = CASE WHEN d.first THEN d.{c} ELSE v.{c} END" for c in first_touch
        ),
        counters=_recordset(counters),
    )


def _tracked_and_counters_write(
    tracked: list[dict[str, Any]], rows: list[Visitor], first_touch: set[int]
) -> int:
    """Insert the TrackedEvents of ``tracked`` (field values; a messageId
    already stored is skipped) and write the counters of ``rows`` (locked by
    the caller), with the first touch of those in ``first_touch``; returns
    the events inserted. One statement on PostgreSQL (``bulk_update``'s CASE
    per row and field costs more in Python than the statement costs the
    database); elsewhere ``bulk_create`` and ``bulk_update``."""
    if connection.vendor != "postgresql":
        if tracked:
            TrackedEvent.objects.bulk_create(
                [TrackedEvent(**e) for e in tracked], ignore_conflicts=True
            )
        first = [v for v in rows if v.id in first_touch]
        if first:
            Visitor.objects.bulk_update(
                first, ["landing_url", "referrer", *UTM_FIELDS, "campaign"]
            )
        if rows:
            Visitor.objects.bulk_update(rows, [*_COUNTERS, "is_bot"])
        return len(tracked)
    counter_fields = _counter_fields()
    counters = [
        {
            **{f.column: getattr(v, f.attname) for f in counter_fields},
            "first": v.id in first_touch,
        }
        for v in rows
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            _store_sql(),
            [
                _rows_json(_tracked_fields(), tracked),
                json.dumps(counters, default=_json_value),
            ],
        )
        inserted, _ = cursor.fetchone()
    return inserted
