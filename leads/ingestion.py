"""Ingestion: leads and touchpoints arriving from the API, web forms and imports.

Everything here is set-based: a batch of touchpoints costs a fixed number of
queries (kinds, leads by id, leads by e-mail, campaigns, known external ids,
one insert), never one per item. Every write marks the affected leads for a
rescore in the same transaction and, after commit, sends
``leads.signals.leads_changed`` once (ARCHITECTURE.md, reliability rule 1).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Field
from django.db.models.functions import Lower
from django.utils import timezone

from crm.common.text import text_problem
from leads.accounts import accounts_for_domains
from leads.attribution_marks import attribution_days_mark
from leads.emails import normalize_email
from leads.models import Campaign, Lead, Touchpoint, TouchpointKind
from leads.rescore import leads_mark_for_rescore

logger = logging.getLogger(__name__)

#: Most touchpoints one batch may carry (the API contract).
BATCH_LIMIT = 1_000
#: Largest ``properties`` / ``attributes`` object, as compact UTF-8 JSON. Big
#: enough for a page URL, referrer and a few form fields; small enough that a
#: batch of 1,000 stays a few MB.
MAX_JSON_BYTES = 16_384
#: Deepest nesting accepted in free-form JSON.
MAX_JSON_DEPTH = 10
#: How far in the future ``occurred_at`` may lie: senders' clocks drift.
CLOCK_SKEW = dt.timedelta(minutes=5)
#: The earliest ``occurred_at`` that makes sense for marketing activity.
EARLIEST_OCCURRED_AT = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


# Input checks shared by the API, forms and imports
# ------------------------------------------------------------------------------


def json_object_problem(value: Any, *, max_bytes: int = MAX_JSON_BYTES) -> str | None:
    """Why a free-form JSON object cannot be stored, or None when it can."""
    if not isinstance(value, dict):
        return 'Send a JSON object such as {"key": "value"}.'
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            return f"Nest objects at most {MAX_JSON_DEPTH} levels deep."
        if isinstance(item, dict):
            for key, child in item.items():
                if problem := text_problem(str(key)):
                    return problem
                stack.append((child, depth + 1))
        elif isinstance(item, list):
            stack.extend((child, depth + 1) for child in item)
        elif isinstance(item, str) and (problem := text_problem(item)):
            return problem
    size = len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
    if size > max_bytes:
        return f"Keep it under {max_bytes:,} bytes of JSON (this one has {size:,})."
    return None


# Leads by e-mail, in bulk
# ------------------------------------------------------------------------------


def leads_for_emails(
    emails: Iterable[str], *, now: dt.datetime
) -> tuple[dict[str, Lead], set[int]]:
    """Return leads keyed by lower-cased e-mail, creating the unknown ones.

    ``emails`` must already be normalised. New leads start in stage ``lead``
    with their account matched by domain. Returns the map and the ids of the
    leads created here. Safe against a concurrent create of the same address:
    the insert skips conflicts and the rows are read back.
    """
    by_lower = {e.lower(): e for e in emails}
    if not by_lower:
        return {}, set()
    existing = {
        lead.email.lower(): lead
        for lead in Lead.objects.annotate(email_lower=Lower("email")).filter(
            email_lower__in=list(by_lower)
        )
    }
    # Sorted: concurrent batches insert shared new addresses in one order, so
    # neither holds a row the other waits for (no deadlock on the unique index).
    missing = [by_lower[k] for k in sorted(by_lower) if k not in existing]
    created_ids: set[int] = set()
    if missing:
        accounts = accounts_for_domains(e.rpartition("@")[2] for e in missing)
        new = [
            Lead(
                email=email,
                account=accounts.get(email.rpartition("@")[2].lower()),
                entered_lead_at=now,
                stage_changed_at=now,
                created_at=now,
            )
            for email in missing
        ]
        Lead.objects.bulk_create(new, ignore_conflicts=True)
        fetched = Lead.objects.annotate(email_lower=Lower("email")).filter(
            email_lower__in=[e.lower() for e in missing]
        )
        for lead in fetched:
            existing[lead.email.lower()] = lead
            if lead.created_at == now and lead.stage_changed_at == now:
                created_ids.add(lead.id)
        if created_ids:
            attribution_days_mark(moments=[now])
    return existing, created_ids


# Touchpoints
# ------------------------------------------------------------------------------


@dataclass
class TouchpointIn:
    """One touchpoint as a caller sent it, before validation against the data."""

    kind: str
    occurred_at: dt.datetime | None = None
    lead_id: int | None = None
    lead_email: str | None = None
    campaign_id: int | None = None
    utm_source: str = ""
    utm_medium: str = ""
    utm_campaign: str = ""
    properties: dict[str, Any] = field(default_factory=dict)
    external_id: str | None = None
    #: ``properties`` passed ``json_object_problem`` already (the API's
    #: serializer checks them), so it is not run a second time.
    properties_checked: bool = False


@dataclass
class TouchpointOutcome:
    """What happened to one item: stored, already stored, or refused (errors).

    ``conflict``: its ``external_id`` was stored for another event (another
    lead, kind or time); ``touchpoint`` is the stored one, nothing changed.
    """

    status: Literal["created", "duplicate", "conflict", "invalid"]
    touchpoint: Touchpoint | None = None
    errors: dict[str, list[str]] | None = None
    lead_created: bool = False


def _item_errors(
    item: TouchpointIn, *, kinds: set[str], now: dt.datetime
) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if item.kind not in kinds:
        errors["kind"] = [
            f"Unknown touchpoint kind {item.kind!r}; use one of: "
            f"{', '.join(sorted(kinds))}."
        ]
    if item.occurred_at is not None:
        if timezone.is_naive(item.occurred_at):
            errors["occurred_at"] = ["Give a time zone offset, e.g. 2026-03-01T09:30Z."]
        elif item.occurred_at > now + CLOCK_SKEW:
            errors["occurred_at"] = [
                "This time is in the future; send when it happened (at most "
                f"{int(CLOCK_SKEW.total_seconds() // 60)} minutes ahead of the server)."
            ]
        elif item.occurred_at < EARLIEST_OCCURRED_AT:
            errors["occurred_at"] = ["This time is before the year 2000; check it."]
    if (item.lead_id is None) == (item.lead_email is None):
        errors["lead"] = ["Give either lead (an id) or lead_email, not both."]
    if not item.properties_checked and (
        problem := json_object_problem(item.properties)
    ):
        errors["properties"] = [problem]
    if item.external_id is not None and (
        problem := _external_id_problem(item.external_id)
    ):
        errors["external_id"] = [problem]
    utm = (item.utm_source, item.utm_medium, item.utm_campaign)
    if item.campaign_id is not None and any(utm):
        errors["campaign"] = ["Give either a campaign id or its UTM keys, not both."]
    return errors


def _external_id_problem(external_id: str) -> str | None:
    if not external_id.strip() or len(external_id) > 200:
        return "Use 1 to 200 characters, or leave it out."
    return text_problem(external_id)


def touchpoints_ingest(
    *,
    items: Sequence[TouchpointIn],
    source: str,
    now: dt.datetime | None = None,
    active_kinds: set[str] | None = None,
) -> list[TouchpointOutcome]:
    """Validate and store touchpoints; answer per item, in the items' order.

    Valid items are stored in one transaction; invalid ones are reported with
    field errors and store nothing (not even a lead for their e-mail). An item
    whose ``external_id`` was already stored for ``source`` (earlier, in this
    batch, or by a concurrent request) changes nothing: it is a ``duplicate``
    carrying the stored touchpoint when it is the same event (same lead and
    kind, and the same ``occurred_at`` when it gives one: a retry that leaves
    the time out is the same event), else a ``conflict`` with an
    ``external_id`` error. Unknown ``lead_email`` addresses create leads.
    Affected leads are marked for a rescore and announced once, after commit.
    ``active_kinds``: the codes of the active kinds when the caller read them
    (else read here). Raises ValueError for more than BATCH_LIMIT items.
    """
    if len(items) > BATCH_LIMIT:
        raise ValueError(f"Send at most {BATCH_LIMIT:,} touchpoints per batch.")
    now = now or timezone.now()
    outcomes: list[TouchpointOutcome | None] = [None] * len(items)
    # No savepoint inside a caller's transaction: no caller goes on after an
    # error here, and the savepoint cost two statements a call.
    with transaction.atomic(savepoint=False):
        read = _ingest_reads(
            source=source,
            lead_ids={item.lead_id for item in items if item.lead_id},
            external_ids={
                item.external_id
                for item in items
                if item.external_id and not _external_id_problem(item.external_id)
            },
            with_kinds=active_kinds is None,
        )
        kinds = read.kinds if active_kinds is None else active_kinds
        errors = [_item_errors(item, kinds=kinds, now=now) for item in items]
        emails: dict[int, str] = {}
        for i, item in enumerate(items):
            if item.lead_email is not None and not errors[i]:
                try:
                    emails[i] = normalize_email(item.lead_email)
                except ValidationError as exc:
                    errors[i]["lead_email"] = list(exc.messages)
        known_ids = read.leads
        for i, item in enumerate(items):
            if item.lead_id is not None and item.lead_id not in known_ids:
                errors[i]["lead"] = [f"There is no lead with id {item.lead_id}."]
        campaigns = _campaigns_resolve(items, errors)

        valid = [i for i in range(len(items)) if not errors[i]]
        stored = _known_external_ids(
            source,
            {
                items[i].external_id
                for i in valid
                if items[i].external_id in read.external_ids
            },
        )
        for i in valid:
            item = items[i]
            if item.external_id and item.external_id in stored:
                outcomes[i] = _repeat_outcome(
                    item,
                    stored[item.external_id],
                    email=emails.get(i),
                    merged_into=known_ids.get(item.lead_id),
                )
        # An item already answered needs no lead: a conflicting one must not
        # create one for its address.
        leads_by_email, created_ids = leads_for_emails(
            {emails[i] for i in valid if i in emails and outcomes[i] is None},
            now=now,
        )
        new: list[tuple[int, Touchpoint]] = []
        first_in_batch: dict[str, int] = {}
        for i in valid:
            item = items[i]
            if outcomes[i] is not None:
                continue
            if item.external_id and item.external_id in first_in_batch:
                continue  # answered below against the first one
            lead = leads_by_email[emails[i].lower()] if i in emails else None
            touchpoint = Touchpoint(
                lead_id=lead.id if lead else item.lead_id,
                kind_id=item.kind,
                # In UTC: PostgreSQL refuses some offsets ISO 8601 allows.
                occurred_at=(item.occurred_at or now).astimezone(dt.UTC),
                campaign=campaigns.get(i),
                properties=item.properties,
                source=source,
                external_id=item.external_id,
                received_at=now,
            )
            if item.external_id:
                first_in_batch[item.external_id] = i
            new.append((i, touchpoint))
        _touchpoints_insert(new, source=source, items=items, outcomes=outcomes)
        for i, touchpoint in new:
            if outcomes[i] is None:
                outcomes[i] = TouchpointOutcome(
                    "created",
                    touchpoint,
                    lead_created=touchpoint.lead_id in created_ids,
                )
        for i in valid:
            if outcomes[i] is None:  # a repeat of an external_id within the batch
                first = outcomes[first_in_batch[items[i].external_id]]
                item = items[i]
                lead = leads_by_email[emails[i].lower()] if i in emails else None
                outcomes[i] = _repeat_outcome(
                    TouchpointIn(
                        kind=item.kind,
                        occurred_at=item.occurred_at,
                        lead_id=lead.id if lead else item.lead_id,
                    ),
                    first.touchpoint,
                    merged_into=known_ids.get(item.lead_id),
                )
        touched = {
            o.touchpoint.lead_id for o in outcomes if o and o.status == "created"
        }
        leads_mark_for_rescore(touched, now=now)
    for i in range(len(items)):
        if outcomes[i] is None:
            outcomes[i] = TouchpointOutcome("invalid", errors=errors[i])
    logger.info(
        "ingested %s touchpoints from %s: %s created",
        len(items),
        source,
        sum(1 for o in outcomes if o and o.status == "created"),
    )
    return outcomes  # type: ignore[return-value]


@dataclass
class _IngestRead:
    """What ingestion reads before validating against the data."""

    #: The active kinds' codes (empty when the caller gave them).
    kinds: set[str]
    #: Each known, not erased lead by id with the lead it was merged into (its
    #: touchpoints' lead since the merge), for telling a repeat from a conflict.
    leads: dict[int, int | None]
    #: The external ids that may be stored for the source: on PostgreSQL those
    #: that are, elsewhere every one asked about (``_known_external_ids``
    #: reads them).
    external_ids: set[str]


#: The reads of ``_ingest_reads`` on PostgreSQL, one statement (the three ORM
#: queries cost more Python time to build than PostgreSQL to run, and two
#: round trips more); ids and external ids travel as JSON arrays (psycopg's
#: per-element adaptation of a list of 1,000 cost more than json.dumps).
_READS_SQL = """
    SELECT
        CASE WHEN %s THEN ARRAY(SELECT code FROM {kind} WHERE is_active) END,
        ARRAY(SELECT json_build_array(id, merged_into_id) FROM {lead}
              WHERE id = ANY(ARRAY(SELECT json_array_elements_text(%s::json)::bigint))
                AND erased_at IS NULL),
        ARRAY(SELECT external_id FROM {touchpoint}
              WHERE source = %s
                AND external_id = ANY(ARRAY(SELECT json_array_elements_text(%s::json))))
