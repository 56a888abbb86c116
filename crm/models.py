"""Models of the project package: what the operators need to see across apps."""

from __future__ import annotations

from django.db import models


class FailedTask(models.Model):
    """A Celery task that gave up: its retries ran out or its error is not transient.

    Written once per task id by the ``task_failure`` handler in ``crm.celery``
    so a poison message leaves a trace an operator can find by lead, instead
    of only a line in a worker log. Arguments are ids only (reliability rule 4);
    ``lead_ids`` are the leads they concern, for searching.
    """

    task_name = models.CharField(max_length=200)
    task_id = models.CharField(max_length=64, unique=True)
    args = models.JSONField(default=list, blank=True)
    kwargs = models.JSONField(default=dict, blank=True)
    lead_ids = models.JSONField(default=list, blank=True)
    exception_class = models.CharField(max_length=200)
    exception_message = models.TextField(blank=True)
    retries = models.PositiveIntegerField(
        default=0, help_text="Retries made before giving up."
    )
    failed_at = models.DateTimeField()

    class Meta:
        ordering = ["-failed_at", "-id"]
        indexes = [
            # The admin list: newest failures first, often of one task.
            models.Index(
                fields=["task_name", "-failed_at"], name="failed_task_name_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.task_name} [{self.task_id}] {self.exception_class}"
