"""A real Celery worker takes an ingested demo request all the way to a handoff.

Ingestion enqueues a rescore after commit; the worker scores the lead, the
lifecycle makes it an MQL, ``lead_stage_changed`` enqueues the handoff task,
and the worker opens the handoff with an SDR of the default SLA's team.
"""

from __future__ import annotations

import tempfile
import time
import uuid
from pathlib import Path

import pytest
from django.db import transaction
from django.utils import timezone

from crm.celery import app as celery_app
from handoff.models import Handoff, Team
from leads.ingestion import TouchpointIn, touchpoints_ingest
from tests import workers
from tests.factories import LeadFactory, TeamMemberFactory

pytestmark = [
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]

TIMEOUT_S = 30
QUEUES = ("realtime", "timers", "default", "bulk")


def test_a_worker_hands_an_ingested_demo_request_to_an_sdr(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given an SDR in the default SLA's team and a lead in the market
    sdr = TeamMemberFactory(team=Team.objects.get(name="Sales development")).user
    lead = LeadFactory(country="US", region="north_america")
    token = uuid.uuid4().hex[:8]
    queues = {name: f"{name}-{token}" for name in QUEUES}
    monkeypatch.setitem(celery_app.conf, "task_always_eager", False)
    log = Path(tempfile.mkstemp(prefix="celery-worker-", suffix=".log")[1])
    # Tasks the worker itself sends (the handoff task, from the signal) follow
    # the settings' routes, so it also listens on the real realtime queue.
    worker = workers.start_worker({**queues, "sent_by_worker": "realtime"}, log)
    try:
        # When a demo request is ingested and committed
        now = timezone.now()
        with workers.sending_to(queues), transaction.atomic():
            touchpoints_ingest(
                items=[
                    TouchpointIn(kind="demo_request", lead_id=lead.id, occurred_at=now)
                ],
                source="test-worker",
                now=now,
            )
        # Then the worker scores it, makes it an MQL and opens its handoff
        deadline = time.monotonic() + TIMEOUT_S
        handoff = None
        while time.monotonic() < deadline and worker.poll() is None:
            handoff = Handoff.objects.filter(lead=lead).first()
            if handoff is not None:
                break
            time.sleep(0.2)
    finally:
        workers.stop(worker)
        workers.forget_queues(queues)

    if handoff is None:
        pytest.fail(f"no handoff within {TIMEOUT_S} s; worker log:\n{log.read_text()}")
    assert handoff.status == "pending"
    assert handoff.assigned_to == sdr
    assert handoff.sla.name == "Standard MQL"
    assert handoff.mql_at >= now
    # Under the neutral default model: director 15 + demo request 60.
    assert str(handoff.score) == "75.00"
    assert handoff.score_breakdown  # the explanation travels with the handoff
    log.unlink()
