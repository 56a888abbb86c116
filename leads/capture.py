"""Public web-form capture: a browser's form submission becomes a lead and a
touchpoint of the form's kind.

The HTTP side (origins, rate limit, size limits, honeypot) lives in
``leads/api/forms.py``; this module holds the write and the origin rules the
admin and the endpoint share.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from leads.edit_scope import UTM_FIELDS
from leads.ingestion import MAX_JSON_BYTES, TouchpointIn, touchpoints_ingest
from leads.models import Touchpoint, TrackingSource, WebForm
from leads.rescore import rescore_announced_once
from leads.services import lead_fill_blanks
from leads.tracking.stitching import visitor_identify_safely, visitors_lock

logger = logging.getLogger(__name__)

#: Largest request body the public endpoint reads. A contact form is a few
#: hundred bytes; 64 KB leaves room for long free-text answers while a flood of
#: large bodies stays cheap to refuse (before parsing).
FORM_MAX_BODY_BYTES = 65_536
#: Budget for the form's extra fields in the touchpoint's properties. The rest
#: of MAX_JSON_BYTES is kept for what capture adds (page URL, UTM keys, IP), so
#: a submission accepted at the boundary is never refused by ingestion.
FORM_FIELDS_MAX_BYTES = MAX_JSON_BYTES - 4_096
#: Longest page URL kept; a longer Referer header is cut, not refused.
PAGE_URL_MAX_LENGTH = 2_000

_DEFAULT_PORTS = {"http": 80, "https": 443}

#: Touchpoint property holding the submitted values that differ from the
#: known lead's and were not applied (form field -> submitted value).
DIFFERS_PROPERTY = "differs"
#: Submission fields that describe the person; on a known lead the ones that
#: differ from it land under DIFFERS_PROPERTY (company: attributes["company"]).
PERSON_FIELDS = ("first_name", "last_name", "job_title", "phone", "country")


@dataclass
class FormSubmission:
    """One validated submission. Blank strings mean "not given"."""

    email: str
    first_name: str = ""
    last_name: str = ""
    job_title: str = ""
    company: str = ""
    phone: str = ""
    country: str = ""
    utm_source: str = ""
    utm_medium: str = ""
    utm_campaign: str = ""
    utm_term: str = ""
    utm_content: str = ""
    page_url: str = ""
    # The tracking snippet's anonymous id of the visitor who submitted it.
    anonymous_id: str = ""
    # The form's other fields, kept as given in the touchpoint's properties.
    fields: dict[str, Any] = field(default_factory=dict)


# Origins
# ------------------------------------------------------------------------------


def normalize_origin(raw: str) -> str:
    """Return ``raw`` as an origin (``scheme://host[:port]``, lower-cased).

    Raises ValidationError for anything else: another scheme than http(s), a
    path, query, fragment or user name, or a missing host. A trailing slash is
    tolerated and dropped, as browsers never send one in ``Origin``.
    """
    value = raw.strip()
    candidate = value[:-1] if value.endswith("/") else value
    try:
        parts = urlsplit(candidate)
        port = parts.port
    except ValueError as exc:
        raise ValidationError(
            f"{value} is not an origin; use scheme://host[:port], such as "
            "https://www.example.com.",
            code="invalid_origin",
        ) from exc
    if (
        parts.scheme.lower() not in {"http", "https"}
        or not parts.hostname
        or parts.path
        or parts.query
        or parts.fragment
        or parts.username is not None
        or "?" in candidate
        or "#" in candidate
    ):
        raise ValidationError(
            f"{value} is not an origin; use scheme://host[:port] with no path, "
            "such as https://www.example.com.",
            code="invalid_origin",
        )
    scheme = parts.scheme.lower()
    host = parts.hostname.lower()
    if ":" in host:  # an IPv6 address keeps its brackets, as in Origin
        host = f"[{host}]"
    # Browsers leave the scheme's default port out of Origin.
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def origin_allowed(form: WebForm, origin: str) -> bool:
    """Whether a browser on ``origin`` may submit ``form`` (exact match).

    Scheme and host compare without regard to letter case; ``null`` (sandboxed
    frames, local files) and anything that is not an origin never match.
    """
    try:
        wanted = normalize_origin(origin)
    except ValidationError:
        return False
    allowed = set()
    for line in form.origins:
        try:
            allowed.add(normalize_origin(line))
        except ValidationError:
            # The admin form refuses these; a row saved another way matches nothing.
            continue
    return wanted in allowed


# The write
# ------------------------------------------------------------------------------


@transaction.atomic
def form_submission_capture(
    *,
    form: WebForm,
    data: FormSubmission,
    ip: str | None,
    origin: str | None = None,
    now: dt.datetime | None = None,
) -> Touchpoint:
    """Create the lead by e-mail, or complete it, and record the form's touchpoint.

    A public form proves nothing about who typed the address, so in one
    transaction the lead goes through ``lead_fill_blanks`` (which locks an
    existing row): a new lead gets the submitted person fields, a known one
    only has its blank fields filled, and ``company`` fills
    ``attributes["company"]`` the same way (a public form never creates or
    renames accounts: the account follows the e-mail domain). UTM keys are
    set on the lead only when it has none yet (first touch; every touchpoint
    keeps its own). Then one touchpoint of the form's kind is ingested with
    ``source="form:<key>"``, the form's campaign (else the campaign its UTM
    keys name, if any) and properties made of the extra fields, ``page_url``,
    the UTM keys, the client ``ip`` and, under ``DIFFERS_PROPERTY``, each
    submitted value that differs from the lead's (form field -> value) for a
    person to review. The lead is marked for a rescore and announced after
    commit.

    With the tracking snippet's ``anonymous_id``, sent by a browser on
    ``origin``: a website tracking source allowing that origin and knowing
    that visitor has it identified as the lead in the same transaction
    (``leads.tracking.stitching``: its history joins the lead), announced
    with the form's touchpoint as one rescore. An id no such source knows
    is only kept in the touchpoint's properties.

    Not idempotent: a second submission records a second touchpoint, as a
    person who sends a form twice did so twice. Raises ValidationError with
    field errors (nothing stored) for an address or value the services refuse.
    """
    at = now or timezone.now()
    sources = (
        _tracking_sources(data.anonymous_id, origin)
        if data.anonymous_id and origin
        else []
    )
    with rescore_announced_once():
        # The visitors' locks before the lead's, as every tracking write.
        for source in sources:
            visitors_lock(source, [data.anonymous_id])
        touchpoint = _capture(form=form, data=data, ip=ip, now=at)
        for source in sources:
            visitor_identify_safely(
                source=source,
                anonymous_ids=[data.anonymous_id],
                email=touchpoint.lead.email,
                now=at,
            )
    return touchpoint


def _tracking_sources(anonymous_id: str, origin: str) -> list[TrackingSource]:
    """The active website sources allowing ``origin`` that know the visitor."""
    try:
        wanted = normalize_origin(origin)
    except ValidationError:
        return []
    return [
        source
        for source in TrackingSource.objects.filter(
            kind=TrackingSource.Kind.SITE,
            is_active=True,
            visitors__anonymous_id=anonymous_id,
        ).order_by("id")
        if wanted in {_normalized(o) for o in source.origins}
    ]


def _normalized(origin: str) -> str | None:
    try:
        return normalize_origin(origin)
    except ValidationError:
        return None


def _capture(
    *, form: WebForm, data: FormSubmission, ip: str | None, now: dt.datetime
) -> Touchpoint:
    at = now
    person = {name: value for name in PERSON_FIELDS if (value := getattr(data, name))}
    utm = {name: value for name in UTM_FIELDS if (value := getattr(data, name))}
    attributes = {"company": data.company} if data.company else {}
    filled = lead_fill_blanks(
        email=data.email, now=at, attributes=attributes, **person, **utm
    )
    lead, created = filled.lead, filled.created
    differs = dict(filled.differs)
    differs.update(differs.pop("attributes", {}))

    properties: dict[str, Any] = {**data.fields, **utm}
    if data.anonymous_id:
        properties["anonymous_id"] = data.anonymous_id
    # The review key is the service's to write: a form field of that name
    # would pass for values the lead refused.
    properties.pop(DIFFERS_PROPERTY, None)
    if differs:
        properties[DIFFERS_PROPERTY] = differs
    if data.page_url:
        properties["page_url"] = data.page_url
    if ip:
        properties["ip"] = ip
    campaign: dict[str, Any] = (
        {"campaign_id": form.campaign_id}
        if form.campaign_id is not None
        else {
            "utm_source": data.utm_source,
            "utm_medium": data.utm_medium,
            "utm_campaign": data.utm_campaign,
        }
    )
    (outcome,) = touchpoints_ingest(
        items=[
            TouchpointIn(
                kind=form.kind_id,
                occurred_at=at,
                lead_id=lead.id,
                properties=properties,
                **campaign,
            )
        ],
        source=f"form:{form.key}",
        now=at,
    )
    if outcome.status != "created":
        # The boundary checks what ingestion checks; reaching this is a bug or
        # a kind retired between the form lookup and now. Roll back the lead too.
        raise ValidationError(outcome.errors or {"kind": ["Not recorded."]})
    logger.info(
        "form %s captured touchpoint %s for lead %s (%s)",
        form.key,
        outcome.touchpoint.id,
        lead.id,
        "new" if created else "known",
    )
    return outcome.touchpoint
