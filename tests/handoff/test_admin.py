"""The handoff admin: configuration editable, handoffs and their records read-only."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token

from handoff import services
from handoff.models import (
    BusinessCalendar,
    ContactAttempt,
    Handoff,
    HandoffEvent,
    Holiday,
    RejectionReason,
    SalesOutcome,
    SalesProfile,
    ServiceLevelAgreement,
    Team,
    TeamMember,
)
from leads import lifecycle
from leads.models import AuditEvent, Lead, Stage
from tests.factories import (
    AccountFactory,
    CalendarFactory,
    LeadFactory,
    SlaFactory,
    TeamMemberFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

MONDAY_10 = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)


@dataclass
class Records:
    sla: ServiceLevelAgreement
    calendar: BusinessCalendar
    team: Team
    sdr: object
    profile: SalesProfile
    lead: Lead
    handoff: Handoff
    reason: RejectionReason


@pytest.fixture
def records() -> Records:
    """A configured SLA and one handoff worked through the services."""
    calendar = CalendarFactory(name="Berlin office", time_zone="Europe/Berlin")
    Holiday.objects.create(calendar=calendar, date=dt.date(2026, 4, 3), name="Easter")
    sla = SlaFactory(name="EMEA", calendar=calendar)
    sdr = TeamMemberFactory(team=sla.team, user__username="lena").user
    profile = services.availability_set(user=sdr, is_away=False)
    lead = LeadFactory(email="ada@northwind.example")
    lifecycle.lead_move(
        lead_id=lead.id, to_stage=Stage.MQL, system_actor="scoring", now=MONDAY_10
    )
    handoff = services.handoff_open(lead_id=lead.id, now=MONDAY_10)
    services.attempt_log(
        handoff_id=handoff.id,
        actor=sdr,
        channel="call",
        outcome="connected",
        note="Spoke with Ada.",
        now=MONDAY_10 + dt.timedelta(minutes=30),
    )
    services.handoff_accept(
        handoff_id=handoff.id, actor=sdr, now=MONDAY_10 + dt.timedelta(hours=1)
    )
    services.lead_sales_move(
        lead_id=lead.id,
        actor=sdr,
        to_stage=Stage.SQL,
        now=MONDAY_10 + dt.timedelta(days=1),
    )
    handoff.refresh_from_db()
    return Records(
        sla=sla,
        calendar=calendar,
        team=sla.team,
        sdr=sdr,
        profile=profile,
        lead=lead,
        handoff=handoff,
        reason=RejectionReason.objects.get(code="no_budget"),
    )


def _object(records: Records, model: str) -> object:
    return {
        "businesscalendar": records.calendar,
        "team": records.team,
        "salesprofile": records.profile,
        "servicelevelagreement": records.sla,
        "rejectionreason": records.reason,
        "handoff": records.handoff,
        "contactattempt": ContactAttempt.objects.get(),
        "handoffevent": HandoffEvent.objects.filter(kind="accepted").get(),
        "salesoutcome": SalesOutcome.objects.get(),
    }[model]


EDITABLE = [
    "businesscalendar",
    "team",
    "salesprofile",
    "servicelevelagreement",
    "rejectionreason",
]
READ_ONLY = ["handoff", "contactattempt", "handoffevent", "salesoutcome"]


# Every page loads
# ------------------------------------------------------------------------------


@pytest.mark.parametrize("model", EDITABLE + READ_ONLY)
def test_changelist_and_change_page_load_for_the_admin_role(
    admin_role_client: Client, records: Records, model: str
) -> None:
    obj = _object(records, model)

    changelist = admin_role_client.get(reverse(f"admin:handoff_{model}_changelist"))
    change = admin_role_client.get(
        reverse(f"admin:handoff_{model}_change", args=[obj.pk])
    )

    assert changelist.status_code == 200
    assert list(changelist.context["cl"].result_list)
    assert change.status_code == 200
    assert change.context["has_change_permission"] is (model in EDITABLE)


@pytest.mark.parametrize("model", EDITABLE)
def test_add_page_loads_for_configuration(
    admin_role_client: Client, records: Records, model: str
) -> None:
    response = admin_role_client.get(reverse(f"admin:handoff_{model}_add"))

    assert response.status_code == 200


@pytest.mark.parametrize("model", READ_ONLY)
def test_records_cannot_be_added_or_deleted(
    admin_role_client: Client, records: Records, model: str
) -> None:
    obj = _object(records, model)

    add = admin_role_client.get(reverse(f"admin:handoff_{model}_add"))
    delete = admin_role_client.post(
        reverse(f"admin:handoff_{model}_delete", args=[obj.pk]), {"post": "yes"}
    )

    assert (add.status_code, delete.status_code) == (403, 403)
    assert type(obj).objects.filter(pk=obj.pk).exists()


# Handoffs are read-only
# ------------------------------------------------------------------------------


def test_handoff_admin_cannot_change_the_status_or_the_decision(
    admin_role_client: Client, records: Records
) -> None:
    handoff = records.handoff
    url = reverse("admin:handoff_handoff_change", args=[handoff.pk])
    before = Handoff.objects.filter(pk=handoff.pk).values().get()

    page = admin_role_client.get(url)
    response = admin_role_client.post(
        url,
        {
            "status": "rejected",
            "reason": records.reason.pk,
            "decided_by": "",
            "feedback": "Changed in the admin",
        },
    )

    assert b'name="status"' not in page.content
    assert b"Spoke with Ada." in page.content  # the attempts inline
    assert response.status_code == 403
    assert Handoff.objects.filter(pk=handoff.pk).values().get() == before
    assert before["status"] == "accepted"


def test_superuser_cannot_change_a_handoff_either(
    admin_client: Client, records: Records
) -> None:
    url = reverse("admin:handoff_handoff_change", args=[records.handoff.pk])

    response = admin_client.post(url, {"status": "pending"})

    assert response.status_code == 403
    assert Handoff.objects.get(pk=records.handoff.pk).status == "accepted"


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ({"status__exact": "accepted"}, True),
        ({"status__exact": "pending"}, False),
        ({"q": "ADA@northwind.example"}, True),
        ({"q": "northwind"}, False),  # exact e-mail only
    ],
)
def test_handoff_list_filters_by_status_and_searches_by_lead_email(
    admin_role_client: Client, records: Records, query: dict, found: bool
) -> None:
    response = admin_role_client.get(reverse("admin:handoff_handoff_changelist"), query)

    assert response.status_code == 200
    expected = [records.handoff] if found else []
    assert list(response.context["cl"].result_list) == expected


def test_handoff_list_filters_by_sla_and_assignee(
    admin_role_client: Client, records: Records
) -> None:
    url = reverse("admin:handoff_handoff_changelist")

    by_sla = admin_role_client.get(url, {"sla__id__exact": records.sla.pk})
    by_sdr = admin_role_client.get(url, {"assigned_to__id__exact": records.sdr.pk})
    other_sla = ServiceLevelAgreement.objects.get(name="Territory review")
    nobody = admin_role_client.get(url, {"sla__id__exact": other_sla.pk})

    assert list(by_sla.context["cl"].result_list) == [records.handoff]
    assert list(by_sdr.context["cl"].result_list) == [records.handoff]
    assert list(nobody.context["cl"].result_list) == []


# SLA conditions are checked on their field
# ------------------------------------------------------------------------------


def _sla_form(records: Records, conditions: str) -> dict[str, str]:
    return {
        "name": "Enterprise",
        "is_active": "on",
        "priority": "20",
        "conditions": conditions,
        "team": str(records.team.pk),
        "calendar": str(records.calendar.pk),
        "sales_routing": "sales_team",
        "sales_team": "",
        "accept_within_hours": "4",
        "at_risk_percent": "75",
        "follow_up_within_hours": "8",
        "escalation_email": "",
        "volume_commitment": "40",
        "volume_period": "month",
        "notes": "",
    }


@pytest.mark.parametrize(
    ("conditions", "message"),
    [
        (
            '[{"attribute": "shoe_size", "operator": "equals", "value": 42}]',
            "Condition 1: 'shoe_size' is not a lead attribute",
        ),
        ('{"attribute": "region"}', "Conditions must be a list"),
        ("[{", "Enter a valid JSON."),
    ],
)
def test_bad_sla_conditions_are_refused_with_an_error_on_the_field(
    admin_role_client: Client, records: Records, conditions: str, message: str
) -> None:
    response = admin_role_client.post(
        reverse("admin:handoff_servicelevelagreement_add"),
        _sla_form(records, conditions),
    )

    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert list(errors) == ["conditions"]
    assert errors["conditions"][0].startswith(message)
    assert not ServiceLevelAgreement.objects.filter(name="Enterprise").exists()


def test_good_sla_conditions_are_saved_as_the_matching_code_reads_them(
    admin_role_client: Client, records: Records
) -> None:
    conditions = [
        {"attribute": "region", "operator": "equals", "value": "europe"},
        {"attribute": "account.employee_count", "operator": "at_least", "value": 1000},
    ]

    response = admin_role_client.post(
        reverse("admin:handoff_servicelevelagreement_add"),
        _sla_form(records, json.dumps(conditions)),
    )

    assert response.status_code == 302
    sla = ServiceLevelAgreement.objects.get(name="Enterprise")
    assert sla.conditions == conditions
    page = admin_role_client.get(
        reverse("admin:handoff_servicelevelagreement_change", args=[sla.pk])
    )
    assert '"attribute": "region"' in page.content.decode()


def test_the_sla_admin_sets_the_sales_routing_and_the_sales_team(
    admin_role_client: Client, records: Records
) -> None:
    form = _sla_form(records, "[]") | {
        "sales_routing": "account_owner",
        "sales_team": str(records.team.pk),
    }

    response = admin_role_client.post(
        reverse("admin:handoff_servicelevelagreement_add"), form
    )

    assert response.status_code == 302
    sla = ServiceLevelAgreement.objects.get(name="Enterprise")
    assert (sla.sales_routing, sla.sales_team) == ("account_owner", records.team)
    page = admin_role_client.get(
        reverse("admin:handoff_servicelevelagreement_change", args=[sla.pk])
    ).content.decode()
    assert "Which sales rep an accepted lead goes to." in page
    assert (
        '<option value="account_owner" selected>Account owner&#x27;s rep</option>'
        in page
    )


# Reasons, teams and availability
# ------------------------------------------------------------------------------


def test_reasons_are_switched_off_and_reordered_in_the_list(
    admin_role_client: Client, records: Records
) -> None:
    reason = records.reason
    url = reverse("admin:handoff_rejectionreason_changelist") + "?q=no_budget"

    response = admin_role_client.post(
        url,
        {
            "form-TOTAL_FORMS": "1",
            "form-INITIAL_FORMS": "1",
            "form-MIN_NUM_FORMS": "0",
            "form-MAX_NUM_FORMS": "1000",
            "form-0-id": str(reason.pk),
            "form-0-position": "7",
            "_save": "Save",
        },
    )

    assert response.status_code == 302
    reason.refresh_from_db()
    assert (reason.is_active, reason.position) == (False, 7)


def test_reasons_cannot_be_deleted(admin_role_client: Client, records: Records):
    url = reverse("admin:handoff_rejectionreason_delete", args=[records.reason.pk])

    response = admin_role_client.post(url, {"post": "yes"})

    assert response.status_code == 403
    assert RejectionReason.objects.filter(pk=records.reason.pk).exists()


def test_a_reroute_reason_without_an_sla_is_refused_on_that_field(
    admin_role_client: Client, records: Records
) -> None:
    response = admin_role_client.post(
        reverse("admin:handoff_rejectionreason_add"),
        {
            "code": "partner_territory",
            "label": "Partner territory",
            "audience": "sdr",
            "action": "reroute",
            "reroute_sla": "",
            "cooldown_days": "0",
            "min_attempts": "0",
            "is_active": "on",
            "position": "20",
        },
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "reroute_sla": ["A reroute reason needs the SLA to reroute to."]
    }
    assert not RejectionReason.objects.filter(code="partner_territory").exists()


def test_a_member_added_in_the_admin_joins_level_with_the_team(
    admin_role_client: Client, records: Records
) -> None:
    team = records.team
    TeamMember.objects.filter(team=team).update(assigned_count=12, last_turn=12)
    Team.objects.filter(pk=team.pk).update(turn=12)
    existing = TeamMember.objects.get(team=team)
    newcomer = UserFactory(username="marcus", roles=["SDR"])

    response = admin_role_client.post(
        reverse("admin:handoff_team_change", args=[team.pk]),
        {
            "name": team.name,
            "strategy": "round_robin",
            "memberships-TOTAL_FORMS": "2",
            "memberships-INITIAL_FORMS": "1",
            "memberships-MIN_NUM_FORMS": "0",
            "memberships-MAX_NUM_FORMS": "1000",
            "memberships-0-id": str(existing.pk),
            "memberships-0-team": str(team.pk),
            "memberships-0-user": str(existing.user_id),
            "memberships-0-is_active": "on",
            "memberships-0-weight": "1",
            "memberships-1-team": str(team.pk),
            "memberships-1-user": str(newcomer.pk),
            "memberships-1-is_active": "on",
            "memberships-1-weight": "2",
            "memberships-1-daily_cap": "5",
        },
    )

    assert response.status_code == 302
    added = TeamMember.objects.get(team=team, user=newcomer)
    # Level with the others (team_member_add), not a burst of new MQLs.
    assert (added.assigned_count, added.last_turn) == (24, 12)
    assert (added.weight, added.daily_cap, added.is_active) == (2, 5, True)
    assert TeamMember.objects.get(pk=existing.pk).assigned_count == 12


def test_marking_someone_back_clears_the_return_date(
    admin_role_client: Client, records: Records
) -> None:
    services.availability_set(
        user=records.sdr, is_away=True, away_until=dt.date(2026, 3, 9)
    )

    response = admin_role_client.post(
        reverse("admin:handoff_salesprofile_change", args=[records.profile.pk]),
        {"away_until": "2026-03-09", "is_manager": "on"},
    )

    assert response.status_code == 302
    profile = SalesProfile.objects.get(pk=records.profile.pk)
    assert (profile.is_away, profile.away_until, profile.is_manager) == (
        False,
        None,
        True,
    )


# People leaving: deactivate and reassign, never delete someone who owns work
# ------------------------------------------------------------------------------


@dataclass
class Leaver:
    sdr: object
    colleague: object
    sal: Lead
    accepted: Handoff
    pending: Handoff
    account: object


@pytest.fixture
def leaver() -> Leaver:
    """An SDR owning a SAL (and its accepted handoff), a pending handoff, an account."""
    sla = SlaFactory()
    sdr = TeamMemberFactory(
        team=sla.team,
        user__username="sdr1",
        user__first_name="Lena",
        user__last_name="Hoffmann",
    ).user
    colleague = TeamMemberFactory(
        team=sla.team,
        user__username="sdr2",
        user__first_name="Marcus",
        user__last_name="Bell",
    ).user
    services.availability_set(user=colleague, is_away=True)
    handoffs = []
    for _ in range(2):
        lead = LeadFactory()
        lifecycle.lead_move(lead_id=lead.id, to_stage=Stage.MQL, system_actor="scoring")
        handoffs.append(services.handoff_open(lead_id=lead.id))
    services.availability_set(user=colleague, is_away=False)
    accepted = services.handoff_accept(handoff_id=handoffs[0].id, actor=sdr)
    account = AccountFactory(owner=sdr)
    return Leaver(
        sdr, colleague, Lead.objects.get(id=accepted.lead_id), accepted,
        handoffs[1], account,
    )  # fmt: skip


def _state(leaver: Leaver) -> tuple:
    return (
        type(leaver.sdr).objects.get(pk=leaver.sdr.pk).is_active,
        Lead.objects.get(id=leaver.sal.id).owner_id,
        Handoff.objects.get(id=leaver.accepted.id).owner_id,
        Handoff.objects.get(id=leaver.pending.id).assigned_to_id,
        type(leaver.account).objects.get(pk=leaver.account.pk).owner_id,
    )


def test_someone_who_owns_work_is_sent_to_deactivate_instead_of_deleted(
    admin_client: Client, leaver: Leaver
):
    before = _state(leaver)
    url = reverse("admin:auth_user_delete", args=[leaver.sdr.pk])

    page = admin_client.get(url)
    posted = admin_client.post(url, {"post": "yes"}, follow=True)

    deactivate = reverse("admin:auth_user_deactivate", args=[leaver.sdr.pk])
    assert (page.status_code, page["Location"]) == (302, deactivate)
    assert posted.redirect_chain == [(deactivate, 302)]
    assert [str(m) for m in posted.context["messages"]] == [
        "The user sdr1 owns 1 lead, 1 account, 1 pending handoff, 1 accepted "
        "handoff in "
        "the pipeline; they cannot be deleted. Deactivate them and reassign "
        "their work instead."
    ] * 2
    assert _state(leaver) == before
    assert not AuditEvent.objects.filter(
        action__in=["user_delete", "user_deactivate"]
    ).exists()


def test_bulk_delete_refuses_when_someone_selected_owns_work(
    admin_client: Client, leaver: Leaver
):
    idle = UserFactory(username="idle")

    response = admin_client.post(
        reverse("admin:auth_user_changelist"),
        {
            "action": "delete_selected",
            "_selected_action": [leaver.sdr.pk, idle.pk],
            "post": "yes",
        },
        follow=True,
    )

    assert [str(m) for m in response.context["messages"]][-1] == "Nobody was deleted."
    assert type(idle).objects.filter(pk__in=[idle.pk, leaver.sdr.pk]).count() == 2


def test_deactivate_and_reassign_hands_every_piece_of_work_over(
    admin_client: Client, leaver: Leaver
):
    url = reverse("admin:auth_user_deactivate", args=[leaver.sdr.pk])
    page = admin_client.get(url)

    response = admin_client.post(url, {"to_user": leaver.colleague.pk})

    assert page.status_code == 200
    assert response.status_code == 302
    colleague = leaver.colleague.pk
    assert _state(leaver) == (False, colleague, colleague, colleague, colleague)
    event = HandoffEvent.objects.filter(handoff=leaver.pending).order_by("id").last()
    assert (event.kind, event.actor.username, event.detail) == (
        "assigned",
        "admin",
        "Reassigned from Lena Hoffmann to Marcus Bell (deactivated)",
    )
    audit = AuditEvent.objects.get(action="user_deactivate")
    assert (audit.actor.username, audit.lead_id, audit.details) == (
        "admin",
        None,
        {
            "user_id": leaver.sdr.pk,
            "to_user_id": colleague,
            "leads": 1,
            "accounts": 1,
            "pending_handoff_ids": [leaver.pending.id],
            "accepted_handoff_ids": [leaver.accepted.id],
        },
    )


@pytest.mark.parametrize("choice", ["", "self", "inactive", "no role"])
def test_deactivation_needs_an_active_colleague_to_take_the_work(
    admin_client: Client, leaver: Leaver, choice: str
):
    to_user = {
        "": "",
        "self": leaver.sdr.pk,
        "inactive": UserFactory(roles=["SDR"], is_active=False).pk,
        "no role": UserFactory(roles=["Marketing"]).pk,
    }[choice]
    before = _state(leaver)

    response = admin_client.post(
        reverse("admin:auth_user_deactivate", args=[leaver.sdr.pk]),
        {"to_user": to_user},
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    assert _state(leaver) == before
    assert not AuditEvent.objects.filter(action="user_deactivate").exists()


def test_someone_who_owns_nothing_is_deleted_and_audited_without_showing_their_key(
    admin_client: Client,
):
    idle = UserFactory(username="idle")
    key = Token.objects.create(user=idle).key
    url = reverse("admin:auth_user_delete", args=[idle.pk])

    page = admin_client.get(url)
    response = admin_client.post(url, {"post": "yes"})

    assert page.status_code == 200
    html = page.content.decode()
    assert key not in html
    assert f"{key[:4]}…" in html
    assert response.status_code == 302
    assert not type(idle).objects.filter(pk=idle.pk).exists()
    audit = AuditEvent.objects.get(action="user_delete")
    assert (audit.actor.username, audit.details) == ("admin", {"user_id": idle.pk})


def test_no_admin_page_shows_an_api_key(admin_client: Client):
    token = Token.objects.create(user=UserFactory(username="api-user"))

    listed = admin_client.get(reverse("admin:authtoken_tokenproxy_changelist"))
    opened = admin_client.get(
        reverse("admin:authtoken_tokenproxy_change", args=[token.key])
    )
    added = admin_client.get(reverse("admin:authtoken_tokenproxy_add"))

    assert listed.status_code == 200
    assert token.key not in listed.content.decode()
    assert f"{token.key[:4]}…" in listed.content.decode()
    assert (opened.status_code, added.status_code) == (403, 403)
