"""MQL promotion: whether a scored lead crosses the threshold, and the move.

Both rescoring paths promote through here: ``lead_promote`` for the one lead
the per-lead path has locked, ``leads_promote`` for the leads of a set or a
chunk. A lead qualifies from ``lead``/``nurture`` only, and a recycled lead
still cooling down stays in nurture unless it had a high-intent touchpoint
since it was recycled (selectors.recycle_holds_check); the lifecycle moves it.
"""

from __future__ import annotations

import datetime as dt
import logging

from leads import lifecycle
from leads.locks import lock_leads
from leads.models import Stage
from scoring import selectors
from scoring.engine import ModelSpec, ScoreResult
from scoring.models import ScoringModel
from scoring.numbers import score_text

logger = logging.getLogger(__name__)

#: Stages from which reaching the threshold makes a lead an MQL.
PROMOTABLE_STAGES = frozenset({Stage.LEAD, Stage.NURTURE})
SYSTEM_ACTOR = "scoring"


def mql_reason(
    *,
    result: ScoreResult,
    spec: ModelSpec,
    model: ScoringModel,
    release: selectors.HighIntentTouch | None = None,
) -> str:
    """The StageTransition reason of a promotion to MQL by scoring.

    ``release`` is the high-intent touchpoint that let a recycled lead through
    its cool-down, named so the SDR sees why it is back early.
    """
    reason = (
        f"Score {score_text(result.total)} reached the MQL threshold "
        f"{score_text(spec.mql_threshold)} ({model})"
    )
    if release is not None:
        reason += f"; high-intent {release.label.lower()} during the recycle cool-down"
    return reason


def lead_promote(
    *,
    lead_id: int,
    stage: str,
    recycle_until: dt.datetime | None,
    result: ScoreResult,
    spec: ModelSpec,
    model: ScoringModel,
    now: dt.datetime,
) -> None:
    """Move one lead, locked by the caller, to ``mql`` if ``result`` qualifies
    it from ``stage``; a lead held by its recycle cool-down is logged and
    stays."""
    if not (result.qualifies and stage in PROMOTABLE_STAGES):
        return
    checks = selectors.recycle_holds_check(holds={lead_id: recycle_until}, now=now)
    if lead_id in checks and checks[lead_id] is None:
        logger.info(
            "lead %s qualifies but is held in nurture until %s",
            lead_id,
            recycle_until,
        )
        return
    lifecycle.lead_move(
        lead_id=lead_id,
        to_stage=Stage.MQL,
        system_actor=SYSTEM_ACTOR,
        reason=mql_reason(
            result=result, spec=spec, model=model, release=checks.get(lead_id)
        ),
        now=now,
    )


def leads_promote(
    *,
    spec: ModelSpec,
    model: ScoringModel,
    results: dict[int, ScoreResult],
    stages: dict[int, str],
    now: dt.datetime,
) -> None:
    """Move the chunk's leads that qualify from ``lead``/``nurture`` to ``mql``.

    ``stages`` are the stages the chunk read, without a lock. The leads that
    qualify by them are locked (id order) and read again, so a lead moved or
    recycled since is judged by its current stage and cool-down; then one
    query finds the high-intent touchpoints of those on a recycle hold (the
    same selector as the per-lead path), and the rest are moved one by one.
    """
    candidates = [
        lead_id
        for lead_id, result in results.items()
        if result.qualifies and stages[lead_id] in PROMOTABLE_STAGES
    ]
    if not candidates:
        return
    current = {
        lead.id: (lead.stage, lead.recycle_until)
        for lead in lock_leads(candidates, no_key=True)
    }
    checks = selectors.recycle_holds_check(
        holds={lead_id: until for lead_id, (_, until) in current.items()}, now=now
    )
    for lead_id in candidates:
        if lead_id not in current or current[lead_id][0] not in PROMOTABLE_STAGES:
            # Moved (or deleted) by someone else since the chunk was read.
            logger.info("lead %s changed stage during bulk rescore", lead_id)
            continue
        if lead_id in checks and checks[lead_id] is None:
            continue  # cooling down after a recycle; see recycle_holds_check
        lifecycle.lead_move(
            lead_id=lead_id,
            to_stage=Stage.MQL,
            system_actor=SYSTEM_ACTOR,
            reason=mql_reason(
                result=results[lead_id],
                spec=spec,
                model=model,
                release=checks.get(lead_id),
            ),
            now=now,
            expected_stage=current[lead_id][0],
        )
