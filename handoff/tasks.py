"""Celery tasks of the handoff: thin adapters around handoff.services.

Queues (CELERY_TASK_ROUTES): ``realtime`` opens the handoff of a new MQL
(speed to lead), ``timers`` walks the escalation ladder and sends its e-mails,
so neither waits behind a bulk rescore.
"""

from __future__ import annotations

import logging
import smtplib

from celery import shared_task
from django.utils import timezone

from crm.common.tasks import PERIODIC_RETRY, TRANSIENT, TRANSIENT_RETRY
from handoff import notifications, services

logger = logging.getLogger(__name__)

#: What a mail server that is down or refusing looks like.
MAIL_ERRORS = (smtplib.SMTPException, OSError)
#: About an hour of retries while mail is down: 30 s doubling to 15 minutes.
MAIL_RETRY = TRANSIENT_RETRY | {
    "autoretry_for": (*MAIL_ERRORS, *TRANSIENT),
    "retry_backoff": 30,
    "retry_backoff_max": 900,
    "max_retries": 8,
}


@shared_task(name="handoff.open_for_mql", **TRANSIENT_RETRY)
def open_handoff_task(lead_id: int) -> int | None:
    """Give an MQL its handoff. Idempotent: a second run finds the open one."""
    handoff = services.handoff_open(lead_id=lead_id)
    return handoff.id if handoff else None


@shared_task(name="handoff.escalate", **PERIODIC_RETRY)
def escalate_task() -> dict[str, int]:
    """One pass of the escalation ladder; every step is claimed once per handoff."""
    return services.escalation_run(now=timezone.now())


@shared_task(name="handoff.send_notification", **MAIL_RETRY)
def send_notification_task(kind: str, handoff_id: int) -> int:
    """E-mail the people a handoff event concerns; retried while mail is down.

    About an hour of retries (30 s doubling to 15 minutes, 8 times), then the
    task gives up and is recorded as a FailedTask. A redelivered message sends
    nothing twice (the event's sent mark, see handoff.notifications).
    """
    return notifications.notification_send(kind=kind, handoff_id=handoff_id)


@shared_task(name="handoff.send_owner_change", **MAIL_RETRY)
def send_owner_change_task(change_id: int) -> int:
    """E-mail a lead's new owner that a manager handed it to them.

    Retried while mail is down, as ``send_notification_task``; a redelivered
    message sends nothing twice (the change's sent mark).
    """
    return notifications.owner_change_send(change_id=change_id)
