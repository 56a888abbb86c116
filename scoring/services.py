"""Write use-cases of scoring: rescoring leads and promoting them to MQL."""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import (
    IntegrityError,
    InterfaceError,
    OperationalError,
    connection,
    transaction,
)
from django.db.models import Count, F, Max, Q, Sum, Value
from django.db.models.functions import Greatest, Least
from django.utils import timezone

from leads import lifecycle
from leads.audit import audit_record
from leads.models import AuditEvent, Lead, Stage
from scoring import selectors, store
from scoring.engine import ModelSpec, ScoreResult, evaluate_touches
from scoring.exceptions import ModelNotEditable, ModelNotPublishable
from scoring.models import (
    AccountRollupRequest,
    AccountScore,
    LeadScore,
    RescoreChunk,
    ScoringModel,
    ScoringRule,
)
from scoring.validation import (
    MODEL_INPUT_FIELDS,
    RULE_INPUT_FIELDS,
    model_settings_clean,
    rule_clean,
    score_range_problem,
)

logger = logging.getLogger(__name__)

#: Stages from which reaching the threshold makes a lead an MQL.
PROMOTABLE_STAGES = frozenset({Stage.LEAD, Stage.NURTURE})
SYSTEM_ACTOR = "scoring"
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
        if result.qualifies and lead["stage"] in PROMOTABLE_STAGES:
            checks = selectors.recycle_holds_check(
                holds={lead_id: lead["recycle_until"]}, now=now
            )
            if lead_id in checks and checks[lead_id] is None:
                logger.info(
                    "lead %s qualifies but is held in nurture until %s",
                    lead_id,
                    lead["recycle_until"],
                )
                return result
            lifecycle.lead_move(
                lead_id=lead_id,
                to_stage=Stage.MQL,
                system_actor=SYSTEM_ACTOR,
                reason=mql_reason(
                    result=result, spec=spec, model=model, release=checks.get(lead_id)
                ),
                now=now,
            )
    return result


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
        f"Score {result.total} reached the MQL threshold {spec.mql_threshold} ({model})"
    )
    if release is not None:
        reason += f"; high-intent {release.label.lower()} during the recycle cool-down"
    return reason


#: Leads scored per transaction by ``leads_rescore`` (a rescore task's size).
RESCORE_SET_SIZE = 500


