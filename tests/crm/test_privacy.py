"""Personal data export and erasure: crm.privacy and its API."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.auth.models import AbstractBaseUser
from rest_framework.test import APIClient

from crm.models import FailedTask
from crm.privacy.erasure import lead_erase
from crm.privacy.export import lead_personal_data_export
from crm.roles import ADMIN, MARKETING, SALES, SDR
from handoff import services as handoff_services
from handoff.models import ContactAttempt, Handoff, SalesOutcome
from leads.lifecycle import lead_move
from leads.models import AuditEvent, Lead, StageTransition, Touchpoint
from leads.services import lead_upsert
from tests.factories import (
    AccountFactory,
    CampaignFactory,
    LeadFactory,
    SlaFactory,
    TeamMemberFactory,
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


#: The erase audit's counts for the person without handoffs.
NOTHING_TO_BLANK = {
    "handoff_feedback_cleared": 0,
    "attempt_notes_cleared": 0,
    "sales_feedback_cleared": 0,
    "owner_change_reasons_cleared": 0,
    "stage_reasons_redacted": 0,
    "score_snapshots_cleared": 0,
    "score_breakdowns_cleared": 0,
    "import_jobs_redacted": 0,
    "import_records_blanked": 0,
    "admin_log_redacted": 0,
    "failed_tasks_redacted": 0,
    "external_ids_replaced": 0,
    "accounts_renamed": 0,
    "stage_reasons_person_redacted": 0,
    "visitors_deleted": 0,
    "tracked_events_deleted": 0,
    "touchpoints_cleared": 2,
}


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
        "audit": AuditEvent.objects.filter(action__in=["export", "erase"]).count(),
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
            # Funnel state, not personal: both stay on erasure.
            "recycle_until": None,
            # Its place in a sales pipeline (no accepted handoff: the last).
            "follow_up_group": 2,
            "follow_up_at": None,
            "merged_into": None,
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
        "visitors": [],
        "tracked_events": [],
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
        "score_history": [],
        "handoffs": [],
        "handoff_events": [],
        "contact_attempts": [],
        "sales_outcomes": [],
        "merged_leads": [],
        "audit_events": [],
    }


# Export
# ------------------------------------------------------------------------------


def test_export_contains_everything_stored_about_the_person(person, users):
    export = lead_personal_data_export(lead=person.lead, actor=users[SDR], now=T9)

    assert export == _expected_export(person, exported_at="2026-03-01T08:00:00Z")


def test_export_is_audited_with_counts_only(person, users):
    lead_personal_data_export(lead=person.lead, actor=users[SDR], now=T9)

    event = AuditEvent.objects.filter(action__in=["export", "erase"]).get()
    assert (event.action, event.actor, event.lead_id, event.at) == (
        "export",
        users[SDR],
        person.lead.id,
        T9,
    )
    assert event.details == {
        "counts": {
            "touchpoints": 2,
            "visitors": 0,
            "tracked_events": 0,
            "stage_history": 1,
            "scores": 0,
            "score_history": 0,
            "handoffs": 0,
            "handoff_events": 0,
            "contact_attempts": 0,
            "sales_outcomes": 0,
            "merged_leads": 0,
            "audit_events": 0,
        }
    }


@pytest.mark.parametrize("role", [ADMIN, MARKETING, SDR, SALES])
def test_every_role_may_export_and_each_export_is_audited(person, users, role):
    response = _api(users[role]).get(f"/api/v1/leads/{person.lead.id}/export/")

    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="lead-{person.lead.id}-personal-data.json"'
    )
    event = AuditEvent.objects.filter(action__in=["export", "erase"]).get()
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
    assert AuditEvent.objects.filter(action__in=["export", "erase"]).exists() is False


def test_export_by_a_user_without_a_role_is_403_and_not_audited(person):
    response = _api(UserFactory(username="nobody")).get(
        f"/api/v1/leads/{person.lead.id}/export/"
    )

    assert response.status_code == 403
    assert response.json() == {"detail": "Your role may not see leads."}
    assert AuditEvent.objects.filter(action__in=["export", "erase"]).exists() is False


@pytest.mark.parametrize("case", ["unknown", "erased"])
def test_export_of_a_missing_or_erased_lead_is_404(person, users, case):
    lead_id = person.lead.id
    if case == "unknown":
        lead_id += 1000
    else:
        lead_erase(lead=person.lead, actor=users[ADMIN], now=T9)
    audited = AuditEvent.objects.filter(action__in=["export", "erase"]).count()

    response = _api(users[ADMIN]).get(f"/api/v1/leads/{lead_id}/export/")

    assert response.status_code == 404
    assert response.json() == {"detail": "No such lead."}
    assert AuditEvent.objects.filter(action__in=["export", "erase"]).count() == audited


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
    event = AuditEvent.objects.filter(action__in=["export", "erase"]).get()
    assert (event.action, event.actor, event.lead_id, event.at) == (
        "erase",
        users[ADMIN],
        lead.id,
        T9,
    )
    assert event.details == {"already_erased": False, **NOTHING_TO_BLANK}


def test_erase_twice_changes_nothing_but_is_audited_again(person, users):
    lead_erase(lead=person.lead, actor=users[ADMIN], now=T9)
    after_first = _snapshot(person.lead.id)

    again = lead_erase(lead=person.lead, actor=users[ADMIN], now=T10)

    assert again.erased_at == T9
    snapshot = _snapshot(person.lead.id)
    assert snapshot["lead"] == after_first["lead"]
    assert snapshot["properties"] == after_first["properties"]
    assert list(
        AuditEvent.objects.filter(action__in=["export", "erase"])
        .order_by("id")
        .values_list("action", "at", "details")
    ) == [
        ("erase", T9, {"already_erased": False, **NOTHING_TO_BLANK}),
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
    assert (
        AuditEvent.objects.filter(action__in=["export", "erase"])
        .filter(action="erase", actor=users[ADMIN])
        .count()
        == 2
    )
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
    assert AuditEvent.objects.filter(action__in=["export", "erase"]).exists() is False


# Handoffs in the export and the erasure
# ------------------------------------------------------------------------------

H1_OPEN = dt.datetime(2026, 1, 8, 12, 5, tzinfo=dt.UTC)
H1_CALL = dt.datetime(2026, 1, 8, 13, 0, tzinfo=dt.UTC)
H1_ACCEPT = dt.datetime(2026, 1, 8, 14, 0, tzinfo=dt.UTC)
H1_FOLLOW_UP = dt.datetime(2026, 1, 9, 10, 0, tzinfo=dt.UTC)
SENT_BACK = dt.datetime(2026, 1, 12, 10, 0, tzinfo=dt.UTC)
MQL_AGAIN = dt.datetime(2026, 1, 20, 9, 0, tzinfo=dt.UTC)
H2_OPEN = dt.datetime(2026, 1, 20, 9, 5, tzinfo=dt.UTC)
H2_REJECT = dt.datetime(2026, 1, 20, 11, 0, tzinfo=dt.UTC)
SALES_FEEDBACK = "Ada's budget is frozen until Q3."
SDR_FEEDBACK = "Ada freelances for Northwind; no company budget."
BREAKDOWN = [
    {
        "rule": 1,
        "label": "Director or above",
        "kind": "fit",
        "points": "20.00",
        "occurrences": 1,
        "attribute": "job_title",
        "value": "Head of Marketing",
        "touchpoints": [],
    }
]


@dataclass
class Worked:
    accepted: Handoff
    rejected: Handoff


@pytest.fixture
def worked(person: Person) -> Worked:
    """The person's MQL accepted, sent back by sales, then rejected next time.

    All through the handoff services, as an SDR working the SAL queue would:
    a call, an acceptance, a follow-up e-mail, a step back with a sales
    reason and feedback; later a second MQL rejected with feedback.
    """
    sla = SlaFactory(name="Inbound")
    sdr = TeamMemberFactory(
        team=sla.team, user=UserFactory(username="jordan", roles=[SDR])
    ).user
    lead_id = person.lead.id
    first = handoff_services.handoff_open(lead_id=lead_id, now=H1_OPEN)
    handoff_services.attempt_log(
        handoff_id=first.id,
        actor=sdr,
        channel="call",
        outcome="connected",
        note="Spoke with Ada: wants pricing for 12 seats.",
        now=H1_CALL,
    )
    handoff_services.handoff_accept(handoff_id=first.id, actor=sdr, now=H1_ACCEPT)
    handoff_services.attempt_log(
        handoff_id=first.id,
        actor=sdr,
        channel="email",
        outcome="sent",
        note="Sent Ada the proposal.",
        now=H1_FOLLOW_UP,
    )
    handoff_services.lead_sales_move(
        lead_id=lead_id,
        actor=sdr,
        reason="sales_no_budget",
        feedback=SALES_FEEDBACK,
        now=SENT_BACK,
    )
    lead_move(lead_id=lead_id, to_stage="mql", system_actor="scoring", now=MQL_AGAIN)
    second = handoff_services.handoff_open(lead_id=lead_id, now=H2_OPEN)
    handoff_services.handoff_reject(
        handoff_id=second.id,
        actor=sdr,
        reason="no_fit",
        feedback=SDR_FEEDBACK,
        now=H2_REJECT,
    )
    Handoff.objects.filter(id=first.id).update(score_breakdown=BREAKDOWN)
    return Worked(
        accepted=Handoff.objects.get(id=first.id),
        rejected=Handoff.objects.get(id=second.id),
    )


def test_export_contains_the_handoffs_attempts_and_sales_outcomes(
    person, worked, users
):
    export = lead_personal_data_export(lead=person.lead, actor=users[SDR], now=T9)

    accepted, rejected = worked.accepted, worked.rejected
    assert export["handoffs"] == [
        {
            "id": accepted.id,
            "sequence": 1,
            "previous": None,
            "sla": "Inbound",
            "status": "accepted",
            "assigned_to": "jordan",
            "mql_at": "2026-01-08T12:00:00Z",
            "created_at": "2026-01-08T12:05:00Z",
            "due_at": "2026-01-09T12:05:00Z",
            "first_attempt_at": "2026-01-08T13:00:00Z",
            "expired_at": None,
            "decided_at": "2026-01-08T14:00:00Z",
            "decided_by": "jordan",
            "reason": None,
            "feedback": "",
            "owner": "jordan",
            # 16 business hours (09-17 UTC) from Thursday 14:00.
            "follow_up_due_at": "2026-01-12T14:00:00Z",
            "followed_up_at": "2026-01-09T10:00:00Z",
            "score": "0.00",
            "grade": "",
        },
        {
            "id": rejected.id,
            "sequence": 1,
            "previous": None,
            "sla": "Inbound",
            "status": "rejected",
            "assigned_to": "jordan",
            "mql_at": "2026-01-20T09:00:00Z",
            "created_at": "2026-01-20T09:05:00Z",
            "due_at": "2026-01-21T09:05:00Z",
            "first_attempt_at": None,
            "expired_at": None,
            "decided_at": "2026-01-20T11:00:00Z",
            "decided_by": "jordan",
            "reason": "no_fit",
            "feedback": SDR_FEEDBACK,
            "owner": None,
            "follow_up_due_at": None,
            "followed_up_at": None,
            "score": "0.00",
            "grade": "",
        },
    ]
    assert export["contact_attempts"] == [
        {
            "handoff": accepted.id,
            "channel": "call",
            "outcome": "connected",
            "note": "Spoke with Ada: wants pricing for 12 seats.",
            "at": "2026-01-08T13:00:00Z",
            "user": "jordan",
        },
        {
            "handoff": accepted.id,
            "channel": "email",
            "outcome": "sent",
            "note": "Sent Ada the proposal.",
            "at": "2026-01-09T10:00:00Z",
            "user": "jordan",
        },
    ]
    assert export["sales_outcomes"] == [
        {
            "handoff": accepted.id,
            "from_stage": "sal",
            "to_stage": "nurture",
            "reason": "sales_no_budget",
            "feedback": SALES_FEEDBACK,
            "actor": "jordan",
            "at": "2026-01-12T10:00:00Z",
        }
    ]
    assert AuditEvent.objects.filter(action__in=["export", "erase"]).get().details[
        "counts"
    ] == {
        "touchpoints": 2,
        "visitors": 0,
        "tracked_events": 0,
        "stage_history": 5,
        "scores": 0,
        "score_history": 0,
        "handoffs": 2,
        "handoff_events": 6,  # 2 assigned, 2 attempts, accepted, rejected
        "contact_attempts": 2,
        "sales_outcomes": 1,
        "merged_leads": 0,
        "audit_events": 3,  # accept, sales move, reject
    }


def test_erase_blanks_handoff_free_text_and_keeps_the_rows_reports_count(
    person, worked, users
):
    def kept() -> dict[str, list[tuple]]:
        return {
            "handoffs": list(
                Handoff.objects.order_by("id").values_list(
                    "id", "status", "sla_id", "assigned_to_id", "created_at",
                    "due_at", "decided_at", "decided_by_id", "reason_id",
                    "first_attempt_at", "followed_up_at", "score",
                )
            ),
            "attempts": list(
                ContactAttempt.objects.order_by("id").values_list(
                    "id", "handoff_id", "user_id", "channel", "outcome", "at"
                )
            ),
            "outcomes": list(
                SalesOutcome.objects.order_by("id").values_list(
                    "id", "handoff_id", "from_stage", "to_stage", "reason_id",
                    "actor_id", "at",
                )
            ),
            "transitions": list(
                StageTransition.objects.order_by("id").values_list(
                    "id", "from_stage", "to_stage", "at", "actor_id", "system_actor"
                )
            ),
        }  # fmt: skip

    before = kept()

    lead_erase(lead=person.lead, actor=users[ADMIN], now=T9)

    assert kept() == before
    assert list(Handoff.objects.values_list("feedback", flat=True)) == ["", ""]
    assert list(ContactAttempt.objects.values_list("note", flat=True)) == ["", ""]
    assert list(SalesOutcome.objects.values_list("feedback", flat=True)) == [""]
    assert list(
        StageTransition.objects.filter(lead=person.lead)
        .order_by("at")
        .values_list("reason", flat=True)
    ) == [
        "Score 72 crossed 60",
        "Accepted under the Inbound SLA",
        "Sent back by sales: No budget",
        "",
        "Rejected by SDR: No fit",
    ]
    # Which rules matched and for how much stays; the matched value goes.
    assert Handoff.objects.get(id=worked.accepted.id).score_breakdown == [
        {**BREAKDOWN[0], "value": None}
    ]
    event = AuditEvent.objects.filter(action__in=["export", "erase"]).get()
    assert event.details == {
        "already_erased": False,
        "handoff_feedback_cleared": 1,
        "attempt_notes_cleared": 2,
        "sales_feedback_cleared": 1,
        "owner_change_reasons_cleared": 0,
        "stage_reasons_redacted": 2,
        "score_snapshots_cleared": 1,
        "score_breakdowns_cleared": 0,
        "import_jobs_redacted": 0,
        "import_records_blanked": 0,
        "admin_log_redacted": 0,
        "failed_tasks_redacted": 0,
        "external_ids_replaced": 0,
        "accounts_renamed": 0,
        "stage_reasons_person_redacted": 0,
        "visitors_deleted": 0,
        "tracked_events_deleted": 0,
        "touchpoints_cleared": 2,
    }


def test_a_second_erase_leaves_the_handoffs_alone(person, worked, users):
    lead_erase(lead=person.lead, actor=users[ADMIN], now=T9)
    after_first = list(Handoff.objects.order_by("id").values())

    lead_erase(lead=person.lead, actor=users[ADMIN], now=T10)

    assert list(Handoff.objects.order_by("id").values()) == after_first
    assert AuditEvent.objects.filter(action__in=["export", "erase"]).order_by(
        "id"
    ).last().details == {"already_erased": True}


# The audit log in the admin
# ------------------------------------------------------------------------------


def test_audit_log_admin_is_read_only(person, users):
    lead_erase(lead=person.lead, actor=users[ADMIN], now=T9)
    event = AuditEvent.objects.filter(action__in=["export", "erase"]).get()
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
    assert AuditEvent.objects.filter(action__in=["export", "erase"]).get() == event
    assert event.action == "erase"


def test_audit_log_search_by_lead_id(person, users):
    lead_erase(lead=person.lead, actor=users[ADMIN], now=T9)
    root = UserFactory(username="root", is_staff=True, is_superuser=True)
    client = APIClient()
    client.force_login(root)

    found = client.get("/admin/leads/auditevent/", {"q": str(person.lead.id)})
    not_a_number = client.get("/admin/leads/auditevent/", {"q": "ada"})

    assert list(found.context["cl"].result_list) == list(
        AuditEvent.objects.filter(action__in=["export", "erase"]).all()
    )
    assert not_a_number.status_code == 200


# Copies of the person outside their own rows
# ------------------------------------------------------------------------------


def test_erase_replaces_external_ids_that_name_the_person(person, users):
    lead = person.lead
    named = [
        TouchpointFactory(
            lead=lead, source="api", external_id="signup-ADA@Northwind.example"
        ),
        TouchpointFactory(lead=lead, source="api", external_id="crm-ada-7"),
        TouchpointFactory(lead=lead, source="form:x", external_id="lovelace-webinar"),
    ]
    plain = TouchpointFactory(lead=lead, source="api", external_id="evt-42")

    lead_erase(lead=lead, actor=users[ADMIN], now=T9)

    replaced = [Touchpoint.objects.get(id=t.id).external_id for t in named]
    assert all(x.startswith("erased-") and len(x) == 39 for x in replaced)
    assert len(set(replaced)) == 3
    assert Touchpoint.objects.get(id=plain.id).external_id == "evt-42"
    event = AuditEvent.objects.get(action="erase")
    assert event.details["external_ids_replaced"] == 3


def test_erase_renames_an_account_made_from_the_persons_own_domain(users):
    lead, _ = lead_upsert(
        email="ada@adalovelace.example", first_name="Ada", last_name="Lovelace"
    )
    account = lead.account
    assert account.name == "Adalovelace"

    lead_erase(lead=lead, actor=users[ADMIN], now=T9)

    account.refresh_from_db()
    assert (account.name, account.domain) == (f"Erased account {account.id}", "")
    assert Lead.objects.get(id=lead.id).account_id == account.id
    assert AuditEvent.objects.get(action="erase").details["accounts_renamed"] == 1


def test_erase_keeps_an_account_that_other_people_belong_to(users):
    account = AccountFactory(name="Lovelace Analytics", domain="lovelace.example")
    lead = LeadFactory(
        email="ada@lovelace.example", first_name="Ada", last_name="Lovelace",
        account=account,
    )  # fmt: skip
    LeadFactory(email="charles@lovelace.example", account=account)

    lead_erase(lead=lead, actor=users[ADMIN], now=T9)

    account.refresh_from_db()
    assert (account.name, account.domain) == ("Lovelace Analytics", "lovelace.example")
    assert AuditEvent.objects.get(action="erase").details["accounts_renamed"] == 0


def test_erase_takes_the_person_out_of_typed_reasons_and_task_errors(person, users):
    lead = person.lead
    lead_move(
        lead_id=lead.id,
        to_stage="disqualified",
        actor=users[ADMIN],
        reason="Ada Lovelace (ada@northwind.example, +44 20 7946 0000) left",
        now=T3,
    )
    failure = FailedTask.objects.create(
        task_name="leads.tasks.x",
        task_id="t-1",
        exception_class="ValidationError",
        exception_message="ada@NORTHWIND.example is not deliverable",
        failed_at=T3,
    )

    lead_erase(lead=lead, actor=users[ADMIN], now=T9)

    assert StageTransition.objects.filter(lead=lead).order_by("id").last().reason == (
        "[erased] [erased] ([erased], [erased]) left"
    )
    failure.refresh_from_db()
    assert failure.exception_message == "[erased] is not deliverable"
    details = AuditEvent.objects.get(action="erase").details
    assert (
        details["stage_reasons_person_redacted"],
        details["failed_tasks_redacted"],
    ) == (
        1,
        1,
    )
