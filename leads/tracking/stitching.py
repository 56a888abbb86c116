"""Identification: an anonymous visitor's history joins its lead.

A visitor is identified by an ``identify`` carrying an e-mail (in
``traits.email`` or as ``userId``), a message from a server SDK whose
``userId`` is an e-mail, a public web form submitted with the snippet's
anonymous id, or a signed e-mail-link token (``leads.tracking.links``).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from leads.edit_scope import UTM_FIELDS
from leads.models import Lead, TrackedEvent, TrackingSource, Visitor
from leads.rescore import rescore_announced_once
from leads.services import lead_fill_blanks
from leads.tracking.promote import tracked_events_promote

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Identification:
    """What identifying a visitor did."""

    lead: Lead
    lead_created: bool
    # Touchpoints made from the visitor's mapped history.
    moved: int
    # Whether the visitor was linked here (False: already this lead's).
    linked: bool


def _limited(fields: dict[str, Any]) -> dict[str, Any]:
    """Cut text values to the lead fields' lengths: a sender's long trait
    fills what fits rather than refusing the identification."""
    limited: dict[str, Any] = {}
    for name, value in fields.items():
        if isinstance(value, str):
            limit = Lead._meta.get_field(name).max_length
            value = value[:limit] if limit else value
        limited[name] = value
    return limited


def _fill_blanks(email: str, fields: dict[str, Any], now: dt.datetime) -> Any:
    """``lead_fill_blanks`` with what the sender gave; a value the lead
    refuses (a malformed phone, an unknown country) is left out rather
    than losing the identification."""
    given = _limited(fields)
    try:
        with transaction.atomic():
            return lead_fill_blanks(email=email, now=now, **given)
    except ValidationError as exc:
        refused = set(getattr(exc, "error_dict", {}))
        if not refused or "email" in refused:
            raise
        logger.info("identify: lead fields %s refused, left out", sorted(refused))
        return lead_fill_blanks(
            email=email,
            now=now,
            **{k: v for k, v in given.items() if k not in refused},
        )


def _visitors_ensure(source: TrackingSource, keys: list[str], now: dt.datetime) -> None:
    """Create the source's visitors with these anonymous ids when missing."""
    Visitor.objects.bulk_create(
        [
            Visitor(
                source=source, anonymous_id=key, first_seen_at=now, last_seen_at=now
            )
            for key in sorted(set(keys))
        ],
        ignore_conflicts=True,
    )


def visitors_lock(source: TrackingSource, anonymous_ids: list[str]) -> list[Visitor]:
    """The source's visitors with these anonymous ids, locked FOR NO KEY
    UPDATE in id order (tracked events may still be inserted for them). Call
    inside a transaction, before locking any lead."""
    return list(
        Visitor.objects.filter(source=source, anonymous_id__in=anonymous_ids)
        .order_by("id")
        .select_for_update(no_key=True)
    )


def visitor_identify(
    *,
    source: TrackingSource,
    anonymous_ids: list[str],
    email: str,
    fields: dict[str, Any] | None = None,
    now: dt.datetime | None = None,
) -> Identification:
    """Link the source's visitors ``anonymous_ids`` (created when unknown) to
    the lead with ``email``, in one transaction.

    The lead is created, or only its blank fields are filled with
    ``fields`` (``lead_fill_blanks``: an anonymous sender never overwrites
    a known lead; it locks the lead row first), and its first-touch UTM
    keys are set from the first visitor's when it has none. Each visitor's
    mapped history becomes touchpoints (original times and campaigns,
    ``before_identification: true`` and ``anonymous_id`` in properties),
    its unmapped events get the lead, and the lead is announced once after
    commit (one rescore). The visitors are locked before the lead (the
    order every tracking write takes). A visitor already this lead's is left
    as it is,
    so a repeat, or two requests identifying the same visitor at once,
    changes nothing more; a visitor of another lead (a shared device) is
    relinked for what it sends from now on, its earlier history staying
    with the first lead. Raises ValidationError for an e-mail the lead
    services refuse.
    """
    at = now or timezone.now()
    with transaction.atomic(), rescore_announced_once():
        _visitors_ensure(source, anonymous_ids, at)
        # The visitors' locks first (FOR NO KEY UPDATE, id order), then the
        # lead's (lead_fill_blanks): ingestion of events takes the visitors
        # before the leads too, so neither waits on the other in a circle.
        visitors = visitors_lock(source, anonymous_ids)
        first = min(visitors, key=lambda v: (v.first_seen_at, v.id))
        utm = {name: value for name in UTM_FIELDS if (value := getattr(first, name))}
        filled = _fill_blanks(email, {**(fields or {}), **utm}, at)
        lead = filled.lead
        moved = 0
        linked = False
        for visitor in visitors:
            if visitor.lead_id == lead.id:
                continue
            linked = True
            moved += _history_move(visitor, lead, at)
            visitor.lead = lead
            visitor.identified_at = at
            visitor.save(update_fields=["lead", "identified_at"])
    if linked:
        logger.info(
            "tracking source %s: %s visitors identified as lead %s, %s touchpoints "
            "from their history",
            source.pk,
            len(visitors),
            lead.id,
            moved,
        )
    return Identification(
        lead=lead, lead_created=filled.created, moved=moved, linked=linked
    )


def _history_move(visitor: Visitor, lead: Lead, now: dt.datetime) -> int:
    """Give ``visitor``'s anonymous events to ``lead``: the mapped ones
    become touchpoints, the unmapped ones get the lead. Returns the
    touchpoints made."""
    anonymous = TrackedEvent.objects.filter(visitor=visitor, lead__isnull=True)
    mapped = list(anonymous.filter(kind__isnull=False).order_by("id"))
    for event in mapped:
        event.lead_id = lead.id
    moved = tracked_events_promote(
        mapped,
        kinds={e.id: e.kind_id for e in mapped},
        anonymous_ids=dict.fromkeys((e.id for e in mapped), visitor.anonymous_id),
        now=now,
    )
    anonymous.filter(kind__isnull=True).update(lead=lead)
    if moved < len(mapped):
        # Refused by ingestion: kept with the lead, as unmapped ones are.
        TrackedEvent.objects.filter(
            id__in=[e.id for e in mapped], lead__isnull=True
        ).update(lead=lead)
    return moved


def visitor_identify_safely(**kwargs: Any) -> Identification | None:
    """``visitor_identify`` that logs and returns None when the e-mail is
    refused or a concurrent write of the same rows conflicts, for callers
    that must not fail because of it (the public form)."""
    try:
        return visitor_identify(**kwargs)
    except (ValidationError, IntegrityError) as exc:
        logger.info("visitor not identified: %r", exc)
        return None
