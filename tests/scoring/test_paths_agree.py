"""The per-lead and bulk scoring paths agree to the last decimal (property test)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leads.models import Account, Lead, StageTransition, Touchpoint
from scoring.bulk import chunk_rescore
from scoring.models import LeadScore, ScoringModel, ScoringRule
from scoring.selectors import model_spec
from scoring.services import lead_rescore

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)
WORDS = ["a", "ab", "B", "abc", " c ", "/pricing", "/Pricing/x", "5", "5.0", "true", ""]
NUMBERS = st.integers(min_value=-5, max_value=6000)
SCALARS = st.one_of(st.sampled_from(WORDS), NUMBERS, st.booleans(), st.none())
ATTRIBUTES = [
    "seniority",
    "country",
    "job_title",
    "attributes.plan",
    "attributes.seats",
    "account.employee_count",
    "account.industry",
    "email_domain",
]
POINTS = st.decimals(min_value=-20, max_value=60, places=2)


def _negated_condition():
    """ "is not" and "is none of": they hold for a blank or missing value too."""
    return st.one_of(
        st.tuples(st.just("not_equals"), st.sampled_from(WORDS) | NUMBERS),
        st.tuples(st.just("none_of"), st.lists(SCALARS, min_size=1, max_size=3)),
    )


def _condition():
    text_ops = st.tuples(
        st.sampled_from(["equals", "contains", "starts_with"]), st.sampled_from(WORDS)
    )
    list_op = st.tuples(st.just("one_of"), st.lists(SCALARS, min_size=1, max_size=3))
    pattern = st.tuples(
        st.just("matches"), st.sampled_from(["^a", "c$", "ab|5", "pric"])
    )
    numeric = st.tuples(st.sampled_from(["at_least", "at_most"]), NUMBERS)
    between = st.tuples(
        st.just("between"),
        st.tuples(NUMBERS, NUMBERS).map(lambda p: sorted(p)),
    )
    empty = st.tuples(st.just("is_empty"), st.none())
    return st.one_of(
        text_ops, list_op, pattern, numeric, between, empty, _negated_condition()
    )


@st.composite
def rules(draw, condition=_condition):
    kind = draw(st.sampled_from(["fit", "engagement", "negative", "disqualifying"]))
    rule = {"kind": kind, "label": f"{kind} rule", "points": draw(POINTS)}
    if kind in ("fit", "disqualifying"):
        operator, value = draw(condition())
        rule |= {
            "attribute": draw(st.sampled_from(ATTRIBUTES)),
            "operator": operator,
            "value": value,
        }
    else:
        rule |= {
            "touchpoint_kind": draw(
                st.sampled_from(["page_view", "email_click", "demo_request"])
            ),
            "max_occurrences": draw(st.none() | st.integers(1, 4)),
            "lookback_days": draw(st.none() | st.integers(0, 60)),
            "half_life_days": draw(st.none() | st.integers(1, 60)),
        }
        if draw(st.booleans()):
            operator, value = draw(condition())
            rule |= {
                "property_name": draw(st.sampled_from(["url", "n"])),
                "property_operator": operator,
                "property_value": value,
            }
    return rule


#: When a lead was recycled (days before NOW) and when its cool-down ends
#: (days after NOW; negative: over; None: no cool-down).
RECYCLED = st.tuples(
    st.floats(min_value=0, max_value=60, allow_nan=False),
    st.none() | st.floats(min_value=-10, max_value=30, allow_nan=False),
)
NEW_OR_RECYCLED = st.none() | RECYCLED


@st.composite
def leads(draw, recycled=NEW_OR_RECYCLED):
    return {
        "seniority": draw(st.sampled_from(["vp", "director", "student", "unknown"])),
        "country": draw(st.sampled_from(["US", "DE", "BR", ""])),
        "job_title": draw(st.sampled_from(WORDS)),
        "attributes": draw(
            st.dictionaries(st.sampled_from(["plan", "seats"]), SCALARS)
        ),
        "employees": draw(st.none() | NUMBERS.filter(lambda n: n >= 0)),
        # None: a new lead; else a nurture lead (see RECYCLED).
        "recycled": draw(recycled),
        "touches": draw(
            st.lists(
                st.tuples(
                    # demo_request and cart_add are high-intent kinds.
                    st.sampled_from(
                        ["page_view", "email_click", "demo_request", "chat", "cart_add"]
                    ),
                    st.floats(min_value=-0.5, max_value=100, allow_nan=False),
                    st.dictionaries(st.sampled_from(["url", "n"]), SCALARS),
                ),
                max_size=8,
            )
        ),
    }


def _build(rule_dicts, lead_dicts):
    ScoringModel.objects.update(status="archived")
    model = ScoringModel.objects.create(
        name="Random",
        version=99,
        status="active",
        mql_threshold=Decimal("30"),
        default_half_life_days=20,
    )
    for position, rule in enumerate(rule_dicts):
        ScoringRule.objects.create(model=model, position=position, **rule)
    ids = []
    for n, data in enumerate(lead_dicts):
        account = Account.objects.create(
            name=f"Co {n}",
            domain=f"co{n}.example",
            employee_count=data["employees"],
            industry="software",
        )
        recycled = {}
        if data["recycled"] is not None:
            days_ago, hold_days = data["recycled"]
            recycled = {
                "stage": "nurture",
                "stage_changed_at": NOW - dt.timedelta(days=days_ago),
                "recycle_until": (
                    None if hold_days is None else NOW + dt.timedelta(days=hold_days)
                ),
            }
        lead = Lead.objects.create(
            email=f"p{n}@co{n}.example",
            account=account,
            seniority=data["seniority"],
            country=data["country"],
            job_title=data["job_title"],
            attributes=data["attributes"],
            **recycled,
        )
        Touchpoint.objects.bulk_create(
            Touchpoint(
                lead=lead,
                kind_id=kind,
                occurred_at=NOW - dt.timedelta(days=age),
                properties=props,
            )
            for kind, age, props in data["touches"]
        )
        ids.append(lead.id)
    return model, ids


def _snapshot(ids):
    scores = {
        s.lead_id: (
            s.total,
            s.fit_score,
            s.engagement_score,
            s.grade,
            s.breakdown,
            s.gated_by,
        )
        for s in LeadScore.objects.filter(lead_id__in=ids)
    }
    stages = dict(Lead.objects.filter(id__in=ids).values_list("id", "stage"))
    moves = list(
        StageTransition.objects.filter(lead_id__in=ids)
        .order_by("lead_id", "id")
        .values_list("lead_id", "from_stage", "to_stage", "reason", "at")
    )
    columns = list(
        Lead.objects.filter(id__in=ids)
        .order_by("id")
        .values_list("score", "fit_score", "engagement_score", "grade")
    )
    return scores, stages, columns, moves


@pytest.mark.django_db
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    rule_dicts=st.lists(rules(), min_size=1, max_size=6),
    lead_dicts=st.lists(leads(), min_size=1, max_size=4),
)
def test_per_lead_and_bulk_paths_agree(rule_dicts, lead_dicts):
    with transaction.atomic():
        model, ids = _build(rule_dicts, lead_dicts)
        spec = model_spec(model)
        with transaction.atomic():
            for lead_id in ids:
                lead_rescore(lead_id=lead_id, model=model, spec=spec, now=NOW)
            per_lead = _snapshot(ids)
            transaction.set_rollback(True)
        chunk_rescore(model=model, spec=spec, low=min(ids), high=max(ids) + 1, now=NOW)
        bulk = _snapshot(ids)
        transaction.set_rollback(True)
    assert bulk == per_lead
    assert len(bulk[0]) == len(ids)


#: A model under which about half the random leads qualify (by country), so
#: the recycle holds of the random leads decide most promotions.
QUALIFYING_RULES = [
    {
        "kind": "fit",
        "label": "In market",
        "points": Decimal("30"),
        "attribute": "country",
        "operator": "one_of",
        "value": ["US", "DE"],
    },
    {
        "kind": "engagement",
        "label": "Demo request",
        "points": Decimal("10"),
        "touchpoint_kind": "demo_request",
    },
]


@pytest.mark.django_db
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(lead_dicts=st.lists(leads(recycled=RECYCLED), min_size=1, max_size=6))
def test_per_lead_and_bulk_paths_agree_on_recycle_holds(lead_dicts):
    test_per_lead_and_bulk_paths_agree.hypothesis.inner_test(
        rule_dicts=QUALIFYING_RULES, lead_dicts=lead_dicts
    )


@pytest.mark.postgres
@pytest.mark.django_db
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    rule_dicts=st.lists(rules(condition=_negated_condition), min_size=1, max_size=6),
    lead_dicts=st.lists(leads(), min_size=1, max_size=4),
)
def test_the_paths_agree_on_is_not_and_none_of_on_postgresql(rule_dicts, lead_dicts):
    # On PostgreSQL the bulk path reads attributes and properties as jsonb
    # (a missing key and a JSON null both arrive as None), where "is not"
    # and "is none of" hold: the same leads must score the same on both paths.
    test_per_lead_and_bulk_paths_agree.hypothesis.inner_test(
        rule_dicts=rule_dicts, lead_dicts=lead_dicts
    )
