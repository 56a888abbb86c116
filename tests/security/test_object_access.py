"""Object-level access: two people in one role, and neither may act as the other.

The role matrix proves a role may use an operation on its own objects; this
proves the same operation on a colleague's object fails, through the API and
the pages, and changes nothing. The product's rules (handoff/services/ and
selectors.py): only the assigned SDR or a manager (SalesProfile.is_manager,
or Admin) decides a handoff; the assigned SDR, the lead's owner or a manager
logs attempts; only the lead's owner or a manager moves it through the sales
stages; SDRs see their teams' handoffs, reps the handoffs of leads they own.
Leads (leads.edit_scope.LeadEditScope, crm/lead_access.py): an SDR or a rep
edits only the contact fields of leads they own, a manager also those of
leads the SDRs and reps own; no one but Marketing and Admin changes an
account.
Marketing's objects (import jobs, scoring drafts) belong to the team, not to
one marketer, so Marketing's two-person check is about tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from rest_framework.authtoken.models import Token

from crm.roles import ADMIN, MARKETING, SALES, SDR
from handoff import services as handoff_services
from handoff.models import ContactAttempt, Handoff, SalesOutcome, SalesProfile
from leads.models import Account, AuditEvent, Lead, Stage
from tests.clients import token_request
from tests.factories import (
    AccountFactory,
    LeadFactory,
    SlaFactory,
    TeamMemberFactory,
    UserFactory,
)
from tests.security.world import open_mql

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@dataclass
class Office:
    """Two SDRs of one team, one of another team, a manager, two reps."""

    sdr_a: Any
    sdr_b: Any
    sdr_elsewhere: Any
    manager: Any
    rep_a: Any
    rep_b: Any
    pending: Handoff  # assigned to sdr_a
    unassigned: Handoff  # sdr_a's team, nobody yet
    accepted: Handoff  # its lead a SAL owned by rep_a


@pytest.fixture
def office() -> Office:
    sla = SlaFactory()
    sdr_a = TeamMemberFactory(team=sla.team, user__username="sdr-a").user
    sdr_b = TeamMemberFactory(team=sla.team, user__username="sdr-b").user
    sdr_elsewhere = TeamMemberFactory(user__username="sdr-elsewhere").user
    manager = UserFactory(username="sdr-manager", roles=[SDR])
    SalesProfile.objects.create(user=manager, is_manager=True)
    rep_a = UserFactory(username="rep-a", roles=[SALES])
    rep_b = UserFactory(username="rep-b", roles=[SALES])

    handoff_services.availability_set(user=sdr_b, is_away=True)
    pending = open_mql(LeadFactory())
    accepted = open_mql(LeadFactory())
    handoff_services.availability_set(user=sdr_a, is_away=True)
    unassigned = open_mql(LeadFactory())
    handoff_services.availability_set(user=sdr_a, is_away=False)
    handoff_services.availability_set(user=sdr_b, is_away=False)
    accepted = handoff_services.handoff_accept(
        handoff_id=accepted.id, actor=sdr_a, owner=rep_a
    )
    assert (pending.assigned_to, unassigned.assigned_to) == (sdr_a, None)
    return Office(
        sdr_a,
        sdr_b,
        sdr_elsewhere,
        manager,
        rep_a,
        rep_b,
        pending,
        unassigned,
        accepted,
    )


def page(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def snapshot(handoff: Handoff) -> tuple[Any, ...]:
    """What a decision, a claim or an attempt would change."""
    row = Handoff.objects.get(id=handoff.id)
    lead = Lead.objects.get(id=row.lead_id)
    return (
        row.status,
        row.assigned_to_id,
        row.decided_by_id,
        row.owner_id,
        row.first_attempt_at,
        lead.stage,
        lead.owner_id,
        ContactAttempt.objects.filter(handoff=row).count(),
    )


DECISIONS = [
    ("accept", {}),
    ("reject", {"reason": "no_budget", "feedback": "No budget"}),
]
ATTEMPT = {"channel": "call", "outcome": "no_answer"}


# SDRs: a teammate's handoff, another team's handoff
# ------------------------------------------------------------------------------


@pytest.mark.parametrize(("action", "body"), [*DECISIONS, ("attempts", ATTEMPT)])
def test_an_sdr_cannot_act_on_a_teammates_handoff_by_api(office, action, body):
    before = snapshot(office.pending)

    response = token_request(
        office.sdr_b, "POST", f"/api/v1/handoffs/{office.pending.id}/{action}/", body
    )

    assert response.status_code == 403
    assert "sdr-a" in response.json()["detail"]
    assert snapshot(office.pending) == before


@pytest.mark.parametrize(
    ("method", "action", "body"),
    [
        ("GET", "", None),
        ("GET", "attempts/", None),
        ("POST", "accept/", {}),
        ("POST", "reject/", {"reason": "no_budget"}),
        ("POST", "attempts/", ATTEMPT),
    ],
)
def test_another_teams_handoff_does_not_exist_for_an_sdr(office, method, action, body):
    before = snapshot(office.pending)

    response = token_request(
        office.sdr_elsewhere,
        method,
        f"/api/v1/handoffs/{office.pending.id}/{action}",
        body,
    )

    assert response.status_code == 404
    assert snapshot(office.pending) == before


def test_the_handoff_list_shows_an_sdr_only_their_teams_handoffs(office):
    listed = token_request(office.sdr_elsewhere, "GET", "/api/v1/handoffs/").json()[
        "results"
    ]
    team = token_request(office.sdr_b, "GET", "/api/v1/handoffs/").json()["results"]

    assert listed == []
    assert {h["id"] for h in team} == {
        office.pending.id,
        office.unassigned.id,
        office.accepted.id,
    }


@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "plain form"])
@pytest.mark.parametrize(
    ("action", "data"),
    [*DECISIONS, ("attempts", ATTEMPT)],
)
@pytest.mark.parametrize("who", ["sdr_b", "sdr_elsewhere"])
def test_an_sdr_cannot_act_on_someone_elses_handoff_in_the_pages(
    office, who, action, data, htmx
):
    before = snapshot(office.pending)
    client = page(getattr(office, who))

    response = client.post(
        f"/handoffs/{office.pending.id}/{action}/",
        data,
        **(HTMX if htmx else {}),
        follow=not htmx,
    )

    if who == "sdr_elsewhere":
        # Another team's handoff is missing to them, as in the API: the
        # answer does not say who holds it.
        assert response.status_code == 404
        assert "sdr-a" not in response.content.decode()
    elif htmx:
        assert response.status_code == 403
    else:
        # Back to the queue with the refusal as a message.
        assert response.redirect_chain[-1][0] == "/queue/"
        messages = [str(m) for m in response.context["messages"]]
        assert len(messages) == 1
        assert "only they or a manager" in messages[0] or "may log" in messages[0]
    assert snapshot(office.pending) == before


def test_an_sdr_of_another_team_cannot_take_an_unassigned_handoff(office):
    before = snapshot(office.unassigned)

    response = page(office.sdr_elsewhere).post(
        f"/handoffs/{office.unassigned.id}/claim/", **HTMX
    )

    assert response.status_code == 404
    assert snapshot(office.unassigned) == before


def test_another_teams_handoff_page_is_404(office):
    response = page(office.sdr_elsewhere).get(f"/handoffs/{office.pending.id}/")

    assert response.status_code == 404


@pytest.mark.parametrize(("action", "body"), DECISIONS)
def test_a_manager_may_decide_a_handoff_assigned_to_someone_else(office, action, body):
    """The positive control: the rule is "assigned SDR or manager", not "nobody"."""
    response = token_request(
        office.manager, "POST", f"/api/v1/handoffs/{office.pending.id}/{action}/", body
    )

    assert response.status_code == 200
    row = Handoff.objects.get(id=office.pending.id)
    assert (row.status, row.decided_by) == (
        "accepted" if action == "accept" else "rejected",
        office.manager,
    )


# Sales reps: a colleague's lead and handoff
# ------------------------------------------------------------------------------


@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "plain form"])
@pytest.mark.parametrize(
    "data",
    [{"to_stage": "sql"}, {"move": "back", "reason": "sales_no_budget"}],
    ids=["forward", "back"],
)
def test_a_rep_cannot_move_a_colleagues_lead(office, data, htmx):
    lead_id = office.accepted.lead_id
    client = page(office.rep_b)

    response = client.post(
        f"/pipeline/leads/{lead_id}/move/",
        data,
        **(HTMX if htmx else {}),
        follow=not htmx,
    )

    if htmx:
        assert response.status_code == 403
    else:
        assert response.redirect_chain[-1][0] == "/pipeline/"
        messages = [str(m) for m in response.context["messages"]]
        assert len(messages) == 1
        assert "owned by rep-a" in messages[0]
    assert Lead.objects.get(id=lead_id).stage == Stage.SAL
    assert not SalesOutcome.objects.exists()


def test_a_rep_cannot_log_an_attempt_on_a_colleagues_handoff(office):
    before = snapshot(office.accepted)

    by_api = token_request(
        office.rep_b,
        "POST",
        f"/api/v1/handoffs/{office.accepted.id}/attempts/",
        ATTEMPT,
    )
    by_page = page(office.rep_b).post(
        f"/handoffs/{office.accepted.id}/attempts/",
        {**ATTEMPT, "source": "pipeline", "lead": office.accepted.lead_id},
        **HTMX,
    )

    # Not a handoff rep B may see, on either path.
    assert (by_api.status_code, by_page.status_code) == (404, 404)
    assert snapshot(office.accepted) == before


def test_a_rep_sees_neither_a_colleagues_handoff_nor_its_lead_on_the_pipeline(office):
    rep_b = page(office.rep_b)

    detail_api = token_request(
        office.rep_b, "GET", f"/api/v1/handoffs/{office.accepted.id}/"
    )
    listed = token_request(office.rep_b, "GET", "/api/v1/handoffs/").json()["results"]
    detail_page = rep_b.get(f"/handoffs/{office.accepted.id}/")
    pipeline = rep_b.get("/pipeline/")

    assert detail_api.status_code == 404
    assert listed == []
    assert detail_page.status_code == 404
    assert pipeline.status_code == 200
    assert f'id="lead-{office.accepted.lead_id}"' not in pipeline.content.decode()


def test_a_rep_cannot_make_a_colleagues_lead_their_own(office):
    """The owner is not writable, so the move above cannot be had in two steps."""
    lead_id = office.accepted.lead_id

    response = token_request(
        office.rep_b, "PATCH", f"/api/v1/leads/{lead_id}/", {"owner": "rep-b"}
    )

    assert response.status_code == 400
    assert list(response.json()) == ["owner"]
    assert Lead.objects.get(id=lead_id).owner == office.rep_a


def test_the_owner_may_move_their_lead(office):
    """The positive control for the refusals above."""
    response = page(office.rep_a).post(
        f"/pipeline/leads/{office.accepted.lead_id}/move/", {"to_stage": "sql"}, **HTMX
    )

    assert response.status_code == 200
    assert Lead.objects.get(id=office.accepted.lead_id).stage == Stage.SQL


# Leads: who edits which fields of whose lead
# ------------------------------------------------------------------------------

CONTACT_ONLY = (
    "Your role may not change {field}; it may change do_not_call, do_not_email, "
    "first_name, last_name, phone. Ask Marketing to change the rest (they feed "
    "the lead's score)."
)
ACCOUNTS_REFUSED = (
    "Accounts are changed by Marketing or an Admin: their size and industry "
    "score every lead of the account."
)


def lead_state(lead_id: int) -> tuple[Any, ...]:
    """The lead's row, its handoffs and the audit log: what an edit may touch."""
    row = Lead.objects.filter(id=lead_id).values().get()
    return (
        row,
        Handoff.objects.filter(lead_id=lead_id).count(),
        AuditEvent.objects.filter(action__in=["lead_edit", "account_edit"]).count(),
    )


