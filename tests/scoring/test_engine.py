"""The scoring arithmetic, rule by rule (pure functions, no database)."""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal, InvalidOperation

import pytest
import re2
from hypothesis import given
from hypothesis import strategies as st

from scoring.engine import (
    MATCHED_TEXT_MAX,
    OPERATORS,
    ModelSpec,
    Rule,
    Touch,
    age_in_days,
    compile_condition,
    condition_holds,
    decay_factor,
    evaluate_touches,
    grade_for,
    pattern_options,
)

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
D = Decimal


def spec(*rules: Rule, threshold: str = "60", min_fit: str | None = None) -> ModelSpec:
    return ModelSpec(
        id=1,
        mql_threshold=D(threshold),
        min_fit_score=D(min_fit) if min_fit else None,
        default_half_life_days=30,
        grade_a_min=D(40),
        grade_b_min=D(25),
        grade_c_min=D(10),
        rules=rules,
    )


def touch(n: int, kind: str, days_ago: float, **properties) -> Touch:
    return Touch(
        id=n,
        kind=kind,
        occurred_at=NOW - dt.timedelta(days=days_ago),
        properties=properties,
    )


@pytest.mark.parametrize(
    ("operator", "actual", "expected", "holds"),
    [
        ("equals", "Director", "director", True),
        ("equals", " US ", "us", True),
        ("equals", "vp", "director", False),
        ("equals", 250, "250", True),
        ("equals", None, "x", False),
        ("one_of", "vp", ["executive", "VP"], True),
        ("one_of", "manager", ["executive", "vp"], False),
        ("contains", "https://x.io/Pricing/teams", "/pricing", True),
        ("contains", "https://x.io/blog", "/pricing", False),
        ("starts_with", "Head of Sales", "head of", True),
        ("starts_with", "VP Sales", "head of", False),
        ("matches", "Growth Marketing Lead", r"\bmarketing\b", True),
        ("matches", "Marketplace Ops", r"\bmarketing\b", False),
        ("at_least", 200, 200, True),
        ("at_least", 199, 200, False),
        ("at_least", "abc", 1, False),
        ("at_most", 50, 50, True),
        ("at_most", 51, 50, False),
        ("between", 200, [200, 5000], True),
        ("between", 5000, [200, 5000], True),
        ("between", 5001, [200, 5000], False),
        ("between", None, [1, 2], False),
        ("is_empty", "", None, True),
        ("is_empty", None, None, True),
        ("is_empty", "  ", None, True),
        ("is_empty", "x", None, False),
        ("equals", True, "true", True),
        ("not_equals", "DE", "de", False),
        ("not_equals", " de ", "DE", False),
        ("not_equals", "FR", "DE", True),
        ("not_equals", 250, "250.0", False),
        ("not_equals", 251, "250", True),
        # Blank or missing is "not Germany" too.
        ("not_equals", None, "DE", True),
        ("not_equals", "", "DE", True),
        ("not_equals", "  ", "DE", True),
        ("not_equals", True, "true", False),
        ("not_equals", False, "true", True),
        ("none_of", "retail", ["Retail", "hospitality"], False),
        ("none_of", "Hospitality ", ["retail", "hospitality"], False),
        ("none_of", "software", ["retail", "hospitality"], True),
        ("none_of", None, ["retail", "hospitality"], True),
        ("none_of", "", ["retail", "hospitality"], True),
        ("none_of", 5, ["5.00", "x"], False),
        ("none_of", "retail", "retail", False),
    ],
)
def test_condition_operators(operator, actual, expected, holds):
    assert condition_holds(operator, actual, expected) is holds


