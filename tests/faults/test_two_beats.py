"""Two beat processes and two workers walk 200 handoffs up the escalation ladder.

Reliability rule 2 in ARCHITECTURE.md: deadlines are rows, and every step is
claimed with a conditional UPDATE, so even with two beats sending the timer
task and two workers running it at once, each handoff gets exactly one at-risk
reminder, one expiry, one escalation e-mail and one reassignment.

The processes are real (``celery beat`` twice, ``celery worker`` twice, on
the PostgreSQL test database and Redis), the timer runs every 2 seconds
(TIMER_INTERVAL_SECONDS) and e-mail goes to files (the file backend), so the
test counts what every process sent.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import time
from collections import Counter
from pathlib import Path

import pytest
from django.db.models import Count
from django.utils import timezone

from crm.models import FailedTask
from handoff import services
from handoff.models import Handoff, HandoffEvent
from leads.models import Stage
from tests import workers
from tests.factories import (
    CalendarFactory,
    LeadFactory,
    SlaFactory,
    TeamMemberFactory,
)
from tests.faults import processes

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
]

HANDOFFS = 200
#: Seconds from the moment the workers are ready to the at-risk point and to
#: the deadline: room for several timer runs in each step.
AT_RISK_IN_S = 4
DUE_IN_S = 20
#: Upper bound for the ladder and its e-mails once the deadline has passed
#: (about 40 s on an idle two-core machine; generous for a loaded one).
TIMEOUT_S = 300
STEPS = ("assigned", "reminded", "expired", "escalated")
SUBJECTS = {
    "[Leadflow] At risk:": "at_risk",
    "[Leadflow] SLA breached:": "breached",
    "[Leadflow] Reassigned to you:": "reassigned",
}


#: What the file backend writes after each message.
SEPARATOR = b"\n" + b"-" * 79 + b"\n"


def _sent(directory: Path) -> int:
    """How many messages the file backend wrote (connections opened in one
    second by one process may share a file)."""
    return sum(path.read_bytes().count(SEPARATOR) for path in directory.iterdir())


def _messages(directory: Path) -> list[email.message.EmailMessage]:
    """Every message the file backend wrote."""
    found = []
    for path in sorted(directory.iterdir()):
        for chunk in path.read_bytes().split(SEPARATOR):
            if chunk.strip():
                found.append(
                    email.message_from_bytes(chunk, policy=email.policy.default)
                )
    return found


def _kind(subject: str) -> str:
    return next(k for prefix, k in SUBJECTS.items() if subject.startswith(prefix))


def _count_by_lead(
    messages: list[email.message.EmailMessage], emails: dict[str, int]
) -> Counter[tuple[str, int]]:
    """(kind, lead id) -> messages; a body names its lead by e-mail address."""
    counted: Counter[tuple[str, int]] = Counter()
    for message in messages:
        body = message.get_body().get_content()
        leads = [lead_id for address, lead_id in emails.items() if address in body]
        assert len(leads) == 1, body
        counted[_kind(str(message["subject"])), leads[0]] += 1
    return counted


def test_two_beats_and_two_workers_fire_every_step_once(tmp_path: Path) -> None:
    # Given 200 pending handoffs under a round-the-clock SLA, three SDRs
    calendar = CalendarFactory(
        saturday=True,
        sunday=True,
        day_start=dt.time(0, 0),
        day_end=dt.time(23, 59, 59, 999999),
    )
    sla = SlaFactory(calendar=calendar, accept_within_hours=1, at_risk_percent=50)
    for _ in range(3):
        TeamMemberFactory(team=sla.team)
    leads = [
        LeadFactory(
            stage=Stage.MQL, highest_stage=Stage.MQL, stage_changed_at=timezone.now()
        )
        for _ in range(HANDOFFS)
    ]
    handoffs = [services.handoff_open(lead_id=lead.id) for lead in leads]
    ids = [h.id for h in handoffs]
    first_sdr = {h.id: h.assigned_to_id for h in handoffs}
    emails = {f"({lead.email})": lead.id for lead in leads}
    outbox = tmp_path / "mail"
    outbox.mkdir()
    env = workers.environment(
        {"TIMER_INTERVAL_SECONDS": "2", "EMAIL_URL": f"filemail:///{outbox}"}
    )

    # When two workers and two beats run
    processes.purge_queues()
    started = []
    try:
        for n in (1, 2):
            log = tmp_path / f"worker{n}.log"
            worker = processes.start_worker(f"faults-w{n}", log, env=env)
            started.append((worker, log))
        for worker, log in started:
            processes.wait_ready(worker, log)
        for n in (1, 2):
            log = tmp_path / f"beat{n}.log"
            beat = processes.start_beat(tmp_path / f"beat{n}", log, env=env)
            started.append((beat, log))
        # ... and the handoffs reach their at-risk point and deadline
        now = timezone.now()
        Handoff.objects.filter(id__in=ids).update(
            at_risk_at=now + dt.timedelta(seconds=AT_RISK_IN_S),
            due_at=now + dt.timedelta(seconds=DUE_IN_S),
        )
        deadline = time.monotonic() + DUE_IN_S + TIMEOUT_S
        while time.monotonic() < deadline:
            expired = Handoff.objects.filter(id__in=ids, status="expired").count()
            successors = Handoff.objects.filter(previous_id__in=ids).count()
            if (
                expired == HANDOFFS
                and successors == HANDOFFS
                and _sent(outbox) >= 3 * HANDOFFS
                and processes.queued() == 0
            ):
                break
            if any(p.poll() is not None for p, _ in started):
                break
            time.sleep(0.5)
    finally:
        for process, _ in reversed(started):  # beats first, then the workers
            processes.stop(process)
        processes.purge_queues()
    logs = "\n".join(f"--- {log.name}\n{log.read_text()[-3000:]}" for _, log in started)

    # Then every handoff expired once and has one pending successor
    expired = Handoff.objects.filter(id__in=ids, status="expired").count()
    assert expired == HANDOFFS, logs
    successors = list(
        Handoff.objects.filter(previous_id__in=ids).values_list(
            "previous_id", "status", "assigned_to_id", "sequence"
        )
    )
    assert len(successors) == HANDOFFS, logs
    assert {previous for previous, *_ in successors} == set(ids)
    assert {(status, seq) for _, status, _, seq in successors} == {("pending", 2)}
    # the lead goes to someone other than the SDR who let it breach
    assert all(user != first_sdr[prev] for prev, _, user, _ in successors)
    per_lead = Counter(
        Handoff.objects.filter(lead__in=leads).values_list("lead_id", flat=True)
    )
    assert set(per_lead.values()) == {2}
    # ... with one reminder, one expiry and one escalation event each
    per_handoff = set(
        HandoffEvent.objects.filter(handoff_id__in=ids)
        .values("handoff_id", "kind")
        .annotate(n=Count("id"))
        .values_list("kind", "n")
    )
    assert per_handoff == {(k, 1) for k in STEPS}
    kinds = Counter(
        HandoffEvent.objects.filter(handoff_id__in=ids).values_list("kind", flat=True)
    )
    assert kinds == dict.fromkeys(STEPS, HANDOFFS)
    # ... and one e-mail of each kind per lead, every event marked as sent
    counted = _count_by_lead(_messages(outbox), emails)
    lead_ids = {lead.id for lead in leads}
    assert counted == {
        (kind, lead_id): 1 for kind in SUBJECTS.values() for lead_id in lead_ids
    }
    assert not HandoffEvent.objects.filter(
        handoff_id__in=ids, kind__in=["reminded", "escalated"], notified_at=None
    ).exists()
    assert not HandoffEvent.objects.filter(
        handoff__previous_id__in=ids, kind="assigned", notified_at=None
    ).exists()
    assert not FailedTask.objects.exists()
