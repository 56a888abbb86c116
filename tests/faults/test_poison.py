"""A poison task is retried a bounded number of times, then recorded as failed.

Every project task retries transient errors (lost database connection, mail
server down) with backoff and a cap; when the cap is reached, or the error
is not transient, Celery's ``task_failure`` signal writes a FailedTask row
naming the task, its arguments (ids only) and the leads they concern, which
the admin shows read-only.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.db import OperationalError
from django.urls import reverse

import handoff.tasks
import leads.tasks
import scoring.services.rescoring
import scoring.tasks
from crm.celery import app as celery_app
from crm.celery import task_failed_record
from crm.models import FailedTask
from scoring.tasks import rescore_leads_task
from tests import workers
from tests.factories import LeadFactory
from tests.faults import poison_tasks, processes

PROJECT_APPS = ("crm.", "leads.", "scoring.", "handoff.")
TASK_MODULES = (handoff.tasks, leads.tasks, scoring.tasks)
#: Import failures are recorded on the import job itself and never retried
#: (leads.tasks): rows already stored count as unchanged on a re-import.
NOT_RETRIED = {"leads.import_csv"}
TIMEOUT_S = 90


def worker_like(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run eager tasks as a worker does: errors are handled (retried, then
    reported through ``task_failure``), not raised into the caller."""
    monkeypatch.setitem(celery_app.conf, "task_eager_propagates", False)


def _project_tasks() -> list[str]:
    # The task modules are imported (TASK_MODULES), so the app knows them all.
    return sorted(name for name in celery_app.tasks if name.startswith(PROJECT_APPS))


@pytest.mark.parametrize("name", _project_tasks())
def test_every_project_task_has_a_bounded_retry_on_transient_errors(
    name: str,
) -> None:
    task = celery_app.tasks[name]

    assert task.acks_late is True
    assert isinstance(task.max_retries, int)
    assert 0 <= task.max_retries <= 10
    if name in NOT_RETRIED:
        assert not getattr(task, "autoretry_for", ())
    else:
        assert OperationalError in task.autoretry_for
        assert task.max_retries >= 1
        assert task.retry_backoff


@pytest.mark.django_db
def test_a_rescore_that_keeps_failing_is_retried_up_to_its_cap_then_recorded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a lead whose rescore always loses its database connection
    lead = LeadFactory()
    runs = []

    def failing(*, lead_ids: list[int], marked_only: bool, coalesce: bool) -> int:
        runs.append(lead_ids)
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(scoring.services.rescoring, "leads_rescore", failing)
    worker_like(monkeypatch)

    # When the rescore task runs
    result = rescore_leads_task.delay([lead.id])

    # Then it ran once plus its retries, and one failure is recorded
    assert result.state == "FAILURE"
    assert runs == [[lead.id]] * (rescore_leads_task.max_retries + 1)
    failed = FailedTask.objects.get()
    assert failed.task_name == "scoring.rescore_leads"
    assert failed.args == [[lead.id]]
    assert failed.kwargs == {}
    assert failed.lead_ids == [lead.id]
    assert failed.exception_class == "OperationalError"
    assert failed.exception_message == "server closed the connection unexpectedly"
    assert failed.retries == rescore_leads_task.max_retries


@pytest.mark.django_db
def test_an_error_that_is_not_transient_is_recorded_without_retrying(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lead = LeadFactory()
    runs = []

    def broken(*, lead_ids: list[int], marked_only: bool, coalesce: bool) -> int:
        runs.append(lead_ids)
        raise ValueError("bad breakdown")

    monkeypatch.setattr(scoring.services.rescoring, "leads_rescore", broken)
    worker_like(monkeypatch)

    result = rescore_leads_task.delay(lead_ids=[lead.id])

    assert result.state == "FAILURE"
    assert runs == [[lead.id]]
    failed = FailedTask.objects.get()
    assert (failed.args, failed.kwargs) == ([], {"lead_ids": [lead.id]})
    assert failed.lead_ids == [lead.id]
    assert (failed.exception_class, failed.retries) == ("ValueError", 0)


@pytest.mark.django_db
def test_a_second_failure_report_for_one_task_id_keeps_one_row() -> None:
    lead = LeadFactory()
    for message in ("first", "second"):
        task_failed_record(
            task=rescore_leads_task,
            task_id="same-id",
            exception=OperationalError(message),
            args=[[lead.id]],
            kwargs={},
        )

    failed = FailedTask.objects.get()
    assert (failed.task_id, failed.exception_message) == ("same-id", "first")


@pytest.mark.django_db
def test_failed_tasks_are_read_only_in_the_admin(client) -> None:
    # Given a recorded failure and an administrator
    lead = LeadFactory()
    failed = task_failed_record(
        task=rescore_leads_task,
        task_id="t-1",
        exception=OperationalError("gone"),
        args=[[lead.id]],
        kwargs={},
    )
    admin = get_user_model().objects.create_superuser("root", "root@leadflow.test")
    client.force_login(admin)
    change = reverse("admin:crm_failedtask_change", args=[failed.id])

    # Then the list and the record show it, and nothing can be added or edited
    listing = client.get(reverse("admin:crm_failedtask_changelist"))
    assert listing.status_code == 200
    assert "scoring.rescore_leads" in listing.content.decode()
    page = client.get(change)
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert client.get(reverse("admin:crm_failedtask_add")).status_code == 403
    edit = client.post(change, {"task_name": "renamed", "retries": 0})
    assert edit.status_code == 403
    failed.refresh_from_db()
    assert failed.task_name == "scoring.rescore_leads"


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_retries_a_poison_task_to_its_cap_and_records_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import redis

    # Given a worker that knows the poison task, and a lead
    lead = LeadFactory()
    token = uuid.uuid4().hex
    client = redis.Redis.from_url(workers.broker_url())
    monkeypatch.setitem(celery_app.conf, "task_always_eager", False)
    log = tmp_path / "worker.log"
    processes.purge_queues()
    worker = processes.start_worker(
        "faults-poison",
        log,
        env=workers.environment(),
        include=["tests.faults.poison_tasks"],
    )
    try:
        processes.wait_ready(worker, log)

        # When the poison task is sent
        poison_tasks.poison_rescore_task.delay([lead.id], token)

        # Then the worker gives up on it after its retries and records it
        deadline = time.monotonic() + TIMEOUT_S
        while time.monotonic() < deadline and worker.poll() is None:
            if FailedTask.objects.exists():
                break
            time.sleep(0.3)
    finally:
        processes.stop(worker)
        processes.purge_queues()
    runs = int(client.get(poison_tasks.runs_key(token)) or 0)
    client.delete(poison_tasks.runs_key(token))

    failed = FailedTask.objects.filter(task_name=poison_tasks.NAME).first()
    assert failed is not None, log.read_text()
    max_retries = rescore_leads_task.max_retries
    assert runs == max_retries + 1
    assert failed.retries == max_retries
    assert failed.args == [[lead.id], token]
    assert failed.lead_ids == [lead.id]
    assert failed.exception_class == "OperationalError"
    assert str(lead.id) in failed.exception_message
    assert FailedTask.objects.count() == 1