def _number(value):
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = D(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def _text(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip().lower()


def _reference(operator, actual, expected):
    """The plain definition of a condition, parsing the rule's value each time."""
    if operator == "is_empty":
        return actual is None or actual in ("", [], {}) or _text(actual) == ""
    if operator == "not_equals":
        return not _reference("equals", actual, expected)
    if operator == "none_of":
        return not _reference("one_of", actual, expected)
    if actual is None:
        return False
    if operator == "equals":
        a, e = _number(actual), _number(expected)
        if a is not None and e is not None:
            return a == e
        return _text(actual) == _text(expected)
    if operator == "one_of":
        options = expected if isinstance(expected, list) else [expected]
        return any(_reference("equals", actual, option) for option in options)
    if operator == "contains":
        return _text(expected) in _text(actual)
    if operator == "starts_with":
        return _text(actual).startswith(_text(expected))
    if operator == "matches":
        return re2.compile(expected, pattern_options()).search(str(actual)) is not None
    number = _number(actual)
    if number is None:
        return False
    if operator == "at_least":
        return number >= D(str(expected))
    if operator == "at_most":
        return number <= D(str(expected))
    low, high = expected
    return D(str(low)) <= number <= D(str(high))


VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-10, 10),
    st.decimals(allow_nan=False, allow_infinity=False, places=2, max_value=99),
    st.sampled_from(["", " ", "5", " 5.0 ", "ab", "AB ", "a b", "1e3", "NaN", "x5"]),
)


def _outcome(test, *args):
    try:
        return test(*args)
    except Exception as exc:  # the kind of failure must agree too
        return type(exc)


@given(
    operator=st.sampled_from(OPERATORS),
    actual=VALUES,
    expected=st.one_of(VALUES, st.lists(VALUES, max_size=3)),
)
def test_compiled_conditions_agree_with_the_plain_definition(
    operator, actual, expected
):
    if operator == "matches":
        expected = str(expected).replace("\\", "")
        if _outcome(re2.compile, expected, pattern_options()) is re2.error:
            return
    compiled = compile_condition(operator, expected)
    assert _outcome(compiled, actual) == _outcome(
        _reference, operator, actual, expected
    )


#: Patterns a backtracking engine takes exponential time on for "aaa…a!".
CATASTROPHIC = [r"(a+)+$", r"^(a|a)*$", r"(a|aa)+$", r"(a*)*b", r"^(\w+\s?)*$"]


@pytest.mark.parametrize("pattern", CATASTROPHIC)
def test_a_catastrophic_pattern_tests_a_200_character_title_in_linear_time(pattern):
    # Given a fit rule with a pattern that backtracks exponentially elsewhere
    rule = Rule(
        id=1,
        kind="fit",
        label="Pattern",
        points=D(5),
        attribute="job_title",
        operator="matches",
        value=pattern,
    )
    title = "a" * 199 + "!"

    # When a lead with a 200-character title is scored (under a time bound)
    started = time.perf_counter()
    result = evaluate_touches(spec(rule), {"job_title": title}, [], NOW)
    elapsed = time.perf_counter() - started

    # Then it answers at once, and the pattern does not hold
    assert elapsed < 0.5
    assert result.items == []


@pytest.mark.parametrize("pattern", CATASTROPHIC)
def test_a_catastrophic_property_pattern_tests_every_touch_in_linear_time(pattern):
    rule = Rule(
        id=1,
        kind="engagement",
        label="Page",
        points=D(5),
        touchpoint_kind="page_view",
        property_name="url",
        property_operator="matches",
        property_value=pattern,
    )
    touches = [
        Touch(i, "page_view", NOW, {"url": "a" * (MATCHED_TEXT_MAX - 1) + "!"})
        for i in range(50)
    ]

    started = time.perf_counter()
    result = evaluate_touches(spec(rule), {}, touches, NOW)
    elapsed = time.perf_counter() - started

    assert elapsed < 0.5
    assert result.items == []


def test_a_pattern_is_matched_against_the_first_characters_of_a_value_only():
    long_url = "/" + "x" * (MATCHED_TEXT_MAX - 1) + "/pricing"

    assert condition_holds("matches", long_url[:MATCHED_TEXT_MAX], "^/x+$") is True
    assert condition_holds("matches", long_url, "/pricing") is False
    assert condition_holds("matches", long_url, "^/x") is True


def test_a_stored_pattern_the_engine_cannot_run_matches_nothing():
    # Saved before patterns were checked against RE2: a back-reference.
    holds = compile_condition("matches", r"(a)\1")

    assert holds("aa") is False
    assert holds(None) is False


