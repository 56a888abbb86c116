"""Suggested points stored as a draft model (see scoring.suggestion for the fit)."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone

from scoring import selectors
from scoring.exceptions import SuggestionRefused
from scoring.models import ScoringModel
from scoring.services.drafts import _rule_edit_audit, model_update, rule_create
from scoring.suggestion import (
    MATURITY_DAYS,
    SUGGESTED_HALF_LIFE_DAYS,
    auc,
    best_f1_threshold,
    explanation_text,
    f1_at,
    outcome_check,
    scores_evaluate,
    suggestion_fit,
)

logger = logging.getLogger(__name__)

#: The name of a suggested draft when none is given.
DEFAULT_NAME = "Suggested points"


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


def model_suggest(
    *,
    outcome: str,
    until: dt.datetime | None = None,
    name: str = "",
    actor: Any | None = None,
) -> SuggestionResult:
    """Fit points to the outcomes of the leads created before ``until``
    (default: MATURITY_DAYS ago, so that they had time to reach it) and store
    them as a new draft; answer it with its validation figures.

    Refuses (SuggestionRefused, nothing stored) an unknown outcome and a
    window without enough leads of each class; a name longer than a model's
    name. In one transaction: the draft (the next version of
    ``name``), its rules through ``rule_create`` (each validated as a rule a
    person adds), its threshold and explanation through ``model_update``.
    The rules are scored with the engine on the training leads (to choose
    the threshold) and on the test leads (the AUCs) before commit; any
    failure leaves nothing behind. Reads every lead once per pass (three
    passes); a second call makes another draft (the next version).
    """
    outcome = outcome_check(outcome)
    name = (name or DEFAULT_NAME).strip() or DEFAULT_NAME
    if len(name) > ScoringModel._meta.get_field("name").max_length:
        raise SuggestionRefused("Give the draft a name of at most 120 characters.")
    until = until or timezone.now() - dt.timedelta(days=MATURITY_DAYS)
    active_model = selectors.model_active()
    active = selectors.model_spec(active_model) if active_model else None
    suggestion = suggestion_fit(outcome=outcome, until=until, active=active)
    population = suggestion.population
    with transaction.atomic():
        draft = _draft_create(name=name, actor=actor)
        for rule in suggestion.rules:
            rule_create(model=draft, actor=actor, **rule.fields)
        for fields in suggestion.disqualifying:
            rule_create(model=draft, actor=actor, **fields)
        spec = selectors.model_spec(draft)
        train_ids, test_ids = population.train_ids, population.test_ids
        scored = scores_evaluate(
            spec=spec, population=population, lead_ids=population.ids
        )
        train_scores = [scored[i].total for i in train_ids]
        train_outcomes = population.outcomes[: population.train]
        threshold = max(best_f1_threshold(train_scores, train_outcomes), Decimal(0))
        test_outcomes = population.outcomes[population.train :]
        auc_suggested = auc(test_outcomes, [float(scored[i].total) for i in test_ids])
        auc_active = None
        if active is not None:
            current = scores_evaluate(
                spec=active, population=population, lead_ids=test_ids
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
    logger.info(
        "scoring model %s suggested for %s: %s rules, AUC %.3f (active %s)",
        draft.id,
        outcome,
        len(suggestion.rules),
        auc_suggested,
        auc_active,
    )
    return SuggestionResult(
        model=draft,
        outcome=outcome,
        until=until,
        train_leads=population.train,
        test_leads=len(test_ids),
        auc_active=auc_active,
        auc_suggested=auc_suggested,
        rules=len(suggestion.rules),
    )


#: Where the page reads how the last suggestion asked for from it went (the
#: shared cache: the task runs in a worker). One at a time is enough: a
#: suggestion reads every lead, and two at once would only compete.
STATUS_KEY = "scoring:suggestion-status"
#: A suggestion still "running" after this long was lost with its worker.
STATUS_TIMEOUT = 60 * 60


def suggestion_status() -> dict[str, Any] | None:
    """How the last suggestion asked for from the page went: ``state``
    (``running``, ``finished`` or ``refused``), ``outcome``, ``until``,
    ``started_at`` (ISO), and ``result`` (SuggestionResult.as_json) or
    ``detail`` (why it was refused); None before any."""
    return cache.get(STATUS_KEY)


def suggestion_status_set(**status: Any) -> None:
    """Record the state of the page's suggestion (see suggestion_status)."""
    cache.set(STATUS_KEY, status, STATUS_TIMEOUT)


def model_suggest_run(
    *, outcome: str, until: str | None, name: str, actor_id: int | None
) -> dict[str, Any]:
    """model_suggest for the page's background task: records the result or the
    refusal where the page reads it (suggestion_status) and answers it. A
    second run makes a second draft."""
    actor = get_user_model().objects.filter(id=actor_id).first() if actor_id else None
    started = suggestion_status() or {}
    common = {
        "outcome": outcome,
        "until": until,
        "started_at": started.get("started_at"),
    }
    try:
        result = model_suggest(
            outcome=outcome,
            until=dt.datetime.fromisoformat(until) if until else None,
            name=name,
            actor=actor,
        )
    except SuggestionRefused as exc:
        suggestion_status_set(state="refused", detail=str(exc), **common)
        return {"detail": str(exc)}
    except Exception:
        suggestion_status_set(
            state="refused",
            detail="The suggestion failed; the logs say why. Nothing was created.",
            **common,
        )
        raise
    answer = result.as_json()
    suggestion_status_set(state="finished", result=answer, **common)
    return answer