"""


@functools.cache
def _reads_sql() -> str:
    # Only table names are formatted in; every value is a parameter.
    return _READS_SQL.format(  # nosec B608
        kind=TouchpointKind._meta.db_table,
        lead=Lead._meta.db_table,
        touchpoint=Touchpoint._meta.db_table,
    )


def _ingest_reads(
    *, source: str, lead_ids: set[int], external_ids: set[str], with_kinds: bool
) -> _IngestRead:
    """The active kinds (``with_kinds``), the known leads among ``lead_ids``
    and the stored external ids among ``external_ids``: one query on
    PostgreSQL, one per set elsewhere."""
    if connection.vendor != "postgresql":
        kinds = set()
        if with_kinds:
            kinds = set(
                TouchpointKind.objects.filter(is_active=True)
                .order_by()
                .values_list("code", flat=True)
            )
        leads = dict(
            Lead.objects.filter(id__in=lead_ids, erased_at__isnull=True)
            .order_by()
            .values_list("id", "merged_into_id")
        )
        return _IngestRead(kinds, leads, external_ids)
    with connection.cursor() as cursor:
        cursor.execute(
            _reads_sql(),
            [
                with_kinds,
                json.dumps(list(lead_ids)),
                source,
                json.dumps(list(external_ids)),
            ],
        )
        kinds, leads, stored = cursor.fetchone()
    return _IngestRead(set(kinds or ()), dict(leads), set(stored))


def _campaigns_resolve(
    items: Sequence[TouchpointIn], errors: list[dict[str, list[str]]]
) -> dict[int, Campaign]:
    """Campaign per item index, from an id or UTM keys (one query in all)."""
    ids = {item.campaign_id for item in items if item.campaign_id is not None}
    keyed = {
        (item.utm_source, item.utm_medium, item.utm_campaign)
        for item in items
        if item.utm_campaign
    }
    by_id = {c.id: c for c in Campaign.objects.filter(id__in=ids)} if ids else {}
    by_utm: dict[tuple[str, str, str], Campaign] = {}
    if keyed:
        for campaign in Campaign.objects.filter(utm_campaign__in={k[2] for k in keyed}):
            by_utm[
                (campaign.utm_source, campaign.utm_medium, campaign.utm_campaign)
            ] = campaign
    result: dict[int, Campaign] = {}
    for i, item in enumerate(items):
        if item.campaign_id is not None:
            if item.campaign_id in by_id:
                result[i] = by_id[item.campaign_id]
            else:
                errors[i]["campaign"] = [
                    f"There is no campaign with id {item.campaign_id}."
                ]
        elif item.utm_campaign:
            key = (item.utm_source, item.utm_medium, item.utm_campaign)
            if key in by_utm:
                result[i] = by_utm[key]
            # Unknown UTM keys are kept in properties by the caller, not refused:
            # a campaign may be set up after its first clicks arrive.
    return result


def _known_external_ids(source: str, external_ids: set[str]) -> dict[str, Touchpoint]:
    if not external_ids:
        return {}
    return {
        t.external_id: t
        for t in Touchpoint.objects.filter(
            source=source, external_id__in=external_ids
        ).select_related("lead")
    }


def _repeat_outcome(
    item: TouchpointIn,
    stored: Touchpoint,
    *,
    email: str | None = None,
    merged_into: int | None = None,
) -> TouchpointOutcome:
    """A ``duplicate`` when ``item`` is the event ``stored`` holds, else a
    ``conflict``: its external_id was used for another lead, kind or time.

    A lead given by e-mail matches the stored lead's address (any case); one
    given by id matches that lead or the lead it was merged into. A missing
    ``occurred_at`` matches any time: a retry need not repeat it.
    """
    if item.lead_id is not None:
        same_lead = stored.lead_id in (item.lead_id, merged_into)
    else:
        same_lead = (email or "").lower() == stored.lead.email.lower()
    same = (
        same_lead
        and item.kind == stored.kind_id
        and (item.occurred_at is None or item.occurred_at == stored.occurred_at)
    )
    if same:
        return TouchpointOutcome("duplicate", stored)
    return TouchpointOutcome(
        "conflict",
        stored,
        errors={
            "external_id": [
                f"This external_id was stored before for touchpoint {stored.id}, "
                "with another lead, kind or time. Give a new event a new "
                "external_id; a retry must send the same lead, kind and time."
            ]
        },
    )


def _touchpoints_insert(
    new: list[tuple[int, Touchpoint]],
    *,
    source: str,
    items: Sequence[TouchpointIn],
    outcomes: list[TouchpointOutcome | None],
) -> None:
    """Insert in one statement; on a concurrent duplicate, fall back per item."""
    if not new:
        return
    # In external_id order: two batches sharing ids in opposite orders would
    # each hold an index entry the other waits for (a deadlock, 40P01).
    new = sorted(new, key=lambda pair: pair[1].external_id or "")
    if connection.vendor == "postgresql":
        _touchpoints_insert_skipping(new, source=source, items=items, outcomes=outcomes)
        return
    try:
        with transaction.atomic():
            Touchpoint.objects.bulk_create([t for _, t in new])
        return
    except IntegrityError:
        # A concurrent request stored one of these external ids after the
        # lookup: insert one by one so only that item becomes a duplicate.
        logger.info(
            "concurrent external_id in a batch from %s; inserting singly", source
        )
    for i, touchpoint in new:
        touchpoint.pk = None
        try:
            with transaction.atomic():
                touchpoint.save(force_insert=True)
        except IntegrityError:
            stored = Touchpoint.objects.select_related("lead").get(
                source=source, external_id=touchpoint.external_id
            )
            outcomes[i] = _repeat_outcome(
                TouchpointIn(
                    kind=touchpoint.kind_id,
                    occurred_at=items[i].occurred_at and touchpoint.occurred_at,
                    lead_id=touchpoint.lead_id,
                ),
                stored,
            )


#: The touchpoints inserted from one JSON parameter (json.dumps costs a
#: fraction of psycopg's per-element adaptation of bulk_create's arrays), a
#: concurrent request's external_id skipped instead of raising, so no
#: savepoint is needed around the statement.
_INSERT_SQL = """
    INSERT INTO {table} ({columns})
    SELECT {columns}
    FROM ROWS FROM (json_to_recordset(%s::json) AS ({recordset}))
         WITH ORDINALITY AS r({columns}, n)
    ORDER BY r.n
    ON CONFLICT (source, external_id) WHERE external_id IS NOT NULL DO NOTHING
    RETURNING id, external_id
