"""The mail server being down never rolls back an escalation; no e-mail goes twice.

The escalation ladder commits each step and enqueues its e-mail after the
commit. With SMTP pointing at a closed port, the step stays committed, the
e-mail task retries up to its cap and is then recorded as a FailedTask, and
nothing raises into the escalation. Each e-mail is claimed on its event's
``notified_at`` before sending and released when sending fails, so a task
redelivered after the worker died between sending and acknowledging does not
send it again, while a failed send can be retried.

Tasks run eagerly but as a worker runs them (errors retried and reported,
not raised into the caller), so the retries happen without waiting.
"""

from __future__ import annotations

import datetime as dt
import socket
from collections import Counter
from typing import Any

import pytest
from celery.signals import task_retry
from django.core import mail
from django.utils import timezone

from crm.celery import app as celery_app
from crm.models import FailedTask
from handoff import notifications, services
from handoff.models import Handoff, HandoffEvent
from handoff.tasks import escalate_task, send_notification_task
from leads.models import Stage
from tests.factories import LeadFactory, SlaFactory, TeamMemberFactory

NOTIFY = "handoff.send_notification"


def _closed_port() -> int:
    """A local port nobody listens on (bound, then released at once)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def smtp_down(settings: Any) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = _closed_port()
    settings.EMAIL_TIMEOUT = 2


@pytest.fixture
def worker_like(monkeypatch: pytest.MonkeyPatch) -> None:
    """Eager tasks handle their errors as a worker does: retry, then report."""
    monkeypatch.setitem(celery_app.conf, "task_eager_propagates", False)


@pytest.fixture
def retries() -> Any:
    """Counts retries per task name, from Celery's own ``task_retry`` signal."""
    counted: Counter[str] = Counter()

    def count(sender: Any = None, **_: Any) -> None:
        counted[sender.name] += 1

    task_retry.connect(count, weak=False)
    yield counted
    task_retry.disconnect(count)


def overdue_handoff() -> tuple[Handoff, list[Any]]:
    """A pending handoff opened 30 days ago under an 8-business-hour SLA."""
    sla = SlaFactory()
    sdrs = [TeamMemberFactory(team=sla.team).user for _ in range(2)]
    opened = timezone.now() - dt.timedelta(days=30)
    lead = LeadFactory(
        stage=Stage.MQL, highest_stage=Stage.MQL, stage_changed_at=opened
    )
    return services.handoff_open(lead_id=lead.id, now=opened), sdrs


def assert_escalated(handoff: Handoff, sdrs: list[Any]) -> Handoff:
    """The expiry, escalation and reassignment are committed; returns the new one."""
    handoff.refresh_from_db()
    assert handoff.status == "expired"
    kinds = sorted(handoff.events.values_list("kind", flat=True))
    assert kinds == ["assigned", "escalated", "expired"]
    new = Handoff.objects.get(lead_id=handoff.lead_id, status="pending")
    assert (new.previous_id, new.assigned_to) == (handoff.id, sdrs[1])
    return new


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("smtp_down", "worker_like")
@pytest.mark.parametrize("path", ["service", "task"])
def test_smtp_down_never_rolls_back_an_escalation(path: str, retries: Counter) -> None:
    # Given an overdue handoff and a mail server that refuses connections
    handoff, sdrs = overdue_handoff()

    # When the escalation runs (the service, or the beat's task)
    if path == "service":
        result = services.escalation_run(now=timezone.now())
    else:
        outcome = escalate_task.delay()
        assert outcome.state == "SUCCESS"
        result = outcome.result

    # Then the step is committed and reported as done
    assert result["expired"] == 1
    new = assert_escalated(handoff, sdrs)
    # ... each e-mail was retried to its cap and recorded as failed
    cap = send_notification_task.max_retries
    assert retries[NOTIFY] == 2 * cap
    failed = FailedTask.objects.filter(task_name=NOTIFY).order_by("id")
    assert [(f.args, f.lead_ids, f.retries) for f in failed] == [
        (["breached", handoff.id], [handoff.lead_id], cap),
        (["reassigned", new.id], [handoff.lead_id], cap),
    ]
    assert {f.exception_class for f in failed} == {"ConnectionRefusedError"}
    # ... and the e-mails stay unsent, so a later retry may still send them
    assert not HandoffEvent.objects.filter(notified_at__isnull=False).exists()


@pytest.mark.django_db
def test_a_redelivered_notification_is_not_sent_twice(
    django_capture_on_commit_callbacks: Any,
) -> None:
    # Given an escalation whose e-mails went out
    handoff, _ = overdue_handoff()
    with django_capture_on_commit_callbacks(execute=True):
        services.escalation_run(now=timezone.now())
    sent = [(m.subject, m.to) for m in mail.outbox]
    assert len(sent) == 2

    # When the worker dies before acknowledging and the messages come again
    again = [
        send_notification_task.delay("breached", handoff.id).result,
        send_notification_task.delay("reassigned", handoff.next.id).result,
    ]

    # Then nothing more is sent
    assert again == [0, 0]
    assert [(m.subject, m.to) for m in mail.outbox] == sent
    escalated = HandoffEvent.objects.get(handoff=handoff, kind="escalated")
    assert escalated.notified_at is not None


@pytest.mark.django_db
def test_a_failed_send_releases_its_claim_so_the_retry_sends_it(
    settings: Any, smtp_down: None
) -> None:
    # Given an at-risk reminder to send
    handoff, sdrs = overdue_handoff()
    HandoffEvent.objects.create(handoff=handoff, kind="reminded", at=timezone.now())

    # When the mail server is down, then back
    with pytest.raises(ConnectionRefusedError):
        notifications.notification_send(kind="at_risk", handoff_id=handoff.id)
    reminded = HandoffEvent.objects.get(handoff=handoff, kind="reminded")
    assert reminded.notified_at is None
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    first = notifications.notification_send(kind="at_risk", handoff_id=handoff.id)
    second = notifications.notification_send(kind="at_risk", handoff_id=handoff.id)

    # Then it went out once, to the assigned SDR
    assert (first, second) == (1, 0)
    assert [m.to for m in mail.outbox] == [[sdrs[0].email]]
    reminded.refresh_from_db()
    assert reminded.notified_at is not None
