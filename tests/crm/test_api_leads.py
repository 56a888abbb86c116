"""Lead API responses carry the active model's score breakdown."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from rest_framework.authtoken.models import Token

from crm.roles import SDR
from scoring.selectors import model_active
from scoring.services import lead_rescore
from tests.factories import LeadFactory, TouchpointFactory, UserFactory

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def sdr_api(client):
    token = Token.objects.create(user=UserFactory(roles=[SDR]))
    client.defaults["HTTP_AUTHORIZATION"] = f"Token {token.key}"
    return client


def test_lead_detail_explains_its_score(sdr_api, b2b_model):
    lead = LeadFactory(
        country="US", region="north_america", seniority="student", job_title="Student"
    )
    TouchpointFactory(lead=lead, kind_id="demo_request", occurred_at=NOW)
    model = model_active()
    lead_rescore(lead_id=lead.id, model=model, now=NOW)

    body = sdr_api.get(f"/api/v1/leads/{lead.id}/").json()

    assert (
        body["score"],
        body["fit_score"],
        body["engagement_score"],
        body["grade"],
    ) == ("65.00", "5.00", "60.00", "D")
    assert [(i["label"], i["points"]) for i in body["score_breakdown"]] == [
        ("In our market (North America or Europe)", "5.00"),
        ("Demo request", "60.00"),
    ]
    assert sum(Decimal(i["points"]) for i in body["score_breakdown"]) == Decimal(
        body["score"]
    )
    assert [g["label"] for g in body["gated_by"]] == ["Student"]
    assert body["stage"] == "lead"


def test_unscored_lead_has_an_empty_breakdown(sdr_api):
    lead = LeadFactory()
    body = sdr_api.get(f"/api/v1/leads/{lead.id}/").json()
    assert (body["score_breakdown"], body["gated_by"], body["scored_at"]) == (
        [],
        [],
        None,
    )


def test_list_fetches_breakdowns_in_one_query(sdr_api, django_assert_max_num_queries):
    for _ in range(20):
        LeadFactory()
    with django_assert_max_num_queries(8):
        response = sdr_api.get("/api/v1/leads/")
    assert len(response.json()["results"]) == 20
