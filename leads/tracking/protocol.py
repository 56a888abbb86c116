"""Segment's HTTP tracking API, read and checked: one message becomes a
``Message`` or raises ``MessageError`` saying what to fix.

The snippet (``static/leadflow/track.js``), Segment's and RudderStack's SDKs
all send this format. Fields read: ``type``, ``userId`` / ``anonymousId``
(one required), ``messageId`` (derived from a hash of the message when
absent, so a retry stays idempotent), ``timestamp`` and ``sentAt`` (the
sender's clock corrected as Segment does: ``receivedAt - (sentAt -
timestamp)``), ``context.page``, ``context.campaign``,
``context.userAgent``, ``context.ip``, ``context.leadflow_token``,
``properties``, ``traits``, ``event``, ``name``, ``groupId``,
``previousId``. Only fixed simple string operations touch the values (no
pattern matching on what a sender wrote).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from django.core.exceptions import ValidationError

from crm.common.text import text_problem
from leads.emails import normalize_email
from leads.geo import country_from_text
from leads.ingestion import (
    CLOCK_SKEW,
    EARLIEST_OCCURRED_AT,
    MAX_JSON_BYTES,
    json_object_problem,
)
from leads.models import event_key
from leads.tracking.mapping import PAGE_EVENT
from leads.tracking.promote import PROMOTION_RESERVE_BYTES

#: Segment's limits: 32 KB per message, 500 KB per batch request.
MESSAGE_MAX_BYTES = 32 * 1024
BATCH_MAX_BYTES = 500 * 1024
#: The message types and the one-letter paths analytics.js posts to.
TYPES = ("identify", "track", "page", "screen", "group", "alias")
SHORT_TYPES = {"i": "identify", "t": "track", "p": "page", "s": "screen"}
SHORT_TYPES |= {"g": "group", "a": "alias"}
#: Types that record an event (a touchpoint or a tracked event).
EVENT_TYPES = ("track", "page", "screen")
#: Longest id (anonymous, user, message) and event name kept.
ID_MAX_LENGTH = 200
#: Visitor key of a message that has only a userId (server SDKs).
USER_KEY_PREFIX = "user:"
#: Properties taken from context.page, and the UTM keys.
PAGE_FIELDS = ("url", "path", "title", "referrer", "search")
UTM_KEYS = {
    "source": "utm_source",
    "medium": "utm_medium",
    "name": "utm_campaign",
    "term": "utm_term",
    "content": "utm_content",
}
UTM_MAX_LENGTH = 200
URL_MAX_LENGTH = 2_000
USER_AGENT_MAX_LENGTH = 500
#: Trait -> lead field filled at identification (blank fields only).
TRAIT_FIELDS = {
    "firstName": "first_name",
    "first_name": "first_name",
    "lastName": "last_name",
    "last_name": "last_name",
    "title": "job_title",
    "phone": "phone",
}


class MessageError(ValueError):
    """A message that cannot be stored; the text says what to fix."""


@dataclass
class Message:
    """One checked message, ready for ingestion."""

    type: str
    message_id: str
    anonymous_id: str | None
    user_id: str | None
    occurred_at: dt.datetime
    event: str = ""
    event_key: str = ""
    properties: dict[str, Any] = field(default_factory=dict)
    traits: dict[str, Any] = field(default_factory=dict)
    # Normalised e-mail the message identifies its visitor with, if any.
    email: str | None = None
    utm: dict[str, str] = field(default_factory=dict)
    url: str = ""
    referrer: str = ""
    user_agent: str = ""
    ip: str = ""
    token: str = ""
    previous_id: str | None = None

    @property
    def visitor_key(self) -> str:
        """The visitor's anonymous id: ``anonymousId``, else ``user:<userId>``."""
        if self.anonymous_id is not None:
            return self.anonymous_id
        return f"{USER_KEY_PREFIX}{self.user_id}"

    @property
    def is_event(self) -> bool:
        return self.type in EVENT_TYPES


def _id(value: Any, name: str) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise MessageError(f"{name} must be a string.")
    text = str(value).strip()
    if not text:
        return None
    if len(text) > ID_MAX_LENGTH:
        raise MessageError(f"{name} is longer than {ID_MAX_LENGTH} characters.")
    if problem := text_problem(text):
        raise MessageError(f"{name}: {problem}")
    return text


