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

A lead a manager hands to another rep (``owner_change_send``) is told to the
new owner the same way, its OwnerChange row carrying the sent mark.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db.models import QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from handoff.models import Handoff, HandoffEvent, SalesProfile
from leads.models import OwnerChange

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
    # Events written before the detail was one sentence read "Rep: rule".
    return (detail.partition(": ")[2] or detail) if detail else ""


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
    if event_id is None:
        logger.warning("%s e-mail of handoff %s has no event to mark", kind, handoff_id)
    if not _send_once(
        HandoffEvent.objects.filter(id=event_id) if event_id else None,
        subject,
        body,
        to,
    ):
        logger.info("%s e-mail of handoff %s was already sent", kind, handoff_id)
        return 0
    logger.info("%s e-mail of handoff %s sent to %s people", kind, handoff_id, len(to))
    return len(to)


def _send_once(mark: QuerySet | None, subject: str, body: str, to: list[str]) -> bool:
    """Send one e-mail unless ``mark`` (a row with ``notified_at``) says it was.

    The claim (a conditional UPDATE of ``notified_at``) commits before
    sending; a mail error releases it and propagates, so the task's retry can
    claim it again. False when it was already sent; with no mark, always sent.
    """
    claimed_at = timezone.now()
    if mark is not None and not mark.filter(notified_at__isnull=True).update(
        notified_at=claimed_at
    ):
        return False
    try:
        send_mail(" ".join(subject.split()), body, settings.DEFAULT_FROM_EMAIL, to)
    except Exception:
        if mark is not None:
            # Release only our own claim, so the retry can send it.
            mark.filter(notified_at=claimed_at).update(notified_at=None)
        raise
    return True


def owner_change_send(*, change_id: int) -> int:
    """Tell a lead's new owner that a manager handed it to them, once.

    Returns how many people it went to: 0 for a missing change, a new owner
    without an e-mail address, or an e-mail already sent (the change's
    ``notified_at``, claimed as ``notification_send`` claims its event's).
    """
    change = (
        OwnerChange.objects.select_related("lead", "actor", "from_owner", "to_owner")
        .filter(id=change_id)
        .first()
    )
    if change is None or not change.to_owner.email:
        logger.warning("no recipient for owner change %s", change_id)
        return 0
    context = {
        "change": change,
        "lead": change.lead,
        "pipeline_url": settings.SITE_URL + reverse("handoff:pipeline"),
        "lead_url": settings.SITE_URL
        + reverse("crm:lead_detail", args=[change.lead_id]),
    }
    subject = render_to_string("emails/lead_reassigned_subject.txt", context)
    body = render_to_string("emails/lead_reassigned_body.txt", context)
    if not _send_once(
        OwnerChange.objects.filter(id=change_id), subject, body, [change.to_owner.email]
    ):
        logger.info("e-mail of owner change %s was already sent", change_id)
        return 0
    logger.info("e-mail of owner change %s sent", change_id)
    return 1
