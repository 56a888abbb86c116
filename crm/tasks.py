"""Celery tasks of the project package: thin adapters around ``crm`` services.

The campaign attribution roll-up is rebuilt every minute for the days marked
since the last run (within a time budget, the latest day first), and nightly
every day with conversions is marked, so the minute runs rebuild them all
(beat keys in ``crm.settings``). Both are safe with several workers and
beats: the marked run takes each mark once, and every day's rebuild holds
that day's lock. The funnel roll-up is brought up to date every minute from
the leads changed since the last run, and rebuilt in full nightly; so is
rule analytics' roll-up, from the leads changed, rescored or decided and the
rejections made since the last run.
"""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.utils import timezone

from crm.common.tasks import PERIODIC_RETRY, TRANSIENT_RETRY
from crm.marketing.attribution_rollup import (
    attribution_all_mark,
    attribution_marked_rebuild,
)
from crm.marketing.replay import replay_run
from crm.marketing.rollup import funnel_rollup_rebuild, funnel_rollup_refresh
from crm.marketing.rule_candidates import candidate_counts_refresh
from crm.marketing.rule_rollup import rule_rollup_rebuild, rule_rollup_refresh
from crm.marketing.today import today_refresh


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


@shared_task(name="crm.rebuild_funnel", ignore_result=True, **PERIODIC_RETRY)
def rebuild_funnel_task() -> int:
    """Rebuild the funnel roll-up's days touched by leads changed since the
    last run (everything on the first run); return how many days.

    Idempotent and safe with two workers or two beats: days are rebuilt from
    the leads under a per-day lock, and the recorded scan only moves forward.
    """
    return funnel_rollup_refresh().days


@shared_task(name="crm.refresh_today", ignore_result=True, **PERIODIC_RETRY)
def refresh_today_task() -> int:
    """Count the dashboard's "Today" figures for the pages; return the leads.

    Reads only; two runs at once store the same kind of figures.
    """
    return today_refresh(now=timezone.now()).lead_total


@shared_task(name="crm.rebuild_funnel_all", ignore_result=True, **PERIODIC_RETRY)
def rebuild_funnel_all_task() -> int:
    """Rebuild every day of the funnel roll-up; return how many days.

    Idempotent: a second run writes the same rows.
    """
    return funnel_rollup_rebuild().days


@shared_task(name="crm.rebuild_rule_rollup", ignore_result=True, **PERIODIC_RETRY)
def rebuild_rule_rollup_task() -> int:
    """Rebuild rule analytics' roll-up days touched by leads changed,
    rescored or decided and by rejections made since the last run
    (everything on the first run); return how many days.

    Idempotent and safe with two workers or two beats: days are rebuilt under
    a per-day lock, and the recorded scan only moves forward.
    """
    return rule_rollup_refresh().days


@shared_task(name="crm.rebuild_rule_rollup_all", ignore_result=True, **PERIODIC_RETRY)
def rebuild_rule_rollup_all_task() -> int:
    """Rebuild every day of rule analytics' roll-up; return how many days.

    Idempotent: a second run writes the same rows.
    """
    return rule_rollup_rebuild().days


@shared_task(name="crm.replay_model", ignore_result=True, **TRANSIENT_RETRY)
def replay_model_task(replay_id: int) -> None:
    """Compute a draft model's replay on history (``crm.marketing.replay``).

    A transient error (a lost database connection) is retried: the rerun
    starts the replay over; any other failure is stored on the replay, which
    the user starts again. A rerun of a replay already done does nothing.
    """
    replay_run(replay_id=replay_id)


@shared_task(name="crm.count_rule_candidates", ignore_result=True, **TRANSIENT_RETRY)
def count_rule_candidates_task(model_id: int, start: str, end: str) -> None:
    """Count and store the candidate rules of a model's period (ISO days,
    ``[start, end)``) for the rule analytics page and API.

    Reads only; a rerun stores the figures of the moment again, and a model
    gone meanwhile stores nothing. The period's claim is released either way.
    """
    candidate_counts_refresh(
        model_id=model_id,
        start=dt.date.fromisoformat(start),
        end=dt.date.fromisoformat(end),
    )
