"""Write use-cases of scoring: rescoring leads and promoting them to MQL."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from leads import lifecycle
from leads.locks import lock_lead
from leads.models import Lead, Stage
from leads.services import lead_scores_write
from scoring import selectors
from scoring.engine import ModelSpec, ScoreResult, evaluate_touches
from scoring.models import LeadScore, LeadScoreHistory, ScoringModel

logger = logging.getLogger(__name__)

#: Stages from which reaching the threshold makes a lead an MQL.
PROMOTABLE_STAGES = frozenset({Stage.LEAD, Stage.NURTURE})
SYSTEM_ACTOR = "scoring"


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
    it twice changes nothing the second time. A missing lead is skipped
    (returns None). The score is computed at ``now`` (decay).
    """
    now = now or timezone.now()
    spec = spec or selectors.model_spec(model)
    with transaction.atomic():
        try:
            lead = lock_lead(lead_id)
        except Lead.DoesNotExist:
            return None
        read_at = timezone.now()
        facts = selectors.lead_facts(lead, model_id=model.id)
        result = evaluate_touches(
            spec, facts, selectors.lead_touches(lead_id, spec), now
        )
        score_store(
            lead_id=lead_id, model=model, result=result, now=now, read_at=read_at
        )
        if result.qualifies and lead.stage in PROMOTABLE_STAGES:
            lifecycle.lead_move(
                lead_id=lead_id,
                to_stage=Stage.MQL,
                system_actor=SYSTEM_ACTOR,
                reason=(
                    f"Score {result.total} reached the MQL threshold "
                    f"{spec.mql_threshold} ({model})"
                ),
                now=now,
            )
    return result


def score_store(
    *,
    lead_id: int,
    model: ScoringModel,
    result: ScoreResult,
    now: dt.datetime,
    read_at: dt.datetime,
) -> None:
    """Upsert the LeadScore, add history when the total moved, update the lead."""
    previous = (
        LeadScore.objects.filter(lead_id=lead_id, model=model)
        .values_list("total", "fit_score", "engagement_score")
        .first()
    )
    LeadScore.objects.update_or_create(
        lead_id=lead_id,
        model=model,
        defaults={
            "total": result.total,
            "fit_score": result.fit_score,
            "engagement_score": result.engagement_score,
            "grade": result.grade,
            "breakdown": result.items,
            "gated_by": result.gated_by,
            "computed_at": now,
        },
    )
    current = (result.total, result.fit_score, result.engagement_score)
    if previous is None or tuple(Decimal(v) for v in previous) != current:
        LeadScoreHistory.objects.create(
            lead_id=lead_id,
            model=model,
            total=result.total,
            fit_score=result.fit_score,
            engagement_score=result.engagement_score,
            at=now,
        )
    lead_scores_write(
        lead_id=lead_id,
        score=result.total,
        fit_score=result.fit_score,
        engagement_score=result.engagement_score,
        grade=result.grade,
        scored_at=now,
        read_at=read_at,
    )


def leads_rescore(*, lead_ids: Iterable[int], now: dt.datetime | None = None) -> int:
    """Rescore the given leads under the active model, each in its own transaction.

    Returns how many were scored; with no active model, none (and the marks
    stay for when one is published). Idempotent.
    """
    model = selectors.model_active()
    if model is None:
        logger.info("no active scoring model; %s leads left marked", "some")
        return 0
    spec = selectors.model_spec(model)
    done = 0
    for lead_id in sorted(set(lead_ids)):
        if lead_rescore(lead_id=lead_id, model=model, spec=spec, now=now) is not None:
            done += 1
    return done
