"""The e-mails of the handoff: who is told what when a step of the SLA fires.

Each kind has ``templates/emails/handoff_<kind>_subject.txt`` and
``_body.txt``. ``notification_send`` is called by a task after the step
committed; it reads the handoff fresh, so a retry after the mail server came
back sends what is true then.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse

from handoff.models import Handoff, SalesProfile

logger = logging.getLogger(__name__)

KINDS = (
    "at_risk",
    "breached",
    "reassigned",
    "follow_up_breached",
    "account_owner",
    "handed_over",
)


def _managers() -> list[str]:
    return list(
        SalesProfile.objects.filter(is_manager=True, user__is_active=True)
        .exclude(user__email="")
        .values_list("user__email", flat=True)
    )


def recipients(kind: str, handoff: Handoff) -> list[str]:
    """Who gets the e-mail of ``kind`` about ``handoff`` (without blanks)."""
    if kind in ("at_risk", "reassigned"):
        people = [handoff.assigned_to.email if handoff.assigned_to else ""]
    elif kind == "breached":
        people = [handoff.sla.escalation_email] if handoff.sla.escalation_email else []
        people = people or _managers()
    elif kind == "follow_up_breached":
        people = [handoff.owner.email if handoff.owner else ""]
        people.append(handoff.sla.escalation_email)
    elif kind == "account_owner":
        account = handoff.lead.account
        people = [account.owner.email if account and account.owner else ""]
    elif kind == "handed_over":
        people = [handoff.owner.email if handoff.owner else ""]
    else:
        raise ValueError(f"Unknown notification {kind!r}; use one of {KINDS}.")
    return sorted({p for p in people if p})


def notification_send(*, kind: str, handoff_id: int) -> int:
    """Send the e-mail of ``kind``; return how many recipients it went to.

    A missing handoff sends nothing. Mail errors propagate so the task retries.
    """
    handoff = (
        Handoff.objects.select_related(
            "lead__account__owner", "assigned_to", "owner", "sla", "reason"
        )
        .filter(id=handoff_id)
        .first()
    )
    if handoff is None:
        return 0
    to = recipients(kind, handoff)
    if not to:
        logger.warning("no recipient for %s e-mail of handoff %s", kind, handoff_id)
        return 0
    context = {
        "handoff": handoff,
        "lead": handoff.lead,
        "queue_url": settings.SITE_URL + reverse("handoff:queue"),
        "lead_url": settings.SITE_URL
        + reverse("crm:lead_detail", args=[handoff.lead_id]),
    }
    subject = render_to_string(f"emails/handoff_{kind}_subject.txt", context)
    body = render_to_string(f"emails/handoff_{kind}_body.txt", context)
    send_mail(
        " ".join(subject.split()),
        body,
        settings.DEFAULT_FROM_EMAIL,
        to,
    )
    logger.info("%s e-mail of handoff %s sent to %s people", kind, handoff_id, len(to))
    return len(to)
