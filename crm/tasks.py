"""Celery tasks of the project package: thin adapters around ``crm`` services.

The campaign attribution roll-up is rebuilt every minute for the days marked
since the last run (within a time budget, the latest day first), and nightly
every day with conversions is marked, so the minute runs rebuild them all
(beat keys in ``crm.settings``). Both are safe with several workers and
beats: the marked run takes each mark once, and every day's rebuild holds
that day's lock.
"""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

from crm.common.tasks import PERIODIC_RETRY
from crm.marketing.attribution_rollup import (
    attribution_all_mark,
    attribution_marked_rebuild,
)


@shared_task(name="crm.rebuild_attribution", ignore_result=True, **PERIODIC_RETRY)
def rebuild_attribution_task() -> int:
    """Rebuild the campaign credits of the days marked since the last run.

    Idempotent: a second run finds no marks and does nothing; a day marked
    again while it ran, or left when its time budget ran out, is rebuilt by
    the next run. Returns the days rebuilt.
    """
    return len(attribution_marked_rebuild(now=timezone.now()).days)


@shared_task(name="crm.rebuild_all_attribution", ignore_result=True, **PERIODIC_RETRY)
def rebuild_all_attribution_task() -> int:
    """Mark every day with conversions, so the minute runs rebuild them all,
    catching what no mark announces (a backdated touchpoint, an admin's edit
    of a touchpoint's campaign). Marking twice only repeats the marks.
    Returns the days marked."""
    return attribution_all_mark()
