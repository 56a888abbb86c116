"""A scoring rule's condition as a sentence people read.

``rule_sentence`` words what a rule tests, for the score breakdowns (the lead
page, the SAL queue, a handoff's page) and the model page's rule list:
``job_title matches (marketing|growth)`` reads "job title contains marketing
or growth", ``country not_equals DE`` "country is not Germany",
``account.employee_count between [50, 500]`` "account employee count is
between 50 and 500", an engagement rule "each webinar attended (up
to 3)". Pure: it reads the rule's fields (a ``ScoringRule``, an engine
``Rule`` or anything with the same attributes) and the label of its
touchpoint kind, which the caller looks up.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from leads.attribute_labels import attribute_label
from leads.geo import Region, country_names
from leads.models import Industry
from leads.titles import Department, Seniority
from scoring.engine import ACTIVITY_KINDS

#: What the sentence calls a fact a rule tests, where its name is not plain
#: enough once the underscores are gone.
SUBJECTS = {
    "email": "e-mail address",
    "email_domain": "e-mail domain",
    "country": "country",
    "source": "lead source",
    "utm_source": "UTM source",
    "utm_medium": "UTM medium",
    "utm_campaign": "UTM campaign",
    "do_not_email": "do not e-mail",
    "account.name": "account name",
    "account.domain": "account domain",
    "account.annual_revenue": "account annual revenue (USD)",
    "account.score": "account engagement score",
}
#: Facts stored as codes: their values read as the codes' labels.
VALUE_LABELS: dict[str, dict[str, str]] = {
    "seniority": {code: str(label) for code, label in Seniority.choices},
    "department": {code: str(label) for code, label in Department.choices},
    "region": {code: str(label) for code, label in Region.choices},
    "country": country_names(),
    "account.industry": {code: str(label) for code, label in Industry.choices},
}
#: The operators that compare with one value, and their words.
_VERBS = {
    "equals": "is",
    "not_equals": "is not",
    "contains": "contains",
    "starts_with": "starts with",
    "at_least": "is at least",
    "at_most": "is at most",
}
# A pattern that only lists words ("marketing|growth", "(?i)^(vp|head of)")
# reads as "contains marketing or growth"; anything else is shown as a pattern.
# Word boundaries (\b) around the list change nothing a person would notice.
_WORD_ALTERNATION = re.compile(
    r"^(?:\(\?i\))?(?:\\b)?\(?(?:\?:)?([\w ]+(?:\|[\w ]+)*)\)?(?:\\b)?$"
)


def rule_sentence(
    rule: Any, *, touchpoint_label: str = "", with_limits: bool = True
) -> str:
    """What ``rule`` tests, as a sentence starting in lower case.

    Fit and disqualifying rules: "<subject> <comparison>". Engagement and
    negative rules: "each <touchpoint kind>[ where <property comparison>]
    [ in the last N days][ (up to N)]"; ``touchpoint_label`` names the kind
    (its code is used when it is empty). ``with_limits=False`` leaves the
    look-back window and the cap out, for a page that shows them apart.
    """
    if rule.kind in ACTIVITY_KINDS:
        kind = touchpoint_label or str(rule.touchpoint_kind).replace("_", " ")
        # A rule that counts one touchpoint is worded for one: "a demo request".
        once = with_limits and rule.max_occurrences == 1
        text = f"{'a' if once else 'each'} {_lower_first(kind)}"
        if rule.property_name:
            condition = condition_sentence(
                str(rule.property_name).replace("_", " "),
                rule.property_operator,
                rule.property_value,
            )
            text = f"{text} where {condition}"
        if not with_limits:
            return text
        if rule.lookback_days:
            days = rule.lookback_days
            text += f" in the last {days:,} day{'s' if days != 1 else ''}"
        if rule.max_occurrences and not once:
            text += f" (up to {rule.max_occurrences:,})"
        return text
    return condition_sentence(
        subject_of(rule.attribute),
        rule.operator,
        rule.value,
        labels=VALUE_LABELS.get(rule.attribute),
    )


def subject_of(path: str) -> str:
    """What a fact path is called in a sentence: ``account.employee_count`` is
    "account employee count", ``attributes.hs_lead_status`` "lead status"."""
    if path in SUBJECTS:
        return SUBJECTS[path]
    if path.startswith("attributes."):
        return _lower_first(attribute_label(path.removeprefix("attributes.")).label)
    return path.replace(".", " ").replace("_", " ")


def condition_sentence(
    subject: str,
    operator: str,
    value: Any,
    *,
    labels: dict[str, str] | None = None,
) -> str:
    """``subject`` compared with ``value`` by one of the engine's operators.

    ``labels`` maps stored codes to what people call them (seniority "vp" is
    "Vice president"). An operator the engine does not know is shown as it
    is, so a sentence never hides a condition.
    """
    labels = labels or {}

    def show(item: Any) -> str:
        return value_text(item, labels)

    if operator == "is_empty":
        return f"{subject} is empty"
    if operator in _VERBS and not isinstance(value, list | dict):
        return f"{subject} {_VERBS[operator]} {show(value)}"
    if operator == "one_of":
        options = value if isinstance(value, list) else [value]
        if len(options) == 1:
            return f"{subject} is {show(options[0])}"
        return f"{subject} is one of {_listed([show(o) for o in options], 'or')}"
    if operator == "none_of":
        options = value if isinstance(value, list) else [value]
        if len(options) == 1:
            return f"{subject} is not {show(options[0])}"
        return f"{subject} is none of {_listed([show(o) for o in options], 'or')}"
    if operator == "matches":
        words = _alternatives(str(value))
        if words:
            return f"{subject} contains {_listed(words, 'or')}"
        return f"{subject} matches the pattern {value}"
    if operator == "between" and isinstance(value, list) and len(value) == 2:
        return f"{subject} is between {show(value[0])} and {show(value[1])}"
    return f"{subject} {str(operator).replace('_', ' ')} {show(value)}".rstrip()


def value_text(value: Any, labels: dict[str, str] | None = None) -> str:
    """A rule's or a lead's value as people write it: numbers unquoted and
    without trailing zeros ("447", "2.5", "5,000"), yes or no, codes as
    labels."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return _listed([value_text(v, labels) for v in value], "and")
    if labels and str(value) in labels:
        return labels[str(value)]
    if isinstance(value, int | float | Decimal) or _numeric(value):
        return _number(value)
    return str(value)


