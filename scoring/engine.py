"""The scoring arithmetic: one definition, used by the per-lead and bulk paths.

Pure functions over plain data (no ORM, no Celery), so both execution paths
share it and a property test can compare them.

- A fit rule adds its points when its condition on a lead or account
  attribute holds. A disqualifying rule adds nothing but, while it holds, the
  lead cannot become an MQL ("gated by").
- An engagement or negative rule counts the lead's touchpoints of its kind
  that meet its optional property condition and its look-back window; at most
  ``max_occurrences`` of them, the most recent first. Each counts
  ``points * decay_factor(age_days, half_life)``.
- Decay: a touchpoint ``d`` whole days old (floor) with half-life ``h`` counts
  ``p * 0.5 ** (d / h)``. The factor is rounded to six decimals once, here, and
  all further arithmetic is exact decimal arithmetic, so SQL (numeric) and
  Python agree to the last digit.
- Each rule's points are rounded half-up to 0.01; the fit, engagement and
  total scores are sums of the rounded items, so a breakdown always adds up
  exactly to the score shown.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

FIT = "fit"
ENGAGEMENT = "engagement"
NEGATIVE = "negative"
DISQUALIFYING = "disqualifying"
ACTIVITY_KINDS = frozenset({ENGAGEMENT, NEGATIVE})
CONDITION_KINDS = frozenset({FIT, DISQUALIFYING})

CENT = Decimal("0.01")
FACTOR_PLACES = Decimal("0.000001")
#: Touchpoint ids kept per breakdown item ("which touchpoints made it fire").
EVIDENCE_LIMIT = 10

OPERATORS = (
    "equals",
    "one_of",
    "contains",
    "starts_with",
    "matches",
    "at_least",
    "at_most",
    "between",
    "is_empty",
)


@dataclass(frozen=True)
class Rule:
    id: int
    kind: str
    label: str
    points: Decimal
    attribute: str = ""
    operator: str = ""
    value: Any = None
    touchpoint_kind: str = ""
    property_name: str = ""
    property_operator: str = ""
    property_value: Any = None
    max_occurrences: int | None = None
    lookback_days: int | None = None
    half_life_days: int | None = None


@dataclass(frozen=True)
class ModelSpec:
    id: int
    mql_threshold: Decimal
    min_fit_score: Decimal | None
    default_half_life_days: int
    grade_a_min: Decimal
    grade_b_min: Decimal
    grade_c_min: Decimal
    rules: tuple[Rule, ...]

    def half_life(self, rule: Rule) -> int:
        return rule.half_life_days or self.default_half_life_days


@dataclass(frozen=True)
class Touch:
    """A touchpoint as the engine sees it."""

    id: int
    kind: str
    occurred_at: dt.datetime
    properties: Mapping[str, Any]


@dataclass(frozen=True)
class RuleActivity:
    """What one activity rule counted for one lead: (age in days, id) per touch,
    youngest first, already filtered by kind, property condition, look-back
    window and cap. The bulk path builds these from SQL."""

    ages: tuple[int, ...]
    touch_ids: tuple[int, ...]


@dataclass
class ScoreResult:
    total: Decimal
    fit_score: Decimal
    engagement_score: Decimal
    grade: str
    items: list[dict[str, Any]] = field(default_factory=list)
    gated_by: list[dict[str, Any]] = field(default_factory=list)
    qualifies: bool = False


# Conditions
# ------------------------------------------------------------------------------


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip().lower()


@lru_cache(maxsize=512)
def _pattern(expected: str) -> re.Pattern[str]:
    return re.compile(expected, re.IGNORECASE)


def condition_holds(operator: str, actual: Any, expected: Any) -> bool:
    """Compare an attribute or property value with a rule's value.

    Text comparisons ignore case and surrounding spaces; numeric operators
    compare numbers and never hold for a value that is not a number.
    """
    if operator == "is_empty":
        return actual is None or actual in ("", [], {}) or _text(actual) == ""
    if actual is None:
        return False
    if operator == "equals":
        a, e = _number(actual), _number(expected)
        if a is not None and e is not None:
            return a == e
        return _text(actual) == _text(expected)
    if operator == "one_of":
        options = expected if isinstance(expected, list) else [expected]
        return any(condition_holds("equals", actual, option) for option in options)
    if operator == "contains":
        return _text(expected) in _text(actual)
    if operator == "starts_with":
        return _text(actual).startswith(_text(expected))
    if operator == "matches":
        return _pattern(str(expected)).search(str(actual)) is not None
    number = _number(actual)
    if number is None:
        return False
    if operator == "at_least":
        return number >= Decimal(str(expected))
    if operator == "at_most":
        return number <= Decimal(str(expected))
    if operator == "between":
        low, high = expected
        return Decimal(str(low)) <= number <= Decimal(str(high))
    raise ValueError(f"Unknown operator {operator!r}")


def attribute_value(facts: Mapping[str, Any], path: str) -> Any:
    """Look up ``path`` in lead facts: a plain key, or ``attributes.x`` etc."""
    if path in facts:
        return facts[path]
    head, _, rest = path.partition(".")
    value: Any = facts.get(head)
    for part in rest.split(".") if rest else []:
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value if rest else None


# Decay and activity
# ------------------------------------------------------------------------------


@lru_cache(maxsize=65536)
def decay_factor(age_days: int, half_life_days: int) -> Decimal:
    """0.5 ** (age / half-life), rounded half-up to six decimals."""
    return Decimal(repr(0.5 ** (age_days / half_life_days))).quantize(
        FACTOR_PLACES, rounding=ROUND_HALF_UP
    )


def age_in_days(occurred_at: dt.datetime, now: dt.datetime) -> int:
    """Whole days between a touch and ``now`` (0 for a touch in the future)."""
    return max(0, (now - occurred_at) // dt.timedelta(days=1))


def touch_matches(rule: Rule, touch: Touch, now: dt.datetime) -> bool:
    if touch.kind != rule.touchpoint_kind:
        return False
    if rule.lookback_days is not None and (
        age_in_days(touch.occurred_at, now) > rule.lookback_days
    ):
        return False
    if rule.property_name:
        actual = attribute_value(touch.properties, rule.property_name)
        return condition_holds(rule.property_operator, actual, rule.property_value)
    return True


def rule_activity(
    rule: Rule, touches: Iterable[Touch], now: dt.datetime
) -> RuleActivity:
    """The touches an activity rule counts: matching, newest first, capped."""
    matched = sorted(
        (t for t in touches if touch_matches(rule, t, now)),
        key=lambda t: (t.occurred_at, t.id),
        reverse=True,
    )
    if rule.max_occurrences is not None:
        matched = matched[: rule.max_occurrences]
    return RuleActivity(
        ages=tuple(age_in_days(t.occurred_at, now) for t in matched),
        touch_ids=tuple(t.id for t in matched),
    )


def activity_points(rule: Rule, activity: RuleActivity, half_life: int) -> Decimal:
    """Exact sum of decayed points, rounded half-up to cents."""
    total = sum(
        (rule.points * decay_factor(age, half_life) for age in activity.ages),
        Decimal(0),
    )
    return total.quantize(CENT, rounding=ROUND_HALF_UP)


# The score
# ------------------------------------------------------------------------------


def grade_for(model: ModelSpec, fit_score: Decimal) -> str:
    if fit_score >= model.grade_a_min:
        return "A"
    if fit_score >= model.grade_b_min:
        return "B"
    if fit_score >= model.grade_c_min:
        return "C"
    return "D"


def evaluate(
    model: ModelSpec,
    facts: Mapping[str, Any],
    activities: Mapping[int, RuleActivity],
) -> ScoreResult:
    """Score one lead from its facts and the activity each rule counted.

    ``activities`` maps an activity rule's id to what it counted (absent
    means nothing). Returns the score, its breakdown and whether the lead
    qualifies as an MQL under the model's threshold and fit minimum.
    """
    items: list[dict[str, Any]] = []
    gated: list[dict[str, Any]] = []
    fit = Decimal(0)
    engagement = Decimal(0)
    for rule in model.rules:
        if rule.kind in CONDITION_KINDS:
            actual = attribute_value(facts, rule.attribute)
            if not condition_holds(rule.operator, actual, rule.value):
                continue
            if rule.kind == DISQUALIFYING:
                gated.append(
                    {
                        "rule": rule.id,
                        "label": rule.label,
                        "attribute": rule.attribute,
                        "value": _display(actual),
                    }
                )
                continue
            points = rule.points.quantize(CENT, rounding=ROUND_HALF_UP)
            fit += points
            items.append(
                {
                    "rule": rule.id,
                    "label": rule.label,
                    "kind": rule.kind,
                    "points": str(points),
                    "occurrences": 1,
                    "attribute": rule.attribute,
                    "value": _display(actual),
                    "touchpoints": [],
                }
            )
            continue
        activity = activities.get(rule.id)
        if not activity or not activity.ages:
            continue
        points = activity_points(rule, activity, model.half_life(rule))
        engagement += points
        items.append(
            {
                "rule": rule.id,
                "label": rule.label,
                "kind": rule.kind,
                "points": str(points),
                "occurrences": len(activity.ages),
                "attribute": "",
                "value": None,
                "touchpoints": list(activity.touch_ids[:EVIDENCE_LIMIT]),
            }
        )
    total = fit + engagement
    qualifies = (
        not gated
        and total >= model.mql_threshold
        and (model.min_fit_score is None or fit >= model.min_fit_score)
    )
    return ScoreResult(
        total=total,
        fit_score=fit,
        engagement_score=engagement,
        grade=grade_for(model, fit),
        items=items,
        gated_by=gated,
        qualifies=qualifies,
    )


def evaluate_touches(
    model: ModelSpec,
    facts: Mapping[str, Any],
    touches: Sequence[Touch],
    now: dt.datetime,
) -> ScoreResult:
    """The per-lead path: count each activity rule over the touches, then score."""
    activities = {
        rule.id: rule_activity(rule, touches, now)
        for rule in model.rules
        if rule.kind in ACTIVITY_KINDS
    }
    return evaluate(model, facts, activities)


def _display(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)
