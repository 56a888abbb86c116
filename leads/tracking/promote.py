"""Kept tracked events of known leads made into touchpoints.

Used when a visitor is identified (its mapped history) and when an event
name gets a kind (the kept events of that name that have a lead). Each
event becomes a touchpoint of its source (``tracking:<id>``) with its
``message_id`` as ``external_id``, its original time, campaign and
properties, through ``leads.ingestion.touchpoints_ingest`` (one call per
source and chunk), then the event row is deleted: a message is either a
TrackedEvent or a touchpoint, never both.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Sequence

from leads.ingestion import BATCH_LIMIT, TouchpointIn, touchpoints_ingest
from leads.models import (
    BEFORE_IDENTIFICATION,
    TRACKING_SOURCE_PREFIX,
    TrackedEvent,
)

logger = logging.getLogger(__name__)

#: Room kept in a touchpoint's properties for what promotion adds
#: (BEFORE_IDENTIFICATION and the anonymous id).
PROMOTION_RESERVE_BYTES = 512


def tracked_event_properties(event: TrackedEvent, anonymous_id: str | None) -> dict:
    """The touchpoint properties of a kept event: its own, plus
    ``before_identification`` and ``anonymous_id`` when it was sent before
    its visitor was identified (``anonymous_id`` given)."""
    properties = dict(event.properties)
    if anonymous_id is not None:
        properties[BEFORE_IDENTIFICATION] = True
        properties["anonymous_id"] = anonymous_id
    return properties


def tracked_events_promote(
    events: Sequence[TrackedEvent],
    *,
    kinds: dict[int, str],
    anonymous_ids: dict[int, str],
    now: dt.datetime,
) -> int:
    """Make ``events`` (each with a lead) touchpoints of ``kinds[event.id]``
    and delete them; return how many became (or already were) touchpoints.

    ``anonymous_ids`` names, per event id, the anonymous id of the visitor
    for history from before identification. Call inside the caller's
    transaction (it holds the lead's lock when stitching). An event refused
    by ingestion (its lead erased meanwhile) stays as it is and is logged.
    Marks the leads for a rescore (through ingestion).
    """
    by_source: dict[int, list[TrackedEvent]] = defaultdict(list)
    for event in events:
        by_source[event.source_id].append(event)
    done: list[int] = []
    for source_id, group in by_source.items():
        for start in range(0, len(group), BATCH_LIMIT):
            chunk = group[start : start + BATCH_LIMIT]
            items = [
                TouchpointIn(
                    kind=kinds[event.id],
                    occurred_at=event.occurred_at,
                    lead_id=event.lead_id,
                    campaign_id=event.campaign_id,
                    properties=tracked_event_properties(
                        event, anonymous_ids.get(event.id)
                    ),
                    external_id=event.message_id,
                )
                for event in chunk
            ]
            outcomes = touchpoints_ingest(
                items=items, source=f"{TRACKING_SOURCE_PREFIX}{source_id}", now=now
            )
            for event, outcome in zip(chunk, outcomes, strict=True):
                if outcome.status in {"created", "duplicate"}:
                    done.append(event.id)
                else:
                    logger.warning(
                        "tracked event %s not promoted (%s): %s",
                        event.id,
                        outcome.status,
                        outcome.errors,
                    )
    if done:
        TrackedEvent.objects.filter(id__in=done).delete()
    return len(done)
