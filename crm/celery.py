"""The Celery application, and the record of tasks that gave up.

Configuration comes from Django settings (the ``CELERY_`` prefix). With no
broker configured, ``CELERY_TASK_ALWAYS_EAGER`` is on and tasks run in-process.

Every project task retries transient errors (database connection lost, mail
server down) a bounded number of times with backoff (the options of
``crm.common.tasks``). When it gives up, or fails
with an error that is not transient, Celery sends ``task_failure`` and
``task_failed_record`` stores a FailedTask row with the lead ids the task was
about, so a poison message is visible in the admin instead of only in a log.
"""

from __future__ import annotations

import inspect
import logging
import os
from typing import Any

from celery import Celery, Task
from celery.signals import task_failure

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "crm.settings")

logger = logging.getLogger(__name__)

app = Celery("crm")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

#: Longest exception message kept; tracebacks stay in the worker log.
MESSAGE_MAX = 2000


def _ids(value: Any) -> list[int]:
    """The integer ids in a task argument (one id or a list of them)."""
    values = value if isinstance(value, list | tuple) else [value]
    return [v for v in values if isinstance(v, int) and not isinstance(v, bool)]


def lead_ids_of(task: Task, args: Any, kwargs: Any) -> list[int]:
    """The leads a task's arguments concern, by the parameter names.

    ``lead_id`` and ``lead_ids`` are taken as they are; a ``handoff_id`` is
    looked up (the handoff's lead). Other arguments (chunk, job, model ids)
    name no single lead.
    """
    try:
        bound = inspect.signature(task.run).bind_partial(*args, **kwargs).arguments
    except (TypeError, ValueError):
        bound = dict(kwargs)
    lead_ids = _ids(bound.get("lead_id")) + _ids(bound.get("lead_ids"))
    handoff_ids = _ids(bound.get("handoff_id"))
    if handoff_ids:
        from handoff.models import Handoff

        lead_ids += list(
            Handoff.objects.filter(id__in=handoff_ids).values_list("lead_id", flat=True)
        )
    return sorted(set(lead_ids))


def task_failed_record(
    *,
    task: Task,
    task_id: str,
    exception: BaseException,
    args: Any,
    kwargs: Any,
) -> Any:
    """Store one FailedTask row for a task that gave up; return it.

    Idempotent by task id: a second failure report for the same id (a
    redelivered message failing again) keeps the first row. Arguments are
    stored as sent (ids only: reliability rule 4 in ARCHITECTURE.md).
    """
    from django.utils import timezone

    from crm.models import FailedTask

    args = list(args or ())
    kwargs = dict(kwargs or {})
    record, _ = FailedTask.objects.get_or_create(
        task_id=str(task_id),
        defaults={
            "task_name": task.name,
            "args": args,
            "kwargs": kwargs,
            "lead_ids": lead_ids_of(task, args, kwargs),
            "exception_class": type(exception).__qualname__,
            "exception_message": str(exception)[:MESSAGE_MAX],
            "retries": getattr(task.request, "retries", 0) or 0,
            "failed_at": timezone.now(),
        },
    )
    return record


@task_failure.connect(dispatch_uid="crm.failed_task")
def _on_task_failure(
    sender: Task | None = None,
    task_id: str | None = None,
    exception: BaseException | None = None,
    args: Any = None,
    kwargs: Any = None,
    **_: Any,
) -> None:
    """Record the failure; never raise (the worker must go on to the next task)."""
    if sender is None or task_id is None or exception is None:
        return
    try:
        task_failed_record(
            task=sender, task_id=task_id, exception=exception, args=args, kwargs=kwargs
        )
    except Exception:
        # The database may be what failed; the worker log keeps the failure.
        logger.exception("could not record the failure of task %s", task_id)
