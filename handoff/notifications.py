"""The e-mails of the handoff: who is told what when a step of the SLA fires.

Each kind has ``templates/emails/handoff_<kind>_subject.txt`` and
``_body.txt``. ``notification_send`` is called by a task after the step
committed; it reads the handoff fresh, so a retry after the mail server came
back sends what is true then.

Each e-mail reports one HandoffEvent (EVENT_OF_KIND) and is sent at most
once: the event's ``notified_at`` is claimed by a conditional UPDATE before
sending and released if sending fails, so a task redelivered after the
worker died between sending and acknowledging skips it. The price is the
other narrow window: a worker killed after the claim and before the mail
server accepted the message loses that one e-mail (the event stays on the
handoff's history); a second copy in every inbox at each redelivery would be
the worse failure.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from handoff.models import Handoff, HandoffEvent, SalesProfile

logger = logging.getLogger(__name__)

KINDS = (
    "at_risk",
    "breached",
    "reassigned",
    "follow_up_breached",
    "account_owner",
    "handed_over",
)

#: The event each e-mail reports; that event's ``notified_at`` is its sent mark.
#: A reassignment reports the first assignment of the new handoff.
EVENT_OF_KIND = {
    "at_risk": HandoffEvent.Kind.REMINDED,
    "breached": HandoffEvent.Kind.ESCALATED,
    "reassigned": HandoffEvent.Kind.ASSIGNED,
    "follow_up_breached": HandoffEvent.Kind.FOLLOW_UP_BREACHED,
    "account_owner": HandoffEvent.Kind.REJECTED,
    "handed_over": HandoffEvent.Kind.ACCEPTED,
}


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


def _sales_rule(handoff_id: int) -> str:
    """How the accepted lead's rep was chosen ("" when no rep was routed)."""
    detail = (
        HandoffEvent.objects.filter(
            handoff_id=handoff_id, kind=HandoffEvent.Kind.HANDED_TO_SALES
        )
        .values_list("detail", flat=True)
        .first()
    )
    return detail.partition(": ")[2] if detail else ""


def _event_id(kind: str, handoff_id: int) -> int | None:
    return (
        HandoffEvent.objects.filter(handoff_id=handoff_id, kind=EVENT_OF_KIND[kind])
        .order_by("id")
        .values_list("id", flat=True)
        .first()
    )


def notification_send(*, kind: str, handoff_id: int) -> int:
    """Send the e-mail of ``kind`` once; return how many recipients it went to.

    A missing handoff, no recipient, or an e-mail already sent (its event's
    ``notified_at`` is set) sends nothing and returns 0. The claim commits
    before sending; a mail error releases it and propagates, so the task
    retries and the retry can claim it again. With no event to mark (not
    written by the services) the e-mail is sent unmarked.
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
    if kind == "handed_over":
        context |= {
            "pipeline_url": settings.SITE_URL + reverse("handoff:pipeline"),
            "sales_rule": _sales_rule(handoff_id),
        }
    subject = render_to_string(f"emails/handoff_{kind}_subject.txt", context)
    body = render_to_string(f"emails/handoff_{kind}_body.txt", context)
    event_id = _event_id(kind, handoff_id)
    claimed_at = timezone.now()
    if event_id is None:
        logger.warning("%s e-mail of handoff %s has no event to mark", kind, handoff_id)
    elif not HandoffEvent.objects.filter(id=event_id, notified_at__isnull=True).update(
        notified_at=claimed_at
    ):
        logger.info("%s e-mail of handoff %s was already sent", kind, handoff_id)
        return 0
    try:
        send_mail(
            " ".join(subject.split()),
            body,
            settings.DEFAULT_FROM_EMAIL,
            to,
        )
    except Exception:
        if event_id is not None:
            # Release only our own claim, so the retry can send it.
            HandoffEvent.objects.filter(id=event_id, notified_at=claimed_at).update(
                notified_at=None
            )
        raise
    logger.info("%s e-mail of handoff %s sent to %s people", kind, handoff_id, len(to))
    return len(to)
