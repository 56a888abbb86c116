"""Tracking's write use-cases: sources (create, edit, rotate the write key)
and event mappings (set, delete).

Each is one transaction with its one audit row; bad input raises
ValidationError (messages in the user's words, keyed by field) and changes
nothing.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from crm.common.text import text_problem
from leads.audit import audit_record
from leads.capture import normalize_origin
from leads.models import (
    AuditEvent,
    EventMapping,
    TouchpointKind,
    TrackedEvent,
    TrackingSource,
    Visitor,
    event_key,
)
from leads.tracking.mapping import PAGE_EVENT, event_kinds_load
from leads.tracking.promote import tracked_events_promote

logger = logging.getLogger(__name__)

#: Prefix of every write key, so a leaked one is recognisable in code scans.
WRITE_KEY_PREFIX = "lf_"
#: How long the previous write key keeps working after a rotation, so the
#: sites and servers using it can be updated without losing events.
PREVIOUS_KEY_GRACE = dt.timedelta(hours=24)
#: Longest retention a source may set (about ten years).
MAX_RETENTION_DAYS = 3_650
#: Kept events converted per query when an event name gets a kind.
PROMOTE_CHUNK = 1_000


def write_key_new() -> str:
    """A fresh write key: "lf_" and 32 URL-safe characters (192 random bits)."""
    return WRITE_KEY_PREFIX + secrets.token_urlsafe(24)


def _actor_row(actor: Any | None) -> Any | None:
    return actor if getattr(actor, "is_authenticated", False) else None


def _origins_checked(origins: list[str], errors: dict[str, list[str]]) -> str:
    """The origins normalised, one per line, duplicates dropped; problems
    land in ``errors["origins"]``."""
    seen: list[str] = []
    for raw in origins:
        if not raw.strip():
            continue
        try:
            origin = normalize_origin(raw)
        except ValidationError as exc:
            errors.setdefault("origins", []).extend(exc.messages)
            continue
        if origin not in seen:
            seen.append(origin)
    return "\n".join(seen)


def _source_checked_save(source: TrackingSource, errors: dict[str, list[str]]) -> None:
    """Check what the models' fields do not (a name, origins for a site,
    retention), then save; a name taken concurrently is reported the same way."""
    name = source.name.strip()
    source.name = name
    if not name:
        errors.setdefault("name", []).append("Give the source a name.")
    elif len(name) > 120:
        errors.setdefault("name", []).append("Use at most 120 characters.")
    elif problem := text_problem(name):
        errors.setdefault("name", []).append(problem)
    elif (
        TrackingSource.objects.filter(name__iexact=name).exclude(pk=source.pk).exists()
    ):
        errors.setdefault("name", []).append("Another tracking source has this name.")
    if source.kind not in TrackingSource.Kind.values:
        errors.setdefault("kind", []).append(
            f"Choose one of: {', '.join(TrackingSource.Kind.values)}."
        )
    if (
        source.kind == TrackingSource.Kind.SITE
        and not source.allowed_origins
        and "origins" not in errors
    ):
        errors.setdefault("origins", []).append(
            "A website source needs the origin of the site, such as "
            "https://www.example.com: browsers elsewhere cannot send with its key."
        )
    days = source.retention_days
    if not isinstance(days, int) or isinstance(days, bool):
        errors.setdefault("retention_days", []).append("Give a whole number of days.")
    elif not 1 <= days <= MAX_RETENTION_DAYS:
        errors.setdefault("retention_days", []).append(
            f"Keep anonymous history between 1 and {MAX_RETENTION_DAYS:,} days."
        )
    if errors:
        raise ValidationError(errors)
    try:
        with transaction.atomic():
            source.save()
    except IntegrityError as error:
        raise ValidationError(
            {"name": "Another tracking source was saved with this name."},
            code="conflict",
        ) from error


@transaction.atomic
def tracking_source_create(
    *,
    name: str,
    kind: str,
    origins: list[str],
    retention_days: int = 180,
    actor: Any | None,
) -> TrackingSource:
    """Create a tracking source with a fresh write key; audited
    (``tracking_create``).

    ``origins`` are normalised (``leads.capture.normalize_origin``); a
    website source needs at least one. Raises ValidationError keyed by
    ``name``, ``kind``, ``origins`` or ``retention_days``; nothing is stored
    then.
    """
    errors: dict[str, list[str]] = {}
    source = TrackingSource(
        name=name,
        kind=kind,
        write_key=write_key_new(),
        allowed_origins=_origins_checked(origins, errors),
        retention_days=retention_days,
        created_by=_actor_row(actor),
    )
    _source_checked_save(source, errors)
    audit_record(
        actor=actor,
        action=AuditEvent.Action.TRACKING_CREATE,
        details={"tracking_source_id": source.pk, "kind": source.kind},
    )
    logger.info("tracking source %s created (%s)", source.pk, source.kind)
    return source


@transaction.atomic
def tracking_source_update(
    *,
    source: TrackingSource,
    actor: Any | None,
    name: str | None = None,
    origins: list[str] | None = None,
    retention_days: int | None = None,
    is_active: bool | None = None,
) -> TrackingSource:
    """Change what is given (None: unchanged); audited (``tracking_edit``)
    with the names of the fields that changed, when any did.

    The row is locked for the check and the write; ``source`` is updated in
    place and returned. A deactivated source's keys are refused (401) until
    it is active again. Raises ValidationError as ``tracking_source_create``
    does; TrackingSource.DoesNotExist when it is gone.
    """
    row = TrackingSource.objects.select_for_update().get(pk=source.pk)
    errors: dict[str, list[str]] = {}
    wanted: dict[str, Any] = {}
    if name is not None:
        wanted["name"] = name.strip()
    if origins is not None:
        wanted["allowed_origins"] = _origins_checked(origins, errors)
    if retention_days is not None:
        wanted["retention_days"] = retention_days
    if is_active is not None:
        wanted["is_active"] = bool(is_active)
    changed = sorted(k for k, v in wanted.items() if getattr(row, k) != v)
    for key in changed:
        setattr(row, key, wanted[key])
    if changed or errors:
        _source_checked_save(row, errors)
        audit_record(
            actor=actor,
            action=AuditEvent.Action.TRACKING_EDIT,
            details={"tracking_source_id": row.pk, "fields": changed},
        )
    _copy_into(row, source)
    return source


def _copy_into(row: TrackingSource, source: TrackingSource) -> None:
    for field in TrackingSource._meta.concrete_fields:
        setattr(source, field.attname, getattr(row, field.attname))


@transaction.atomic
def tracking_source_rotate(
    *, source: TrackingSource, actor: Any | None, now: dt.datetime | None = None
) -> TrackingSource:
    """Give the source a new write key; audited (``tracking_rotate``).

    The key in use becomes the previous key and keeps working for
    PREVIOUS_KEY_GRACE (24 hours) after ``now``, so senders can switch
    without losing events; a key rotated out before that is no longer
    accepted. ``source`` is updated in place and returned.
    """
    at = now or timezone.now()
    row = TrackingSource.objects.select_for_update().get(pk=source.pk)
    row.previous_write_key = row.write_key
    row.previous_key_valid_until = at + PREVIOUS_KEY_GRACE
    row.write_key = write_key_new()
    row.save(
        update_fields=["write_key", "previous_write_key", "previous_key_valid_until"]
    )
    audit_record(
        actor=actor,
        action=AuditEvent.Action.TRACKING_ROTATE,
        details={"tracking_source_id": row.pk},
        at=at,
    )
    logger.info("tracking source %s write key rotated", row.pk)
    _copy_into(row, source)
    return source


def _event_checked(event: str) -> tuple[str, str]:
    name = (event or "").strip()
    key = event_key(name)
    if not key:
        raise ValidationError({"event": "Give the event name as it is sent."})
    if len(name) > 200:
        raise ValidationError({"event": "Use at most 200 characters."})
    if problem := text_problem(name):
        raise ValidationError({"event": problem})
    return name, key


@transaction.atomic
def event_mapping_set(
    *, event: str, kind: str | None, actor: Any | None, now: dt.datetime | None = None
) -> int:
    """Map an event name to a touchpoint kind (``kind`` None: ignore it on
    purpose); audited (``event_mapping_set``). Returns how many kept events
    were converted.

    The name matches as ``leads.models.event_key`` normalises it. The
    mapping row is created or changed (locked). Kept events of that name
    then follow it: with a kind, those with a lead become touchpoints of
    that kind (original time, campaign and properties; marked for a rescore)
    and the anonymous ones carry the kind, ready for identification; with
    None, the anonymous ones lose their kind and stay counted. Touchpoints
    made before stay. Running it twice converts nothing more. Raises
    ValidationError for a blank or too long name, or a kind that is not an
    active touchpoint kind.
    """
    at = now or timezone.now()
    name, key = _event_checked(event)
    if (
        kind is not None
        and not TouchpointKind.objects.filter(code=kind, is_active=True).exists()
    ):
        raise ValidationError({"kind": f"There is no active touchpoint kind {kind!r}."})
    mapping = EventMapping.objects.select_for_update().filter(event_key=key).first()
    if mapping is None:
        try:
            with transaction.atomic():
                mapping = EventMapping.objects.create(
                    event_key=key,
                    event=name,
                    kind_id=kind,
                    created_at=at,
                    updated_at=at,
                    updated_by=_actor_row(actor),
                )
        except IntegrityError:
            # Created concurrently: take it and set it like any other.
            mapping = EventMapping.objects.select_for_update().get(event_key=key)
    if mapping.kind_id != kind or mapping.updated_at != at:
        mapping.kind_id = kind
        mapping.updated_at = at
        mapping.updated_by = _actor_row(actor)
        mapping.save(update_fields=["kind", "updated_at", "updated_by"])
    converted = _kept_events_follow(key, kind, now=at)
    audit_record(
        actor=actor,
        action=AuditEvent.Action.EVENT_MAPPING_SET,
        details={"event_mapping_id": mapping.pk, "kind": kind, "converted": converted},
        at=at,
    )
    return converted


def _kept_events_follow(key: str, kind: str | None, *, now: dt.datetime) -> int:
    """Apply the kind of ``key`` to its kept events; how many got a kind."""
    # Anonymous history (no lead) carries its kind until identification.
    anonymous = TrackedEvent.objects.filter(event_key=key, lead__isnull=True)
    converted = anonymous.exclude(kind_id=kind).update(kind_id=kind)
    if kind is None:
        return 0
    converted_with_lead = 0
    while True:
        chunk = list(
            TrackedEvent.objects.filter(
                event_key=key, lead__isnull=False, kind__isnull=True
            )
            .select_related("visitor")
            .order_by("id")[:PROMOTE_CHUNK]
        )
        if not chunk:
            break
        anonymous_ids = {
            e.id: e.visitor.anonymous_id
            for e in chunk
            if e.visitor is not None
            and e.visitor.identified_at is not None
            and e.occurred_at < e.visitor.identified_at
        }
        promoted = tracked_events_promote(
            chunk,
            kinds=dict.fromkeys((e.id for e in chunk), kind),
            anonymous_ids=anonymous_ids,
            now=now,
        )
        converted_with_lead += promoted
        if promoted < len(chunk):
            # Refused ones stay unmapped; stop rather than read them again.
            break
    return converted + converted_with_lead


@transaction.atomic
def event_mapping_delete(
    *, mapping: EventMapping, actor: Any | None, now: dt.datetime | None = None
) -> None:
    """Delete an event mapping; audited (``event_mapping_delete``).

    The name then means what the default rules say (a kind's code or label,
    else unmapped): the anonymous kept events of that name follow; the
    touchpoints made meanwhile stay. Raises EventMapping.DoesNotExist when
    it is gone.
    """
    at = now or timezone.now()
    row = EventMapping.objects.select_for_update().get(pk=mapping.pk)
    key = row.event_key
    row.delete()
    kind = event_kinds_load().kind_for(key, page=key == PAGE_EVENT)
    TrackedEvent.objects.filter(event_key=key, lead__isnull=True).exclude(
        kind_id=kind
    ).update(kind_id=kind)
    audit_record(
        actor=actor,
        action=AuditEvent.Action.EVENT_MAPPING_DELETE,
        details={"event_mapping_id": mapping.pk, "event_key": key},
        at=at,
    )


#: Rows deleted per statement by retention, so no delete holds many locks or
#: runs long while the snippet keeps sending.
RETENTION_BATCH = 5_000


def tracking_retention_apply(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Delete what each source keeps only ``retention_days``: its visitors
    never identified and not seen since (their events go with them), and
    its unmapped events older than that (kept for a mapping that never
    came). Returns the counts deleted (``visitors``, ``events``).

    Deletes in batches of RETENTION_BATCH, each its own transaction, so a
    large backlog never holds locks long; a second run deletes only what
    became old since. A visitor identified meanwhile is not deleted (the
    condition is checked in the DELETE itself).
    """
    at = now or timezone.now()
    deleted = {"visitors": 0, "events": 0}
    for source in TrackingSource.objects.order_by("id"):
        cutoff = at - dt.timedelta(days=source.retention_days)
        deleted["visitors"] += _delete_in_batches(
            Visitor.objects.filter(
                source=source, lead__isnull=True, last_seen_at__lt=cutoff
            )
        )
        deleted["events"] += _delete_in_batches(
            TrackedEvent.objects.filter(
                source=source, kind__isnull=True, occurred_at__lt=cutoff
            )
        )
    if any(deleted.values()):
        logger.info(
            "tracking retention: %s visitors and %s unmapped events deleted",
            deleted["visitors"],
            deleted["events"],
        )
    return deleted


def _delete_in_batches(queryset: Any) -> int:
    label = queryset.model._meta.label
    total = 0
    while True:
        batch = queryset.order_by("id").values_list("id", flat=True)
        ids = list(batch[:RETENTION_BATCH])
        if not ids:
            return total
        with transaction.atomic():
            # The conditions hold in the DELETE too: a visitor identified
            # since the read stays (and is not read again).
            _, by_model = queryset.filter(id__in=ids).delete()
        total += by_model.get(label, 0)
