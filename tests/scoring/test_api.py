"""REST API of scoring models: read with rules, publish (202, 409), permissions."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from rest_framework.test import APIClient

from crm.roles import ADMIN, MARKETING, SALES, SDR
from scoring.models import LeadScore, ScoringModel, ScoringRule
from scoring.selectors import model_active
from tests.clients import token_client
from tests.factories import LeadFactory, UserFactory

pytestmark = pytest.mark.django_db

MODELS = "/api/v1/scoring-models/"


def client_for(role: str) -> APIClient:
    return token_client(UserFactory(username=f"{role.lower()}-api", roles=[role]))


def _state() -> list[tuple]:
    return list(
        ScoringModel.objects.order_by("id").values_list(
            "id", "status", "published_at", "rescore_total"
        )
    )


@pytest.mark.parametrize("role", [MARKETING, SDR, SALES, ADMIN])
def test_every_role_lists_the_models(role, draft):
    response = client_for(role).get(MODELS)

    assert response.status_code == 200
    assert [
        (m["name"], m["version"], m["status"], m["rules_count"])
        for m in response.json()["results"]
    ] == [("Default", 2, "draft", 11), ("Default", 1, "active", 11)]


def test_a_model_in_the_list_has_its_settings_and_progress(api):
    active = model_active()

    (item,) = api.get(MODELS).json()["results"]

    assert item == {
        "id": active.id,
        "name": "Default",
        "version": 1,
        "status": "active",
        "mql_threshold": "60.00",
        "min_fit_score": None,
        "default_half_life_days": 30,
        "grade_a_min": "20.00",
        "grade_b_min": "15.00",
        "grade_c_min": "8.00",
        "notes": "Created with Leadflow: scores what leads do, with no market or "
        "industry gate. Clone it into a draft to fit it to your business.",
        "created_at": item["created_at"],
        "published_at": item["published_at"],
        "published_by": None,
        "rules_count": 11,
        "progress": {
            "state": "none",
            "total": 0,
            "done": 0,
            "percent": 0,
            "finished_at": None,
            "failed_at": None,
            "error": "",
        },
    }
    assert "rules" not in item


def test_one_model_comes_with_its_rules_in_order(api):
    active = model_active()

    body = api.get(f"{MODELS}{active.id}/").json()

    assert len(body["rules"]) == 11
    assert [r["position"] for r in body["rules"]] == list(range(1, 12))
    assert body["rules"][0] == {
        "id": body["rules"][0]["id"],
        "position": 1,
        "kind": "fit",
        "label": "Decision maker: C-level or VP",
        "points": "20.00",
        "attribute": "seniority",
        "operator": "one_of",
        "value": ["executive", "vp"],
        "touchpoint_kind": "",
        "property_name": "",
        "property_operator": "",
        "property_value": None,
        "max_occurrences": None,
        "lookback_days": None,
        "half_life_days": None,
    }
    assert body["rules"][5]["label"] == "Pricing page view"
    assert (
        body["rules"][5]["property_name"],
        body["rules"][5]["property_operator"],
        body["rules"][5]["property_value"],
        body["rules"][5]["max_occurrences"],
    ) == ("url", "contains", "/pricing", 3)


def test_an_unknown_model_is_404(api):
    assert api.get(f"{MODELS}999999/").status_code == 404
    assert api.post(f"{MODELS}999999/publish/").status_code == 404


def test_publish_answers_202_with_the_model_and_its_progress(
    api, marketer, draft, django_capture_on_commit_callbacks
):
    LeadFactory.create_batch(3)
    old = model_active()
    ScoringRule.objects.filter(model=draft, label="Manager").update(points=9)

    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"{MODELS}{draft.id}/publish/")

    assert response.status_code == 202
    body = response.json()
    assert (body["id"], body["status"], body["published_by"]) == (
        draft.id,
        "active",
        "maya",
    )
    assert len(body["rules"]) == 11
    # The rescore runs after the commit; the answer shows where it stood then.
    assert body["progress"] == {
        "state": "running",
        "total": 3,
        "done": 0,
        "percent": 0,
        "finished_at": None,
        "failed_at": None,
        "error": "",
    }
    assert ScoringModel.objects.get(id=old.id).status == "archived"
    assert LeadScore.objects.filter(model=draft).count() == 3
    progress = api.get(f"{MODELS}{draft.id}/").json()["progress"]
    assert (progress["state"], progress["done"], progress["percent"]) == (
        "finished",
        3,
        100,
    )


@pytest.mark.parametrize(
    ("status", "message"),
    [
        ("active", "Only a draft can be published; this model is active."),
        ("archived", "Only a draft can be published; this model is archived."),
    ],
)
def test_publishing_a_model_that_is_not_a_draft_is_a_conflict(api, status, message):
    model = model_active()
    if status == "archived":
        model = ScoringModel.objects.create(name="Old", version=1, status="archived")
    before = _state()

    response = api.post(f"{MODELS}{model.id}/publish/")

    assert (response.status_code, response.json()) == (409, {"detail": message})
    assert _state() == before


def test_publishing_an_empty_draft_is_a_conflict(api):
    empty = ScoringModel.objects.create(name="Empty", version=1)
    before = _state()

    response = api.post(f"{MODELS}{empty.id}/publish/")

    assert (response.status_code, response.json()) == (
        409,
        {"detail": "Add at least one rule before publishing."},
    )
    assert _state() == before


@pytest.mark.parametrize("role", [SDR, SALES])
def test_roles_that_only_read_may_not_publish(role, draft):
    before = _state()

    response = client_for(role).post(f"{MODELS}{draft.id}/publish/")

    assert response.status_code == 403
    assert _state() == before


def test_publish_needs_the_change_permission_not_add(draft):
    # A user who may add models but not change them: publishing changes one.
    user = UserFactory(username="adder")
    user.user_permissions.add(
        *Permission.objects.filter(
            codename__in=["view_scoringmodel", "add_scoringmodel"]
        )
    )
    before = _state()

    response = token_client(user).post(f"{MODELS}{draft.id}/publish/")

    assert response.status_code == 403
    assert _state() == before


def test_without_credentials_the_api_answers_401(draft):
    client = APIClient()
    assert client.get(MODELS).status_code == 401
    assert client.post(f"{MODELS}{draft.id}/publish/").status_code == 401
    assert ScoringModel.objects.get(id=draft.id).status == "draft"


def test_models_cannot_be_written_through_the_api(api, draft):
    response = api.patch(f"{MODELS}{draft.id}/", {"mql_threshold": "1"}, format="json")
    assert response.status_code == 405
    assert ScoringModel.objects.get(id=draft.id).mql_threshold == Decimal("60.00")


def test_the_schema_documents_publish_and_its_conflict(api):
    schema = api.get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()

    publish = schema["paths"]["/api/v1/scoring-models/{id}/publish/"]["post"]
    assert sorted(publish["responses"]) == ["202", "401", "403", "404", "409"]


def test_publishing_with_no_leads_is_finished_at_once(
    api, draft, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"{MODELS}{draft.id}/publish/")

    progress = response.json()["progress"]
    assert (progress["state"], progress["total"], progress["percent"]) == (
        "finished",
        0,
        100,
    )


# The rule editor's suggestions
# ------------------------------------------------------------------------------

KEYS = "/api/v1/scoring/attribute-keys/"


def _attribute_data() -> None:
    for attributes in (
        {"plan": "Enterprise", "seats": 5},
        {"plan": "enterprise", "seats": 5},
        {"plan": "Starter"},
        {"tier.level": "gold"},
    ):
        LeadFactory(attributes=attributes)


@pytest.mark.parametrize("role", [MARKETING, ADMIN])
def test_marketing_and_admin_get_the_attribute_keys_with_counts(role):
    _attribute_data()

    response = client_for(role).get(KEYS)

    assert response.status_code == 200
    # "tier.level" has a dot: a rule cannot name it, so it is not offered.
    assert response.json() == {
        "keys": [
            {"key": "plan", "label": "Plan", "path": "attributes.plan", "leads": 3},
            {"key": "seats", "label": "Seats", "path": "attributes.seats", "leads": 2},
        ],
        "sampled": 4,
    }


def test_the_values_of_a_key_come_most_frequent_first(api):
    _attribute_data()

    response = api.get(f"{KEYS}plan/values/")

    assert response.status_code == 200
    assert response.json() == {
        "key": "plan",
        "label": "Plan",
        "values": [
            {"value": "Enterprise", "leads": 2},
            {"value": "Starter", "leads": 1},
        ],
        "leads": 3,
        "sampled": 4,
    }
    assert api.get(f"{KEYS}attributes.seats/values/").json()["values"] == [
        {"value": "5", "leads": 2}
    ]
    assert api.get(f"{KEYS}unknown/values/").json()["values"] == []


def test_a_key_a_rule_cannot_name_is_refused_with_the_reason(api):
    response = api.get(f"{KEYS}tier.level/values/")

    assert response.status_code == 400
    assert response.json() == {
        "detail": "“tier.level” is not a key a rule can test: use a key without "
        "dots or surrounding spaces, of at most 89 characters, such as plan."
    }


@pytest.mark.parametrize("role", [SDR, SALES])
def test_roles_that_do_not_edit_rules_get_no_suggestions(role):
    client = client_for(role)

    assert client.get(KEYS).status_code == 403
    assert client.get(f"{KEYS}plan/values/").status_code == 403
    assert APIClient().get(KEYS).status_code == 401


def test_the_schema_documents_the_suggestions(api):
    schema = api.get("/api/v1/schema/", HTTP_ACCEPT="application/json").json()

    keys = schema["paths"]["/api/v1/scoring/attribute-keys/"]["get"]
    values = schema["paths"]["/api/v1/scoring/attribute-keys/{key}/values/"]["get"]
    assert sorted(keys["responses"]) == ["200", "401", "403"]
    assert sorted(values["responses"]) == ["200", "400", "401", "403", "404"]
    operators = schema["components"]["schemas"]["ScoringRuleOperatorEnum"]["enum"]
    assert {"not_equals", "none_of"} <= set(operators)