@pytest.mark.parametrize(
    "body",
    [{"job_title": "Chief Executive Officer"}, {"phone": "+1 555 0100"}],
    ids=["title", "phone"],
)
@pytest.mark.parametrize("who", ["rep_b", "sdr_a", "sdr_elsewhere"])
def test_nobody_but_the_owner_edits_a_reps_lead(office, who, body):
    lead_id = office.accepted.lead_id
    before = lead_state(lead_id)

    response = token_request(
        getattr(office, who), "PATCH", f"/api/v1/leads/{lead_id}/", body
    )

    assert response.status_code == 403
    assert response.json() == {
        "detail": f"You may edit only leads you own; lead {lead_id} is not one of them."
    }
    assert lead_state(lead_id) == before


def test_an_sdr_cannot_opt_a_reps_customer_out_of_email(office):
    lead_id = office.accepted.lead_id
    before = lead_state(lead_id)

    response = token_request(
        office.sdr_a, "PATCH", f"/api/v1/leads/{lead_id}/", {"do_not_email": True}
    )

    assert response.status_code == 403
    assert lead_state(lead_id) == before


def test_the_owner_edits_a_contact_field_and_the_edit_is_audited(office):
    lead_id = office.accepted.lead_id

    response = token_request(
        office.rep_a, "PATCH", f"/api/v1/leads/{lead_id}/", {"phone": "+1 555 0100"}
    )

    assert response.status_code == 200
    assert Lead.objects.get(id=lead_id).phone == "+1 555 0100"
    event = AuditEvent.objects.get(action="lead_edit")
    assert (event.actor, event.lead_id, event.details) == (
        office.rep_a,
        lead_id,
        {"fields": ["phone"]},
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("job_title", "Chief Executive Officer"),
        ("country", "DE"),
        ("attributes", {"budget": "big"}),
        ("utm_source", "linkedin"),
    ],
)
def test_the_owner_may_not_change_what_feeds_the_score(office, field, value):
    lead_id = office.accepted.lead_id
    before = lead_state(lead_id)

    response = token_request(
        office.rep_a,
        "PATCH",
        f"/api/v1/leads/{lead_id}/",
        {"phone": "+1 555 0100", field: value},
    )

    assert response.status_code == 403
    assert response.json() == {"detail": CONTACT_ONLY.format(field=field)}
    assert lead_state(lead_id) == before