def leads_rescore(
    *,
    lead_ids: Iterable[int],
    now: dt.datetime | None = None,
    marked_only: bool = False,
) -> int:
    """Rescore the given leads under the active model; return how many were scored.

    Set-based (scoring.bulk.leads_rescore_set): a few queries for up to
    RESCORE_SET_SIZE leads, scattered or not, in one transaction that locks
    them first (id order). With ``marked_only`` (the real-time task), a lead
    whose rescore mark was cleared meanwhile is skipped: a rescore that read
    after its last change already scored it, so a queue that fell behind
    scores each busy lead once, not once per message. With no active model,
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
        try:
            scored += rescore(lead_ids=batch)
        except TRANSIENT_ERRORS:
            raise
        except Exception:
            # One lead that cannot be scored must not cost the others of its
            # set their rescore: score them one at a time instead.
            logger.warning(
                "rescoring a set of %s leads failed; scoring them one by one",
                len(batch),
                exc_info=True,
            )
            scored += _leads_rescore_one_by_one(rescore, batch)
    return scored


def _leads_rescore_one_by_one(rescore: Any, lead_ids: list[int]) -> int:
    """Score each lead in its own transaction; a lead that fails keeps its
    rescore mark (its transaction rolled back), so the reconciler tries it
    again, and is logged with its id."""
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
    return scored


# Models: drafts, cloning, publishing
# ------------------------------------------------------------------------------

#: Rule fields copied when a model is cloned.
RULE_FIELDS = (
    "position",
    "kind",
    "label",
    "points",
    "attribute",
    "operator",
    "value",
    "touchpoint_kind",
    "property_name",
    "property_operator",
    "property_value",
    "max_occurrences",
    "lookback_days",
    "half_life_days",
)
MODEL_FIELDS = (
    "mql_threshold",
    "min_fit_score",
    "default_half_life_days",
    "grade_a_min",
    "grade_b_min",
    "grade_c_min",
    "notes",
)


@transaction.atomic
def model_clone(*, model: ScoringModel, actor: Any | None = None) -> ScoringModel:
    """Copy a model and its rules into a new draft (the next version of its name).

    This is how an active or archived model is changed: it stays as it is.
    Two people cloning at once would pick the same next version; the unique
    (name, version) index refuses the second, which then takes the next one.
    """
    fields = {f: getattr(model, f) for f in MODEL_FIELDS}
    fields["notes"] = f"Cloned from {model} on {timezone.now():%Y-%m-%d}."
    for attempt in range(5):
        latest = (
            ScoringModel.objects.filter(name=model.name)
            .order_by("-version")
            .values_list("version", flat=True)
            .first()
        )
        try:
            with transaction.atomic():
                draft = ScoringModel.objects.create(
                    name=model.name,
                    version=(latest or model.version) + 1,
                    status=ScoringModel.Status.DRAFT,
                    created_by=actor,
                    **fields,
                )
            break
        except IntegrityError:
            if attempt == 4:
                raise
    ScoringRule.objects.bulk_create(
        ScoringRule(model=draft, **{f: getattr(rule, f) for f in RULE_FIELDS})
        for rule in model.rules.order_by("position", "id")
    )
    _rule_edit_audit(actor, "clone", draft.id, source_model_id=model.id)
    return draft


def _rule_edit_audit(actor: Any | None, op: str, model_id: int, **ids: Any) -> None:
    """The one ``rule_edit`` audit row of a draft change (ids and codes only)."""
    audit_record(
        actor=actor,
        action=AuditEvent.Action.RULE_EDIT,
        details={"op": op, "model_id": model_id, **ids},
    )


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


# Bulk rescoring, chunk by chunk (publish, nightly decay)
# ------------------------------------------------------------------------------


PUBLISH_RUN = "publish"


def rescore_plan(
    *, model_id: int, run: str = PUBLISH_RUN, chunk_size: int | None = None
) -> list[int]:
    """Create the pending chunks of a full rescore; return their ids.

    Chunks already planned for this model and run are reused (a second call
    plans nothing new), so starting the same rescore twice is harmless.
    """
    from scoring.bulk import BULK_CHUNK_SIZE, lead_id_ranges

    ranges = lead_id_ranges(chunk_size or BULK_CHUNK_SIZE)
    RescoreChunk.objects.bulk_create(
        [
            RescoreChunk(model_id=model_id, run=run, low=low, high=high)
            for low, high in ranges
        ],
        ignore_conflicts=True,
    )
    return list(
        RescoreChunk.objects.filter(
            model_id=model_id, run=run, finished_at__isnull=True
        )
        .order_by("low")
        .values_list("id", flat=True)
    )


def rescore_chunk_run(*, chunk_id: int, now: dt.datetime | None = None) -> int:
    """Rescore one planned chunk; mark it finished once; finish the model's run.

    Skips a chunk whose model is no longer active (a newer model was
    published, or its publish failed) or that is already finished. Rerunning
    a chunk recomputes the same scores and does not count it twice. The
    chunk holds a share lock on its model's row while it writes (PostgreSQL),
    so a publish or a roll-back waits for chunks in flight, and a chunk that
    starts after them sees the model's new status. A chunk that fails with
    an error other than a transient one is recorded (rescore_run_fail)
    instead of raised: a publish's rescore is undone; transient errors are
    raised for the task to retry.
    """
    from scoring.bulk import chunk_rescore

    chunk = RescoreChunk.objects.select_related("model").filter(id=chunk_id).first()
    if chunk is None or chunk.finished_at is not None:
        return 0
    model = chunk.model
    try:
        with transaction.atomic():
            if not _model_active_shared(model.id):
                return 0
            spec = selectors.model_spec(model)
            done = chunk_rescore(
                model=model,
                spec=spec,
                low=chunk.low,
                high=chunk.high,
                now=now or timezone.now(),
            )
    except TRANSIENT_ERRORS:
        raise
    except Exception as exc:
        logger.exception(
            "rescore chunk %s of scoring model %s failed", chunk.id, model.id
        )
        rescore_run_fail(chunk_id=chunk.id, error=exc)
        return 0
    finished = RescoreChunk.objects.filter(
        id=chunk.id, finished_at__isnull=True
    ).update(finished_at=timezone.now(), leads=done)
    if (
        finished
        and not RescoreChunk.objects.filter(
            model=model, run=chunk.run, finished_at__isnull=True
        ).exists()
    ):
        account_scores_refresh(model=model, now=timezone.now())
    if finished and chunk.run == PUBLISH_RUN:
        ScoringModel.objects.filter(id=model.id).update(
            rescore_done=F("rescore_done") + done
        )
        if not RescoreChunk.objects.filter(
            model=model, run=PUBLISH_RUN, finished_at__isnull=True
        ).exists():
            ScoringModel.objects.filter(
                id=model.id, rescore_finished_at__isnull=True
            ).update(rescore_finished_at=timezone.now())
    return done


def _model_active_shared(model_id: int) -> bool:
    """Whether the model is active, read under a share lock on its row (to the
    end of the transaction) on PostgreSQL: chunks of one run do not wait for
    each other, a change of the model's status waits for them."""
    if connection.vendor != "postgresql":
        return ScoringModel.objects.filter(
            id=model_id, status=ScoringModel.Status.ACTIVE
        ).exists()
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT status FROM {ScoringModel._meta.db_table} "  # nosec B608: name from model meta
            "WHERE id = %s FOR SHARE",
            [model_id],
        )
        row = cursor.fetchone()
    return row is not None and row[0] == ScoringModel.Status.ACTIVE


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
            Lead.objects.select_for_update(skip_locked=True, of=("self",), no_key=True)
            .filter(rescore_requested_at__lt=now - older_than)
            .order_by("id")
            .values_list("id", flat=True)[:limit]
        )
        Lead.objects.filter(id__in=lead_ids).update(rescore_requested_at=now)
    return lead_ids


