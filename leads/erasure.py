"""Erasure of a lead's personal data, the leads app's share of it.

``crm.privacy.erasure.lead_erase`` runs these steps together with the other apps'
steps in one transaction and writes the audit event; nothing else should
call them.

Besides the lead's own fields, the person is copied into three places that
are not "theirs" by a foreign key's meaning, and the steps here reach them:

- touchpoint external ids the sending system built from the address or the
  name (``signup-<e-mail>``): replaced by ``erased-<32 hex>``, a keyed hash
  of the source and the old id (so it stays unique within the source and
  cannot be reversed by hashing guessed addresses); ids that do not name the
  person stay, so a late redelivery of those is still recognised;
- the account made from a personal domain (``ada@adalovelace.com`` gives
  the account "Adalovelace"): when no other person's lead is on it and its
  name or domain contains the person's e-mail, its local part or a name,
  it is renamed ``Erased account <id>`` and its domain blanked. It is kept,
  not deleted: its industry and size still count in reports, and the lead
  keeps its link;
- stage reasons typed by a person (the admin's move action): the person's
  e-mail, names and phone are replaced by ``[erased]`` in them;
- website tracking: the lead's visitors (the snippet's cookie id, user
  agent, pages) and the events kept for it are deleted.

Names shorter than ``MIN_NAME_LENGTH`` are not searched for: "Al" would
match half the words of a reason and every third account.
"""

from __future__ import annotations

import datetime as dt
import logging
import re

from django.contrib.admin.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.utils.crypto import salted_hmac

from leads.attribution_marks import attribution_days_mark, lead_conversion_moments
from leads.emails import ERASED_EMAIL_DOMAIN
from leads.models import (
    Account,
    Lead,
    StageTransition,
    Touchpoint,
    TrackedEvent,
    Visitor,
)
from leads.rescore import leads_mark_for_rescore

logger = logging.getLogger(__name__)

#: Shortest name (first, last, e-mail local part) searched for in copies.
MIN_NAME_LENGTH = 3
#: What a redacted piece of free text becomes.
REDACTED = "[erased]"

#: Person-level fields and what they become. Kept on purpose: stage and its
#: history, seniority, department, country and region, the account link and
#: campaign UTM keys (company- or campaign-level facts that keep reports and
#: funnel counts right without naming anyone).
ERASED_VALUES: dict[str, object] = {
    "first_name": "",
    "last_name": "",
    "job_title": "",
    "phone": "",
    "utm_term": "",
    "utm_content": "",
}


def erased_email(lead_id: int) -> str:
    """The placeholder address of an erased lead; unique, never deliverable."""
    return f"erased-{lead_id}@{ERASED_EMAIL_DOMAIN}"


def lead_personal_data_erase(*, lead: Lead, now: dt.datetime) -> dict[str, int]:
    """Replace the lead's personal fields and clear its touchpoints' properties.

    Precondition: called inside a transaction with ``lead`` locked
    (``leads.locks.lock_lead``) and not yet erased. Sets ``erased_at`` to
    ``now``. The job title is blanked without re-deriving seniority, which
    stays. Touchpoints are otherwise immutable; here their ``properties``
    (page URLs, form answers, IP) are emptied in one UPDATE while kind, time,
    campaign and source stay, so anonymous counts remain right. The lead is
    marked for a rescore (its attributes are gone). Returns counts for the
    audit event.
    """
    lead.email = erased_email(lead.id)
    for name, value in ERASED_VALUES.items():
        setattr(lead, name, value)
    lead.attributes = {}
    lead.erased_at = now
    lead.save(
        update_fields=[
            "email",
            *ERASED_VALUES,
            "attributes",
            "erased_at",
            "updated_at",
        ]
    )
    cleared = Touchpoint.objects.filter(lead_id=lead.id).update(properties={})
    # Erased leads leave campaign attribution: rebuild the days they counted in.
    attribution_days_mark(moments=lead_conversion_moments(lead))
    leads_mark_for_rescore([lead.id], now=now)
    logger.info(
        "lead %s: personal data erased, %s touchpoints cleared", lead.id, cleared
    )
    return {"touchpoints_cleared": cleared}


def _family_ids(lead: Lead) -> list[int]:
    """The lead, the leads it was merged into, and the leads merged into it.

    A merge moves the duplicate's touchpoints to the survivor, so one
    person's external ids may sit on any of these rows.
    """
    ids = {lead.id}
    current = lead.merged_into_id
    while current is not None and current not in ids:
        ids.add(current)
        current = (
            Lead.objects.filter(id=current)
            .values_list("merged_into_id", flat=True)
            .first()
        )
    frontier = [lead.id]
    while frontier:
        frontier = list(
            Lead.objects.filter(merged_into_id__in=frontier)
            .exclude(id__in=ids)
            .values_list("id", flat=True)
        )
        ids.update(frontier)
    return sorted(ids)


def person_identifiers(lead: Lead) -> list[str]:
    """What names the person in a copy, lower-cased: e-mail, local part, names."""
    email = lead.email.strip().lower()
    candidates = [email, email.rpartition("@")[0], lead.first_name, lead.last_name]
    found = {c.strip().lower() for c in candidates if c and c.strip()}
    return sorted(
        (c for c in found if c == email or len(c) >= MIN_NAME_LENGTH),
        key=len,
        reverse=True,
    )


