"""Celery tasks of the leads domain: thin adapters around its services."""

from __future__ import annotations

from celery import shared_task

from crm.common.tasks import PERIODIC_RETRY
from leads.tracking.services import tracking_retention_apply


@shared_task(name="leads.import_csv", acks_late=True, ignore_result=True)
def import_csv_task(job_id: int) -> None:
    """Run CSV import job ``job_id`` (leads.imports.run.import_job_run).

    Idempotent: a finished, draft or missing job is skipped; a redelivery
    after a worker died resumes after the last committed chunk. Failures are
    recorded on the job (status failed, the line reached), not retried: rows
    already stored count as unchanged when the file is imported again.
    """
    # The services enqueue this task, so they are imported here (STYLE rule 19).
    from leads.imports.run import import_job_run

    import_job_run(job_id=job_id)


@shared_task(name="leads.apply_tracking_retention", **PERIODIC_RETRY)
def tracking_retention_task() -> dict[str, int]:
    """Delete anonymous tracking history past its source's retention
    (``leads.tracking.services.tracking_retention_apply``). Idempotent: a
    rerun deletes only what became old since; batches are bounded."""
    return tracking_retention_apply()