def _numeric(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        return Decimal(value.strip()).is_finite()
    except InvalidOperation:
        return False


def _number(value: Any) -> str:
    number = Decimal(str(value).strip())
    if number == number.to_integral_value():
        return f"{int(number):,}"
    return format(number.normalize(), ",f")


def _alternatives(pattern: str) -> list[str]:
    match = _WORD_ALTERNATION.match(pattern.strip())
    if not match:
        return []
    words = [w.strip() for w in match.group(1).split("|")]
    return words if all(words) else []


def _listed(items: list[str], last: str) -> str:
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {last} {items[-1]}"


def _lower_first(text: str) -> str:
    # "Webinar attended" -> "webinar attended", but "UTM source" stays.
    if len(text) > 1 and text[1].isupper():
        return text
    return text[:1].lower() + text[1:]


def breakdown_reasons(
    breakdown: Any, sentences: dict[int, str], *, largest_first: bool = True
) -> list[dict[str, Any]]:
    """A stored score breakdown's items, largest points first (or in their
    stored order with ``largest_first=False``), each with
    ``sentence`` (what its rule tests) and ``points`` as a Decimal.

    ``sentences`` maps rule ids to ``rule_sentence``; an item whose rule is
    gone reads from what the item itself stored (the attribute and the lead's
    value). Items that are not objects are skipped; ties keep the stored
    order (fit rules before engagement).
    """
    items = []
    for item in breakdown or []:
        if not isinstance(item, dict):
            continue
        sentence = sentences.get(item.get("rule"))  # type: ignore[arg-type]
        if sentence is None and item.get("attribute"):
            attribute = str(item["attribute"])
            sentence = condition_sentence(
                subject_of(attribute),
                "equals",
                item.get("value"),
                labels=VALUE_LABELS.get(attribute),
            )
        items.append(
            {
                **item,
                "points": _points(item.get("points")),
                "sentence": sentence or "",
            }
        )
    if largest_first:
        items.sort(key=lambda i: i["points"], reverse=True)
    return items


def _points(value: Any) -> Decimal:
    try:
        number = Decimal(str(value if value is not None else 0))
    except InvalidOperation:
        return Decimal(0)
    return number if number.is_finite() else Decimal(0)
