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
import logging
from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import Max, Min
from django.db.models.fields.json import KeyTransform
from django.utils import timezone

from leads import lifecycle
from leads.models import Lead, Stage, Touchpoint
from scoring import selectors
from scoring.engine import (
    ACTIVITY_KINDS,
    ModelSpec,
    ScoreResult,
    Touch,
    evaluate_touches,
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
        # values): decoding whole documents in Python would dominate the run.
        annotations = {
            f"p{i}": KeyTransform(name, "properties") for i, name in enumerate(props)
        }
        rows = base.annotate(**annotations).values_list(
            "lead_id", "id", "kind_id", "occurred_at", *annotations
        )
        for lead_id, touch_id, kind, occurred_at, *values in rows.iterator(20_000):
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
        leads = list(
            Lead.objects.filter(id__gte=low, id__lt=high, erased_at__isnull=True)
            .values("id", *_LEAD_COLUMNS, *_ACCOUNT_COLUMNS)
            .order_by("id")
        )
        if not leads:
            return 0
        account_ids = {lead["account_id"] for lead in leads if lead["account_id"]}
        account_scores = dict(
            AccountScore.objects.filter(
                model=model, account_id__in=account_ids
            ).values_list("account_id", "engagement_score")
        )
        touches = _touches_by_lead(spec, low, high)
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
            results[lead["id"]] = evaluate_touches(
                spec, facts, touches.get(lead["id"], []), now
            )
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
    changed = [
        Lead(
            id=lead_id,
            score=r.total,
            fit_score=r.fit_score,
            engagement_score=r.engagement_score,
            grade=r.grade,
            scored_at=now,
        )
        for lead_id, r in results.items()
    ]
    Lead.objects.bulk_update(
        changed,
        ["score", "fit_score", "engagement_score", "grade", "scored_at"],
        batch_size=1_000,
    )
    Lead.objects.filter(id__in=ids, rescore_requested_at__lte=read_at).update(
        rescore_requested_at=None
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
) -> int:
    """Rescore every lead under ``model`` chunk by chunk; return how many.

    Each chunk commits on its own; rerunning after a crash recomputes the same
    scores. ``progress`` is called with the number of leads done per chunk.
    """
    now = now or timezone.now()
    spec = selectors.model_spec(model)
    total = 0
    for low, high in lead_id_ranges(chunk_size):
        done = chunk_rescore(model=model, spec=spec, low=low, high=high, now=now)
        total += done
        if progress is not None:
            progress(done)
    return total
