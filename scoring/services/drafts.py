"""Editing models: cloning one into a draft, a draft's rules and settings.

Only a draft changes; an active or archived model stays as it was scored and
is changed by cloning it. Each change writes one ``rule_edit`` audit row.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from leads.audit import audit_record
from leads.models import AuditEvent
from scoring import selectors
from scoring.exceptions import ModelNotEditable
from scoring.models import ScoringModel, ScoringRule
from scoring.validation import (
    MODEL_INPUT_FIELDS,
    RULE_INPUT_FIELDS,
    model_settings_clean,
    rule_clean,
    score_range_problem,
)

#: Rule fields copied when a model is cloned.
RULE_FIELDS = ("position", *RULE_INPUT_FIELDS)
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
