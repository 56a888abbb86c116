"""Suggested points stored as a draft model (see scoring.suggestion for the fit),
and their run in the background on a ``scoring.ModelSuggestion`` row.

``suggestion_request`` stores the request (one at a time) and enqueues the
task ``scoring.suggest_model``; ``suggestion_run`` claims the row with a
conditional update, tells it the stage and progress as the fit goes, and
marks it done in the same transaction as the draft it creates, only while
its claim is the latest: a retried or duplicate delivery of the task never
makes a second draft. The command ``suggest_model`` runs the same two
services in the terminal.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from crm.common.tasks import TRANSIENT
from scoring import selectors
from scoring.exceptions import SuggestionRefused, SuggestionRunning
from scoring.models import ModelSuggestion, ScoringModel
from scoring.services.drafts import _rule_edit_audit, model_update, rule_create
from scoring.suggestion import (
    MATURITY_DAYS,
    SUGGESTED_HALF_LIFE_DAYS,
    Progress,
    auc,
    best_f1_threshold,
    explanation_text,
    f1_at,
    no_progress,
    outcome_check,
    scores_evaluate,
    spec_of,
    suggestion_fit,
)

logger = logging.getLogger(__name__)

#: The name of a suggested draft when none is given.
DEFAULT_NAME = "Suggested points"
#: A suggestion running longer than this was lost with its worker (above the
#: tasks' hard time limit of 15 minutes): another may claim it or start.
RUNNING_LOST_AFTER = dt.timedelta(minutes=20)
#: A suggestion queued longer than this was lost with its message: the bulk
#: queue may be busy with a full rescore, so much longer than a run.
QUEUED_LOST_AFTER = dt.timedelta(hours=2)
#: Where a suggestion runs: the bulk worker (it reads every lead, like a rescore).
SUGGEST_QUEUE = "bulk"

Status = ModelSuggestion.Status
Stage = ModelSuggestion.Stage


@dataclass(frozen=True)
class SuggestionResult:
    """The stored draft and the figures of its validation."""

    model: ScoringModel
    outcome: str
    until: dt.datetime
    train_leads: int
    test_leads: int
    auc_active: float | None
    auc_suggested: float
    rules: int

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.model.id,
            "name": self.model.name,
            "version": self.model.version,
            "outcome": self.outcome,
            "until": f"{self.until:%Y-%m-%d}",
            "train_leads": self.train_leads,
            "test_leads": self.test_leads,
            "auc_active": None
            if self.auc_active is None
            else round(self.auc_active, 4),
            "auc_suggested": round(self.auc_suggested, 4),
            "rules": self.rules,
            "mql_threshold": str(self.model.mql_threshold),
        }


def _draft_create(*, name: str, actor: Any | None) -> ScoringModel:
    """An empty draft named ``name``, the next version of that name."""
    for attempt in range(5):
        latest = (
            ScoringModel.objects.filter(name=name)
            .order_by("-version")
            .values_list("version", flat=True)
            .first()
        )
        try:
            with transaction.atomic():
                return ScoringModel.objects.create(
                    name=name,
                    version=(latest or 0) + 1,
                    status=ScoringModel.Status.DRAFT,
                    created_by=actor,
                )
        except IntegrityError:
            if attempt == 4:
                raise
    raise AssertionError("unreachable")


def _name_check(name: str) -> str:
    name = (name or DEFAULT_NAME).strip() or DEFAULT_NAME
    if len(name) > ScoringModel._meta.get_field("name").max_length:
        raise SuggestionRefused("Give the draft a name of at most 120 characters.")
    return name


def model_suggest(
    *,
    outcome: str,
    until: dt.datetime | None = None,
    name: str = "",
    actor: Any | None = None,
    progress: Progress = no_progress,
    finish: Callable[[SuggestionResult], None] | None = None,
) -> SuggestionResult:
    """Fit points to the outcomes of the leads created before ``until``
    (default: MATURITY_DAYS ago, so that they had time to reach it) and store
    them as a new draft; answer it with its validation figures.

    Refuses (SuggestionRefused, nothing stored) an unknown outcome and a
    window without enough leads of each class; a name longer than a model's
    name. The suggested rules are scored with the engine on the training
    leads (to choose the threshold) and on the test leads (the AUCs), then,
    in one transaction: the draft (the next version of ``name``), its rules
    through ``rule_create`` (each validated as a rule a person adds), its
    threshold and explanation through ``model_update``, and ``finish`` (which
    may raise to roll it all back). ``progress`` hears every stage; it is
    never called inside the transaction, so that others see it. Any failure
    leaves nothing behind. Reads every lead once per pass (three passes); a
    second call makes another draft (the next version).
    """
    outcome = outcome_check(outcome)
    name = _name_check(name)
    until = until or timezone.now() - dt.timedelta(days=MATURITY_DAYS)
    active_model = selectors.model_active()
    active = selectors.model_spec(active_model) if active_model else None
    suggestion = suggestion_fit(
        outcome=outcome, until=until, active=active, progress=progress
    )
    population = suggestion.population
    train_ids, test_ids = population.train_ids, population.test_ids
    # The draft's rules as the engine will read them once stored (the same
    # fields, the active model's default half-life), scored before anything
    # is written, so that the progress is seen and a failure stores nothing.
    fields = [rule.fields for rule in suggestion.rules] + [
        {**rule, "points": Decimal(0)} for rule in suggestion.disqualifying
    ]
    spec = spec_of(fields, like=active)
    total = len(population.ids) + (len(test_ids) if active is not None else 0)
    progress(Stage.VALIDATING, 0, total)
    scored = scores_evaluate(
        spec=spec,
        population=population,
        lead_ids=population.ids,
        progress=lambda done: progress(Stage.VALIDATING, done, total),
    )
    train_scores = [scored[i].total for i in train_ids]
    train_outcomes = population.outcomes[: population.train]
    threshold = max(best_f1_threshold(train_scores, train_outcomes), Decimal(0))
    test_outcomes = population.outcomes[population.train :]
    auc_suggested = auc(test_outcomes, [float(scored[i].total) for i in test_ids])
    auc_active = None
    if active is not None:
        current = scores_evaluate(
            spec=active,
            population=population,
            lead_ids=test_ids,
            progress=lambda done: progress(
                Stage.VALIDATING, len(population.ids) + done, total
            ),
        )
        auc_active = auc(test_outcomes, [float(current[i].total) for i in test_ids])
    notes = explanation_text(
        suggestion=suggestion,
        threshold=threshold,
        train_f1=f1_at(train_scores, train_outcomes, threshold),
        auc_active=auc_active,
        auc_suggested=auc_suggested,
        active_name=str(active_model) if active_model else None,
    )
    rules = len(suggestion.rules) + len(suggestion.disqualifying)
    progress(Stage.DRAFTING, 0, rules)
    with transaction.atomic():
        draft = _draft_create(name=name, actor=actor)
        for rule in suggestion.rules:
            rule_create(model=draft, actor=actor, **rule.fields)
        for rule_fields in suggestion.disqualifying:
            rule_create(model=draft, actor=actor, **rule_fields)
        settings: dict[str, Any] = {"mql_threshold": threshold, "notes": notes}
        if active_model is not None:
            settings["default_half_life_days"] = active_model.default_half_life_days
        draft = model_update(model=draft, actor=actor, **settings)
        _rule_edit_audit(
            actor,
            "suggest",
            draft.id,
            outcome=outcome,
            until=f"{until:%Y-%m-%d}",
            half_life_days=SUGGESTED_HALF_LIFE_DAYS,
        )
        result = SuggestionResult(
            model=draft,
            outcome=outcome,
            until=until,
            train_leads=population.train,
            test_leads=len(test_ids),
            auc_active=auc_active,
            auc_suggested=auc_suggested,
            rules=len(suggestion.rules),
        )
        if finish is not None:
            finish(result)
    logger.info(
        "scoring model %s suggested for %s: %s rules, AUC %.3f (active %s)",
        draft.id,
        outcome,
        len(suggestion.rules),
        auc_suggested,
        auc_active,
    )
    return result


def _lost_release(now: dt.datetime) -> None:
    """Mark failed the suggestions lost with their worker or their message
    (queued or running for too long), so that they hold no place."""
    lost = Q(status=Status.RUNNING, started_at__lt=now - RUNNING_LOST_AFTER) | Q(
        status=Status.QUEUED, created_at__lt=now - QUEUED_LOST_AFTER
    )
    ModelSuggestion.objects.filter(lost).update(
        status=Status.FAILED,
        in_progress=None,
        error="The suggestion was lost with its worker: start it again.",
        finished_at=now,
    )


def suggestion_request(
    *,
    outcome: str,
    until: dt.datetime | None = None,
    name: str = "",
    actor: Any | None = None,
    now: dt.datetime | None = None,
    enqueue: bool = True,
) -> ModelSuggestion:
    """Store a queued suggestion for ``outcome`` over the leads created before
    ``until`` (default: MATURITY_DAYS before ``now``) and, with ``enqueue``,
    run it on the bulk worker after commit (task ``scoring.suggest_model``).

    Refuses an unknown outcome or a name too long (SuggestionRefused) and a
    second suggestion while one is queued or running (SuggestionRunning, with
    that one): the row's unique ``in_progress`` decides between concurrent
    requests. One lost with its worker is marked failed first and does not
    block. Nothing is stored when refused.
    """
    outcome = outcome_check(outcome)
    name = _name_check(name)
    now = now or timezone.now()
    until = until or now - dt.timedelta(days=MATURITY_DAYS)
    user = actor if actor is not None and actor.is_authenticated else None
    with transaction.atomic():
        _lost_release(now)
        try:
            with transaction.atomic():
                suggestion = ModelSuggestion.objects.create(
                    requested_by=user,
                    outcome=outcome,
                    cut_off=until,
                    name=name,
                    created_at=now,
                )
        except IntegrityError:
            running = ModelSuggestion.objects.filter(in_progress=True).first()
            raise SuggestionRunning(running) from None
        if enqueue:
            from scoring.tasks import suggest_model_task  # tasks import this module

            suggestion_id = suggestion.id
            transaction.on_commit(
                lambda: suggest_model_task.apply_async(
                    (suggestion_id,), queue=SUGGEST_QUEUE
                )
            )
    return suggestion


#: Longest the suggest endpoint waits for a run to finish before answering
#: that it is still running (the web workers give a request 30 s).
WAIT_MAX_SECONDS = 25
#: How often a waiting request reads the run again.
WAIT_POLL_SECONDS = 0.25


def suggestion_wait(suggestion_id: int, *, seconds: float) -> ModelSuggestion:
    """The suggestion once it is done or failed, or as it stands after
    ``seconds`` (at most WAIT_MAX_SECONDS), read again every
    WAIT_POLL_SECONDS. Reads only: the bulk worker runs it meanwhile (or
    ran it already, when Celery is eager). Inside a transaction it does not
    wait: the run is enqueued when that transaction commits."""
    if connection.in_atomic_block:
        seconds = 0
    deadline = time.monotonic() + min(seconds, WAIT_MAX_SECONDS)
    finished = {ModelSuggestion.Status.DONE, ModelSuggestion.Status.FAILED}
    while True:
        suggestion = ModelSuggestion.objects.get(pk=suggestion_id)
        if suggestion.status in finished or time.monotonic() >= deadline:
            return suggestion
        time.sleep(WAIT_POLL_SECONDS)


class _Superseded(Exception):
    """Another delivery claimed the suggestion since this one did."""


def _claim(suggestion_id: int, worker: str, now: dt.datetime) -> int | None:
    """Claim the suggestion for ``worker``; the claim's number, or None when it
    is not this worker's to run (done, failed, or running elsewhere)."""
    claimable = Q(status=Status.QUEUED) | Q(
        status=Status.RUNNING, started_at__lt=now - RUNNING_LOST_AFTER
    )
    if worker:
        # A retry of the same task (after a lost connection) takes it back.
        claimable |= Q(status=Status.RUNNING, worker=worker)
    with transaction.atomic():
        claimed = ModelSuggestion.objects.filter(claimable, id=suggestion_id).update(
            status=Status.RUNNING,
            worker=worker,
            claims=F("claims") + 1,
            started_at=now,
            stage=Stage.READING,
            done=0,
            total=0,
            error="",
        )
        if claimed != 1:
            return None
        # The row stays locked (PostgreSQL) until commit: this is our claim.
        return ModelSuggestion.objects.values_list("claims", flat=True).get(
            id=suggestion_id
        )


