"""Publishing a draft model: checks, activation, and undoing a failed publish.

``model_publish`` makes a draft the active model and plans the chunks of its
rescore (scoring.services.chunks); if a chunk fails, ``rescore_run_fail`` puts
the model back to draft and the one it replaced back in place, and
``model_publish_retry`` publishes it again.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from leads.audit import audit_record
from leads.models import AuditEvent, Lead
from scoring import selectors
from scoring.exceptions import ModelNotPublishable
from scoring.models import RescoreChunk, ScoringModel
from scoring.services.chunks import PUBLISH_RUN, rescore_plan
from scoring.validation import RULE_INPUT_FIELDS, rule_clean, score_range_problem

logger = logging.getLogger(__name__)


def model_publish(
    *, model_id: int, actor: Any | None = None, now: dt.datetime | None = None
) -> ScoringModel:
    """Make a draft the active model and start rescoring every lead under it.

    Checks first, with the draft locked: only a draft with rules, every rule
    still valid (a pattern the engine runs, points in bounds) and no lead
    able to reach a score the columns cannot hold (scoring.validation);
    else ModelNotPublishable with the reason, and nothing changes. Two
    people publishing the same draft: one wins, the other gets
    ModelNotPublishable. Then, in one transaction, archives the model that
    was active (remembered as ``replaced``), activates the draft, records
    who published it and plans the chunks of its rescore; the chunks are
    enqueued after commit. Returns at once; the model's rescore_* fields
    report progress.

    If a chunk of that rescore fails, the publish is undone rather than left
    half-done: the model goes back to draft with the failure recorded, the
    model it replaced is active again and rescores every lead (see
    rescore_run_fail); model_publish_retry publishes it again.
    """
    from scoring.tasks import rescore_all_task  # tasks import this module

    now = now or timezone.now()
    with transaction.atomic():
        draft = ScoringModel.objects.select_for_update().filter(id=model_id).first()
        if draft is None or draft.status != ScoringModel.Status.DRAFT:
            raise ModelNotPublishable(
                "Only a draft can be published; this model is "
                f"{draft.get_status_display().lower() if draft else 'gone'}."
            )
        _publishable_check(draft)
        replaced = (
            ScoringModel.objects.select_for_update()
            .filter(status=ScoringModel.Status.ACTIVE)
            .first()
        )
        if replaced is not None:
            ScoringModel.objects.filter(id=replaced.id).update(
                status=ScoringModel.Status.ARCHIVED
            )
        # The chunks score leads that were not erased; count the same ones, so
        # the progress reaches its total. With no lead there is nothing to wait for.
        total = Lead.objects.filter(erased_at__isnull=True).count()
        ScoringModel.objects.filter(id=draft.id).update(
            status=ScoringModel.Status.ACTIVE,
            published_by=actor,
            published_at=now,
            replaced=replaced,
            rescore_total=total,
            rescore_done=0,
            rescore_finished_at=None if total else now,
            rescore_failed_at=None,
            rescore_error="",
        )
        # A publish that failed before left its chunks: plan afresh.
        RescoreChunk.objects.filter(model=draft, run=PUBLISH_RUN).delete()
        rescore_plan(model_id=draft.id)
        audit_record(
            actor=actor,
            action=AuditEvent.Action.MODEL_PUBLISH,
            at=now,
            details={
                "model_id": draft.id,
                "version": draft.version,
                "leads_to_rescore": total,
                "replaced_model_id": replaced.id if replaced else None,
            },
        )
        transaction.on_commit(lambda: rescore_all_task.delay(draft.id))
    draft.refresh_from_db()
    logger.info("scoring model %s published", draft.id)
    return draft


def model_publish_retry(
    *, model_id: int, actor: Any | None = None, now: dt.datetime | None = None
) -> ScoringModel:
    """Publish again a draft whose publish rescore failed (see model_publish).

    Refuses (ModelNotPublishable) a model whose last publish did not fail,
    so a second click after a successful retry changes nothing. The draft
    is checked again and rescores every lead from the start.
    """
    model = ScoringModel.objects.filter(id=model_id).first()
    if (
        model is None
        or model.status != ScoringModel.Status.DRAFT
        or model.rescore_failed_at is None
    ):
        raise ModelNotPublishable("Only a publish that failed can be retried.")
    return model_publish(model_id=model_id, actor=actor, now=now)


def _publishable_check(draft: ScoringModel) -> None:
    """Refuse (ModelNotPublishable) a draft whose rescore could not run.

    Rules are checked again as when they were saved (one saved before a
    check existed, such as a pattern RE2 cannot run or points out of
    bounds, is named), and the scores the rules can give against the score
    columns (scoring.validation.score_range_problem).
    """
    rules = list(draft.rules.order_by("position", "id"))
    if not rules:
        raise ModelNotPublishable("Add at least one rule before publishing.")
    kinds = selectors.touchpoint_kind_codes()
    for rule in rules:
        fields = {name: getattr(rule, name) for name in RULE_INPUT_FIELDS}
        try:
            rule_clean(fields, touchpoint_kinds=kinds)
        except ValidationError as exc:
            raise ModelNotPublishable(
                f"Rule “{rule.label}” cannot be published: "
                f"{' '.join(exc.messages)} Edit it, then publish."
            ) from None
    problem = score_range_problem(
        {"kind": r.kind, "points": r.points, "max_occurrences": r.max_occurrences}
        for r in rules
    )
    if problem:
        raise ModelNotPublishable(problem)


#: Prefix of the run that rescores every lead under the model a failed
#: publish replaced, once it is active again.
RESTORE_RUN = "restore"


def rescore_run_fail(
    *, chunk_id: int, error: BaseException, now: dt.datetime | None = None
) -> None:
    """Record that a chunk of a rescore failed; undo the publish it belonged to.

    For a publish rescore of the model still active: the model goes back to
    draft (editable, with ``rescore_failed_at`` and ``rescore_error`` shown
    on its page), the model it replaced is active again, and every lead is
    rescored under that one after commit (the chunks that finished wrote
    the failed model's scores on the leads). Leads a finished chunk moved
    to MQL stay there: that hand-over happened. One audit row. A chunk of
    another run (the nightly decay, a restore) stays pending for the
    reconciler; a model no longer active is left as it is. Called once per
    failed chunk; the second failure of the same publish changes nothing.
    """
    from scoring.tasks import rescore_all_task  # tasks import this module

    now = now or timezone.now()
    with transaction.atomic():
        chunk = RescoreChunk.objects.filter(id=chunk_id).first()
        if chunk is None or chunk.run != PUBLISH_RUN:
            return
        model = ScoringModel.objects.select_for_update().get(id=chunk.model_id)
        if model.status != ScoringModel.Status.ACTIVE:
            return
        message = (
            f"{type(error).__name__} while rescoring leads "
            f"{chunk.low:,} to {chunk.high - 1:,}"
        )[:300]
        replaced = (
            ScoringModel.objects.select_for_update()
            .filter(id=model.replaced_id, status=ScoringModel.Status.ARCHIVED)
            .first()
        )
        ScoringModel.objects.filter(id=model.id).update(
            status=ScoringModel.Status.DRAFT,
            published_by=None,
            published_at=None,
            rescore_failed_at=now,
            rescore_error=message,
        )
        if replaced is not None:
            ScoringModel.objects.filter(id=replaced.id).update(
                status=ScoringModel.Status.ACTIVE
            )
            run = f"{RESTORE_RUN}-{model.id}-{now:%Y%m%d%H%M%S}"
            transaction.on_commit(lambda: rescore_all_task.delay(replaced.id, run))
        audit_record(
            actor=None,
            action=AuditEvent.Action.MODEL_PUBLISH,
            at=now,
            details={
                "op": "rescore_failed",
                "model_id": model.id,
                "chunk_id": chunk.id,
                "leads_rescored": model.rescore_done,
                "restored_model_id": replaced.id if replaced else None,
            },
        )
    logger.error(
        "publish of scoring model %s undone after a failed rescore; model %s "
        "is active again",
        model.id,
        replaced.id if replaced else None,
    )
