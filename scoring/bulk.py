"""The bulk scoring path: every lead in ranges of ids, a few queries per chunk.

Used when a model is published and for the nightly decay. Per chunk of
leads (a range of ids, so each chunk reads neighbouring rows): one query for
the leads with their accounts, one for the account scores, one for the
touchpoints of the kinds the model counts (only the properties its rules
test), one for the previous scores; then the arithmetic of
``scoring.engine`` (the same functions as the per-lead path) and set-based
writes. Never one query per lead, except for the few leads that cross the
MQL threshold and are moved through the lifecycle.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import multiprocessing
import multiprocessing.util
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from decimal import Decimal
from typing import Any

from django.db import connection, connections, transaction
from django.db.models import Max, Min
from django.utils import timezone

from leads import lifecycle
from leads.models import Lead, Stage, Touchpoint
from scoring import selectors
from scoring.engine import (
    ACTIVITY_KINDS,
    ModelSpec,
    ScoreResult,
    Touch,
    evaluate,
    rule_activity,
)
from scoring.models import AccountScore, LeadScore, LeadScoreHistory, ScoringModel
from scoring.services import PROMOTABLE_STAGES, SYSTEM_ACTOR

logger = logging.getLogger(__name__)

#: Leads per chunk. Big enough that per-query overhead vanishes, small enough
#: that a chunk's touchpoints (about 20 per lead) stay a few hundred MB at most.
BULK_CHUNK_SIZE = 5_000

_LEAD_COLUMNS = (*selectors.LEAD_FACT_FIELDS, "attributes", "stage", "account_id")
_ACCOUNT_COLUMNS = tuple(f"account__{f}" for f in selectors.ACCOUNT_FACT_FIELDS)


def lead_id_ranges(chunk_size: int = BULK_CHUNK_SIZE) -> list[tuple[int, int]]:
    """Half-open id ranges [low, high) covering every lead, ``chunk_size`` ids wide."""
    bounds = Lead.objects.aggregate(low=Min("id"), high=Max("id"))
    if bounds["low"] is None:
        return []
    return [
        (start, start + chunk_size)
        for start in range(bounds["low"], bounds["high"] + 1, chunk_size)
    ]


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _touches_by_lead(spec: ModelSpec, low: int, high: int) -> dict[int, list[Touch]]:
    rules = [r for r in spec.rules if r.kind in ACTIVITY_KINDS]
    kinds = {r.touchpoint_kind for r in rules}
    if not kinds:
        return {}
    props = sorted({r.property_name for r in rules if r.property_name})
    base = Touchpoint.objects.filter(
        lead_id__gte=low, lead_id__lt=high, kind_id__in=kinds
    ).order_by()
    touches: dict[int, list[Touch]] = defaultdict(list)
    if connection.vendor == "postgresql":
        # Bring back only the property values the rules test (jsonb -> JSON
        # text, decoded once per distinct text): decoding whole documents in
        # Python would dominate the run. Read with a plain cursor and the time
        # as epoch microseconds: the ORM's per-value converters cost as much
        # as the arithmetic.
        picks = "".join(", properties -> %s" for _ in props)
        sql = (
            "SELECT lead_id, id, kind, "
            f"(extract(epoch FROM occurred_at) * 1000000)::bigint{picks} "
            f"FROM {Touchpoint._meta.db_table} "
            "WHERE lead_id >= %s AND lead_id < %s AND kind = ANY(%s)"
        )
        decoded: dict[str, Any] = {}
        with connection.cursor() as cursor:
            cursor.execute(sql, [*props, low, high, sorted(kinds)])
            for lead_id, touch_id, kind, micros, *texts in cursor:
                values = []
                for text in texts:
                    if text is not None and text not in decoded:
                        decoded[text] = json.loads(text)
                    values.append(None if text is None else decoded[text])
                occurred_at = _EPOCH + dt.timedelta(microseconds=micros)
                properties = dict(zip(props, values, strict=True))
                touches[lead_id].append(Touch(touch_id, kind, occurred_at, properties))
    else:
        # SQLite's JSON_EXTRACT loses the difference between "5" and 5, so read
        # the documents whole there; the embedded default is small anyway.
        rows = base.values_list("lead_id", "id", "kind_id", "occurred_at", "properties")
        for lead_id, touch_id, kind, occurred_at, document in rows.iterator(20_000):
            document = document or {}
            properties = {name: document.get(name) for name in props}
            touches[lead_id].append(Touch(touch_id, kind, occurred_at, properties))
    return touches


def chunk_leads(*, low: int, high: int) -> list[dict[str, Any]]:
    """The leads with ids in [low, high) that were not erased, by id: their fact
    columns, stage and account columns (one query)."""
    return list(
        Lead.objects.filter(id__gte=low, id__lt=high, erased_at__isnull=True)
        .values("id", *_LEAD_COLUMNS, *_ACCOUNT_COLUMNS)
        .order_by("id")
    )


def chunk_evaluate(
    *,
    spec: ModelSpec,
    leads: list[dict[str, Any]],
    low: int,
    high: int,
    now: dt.datetime,
) -> dict[int, ScoreResult]:
    """Score ``leads`` (rows of chunk_leads for [low, high)) under ``spec``.

    Reads the account scores under the spec's model and the touchpoints the
    spec counts (two queries); stores nothing. Both the rescore and the
    simulation of a draft use this, so they score exactly alike.
    """
    account_ids = {lead["account_id"] for lead in leads if lead["account_id"]}
    account_scores = dict(
        AccountScore.objects.filter(
            model_id=spec.id, account_id__in=account_ids
        ).values_list("account_id", "engagement_score")
    )
    touches = _touches_by_lead(spec, low, high)
    activity_rules = [r for r in spec.rules if r.kind in ACTIVITY_KINDS]
    results: dict[int, ScoreResult] = {}
    for lead in leads:
        account = (
            {f: lead[f"account__{f}"] for f in selectors.ACCOUNT_FACT_FIELDS}
            if lead["account_id"]
            else None
        )
        facts = selectors.facts_from_values(
            lead, account, account_scores.get(lead["account_id"])
        )
        # What evaluate_touches does, with each rule shown only the touches of
        # its kind (the first thing it tests): a fifth of the matching work.
        by_kind: dict[str, list[Touch]] = defaultdict(list)
        for touch in touches.get(lead["id"], ()):
            by_kind[touch.kind].append(touch)
        activities = {
            rule.id: rule_activity(rule, by_kind[rule.touchpoint_kind], now)
            for rule in activity_rules
            if rule.touchpoint_kind in by_kind
        }
        results[lead["id"]] = evaluate(spec, facts, activities)
    return results


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
    with transaction.atomic():
        leads = chunk_leads(low=low, high=high)
        if not leads:
            return 0
        results = chunk_evaluate(spec=spec, leads=leads, low=low, high=high, now=now)
        _store(model=model, results=results, now=now, read_at=read_at)
        _promote(
            spec=spec,
            model=model,
            results=results,
            stages={lead["id"]: lead["stage"] for lead in leads},
            now=now,
        )
    return len(leads)


def _store(
    *,
    model: ScoringModel,
    results: dict[int, ScoreResult],
    now: dt.datetime,
    read_at: dt.datetime,
) -> None:
    if connection.vendor == "postgresql":
        _store_pg(model=model, results=results, now=now, read_at=read_at)
        return
    ids = list(results)
    previous = {
        lead_id: (Decimal(t), Decimal(f), Decimal(e))
        for lead_id, t, f, e in LeadScore.objects.filter(
            model=model, lead_id__in=ids
        ).values_list("lead_id", "total", "fit_score", "engagement_score")
    }
    LeadScore.objects.bulk_create(
        [
            LeadScore(
                lead_id=lead_id,
                model=model,
                total=r.total,
                fit_score=r.fit_score,
                engagement_score=r.engagement_score,
                grade=r.grade,
                breakdown=r.items,
                gated_by=r.gated_by,
                computed_at=now,
            )
            for lead_id, r in results.items()
        ],
        update_conflicts=True,
        unique_fields=["lead", "model"],
        update_fields=[
            "total",
            "fit_score",
            "engagement_score",
            "grade",
            "breakdown",
            "gated_by",
            "computed_at",
        ],
        batch_size=2_000,
    )
    LeadScoreHistory.objects.bulk_create(
        [
            LeadScoreHistory(
                lead_id=lead_id,
                model=model,
                total=r.total,
                fit_score=r.fit_score,
                engagement_score=r.engagement_score,
                at=now,
            )
            for lead_id, r in results.items()
            if previous.get(lead_id) != (r.total, r.fit_score, r.engagement_score)
        ],
        batch_size=2_000,
    )
    # One prepared UPDATE per lead (executemany): bulk_update's CASE WHEN per
    # row costs ten times more to build than SQLite needs to run these.
    score, fit, engagement, grade, scored = (
        Lead._meta.get_field(name)
        for name in ("score", "fit_score", "engagement_score", "grade", "scored_at")
    )
    scored_at = scored.get_db_prep_save(now, connection)
    rows = [
        (
            score.get_db_prep_save(r.total, connection),
            fit.get_db_prep_save(r.fit_score, connection),
            engagement.get_db_prep_save(r.engagement_score, connection),
            grade.get_db_prep_save(r.grade, connection),
            scored_at,
            lead_id,
        )
        for lead_id, r in results.items()
    ]
    quote = connection.ops.quote_name
    columns = (score, fit, engagement, grade, scored)
    sets = ", ".join(f"{quote(field.column)} = %s" for field in columns)
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {quote(Lead._meta.db_table)} SET {sets} WHERE id = %s", rows
        )
    Lead.objects.filter(id__in=ids, rescore_requested_at__lte=read_at).update(
        rescore_requested_at=None
    )


def _store_pg(
    *,
    model: ScoringModel,
    results: dict[int, ScoreResult],
    now: dt.datetime,
    read_at: dt.datetime,
) -> None:
    """``_store`` on PostgreSQL: the same rows, written from one JSON document each.

    The ORM's bulk_update (a CASE WHEN per row) took two thirds of a bulk run
    and bulk_create's client-side quoting of tens of thousands of parameters
    most of the rest; ``jsonb_to_recordset`` takes a whole chunk as one
    parameter. Decimals travel as strings, so the numbers stay exact.
    """
    ids = list(results)
    previous = {
        lead_id: (Decimal(t), Decimal(f), Decimal(e))
        for lead_id, t, f, e in LeadScore.objects.filter(
            model=model, lead_id__gte=min(ids), lead_id__lte=max(ids)
        ).values_list("lead_id", "total", "fit_score", "engagement_score")
    }
    scores = [
        {
            "lead_id": lead_id,
            "total": str(r.total),
            "fit_score": str(r.fit_score),
            "engagement_score": str(r.engagement_score),
            "grade": r.grade,
        }
        for lead_id, r in results.items()
    ]
    changed = [
        row
        for row, r in zip(scores, results.values(), strict=True)
        if previous.get(row["lead_id"]) != (r.total, r.fit_score, r.engagement_score)
    ]
    rows = [
        {**row, "breakdown": r.items, "gated_by": r.gated_by}
        for row, r in zip(scores, results.values(), strict=True)
    ]
    record = (
        "lead_id bigint, total numeric, fit_score numeric, engagement_score numeric, "
        "grade text, breakdown jsonb, gated_by jsonb"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {LeadScore._meta.db_table} (lead_id, model_id, total,
                fit_score, engagement_score, grade, breakdown, gated_by, computed_at)
            SELECT lead_id, %s, total, fit_score, engagement_score, grade,
                breakdown, gated_by, %s
            FROM jsonb_to_recordset(%s::jsonb) AS v({record})
            ORDER BY lead_id
            ON CONFLICT (lead_id, model_id) DO UPDATE SET
                total = EXCLUDED.total,
                fit_score = EXCLUDED.fit_score,
                engagement_score = EXCLUDED.engagement_score,
                grade = EXCLUDED.grade,
                breakdown = EXCLUDED.breakdown,
                gated_by = EXCLUDED.gated_by,
                computed_at = EXCLUDED.computed_at
            """,
            [model.id, now, json.dumps(rows)],
        )
        if changed:
            cursor.execute(
                f"""
                INSERT INTO {LeadScoreHistory._meta.db_table} (lead_id, model_id,
                    total, fit_score, engagement_score, at)
                SELECT lead_id, %s, total, fit_score, engagement_score, %s
                FROM jsonb_to_recordset(%s::jsonb) AS v({record})
                ORDER BY lead_id
                """,
                [model.id, now, json.dumps(changed)],
            )
        # The score columns, and the rescore mark cleared unless a newer
        # change arrived after the chunk was read (DESIGN.md rule 1).
        cursor.execute(
            f"""
            UPDATE {Lead._meta.db_table} AS lead SET
                score = v.total,
                fit_score = v.fit_score,
                engagement_score = v.engagement_score,
                grade = v.grade,
                scored_at = %s,
                rescore_requested_at = CASE
                    WHEN lead.rescore_requested_at <= %s THEN NULL
                    ELSE lead.rescore_requested_at
                END
            FROM jsonb_to_recordset(%s::jsonb) AS v({record})
            WHERE lead.id = v.lead_id
            """,
            [now, read_at, json.dumps(scores)],
        )


