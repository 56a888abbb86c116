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
query for the recycle holds of all of them). A full rescore in one process
on PostgreSQL scores the next chunk while a thread stores the last one.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import logging
import multiprocessing
import multiprocessing.util
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
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


@dataclass
class _ChunkScores:
    """A chunk read and scored, not yet stored (see _chunk_store)."""

    low: int
    high: int
    read_at: dt.datetime
    seen: dict[int, tuple[Any, Any]]
    leads: list[dict[str, Any]]
    results: dict[int, ScoreResult]


def _chunk_score(
    *, spec: ModelSpec, low: int, high: int, now: dt.datetime
) -> _ChunkScores | None:
    """Read and score the leads with ids in [low, high), without locks; None
    when there are none. Each read is a statement of its own (read committed),
    so whether they share a transaction makes no difference."""
    read_at = timezone.now()
    seen = _rescore_state(low=low, high=high)
    leads = chunk_leads(low=low, high=high)
    if not leads:
        return None
    results = chunk_evaluate(spec=spec, leads=leads, low=low, high=high, now=now)
    return _ChunkScores(low, high, read_at, seen, leads, results)


def _chunk_store(
    *, model: ScoringModel, spec: ModelSpec, scored: _ChunkScores, now: dt.datetime
) -> int:
    """Store a scored chunk; call inside the chunk's transaction."""
    low, high, results = scored.low, scored.high, scored.results
    # The chunk read without locks. A lead that was rescored or got new
    # activity since (another rescore wrote it, or ingestion marked it)
    # must not get this older result written over the newer one: lock the
    # chunk's leads (id order) and rescore those few with the per-lead path.
    changed = [
        lead_id
        for lead_id, state in _rescore_state(
            low=low, high=high, ids=list(results)
        ).items()
        if scored.seen.get(lead_id) != state
    ]
    for lead_id in changed:
        del results[lead_id]
    store.scores_write(model=model, results=results, now=now, read_at=scored.read_at)
    leads_promote(
        spec=spec,
        model=model,
        results=results,
        stages={lead["id"]: lead["stage"] for lead in scored.leads},
        now=now,
    )
    # Scored at the present: their newest activity came after ``now``.
    for lead_id in changed:
        lead_rescore(
            lead_id=lead_id, model=model, spec=spec, now=max(now, timezone.now())
        )
    return len(scored.leads)


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
    with _gc_paused(), transaction.atomic():
        scored = _chunk_score(spec=spec, low=low, high=high, now=now)
        if scored is None:
            return 0
        return _chunk_store(model=model, spec=spec, scored=scored, now=now)


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
    running in a web or Celery worker process. With one, on PostgreSQL and
    outside a transaction, chunks are scored here while a thread stores the
    one before (_chunks_pipelined). Otherwise chunks run here one by one.
    """
    now = now or timezone.now()
    spec = selectors.model_spec(model)
    ranges = lead_id_ranges(chunk_size)
    own_transactions = (
        connection.vendor == "postgresql" and not connection.in_atomic_block
    )
    if own_transactions and workers > 1:
        chunks = _chunks_in_processes(
            model=model, spec=spec, ranges=ranges, now=now, workers=workers
        )
        return _count(chunks, progress)
    if own_transactions and len(ranges) > 1:
        with _gc_paused():
            return _count(
                _chunks_pipelined(model=model, spec=spec, ranges=ranges, now=now),
                progress,
            )
    chunks = (
        chunk_rescore(model=model, spec=spec, low=low, high=high, now=now)
        for low, high in ranges
    )
    return _count(chunks, progress)


def _chunks_pipelined(
    *,
    model: ScoringModel,
    spec: ModelSpec,
    ranges: list[tuple[int, int]],
    now: dt.datetime,
) -> Iterator[int]:
    """Score each chunk here while a thread stores the one before it.

    Of a chunk's time about half is Python scoring it and half PostgreSQL
    storing it (each write pays every index of the lead row), one after the
    other in one process. The storing thread has its own connection, and
    waits in PostgreSQL with the GIL released, so both go on at once; at
    most two chunks are held in memory. Each chunk is stored in its own
    transaction with the same locks and checks as chunk_rescore.
    """
    ready: queue.Queue[_ChunkScores | None] = queue.Queue(maxsize=1)
    stored: queue.Queue[int | BaseException] = queue.Queue()

    def store_chunks() -> None:
        try:
            while (scored := ready.get()) is not None:
                with transaction.atomic():
                    done = _chunk_store(model=model, spec=spec, scored=scored, now=now)
                stored.put(done)
        except BaseException as error:  # handed to the scoring thread, raised there
            stored.put(error)
        finally:
            connection.close()

    def wait_stored() -> int:
        done = stored.get()
        if isinstance(done, BaseException):
            raise done
        return done

    writer = threading.Thread(target=store_chunks, name="chunk-store", daemon=True)
    writer.start()
    in_flight = False
    try:
        for low, high in ranges:
            scored = _chunk_score(spec=spec, low=low, high=high, now=now)
            if in_flight:
                in_flight = False
                yield wait_stored()
            if scored is None:
                yield 0
                continue
            ready.put(scored)
            in_flight = True
        if in_flight:
            in_flight = False
            yield wait_stored()
    finally:
        # Stop the thread once it has stored what it holds (a thread that
        # failed has stopped already and takes nothing more).
        while writer.is_alive():
            with contextlib.suppress(queue.Full):
                ready.put(None, timeout=0.5)
                break
        writer.join()


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
