"""The lead page: score, breakdown, gate, chart and timeline."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from crm.roles import SALES
from leads.lifecycle import lead_move
from scoring.selectors import model_active
from scoring.services import lead_rescore
from scoring.templatetags.scoring_tags import score
from tests.factories import LeadFactory, TouchpointFactory, UserFactory

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


def test_lead_page_explains_the_score_and_draws_its_history(client, b2b_model):
    lead = LeadFactory(
        country="US", region="north_america", first_name="Grace", last_name="Hopper"
    )
    TouchpointFactory(
        lead=lead, kind_id="email_click", occurred_at=NOW - dt.timedelta(days=1)
    )
    model = model_active()
    lead_rescore(lead_id=lead.id, model=model, now=NOW - dt.timedelta(hours=1))
    TouchpointFactory(lead=lead, kind_id="demo_request", occurred_at=NOW)
    lead_rescore(lead_id=lead.id, model=model, now=NOW)
    client.force_login(UserFactory(roles=[SALES]))

    response = client.get(f"/leads/{lead.id}/")

    assert response.status_code == 200
    content = response.content.decode()
    assert "Grace Hopper" in content
    assert " · United States" in content
    assert " · US<" not in content
    assert [(r["label"], str(r["points"])) for r in response.context["breakdown"]] == [
        ("Director or head of a function", "15.00"),
        ("Works in a go-to-market team", "5.00"),
        ("In our market (North America or Europe)", "5.00"),
        ("Demo request", "60.00"),
        ("E-mail click", "2.86"),
    ]
    assert response.context["qualifies"] is True
    assert len(response.context["chart"].dots) == 2
    kinds = [e["type"] for e in response.context["timeline"]]
    assert kinds == ["touchpoint", "stage", "touchpoint"]


def test_gated_lead_shows_the_rule(client, b2b_model):
    lead = LeadFactory(
        seniority="student", job_title="Student", country="BR", region="latam"
    )
    TouchpointFactory(lead=lead, kind_id="demo_request", occurred_at=NOW)
    lead_rescore(lead_id=lead.id, model=model_active(), now=NOW)
    client.force_login(UserFactory(roles=[SALES]))
    content = client.get(f"/leads/{lead.id}/").content.decode()
    assert "Gated by <strong>Student</strong>" in content
    assert "Gated by <strong>Outside our market</strong>" in content


def test_missing_or_erased_lead_is_404_and_anonymous_goes_to_login(client):
    lead = LeadFactory(erased_at=NOW)
    assert client.get(f"/leads/{lead.id}/").status_code == 302
    client.force_login(UserFactory(roles=[SALES]))
    assert client.get(f"/leads/{lead.id}/").status_code == 404
    assert client.get("/leads/999999/").status_code == 404


def test_user_without_role_gets_403(client):
    lead = LeadFactory()
    lead_move(lead_id=lead.id, to_stage="mql", system_actor="scoring")
    client.force_login(UserFactory())
    assert client.get(f"/leads/{lead.id}/").status_code == 403


def test_recycled_lead_shows_its_cool_down_and_does_not_qualify(client):
    lead = LeadFactory(country="US", region="north_america")
    until = timezone.now() + dt.timedelta(days=30)
    lead_move(
        lead_id=lead.id,
        to_stage="nurture",
        system_actor="test",
        reason="Rejected by SDR: No budget",
        hold_until=until,
    )
    client.force_login(UserFactory(roles=[SALES]))

    response = client.get(f"/leads/{lead.id}/")

    assert response.context["recycle_hold"]["until"] == until
    assert response.context["qualifies"] is False
    assert "only a high-intent touchpoint" in response.content.decode()


def test_lead_page_words_rules_and_labels_imported_attributes(client):
    lead = LeadFactory(
        seniority="director",
        job_title="Director of Engineering",
        country="BR",
        region="latam",
        first_name="Grace",
        last_name="Hopper",
        attributes={
            "utm_campaign": "spring",
            "Company_Size__c": "51-200",
            "annual_revenue": 1200000,
            "hs_lead_status": "OPEN",
        },
    )
    lead_rescore(lead_id=lead.id, model=model_active(), now=NOW)
    client.force_login(UserFactory(roles=[SALES]))

    response = client.get(f"/leads/{lead.id}/")

    director = next(
        r for r in response.context["breakdown"] if r.get("attribute") == "seniority"
    )
    assert (director["sentence"], director["shown_value"]) == (
        "seniority is Director / head of",
        "Director / head of",
    )
    groups = [
        (group, [(i["label"], i["shown"]) for i in items])
        for group, items in response.context["attribute_groups"]
    ]
    assert groups == [
        ("Company", [("Annual revenue", "1,200,000"), ("Company size", "51-200")]),
        ("Marketing", [("Lead status", "OPEN"), ("UTM campaign", "spring")]),
    ]
    content = response.content.decode()
    assert "seniority =" not in content
    assert "Company_Size__c</dt>" not in content
    assert '<span class="stat-value">15.0</span>' in content
    assert '<td class="num points">+15.0</td>' in content


def test_a_lead_scored_once_draws_a_level_line_and_says_its_score_is_unchanged(
    client,
):
    lead = LeadFactory(country="US", region="north_america")
    TouchpointFactory(lead=lead, kind_id="email_click", occurred_at=NOW)
    lead_rescore(lead_id=lead.id, model=model_active(), now=NOW)
    lead.refresh_from_db()
    client.force_login(UserFactory(roles=[SALES]))

    response = client.get(f"/leads/{lead.id}/")

    chart = response.context["chart"]
    assert chart.steady
    assert len(chart.dots) == 1
    shown = score(lead.score)
    assert f"{shown} since 1 Jun 2026, unchanged" in response.content.decode()
