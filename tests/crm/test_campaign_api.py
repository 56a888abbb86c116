"""The campaign report API over the hand-built April
(``tests/crm/campaign_april.py``)."""

from __future__ import annotations

import pytest

from crm.roles import ADMIN, MARKETING, SALES, SDR
from tests.crm.campaign_april import april_build
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/reports/campaigns/"
APRIL = {"start": "2026-04-01", "end": "2026-05-01"}


@pytest.fixture
def april():
    return april_build()


@pytest.mark.parametrize("role", [MARKETING, ADMIN])
def test_the_api_answers_linear_credits_by_default(client, april, role):
    a, b = april
    client.force_login(UserFactory(roles=[role]))

    response = client.get(URL, APRIL)

    assert response.status_code == 200
    body = response.json()
    assert (body["start"], body["end"], body["model"], body["as_of"]) == (
        "2026-04-01",
        "2026-05-01",
        "linear",
        "2026-05-02T06:00:00Z",
    )
    assert body["campaigns"][0] == {
        "id": a.id,
        "name": "A",
        "channel": "paid_search",
        "spend": "3000.00",
        "leads": "1.0000",
        "mqls": "1.5000",
        "sqls": "0.6667",
        "customers": "0.6667",
        "revenue": "6666.6667",
        "cost_per_lead": "3000.00",
        "cost_per_mql": "2000.00",
        "cost_per_sql": "4499.78",
        "cost_per_customer": "4499.78",
        "mql_to_sql_rate": "0.4445",
        "roi": "1.2222",
    }
    assert [c["id"] for c in body["campaigns"]] == [a.id, b.id]
    assert body["unattributed"] == {
        "spend": "0.00",
        "leads": "1.5000",
        "mqls": "1.5000",
        "sqls": "0.0000",
        "customers": "0.0000",
        "revenue": "0.0000",
        "cost_per_lead": None,
        "cost_per_mql": None,
        "cost_per_sql": None,
        "cost_per_customer": None,
        "mql_to_sql_rate": "0.0000",
        "roi": None,
    }
    assert (body["total"]["spend"], body["total"]["revenue"]) == (
        "3600.00",
        "10000.0000",
    )
    assert [(c["channel"], c["label"], c["mqls"]) for c in body["channels"]] == [
        ("paid_search", "Paid search", "1.5000"),
        ("email", "E-mail", "1.0000"),
    ]


def test_the_api_answers_another_model(client, april):
    client.force_login(UserFactory(roles=[MARKETING]))

    body = client.get(URL, {**APRIL, "model": "w_shaped"}).json()

    assert body["model"] == "w_shaped"
    assert [c["mqls"] for c in body["campaigns"]] == ["1.3333", "1.1667"]


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ({"end": "2026-04-01"}, "start", "This field is required."),
        ({"start": "2026-03-01", "end": "1 April"}, "end", "Date has wrong format"),
        ({"start": "2026-04-01", "end": "2026-04-01"}, "end", "Give an end after"),
        ({"start": "2016-01-01", "end": "2026-04-01"}, "end", "at most 3,660 days"),
        ({**APRIL, "model": "last_click"}, "model", "not a valid choice"),
    ],
)
def test_a_bad_period_or_model_says_what_to_fix(client, query, field, message):
    client.force_login(UserFactory(roles=[MARKETING]))

    response = client.get(URL, query)

    assert response.status_code == 400
    assert message in str(response.json()[field])


@pytest.mark.parametrize("role", [SDR, SALES])
def test_other_roles_may_not_read_the_campaign_report(client, role):
    client.force_login(UserFactory(roles=[role]))

    response = client.get(URL, APRIL)

    assert response.status_code == 403


def test_no_credentials_are_refused(client):
    assert client.get(URL, APRIL).status_code == 401
