"""Editing drafts: rule validation one input at a time, refusals, reordering."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from scoring import services
from scoring.exceptions import ModelNotEditable
from scoring.models import ScoringModel, ScoringRule
from scoring.selectors import model_active

pytestmark = pytest.mark.django_db

NOT_EDITABLE = "Only drafts can be edited; clone this model into a new draft first."
FIT = {
    "kind": "fit",
    "label": "Director",
    "points": Decimal("15"),
    "attribute": "seniority",
    "operator": "equals",
    "value": "director",
}
ENGAGEMENT = {
    "kind": "engagement",
    "label": "Pricing page view",
    "points": Decimal("10"),
    "touchpoint_kind": "page_view",
}
UNKNOWN_ATTRIBUTE = (
    "“{}” is not something a rule can test. Use a lead field (such as seniority "
    "or country), email_domain, an account field (such as account.industry) or "
    "attributes.<name>."
)


@pytest.fixture
def spring_draft() -> ScoringModel:
    """An empty draft, not cloned from the active model."""
    return ScoringModel.objects.create(name="Spring", version=1)


def _rules(model: ScoringModel) -> list[tuple]:
    return list(
        ScoringRule.objects.filter(model=model)
        .order_by("position", "id")
        .values_list("id", "position", "kind", "label", "points", "value")
    )


def test_a_fit_rule_is_stored_normalised_at_the_end(spring_draft):
    first = services.rule_create(model=spring_draft, **FIT)

    rule = services.rule_create(
        model=spring_draft,
        kind="fit",
        label="  Decision maker ",
        points="20",
        attribute="seniority",
        operator="one_of",
        value=" vp, executive ,, ",
        # Sent along by the form although a fit rule does not use it.
        touchpoint_kind="page_view",
        max_occurrences=3,
    )

    rule = ScoringRule.objects.get(id=rule.id)
    assert (first.position, rule.position) == (1, 2)
    assert (rule.label, rule.points, rule.value) == (
        "Decision maker",
        Decimal("20.00"),
        ["vp", "executive"],
    )
    assert (rule.touchpoint_kind, rule.max_occurrences) == ("", None)


@pytest.mark.parametrize(
    ("operator", "value", "stored"),
    [
        ("equals", " Director ", "Director"),
        ("one_of", ["DE", "FR"], ["DE", "FR"]),
        ("between", "200, 5000", [200, 5000]),
        ("between", [1.5, "2.5"], [1.5, 2.5]),
        ("at_least", "5001", 5001),
        ("at_most", "0.5", 0.5),
        ("matches", r"\b(sales|marketing)\b", r"\b(sales|marketing)\b"),
        ("is_empty", "ignored", None),
        ("not_equals", " DE ", "DE"),
        ("not_equals", 5, 5),
        ("none_of", "retail, education", ["retail", "education"]),
        ("none_of", ["retail", 5], ["retail", 5]),
        ("none_of", "retail", ["retail"]),
    ],
)
def test_condition_values_are_stored_in_the_shape_the_engine_reads(
    spring_draft, operator, value, stored
):
    rule = services.rule_create(
        model=spring_draft, **{**FIT, "operator": operator, "value": value}
    )
    assert ScoringRule.objects.get(id=rule.id).value == stored


@pytest.mark.parametrize(
    ("attribute"),
    [
        "job_title",
        "email_domain",
        "account.employee_count",
        "account.score",
        "attributes.plan",
    ],
)
def test_known_attributes_are_accepted(spring_draft, attribute):
    rule = services.rule_create(model=spring_draft, **{**FIT, "attribute": attribute})
    assert ScoringRule.objects.get(id=rule.id).attribute == attribute


def test_fit_points_may_be_negative_and_disqualifying_points_are_zero(spring_draft):
    fit = services.rule_create(model=spring_draft, **{**FIT, "points": "-5"})
    gate = services.rule_create(
        model=spring_draft,
        kind="disqualifying",
        label="Student",
        points="40",
        attribute="seniority",
        operator="equals",
        value="student",
    )
    assert ScoringRule.objects.get(id=fit.id).points == Decimal("-5.00")
    assert ScoringRule.objects.get(id=gate.id).points == Decimal("0.00")


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (
            {"kind": "bonus"},
            "kind",
            "Choose fit, engagement, negative or disqualifying.",
        ),
        (
            {"label": "  "},
            "label",
            "Give the rule a label; people see it in every score breakdown.",
        ),
        (
            {"label": "x" * 201},
            "label",
            "Keep the label to 200 characters or fewer (it has 201).",
        ),
        (
            {"label": "VP\x00"},
            "label",
            "Remove the NUL character (\\u0000); it cannot be stored.",
        ),
        ({"points": None}, "points", "Enter the points this rule gives."),
        ({"points": "ten"}, "points", "Enter a number."),
        ({"points": "1.005"}, "points", "Use at most two decimals."),
        (
            {"points": "10000000"},
            "points",
            "Enter a number between -9,999,999.99 and 9,999,999.99.",
        ),
        ({"attribute": ""}, "attribute", "Choose the attribute this rule tests."),
        ({"attribute": "salary"}, "attribute", UNKNOWN_ATTRIBUTE.format("salary")),
        (
            {"attribute": "account.revenue"},
            "attribute",
            UNKNOWN_ATTRIBUTE.format("account.revenue"),
        ),
        (
            {"attribute": "attributes."},
            "attribute",
            UNKNOWN_ATTRIBUTE.format("attributes."),
        ),
        ({"operator": ""}, "operator", "Choose how to compare the attribute."),
        (
            {"operator": "like"},
            "operator",
            "“like” is not a comparison; choose one from the list.",
        ),
        ({"value": ""}, "value", "Enter the value to compare with."),
        ({"value": ["a", "b"]}, "value", "Enter one value, not a list."),
        (
            {"operator": "one_of", "value": " , "},
            "value",
            "Enter at least one option, separated by commas.",
        ),
        (
            {"operator": "between", "value": "200"},
            "value",
            "Enter two numbers separated by a comma, lower first (such as 200, 5000).",
        ),
        (
            {"operator": "between", "value": "small, large"},
            "value",
            "Enter two numbers separated by a comma, lower first (such as 200, 5000).",
        ),
        (
            {"operator": "between", "value": "5000, 200"},
            "value",
            "The lower number comes first: 200, 5000.",
        ),
        (
            {"operator": "at_least", "value": "many"},
            "value",
            "Enter a number, such as 500.",
        ),
        (
            {"operator": "at_most", "value": True},
            "value",
            "Enter a number, such as 500.",
        ),
        (
            # Beyond a float: stored as JSON it would be Infinity.
            {"operator": "at_least", "value": "1" + "0" * 400 + ".5"},
            "value",
            "Enter a number, such as 500.",
        ),
        (
            {"operator": "between", "value": "1, 1e400"},
            "value",
            "Enter two numbers separated by a comma, lower first (such as 200, 5000).",
        ),
        (
            {"operator": "matches", "value": "(sales"},
            "value",
            "This is not a regular expression the rule engine can run "
            "(missing ): (sales).",
        ),
        (
            {"operator": "matches", "value": r"(sales)\1"},
            "value",
            "This pattern uses a back-reference (\\1), which the rule engine does "
            "not run; write the repeated text out instead.",
        ),
        (
            {"operator": "matches", "value": r"(?P<t>vp)(?P=t)"},
            "value",
            "This pattern uses a back-reference (“(?P=name)”), which the rule "
            "engine does not run; write the repeated text out instead.",
        ),
        (
            {"operator": "matches", "value": r"sales(?!force)"},
            "value",
            "This pattern uses a lookaround (“(?!”), which the rule engine does not "
            "run; match the text itself instead, or use a second rule.",
        ),
        (
            {"operator": "matches", "value": r"(?<=head of )sales"},
            "value",
            "This pattern uses a lookaround (“(?<=”), which the rule engine does "
            "not run; match the text itself instead, or use a second rule.",
        ),
        (
            {"operator": "matches", "value": "a{2000}"},
            "value",
            "This pattern repeats too much for the rule engine (invalid repetition "
            "size: {2000}); use smaller counts, such as {1,100}.",
        ),
        (
            {"operator": "matches", "value": "a" * 201},
            "value",
            "Keep the pattern to 200 characters or fewer (it has 201).",
        ),
        (
            {"operator": "not_equals", "value": ""},
            "value",
            "Enter the value to compare with.",
        ),
        (
            {"operator": "not_equals", "value": ["DE", "FR"]},
            "value",
            "Enter one value, not a list; to leave out several values, choose "
            "“is none of”.",
        ),
        (
            {"operator": "none_of", "value": " , "},
            "value",
            "Enter at least one option, separated by commas.",
        ),
        (
            {"operator": "none_of", "value": ["x"] * 201},
            "value",
            "Enter at most 200 options.",
        ),
        (
            {"operator": "none_of", "value": ["retail", {"a": 1}]},
            "value",
            "Enter text or a number.",
        ),
        (
            {"operator": "is not"},
            "operator",
            "“is not” is not a comparison; choose one from the list.",
        ),
    ],
)
def test_a_bad_fit_rule_is_refused_with_the_field_message(
    spring_draft, change, field, message
):
    with pytest.raises(ValidationError) as refused:
        services.rule_create(model=spring_draft, **{**FIT, **change})

    assert refused.value.message_dict == {field: [message]}
    assert _rules(spring_draft) == []


@pytest.mark.parametrize(
    ("change", "errors"),
    [
        (
            {"touchpoint_kind": ""},
            {"touchpoint_kind": ["Choose the touchpoint kind this rule counts."]},
        ),
        (
            {"touchpoint_kind": "tweet"},
            {
                "touchpoint_kind": [
                    "“tweet” is not a touchpoint kind; choose one from the list."
                ]
            },
        ),
        (
            {"points": "0"},
            {"points": ["An engagement rule adds points: enter a number above 0."]},
        ),
        (
            {"points": "-3"},
            {"points": ["An engagement rule adds points: enter a number above 0."]},
        ),
        (
            {"kind": "negative", "points": "10"},
            {
                "points": [
                    "A negative rule takes points away: enter a number below 0, "
                    "such as -10."
                ]
            },
        ),
        (
            {"property_name": "url"},
            {"property_operator": ["Choose how to compare the property."]},
        ),
        (
            {"property_value": "/pricing"},
            {
                "property_name": [
                    "Name the property to test (such as url), or leave the whole "
                    "property condition empty."
                ],
                "property_operator": ["Choose how to compare the property."],
            },
        ),
        (
            {
                "property_name": "page.url",
                "property_operator": "contains",
                "property_value": "/pricing",
            },
            {
                "property_name": [
                    "Use a top-level property name such as url; names with dots "
                    "(nested properties) are not supported."
                ]
            },
        ),
        (
            {"property_name": "url", "property_operator": "contains"},
            {"property_value": ["Enter the value to compare with."]},
        ),
        (
            {
                "property_name": "url",
                "property_operator": "matches",
                "property_value": "[",
            },
            {
                "property_value": [
                    "This is not a regular expression the rule engine can run "
                    "(missing ]: [)."
                ]
            },
        ),
        (
            {"max_occurrences": 0},
            {
                "max_occurrences": [
                    "Enter a whole number of 1 or more, or leave it empty."
                ]
            },
        ),
        (
            {"lookback_days": -7},
            {
                "lookback_days": [
                    "Enter a whole number of 1 or more, or leave it empty."
                ]
            },
        ),
        (
            {"half_life_days": "two weeks"},
            {"half_life_days": ["Enter a whole number of 1 or more."]},
        ),
        (
            {"half_life_days": 2_147_483_648},
            {"half_life_days": ["Enter at most 2,147,483,647."]},
        ),
        (
            {"points": "1000.01"},
            {"points": ["Enter points between -1,000 and 1,000."]},
        ),
        (
            {"kind": "negative", "points": "-9999999.99"},
            {"points": ["Enter points between -1,000 and 1,000."]},
        ),
        (
            {"max_occurrences": 1_001},
            {
                "max_occurrences": [
                    "Count at most 1,000 touchpoints, or leave it empty (the most "
                    "recent 1,000)."
                ]
            },
        ),
    ],
)
def test_a_bad_activity_rule_is_refused_with_the_field_messages(
    spring_draft, change, errors
):
    with pytest.raises(ValidationError) as refused:
        services.rule_create(model=spring_draft, **{**ENGAGEMENT, **change})

    assert refused.value.message_dict == errors
    assert _rules(spring_draft) == []


def test_an_activity_rule_keeps_its_property_condition_and_limits(spring_draft):
    rule = services.rule_create(
        model=spring_draft,
        **ENGAGEMENT,
        property_name=" url ",
        property_operator="contains",
        property_value="/pricing",
        max_occurrences=3,
        lookback_days=90,
        half_life_days=14,
        # A condition the form sent from the hidden fit fields: dropped.
        attribute="seniority",
        operator="equals",
        value="vp",
    )

    stored = ScoringRule.objects.filter(id=rule.id).values(
        "property_name",
        "property_operator",
        "property_value",
        "max_occurrences",
        "lookback_days",
        "half_life_days",
        "attribute",
        "operator",
        "value",
    )
    assert stored.get() == {
        "property_name": "url",
        "property_operator": "contains",
        "property_value": "/pricing",
        "max_occurrences": 3,
        "lookback_days": 90,
        "half_life_days": 14,
        "attribute": "",
        "operator": "",
        "value": None,
    }


def test_an_is_empty_property_condition_needs_no_value(spring_draft):
    rule = services.rule_create(
        model=spring_draft,
        **ENGAGEMENT,
        property_name="campaign",
        property_operator="is_empty",
        property_value="",
    )
    stored = ScoringRule.objects.get(id=rule.id)
    assert (stored.property_operator, stored.property_value) == ("is_empty", None)


def test_update_validates_the_whole_rule_and_changes_nothing_when_refused(spring_draft):
    rule = services.rule_create(model=spring_draft, **ENGAGEMENT)
    before = _rules(spring_draft)

    with pytest.raises(ValidationError) as refused:
        services.rule_update(rule=rule, points="-1")

    assert refused.value.message_dict == {
        "points": ["An engagement rule adds points: enter a number above 0."]
    }
    assert _rules(spring_draft) == before


def test_update_to_another_kind_clears_what_that_kind_does_not_use(spring_draft):
    rule = services.rule_create(
        model=spring_draft, **ENGAGEMENT, max_occurrences=2, half_life_days=7
    )

    updated = services.rule_update(rule=rule, **FIT)

    stored = ScoringRule.objects.get(id=rule.id)
    assert updated.kind == "fit"
    assert (stored.kind, stored.label, stored.attribute, stored.value) == (
        "fit",
        "Director",
        "seniority",
        "director",
    )
    assert (stored.touchpoint_kind, stored.max_occurrences, stored.half_life_days) == (
        "",
        None,
        None,
    )


def test_an_unknown_field_is_a_programming_error(spring_draft):
    with pytest.raises(TypeError, match="Unknown fields: colour"):
        services.rule_create(model=spring_draft, **FIT, colour="red")
    assert _rules(spring_draft) == []


def test_delete_removes_the_rule_and_a_second_delete_changes_nothing(spring_draft):
    keep = services.rule_create(model=spring_draft, **FIT)
    gone = services.rule_create(model=spring_draft, **ENGAGEMENT)

    services.rule_delete(rule=gone)
    services.rule_delete(rule=gone)

    assert [row[0] for row in _rules(spring_draft)] == [keep.id]


# Published models are not edited
# ------------------------------------------------------------------------------


@pytest.fixture(params=["active", "archived"])
def published(request) -> ScoringModel:
    if request.param == "active":
        return model_active()
    model = ScoringModel.objects.create(name="Old", version=1, status="archived")
    ScoringRule.objects.create(model=model, position=1, **{**FIT, "points": 5})
    return model


def _model_state(model: ScoringModel) -> tuple:
    return (
        ScoringModel.objects.filter(id=model.id)
        .values_list("status", "mql_threshold", "notes")
        .get(),
        _rules(model),
    )


@pytest.mark.parametrize(
    "edit",
    [
        lambda m, r: services.rule_create(model=m, **FIT),
        lambda m, r: services.rule_update(rule=r, label="Renamed"),
        lambda m, r: services.rule_delete(rule=r),
        lambda m, r: services.rules_reorder(
            model=m,
            rule_ids=list(m.rules.order_by("-position").values_list("id", flat=True)),
        ),
        lambda m, r: services.model_update(model=m, mql_threshold=10),
    ],
    ids=["create", "update", "delete", "reorder", "settings"],
)
def test_a_published_model_is_not_edited(published, edit):
    before = _model_state(published)
    rule = published.rules.order_by("position").first()

    with pytest.raises(ModelNotEditable, match=r"^Only drafts can be edited"):
        edit(published, rule)

    assert _model_state(published) == before


def test_the_refusal_says_how_to_change_a_published_model():
    with pytest.raises(ModelNotEditable) as refused:
        services.model_update(model=model_active(), notes="x")
    assert str(refused.value) == NOT_EDITABLE


# Reordering
# ------------------------------------------------------------------------------


def test_reorder_sets_positions_in_the_given_order(spring_draft):
    a, b, c = (
        services.rule_create(model=spring_draft, **{**FIT, "label": label})
        for label in ("A", "B", "C")
    )

    services.rules_reorder(model=spring_draft, rule_ids=[c.id, a.id, b.id])

    assert [(row[3], row[1]) for row in _rules(spring_draft)] == [
        ("C", 1),
        ("A", 2),
        ("B", 3),
    ]


@pytest.mark.parametrize(
    "order",
    [
        lambda a, b, c: [b, a],  # a rule left out (the page was out of date)
        lambda a, b, c: [c, b, a, a],  # a rule twice
        lambda a, b, c: [c, b, a, 999_999],  # a rule of no model
    ],
    ids=["missing", "twice", "foreign"],
)
def test_reorder_with_a_stale_list_is_refused_and_moves_nothing(spring_draft, order):
    a, b, c = (
        services.rule_create(model=spring_draft, **{**FIT, "label": label}).id
        for label in ("A", "B", "C")
    )
    before = _rules(spring_draft)

    with pytest.raises(ValidationError) as refused:
        services.rules_reorder(model=spring_draft, rule_ids=order(a, b, c))

    assert refused.value.message_dict == {
        "rule_ids": [
            "The rules of this model changed since the page was loaded; reload it "
            "and move the rule again."
        ]
    }
    assert _rules(spring_draft) == before


# Model settings
# ------------------------------------------------------------------------------


def test_settings_of_a_draft_are_saved(spring_draft):
    services.model_update(
        model=spring_draft,
        mql_threshold="75",
        min_fit_score="20",
        default_half_life_days=21,
        grade_a_min="50",
        grade_b_min="30",
        grade_c_min="10",
        notes="Raise the bar for spring.",
    )

    assert ScoringModel.objects.filter(id=spring_draft.id).values(
        "mql_threshold",
        "min_fit_score",
        "default_half_life_days",
        "grade_a_min",
        "grade_b_min",
        "grade_c_min",
        "notes",
    ).get() == {
        "mql_threshold": Decimal("75.00"),
        "min_fit_score": Decimal("20.00"),
        "default_half_life_days": 21,
        "grade_a_min": Decimal("50.00"),
        "grade_b_min": Decimal("30.00"),
        "grade_c_min": Decimal("10.00"),
        "notes": "Raise the bar for spring.",
    }


@pytest.mark.parametrize(
    ("change", "errors"),
    [
        (
            {"mql_threshold": "-1"},
            {"mql_threshold": ["The MQL threshold cannot be negative."]},
        ),
        ({"mql_threshold": None}, {"mql_threshold": ["Enter the MQL threshold."]}),
        (
            {"default_half_life_days": 0},
            {"default_half_life_days": ["Enter a whole number of 1 or more."]},
        ),
        (
            {"grade_b_min": "40"},
            {"grade_b_min": ["Grade B must start below grade A (40)."]},
        ),
        (
            {"grade_a_min": "45", "grade_b_min": "30", "grade_c_min": "30.5"},
            {"grade_c_min": ["Grade C must start below grade B (30)."]},
        ),
        (
            {"notes": "x" * 10_001},
            {"notes": ["Keep the notes to 10000 characters or fewer (it has 10001)."]},
        ),
    ],
)
def test_bad_settings_are_refused_and_nothing_is_saved(spring_draft, change, errors):
    before = _model_state(spring_draft)

    with pytest.raises(ValidationError) as refused:
        services.model_update(model=spring_draft, **change)

    assert refused.value.message_dict == errors
    assert _model_state(spring_draft) == before


def test_a_rule_that_would_let_a_score_overflow_is_refused(spring_draft):
    # Given rules that can give up to 9,999,999.99 points: nine of 1,000 points
    # for each of 1,000 touchpoints, one of 999, and a fit rule of 999.99
    for i in range(9):
        services.rule_create(
            model=spring_draft, **{**ENGAGEMENT, "label": f"Busy {i}", "points": "1000"}
        )
    services.rule_create(
        model=spring_draft, **{**ENGAGEMENT, "label": "Almost", "points": "999"}
    )
    fit = services.rule_create(model=spring_draft, **{**FIT, "points": "999.99"})
    before = _rules(spring_draft)

    # When one more rule is added, or the fit rule's points raised by a cent
    with pytest.raises(ValidationError) as added:
        services.rule_create(
            model=spring_draft, **{**ENGAGEMENT, "label": "One more", "points": "0.01"}
        )
    with pytest.raises(ValidationError) as raised:
        services.rule_update(rule=fit, points="1000")

    # Then both are refused on their points, and nothing changed
    assert added.value.message_dict == {
        "points": [
            "With these rules a lead could reach a score of 10,000,009.99, more "
            "than the 9,999,999.99 a score can hold; give fewer points or count "
            "fewer touchpoints."
        ]
    }
    assert raised.value.message_dict == {
        "points": [
            "With these rules a lead could reach a score of 10,000,000.00, more "
            "than the 9,999,999.99 a score can hold; give fewer points or count "
            "fewer touchpoints."
        ]
    }
    assert _rules(spring_draft) == before
