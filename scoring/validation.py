"""What makes a scoring rule or a model's settings valid, in words a marketer reads.

Pure functions over plain values (the known touchpoint kinds are passed in),
called by ``scoring.services`` before anything is stored. Each returns the
fields normalised for storage, or raises ``ValidationError`` keyed by field
name, so a form shows every message next to its field.

A rule keeps only the fields its kind uses: a fit rule drops any touchpoint
fields a form sent along (they were hidden on the page), an engagement rule
drops its attribute condition, and a disqualifying rule stores 0 points.
"""

from __future__ import annotations

import sys
from collections.abc import Collection, Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import re2
from django.core.exceptions import ValidationError

from crm.common.text import text_problem
from scoring.engine import (
    ACTIVITY_KINDS,
    CENT,
    CONDITION_KINDS,
    DISQUALIFYING,
    ENGAGEMENT,
    FIT,
    NEGATIVE,
    OCCURRENCES_MAX,
    OPERATORS,
    compile_pattern,
)
from scoring.selectors import ACCOUNT_FACT_FIELDS, LEAD_FACT_FIELDS

#: The fields a caller may give a rule (position is set by create and reorder).
RULE_INPUT_FIELDS = (
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
#: The settings of a model a draft may change.
MODEL_INPUT_FIELDS = (
    "mql_threshold",
    "min_fit_score",
    "default_half_life_days",
    "grade_a_min",
    "grade_b_min",
    "grade_c_min",
    "notes",
)
KINDS = (FIT, ENGAGEMENT, NEGATIVE, DISQUALIFYING)
NUMERIC_OPERATORS = frozenset({"at_least", "at_most"})
TEXT_OPERATORS = frozenset({"equals", "not_equals", "contains", "starts_with"})
# Column limits of ScoringRule and ScoringModel (a longer value would be refused
# by PostgreSQL with a server error instead of a message).
LABEL_MAX = 200
ATTRIBUTE_MAX = 100
VALUE_TEXT_MAX = 500
ONE_OF_MAX = 200
#: Longest pattern a rule may hold: RE2's compiled program (and its memory)
#: grows with the pattern, and a pattern that long is unreadable anyway.
PATTERN_MAX = 200
NOTES_MAX = 10_000
# DecimalField(max_digits=9, decimal_places=2) and PositiveIntegerField bounds.
POINTS_LIMIT = Decimal("9999999.99")
INTEGER_MAX = 2_147_483_647
#: Most points one rule gives or takes (per touchpoint for activity rules):
#: far above any sensible weighting, far below what the score columns hold.
RULE_POINTS_MAX = Decimal(1000)
#: The largest score (total, fit or engagement) the score columns hold
#: (LeadScore, LeadScoreHistory and Lead: max_digits=9, decimal_places=2). A
#: model that could give a lead more (or less than its negative) is refused
#: when a rule is saved and again when it is published: its rescore would
#: fail on the first such lead.
SCORE_MAX = POINTS_LIMIT

NO_VALUE = (None, "", [])


def known_attribute(path: str) -> bool:
    """Whether a fit or disqualifying rule may test ``path`` (see lead facts)."""
    if path in LEAD_FACT_FIELDS or path == "email_domain":
        return True
    head, dot, rest = path.partition(".")
    if not dot:
        return False
    if head == "account":
        return rest in (*ACCOUNT_FACT_FIELDS, "score")
    if head == "attributes":
        return bool(rest.strip()) and rest == rest.strip()
    return False


def rule_clean(
    fields: Mapping[str, Any], *, touchpoint_kinds: Collection[str]
) -> dict[str, Any]:
    """Every field of a rule (RULE_INPUT_FIELDS), checked and normalised.

    Raises ValidationError with a message per bad field. Fields the rule's
    kind does not use are cleared.
    """
    errors: dict[str, list[str]] = {}
    kind = fields.get("kind")
    if kind not in KINDS:
        raise ValidationError(
            {"kind": "Choose fit, engagement, negative or disqualifying."}
        )
    cleaned: dict[str, Any] = {
        "kind": kind,
        "label": "",
        "points": Decimal(0),
        "attribute": "",
        "operator": "",
        "value": None,
        "touchpoint_kind": "",
        "property_name": "",
        "property_operator": "",
        "property_value": None,
        "max_occurrences": None,
        "lookback_days": None,
        "half_life_days": None,
    }
    _check(errors, cleaned, "label", lambda: _label(fields.get("label")))
    if kind != DISQUALIFYING:
        _check(errors, cleaned, "points", lambda: _points(kind, fields.get("points")))
    if kind in CONDITION_KINDS:
        _condition(errors, cleaned, fields)
    if kind in ACTIVITY_KINDS:
        _activity(errors, cleaned, fields, touchpoint_kinds)
    if errors:
        raise ValidationError(errors)
    return cleaned


def model_score_range(rules: Iterable[Mapping[str, Any]]) -> tuple[Decimal, Decimal]:
    """The lowest and highest total a lead can get from these rules.

    ``rules`` are mappings (or cleaned rule fields) with ``kind``, ``points``
    and ``max_occurrences``. A fit rule adds its points at most once; an
    activity rule its points per touchpoint it counts (decay only makes them
    smaller), at most its cap (scoring.engine.occurrences_cap). Fit and
    engagement scores lie in the same range, since each can be 0.
    """
    low = high = Decimal(0)
    for rule in rules:
        if rule["kind"] == FIT:
            times = 1
        elif rule["kind"] in ACTIVITY_KINDS:
            cap = rule.get("max_occurrences")
            times = OCCURRENCES_MAX if cap is None else min(cap, OCCURRENCES_MAX)
        else:
            continue
        points = Decimal(rule["points"]) * times
        if points > 0:
            high += points
        else:
            low += points
    return low, high


def score_range_problem(rules: Iterable[Mapping[str, Any]]) -> str | None:
    """Why a model with these rules could give a score the columns cannot hold
    (see SCORE_MAX), or None."""
    low, high = model_score_range(rules)
    if high > SCORE_MAX:
        return (
            f"With these rules a lead could reach a score of {high:,}, more than "
            f"the {SCORE_MAX:,} a score can hold; give fewer points or count fewer "
            "touchpoints."
        )
    if low < -SCORE_MAX:
        return (
            f"With these rules a lead's score could fall to {low:,}, below the "
            f"-{SCORE_MAX:,} a score can hold; take fewer points away or count "
            "fewer touchpoints."
        )
    return None


def model_settings_clean(fields: Mapping[str, Any]) -> dict[str, Any]:
    """A model's settings (MODEL_INPUT_FIELDS), checked and normalised."""
    errors: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}

    def threshold() -> Decimal:
        value = _decimal(fields.get("mql_threshold"), "Enter the MQL threshold.")
        if value < 0:
            raise ValidationError("The MQL threshold cannot be negative.")
        return value

    def fit_minimum() -> Decimal | None:
        value = fields.get("min_fit_score")
        return None if value in NO_VALUE else _decimal(value, "")

    _check(errors, cleaned, "mql_threshold", threshold)
    _check(errors, cleaned, "min_fit_score", fit_minimum)
    _check(
        errors,
        cleaned,
        "default_half_life_days",
        lambda: _whole_number(fields.get("default_half_life_days"), required=True),
    )
    for band in ("grade_a_min", "grade_b_min", "grade_c_min"):
        _check(
            errors,
            cleaned,
            band,
            lambda band=band: _decimal(fields.get(band), "Enter a fit score."),
        )
    bands = [cleaned.get(f"grade_{g}_min") for g in "abc"]
    if bands[0] is not None and bands[1] is not None and bands[1] >= bands[0]:
        errors.setdefault("grade_b_min", []).append(
            f"Grade B must start below grade A ({_plain(bands[0])})."
        )
    if bands[1] is not None and bands[2] is not None and bands[2] >= bands[1]:
        errors.setdefault("grade_c_min", []).append(
            f"Grade C must start below grade B ({_plain(bands[1])})."
        )
    _check(errors, cleaned, "notes", lambda: _notes(fields.get("notes")))
    if errors:
        raise ValidationError(errors)
    return cleaned