def test_an_sdr_cannot_change_an_account_through_their_own_lead(office):
    account = AccountFactory(name="Acme", employee_count=250, industry="software")
    lead = LeadFactory(owner=office.sdr_a, account=account)
    LeadFactory.create_batch(2, account=account)
    before = lead_state(lead.id)

    response = token_request(
        office.sdr_a,
        "PATCH",
        f"/api/v1/leads/{lead.id}/",
        {"account": {"domain": account.domain, "name": "Renamed", "employee_count": 5}},
    )

    assert response.status_code == 403
    assert response.json() == {"detail": ACCOUNTS_REFUSED}
    assert Account.objects.filter(id=account.id).values_list(
        "name", "employee_count", "industry"
    ).get() == ("Acme", 250, "software")
    assert lead_state(lead.id) == before


def test_a_manager_edits_the_contact_fields_of_the_teams_leads(office):
    lead_id = office.accepted.lead_id

    response = token_request(
        office.manager, "PATCH", f"/api/v1/leads/{lead_id}/", {"do_not_call": True}
    )
    title = token_request(
        office.manager, "PATCH", f"/api/v1/leads/{lead_id}/", {"job_title": "CEO"}
    )

    assert response.status_code == 200
    assert Lead.objects.get(id=lead_id).do_not_call is True
    assert AuditEvent.objects.get(action="lead_edit").actor == office.manager
    assert title.status_code == 403