"""


def _json_row(touchpoint: Touchpoint, fields: Sequence[Field]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for f in fields:
        value = getattr(touchpoint, f.attname)
        row[f.column] = value.isoformat() if isinstance(value, dt.datetime) else value
    return row


@functools.cache
def _insert_fields_and_sql() -> tuple[list[Field], str]:
    fields = [f for f in Touchpoint._meta.concrete_fields if not f.primary_key]
    # Only table and column names and types are formatted in; values are a
    # parameter.
    sql = _INSERT_SQL.format(  # nosec B608
        table=Touchpoint._meta.db_table,
        columns=", ".join(f.column for f in fields),
        recordset=", ".join(f"{f.column} {f.db_type(connection)}" for f in fields),
    )
    return fields, sql


def _touchpoints_insert_skipping(
    new: list[tuple[int, Touchpoint]],
    *,
    source: str,
    items: Sequence[TouchpointIn],
    outcomes: list[TouchpointOutcome | None],
) -> None:
    """PostgreSQL: insert ``new`` (in external_id order) in one statement; an
    external_id a concurrent request stored after the lookup is skipped by
    ON CONFLICT and answered against the stored touchpoint, as the fallback
    of ``_touchpoints_insert`` does."""
    fields, sql = _insert_fields_and_sql()
    encoder = Touchpoint._meta.get_field("properties").encoder
    payload = json.dumps([_json_row(t, fields) for _, t in new], cls=encoder)
    with connection.cursor() as cursor:
        cursor.execute(sql, [payload])
        inserted = cursor.fetchall()
    # RETURNING gives the inserted rows in the order they were inserted; the
    # external ids are unique within ``new``, so a skipped row is the one
    # whose external_id the next returned row does not carry.
    returned = iter(inserted)
    pending = next(returned, None)
    skipped: list[tuple[int, Touchpoint]] = []
    for i, touchpoint in new:
        if pending is not None and pending[1] == touchpoint.external_id:
            touchpoint.pk = pending[0]
            touchpoint._state.adding = False
            touchpoint._state.db = connection.alias
            pending = next(returned, None)
        else:
            skipped.append((i, touchpoint))
    if not skipped:
        return
    logger.info("concurrent external_id in a batch from %s; answered as stored", source)
    stored = {
        t.external_id: t
        for t in Touchpoint.objects.select_related("lead").filter(
            source=source, external_id__in=[t.external_id for _, t in skipped]
        )
    }
    for i, touchpoint in skipped:
        outcomes[i] = _repeat_outcome(
            TouchpointIn(
                kind=touchpoint.kind_id,
                occurred_at=items[i].occurred_at and touchpoint.occurred_at,
                lead_id=touchpoint.lead_id,
            ),
            stored[touchpoint.external_id],
        )