# Parts of a rule
# ------------------------------------------------------------------------------


def _check(
    errors: dict[str, list[str]],
    cleaned: dict[str, Any],
    name: str,
    clean: Any,
) -> None:
    try:
        cleaned[name] = clean()
    except ValidationError as exc:
        errors.setdefault(name, []).extend(exc.messages)


def _label(value: Any) -> str:
    label = _text(value, max_length=LABEL_MAX, what="label")
    if not label:
        raise ValidationError(
            "Give the rule a label; people see it in every score breakdown."
        )
    return label


def _points(kind: str, value: Any) -> Decimal:
    points = _decimal(value, "Enter the points this rule gives.")
    if kind == ENGAGEMENT and points <= 0:
        raise ValidationError("An engagement rule adds points: enter a number above 0.")
    if kind == NEGATIVE and points >= 0:
        raise ValidationError(
            "A negative rule takes points away: enter a number below 0, such as -10."
        )
    if abs(points) > RULE_POINTS_MAX:
        raise ValidationError(
            f"Enter points between -{RULE_POINTS_MAX:,} and {RULE_POINTS_MAX:,}."
        )
    return points


def _condition(
    errors: dict[str, list[str]], cleaned: dict[str, Any], fields: Mapping[str, Any]
) -> None:
    def attribute() -> str:
        path = _text(fields.get("attribute"), max_length=ATTRIBUTE_MAX, what="name")
        if not path:
            raise ValidationError("Choose the attribute this rule tests.")
        if not known_attribute(path):
            raise ValidationError(
                f"“{path}” is not something a rule can test. Use a lead field "
                "(such as seniority or country), email_domain, an account field "
                "(such as account.industry) or attributes.<name>."
            )
        return path

    _check(errors, cleaned, "attribute", attribute)
    _check(errors, cleaned, "operator", lambda: _operator(fields.get("operator")))
    if "operator" not in errors:
        _check(
            errors,
            cleaned,
            "value",
            lambda: _value(cleaned["operator"], fields.get("value")),
        )