def test_a_manager_does_not_edit_leads_outside_the_sales_team(office):
    marketer = UserFactory(username="marketer", roles=[MARKETING])
    leads = [LeadFactory(), LeadFactory(owner=marketer)]
    before = [lead_state(lead.id) for lead in leads]

    answers = [
        token_request(
            office.manager, "PATCH", f"/api/v1/leads/{lead.id}/", {"phone": "1"}
        ).json()
        for lead in leads
    ]

    assert answers == [
        {
            "detail": f"You may edit only leads you or your team own; lead "
            f"{lead.id} is not one of them."
        }
        for lead in leads
    ]
    assert [lead_state(lead.id) for lead in leads] == before


@pytest.mark.parametrize("role", [MARKETING, ADMIN])
def test_marketing_and_admins_edit_any_lead_and_its_account(office, role):
    editor = UserFactory(username="editor", roles=[role])
    lead_id = office.accepted.lead_id

    response = token_request(
        editor,
        "PATCH",
        f"/api/v1/leads/{lead_id}/",
        {
            "job_title": "VP of Sales",
            "account": {"domain": "acme.example", "industry": "software"},
        },
    )

    assert response.status_code == 200
    lead = Lead.objects.select_related("account").get(id=lead_id)
    assert (lead.job_title, lead.account.domain) == ("VP of Sales", "acme.example")
    assert AuditEvent.objects.get(action="lead_edit").details == {
        "fields": ["account", "job_title"]
    }


