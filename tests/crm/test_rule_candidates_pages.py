"""Candidate rules on the rule analytics page and in its API, and adding one
to a draft (POST /scoring/analytics/candidates/add/), on the hand-built world
of ``rule_candidates_data``."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.cache import cache
from django.test import Client

from crm.roles import MARKETING, SALES, SDR
from handoff.models import SalesProfile
from leads.models import AuditEvent, Lead
from scoring.models import ScoringModel, ScoringRule
from scoring.services import model_clone
from tests.clients import token_client
from tests.crm.rule_candidates_data import build
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_counted_figures():
    """Counted figures are cached by model id, which tests reuse."""
    cache.clear()
    yield
    cache.clear()


PAGE = "/scoring/analytics/"
ADD = "/scoring/analytics/candidates/add/"
URL = "/api/v1/reports/rules/"
JANUARY = {
    "period": "custom",
    "date_from": "2026-01-01",
    "date_to": "2026-01-31",
    "min_support": "3",
}


@pytest.fixture
def world():
    return build()


@pytest.fixture
def marketer_client(client):
    client.force_login(UserFactory(roles=[MARKETING]))
    return client


def _text(response) -> str:
    return response.content.decode()


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


def _snapshot() -> tuple:
    """What adding a rule could change: models, rules and rule_edit rows."""
    return (
        sorted(ScoringModel.objects.values_list("id", "status", "version")),
        sorted(ScoringRule.objects.values_list("id", "model_id", "label", "points")),
        AuditEvent.objects.filter(action=AuditEvent.Action.RULE_EDIT).count(),
    )


def test_the_page_lists_the_candidates_with_their_buttons(marketer_client, world):
    response = marketer_client.get(PAGE, JANUARY)

    assert response.status_code == 200
    text = _text(response)
    assert 'id="candidates-title">Candidate rules</h2>' in text
    report = response.context["candidates"]
    assert report.min_support == 3
    assert len(report.candidates) == 21
    assert report.candidates[0].key == "touch_often:demo_request"
    # An addable candidate no rule of the active model tests: a form with the
    # page's choices and its key.
    assert text.count('action="/scoring/analytics/candidates/add/"') == sum(
        1 for c in report.candidates if c.addable and not c.covered_by
    )
    assert 'value="touch:demo_request"' not in text
    assert '<input type="hidden" name="candidate" value="attribute:plan:pro">' in text
    assert '<input type="hidden" name="min_support" value="3">' in text
    # One the rule language cannot say: why in short (the whole on hover).
    assert (
        '<span class="muted small" title="A rule adds points for every touchpoint '
        "it counts; the rule language has no “3 or more times” condition. Add the "
        'kind&#x27;s own candidate, or a rule on the kind in the editor.">'
        "No “3+ times” rule</span>"
    ) in text
    assert 'value="touch_often:demo_request"' not in text
    # Tested by a rule of the active model.
    assert 'in the model</span><span class="ra-sub">VP</span>' in text
    assert "at least <strong>3</strong> leads" in text


def test_a_manager_reads_the_candidates_without_buttons(client, world):
    manager = UserFactory(roles=[SALES])
    SalesProfile.objects.create(user=manager, is_manager=True)
    client.force_login(manager)

    response = client.get(PAGE, JANUARY)

    assert response.status_code == 200
    assert "attributes.plan is “pro”" in _text(response)
    assert 'action="/scoring/analytics/candidates/add/"' not in _text(response)


def test_the_default_minimum_support_is_shown(marketer_client, world):
    response = marketer_client.get(PAGE, JANUARY | {"min_support": ""})

    assert response.context["candidates"].min_support == 30
    assert "No condition holds for 30 or more of the period" in _text(response)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1", "The minimum support is at least 2 leads."),
        ("many", "Enter the minimum support as a whole number of leads."),
        ("1000001", "The minimum support is at most 1,000,000."),
    ],
)
def test_a_bad_minimum_support_says_what_to_fix(marketer_client, world, value, message):
    response = marketer_client.get(PAGE, JANUARY | {"min_support": value})

    assert response.status_code == 400
    assert message in _text(response)


def test_adding_a_candidate_clones_the_active_model_into_a_draft(
    marketer_client, world
):
    before = ScoringModel.objects.count()

    response = marketer_client.post(
        ADD, JANUARY | {"candidate": "attribute:plan:pro"}, follow=True
    )

    assert response.redirect_chain == [
        (
            PAGE + "?period=custom&date_from=2026-01-01&date_to=2026-01-31"
            "&min_support=3#candidates",
            302,
        )
    ]
    assert ScoringModel.objects.count() == before + 1
    draft = ScoringModel.objects.get(status=ScoringModel.Status.DRAFT)
    assert (draft.name, draft.version) == ("Cand", 2)
    rules = list(draft.rules.order_by("position"))
    assert [r.label for r in rules] == [
        "VP",
        "Demo",
        "Mid-size",
        "Many seats",
        "attributes.plan is “pro”",
    ]
    added = rules[-1]
    assert (added.kind, added.attribute, added.operator, added.value) == (
        "fit",
        "attributes.plan",
        "equals",
        "pro",
    )
    # round(10 ln 1.3860) = 3.
    assert added.points == Decimal(3)
    assert _messages(response) == [
        "Rule “attributes.plan is “pro”” added with 3 points to draft "
        f'<a href="/scoring/{draft.id}/">Cand v2</a> (a new draft, cloned from '
        "the active model). Review it there; publishing the draft puts it to work."
    ]
    # The active model is as it was.
    assert world.model.rules.count() == 4
    ops = [
        e.details["op"]
        for e in AuditEvent.objects.filter(action=AuditEvent.Action.RULE_EDIT)
    ]
    assert sorted(ops) == ["clone", "create"]


def test_adding_a_candidate_goes_to_the_newest_draft(marketer_client, world):
    older = model_clone(model=world.model)
    newest = model_clone(model=world.model)

    response = marketer_client.post(
        ADD, JANUARY | {"candidate": "field:seniority:director"}, follow=True
    )

    assert ScoringModel.objects.filter(status=ScoringModel.Status.DRAFT).count() == 2
    added = newest.rules.get(label="Seniority is Director / head of")
    assert (added.position, added.operator, added.value) == (5, "equals", "director")
    # A lift clearly below 1: round(10 ln 0.7215) = -3.
    assert added.points == Decimal(-3)
    assert older.rules.count() == 4
    assert "(a new draft" not in _messages(response)[0]
    assert f'<a href="/scoring/{newest.id}/">Cand v3</a>' in _messages(response)[0]


def test_a_touchpoint_candidate_becomes_an_engagement_rule(marketer_client, world):
    # The active model's "Demo" would already count it: take it out of the draft.
    draft = model_clone(model=world.model)
    draft.rules.filter(label="Demo").delete()

    marketer_client.post(ADD, JANUARY | {"candidate": "touch:demo_request"})

    added = draft.rules.get(touchpoint_kind="demo_request")
    assert (added.label, added.kind, added.max_occurrences, added.points) == (
        "Demo request, counted once",
        "engagement",
        1,
        Decimal(3),
    )


def test_a_touchpoint_candidate_with_a_lift_below_1_becomes_a_negative_rule(
    marketer_client, world
):
    marketer_client.post(ADD, JANUARY | {"candidate": "touch:page_view"})

    draft = ScoringModel.objects.get(status=ScoringModel.Status.DRAFT)
    added = draft.rules.get(touchpoint_kind="page_view")
    # 1/10 against 9/10: round(10 ln 0.7215) = -3.
    assert (added.label, added.kind, added.max_occurrences, added.points) == (
        "Page view, counted once",
        "negative",
        1,
        Decimal(-3),
    )


@pytest.mark.parametrize(
    ("key", "message"),
    [
        (
            "bogus",
            "The rule was not added. That is not a candidate rule; reload the "
            "page and pick one from the list.",
        ),
        (
            "attribute:plan:gold",
            "The rule was not added. This candidate is no longer among the "
            "period's candidates (the figures changed since the page was "
            "counted); reload the page.",
        ),
        (
            "touch_often:demo_request",
            "The rule was not added. “Did “Demo request” 3+ times in the period” "
            "cannot be added. A rule adds points for every touchpoint it counts; "
            "the rule language has no “3 or more times” condition. Add the kind's "
            "own candidate, or a rule on the kind in the editor.",
        ),
        (
            "number:seats:15:20",
            "The rule was not added. “attributes.seats is 15 to 20” cannot be "
            "added. No clear lift of reaching SQL (its interval holds 1, or has "
            "no end).",
        ),
        (
            # The draft cloned for it already has "VP": the clone is undone too.
            "field:seniority:vp",
            "The rule was not added. The active model already tests “Seniority "
            "is Vice president” with the rule “VP”, so a draft cloned from it "
            "would too; change that rule in a draft instead.",
        ),
        (
            "attribute:crm.version:7",
            "The rule was not added. “attributes.crm.version is “7”” cannot be "
            "added. A rule reads a dot in an attribute's name as a nested value.",
        ),
    ],
)
def test_a_candidate_that_cannot_be_added_is_refused_and_nothing_is_written(
    marketer_client, world, key, message
):
    before = _snapshot()

    response = marketer_client.post(ADD, JANUARY | {"candidate": key}, follow=True)

    assert response.status_code == 200
    assert _messages(response) == [message]
    assert _snapshot() == before


def test_a_candidate_of_a_bigger_support_is_stale_at_a_smaller_page(
    marketer_client, world
):
    """Seats 10-14 has 5 leads: not a candidate at a minimum support of 10."""
    before = _snapshot()

    response = marketer_client.post(
        ADD,
        JANUARY | {"min_support": "10", "candidate": "number:seats:10:14"},
        follow=True,
    )

    assert "no longer among the period's candidates" in _messages(response)[0]
    assert _snapshot() == before


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"candidate": ""}, "Pick a candidate rule to add."),
        ({"min_support": "0"}, "The minimum support is at least 2 leads."),
        ({"date_from": "soon"}, "Enter a date like 2026-01-31."),
    ],
)
def test_a_malformed_request_is_refused_with_what_to_fix(
    marketer_client, world, change, message
):
    before = _snapshot()

    response = marketer_client.post(ADD, JANUARY | change | {"candidate": "x"} | change)
    response = marketer_client.get(response["Location"])

    assert message in _messages(response)[0]
    assert _messages(response)[0].startswith("The rule was not added:")
    assert _snapshot() == before


@pytest.mark.parametrize("role", [SDR, SALES])
def test_only_marketing_adds_a_candidate(client, world, role):
    user = UserFactory(roles=[role])
    if role == SALES:
        SalesProfile.objects.create(user=user, is_manager=True)
    client.force_login(user)
    before = _snapshot()

    response = client.post(ADD, JANUARY | {"candidate": "attribute:plan:pro"})

    assert response.status_code == 403
    assert _snapshot() == before


def test_adding_needs_a_post_with_the_csrf_token(world):
    client = Client(enforce_csrf_checks=True)
    client.force_login(UserFactory(roles=[MARKETING]))
    before = _snapshot()

    assert client.get(ADD, JANUARY).status_code == 405
    response = client.post(ADD, JANUARY | {"candidate": "attribute:plan:pro"})

    assert response.status_code == 403
    assert _snapshot() == before


def test_a_candidate_the_newest_draft_already_tests_is_refused(marketer_client, world):
    draft = model_clone(model=world.model)
    before = _snapshot()

    response = marketer_client.post(
        ADD, JANUARY | {"candidate": "number:seats:10:14"}, follow=True
    )

    # The active model's "Many seats" misses 10-14; the draft's own rule not.
    assert response.status_code == 200
    assert _snapshot() != before
    marketer_client.post(ADD, JANUARY | {"candidate": "number:seats:10:14"})
    again = marketer_client.get(PAGE, JANUARY)
    assert _messages(again) == [
        "The rule was not added. Draft Cand v2 already tests “attributes.seats is "
        "10 to 14” with the rule “attributes.seats is 10 to 14”; change that rule "
        "in the draft instead."
    ]
    added = draft.rules.get(label="attributes.seats is 10 to 14")
    assert (added.attribute, added.operator, added.value, added.points) == (
        "attributes.seats",
        "between",
        [10, 14],
        Decimal(4),
    )


def test_the_api_lists_the_candidates(world):
    api = token_client(UserFactory(roles=[MARKETING]))

    body = api.get(
        URL, {"start": "2026-01-01", "end": "2026-02-01", "min_support": 3}
    ).json()

    candidates = body["candidates"]
    assert candidates["min_support"] == 3
    assert len(candidates["candidates"]) == 21
    pro = next(c for c in candidates["candidates"] if c["key"] == "attribute:plan:pro")
    assert pro["leads"] == 10
    assert pro["rest"] == 10
    assert pro["sql"]["fired"] == {
        "hits": 9,
        "total": 10,
        "rate": 0.9,
        "low": pytest.approx(0.5958, abs=5e-5),
        "high": pytest.approx(0.9821, abs=5e-5),
    }
    assert pro["sql"]["lift"]["value"] == pytest.approx(9)
    assert pro["sql"]["lift"]["low"] == pytest.approx(1.3860, abs=5e-5)
    assert pro["suggested_points"] == 3
    assert pro["addable"] is True
    assert pro["covered_by"] == []
    assert pro["rule"] == {
        "kind": "fit",
        "label": "attributes.plan is “pro”",
        "attribute": "attributes.plan",
        "operator": "equals",
        "value": "pro",
    }
    often = candidates["candidates"][0]
    assert often["key"] == "touch_often:demo_request"
    assert often["rule"] is None
    assert often["addable"] is False
    assert often["covered_by"] == ["Demo"]


def test_the_api_refuses_a_bad_minimum_support(world):
    api = token_client(UserFactory(roles=[MARKETING]))

    response = api.get(
        URL, {"start": "2026-01-01", "end": "2026-02-01", "min_support": 0}
    )

    assert response.status_code == 400
    assert "min_support" in response.json()


def test_past_the_first_candidates_the_rest_are_one_click_away(
    marketer_client, world, monkeypatch
):
    monkeypatch.setattr("crm.rule_analytics_views.CANDIDATES_SHOWN", 5)

    response = marketer_client.get(PAGE, JANUARY)

    first, rest = response.context["candidate_rows"]
    assert [c.key for c in first + rest] == [
        c.key for c in response.context["candidates"].candidates
    ]
    assert len(first) == 5
    text = _text(response)
    assert "<summary>16 more candidates, by the same order</summary>" in text
    # The rest load when opened.
    assert 'id="candidate-table-more"' not in text
    assert (
        'hx-get="/scoring/analytics/candidates/?period=custom&amp;date_from=2026-01-01'
        '&amp;date_to=2026-01-31&amp;min_support=3&amp;part=more" '
        'hx-trigger="toggle once"'
    ) in text
    more = marketer_client.get(
        "/scoring/analytics/candidates/", JANUARY | {"part": "more"}
    )
    assert more.status_code == 200
    more_text = _text(more)
    assert 'id="candidate-table-more"' in more_text
    assert more_text.count("<tr data-candidate=") == 16
    assert f'data-candidate="{rest[0].key}"' in more_text
    assert f'data-candidate="{first[0].key}"' not in more_text


def test_negative_suggested_points_carry_a_real_minus(marketer_client, world):
    response = marketer_client.get(PAGE, JANUARY)

    text = _text(response)
    row = text[text.index('data-candidate="field:seniority:director"') :]
    assert '<td class="num">\u22123</td>' in row[: row.index("</tr>")]


def test_a_value_with_markup_is_shown_as_text_on_the_page_and_in_the_message(
    marketer_client, world
):
    for lead in world.leads["P1b"]:
        Lead.objects.filter(id=lead.id).update(
            attributes={**lead.attributes, "tag": "<b>hot</b>"}
        )

    page = _text(marketer_client.get(PAGE, JANUARY))
    response = marketer_client.post(
        ADD, JANUARY | {"candidate": "attribute:tag:<b>hot</b>"}, follow=True
    )

    assert "attributes.tag is “&lt;b&gt;hot&lt;/b&gt;”" in page
    assert "<b>hot</b>" not in page
    [message] = _messages(response)
    assert message.startswith(
        "Rule “attributes.tag is “&lt;b&gt;hot&lt;/b&gt;”” added with "
    )