@pytest.mark.parametrize(
    ("age", "half_life", "factor"),
    [
        (0, 30, "1.000000"),
        (30, 30, "0.500000"),
        (60, 30, "0.250000"),
        (15, 30, "0.707107"),
        (1, 14, "0.951695"),
        (3650, 30, "0.000000"),
    ],
)
def test_decay_factor(age, half_life, factor):
    assert decay_factor(age, half_life) == D(factor)


def test_age_counts_whole_days_and_never_negative():
    assert age_in_days(NOW - dt.timedelta(days=2, hours=23, minutes=59), NOW) == 2
    assert age_in_days(NOW - dt.timedelta(days=3), NOW) == 3
    assert age_in_days(NOW + dt.timedelta(hours=2), NOW) == 0


def test_engagement_decays_with_age_and_half_life():
    rule = Rule(
        id=1,
        kind="engagement",
        label="Download",
        points=D(10),
        touchpoint_kind="content_download",
        half_life_days=10,
    )
    result = evaluate_touches(
        spec(rule),
        {},
        [touch(1, "content_download", 0), touch(2, "content_download", 10)],
        NOW,
    )
    assert result.engagement_score == D("15.00")
    assert result.items[0]["occurrences"] == 2
    assert result.items[0]["touchpoints"] == [1, 2]


def test_cap_counts_the_most_recent_occurrences():
    rule = Rule(
        id=1,
        kind="engagement",
        label="Pricing",
        points=D(10),
        touchpoint_kind="page_view",
        property_name="url",
        property_operator="contains",
        property_value="/pricing",
        max_occurrences=2,
        half_life_days=10,
    )
    touches = [
        touch(1, "page_view", 20, url="/pricing"),
        touch(2, "page_view", 0, url="/pricing"),
        touch(3, "page_view", 10, url="/pricing"),
        touch(4, "page_view", 0, url="/blog"),
    ]
    result = evaluate_touches(spec(rule), {}, touches, NOW)
    assert result.items[0]["touchpoints"] == [2, 3]
    assert result.engagement_score == D("15.00")  # 10 + 5, not the 2.5 one


def test_lookback_window_ignores_older_touchpoints():
    rule = Rule(
        id=1,
        kind="engagement",
        label="Click",
        points=D(3),
        touchpoint_kind="email_click",
        lookback_days=7,
    )
    touches = [touch(1, "email_click", 7), touch(2, "email_click", 8)]
    result = evaluate_touches(spec(rule), {}, touches, NOW)
    assert result.items[0]["touchpoints"] == [1]


def test_negative_rules_subtract():
    rules = (
        Rule(
            id=1,
            kind="engagement",
            label="Demo",
            points=D(60),
            touchpoint_kind="demo_request",
        ),
        Rule(
            id=2,
            kind="negative",
            label="Bounce",
            points=D(-15),
            touchpoint_kind="email_bounce",
        ),
    )
    result = evaluate_touches(
        spec(*rules),
        {},
        [touch(1, "demo_request", 0), touch(2, "email_bounce", 0)],
        NOW,
    )
    assert result.total == D("45.00")
    assert result.qualifies is False


def test_breakdown_items_add_up_exactly_to_the_scores():
    rules = (
        Rule(
            id=1,
            kind="fit",
            label="VP",
            points=D("12.345"),
            attribute="seniority",
            operator="equals",
            value="vp",
        ),
        Rule(
            id=2,
            kind="engagement",
            label="Click",
            points=D("3.333"),
            touchpoint_kind="email_click",
            half_life_days=7,
        ),
    )
    touches = [touch(n, "email_click", n) for n in range(1, 8)]
    result = evaluate_touches(spec(*rules), {"seniority": "vp"}, touches, NOW)
    item_sum = sum(D(item["points"]) for item in result.items)
    assert item_sum == result.total == result.fit_score + result.engagement_score
    assert all(
        D(i["points"]) == D(i["points"]).quantize(D("0.01")) for i in result.items
    )


