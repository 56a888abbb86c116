"""Rescoring leads as their data changes: one lead, sets of leads, the reconciler.

``lead_rescore`` scores one locked lead (the per-lead path); ``leads_rescore``
scores the leads of a real-time task in sets (scoring.bulk.leads_rescore_set),
one lead at a time when a set fails; ``leads_marked_overdue`` claims the leads
whose rescore message was lost, for the reconciler to enqueue again.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import time
from collections.abc import Iterable
from typing import Any

from django.db import InterfaceError, OperationalError, transaction
from django.utils import timezone

from leads.locks import leads_for_update
from leads.models import Lead
from scoring import promotion, selectors, store
from scoring.engine import ModelSpec, ScoreResult, evaluate_touches
from scoring.models import ScoringModel
from scoring.services.rollups import account_rollups_request

logger = logging.getLogger(__name__)

#: Errors worth running the same work again for (a lost connection, a
#: deadlock): they are raised for Celery to retry, not recorded as failures.
TRANSIENT_ERRORS = (OperationalError, InterfaceError)


def lead_rescore(
    *,
    lead_id: int,
    model: ScoringModel,
    spec: ModelSpec | None = None,
    now: dt.datetime | None = None,
) -> ScoreResult | None:
    """Score one lead under ``model``, store it, and promote it if it qualifies.

    Locks the lead row for the transaction, so two workers rescoring the same
    lead run one after the other and a touchpoint stored meanwhile keeps the
    lead's rescore mark. Writes a history row only when the total changed and
    moves the lead only when it qualifies from ``lead``/``nurture``: running
    it twice changes nothing the second time. A recycled lead still cooling
    down at ``now`` (``recycle_until``) stays in nurture unless it had a
    high-intent touchpoint since it was recycled. A missing lead is skipped
    (returns None). The score is computed at ``now`` (decay).

    Reads and writes with the bulk path's functions (scoring.store): a lead
    scores the same on either path, in a handful of statements.
    """
    spec = spec or selectors.model_spec(model)
    with transaction.atomic():
        lead = store.lead_for_rescore(lead_id=lead_id, spec=spec)
        if lead is None:
            return None
        read_at = timezone.now()
        # Scored as of after the lock: no touchpoint read below arrived later
        # (its mark would wait for this lock), so scored_at never predates one.
        now = now or read_at
        touches = store.touches_by_lead(spec, lead_id, lead_id + 1)
        result = evaluate_touches(
            spec,
            store.facts_from_row(lead, lead["account_score"]),
            touches.get(lead_id, []),
            now,
        )
        previous = lead["previous"]
        store.scores_write(
            model=model,
            results={lead_id: result},
            now=now,
            read_at=read_at,
            previous={lead_id: previous} if previous else {},
        )
        # The roll-up sums its leads' engagement: unchanged engagement leaves
        # it as the last refresh left it; else refreshed after commit (see
        # account_rollups_request). A lead that moved to another account
        # meanwhile is caught by the full refresh after each bulk run.
        if lead["account_id"] and (
            previous is None or previous[2] != result.engagement_score
        ):
            account_rollups_request(
                model=model, account_ids=[lead["account_id"]], now=now
            )
        promotion.lead_promote(
            lead_id=lead_id,
            stage=lead["stage"],
            recycle_until=lead["recycle_until"],
            result=result,
            spec=spec,
            model=model,
            now=now,
        )
    return result


#: Leads scored per transaction by ``leads_rescore`` (a rescore task's size).
RESCORE_SET_SIZE = 500


def leads_rescore(
    *,
    lead_ids: Iterable[int],
    now: dt.datetime | None = None,
    marked_only: bool = False,
    coalesce: bool = False,
) -> int:
    """Rescore the given leads under the active model; return how many were scored.

    Set-based (scoring.bulk.leads_rescore_set): a few queries for up to
    RESCORE_SET_SIZE leads, scattered or not, in one transaction that locks
    them first (id order). With ``marked_only`` (the real-time task), a lead
    whose rescore mark was cleared meanwhile is skipped: a rescore that read
    after its last change already scored it, so a queue that fell behind
    scores each busy lead once, not once per message. With ``coalesce``
    (the real-time task too), each set is filled up to RESCORE_SET_SIZE with
    other marked leads no transaction holds (leads_marked_unheld): the first
    task of a queue that fell behind scores the leads of the messages behind
    it in the same few queries, and those find their leads unmarked and
    end after the lock. With no active model,
    none is scored (and the marks stay for when one is published). Without
    ``now``, each set is scored as of the moment its locks were taken.
    Idempotent. A set that fails (one lead that cannot be scored) is scored
    again one lead at a time: every other lead is scored, and the failing
    one keeps its mark for the reconciler (and is logged); a transient
    database error is raised for the task to be retried.
    """
    from scoring.bulk import leads_rescore_set  # bulk builds on this module

    model = selectors.model_active()
    if model is None:
        logger.info("no active scoring model; leads left marked for later")
        return 0
    spec = selectors.model_spec(model)
    ids = sorted(set(lead_ids))
    rescore = functools.partial(
        leads_rescore_set, model=model, spec=spec, now=now, marked_only=marked_only
    )
    scored = 0
    for start in range(0, len(ids), RESCORE_SET_SIZE):
        batch = ids[start : start + RESCORE_SET_SIZE]
        joined: list[int] = []
        others = RESCORE_SET_SIZE - len(batch) if coalesce else 0
        try:
            scored += rescore(lead_ids=batch, others=others, joined=joined)
        except TRANSIENT_ERRORS:
            raise
        except Exception:
            # One lead that cannot be scored must not cost the others of its
            # set their rescore: score them one at a time instead.
            logger.warning(
                "rescoring a set of %s leads failed; scoring them one by one",
                len(batch) + len(joined),
                exc_info=True,
            )
            scored += _leads_rescore_one_by_one(rescore, sorted([*batch, *joined]))
    return scored


def _leads_rescore_one_by_one(rescore: Any, lead_ids: list[int]) -> int:
    """Score each lead in its own transaction; a lead that fails keeps its
    rescore mark (its transaction rolled back), so the reconciler tries it
    again, and is logged with its id and left out of this process's
    coalesced sets for a while (see leads_marked_unheld)."""
    scored = 0
    for lead_id in lead_ids:
        try:
            scored += rescore(lead_ids=[lead_id])
        except TRANSIENT_ERRORS:
            raise
        except Exception:
            logger.exception(
                "lead %s could not be rescored; it stays marked for the reconciler",
                lead_id,
            )
            _unscorable_note(lead_id)
    return scored


#: Leads this process failed to score, with when: left out of coalesced sets
#: for UNSCORABLE_FOR, else every set a real-time task fills would take the
#: lead again (it stays marked), fail, and be scored one lead at a time.
#: Their own messages and the reconciler still try them. A hint kept per
#: process, bounded like the spec cache.
_UNSCORABLE: dict[int, float] = {}
_UNSCORABLE_SIZE = 1_000
UNSCORABLE_FOR = dt.timedelta(minutes=10)


def _unscorable_note(lead_id: int) -> None:
    if len(_UNSCORABLE) >= _UNSCORABLE_SIZE:
        _UNSCORABLE.clear()
    _UNSCORABLE[lead_id] = time.monotonic()


def _unscorable_now() -> list[int]:
    """The leads this process failed to score within UNSCORABLE_FOR."""
    since = time.monotonic() - UNSCORABLE_FOR.total_seconds()
    for lead_id, failed in list(_UNSCORABLE.items()):
        if failed < since:
            del _UNSCORABLE[lead_id]
    return list(_UNSCORABLE)


def leads_marked_unheld(*, limit: int, exclude: Iterable[int] = ()) -> list[int]:
    """Lock up to ``limit`` leads marked for a rescore that no transaction
    holds, oldest mark first, leaving out ``exclude`` and the leads this
    process recently failed to score; return their ids.

    FOR NO KEY UPDATE SKIP LOCKED: it never waits for a lock (a lead being
    marked, rescored or stored by a bulk chunk is left to its own message),
    so taking these after the caller's own leads (locked in id order, which
    may wait) cannot close a cycle of waits. Call inside the transaction
    that rescores them; a mark they get meanwhile waits for these locks.
    """
    left_out = {*exclude, *_unscorable_now()}
    return list(
        leads_for_update(
            rescore_requested_at__isnull=False, no_key=True, skip_locked=True
        )
        .exclude(id__in=left_out)
        .order_by("rescore_requested_at", "id")
        .values_list("id", flat=True)[:limit]
    )


def leads_marked_overdue(
    *, older_than: dt.timedelta, limit: int, now: dt.datetime | None = None
) -> list[int]:
    """Claim leads whose rescore mark is older than ``older_than`` (the
    reconciler) and return their ids.

    The claim moves each mark to ``now``, so the next run (or a second beat)
    does not enqueue the same leads again while their rescore waits in a long
    queue: without it every run re-enqueued every lead still marked, and a
    backlog grew with copies of itself. A rescore that read the lead before
    the claim leaves the mark in place (it is newer than what it read), and
    the rescore enqueued now clears it; an enqueue that fails leaves the mark
    for the run after ``older_than``. Rows another run holds are skipped.
    """
    now = now or timezone.now()
    with transaction.atomic():
        lead_ids = list(
            leads_for_update(
                rescore_requested_at__lt=now - older_than, no_key=True, skip_locked=True
            ).values_list("id", flat=True)[:limit]
        )
        Lead.objects.filter(id__in=lead_ids).update(rescore_requested_at=now)
    return lead_ids
