"""The scoring arithmetic: one definition, used by the per-lead and bulk paths.

Pure functions over plain data (no ORM, no Celery), so both execution paths
share it and a property test can compare them.

- A fit rule adds its points when its condition on a lead or account
  attribute holds. A disqualifying rule adds nothing but, while it holds, the
  lead cannot become an MQL ("gated by").
- An engagement or negative rule counts the lead's touchpoints of its kind
  that meet its optional property condition and its look-back window; at most
  ``max_occurrences`` of them (never more than OCCURRENCES_MAX), the most
  recent first. Each counts
  ``points * decay_factor(age_days, half_life)``.
- Decay: a touchpoint ``d`` whole days old (floor) with half-life ``h`` counts
  ``p * 0.5 ** (d / h)``. The factor is rounded to six decimals once, here, and
  all further arithmetic is exact decimal arithmetic, so SQL (numeric) and
  Python agree to the last digit.
- Each rule's points are rounded half-up to 0.01; the fit, engagement and
  total scores are sums of the rounded items, so a breakdown always adds up
  exactly to the score shown.
- ``not_equals`` ("is not") and ``none_of`` ("is none of") hold exactly when
  ``equals`` and ``one_of`` do not, so they also hold for a lead whose value
  is blank or missing: a lead with no country "is not Germany".
- ``matches`` patterns run on RE2 (time linear in the text, never
  backtracking), against the first MATCHED_TEXT_MAX characters of a value.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import cached_property, lru_cache
from operator import attrgetter
from typing import Any, NamedTuple

import re2

logger = logging.getLogger(__name__)

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
#: Most touchpoints an activity rule counts, even one without a cap of its
#: own: it bounds the score a lead can reach, so a model's highest score can
#: be checked against the score columns before it is published
#: (scoring.validation.model_score_range), whatever a lead did.
OCCURRENCES_MAX = 1_000

OPERATORS = (
    "equals",
    "not_equals",
    "one_of",
    "none_of",
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

    @cached_property
    def condition(self) -> Condition:
        """The attribute condition (fit, disqualifying), compiled once per rule."""
        return compile_condition(self.operator, self.value)

    @cached_property
    def property_condition(self) -> Condition:
        """The property condition (engagement, negative), compiled once per rule."""
        return compile_condition(self.property_operator, self.property_value)


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


class Touch(NamedTuple):
    """A touchpoint as the engine sees it. A named tuple: a bulk chunk makes a
    hundred thousand of them, and a frozen dataclass cost four times as much
    to build (a fifth of the chunk's Python time went into building them)."""

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


#: Characters of a value a pattern is matched against: the first ones only.
#: RE2 runs in time linear in the text, but a rule's pattern is run on every
#: lead and every touchpoint of its kind, and a property value (a URL, a form
#: field) has no length limit of its own; this keeps each match cheap
#: whatever a form or an import sent. Longer than any job title (200) and
#: than the URLs people write rules about.
MATCHED_TEXT_MAX = 1_000
#: Bytes of memory RE2 may use for one compiled pattern.
PATTERN_MEMORY = 2 << 20


def pattern_options() -> re2.Options:
    """How rule patterns are compiled: case ignored, errors raised, not logged."""
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False
    # Up to 512 patterns stay compiled (see compile_pattern), each with its
    # own lazily built DFA: a smaller budget than RE2's 8 MB keeps that bounded
    # (past it RE2 falls back to its slower, still linear, NFA).
    options.max_mem = PATTERN_MEMORY
    return options


@lru_cache(maxsize=512)
def compile_pattern(expected: str) -> Any:
    """A rule's pattern compiled by RE2 (linear-time matching, no backtracking).

    Raises ``re2.error`` for a pattern RE2 cannot run (a back-reference, a
    lookaround, a repetition too large ...); scoring.validation refuses those
    when a rule is saved or a model published.
    """
    return re2.compile(expected, pattern_options())


@lru_cache(maxsize=512)
def _pattern(expected: str) -> Any:
    """The compiled pattern, or None when RE2 cannot run it.

    A pattern stored before rules were checked against RE2 matches nothing
    (and says so in the log) rather than fail every rescore of every lead.
    """
    try:
        return compile_pattern(expected)
    except re2.error:
        logger.warning("scoring pattern %r cannot be run; it matches nothing", expected)
        return None


def pattern_matches(expected: str, actual: Any) -> bool:
    """Whether ``expected`` occurs in ``actual`` (its first MATCHED_TEXT_MAX
    characters), case ignored."""
    if actual is None:
        return False
    pattern = _pattern(expected)
    if pattern is None:
        return False
    return pattern.search(str(actual)[:MATCHED_TEXT_MAX]) is not None


def condition_holds(operator: str, actual: Any, expected: Any) -> bool:
    """Compare an attribute or property value with a rule's value.

    Text comparisons ignore case and surrounding spaces; numeric operators
    compare numbers and never hold for a value that is not a number.
    """
    return compile_condition(operator, expected)(actual)


Condition = Callable[[Any], bool]


def compile_condition(operator: str, expected: Any) -> Condition:
    """``condition_holds`` with the rule's side prepared once: a test of ``actual``.

    The rule's value is parsed (number, lower-cased text, pattern) here, not
    for every lead and touchpoint it is tested against. A value that cannot
    be parsed fails (raises) when tested, as ``condition_holds`` always did;
    a pattern RE2 cannot run matches nothing (see ``_pattern``).
    """
    if operator == "is_empty":
        return _is_empty
    if operator == "equals":
        return _equals(expected)
    if operator == "not_equals":
        equals = _equals(expected)
        return lambda actual: not equals(actual)
    if operator in ("one_of", "none_of"):
        options = [
            _equals(option)
            for option in (expected if isinstance(expected, list) else [expected])
        ]
        if operator == "none_of":
            return lambda actual: not any(o(actual) for o in options)
        return lambda actual: actual is not None and any(o(actual) for o in options)
    if operator == "contains":
        needle = _text(expected)
        return lambda actual: actual is not None and needle in _text(actual)
    if operator == "starts_with":
        prefix = _text(expected)
        return lambda actual: actual is not None and _text(actual).startswith(prefix)
    if operator == "matches":
        pattern = str(expected)
        return lambda actual: pattern_matches(pattern, actual)
    if operator in ("at_least", "at_most", "between"):
        return _numeric(operator, expected)

    def unknown(actual: Any) -> bool:
        if actual is None:
            return False
        raise ValueError(f"Unknown operator {operator!r}")

    return unknown


def _is_empty(actual: Any) -> bool:
    return actual is None or actual in ("", [], {}) or _text(actual) == ""


def _equals(expected: Any) -> Condition:
    number, text = _number(expected), _text(expected)

    def equals(actual: Any) -> bool:
        if actual is None:
            return False
        if number is not None:
            value = _number(actual)
            if value is not None:
                return value == number
        return _text(actual) == text

    return equals


def _numeric(operator: str, expected: Any) -> Condition:
    def bounds() -> tuple[Decimal | None, Decimal | None]:
        if operator == "at_least":
            return Decimal(str(expected)), None
        if operator == "at_most":
            return None, Decimal(str(expected))
        low, high = expected
        return Decimal(str(low)), Decimal(str(high))

    try:
        low, high = bounds()
    except (InvalidOperation, TypeError, ValueError):
        # Refuse when tested, not now: a lead whose value is missing or not
        # a number never reaches the comparison (as in condition_holds).
        def broken(actual: Any) -> bool:
            number = _number(actual) if actual is not None else None
            if number is None:
                return False
            bounds()  # raises
            return False

        return broken

    def numeric(actual: Any) -> bool:
        if actual is None:
            return False
        number = _number(actual)
        if number is None:
            return False
        return (low is None or number >= low) and (high is None or number <= high)

    return numeric


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


_DAY = dt.timedelta(days=1)
#: Newest first: the order in which an activity rule counts touches.
_TOUCH_ORDER = attrgetter("occurred_at", "id")


def age_in_days(occurred_at: dt.datetime, now: dt.datetime) -> int:
    """Whole days between a touch and ``now`` (0 for a touch in the future)."""
    return max(0, (now - occurred_at) // _DAY)


def touch_matches(rule: Rule, touch: Touch, now: dt.datetime) -> bool:
    if touch.kind != rule.touchpoint_kind:
        return False
    if rule.lookback_days is not None and (
        age_in_days(touch.occurred_at, now) > rule.lookback_days
    ):
        return False
    if rule.property_name:
        return rule.property_condition(
            attribute_value(touch.properties, rule.property_name)
        )
    return True


def rule_activity(
    rule: Rule, touches: Iterable[Touch], now: dt.datetime
) -> RuleActivity:
    """The touches an activity rule counts: matching, newest first, capped.

    The tests of ``touch_matches``, one after the other over the whole list
    (a bulk chunk calls this for every lead and rule).
    """
    kind = rule.touchpoint_kind
    matched = [t for t in touches if t.kind == kind]
    if rule.lookback_days is not None and matched:
        lookback = rule.lookback_days
        matched = [t for t in matched if age_in_days(t.occurred_at, now) <= lookback]
    if rule.property_name and matched:
        condition, name = rule.property_condition, rule.property_name
        matched = [t for t in matched if condition(attribute_value(t.properties, name))]
    matched.sort(key=_TOUCH_ORDER, reverse=True)
    del matched[occurrences_cap(rule) :]
    return RuleActivity(
        ages=tuple(age_in_days(t.occurred_at, now) for t in matched),
        touch_ids=tuple(t.id for t in matched),
    )


def occurrences_cap(rule: Rule) -> int:
    """How many touchpoints ``rule`` counts at most."""
    if rule.max_occurrences is None:
        return OCCURRENCES_MAX
    return min(rule.max_occurrences, OCCURRENCES_MAX)


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
            if not rule.condition(actual):
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
    """Count each activity rule over the lead's touches, then score.

    Each rule is shown only the touches of its kind (the first thing it
    tests), so a lead's touches are not matched against every rule.
    """
    by_kind: dict[str, list[Touch]] = defaultdict(list)
    for touch in touches:
        by_kind[touch.kind].append(touch)
    activities = {
        rule.id: rule_activity(rule, by_kind[rule.touchpoint_kind], now)
        for rule in model.rules
        if rule.kind in ACTIVITY_KINDS and rule.touchpoint_kind in by_kind
    }
    return evaluate(model, facts, activities)


def _display(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)