def _compact(text: str) -> str:
    """Letters and digits only: "Ada-Lovelace" and "adalovelace.com" compare."""
    return "".join(ch for ch in text.lower() if ch.isalnum())


def _names(text: str, identifiers: list[str]) -> bool:
    low = text.lower()
    return any(i in low for i in identifiers)


def erased_external_id(source: str, external_id: str) -> str:
    """The stand-in of an external id that named a person: stable, not reversible."""
    digest = salted_hmac(
        "leads.erasure.external_id", f"{source}\x00{external_id}"
    ).hexdigest()
    return f"erased-{digest[:32]}"


def touchpoint_external_ids_erase(*, lead: Lead, now: dt.datetime) -> dict[str, int]:
    """Replace the external ids of the person's touchpoints that name them.

    Precondition: inside the erase transaction with ``lead`` locked and its
    e-mail and names not yet replaced. Returns counts for the audit event.
    """
    identifiers = person_identifiers(lead)
    replaced = 0
    touchpoints = Touchpoint.objects.filter(
        lead_id__in=_family_ids(lead), external_id__isnull=False
    ).only("id", "source", "external_id")
    for touchpoint in touchpoints.iterator(chunk_size=2_000):
        if _names(touchpoint.external_id, identifiers):
            Touchpoint.objects.filter(id=touchpoint.id).update(
                external_id=erased_external_id(
                    touchpoint.source, touchpoint.external_id
                )
            )
            replaced += 1
    return {"external_ids_replaced": replaced}


def account_personal_name_erase(*, lead: Lead, now: dt.datetime) -> dict[str, int]:
    """Rename the lead's account when it was made from the person's own domain.

    Precondition: inside the erase transaction with ``lead`` locked and not
    yet erased. An account with a lead of anyone else stays as it is (it is
    a company, whatever its name). The admin's change log of a renamed
    account is renamed too. Returns counts for the audit event.
    """
    if lead.account_id is None:
        return {"accounts_renamed": 0}
    account = Account.objects.select_for_update().get(id=lead.account_id)
    if (
        Lead.objects.filter(account_id=account.id)
        .exclude(id__in=_family_ids(lead))
        .exists()
    ):
        return {"accounts_renamed": 0}
    compact = _compact(f"{account.name} {account.domain}")
    identifiers = [_compact(i) for i in person_identifiers(lead)]
    if not any(i and i in compact for i in identifiers):
        return {"accounts_renamed": 0}
    account.name = f"Erased account {account.id}"
    account.domain = ""
    account.save(update_fields=["name", "domain", "updated_at"])
    LogEntry.objects.filter(
        content_type=ContentType.objects.get_for_model(Account),
        object_id=str(account.id),
    ).update(object_repr=account.name)
    logger.info("lead %s: account %s renamed on erasure", lead.id, account.id)
    return {"accounts_renamed": 1}


def redact_person(text: str, lead: Lead) -> str:
    """``text`` with the person's e-mail, names and phone replaced by [erased]."""
    pieces = list(person_identifiers(lead))
    phone = lead.phone.strip()
    if phone:
        pieces.append(phone.lower())
        digits = "".join(ch for ch in phone if ch.isdigit())
        if len(digits) >= 6:
            pieces.append(digits)
    for piece in sorted(set(pieces), key=len, reverse=True):
        # Names only as whole words; the e-mail and phone anywhere.
        pattern = re.escape(piece)
        if piece.isalpha():
            pattern = rf"\b{pattern}\b"
        text = re.sub(pattern, REDACTED, text, flags=re.IGNORECASE)
    return text


def stage_reasons_erase(*, lead: Lead, now: dt.datetime) -> dict[str, int]:
    """Take the person out of the free-text reasons of the lead's stage moves.

    Precondition: inside the erase transaction with ``lead`` locked and not
    yet erased. Returns counts for the audit event.
    """
    redacted = 0
    for transition in (
        StageTransition.objects.filter(lead_id=lead.id)
        .exclude(reason="")
        .only("id", "reason")
    ):
        reason = redact_person(transition.reason, lead)
        if reason != transition.reason:
            StageTransition.objects.filter(id=transition.id).update(reason=reason)
            redacted += 1
    return {"stage_reasons_person_redacted": redacted}


def tracking_history_erase(*, lead: Lead, now: dt.datetime) -> dict[str, int]:
    """Delete the lead's website tracking records: its visitors (the
    snippet's cookie id, user agent, landing page and referrer are the
    person's) and the events kept for it, unmapped or not yet converted.
    Its touchpoints from tracking stay, with the other touchpoints'
    treatment (properties cleared by ``lead_personal_data_erase``).
    Returns counts for the audit event."""
    events, _ = TrackedEvent.objects.filter(lead_id=lead.id).delete()
    _, by_model = Visitor.objects.filter(lead_id=lead.id).delete()
    visitors = by_model.get(Visitor._meta.label, 0)
    events += by_model.get(TrackedEvent._meta.label, 0)
    if visitors or events:
        logger.info(
            "lead %s: %s visitors and %s tracked events deleted",
            lead.id,
            visitors,
            events,
        )
    return {"visitors_deleted": visitors, "tracked_events_deleted": events}