def chunks_stalled(
    *, older_than: dt.timedelta, now: dt.datetime | None = None
) -> list[int]:
    """Pending chunks of the active model planned longer ago than ``older_than``."""
    now = now or timezone.now()
    return list(
        RescoreChunk.objects.filter(
            model__status=ScoringModel.Status.ACTIVE,
            finished_at__isnull=True,
            created_at__lt=now - older_than,
        ).values_list("id", flat=True)
    )


# Drafts: rules and settings (only a draft changes; published models stay as
# they were scored, and are changed by cloning them)
# ------------------------------------------------------------------------------

NOT_EDITABLE_MESSAGE = (
    "Only drafts can be edited; clone this model into a new draft first."
)


def _draft_locked(model_id: int) -> ScoringModel:
    """Lock the model's row and check that it is still a draft.

    model_publish locks the same row, so an edit and a publish of the same
    draft run one after the other: no rule changes under a model once it is
    active. Raises ModelNotEditable otherwise.
    """
    model = ScoringModel.objects.select_for_update().get(id=model_id)
    if not model.is_editable:
        raise ModelNotEditable(NOT_EDITABLE_MESSAGE)
    return model


def _score_range_check(
    draft: ScoringModel, cleaned: dict[str, Any], *, replacing: int | None = None
) -> None:
    """Refuse (ValidationError on ``points``) a rule with which the draft could
    give a score the score columns cannot hold (checked again at publish)."""
    others = (
        ScoringRule.objects.filter(model=draft)
        .exclude(id=replacing)
        .values("kind", "points", "max_occurrences")
    )
    problem = score_range_problem([*others, cleaned])
    if problem:
        raise ValidationError({"points": problem})