def _object(value: Any, name: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MessageError(f'{name} must be a JSON object such as {{"key": "value"}}.')
    return value


def _text(value: Any, limit: int) -> str:
    """A short text field of context, cut to ``limit``; "" when not text or
    not storable (context is best effort, never a reason to refuse)."""
    if not isinstance(value, str) or text_problem(value):
        return ""
    return value[:limit]


def time_parse(value: Any, name: str) -> dt.datetime | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 40:
        raise MessageError(
            f"{name} must be an ISO 8601 time such as 2026-05-04T12:00:00Z."
        )
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise MessageError(
            f"{name} must be an ISO 8601 time such as 2026-05-04T12:00:00Z."
        ) from exc
    if parsed.tzinfo is None:
        raise MessageError(
            f"{name} needs a time zone offset, such as 2026-05-04T12:00:00Z."
        )
    return parsed


def occurred_at(
    timestamp: dt.datetime | None, sent_at: dt.datetime | None, *, now: dt.datetime
) -> dt.datetime:
    """When it happened on the server's clock, as Segment corrects it: with
    both times, ``now - (sentAt - timestamp)`` (the sender's clock offset
    cancels out); with only ``timestamp``, that; else ``now``."""
    if timestamp is None:
        return now
    if sent_at is None:
        return timestamp.astimezone(dt.UTC)
    return (now - (sent_at - timestamp)).astimezone(dt.UTC)


def message_id_derived(raw: dict[str, Any]) -> str:
    """A stable id for a message sent without ``messageId``: a hash of what
    it says (less ``sentAt`` and ``writeKey``, which change on a retry)."""
    kept = {k: v for k, v in raw.items() if k not in {"sentAt", "writeKey"}}
    digest = hashlib.sha256(
        json.dumps(kept, sort_keys=True, separators=(",", ":"), default=str).encode()
    ).hexdigest()
    return f"derived-{digest[:48]}"


def _utm_from_url(url: str) -> dict[str, str]:
    if "utm_" not in url:
        return {}
    try:
        query = urlsplit(url).query
    except ValueError:
        return {}
    wanted = set(UTM_KEYS.values())
    found: dict[str, str] = {}
    for key, value in parse_qsl(query, max_num_fields=50):
        if key in wanted and value and key not in found and not text_problem(value):
            found[key] = value[:UTM_MAX_LENGTH]
    return found


def message_parse(
    raw: Any,
    *,
    type_: str | None = None,
    sent_at: dt.datetime | None = None,
    now: dt.datetime,
) -> Message:
    """Check one message and return it, or raise MessageError.

    ``type_`` is the type the path names (single-message endpoints), else
    the message's ``type``; ``sent_at`` is the batch's ``sentAt`` when the
    message gives none.
    """
    if not isinstance(raw, dict):
        raise MessageError("Each message must be a JSON object.")
    kind = type_ or raw.get("type")
    if kind not in TYPES:
        raise MessageError(f"type must be one of: {', '.join(TYPES)}.")
    anonymous_id = _id(raw.get("anonymousId"), "anonymousId")
    user_id = _id(raw.get("userId"), "userId")
    if anonymous_id is None and user_id is None:
        raise MessageError("Give userId or anonymousId (or both).")
    message_id = _id(raw.get("messageId"), "messageId") or message_id_derived(raw)
    timestamp = time_parse(raw.get("timestamp"), "timestamp")
    own_sent_at = time_parse(raw.get("sentAt"), "sentAt") or sent_at
    at = occurred_at(timestamp, own_sent_at, now=now)
    if at > now + CLOCK_SKEW:
        raise MessageError(
            "timestamp is in the future; send when it happened (at most "
            f"{int(CLOCK_SKEW.total_seconds() // 60)} minutes ahead), or send sentAt."
        )
    if at < EARLIEST_OCCURRED_AT:
        raise MessageError("timestamp is before the year 2000; check it.")
    context = _object(raw.get("context"), "context")
    page = context.get("page") if isinstance(context.get("page"), dict) else {}
    campaign = context.get("campaign")
    campaign = campaign if isinstance(campaign, dict) else {}
    properties = _object(raw.get("properties"), "properties")
    traits = _object(raw.get("traits"), "traits")
    if not traits and isinstance(context.get("traits"), dict):
        traits = context["traits"]

    message = Message(
        type=kind,
        message_id=message_id,
        anonymous_id=anonymous_id,
        user_id=user_id,
        occurred_at=at,
        user_agent=_text(context.get("userAgent"), USER_AGENT_MAX_LENGTH),
        ip=_text(context.get("ip"), 45),
        token=_text(context.get("leadflow_token"), 500),
    )
    if kind == "track":
        name = raw.get("event")
        if not isinstance(name, str) or not event_key(name[:1000]):
            raise MessageError("A track call needs event, the name of what happened.")
        if len(name) > ID_MAX_LENGTH:
            raise MessageError(f"event is longer than {ID_MAX_LENGTH} characters.")
        if problem := text_problem(name):
            raise MessageError(f"event: {problem}")
        message.event = name.strip()
        message.event_key = event_key(name)
    elif kind in ("page", "screen"):
        message.event = PAGE_EVENT
        message.event_key = PAGE_EVENT
    elif kind == "group":
        if _id(raw.get("groupId"), "groupId") is None:
            raise MessageError("A group call needs groupId.")
    elif kind == "alias":
        message.previous_id = _id(raw.get("previousId"), "previousId")
        if message.previous_id is None or user_id is None:
            raise MessageError("An alias call needs previousId and userId.")

    if message.is_event:
        built: dict[str, Any] = {}
        for name in PAGE_FIELDS:
            value = _text(properties.get(name) or page.get(name), URL_MAX_LENGTH)
            if value:
                built[name] = value
        if kind in ("page", "screen") and isinstance(raw.get("name"), str):
            built["name"] = _text(raw["name"], ID_MAX_LENGTH)
        built.update(properties)
        message.url = _text(built.get("url"), URL_MAX_LENGTH)
        message.referrer = _text(built.get("referrer"), URL_MAX_LENGTH)
        utm = {
            utm_key: value
            for key, utm_key in UTM_KEYS.items()
            if (value := _text(campaign.get(key), UTM_MAX_LENGTH))
        } or _utm_from_url(message.url)
        message.utm = utm
        for key, value in utm.items():
            built.setdefault(key, value)
        if problem := json_object_problem(
            built, max_bytes=MAX_JSON_BYTES - PROMOTION_RESERVE_BYTES
        ):
            raise MessageError(f"properties: {problem}")
        message.properties = built

    if kind in ("identify", "alias") or user_id is not None:
        message.email = _email_of(traits, user_id, strict=kind == "identify")
    if kind == "identify":
        if problem := json_object_problem(traits, max_bytes=MAX_JSON_BYTES):
            raise MessageError(f"traits: {problem}")
        message.traits = traits
    return message


def _email_of(
    traits: dict[str, Any], user_id: str | None, *, strict: bool
) -> str | None:
    """The e-mail in ``traits.email`` (a bad one is an error when ``strict``),
    else a ``userId`` that is an e-mail address; None without one."""
    given = traits.get("email")
    if isinstance(given, str) and given.strip():
        try:
            return normalize_email(given)
        except ValidationError as exc:
            if strict:
                raise MessageError(f"traits.email: {' '.join(exc.messages)}") from exc
    if user_id is not None and "@" in user_id:
        try:
            return normalize_email(user_id)
        except ValidationError:
            return None  # an opaque user id that happens to hold an @
    return None


def lead_fields_from_traits(traits: dict[str, Any]) -> dict[str, Any]:
    """The lead fields an identify's traits fill (blank fields only):
    names, title, phone, country, and ``attributes["company"]``."""
    fields: dict[str, Any] = {}
    for trait, name in TRAIT_FIELDS.items():
        value = traits.get(trait)
        if isinstance(value, str) and value.strip() and name not in fields:
            fields[name] = value.strip()
    company = traits.get("company")
    if isinstance(company, dict):
        company = company.get("name")
    if isinstance(company, str) and company.strip():
        fields["attributes"] = {"company": company.strip()[:200]}
    address = traits.get("address")
    country = traits.get("country") or (
        address.get("country") if isinstance(address, dict) else None
    )
    if isinstance(country, str) and (code := country_from_text(country[:100])):
        fields["country"] = code
    return fields