def _activity(
    errors: dict[str, list[str]],
    cleaned: dict[str, Any],
    fields: Mapping[str, Any],
    touchpoint_kinds: Collection[str],
) -> None:
    def touchpoint_kind() -> str:
        code = _text(fields.get("touchpoint_kind"), max_length=40, what="kind")
        if not code:
            raise ValidationError("Choose the touchpoint kind this rule counts.")
        if code not in touchpoint_kinds:
            raise ValidationError(
                f"“{code}” is not a touchpoint kind; choose one from the list."
            )
        return code

    _check(errors, cleaned, "touchpoint_kind", touchpoint_kind)
    name = fields.get("property_name")
    operator = fields.get("property_operator")
    value = fields.get("property_value")
    # A property condition is all or nothing: a half-filled one is a mistake,
    # not "no condition".
    if name not in NO_VALUE or operator not in NO_VALUE or value not in NO_VALUE:

        def property_name() -> str:
            text = _text(name, max_length=ATTRIBUTE_MAX, what="name")
            if not text:
                raise ValidationError(
                    "Name the property to test (such as url), or leave the whole "
                    "property condition empty."
                )
            # The bulk path reads top-level keys of the properties document
            # only, so a dotted name would score differently on each path.
            if "." in text:
                raise ValidationError(
                    "Use a top-level property name such as url; names with dots "
                    "(nested properties) are not supported."
                )
            return text

        _check(errors, cleaned, "property_name", property_name)
        _check(
            errors,
            cleaned,
            "property_operator",
            lambda: _operator(operator, what="the property"),
        )
        if "property_operator" not in errors:
            _check(
                errors,
                cleaned,
                "property_value",
                lambda: _value(cleaned["property_operator"], value),
            )
    for name in ("max_occurrences", "lookback_days", "half_life_days"):
        _check(errors, cleaned, name, lambda name=name: _whole_number(fields.get(name)))
    count = cleaned.get("max_occurrences")
    if count is not None and count > OCCURRENCES_MAX:
        cleaned.pop("max_occurrences")
        errors.setdefault("max_occurrences", []).append(
            f"Count at most {OCCURRENCES_MAX:,} touchpoints, or leave it empty "
            f"(the most recent {OCCURRENCES_MAX:,})."
        )


def _operator(value: Any, *, what: str = "the attribute") -> str:
    if value in NO_VALUE:
        raise ValidationError(f"Choose how to compare {what}.")
    if value not in OPERATORS:
        raise ValidationError(
            f"“{value}” is not a comparison; choose one from the list."
        )
    return value


def _value(operator: str, value: Any) -> Any:
    """The comparison value in the shape the engine expects for ``operator``."""
    if operator == "is_empty":
        return None
    if operator in ("one_of", "none_of"):
        options = _items(value)
        if not options:
            raise ValidationError("Enter at least one option, separated by commas.")
        if len(options) > ONE_OF_MAX:
            raise ValidationError(f"Enter at most {ONE_OF_MAX} options.")
        return [_scalar(option) for option in options]
    if operator == "between":
        bounds = _items(value)
        numbers = [_json_number(b) for b in bounds]
        if len(bounds) != 2 or None in numbers:
            raise ValidationError(
                "Enter two numbers separated by a comma, lower first "
                "(such as 200, 5000)."
            )
        low, high = numbers
        if Decimal(str(low)) > Decimal(str(high)):
            raise ValidationError(
                f"The lower number comes first: {_plain(high)}, {_plain(low)}."
            )
        return [low, high]
    if operator in NUMERIC_OPERATORS:
        number = _json_number(value)
        if number is None:
            raise ValidationError("Enter a number, such as 500.")
        return number
    if value in NO_VALUE:
        raise ValidationError("Enter the value to compare with.")
    if isinstance(value, list | dict):
        if operator == "not_equals":
            raise ValidationError(
                "Enter one value, not a list; to leave out several values, "
                "choose “is none of”."
            )
        raise ValidationError("Enter one value, not a list.")
    if operator == "matches":
        pattern = _text(value, max_length=PATTERN_MAX, what="pattern")
        problem = pattern_problem(pattern)
        if problem:
            raise ValidationError(problem)
        return pattern
    scalar = _scalar(value)
    if scalar == "":
        raise ValidationError("Enter the value to compare with.")
    return scalar