def _unknown_fields(fields: dict[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(fields) - set(allowed))
    if unknown:
        raise TypeError(f"Unknown fields: {', '.join(unknown)}")


@transaction.atomic
def rule_create(
    *, model: ScoringModel, actor: Any | None = None, **fields: Any
) -> ScoringRule:
    """Add a rule (fields: scoring.validation.RULE_INPUT_FIELDS) at the end.

    Refuses a model that is not a draft (ModelNotEditable) and invalid fields
    (ValidationError with a message per field); nothing is stored then.
    Fields the rule's kind does not use are stored empty.
    """
    _unknown_fields(fields, RULE_INPUT_FIELDS)
    draft = _draft_locked(model.id)
    cleaned = rule_clean(fields, touchpoint_kinds=selectors.touchpoint_kind_codes())
    _score_range_check(draft, cleaned)
    last = draft.rules.aggregate(last=Max("position"))["last"] or 0
    rule = ScoringRule.objects.create(model=draft, position=last + 1, **cleaned)
    _rule_edit_audit(actor, "create", draft.id, rule_id=rule.id, kind=rule.kind)
    return rule


@transaction.atomic
def rule_update(
    *, rule: ScoringRule, actor: Any | None = None, **fields: Any
) -> ScoringRule:
    """Change some fields of a draft's rule; the rule is validated as a whole.

    Refuses like rule_create. Returns the rule as stored.
    """
    _unknown_fields(fields, RULE_INPUT_FIELDS)
    _draft_locked(rule.model_id)
    current = ScoringRule.objects.get(id=rule.id)
    merged = {name: getattr(current, name) for name in RULE_INPUT_FIELDS} | fields
    cleaned = rule_clean(merged, touchpoint_kinds=selectors.touchpoint_kind_codes())
    _score_range_check(current.model, cleaned, replacing=current.id)
    for name, value in cleaned.items():
        setattr(current, name, value)
    current.save(update_fields=list(cleaned))
    _rule_edit_audit(actor, "update", current.model_id, rule_id=current.id)
    return current


@transaction.atomic
def rule_delete(*, rule: ScoringRule, actor: Any | None = None) -> None:
    """Delete a draft's rule; refuses a model that is not a draft.

    A rule already deleted is ignored (a second click changes nothing).
    """
    _draft_locked(rule.model_id)
    if ScoringRule.objects.filter(id=rule.id).delete()[0]:
        _rule_edit_audit(actor, "delete", rule.model_id, rule_id=rule.id)


@transaction.atomic
def rules_reorder(
    *, model: ScoringModel, rule_ids: list[int], actor: Any | None = None
) -> list[ScoringRule]:
    """Put a draft's rules in this order (positions 1, 2, ...); return them.

    ``rule_ids`` must name every rule of the model once: an order made from
    a page that is out of date (a rule added or deleted since) is refused
    with a ValidationError on ``rule_ids``, and nothing moves.
    """
    draft = _draft_locked(model.id)
    rules = {rule.id: rule for rule in ScoringRule.objects.filter(model=draft)}
    if len(rule_ids) != len(set(rule_ids)) or set(rule_ids) != set(rules):
        raise ValidationError(
            {
                "rule_ids": "The rules of this model changed since the page was "
                "loaded; reload it and move the rule again."
            }
        )
    for position, rule_id in enumerate(rule_ids, start=1):
        rules[rule_id].position = position
    ScoringRule.objects.bulk_update(list(rules.values()), ["position"])
    _rule_edit_audit(actor, "reorder", draft.id, rule_ids=list(rule_ids))
    return [rules[rule_id] for rule_id in rule_ids]


@transaction.atomic
def model_update(
    *, model: ScoringModel, actor: Any | None = None, **fields: Any
) -> ScoringModel:
    """Change a draft's settings (scoring.validation.MODEL_INPUT_FIELDS).

    The settings are validated together (grade bands must go down from A to
    C). Refuses a model that is not a draft (ModelNotEditable) and invalid
    values (ValidationError per field); nothing is stored then.
    """
    _unknown_fields(fields, MODEL_INPUT_FIELDS)
    draft = _draft_locked(model.id)
    merged = {name: getattr(draft, name) for name in MODEL_INPUT_FIELDS} | fields
    cleaned = model_settings_clean(merged)
    for name, value in cleaned.items():
        setattr(draft, name, value)
    draft.save(update_fields=list(cleaned))
    _rule_edit_audit(actor, "settings", draft.id, fields=sorted(cleaned))
    return draft


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
            _rollups_lock()
            return _account_scores_refresh_pg(
                model=model, account_ids=account_ids, now=now
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


#: The advisory lock (PostgreSQL) that roll-up refreshes take in turn.
ROLLUPS_LOCK_KEY = 0x4C46_524F


def _rollups_lock(*, wait: bool = True) -> bool:
    """Take the roll-up lock to the end of the transaction; without ``wait``,
    only if it is free (returns whether it was taken)."""
    function = "pg_advisory_xact_lock" if wait else "pg_try_advisory_xact_lock"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {function}(%s)", [ROLLUPS_LOCK_KEY])  # nosec B608: one of two names
        return wait or bool(cursor.fetchone()[0])


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
        if connection.vendor == "postgresql":
            if not _rollups_lock(wait=False):
                return None
            with connection.cursor() as cursor:
                cursor.execute(
                    f"DELETE FROM {AccountRollupRequest._meta.db_table} "  # nosec B608: name from model meta
                    "RETURNING model_id, account_id"
                )
                taken = cursor.fetchall()
        else:
            rows = list(
                AccountRollupRequest.objects.values_list("id", "model_id", "account_id")
            )
            AccountRollupRequest.objects.filter(id__in=[r[0] for r in rows]).delete()
            taken = [(model_id, account_id) for _, model_id, account_id in rows]
        by_model: dict[int, set[int]] = {}
        for model_id, account_id in taken:
            by_model.setdefault(model_id, set()).add(account_id)
        for model in ScoringModel.objects.filter(id__in=by_model).order_by("id"):
            account_scores_refresh(
                model=model, account_ids=sorted(by_model[model.id]), now=now
            )
    return len(taken)


def _account_scores_refresh_pg(
    *, model: ScoringModel, account_ids: list[int] | None, now: dt.datetime
) -> int:
    only = "AND lead.account_id = ANY(%(accounts)s)" if account_ids is not None else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO {AccountScore._meta.db_table} (account_id, model_id,
                engagement_score, engaged_leads, computed_at)
            SELECT lead.account_id, %(model)s,
                SUM(LEAST(GREATEST(score.engagement_score, 0), %(cap)s)),
                COUNT(*) FILTER (WHERE score.engagement_score > 0),
                %(now)s
            FROM {LeadScore._meta.db_table} AS score
            JOIN {Lead._meta.db_table} AS lead ON lead.id = score.lead_id
            WHERE score.model_id = %(model)s AND lead.account_id IS NOT NULL {only}
            GROUP BY lead.account_id
            ORDER BY lead.account_id
            ON CONFLICT (account_id, model_id) DO UPDATE SET
                engagement_score = EXCLUDED.engagement_score,
                engaged_leads = EXCLUDED.engaged_leads,
                computed_at = EXCLUDED.computed_at
            """,  # nosec B608: names from model meta, values bound
            {
                "model": model.id,
                "cap": ACCOUNT_LEAD_CAP,
                "now": now,
                "accounts": account_ids,
            },
        )
        return cursor.rowcount
