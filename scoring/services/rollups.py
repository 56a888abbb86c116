"""Account roll-ups: each account's engagement, summed from its leads' scores.

Rescores ask for their accounts' roll-ups (``account_rollups_request``) in
their transaction; one refresh, scheduled after the commit, serves every
request of a short while (``account_rollups_refresh_requested``). The SQL
lives in scoring.store.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from decimal import Decimal

from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Count, Q, Sum, Value
from django.db.models.functions import Greatest, Least
from django.utils import timezone

from scoring import store
from scoring.models import AccountRollupRequest, AccountScore, LeadScore, ScoringModel

logger = logging.getLogger(__name__)

#: Most engagement one lead adds to its account's score, so one very busy
#: person cannot make a whole company look engaged.
ACCOUNT_LEAD_CAP = Decimal("50")


def account_scores_refresh(
    *,
    model: ScoringModel,
    account_ids: list[int] | None = None,
    now: dt.datetime | None = None,
) -> int:
    """Roll leads' engagement up to their accounts (each lead capped); upsert.

    For all accounts with a scored lead (or only ``account_ids``), in account
    order. Fit rules on ``account.score`` read the roll-up as of the last
    refresh. Returns the number of accounts written; running it twice writes
    the same values. On PostgreSQL one INSERT ... SELECT ... ON CONFLICT
    statement (no rows travel to Python); elsewhere one aggregate query and
    one upsert. On PostgreSQL roll-up refreshes run one at a time (an
    advisory lock held to the end of the caller's transaction): a refresh
    that read older scores can never write over a newer one's result.
    """
    now = now or timezone.now()
    if connection.vendor == "postgresql":
        with transaction.atomic():
            store.rollups_lock()
            return store.account_scores_upsert_pg(
                model=model, account_ids=account_ids, now=now, cap=ACCOUNT_LEAD_CAP
            )
    rows = LeadScore.objects.filter(model=model, lead__account__isnull=False)
    if account_ids is not None:
        rows = rows.filter(lead__account_id__in=account_ids)
    rolled = (
        rows.values("lead__account_id")
        .annotate(
            total=Sum(
                Least(
                    Greatest("engagement_score", Value(Decimal(0))),
                    Value(ACCOUNT_LEAD_CAP),
                )
            ),
            engaged=Count("id", filter=Q(engagement_score__gt=0)),
        )
        .order_by("lead__account_id")
    )
    scores = [
        AccountScore(
            account_id=row["lead__account_id"],
            model=model,
            engagement_score=row["total"] or Decimal(0),
            engaged_leads=row["engaged"],
            computed_at=now,
        )
        for row in rolled
    ]
    AccountScore.objects.bulk_create(
        scores,
        update_conflicts=True,
        unique_fields=["account", "model"],
        update_fields=["engagement_score", "engaged_leads", "computed_at"],
        batch_size=2_000,
    )
    return len(scores)


def account_rollups_pending() -> bool:
    """Whether a committed roll-up request waits for a refresh."""
    return AccountRollupRequest.objects.exists()


def account_rollups_request(
    *, model: ScoringModel, account_ids: Iterable[int], now: dt.datetime
) -> None:
    """Ask for these accounts' roll-ups under ``model`` to be refreshed.

    Call in the transaction that changed their leads' scores: the requests
    commit with the scores, and after the commit a refresh of every account
    asked for so far (account_rollups_refresh_requested) is scheduled
    (account_rollups_refresh_enqueue). A lost message only delays the
    refresh to the reconciler's next minute.
    """
    ids = sorted(set(account_ids))
    if not ids:
        return
    AccountRollupRequest.objects.bulk_create(
        [
            AccountRollupRequest(account_id=account_id, model=model, requested_at=now)
            for account_id in ids
        ]
    )
    transaction.on_commit(account_rollups_refresh_enqueue)


#: Seconds from a roll-up request to its refresh: the requests of that
#: while are served by one refresh.
ROLLUPS_REFRESH_DELAY = 2
#: Cache key present while a refresh is due within ROLLUPS_REFRESH_DELAY.
ROLLUPS_DUE_KEY = "scoring:rollups-refresh-due"


def account_rollups_refresh_enqueue() -> None:
    """Schedule a roll-up refresh ROLLUPS_REFRESH_DELAY from now, unless one
    is already due sooner than that (then it takes what committed before).

    Call after the requests committed. The key (an atomic add) lives as long
    as the delay, and a task never runs before its countdown, so a refresh
    that is due still starts after this commit and takes its requests: a
    busy account's roll-up, which reads all its leads, is computed about
    once per delay instead of once per rescore. Run inline (eager Celery,
    the embedded default), every call refreshes at once.
    """
    from scoring.tasks import account_rollups_task  # the tasks build on services

    if not account_rollups_task.app.conf.task_always_eager:
        try:
            due = not cache.add(ROLLUPS_DUE_KEY, 1, timeout=ROLLUPS_REFRESH_DELAY)
        except Exception:  # the cache (Redis) is down: schedule one anyway
            due = False
        if due:
            return
    try:
        account_rollups_task.apply_async(countdown=ROLLUPS_REFRESH_DELAY)
    except Exception:  # the broker is down: the reconciler refreshes them
        logger.warning("account roll-up refresh not enqueued", exc_info=True)


def account_rollups_refresh_requested(*, now: dt.datetime | None = None) -> int | None:
    """Refresh the roll-up of every account with a committed request; return
    how many requests were taken (None when another refresh was running).

    Takes the requests (deleted in the same transaction, so each is served
    once) and refreshes their accounts, per model, after that: every score
    committed with a request taken here is read by the refresh. A request
    committed meanwhile stays for the next run (account_rollups_pending
    tells). On PostgreSQL, while another roll-up refresh holds the lock
    (see account_scores_refresh), returns None at once instead of waiting:
    a worker process is not tied up, and the running one looks again.
    """
    now = now or timezone.now()
    with transaction.atomic():
        if connection.vendor == "postgresql" and not store.rollups_lock(wait=False):
            return None
        taken = store.rollup_requests_take()
        by_model: dict[int, set[int]] = {}
        for model_id, account_id in taken:
            by_model.setdefault(model_id, set()).add(account_id)
        for model in ScoringModel.objects.filter(id__in=by_model).order_by("id"):
            account_scores_refresh(
                model=model, account_ids=sorted(by_model[model.id]), now=now
            )
    return len(taken)