def _promote(
    *,
    spec: ModelSpec,
    model: ScoringModel,
    results: dict[int, ScoreResult],
    stages: dict[int, str],
    now: dt.datetime,
) -> None:
    for lead_id, result in results.items():
        if result.qualifies and stages[lead_id] in PROMOTABLE_STAGES:
            try:
                lifecycle.lead_move(
                    lead_id=lead_id,
                    to_stage=Stage.MQL,
                    system_actor=SYSTEM_ACTOR,
                    reason=(
                        f"Score {result.total} reached the MQL threshold "
                        f"{spec.mql_threshold} ({model})"
                    ),
                    now=now,
                    expected_stage=stages[lead_id],
                )
            except lifecycle.InvalidStageTransition:
                # Moved by someone else since the chunk was read: their move stands.
                logger.info("lead %s changed stage during bulk rescore", lead_id)


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


GRADES = ("A", "B", "C", "D")


def model_simulate(
    *,
    model: ScoringModel,
    now: dt.datetime | None = None,
    chunk_size: int = BULK_CHUNK_SIZE,
) -> dict[str, Any]:
    """What publishing ``model`` would do to the leads today; stores nothing.

    Scores every lead that was not erased under ``model`` and under the
    active model (when that is another one), chunk by chunk as the rescore
    does, and counts:

    - ``leads_scored``: the leads a publish would rescore;
    - ``would_become_mql``: leads in ``lead`` or ``nurture`` that would
      qualify, so the rescore would move them to ``mql`` (and hand them over);
    - ``no_longer_qualifying``: leads that qualify under the active model but
      would not under ``model`` (a lead already past ``lead`` keeps its stage);
    - ``grades`` and ``active_grades``: how many leads get each grade (A-D)
      under ``model`` and under the active model.

    Reads only (a few queries per chunk). At a million leads this takes
    minutes, like the rescore itself.
    """
    now = now or timezone.now()
    spec = selectors.model_spec(model)
    active = selectors.model_active()
    active_spec = (
        selectors.model_spec(active)
        if active is not None and active.id != model.id
        else None
    )
    counts: dict[str, Any] = {
        "leads_scored": 0,
        "would_become_mql": 0,
        "no_longer_qualifying": 0,
        "grades": dict.fromkeys(GRADES, 0),
        "active_grades": dict.fromkeys(GRADES, 0),
    }
    for low, high in lead_id_ranges(chunk_size):
        leads = chunk_leads(low=low, high=high)
        if not leads:
            continue
        results = chunk_evaluate(spec=spec, leads=leads, low=low, high=high, now=now)
        current = (
            chunk_evaluate(spec=active_spec, leads=leads, low=low, high=high, now=now)
            if active_spec is not None
            else results
        )
        for lead in leads:
            result, before = results[lead["id"]], current[lead["id"]]
            counts["leads_scored"] += 1
            counts["grades"][result.grade] += 1
            counts["active_grades"][before.grade] += 1
            if result.qualifies and lead["stage"] in PROMOTABLE_STAGES:
                counts["would_become_mql"] += 1
            if before.qualifies and not result.qualifies:
                counts["no_longer_qualifying"] += 1
    if active is None:
        counts["active_grades"] = dict.fromkeys(GRADES, 0)
    return counts