# Tokens: nobody reads or obtains another person's
# ------------------------------------------------------------------------------

API_READS = [
    "/api/v1/leads/",
    "/api/v1/handoffs/",
    "/api/v1/touchpoints/",
    "/api/v1/scoring-models/",
    "/api/v1/rejection-reasons/",
]


@pytest.mark.parametrize("role", [MARKETING, SDR, SALES, ADMIN])
def test_nobody_obtains_a_colleagues_token_with_their_own_password(role):
    alice = UserFactory(username="alice", roles=[role])
    bob = UserFactory(username="bob", roles=[role])
    bob.set_password("bobs-own-password")
    bob.save()
    alice_token = Token.objects.create(user=alice).key

    response = Client().post(
        "/api/v1/auth/token/",
        {"username": "alice", "password": "bobs-own-password"},
        content_type="application/json",
    )

    assert response.status_code == 400
    assert alice_token not in response.content.decode()
    assert Token.objects.get(user=alice).key == alice_token


@pytest.mark.parametrize("role", [MARKETING, SDR, SALES, ADMIN])
def test_no_api_answer_carries_another_persons_token(office, role):
    alice = UserFactory(username="alice", roles=[role])
    bob = UserFactory(username="bob", roles=[role])
    alice_token = Token.objects.create(user=alice).key
    LeadFactory(owner=alice)

    bodies = [token_request(bob, "GET", path).content.decode() for path in API_READS]

    assert [alice_token in body for body in bodies] == [False] * len(API_READS)


@pytest.mark.parametrize("role", [MARKETING, SDR, SALES])
def test_only_an_admin_opens_the_token_admin(role):
    token_owner = UserFactory(username="alice", roles=[role])
    token = Token.objects.create(user=token_owner).key
    # Even with the staff flag (Marketing may get it for campaigns).
    colleague = UserFactory(username="bob", roles=[role], is_staff=True)

    changelist = page(colleague).get("/admin/authtoken/tokenproxy/")

    assert changelist.status_code == 403
    assert token not in changelist.content.decode()