def test_fit_rules_read_account_and_free_form_attributes():
    rules = (
        Rule(
            id=1,
            kind="fit",
            label="Size",
            points=D(15),
            attribute="account.employee_count",
            operator="between",
            value=[200, 5000],
        ),
        Rule(
            id=2,
            kind="fit",
            label="Plan",
            points=D(5),
            attribute="attributes.plan",
            operator="equals",
            value="enterprise",
        ),
    )
    facts = {"account": {"employee_count": 800}, "attributes": {"plan": "Enterprise"}}
    result = evaluate_touches(spec(*rules), facts, [], NOW)
    assert result.fit_score == D(20)
    assert [i["value"] for i in result.items] == [800, "Enterprise"]


def test_disqualifying_rule_gates_whatever_the_points():
    rules = (
        Rule(
            id=1,
            kind="engagement",
            label="Demo",
            points=D(100),
            touchpoint_kind="demo_request",
        ),
        Rule(
            id=2,
            kind="disqualifying",
            label="Student",
            points=D(0),
            attribute="seniority",
            operator="equals",
            value="student",
        ),
    )
    result = evaluate_touches(
        spec(*rules), {"seniority": "student"}, [touch(1, "demo_request", 0)], NOW
    )
    assert result.total == D(100)
    assert result.qualifies is False
    assert result.gated_by == [
        {"rule": 2, "label": "Student", "attribute": "seniority", "value": "student"}
    ]


def test_threshold_and_fit_minimum():
    rules = (
        Rule(
            id=1,
            kind="engagement",
            label="Demo",
            points=D(60),
            touchpoint_kind="demo_request",
        ),
    )
    touches = [touch(1, "demo_request", 0)]
    assert evaluate_touches(spec(*rules), {}, touches, NOW).qualifies is True
    assert (
        evaluate_touches(spec(*rules, threshold="60.01"), {}, touches, NOW).qualifies
        is False
    )
    assert (
        evaluate_touches(spec(*rules, min_fit="5"), {}, touches, NOW).qualifies is False
    )


@pytest.mark.parametrize(
    ("fit", "grade"),
    [
        ("40", "A"),
        ("39.99", "B"),
        ("25", "B"),
        ("24.99", "C"),
        ("10", "C"),
        ("9.99", "D"),
        ("-5", "D"),
    ],
)
def test_grade_bands(fit, grade):
    assert grade_for(spec(), D(fit)) == grade


def test_touch_order_does_not_change_the_score():
    rule = Rule(
        id=1,
        kind="engagement",
        label="Click",
        points=D(3),
        touchpoint_kind="email_click",
        max_occurrences=3,
    )
    touches = [touch(n, "email_click", n * 2) for n in range(6)]
    forward = evaluate_touches(spec(rule), {}, touches, NOW)
    backward = evaluate_touches(spec(rule), {}, list(reversed(touches)), NOW)
    assert forward == backward


def test_a_lead_with_no_country_is_not_germany_and_a_retailer_is_gated():
    not_germany = Rule(
        id=1,
        kind="fit",
        label="Outside Germany",
        points=D(10),
        attribute="country",
        operator="not_equals",
        value="DE",
    )
    not_retail = Rule(
        id=2,
        kind="disqualifying",
        label="Retail or hospitality",
        points=D(0),
        attribute="account.industry",
        operator="one_of",
        value=["retail", "hospitality"],
    )
    outside_verticals = Rule(
        id=3,
        kind="fit",
        label="Not in retail or hospitality",
        points=D(7),
        attribute="account.industry",
        operator="none_of",
        value=["retail", "hospitality"],
    )
    model = spec(not_germany, not_retail, outside_verticals, threshold="5")

    def score(facts):
        result = evaluate_touches(model, facts, [], NOW)
        return result.fit_score, [g["rule"] for g in result.gated_by], result.qualifies

    # No country, no account: both negative conditions hold.
    assert score({}) == (D("17.00"), [], True)
    assert score({"country": "", "account": None}) == (D("17.00"), [], True)
    assert score({"country": "de", "account": {"industry": "software"}}) == (
        D("7.00"),
        [],
        True,
    )
    assert score({"country": "US", "account": {"industry": "Retail"}}) == (
        D("10.00"),
        [2],
        False,
    )