def pattern_problem(pattern: str) -> str | None:
    """Why the rule engine (RE2, linear-time) cannot run ``pattern``, or None.

    RE2 never backtracks, so it has no back-references and no lookarounds
    (the constructs that make other engines take exponential time); a
    pattern using them is refused with a message saying which part to change.
    """
    try:
        compile_pattern(pattern)
    except re2.error as exc:
        detail = exc.args[0] if exc.args else ""
        if isinstance(detail, bytes):
            detail = detail.decode("utf-8", "replace")
        return _pattern_message(pattern, str(detail))
    return None


_LOOKAROUNDS = ("(?=", "(?!", "(?<=", "(?<!")


def _pattern_message(pattern: str, detail: str) -> str:
    escape = detail.removeprefix("invalid escape sequence: ")
    if escape != detail and (escape[1:2].isdigit() or escape in ("\\k", "\\g")):
        token = escape
    elif "(?P=" in pattern and "(?P" in detail:
        token = "“(?P=name)”"
    else:
        token = ""
    if token:
        return (
            f"This pattern uses a back-reference ({token}), which the rule engine "
            "does not run; write the repeated text out instead."
        )
    lookaround = next((o for o in _LOOKAROUNDS if detail.endswith(o)), None)
    if lookaround:
        return (
            f"This pattern uses a lookaround (“{lookaround}”), which the rule engine "
            "does not run; match the text itself instead, or use a second rule."
        )
    if "repetition size" in detail or "too large" in detail:
        return (
            f"This pattern repeats too much for the rule engine ({detail}); "
            "use smaller counts, such as {1,100}."
        )
    return f"This is not a regular expression the rule engine can run ({detail})."


def _items(value: Any) -> list[Any]:
    """A list as given, or the comma-separated parts of a text, blanks dropped."""
    if isinstance(value, list | tuple):
        items = list(value)
    elif isinstance(value, str):
        items = value.split(",")
    elif value is None:
        items = []
    else:
        items = [value]
    return [i for i in items if not (isinstance(i, str) and not i.strip())]


def _scalar(value: Any) -> str | int | float | bool:
    if isinstance(value, bool | int | float):
        return value
    if isinstance(value, Decimal):
        number = _json_number(value)
        if number is not None:
            return number
    if isinstance(value, str):
        return _text(value, max_length=VALUE_TEXT_MAX, what="value")
    raise ValidationError("Enter text or a number.")


_FLOAT_MAX = Decimal(sys.float_info.max)


def _json_number(value: Any) -> int | float | None:
    """A finite number as JSON can hold it (int when whole), or None."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    # Beyond a float's range JSON would need Infinity (or an int too long to
    # print), so such a value is no number a rule can compare with.
    if not number.is_finite() or abs(number) > _FLOAT_MAX:
        return None
    return int(number) if number == number.to_integral_value() else float(number)


def _decimal(value: Any, required_message: str) -> Decimal:
    if value in NO_VALUE:
        raise ValidationError(required_message or "Enter a number.")
    if isinstance(value, bool):
        raise ValidationError("Enter a number.")
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ValidationError("Enter a number.") from None
    if not number.is_finite():
        raise ValidationError("Enter a number.")
    if abs(number) > POINTS_LIMIT:
        raise ValidationError("Enter a number between -9,999,999.99 and 9,999,999.99.")
    rounded = number.quantize(CENT)
    if rounded != number:
        raise ValidationError("Use at most two decimals.")
    return rounded


def _whole_number(value: Any, *, required: bool = False) -> int | None:
    if value in NO_VALUE:
        if required:
            raise ValidationError("Enter a whole number of days, 1 or more.")
        return None
    if isinstance(value, bool):
        raise ValidationError("Enter a whole number of 1 or more.")
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ValidationError("Enter a whole number of 1 or more.") from None
    if number < 1:
        message = "Enter a whole number of 1 or more"
        raise ValidationError(message + ("." if required else ", or leave it empty."))
    if number > INTEGER_MAX:
        raise ValidationError(f"Enter at most {INTEGER_MAX:,}.")
    return number


def _text(value: Any, *, max_length: int, what: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        value = str(value)
    text = value.strip()
    if problem := text_problem(text):
        raise ValidationError(problem)
    if len(text) > max_length:
        raise ValidationError(
            f"Keep the {what} to {max_length} characters or fewer (it has {len(text)})."
        )
    return text


def _notes(value: Any) -> str:
    if value is None:
        return ""
    return _text(value, max_length=NOTES_MAX, what="notes")


def _plain(number: Any) -> str:
    """60.00 -> "60", 2.50 -> "2.5": numbers as people write them."""
    return format(Decimal(str(number)).normalize(), "f")
