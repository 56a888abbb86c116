"""The rule analytics page (/scoring/analytics/) and its API
(GET /api/v1/reports/rules/): who reads them, what they show of the
hand-built world, and the 400s that say what to fix."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from crm.roles import ADMIN, MARKETING, SALES, SDR
from handoff.models import SalesProfile
from scoring.models import ScoringModel
from tests.clients import token_client
from tests.crm.rule_analytics_data import build
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_counted_figures():
    """Counted figures are cached by model id, which tests reuse."""
    cache.clear()
    yield
    cache.clear()


PAGE = "/scoring/analytics/"
URL = "/api/v1/reports/rules/"
JAN = {"start": "2026-01-01", "end": "2026-02-01"}
JANUARY = {"period": "custom", "date_from": "2026-01-01", "date_to": "2026-01-31"}


@pytest.fixture
def world():
    return build()


def _manager(role: str):
    user = UserFactory(roles=[role])
    SalesProfile.objects.create(user=user, is_manager=True)
    return user


def _text(response) -> str:
    return response.content.decode()


@pytest.mark.parametrize("role", [MARKETING, ADMIN])
def test_marketing_and_admin_read_the_page_from_the_navigation(client, world, role):
    client.force_login(UserFactory(roles=[role]))

    response = client.get(PAGE, JANUARY | {"model": world.model.id})

    assert response.status_code == 200
    text = _text(response)
    assert 'id="nav-rule_analytics"' in text
    # The model is archived: no lead list links.
    assert '<span class="stat-value" id="stat-leads">10</span>' in text
    assert '<span class="stat-value" id="stat-auc-sql">0.92</span>' in text
    assert '<span class="stat-value" id="stat-precision">75.0%</span>' in text
    assert f'id="rule-{world.rules["dir"].id}"' in text
    assert "Wants to revisit after the budget review" in text
    spring = world.campaigns["spring"]
    assert f'<a href="/campaigns/{spring.id}/">Spring webinar</a>' in text
    assert 'id="analytics-charts"' in text


@pytest.mark.parametrize("role", [SDR, SALES])
def test_a_manager_reads_the_page(client, world, role):
    client.force_login(_manager(role))

    assert client.get(PAGE, JANUARY).status_code == 200


@pytest.mark.parametrize("role", [SDR, SALES])
def test_sdrs_and_reps_may_not(client, world, role):
    client.force_login(UserFactory(roles=[role]))

    assert client.get(PAGE).status_code == 403


def test_anonymous_people_log_in_first(client):
    response = client.get(PAGE)

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_the_active_model_is_the_default(client, world, marketer_client):
    active = ScoringModel.objects.get(status=ScoringModel.Status.ACTIVE)

    response = marketer_client.get(PAGE, JANUARY)

    assert response.status_code == 200
    assert response.context["report"].model == active
    # The hand-built leads have no score under it.
    assert response.context["report"].leads == 0


def test_the_lead_list_links_are_for_the_active_model_only(marketer_client, world):
    archived = marketer_client.get(PAGE, JANUARY | {"model": world.model.id})
    ScoringModel.objects.filter(status=ScoringModel.Status.ACTIVE).update(
        status=ScoringModel.Status.ARCHIVED
    )
    ScoringModel.objects.filter(id=world.model.id).update(
        status=ScoringModel.Status.ACTIVE
    )
    active = marketer_client.get(PAGE, JANUARY | {"model": world.model.id})

    assert [link for _, link in archived.context["bands"]] == [None] * 5
    assert archived.context["lead_links"] == {}
    assert active.context["lead_links"] == {
        "leads": "/leads/?created_from=2026-01-01&created_to=2026-01-31",
        "sqls": "/leads/?created_from=2026-01-01&created_to=2026-01-31&reached=sql",
        "customers": "/leads/?created_from=2026-01-01&created_to=2026-01-31"
        "&reached=customer",
    }
    assert next(link for _, link in active.context["bands"]) == (
        "/leads/?created_from=2026-01-01&created_to=2026-01-31&reached=mql"
        "&score_min=10&score_max=19.99"
    )


def test_the_feedback_search_keeps_the_period_and_model(marketer_client, world):
    response = marketer_client.get(
        PAGE, JANUARY | {"model": world.model.id, "q": "intern"}
    )

    text = _text(response)
    assert [line.text for line in response.context["report"].feedback] == [
        "Intern, not the buyer"
    ]
    assert f'<input type="hidden" name="model" value="{world.model.id}">' in text
    assert '<input type="hidden" name="date_from" value="2026-01-01">' in text
    assert f'href="/handoffs/{world.handoffs["L6"].id}/"' in text


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"period": "year"}, "Pick this month, this quarter"),
        ({"period": "custom", "date_from": "2026-02-01"}, "Give both a from and a to"),
        ({"model": "999999"}, "Pick the active model or one published before it."),
        ({"model": "x"}, "Pick the active model or one published before it."),
        ({"q": "a\x00b"}, "contains a NUL byte"),
        ({"q": "x" * 201}, "Search for at most 200 characters."),
    ],
)
def test_bad_choices_show_what_to_fix(marketer_client, world, params, message):
    response = marketer_client.get(PAGE, params)

    assert response.status_code == 400
    assert message in _text(response)
    assert "report" not in (response.context or {})


def test_a_draft_model_is_not_offered(marketer_client, world):
    draft = ScoringModel.objects.create(name="Draft", version=1)

    response = marketer_client.get(PAGE, {"model": draft.id})

    assert response.status_code == 400


def test_without_an_active_model_the_page_says_so(marketer_client):
    ScoringModel.objects.filter(status=ScoringModel.Status.ACTIVE).update(
        status=ScoringModel.Status.ARCHIVED
    )

    response = marketer_client.get(PAGE)

    assert response.status_code == 200
    assert 'id="no-model"' in _text(response)


# The API ----------------------------------------------------------------------


def test_the_api_serves_the_same_figures(api, world):
    response = api.get(
        URL, {"start": "2026-01-01", "end": "2026-02-01", "model": world.model.id}
    )

    assert response.status_code == 200
    body = response.json()
    assert body["model"] == {
        "id": world.model.id,
        "name": "Hand v1",
        "status": "archived",
    }
    assert (body["leads"], body["median_points"]) == (10, "20.00")
    director = body["rules"][0]
    assert (director["id"], director["label"], director["points"]) == (
        world.rules["dir"].id,
        "Director",
        "30.00",
    )
    assert (director["fired"], director["not_fired"], director["weight"]) == (4, 6, "")
    sql = director["sql"]
    assert (sql["fired"]["hits"], sql["fired"]["total"], sql["fired"]["rate"]) == (
        3,
        4,
        0.75,
    )
    assert sql["fired"]["low"] == pytest.approx(0.3006, abs=5e-5)
    assert sql["lift"]["value"] == pytest.approx(4.5)
    assert sql["lift"]["low"] == pytest.approx(0.6890, abs=5e-5)
    assert director["customer"]["lift"] == {"value": None, "low": None, "high": None}
    quality = body["score_quality"]
    assert quality["auc_sql"] == pytest.approx(11 / 12)
    assert (quality["mql_threshold"], quality["auc_customer"]) == ("30.00", 1.0)
    assert quality["bands"][0] == {
        "low": "10.00",
        "high": "19.99",
        "mql_to_sql": {
            "hits": 0,
            "total": 1,
            "rate": 0.0,
            "low": 0.0,
            "high": pytest.approx(0.7935, abs=5e-5),
        },
    }
    week = next(t for t in body["rejections"] if t["dimension"] == "week")
    assert [r["code"] for r in week["reasons"]] == [
        "hand-no-budget",
        "hand-wrong-person",
        "hand-not-ready",
    ]
    assert week["rows"] == [
        {
            "key": "2026-01-12",
            "label": "Week of 12 Jan 2026",
            "counts": [1, 1, 0],
            "total": 2,
        },
        {
            "key": "2026-01-19",
            "label": "Week of 19 Jan 2026",
            "counts": [1, 0, 1],
            "total": 2,
        },
    ]
    assert next(f["text"] for f in body["feedback"]) == (
        "Wants to revisit after the budget review"
    )


def test_the_api_searches_the_feedback(api, world):
    response = api.get(
        URL,
        {
            "start": "2026-01-01",
            "end": "2026-02-01",
            "model": world.model.id,
            "q": "frozen",
        },
    )

    assert [f["text"] for f in response.json()["feedback"]] == [
        "Budget frozen until Q3"
    ]


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"end": "2026-02-01"}, "start", "This field is required."),
        ({"start": "2026-02-01", "end": "2026-01-01"}, "end", "Give an end after"),
        (JAN | {"model": 999999}, "model", "There is no published scoring model"),
        (JAN | {"q": "a\x00b"}, "q", "Null characters are not allowed."),
    ],
)
def test_the_api_says_what_to_fix(api, world, params, field, message):
    response = api.get(URL, params)

    assert response.status_code == 400
    assert message in str(response.json()[field])


def test_the_api_without_an_active_model_asks_for_one(api):
    ScoringModel.objects.filter(status=ScoringModel.Status.ACTIVE).update(
        status=ScoringModel.Status.ARCHIVED
    )

    response = api.get(URL, {"start": "2026-01-01", "end": "2026-02-01"})

    assert response.status_code == 400
    assert response.json() == {
        "model": ["No scoring model is active; give a published one."]
    }


@pytest.mark.parametrize("role", [SDR, SALES])
def test_other_roles_get_a_403_from_the_api(world, role):
    client = token_client(UserFactory(roles=[role]))

    response = client.get(URL, {"start": "2026-01-01", "end": "2026-02-01"})

    assert response.status_code == 403


def test_the_schema_documents_the_rule_report(api_client):
    schema = api_client.get("/api/v1/schema/?format=json").json()

    operation = schema["paths"]["/api/v1/reports/rules/"]["get"]
    assert {p["name"] for p in operation["parameters"]} == {
        "start",
        "end",
        "model",
        "q",
        "min_support",
        "candidates",
    }
    assert set(operation["responses"]) == {"200", "400", "401", "403", "404"}
