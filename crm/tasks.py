"""Celery tasks of the project package: the funnel roll-up's upkeep."""

from __future__ import annotations

from celery import shared_task

from crm.common.tasks import PERIODIC_RETRY
from crm.marketing.rollup import funnel_rollup_rebuild, funnel_rollup_refresh


@shared_task(name="crm.rebuild_funnel", ignore_result=True, **PERIODIC_RETRY)
def rebuild_funnel_task() -> int:
    """Rebuild the funnel roll-up's days touched by leads changed since the
    last run (everything on the first run); return how many days.

    Idempotent and safe with two workers or two beats: days are rebuilt from
    the leads under a per-day lock, and the recorded scan only moves forward.
    """
    return funnel_rollup_refresh().days


@shared_task(name="crm.rebuild_funnel_all", ignore_result=True, **PERIODIC_RETRY)
def rebuild_funnel_all_task() -> int:
    """Rebuild every day of the funnel roll-up; return how many days.

    Idempotent: a second run writes the same rows.
    """
    return funnel_rollup_rebuild().days
