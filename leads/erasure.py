"""Erasure of a lead's personal data, the leads app's share of it.

``crm.privacy.lead_erase`` runs this together with the other apps' steps in
one transaction and writes the audit event; nothing else should call it.
"""

from __future__ import annotations

import datetime as dt
import logging

from leads.models import Lead, Touchpoint
from leads.services import ERASED_EMAIL_DOMAIN, leads_mark_for_rescore

logger = logging.getLogger(__name__)

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
    leads_mark_for_rescore([lead.id], now=now)
    logger.info(
        "lead %s: personal data erased, %s touchpoints cleared", lead.id, cleared
    )
    return {"touchpoints_cleared": cleared}
