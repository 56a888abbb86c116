"""The set-based scoring paths: a few queries per chunk or set of leads.

``model_rescore_all``/``chunk_rescore`` score every lead in ranges of ids,
when a model is published and for the nightly decay; ``leads_rescore_set``
scores the leads of one real-time task (any ids) the same way. Per chunk of
leads (a range of ids, so each chunk reads neighbouring rows): one query for
the leads with their accounts, one for the account scores (when a rule tests
them), one for the touchpoints of the kinds the model counts (only the
properties its rules test), one for the previous scores; then the arithmetic
of ``scoring.engine`` and the writes of ``scoring.store`` (the same functions
as the per-lead path). Never one query per lead, except for the few leads
that cross the MQL threshold and are moved through the lifecycle (after one
query for the recycle holds of all of them).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import logging
import multiprocessing
import multiprocessing.util
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from django.db import connection, connections, transaction
from django.db.models import Max, Min, Q
from django.utils import timezone

from leads.locks import leads_for_update
from leads.models import Lead
from scoring import selectors, store
from scoring.engine import ModelSpec, ScoreResult, Touch, evaluate_touches
from scoring.models import AccountScore, ScoringModel
from scoring.promotion import leads_promote
from scoring.services.rescoring import lead_rescore
from scoring.services.rollups import account_rollups_request

logger = logging.getLogger(__name__)

#: Leads per chunk. Big enough that per-query overhead vanishes, small enough
#: that a chunk's touchpoints (about 20 per lead) stay a few hundred MB at most.
BULK_CHUNK_SIZE = 5_000


def lead_id_ranges(chunk_size: int = BULK_CHUNK_SIZE) -> list[tuple[int, int]]:
    """Half-open id ranges [low, high) covering every lead, ``chunk_size`` ids wide."""
    bounds = Lead.objects.aggregate(low=Min("id"), high=Max("id"))
    if bounds["low"] is None:
        return []
    return [
        (start, start + chunk_size)
        for start in range(bounds["low"], bounds["high"] + 1, chunk_size)
    ]


def chunk_leads(*, low: int, high: int) -> list[dict[str, Any]]:
    """The leads with ids in [low, high) that were not erased, by id: their fact
    columns, stage, recycle hold and account columns (one query)."""
    return list(
        Lead.objects.filter(id__gte=low, id__lt=high, erased_at__isnull=True)
        .values("id", *store.LEAD_COLUMNS, *store.ACCOUNT_COLUMNS)
        .order_by("id")
    )


def chunk_evaluate(
    *,
    spec: ModelSpec,
    leads: list[dict[str, Any]],
    low: int,
    high: int,
    now: dt.datetime,
    touches: dict[int, list[Touch]] | None = None,
) -> dict[int, ScoreResult]:
    """Score ``leads`` (rows of chunk_leads for [low, high)) under ``spec``.

    Reads the touchpoints the spec counts, unless given (``touches``, read
    with store.touches_by_lead for at least this spec), and the account
    roll-ups when a rule tests them; stores nothing. The rescore, the
    simulation of a draft and the per-lead path all score with
    ``evaluate_touches``, so they score exactly alike.
    """
    account_scores: dict[int, Any] = {}
    if store.uses_account_score(spec):
        account_ids = {lead["account_id"] for lead in leads if lead["account_id"]}
        account_scores = dict(
            AccountScore.objects.filter(
                model_id=spec.id, account_id__in=account_ids
            ).values_list("account_id", "engagement_score")
        )
    if touches is None:
        touches = store.touches_by_lead(spec, low, high)
    return {
        lead["id"]: evaluate_touches(
            spec,
            store.facts_from_row(lead, account_scores.get(lead["account_id"])),
            touches.get(lead["id"], ()),
            now,
        )
        for lead in leads
    }


def chunk_rescore(
    *,
    model: ScoringModel,
    spec: ModelSpec,
    low: int,
    high: int,
    now: dt.datetime,
) -> int:
    """Score the leads with ids in [low, high) under ``model``; return how many.

    One transaction per chunk, so a crash loses at most the chunk in progress
    and rerunning it recomputes the same values (idempotent).
    """
    read_at = timezone.now()
    with _gc_paused(), transaction.atomic():
        seen = _rescore_state(low=low, high=high)
        leads = chunk_leads(low=low, high=high)
        if not leads:
            return 0
        results = chunk_evaluate(spec=spec, leads=leads, low=low, high=high, now=now)
        # The chunk read without locks. A lead that was rescored or got new
        # activity since (another rescore wrote it, or ingestion marked it)
        # must not get this older result written over the newer one: lock the
        # chunk's leads (id order) and rescore those few with the per-lead path.
        changed = [
            lead_id
            for lead_id, state in _rescore_state(
                low=low, high=high, ids=list(results)
            ).items()
            if seen.get(lead_id) != state
        ]
        for lead_id in changed:
            del results[lead_id]
        store.scores_write(model=model, results=results, now=now, read_at=read_at)
        leads_promote(
            spec=spec,
            model=model,
            results=results,
            stages={lead["id"]: lead["stage"] for lead in leads},
            now=now,
        )
        # Scored at the present: their newest activity came after ``now``.
        for lead_id in changed:
            lead_rescore(
                lead_id=lead_id, model=model, spec=spec, now=max(now, timezone.now())
            )
    return len(leads)


def leads_rescore_set(
    *,
    model: ScoringModel,
    spec: ModelSpec,
    lead_ids: list[int],
    now: dt.datetime | None = None,
    marked_only: bool = False,
) -> int:
    """Score these leads (ids in any spread) under ``model`` in one transaction.

    The real-time path: a few queries for the whole set, whatever the gaps
    between ids. Locks the leads first, FOR NO KEY UPDATE in id order, so a
    second worker rescoring one of them waits and then reads what this one
    stored (no second history row), while touchpoints of these leads can
    still be inserted; their marks wait for the lock, so nothing stored
    meanwhile is lost (reliability rule 1). With ``marked_only``, leads no
    longer marked when locked are skipped (a rescore since their last change
    scored them). An erased lead is scored too (by what is left of it), as
    its erasure asked. Without ``now``, scored as of the moment the locks
    were taken, so no lead's ``scored_at`` predates a touchpoint it was
    scored with. Returns how many leads were scored; the accounts whose
    leads' engagement moved get their roll-up refreshed after the commit
    (account_rollups_request).
    """
    if not lead_ids:
        return 0
    with transaction.atomic():
        locked = list(
            leads_for_update(id__in=sorted(set(lead_ids)), no_key=True).values_list(
                "id", "rescore_requested_at"
            )
        )
        ids = [
            lead_id for lead_id, mark in locked if mark is not None or not marked_only
        ]
        if not ids:
            return 0
        read_at = timezone.now()
        now = now or read_at
        leads = list(
            Lead.objects.filter(id__in=ids)
            .values("id", *store.LEAD_COLUMNS, *store.ACCOUNT_COLUMNS)
            .order_by("id")
        )
        low, high = ids[0], ids[-1] + 1
        touches = store.touches_by_lead(spec, low, high, ids=ids)
        results = chunk_evaluate(
            spec=spec, leads=leads, low=low, high=high, now=now, touches=touches
        )
        previous = store.previous_totals(model=model, lead_ids=ids)
        store.scores_write(
            model=model, results=results, now=now, read_at=read_at, previous=previous
        )
        leads_promote(
            spec=spec,
            model=model,
            results=results,
            stages={lead["id"]: lead["stage"] for lead in leads},
            now=now,
        )
        # The roll-up sums its leads' engagement: unchanged engagement leaves
        # it as the last refresh left it. Refreshed after commit, once for
        # every rescore that asked meanwhile (a big account's roll-up reads
        # all its leads).
        account_rollups_request(
            model=model,
            account_ids=(
                lead["account_id"]
                for lead in leads
                if lead["account_id"]
                and previous.get(lead["id"], (None,) * 3)[2]
                != results[lead["id"]].engagement_score
            ),
            now=now,
        )
    return len(results)


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a chunk is scored.

    A chunk allocates a few hundred thousand objects (touchpoints, facts,
    results) that all stay alive until it ends, so every collection the
    allocations trigger walks them all and frees nothing: a third of the
    chunk's CPU time. They hold no reference cycles; whatever else the
    chunk leaves for the collector waits for the next collection after it.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


_RESCORE_STATE_LOCK_SQL = (
    f"SELECT id, scored_at, rescore_requested_at FROM {Lead._meta.db_table} "  # nosec B608: name from model meta, values bound
    "WHERE id >= %s AND id < %s AND erased_at IS NULL AND id = ANY(%s) "
    "ORDER BY id FOR NO KEY UPDATE"
)


def _rescore_state(
    *, low: int, high: int, ids: list[int] | None = None
) -> dict[int, tuple[Any, Any]]:
    """(scored_at, rescore_requested_at) of the chunk's leads; with ``ids``,
    of those leads, locked FOR NO KEY UPDATE in id order for the transaction."""
    in_chunk = Q(id__gte=low, id__lt=high, erased_at__isnull=True)
    if ids is None:
        query = Lead.objects.filter(in_chunk)
    elif connection.vendor == "postgresql":
        # The ids as one array parameter: the ORM's ``id__in`` quotes a
        # chunk's thousands of ids one by one on the client, which cost more
        # than the statement.
        with connection.cursor() as cursor:
            cursor.execute(_RESCORE_STATE_LOCK_SQL, [low, high, ids])
            return {
                lead_id: (scored_at, mark)
                for lead_id, scored_at, mark in cursor.fetchall()
            }
    else:
        # NO KEY: touchpoint inserts (a key-share lock on the lead) go on.
        query = leads_for_update(in_chunk, id__in=ids, no_key=True)
    return {
        lead_id: (scored_at, mark)
        for lead_id, scored_at, mark in query.order_by("id").values_list(
            "id", "scored_at", "rescore_requested_at"
        )
    }


def model_rescore_all(
    *,
    model: ScoringModel,
    now: dt.datetime | None = None,
    chunk_size: int = BULK_CHUNK_SIZE,
    progress: Callable[[int], Any] | None = None,
    workers: int = 1,
) -> int:
    """Rescore every lead under ``model`` chunk by chunk; return how many.

    Each chunk commits on its own; rerunning after a crash recomputes the same
    scores. ``progress`` is called with the number of leads done per chunk.
    With ``workers`` > 1, on PostgreSQL and outside a transaction, that many
    forked processes score the chunks, each on its own connection (two use
    both cores of a small server); for management commands, not for code
    running in a web or Celery worker process. Otherwise chunks run here.
    """
    now = now or timezone.now()
    spec = selectors.model_spec(model)
    ranges = lead_id_ranges(chunk_size)
    parallel = workers > 1 and connection.vendor == "postgresql"
    if parallel and not connection.in_atomic_block:
        chunks = _chunks_in_processes(
            model=model, spec=spec, ranges=ranges, now=now, workers=workers
        )
        return _count(chunks, progress)
    chunks = (
        chunk_rescore(model=model, spec=spec, low=low, high=high, now=now)
        for low, high in ranges
    )
    return _count(chunks, progress)


def _count(chunks: Iterable[int], progress: Callable[[int], Any] | None) -> int:
    total = 0
    for done in chunks:
        total += done
        if progress is not None:
            progress(done)
    return total


#: What a forked rescore worker scores with (set before the fork, inherited).
_worker_job: dict[str, Any] = {}


def _chunks_in_processes(
    *,
    model: ScoringModel,
    spec: ModelSpec,
    ranges: list[tuple[int, int]],
    now: dt.datetime,
    workers: int,
) -> Iterator[int]:
    # A forked child must not share the parent's socket to PostgreSQL: close
    # it, then fork every worker at once (Pool does), so each opens its own.
    connections.close_all()
    _worker_job.update(model=model, spec=spec, now=now)
    context = multiprocessing.get_context("fork")
    try:
        with context.Pool(workers, initializer=_worker_start) as pool:
            yield from pool.imap(_worker_chunk_rescore, ranges)
            pool.close()
            pool.join()
    finally:
        _worker_job.clear()


def _worker_start() -> None:
    # Say goodbye to PostgreSQL when the worker exits, not just drop the socket.
    multiprocessing.util.Finalize(None, connections.close_all, exitpriority=10)


def _worker_chunk_rescore(bounds: tuple[int, int]) -> int:
    low, high = bounds
    return chunk_rescore(low=low, high=high, **_worker_job)
