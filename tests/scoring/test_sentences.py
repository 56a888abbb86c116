"""A rule's condition as a sentence: every operator the validator allows."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

import pytest

from scoring.engine import OPERATORS
from scoring.sentences import breakdown_reasons, rule_sentence
from scoring.templatetags.scoring_tags import score, score_signed


def fit(attribute: str, operator: str, value) -> SimpleNamespace:
    return SimpleNamespace(
        kind="fit", attribute=attribute, operator=operator, value=value
    )


def activity(kind: str = "engagement", **fields) -> SimpleNamespace:
    defaults = {
        "touchpoint_kind": "webinar_attended",
        "property_name": "",
        "property_operator": "",
        "property_value": None,
        "lookback_days": None,
        "max_occurrences": None,
    }
    return SimpleNamespace(kind=kind, **{**defaults, **fields})


FIT_CASES = [
    (
        fit("account.employee_count", "equals", "447"),
        "account employee count is 447",
    ),
    (fit("job_title", "equals", "CMO"), "job title is CMO"),
    (
        fit("country", "one_of", ["DE", "FR", "NL"]),
        "country is one of Germany, France or Netherlands",
    ),
    (fit("country", "one_of", ["DE"]), "country is Germany"),
    (fit("country", "not_equals", "DE"), "country is not Germany"),
    (
        fit("account.industry", "none_of", ["retail", "education"]),
        "account industry is none of Retail & e-commerce or Education",
    ),
    (fit("attributes.plan", "none_of", ["free"]), "plan is not free"),
    (fit("job_title", "contains", "marketing"), "job title contains marketing"),
    (fit("email_domain", "starts_with", "acme"), "e-mail domain starts with acme"),
    (
        fit("job_title", "matches", "(marketing|growth)"),
        "job title contains marketing or growth",
    ),
    (
        fit("job_title", "matches", "vp|head of|chief"),
        "job title contains vp, head of or chief",
    ),
    (
        fit("job_title", "matches", r"\b(marketing|sales|growth)\b"),
        "job title contains marketing, sales or growth",
    ),
    (
        fit("job_title", "matches", r"^vp\b.*sales$"),
        r"job title matches the pattern ^vp\b.*sales$",
    ),
    (
        fit("account.score", "at_least", 25),
        "account engagement score is at least 25",
    ),
    (
        fit("account.annual_revenue", "at_most", 1000000.5),
        "account annual revenue (USD) is at most 1,000,000.5",
    ),
    (
        fit("account.employee_count", "between", [50, 500]),
        "account employee count is between 50 and 500",
    ),
    (fit("phone", "is_empty", None), "phone is empty"),
]


@pytest.mark.parametrize(("rule", "sentence"), FIT_CASES)
def test_fit_rule_reads_as_a_sentence(rule, sentence):
    assert rule_sentence(rule) == sentence


def test_the_cases_above_cover_every_operator_the_validator_allows():
    covered = {rule.operator for rule, _ in FIT_CASES}

    assert covered == set(OPERATORS)


def test_codes_read_as_their_labels():
    assert (
        rule_sentence(fit("seniority", "one_of", ["vp", "executive"]))
        == "seniority is one of Vice president or Executive (C-level, founder)"
    )
    assert (
        rule_sentence(fit("account.industry", "equals", "software"))
        == "account industry is Software & internet"
    )
    assert rule_sentence(fit("region", "equals", "europe")) == "region is Europe"
    assert (
        rule_sentence(fit("country", "one_of", ["US", "GB", "KR"]))
        == "country is one of United States, United Kingdom or South Korea"
    )
    assert rule_sentence(fit("country", "equals", "DE")) == "country is Germany"


def test_imported_attributes_are_named_by_their_labels():
    assert (
        rule_sentence(fit("attributes.hs_lead_status", "equals", "open"))
        == "lead status is open"
    )
    assert (
        rule_sentence(fit("attributes.Company_Size__c", "at_least", "200"))
        == "company size is at least 200"
    )


@pytest.mark.parametrize(
    ("rule", "sentence"),
    [
        (activity(), "each webinar attended"),
        (activity(max_occurrences=3), "each webinar attended (up to 3)"),
        (activity(max_occurrences=1), "a webinar attended"),
        (
            activity(lookback_days=30, max_occurrences=1000),
            "each webinar attended in the last 30 days (up to 1,000)",
        ),
        (
            activity(
                "negative",
                touchpoint_kind="page_view",
                property_name="url",
                property_operator="contains",
                property_value="/careers",
            ),
            "each page view where url contains /careers",
        ),
    ],
)
def test_activity_rule_reads_as_what_it_counts(rule, sentence):
    label = rule.touchpoint_kind.replace("_", " ").capitalize()

    assert rule_sentence(rule, touchpoint_label=label) == sentence


def test_breakdown_items_get_their_rules_sentence_or_one_from_what_they_stored():
    breakdown = [
        {"rule": 1, "label": "Webinar", "points": "4.10"},
        {
            "rule": 2,
            "label": "VP",
            "points": "20.00",
            "attribute": "seniority",
            "value": "vp",
        },
        "not an item",
    ]

    items = breakdown_reasons(breakdown, {1: "each webinar attended"})

    assert [(i["label"], i["points"], i["sentence"]) for i in items] == [
        ("VP", Decimal("20.00"), "seniority is Vice president"),
        ("Webinar", Decimal("4.10"), "each webinar attended"),
    ]


@pytest.mark.parametrize(
    ("value", "shown", "signed"),
    [
        (Decimal("32.94"), "32.9", "+32.9"),
        (Decimal("20"), "20.0", "+20.0"),
        ("2.25", "2.3", "+2.3"),
        (Decimal("-5"), "-5.0", "\u22125.0"),
        (0, "0.0", "0.0"),
        (Decimal("1234.5"), "1,234.5", "+1,234.5"),
        (None, "—", "—"),
        ("not a number", "—", "—"),
    ],
)
def test_scores_show_one_decimal(value, shown, signed):
    assert (score(value), score_signed(value)) == (shown, signed)
