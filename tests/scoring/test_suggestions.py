"""The attribute keys and values the rule editor suggests, on a hand-built data set."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leads.models import Lead
from scoring import suggestions
from scoring.suggestions import (
    AttributeKey,
    AttributeValue,
    attribute_keys,
    attribute_values,
)
from tests.factories import LeadFactory

pytestmark = pytest.mark.django_db

#: Each lead's attributes, oldest first. Worked out by hand below:
#: plan is on 7 leads (4 say enterprise in some case or spacing, 1 Starter,
#: 1 null, 1 blank); seats on 3 (50 as a number twice and as text once);
#: "a.b" and " padded" cannot be named by a rule.
DATA = [
    {"plan": "Enterprise", "seats": 50, "trial": True},
    {"plan": "enterprise ", "seats": 50},
    {"plan": "Starter", "seats": "50"},
    {"plan": "ENTERPRISE", "notes": "x" * 201, "a.b": 1, " padded": 1},
    {"plan": None, "team": {"size": 3}},
    {"plan": ""},
    {},
    {"plan": "Enterprise"},
]


@pytest.fixture
def leads() -> list[Lead]:
    made = [LeadFactory(attributes=attributes) for attributes in DATA]
    # An erased lead's data is gone: never suggested.
    erased = LeadFactory(attributes={"plan": "Starter", "secret": "x"})
    Lead.objects.filter(id=erased.id).update(
        erased_at=dt.datetime(2026, 5, 1, tzinfo=dt.UTC)
    )
    return made


def _check_keys_and_values() -> None:
    keys = attribute_keys()

    assert keys.sampled == 8
    assert keys.keys == [
        AttributeKey("plan", "Plan", 7),
        AttributeKey("seats", "Seats", 3),
        AttributeKey("notes", "Notes", 1),
        AttributeKey("team", "Team", 1),
        AttributeKey("trial", "Trial", 1),
    ]
    assert keys.keys[0].path == "attributes.plan"

    plan = attribute_values(key="plan")
    assert (plan.key, plan.label, plan.leads, plan.sampled) == ("plan", "Plan", 7, 8)
    # "Enterprise" is written so twice; null and blank are no values.
    assert plan.values == [
        AttributeValue("Enterprise", 4),
        AttributeValue("Starter", 1),
    ]
    assert attribute_values(key="attributes.seats").values == [AttributeValue("50", 3)]
    assert attribute_values(key="trial").values == [AttributeValue("true", 1)]
    # Too long, or an object: the key is there, with nothing to offer.
    notes = attribute_values(key="notes")
    assert (notes.values, notes.leads) == ([], 1)
    team = attribute_values(key="team")
    assert (team.values, team.leads) == ([], 1)
    nothing = attribute_values(key="nope")
    assert (nothing.values, nothing.leads, nothing.sampled) == ([], 0, 8)
    assert attribute_values(key="plan", limit=1).values == [
        AttributeValue("Enterprise", 4)
    ]
    assert attribute_values(key="secret").leads == 0


def test_keys_and_values_of_the_leads_data_are_counted(leads):
    _check_keys_and_values()


@pytest.mark.postgres
def test_postgresql_counts_the_same_in_sql(leads):
    assert connection.vendor == "postgresql"
    _check_keys_and_values()


def test_only_the_newest_leads_are_sampled(leads, monkeypatch):
    monkeypatch.setattr(suggestions, "SAMPLE_LEADS", 3)

    keys = attribute_keys()

    # The three newest not erased: {}, {"plan": ""}, {"plan": "Enterprise"}.
    assert (keys.sampled, keys.keys) == (3, [AttributeKey("plan", "Plan", 2)])
    assert attribute_values(key="plan").values == [AttributeValue("Enterprise", 1)]


def test_with_no_leads_there_is_nothing_to_suggest():
    assert attribute_keys().keys == []
    assert attribute_keys().sampled == 0
    values = attribute_values(key="plan")
    assert (values.values, values.leads, values.sampled) == ([], 0, 0)


@pytest.mark.parametrize(
    ("key", "testable"),
    [
        ("plan", True),
        ("Company_Size__c", True),
        ("a.b", False),
        (" plan", False),
        ("", False),
        ("k" * 89, True),
        ("k" * 90, False),
    ],
)
def test_a_key_is_offered_only_when_a_rule_can_name_it(key, testable):
    assert suggestions.rule_can_test(key) is testable


KEYS = st.sampled_from(["plan", "Plan", "seats", "tier", "a.b"])
SCALARS = st.one_of(
    st.sampled_from(["Gold", "gold", " gold ", "GOLD", "Silver", "", "  ", "x" * 201]),
    st.integers(-3, 3),
    st.sampled_from([2.5, 0.1, -1.25]),
    st.booleans(),
    st.none(),
)
DOCUMENTS = st.dictionaries(
    KEYS, st.one_of(SCALARS, st.lists(SCALARS, max_size=2), st.just({"x": 1}))
)


@pytest.mark.postgres
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(documents=st.lists(DOCUMENTS, max_size=8), limit=st.integers(1, 4))
def test_postgresql_and_python_count_alike(documents, limit):
    with transaction.atomic():
        for document in documents:
            LeadFactory(attributes=document)
        # The SQL counts against the same documents read in Python.
        assert suggestions._keys_pg()[0] == suggestions._keys_python()[0]
        assert sorted(suggestions._keys_pg()[1]) == sorted(
            suggestions._keys_python()[1]
        )
        for key in ("plan", "Plan", "seats", "tier", "a.b", "none"):
            assert suggestions._values_pg(key, limit) == suggestions._values_python(
                key, limit
            )
        transaction.set_rollback(True)
