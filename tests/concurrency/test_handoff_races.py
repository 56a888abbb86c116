"""Races of the handoff on PostgreSQL: assignment and the escalation ladder.

Each test runs the services in real threads, each with its own database
connection (closed when the thread ends), released together by a barrier so
their transactions overlap (``tests.threads``). SQLite serialises every write
transaction, so these only mean something on PostgreSQL (``postgres`` marker).
Two people deciding one handoff at once is raced through the API in
``tests/concurrency/test_handoff_decisions.py``.

E-mails: the services enqueue ``send_notification_task`` on commit; Celery
is eager in tests, so the task runs in the committing thread right after its
commit and the locmem backend appends to the shared ``mail.outbox``.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from typing import Any

import pytest
from django.core import mail

from handoff import selectors, services
from handoff.exceptions import HandoffNotYours
from handoff.models import Handoff, HandoffEvent, Team, TeamMember
from leads.models import Lead, Stage
from tests.factories import LeadFactory, SlaFactory, TeamMemberFactory, UserFactory
from tests.threads import run_together

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

# Monday 2026-03-02 10:00 UTC; the factories' SLA: 8 business hours, 09-17 UTC.
MONDAY_10 = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)
AT_RISK = dt.datetime(2026, 3, 2, 16, 30, tzinfo=dt.UTC)  # at risk from 16:00
OVERDUE = dt.datetime(2026, 3, 3, 10, 1, tzinfo=dt.UTC)  # due Tuesday 10:00


def mql_leads(n: int) -> list[Lead]:
    """MQLs without their handoff (made directly, so no task opens one)."""
    return [
        LeadFactory(
            stage=Stage.MQL, highest_stage=Stage.MQL, stage_changed_at=MONDAY_10
        )
        for _ in range(n)
    ]


def team_of(n: int) -> tuple[Any, list[Any]]:
    sla = SlaFactory(accept_within_hours=8, at_risk_percent=75)
    sdrs = [TeamMemberFactory(team=sla.team).user for _ in range(n)]
    return sla, sdrs


def test_40_mqls_opened_from_4_threads_are_spread_fairly():
    sla, sdrs = team_of(4)
    leads = mql_leads(40)

    def open_all(seed: int) -> int:
        # Every thread opens every lead, each in its own order: the lead lock
        # makes the second opening of a lead find the first one's handoff.
        order = [lead.id for lead in leads]
        random.Random(seed).shuffle(order)
        for lead_id in order:
            services.handoff_open(lead_id=lead_id, now=MONDAY_10)
        return len(order)

    results = run_together(*(lambda s=seed: open_all(s) for seed in range(4)))

    assert results == [("ok", 40)] * 4
    assert Handoff.objects.count() == 40
    assert Counter(Handoff.objects.values_list("lead_id", flat=True)) == {
        lead.id: 1 for lead in leads
    }
    assert set(Handoff.objects.values_list("status", flat=True)) == {"pending"}
    assert Counter(Handoff.objects.values_list("assigned_to", flat=True)) == {
        sdr.id: 10 for sdr in sdrs
    }
    assert list(
        TeamMember.objects.filter(team=sla.team).values_list(
            "assigned_count", flat=True
        )
    ) == [10, 10, 10, 10]
    assert Team.objects.get(id=sla.team_id).turn == 40


def _open_overdue(n: int) -> tuple[list[Handoff], list[Any]]:
    _, sdrs = team_of(3)
    handoffs = [
        services.handoff_open(lead_id=lead.id, now=MONDAY_10) for lead in mql_leads(n)
    ]
    mail.outbox.clear()
    return handoffs, sdrs


@pytest.mark.parametrize(
    "runners",
    [
        ("handoffs_expire_overdue", "handoffs_expire_overdue"),
        ("escalation_run", "escalation_run"),
        ("escalation_run", "handoffs_expire_overdue"),
    ],
)
def test_two_beats_expire_escalate_and_reassign_each_overdue_handoff_once(runners):
    handoffs, _ = _open_overdue(30)
    beats = [getattr(services, name) for name in runners]

    results = run_together(*(lambda f=beat: f(now=OVERDUE) for beat in beats))

    assert [kind for kind, _ in results] == ["ok", "ok"]
    expired = [r if isinstance(r, int) else r["expired"] for _, r in results]
    assert sum(expired) == 30
    for old in handoffs:
        old.refresh_from_db()
        assert old.status == "expired"
        assert sorted(
            HandoffEvent.objects.filter(handoff=old).values_list("kind", flat=True)
        ) == ["assigned", "escalated", "expired"]
        new = Handoff.objects.get(previous=old)
        assert (new.status, new.sequence, new.lead_id) == ("pending", 2, old.lead_id)
        assert new.assigned_to_id != old.assigned_to_id
        assert HandoffEvent.objects.filter(handoff=new).count() == 1
    assert Handoff.objects.count() == 60
    subjects = Counter(m.subject.split(":")[0] for m in mail.outbox)
    assert subjects == {
        "[Leadflow] SLA breached": 30,
        "[Leadflow] Reassigned to you": 30,
    }
    breached = [m for m in mail.outbox if "breached" in m.subject]
    assert {tuple(m.to) for m in breached} == {("escalations@leadflow.test",)}


def test_two_beats_at_the_at_risk_point_remind_each_sdr_once():
    handoffs, sdrs = _open_overdue(30)

    results = run_together(
        lambda: services.escalation_run(now=AT_RISK),
        lambda: services.escalation_run(now=AT_RISK),
    )

    assert [kind for kind, _ in results] == ["ok", "ok"]
    assert sum(r["reminded"] for _, r in results) == 30
    assert sum(r["expired"] for _, r in results) == 0
    for handoff in handoffs:
        handoff.refresh_from_db()
        assert (handoff.status, handoff.reminded_at) == ("pending", AT_RISK)
        assert (
            HandoffEvent.objects.filter(handoff=handoff, kind="reminded").count() == 1
        )
    assert len(mail.outbox) == 30
    assert Counter(m.to[0] for m in mail.outbox) == {sdr.email: 10 for sdr in sdrs}
    assert {m.subject.split(":")[0] for m in mail.outbox} == {"[Leadflow] At risk"}


def test_deactivating_an_sdr_while_they_accept_leaves_nothing_theirs():
    _, (sdr, colleague) = team_of(2)
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    services.availability_set(user=colleague, is_away=True)
    lead = mql_leads(1)[0]
    handoff = services.handoff_open(lead_id=lead.id, now=MONDAY_10)
    services.availability_set(user=colleague, is_away=False)
    assert handoff.assigned_to == sdr

    accepted, deactivated = run_together(
        lambda: services.handoff_accept(handoff_id=handoff.id, actor=sdr),
        lambda: services.user_deactivate(user=sdr, to_user=colleague, actor=admin),
    )

    assert deactivated[0] == "ok", deactivated
    row = Handoff.objects.get(id=handoff.id)
    lead.refresh_from_db()
    if accepted[0] == "ok":  # the accept went first: its SAL moved on
        assert (row.status, row.owner, lead.owner) == ("accepted", colleague, colleague)
        assert deactivated[1]["accepted_handoff_ids"] == [handoff.id]
    else:  # the deactivation went first: the handoff is the colleague's
        assert isinstance(accepted[1], HandoffNotYours)
        assert (row.status, row.assigned_to, lead.owner) == ("pending", colleague, None)
        assert deactivated[1]["pending_handoff_ids"] == [handoff.id]
    assert not any(selectors.user_owned_work(user_id=sdr.pk).values())
