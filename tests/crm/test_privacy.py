"""Personal data export and erasure: crm.privacy and its API."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import AbstractBaseUser
from rest_framework.test import APIClient

from crm.privacy import lead_erase, lead_personal_data_export
from crm.roles import ADMIN, MARKETING, SALES, SDR
from leads.lifecycle import lead_move
from leads.models import AuditEvent, Lead, StageTransition, Touchpoint
from leads.services import lead_upsert
from tests.factories import (
    AccountFactory,
    CampaignFactory,
    LeadFactory,
    TouchpointFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

T0 = dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)
T1 = dt.datetime(2026, 1, 6, 10, 0, tzinfo=dt.UTC)
T2 = dt.datetime(2026, 1, 7, 11, 30, tzinfo=dt.UTC)
T3 = dt.datetime(2026, 1, 8, 12, 0, tzinfo=dt.UTC)
T9 = dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.UTC)
T10 = dt.datetime(2026, 3, 2, 8, 0, tzinfo=dt.UTC)


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


@dataclass
class Person:
    lead: Lead
    touchpoints: list[Touchpoint]
    transition: StageTransition


@pytest.fixture
def person() -> Person:
    """A lead with an account, an owner, two touchpoints and one stage move."""
    owner = UserFactory(username="rep1", roles=[SALES])
    lead = LeadFactory(
        email="ada@northwind.example",
        first_name="Ada",
        last_name="Lovelace",
        job_title="Head of Marketing",
        phone="+44 20 7946 0000",
        account=AccountFactory(name="Northwind Labs", domain="northwind.example"),
        owner=owner,
        source="paid_search",
        utm_source="google",
        utm_medium="cpc",
        utm_campaign="spring",
        utm_term="lead scoring",
        utm_content="ad-1",
        attributes={"plan": "team", "company": "Northwind"},
        created_at=T0,
    )
    webinar = CampaignFactory(name="Spring webinar")
    touchpoints = [
        TouchpointFactory(
            lead=lead,
            kind_id="page_view",
            occurred_at=T1,
            properties={"url": "https://www.example.com/pricing"},
            source="api",
            external_id="pv-1",
            received_at=T1,
        ),
        TouchpointFactory(
            lead=lead,
            kind_id="webinar_registered",
            occurred_at=T2,
            campaign=webinar,
            properties={"page_url": "https://www.example.com/webinar", "ip": "1.2.3.4"},
            source="form:webinar",
            received_at=T2,
        ),
    ]
    transition = lead_move(
        lead_id=lead.id,
        to_stage="mql",
        system_actor="scoring",
        reason="Score 72 crossed 60",
        now=T3,
    )
    lead.refresh_from_db()
    return Person(lead=lead, touchpoints=touchpoints, transition=transition)


@pytest.fixture
def users() -> dict[str, AbstractBaseUser]:
    return {
        role: UserFactory(username=role.lower(), roles=[role])
        for role in (ADMIN, MARKETING, SDR, SALES)
    }


def _api(user: AbstractBaseUser | None = None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user=user)
    return client


def _snapshot(lead_id: int) -> dict[str, Any]:
    """What a refusal must leave unchanged: the lead row, properties, audit."""
    return {
        "lead": Lead.objects.filter(id=lead_id).values().get(),
        "properties": list(
            Touchpoint.objects.filter(lead_id=lead_id)
            .order_by("id")
            .values_list("properties", flat=True)
        ),
        "audit": AuditEvent.objects.count(),
    }


def _expected_export(person: Person, *, exported_at: str) -> dict[str, Any]:
    lead = person.lead
    page_view, webinar = person.touchpoints
    return {
        "exported_at": exported_at,
        # Every Lead column: a new field fails this test until someone decides
        # whether it is personal (erase it) and shows up here.
        "lead": {
            "id": lead.id,
            "email": "ada@northwind.example",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "job_title": "Head of Marketing",
            "seniority": "director",
            "seniority_override": "",
            "department": "marketing",
            "phone": "+44 20 7946 0000",
            "country": "US",
            "region": "north_america",
            "account": lead.account_id,
            "source": "paid_search",
            "utm_source": "google",
            "utm_medium": "cpc",
            "utm_campaign": "spring",
            "utm_term": "lead scoring",
            "utm_content": "ad-1",
            "owner": "rep1",
            "stage": "mql",
            "highest_stage": "mql",
            "stage_changed_at": "2026-01-08T12:00:00Z",
            "entered_lead_at": "2026-01-05T09:00:00Z",
            "entered_mql_at": "2026-01-08T12:00:00Z",
            "entered_sal_at": None,
            "entered_sql_at": None,
            "entered_opportunity_at": None,
            "entered_customer_at": None,
            "entered_nurture_at": None,
            "entered_disqualified_at": None,
            "do_not_email": False,
            "do_not_call": False,
            "score": "0.00",
            "fit_score": "0.00",
            "engagement_score": "0.00",
            "grade": "",
            "scored_at": None,
            "rescore_requested_at": None,
            "erased_at": None,
            "attributes": {"plan": "team", "company": "Northwind"},
            "created_at": "2026-01-05T09:00:00Z",
            "updated_at": _iso(lead.updated_at),
        },
        "account": {"name": "Northwind Labs", "domain": "northwind.example"},
        "touchpoints": [
            {
                "id": page_view.id,
                "kind": "page_view",
                "occurred_at": "2026-01-06T10:00:00Z",
                "campaign": None,
                "properties": {"url": "https://www.example.com/pricing"},
                "source": "api",
                "external_id": "pv-1",
                "received_at": "2026-01-06T10:00:00Z",
            },
            {
                "id": webinar.id,
                "kind": "webinar_registered",
                "occurred_at": "2026-01-07T11:30:00Z",
                "campaign": "Spring webinar",
                "properties": {
                    "page_url": "https://www.example.com/webinar",
                    "ip": "1.2.3.4",
                },
                "source": "form:webinar",
                "external_id": None,
                "received_at": "2026-01-07T11:30:00Z",
            },
        ],
        "stage_history": [
            {
                "from_stage": "lead",
                "to_stage": "mql",
                "at": "2026-01-08T12:00:00Z",
                "actor": "system (scoring)",
                "reason": "Score 72 crossed 60",
            }
        ],
        "scores": [],
        "handoffs": [],
    }


# Export
# ------------------------------------------------------------------------------


def test_export_contains_everything_stored_about_the_person(person, users):
    export = lead_personal_data_export(lead=person.lead, actor=users[SDR], now=T9)

    assert export == _expected_export(person, exported_at="2026-03-01T08:00:00Z")


def test_export_is_audited_with_counts_only(person, users):
    lead_personal_data_export(lead=person.lead, actor=users[SDR], now=T9)

    event = AuditEvent.objects.get()
    assert (event.action, event.actor, event.lead_id, event.at) == (
        "export",
        users[SDR],
        person.lead.id,
        T9,
    )
    assert event.details == {
        "counts": {"touchpoints": 2, "stage_history": 1, "scores": 0, "handoffs": 0}
    }


@pytest.mark.parametrize("role", [ADMIN, MARKETING, SDR, SALES])
def test_every_role_may_export_and_each_export_is_audited(person, users, role):
    response = _api(users[role]).get(f"/api/v1/leads/{person.lead.id}/export/")

    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="lead-{person.lead.id}-personal-data.json"'
    )
    event = AuditEvent.objects.get()
    assert (event.action, event.actor, event.lead_id) == (
        "export",
        users[role],
        person.lead.id,
    )
    assert response.json() == _expected_export(person, exported_at=_iso(event.at))


def test_export_without_credentials_is_401_and_not_audited(person):
    response = _api().get(f"/api/v1/leads/{person.lead.id}/export/")

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Token"
    assert AuditEvent.objects.exists() is False


def test_export_by_a_user_without_a_role_is_403_and_not_audited(person):
    response = _api(UserFactory(username="nobody")).get(
        f"/api/v1/leads/{person.lead.id}/export/"
    )

    assert response.status_code == 403
    assert response.json() == {"detail": "Your role may not see leads."}
    assert AuditEvent.objects.exists() is False


@pytest.mark.parametrize("case", ["unknown", "erased"])
def test_export_of_a_missing_or_erased_lead_is_404(person, users, case):
    lead_id = person.lead.id
    if case == "unknown":
        lead_id += 1000
    else:
        lead_erase(lead=person.lead, actor=users[ADMIN], now=T9)
    audited = AuditEvent.objects.count()

    response = _api(users[ADMIN]).get(f"/api/v1/leads/{lead_id}/export/")

    assert response.status_code == 404
    assert response.json() == {"detail": "No such lead."}
    assert AuditEvent.objects.count() == audited


# Erasure
# ------------------------------------------------------------------------------


def test_erase_replaces_personal_fields_and_keeps_what_reports_count(person, users):
    lead = person.lead
    touchpoints_before = list(
        Touchpoint.objects.filter(lead=lead)
        .order_by("id")
        .values_list("id", "kind", "occurred_at", "campaign_id", "source")
    )

    erased = lead_erase(lead=lead, actor=users[ADMIN], now=T9)

    assert erased.id == lead.id
    row = Lead.objects.get(id=lead.id)
    assert row.email == f"erased-{lead.id}@erased.invalid"
    assert (row.first_name, row.last_name, row.job_title, row.phone) == ("", "", "", "")
    assert (row.utm_term, row.utm_content, row.attributes) == ("", "", {})
    assert row.erased_at == T9
    assert row.rescore_requested_at == T9
    # Company- and funnel-level facts stay.
    assert (row.stage, row.highest_stage, row.seniority, row.department) == (
        "mql",
        "mql",
        "director",
        "marketing",
    )
    assert (row.country, row.region, row.account_id, row.owner_id) == (
        "US",
        "north_america",
        lead.account_id,
        lead.owner_id,
    )
    assert (row.utm_source, row.utm_medium, row.utm_campaign) == (
        "google",
        "cpc",
        "spring",
    )
    assert (row.score, row.entered_mql_at) == (Decimal("0.00"), T3)
    touchpoints = Touchpoint.objects.filter(lead=lead).order_by("id")
    assert (
        list(
            touchpoints.values_list(
                "id", "kind", "occurred_at", "campaign_id", "source"
            )
        )
        == touchpoints_before
    )
    assert list(touchpoints.values_list("properties", flat=True)) == [{}, {}]
    assert StageTransition.objects.get(lead=lead) == person.transition
    event = AuditEvent.objects.get()
    assert (event.action, event.actor, event.lead_id, event.at) == (
        "erase",
        users[ADMIN],
        lead.id,
        T9,
    )
    assert event.details == {"already_erased": False, "touchpoints_cleared": 2}


def test_erase_twice_changes_nothing_but_is_audited_again(person, users):
    lead_erase(lead=person.lead, actor=users[ADMIN], now=T9)
    after_first = _snapshot(person.lead.id)

    again = lead_erase(lead=person.lead, actor=users[ADMIN], now=T10)

    assert again.erased_at == T9
    snapshot = _snapshot(person.lead.id)
    assert snapshot["lead"] == after_first["lead"]
    assert snapshot["properties"] == after_first["properties"]
    assert list(
        AuditEvent.objects.order_by("id").values_list("action", "at", "details")
    ) == [
        ("erase", T9, {"already_erased": False, "touchpoints_cleared": 2}),
        ("erase", T10, {"already_erased": True}),
    ]


def test_erased_person_who_comes_back_is_a_new_lead(person, users):
    lead_erase(lead=person.lead, actor=users[ADMIN], now=T9)

    lead, created = lead_upsert(email="ada@northwind.example", first_name="Ada")

    assert created is True
    assert lead.id != person.lead.id
    assert Lead.objects.count() == 2


def test_admin_erases_through_the_api_and_a_repeat_answers_the_same(person, users):
    api = _api(users[ADMIN])
    url = f"/api/v1/leads/{person.lead.id}/erase/"

    first = api.post(url)
    second = api.post(url)

    erased_at = Lead.objects.get(id=person.lead.id).erased_at
    assert first.status_code == second.status_code == 200
    assert first.json() == {"id": person.lead.id, "erased_at": _iso(erased_at)}
    assert second.content == first.content
    assert AuditEvent.objects.filter(action="erase", actor=users[ADMIN]).count() == 2
    assert api.get(f"/api/v1/leads/{person.lead.id}/").status_code == 404


def test_superuser_without_the_admin_group_may_erase(person):
    root = UserFactory(username="root", is_superuser=True)

    response = _api(root).post(f"/api/v1/leads/{person.lead.id}/erase/")

    assert response.status_code == 200
    assert Lead.objects.get(id=person.lead.id).erased_at is not None


@pytest.mark.parametrize("role", [SDR, MARKETING, SALES])
def test_erase_by_other_roles_is_403_and_changes_nothing(person, users, role):
    before = _snapshot(person.lead.id)

    response = _api(users[role]).post(f"/api/v1/leads/{person.lead.id}/erase/")

    assert response.status_code == 403
    assert response.json() == {"detail": "Only the Admin role may erase personal data."}
    assert _snapshot(person.lead.id) == before


def test_erase_without_credentials_is_401_and_changes_nothing(person):
    before = _snapshot(person.lead.id)

    response = _api().post(f"/api/v1/leads/{person.lead.id}/erase/")

    assert response.status_code == 401
    assert _snapshot(person.lead.id) == before


def test_erase_of_an_unknown_lead_is_404(users):
    response = _api(users[ADMIN]).post("/api/v1/leads/999999/erase/")

    assert response.status_code == 404
    assert response.json() == {"detail": "No such lead."}
    assert AuditEvent.objects.exists() is False


# The audit log in the admin
# ------------------------------------------------------------------------------


def test_audit_log_admin_is_read_only(person, users):
    lead_erase(lead=person.lead, actor=users[ADMIN], now=T9)
    event = AuditEvent.objects.get()
    root = UserFactory(username="root", is_staff=True, is_superuser=True)
    client = APIClient()
    client.force_login(root)

    changelist = client.get("/admin/leads/auditevent/")
    detail = client.get(f"/admin/leads/auditevent/{event.id}/change/")
    add = client.get("/admin/leads/auditevent/add/")
    change = client.post(
        f"/admin/leads/auditevent/{event.id}/change/", {"action": "export"}
    )
    delete = client.post(f"/admin/leads/auditevent/{event.id}/delete/", {"post": "yes"})

    assert changelist.status_code == 200
    assert b"Personal data erased" in changelist.content
    assert detail.status_code == 200
    assert detail.context["has_change_permission"] is False
    assert (add.status_code, change.status_code, delete.status_code) == (403, 403, 403)
    assert AuditEvent.objects.get() == event
    assert event.action == "erase"


def test_audit_log_search_by_lead_id(person, users):
    lead_erase(lead=person.lead, actor=users[ADMIN], now=T9)
    root = UserFactory(username="root", is_staff=True, is_superuser=True)
    client = APIClient()
    client.force_login(root)

    found = client.get("/admin/leads/auditevent/", {"q": str(person.lead.id)})
    not_a_number = client.get("/admin/leads/auditevent/", {"q": "ada"})

    assert list(found.context["cl"].result_list) == list(AuditEvent.objects.all())
    assert not_a_number.status_code == 200
