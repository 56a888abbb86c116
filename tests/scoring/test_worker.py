"""A real Celery worker rescores what ingestion enqueued (Redis and PostgreSQL).

The rest of the suite runs tasks eagerly. This test starts ``celery -A crm
worker`` as a subprocess on the test database and a broker from the
environment, ingests a demo request the way the API does, and waits for the
worker to score the lead and make it an MQL: the on-commit enqueue, the JSON
message, the routing to the realtime queue and the task all take part.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import transaction
from django.utils import timezone

from crm.celery import app as celery_app
from leads.ingestion import TouchpointIn, touchpoints_ingest
from leads.models import Lead, StageTransition
from scoring.models import LeadScore
from tests import workers
from tests.factories import LeadFactory

pytestmark = [
    pytest.mark.redis,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("b2b_model"),
]

#: How long the worker may take to start and score the lead.
TIMEOUT = dt.timedelta(seconds=30)
QUEUES = ("realtime", "default", "bulk")


def _wait_for_mql(lead_id: int, log: Path, worker: subprocess.Popen[bytes]) -> Lead:
    deadline = time.monotonic() + TIMEOUT.total_seconds()
    while time.monotonic() < deadline:
        lead = Lead.objects.get(id=lead_id)
        if lead.stage == Lead.Stage.MQL and lead.rescore_requested_at is None:
            return lead
        if worker.poll() is not None:
            break
        time.sleep(0.2)
    pytest.fail(
        f"lead {lead_id} was not scored within {TIMEOUT.total_seconds():.0f} s "
        f"(worker exit code {worker.poll()}); worker log:\n{log.read_text()}"
    )


def test_a_worker_scores_an_ingested_demo_request_and_makes_the_lead_an_mql(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a lead in the market (director, marketing title: fit 25) and a
    # worker listening on queues of its own, so parallel runs never meet.
    lead = LeadFactory(country="US", region="north_america")
    token = uuid.uuid4().hex[:8]
    queues = {name: f"{name}-{token}" for name in QUEUES}
    # The suite runs tasks eagerly (conftest); this test needs the broker.
    # setitem, not setattr: Celery's settings are a mapping, not attributes.
    monkeypatch.setitem(celery_app.conf, "task_always_eager", False)
    log = Path(tempfile.mkstemp(prefix="celery-worker-", suffix=".log")[1])
    worker = workers.start_worker(queues, log)
    try:
        # When a demo request arrives and its transaction commits
        now = timezone.now()
        with workers.sending_to(queues), transaction.atomic():
            outcomes = touchpoints_ingest(
                items=[
                    TouchpointIn(kind="demo_request", lead_id=lead.id, occurred_at=now)
                ],
                source="test-worker",
                now=now,
            )
        assert [o.status for o in outcomes] == ["created"]
        assert Lead.objects.get(id=lead.id).rescore_requested_at == now

        # Then the worker scores the lead and the lifecycle makes it an MQL
        scored = _wait_for_mql(lead.id, log, worker)
    finally:
        workers.stop(worker)
        workers.forget_queues(queues)

    assert (scored.score, scored.fit_score, scored.engagement_score) == (
        Decimal("85.00"),
        Decimal("25.00"),
        Decimal("60.00"),
    )
    assert scored.grade == "B"
    assert scored.scored_at is not None
    score = LeadScore.objects.get(lead=scored)
    assert (score.total, score.model.name) == (Decimal("85.00"), "B2B demo")
    transition = StageTransition.objects.get(lead=scored)
    assert (
        transition.from_stage,
        transition.to_stage,
        transition.system_actor,
        transition.actor,
    ) == ("lead", "mql", "scoring", None)
    assert transition.reason == (
        "Score 85.0 reached the MQL threshold 60.0 (B2B demo v1)"
    )
    assert worker.returncode is not None
    log.unlink()
