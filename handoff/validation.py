"""Validation of SLA conditions, in words a sales operations manager understands."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError

# The comparison rules are scoring's (the same operators as fit rules), so an
# SLA condition reads like a fit rule and is checked the same way.
from scoring.validation import _operator as operator_clean
from scoring.validation import _value as value_clean
from scoring.validation import known_attribute

#: Facts an SLA may test besides the lead facts scoring knows.
#: ``last_touchpoint_kind`` (what the lead did last, usually what made it an
#: MQL) lets a hot segment such as demo requests have its own, faster SLA.
SCORE_FACTS = (
    "grade",
    "score",
    "fit_score",
    "engagement_score",
    "last_touchpoint_kind",
)
CONDITIONS_MAX = 20


def sla_attribute_known(path: str) -> bool:
    return path in SCORE_FACTS or known_attribute(path)


def conditions_clean(conditions: Any) -> list[dict[str, Any]]:
    """Return the conditions in the engine's shape or raise ValidationError.

    Each item is ``{"attribute", "operator", "value"}``; every item must hold
    for the SLA to cover a lead. An empty list covers every lead.
    """
    if conditions in (None, ""):
        return []
    if not isinstance(conditions, list):
        raise ValidationError(
            'Conditions must be a list such as [{"attribute": "region", '
            '"operator": "equals", "value": "emea"}].'
        )
    if len(conditions) > CONDITIONS_MAX:
        raise ValidationError(f"Use at most {CONDITIONS_MAX} conditions.")
    cleaned = []
    for number, item in enumerate(conditions, start=1):
        if not isinstance(item, dict):
            raise ValidationError(
                f"Condition {number} must be an object with attribute, operator "
                "and value."
            )
        unknown = set(item) - {"attribute", "operator", "value"}
        if unknown:
            raise ValidationError(
                f"Condition {number} has unknown keys: {', '.join(sorted(unknown))}."
            )
        attribute = item.get("attribute")
        if not isinstance(attribute, str) or not sla_attribute_known(attribute):
            raise ValidationError(
                f"Condition {number}: {attribute!r} is not a lead attribute; use "
                "one such as region, country, seniority, grade, score, "
                "account.employee_count or attributes.<name>."
            )
        try:
            operator = operator_clean(item.get("operator"))
            value = value_clean(operator, item.get("value"))
        except ValidationError as exc:
            raise ValidationError(
                f"Condition {number} ({attribute}): {' '.join(exc.messages)}"
            ) from exc
        cleaned.append({"attribute": attribute, "operator": operator, "value": value})
    return cleaned