def suggestion_run(
    *,
    suggestion_id: int,
    worker: str = "",
    now: dt.datetime | None = None,
    listener: Progress = no_progress,
) -> ModelSuggestion | None:
    """Run a queued suggestion (``model_suggest``): claim it with a conditional
    update, store its stage and progress as it goes (conditional on the
    claim), and mark it done with its draft and AUCs in the draft's own
    transaction, only while the claim is still the latest: a duplicate or
    retried delivery that lost the claim rolls its draft back, so at most
    one draft is ever made. A refusal or an unexpected failure is stored on
    the row (the latter raised too); a lost connection is raised as it is,
    for the task's retry, which claims the row back (same ``worker``).
    Nothing happens for a row that is gone, done, failed or running under
    another worker. ``listener`` hears the progress too (the command prints
    it). Answers the row as it ends, or None.
    """
    now = now or timezone.now()
    claim = _claim(suggestion_id, worker, now)
    if claim is None:
        logger.info("suggestion %s not claimed by %r", suggestion_id, worker)
        return None
    suggestion = ModelSuggestion.objects.select_related("requested_by").get(
        id=suggestion_id
    )
    mine = ModelSuggestion.objects.filter(
        id=suggestion_id, status=Status.RUNNING, claims=claim
    )

    def progress(stage: str, done: int, total: int) -> None:
        mine.update(stage=stage, done=done, total=total)
        listener(stage, done, total)

    def finish(result: SuggestionResult) -> None:
        figures = result.as_json()
        finished = mine.update(
            status=Status.DONE,
            in_progress=None,
            stage=Stage.DRAFTING,
            done=figures["rules"],
            total=figures["rules"],
            draft=result.model,
            auc_active=result.auc_active,
            auc_suggested=result.auc_suggested,
            result=figures,
            finished_at=timezone.now(),
        )
        if finished != 1:
            raise _Superseded

    def fail(error: str) -> None:
        mine.update(
            status=Status.FAILED,
            in_progress=None,
            error=error[:500],
            finished_at=timezone.now(),
        )

    try:
        model_suggest(
            outcome=suggestion.outcome,
            until=suggestion.cut_off,
            name=suggestion.name,
            actor=suggestion.requested_by,
            progress=progress,
            finish=finish,
        )
    except _Superseded:
        logger.warning(
            "suggestion %s was claimed again; its draft rolled back", suggestion_id
        )
        return None
    except SuggestionRefused as exc:
        fail(str(exc))
    except TRANSIENT:
        raise
    except Exception:
        logger.exception("suggestion %s failed", suggestion_id)
        fail(
            "The suggestion failed unexpectedly; the logs say why. Nothing was created."
        )
        raise
    return ModelSuggestion.objects.get(id=suggestion_id)
