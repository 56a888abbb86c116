"""The audit log: every state-changing action writes exactly one AuditEvent.

Each action is done through its real entry point (API, page, admin, command,
beat task), then the test asserts the one new row: action, actor, lead id and
details, and that the details name nobody (ids, codes and counts only). A
refused action (409, 400, 403, 404) writes no row, and a change that rolls
back takes its row with it.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from crm.privacy import erasure
from crm.roles import ADMIN, MARKETING, SALES, SDR
from handoff import services as handoff_services
from handoff.models import Handoff, SalesOutcome
from leads import lifecycle
from leads.models import AuditEvent, Lead, Stage
from scoring.models import ScoringRule
from scoring.selectors import model_active
from tests.factories import LeadFactory, TeamMemberFactory, UserFactory

pytestmark = pytest.mark.django_db

MIDDLEWARE = "crm.audit.AuditActorMiddleware"
# Monday 2026-03-02 10:00 UTC: inside the business hours of the test calendar.
MONDAY_10 = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)
PERSON = {
    "email": "zebulon.quixotic@quixotic-audit.example",
    "first_name": "Zebulon",
    "last_name": "Quixotic",
    "phone": "+1 555 0199 731",
}


@pytest.fixture(autouse=True)
def _actor_middleware(settings: Any) -> None:
    """The receivers name the actor through this middleware (crm.audit).

    It belongs in settings.MIDDLEWARE after AuthenticationMiddleware; added
    here when settings do not have it yet, so the tests exercise it either way.
    """
    if MIDDLEWARE not in settings.MIDDLEWARE:
        auth = settings.MIDDLEWARE.index(
            "django.contrib.auth.middleware.AuthenticationMiddleware"
        )
        settings.MIDDLEWARE = [
            *settings.MIDDLEWARE[: auth + 1],
            MIDDLEWARE,
            *settings.MIDDLEWARE[auth + 1 :],
        ]


class Audit:
    """The rows written since ``mark()``."""

    def __init__(self) -> None:
        self.mark()

    def mark(self) -> None:
        self.last_id = (
            AuditEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
        )

    def new(self) -> list[AuditEvent]:
        return list(AuditEvent.objects.filter(id__gt=self.last_id).order_by("id"))

    def one(self) -> AuditEvent:
        rows = self.new()
        assert len(rows) == 1, [(r.action, r.details) for r in rows]
        _assert_names_nobody(rows[0])
        self.mark()
        return rows[0]

    def none(self) -> None:
        assert [(r.action, r.details) for r in self.new()] == []


@pytest.fixture
def audit() -> Audit:
    return Audit()


def _assert_names_nobody(event: AuditEvent) -> None:
    text = json.dumps(event.details).lower()
    for lead in Lead.objects.all():
        for value in (lead.email, lead.first_name, lead.last_name, lead.phone):
            if value and "erased" not in value:
                assert value.lower() not in text, (event.action, value)
    for value in PERSON.values():
        assert value.lower() not in text, (event.action, value)


def _api(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user=user)
    return client


def _web(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _mql(**fields: Any) -> Lead:
    lead = LeadFactory(**(PERSON | fields))
    lifecycle.lead_move(
        lead_id=lead.id, to_stage=Stage.MQL, system_actor="scoring", now=MONDAY_10
    )
    return lead


def _pending(lead: Lead) -> Handoff:
    handoff = handoff_services.handoff_open(lead_id=lead.id, now=MONDAY_10)
    assert handoff is not None
    return handoff


# Handoff decisions, claims, the timer's reassignment, sales moves
# ------------------------------------------------------------------------------


def test_accept_through_the_api_is_audited_once_and_a_lost_race_not(sla, sdr, audit):
    lead = _mql()
    handoff = _pending(lead)
    audit.mark()

    accepted = _api(sdr).post(
        f"/api/v1/handoffs/{handoff.id}/accept/", {}, format="json"
    )
    again = _api(sdr).post(f"/api/v1/handoffs/{handoff.id}/accept/", {}, format="json")

    assert (accepted.status_code, again.status_code) == (200, 409)
    event = audit.one()
    assert (event.action, event.actor, event.lead_id) == (
        "handoff_accept",
        sdr,
        lead.id,
    )
    assert event.details == {"handoff_id": handoff.id, "owner_id": sdr.id}
    audit.none()


def test_reject_on_the_page_is_audited_once_and_a_refused_one_not(sla, sdr, audit):
    lead = _mql()
    handoff = _pending(lead)
    audit.mark()
    url = reverse("handoff:reject", kwargs={"handoff_id": handoff.id})

    refused = _web(sdr).post(url, {"reason": "not_a_reason"}, HTTP_HX_REQUEST="true")
    audit.none()
    done = _web(sdr).post(url, {"reason": "no_budget", "feedback": "Zebulon waits"})

    assert refused.status_code == 422
    assert done.status_code == 302
    event = audit.one()
    assert (event.action, event.actor, event.lead_id) == (
        "handoff_reject",
        sdr,
        lead.id,
    )
    assert event.details == {
        "handoff_id": handoff.id,
        "reason": "no_budget",
        "to_stage": "nurture",
    }


def test_taking_an_unassigned_handoff_is_audited_once(sla, audit):
    lead = _mql()
    handoff = _pending(lead)  # the team has nobody yet
    assert handoff.assigned_to is None
    taker = TeamMemberFactory(team=sla.team).user
    audit.mark()
    url = reverse("handoff:claim", kwargs={"handoff_id": handoff.id})

    _web(taker).post(url)
    _web(taker).post(url)  # already taken: refused

    event = audit.one()
    assert (event.action, event.actor, event.lead_id, event.details) == (
        "handoff_claim",
        taker,
        lead.id,
        {"handoff_id": handoff.id},
    )
    audit.none()


def test_the_timer_expiring_and_reassigning_writes_one_row_without_actor(
    sla, sdr, audit
):
    other = TeamMemberFactory(team=sla.team, user__username="ola").user
    lead = _mql()
    handoff = _pending(lead)
    assert handoff.assigned_to == sdr
    audit.mark()
    late = handoff.due_at + dt.timedelta(minutes=1)

    handoff_services.escalation_run(now=late)
    handoff_services.escalation_run(now=late)  # a second beat: nothing to do

    new = Handoff.objects.get(previous=handoff)
    event = audit.one()
    assert (event.action, event.actor, event.lead_id) == (
        "handoff_reassign",
        None,
        lead.id,
    )
    assert event.details == {
        "handoff_id": handoff.id,
        "from_user_id": sdr.id,
        "new_handoff_id": new.id,
        "to_user_id": other.id,
    }
    audit.none()


def test_a_sales_move_is_audited_once_and_a_refused_one_not(sla, sdr, audit):
    rep = UserFactory(username="rae", roles=[SALES])
    lead = _mql()
    handoff = _pending(lead)
    handoff_services.handoff_accept(handoff_id=handoff.id, actor=sdr, owner=rep)
    audit.mark()
    url = reverse("handoff:sales_move", kwargs={"lead_id": lead.id})

    _web(rep).post(url, {"move": "forward", "to_stage": "customer"})  # skips
    audit.none()
    _web(rep).post(url, {"move": "forward", "to_stage": "sql"})

    assert Lead.objects.get(id=lead.id).stage == Stage.SQL
    event = audit.one()
    assert (event.action, event.actor, event.lead_id) == ("sales_move", rep, lead.id)
    assert event.details == {
        "outcome_id": SalesOutcome.objects.get(lead_id=lead.id).id,
        "from_stage": "sal",
        "to_stage": "sql",
        "reason": "",
    }


def test_attempts_and_scoring_promotions_write_no_audit_row(sla, sdr, audit):
    """Work records and the engine's automatic moves are not audit rows."""
    lead = _mql()  # scoring's move (a StageTransition, system actor)
    handoff = _pending(lead)  # opened by the system on the MQL
    handoff_services.attempt_log(
        handoff_id=handoff.id, actor=sdr, channel="call", outcome="no_answer"
    )

    audit.none()


# Scoring: draft edits and publishing
# ------------------------------------------------------------------------------


FIT_RULE = {
    "kind": "fit",
    "label": "Chiefs",
    "points": "10",
    "attribute": "seniority",
    "operator": "equals",
    "value": "c_level",
}


def test_rule_edits_on_the_pages_are_audited_once_each(marketer, draft, audit):
    web = _web(marketer)
    audit.mark()

    refused = web.post(
        f"/scoring/{draft.id}/rules/add/", {**FIT_RULE, "operator": "between"}
    )
    audit.none()
    web.post(f"/scoring/{draft.id}/rules/add/", FIT_RULE)
    rule = ScoringRule.objects.get(model=draft, label="Chiefs")
    added = audit.one()
    web.post(f"/scoring/{draft.id}/rules/{rule.id}/", {**FIT_RULE, "points": "12"})
    updated = audit.one()
    web.post(f"/scoring/{draft.id}/rules/{rule.id}/delete/")
    deleted = audit.one()

    assert refused.status_code == 200  # the form again, with its errors
    assert [(e.action, e.actor, e.lead_id, e.details) for e in (added, updated)] == [
        (
            "rule_edit",
            marketer,
            None,
            {"op": "create", "model_id": draft.id, "rule_id": rule.id, "kind": "fit"},
        ),
        (
            "rule_edit",
            marketer,
            None,
            {"op": "update", "model_id": draft.id, "rule_id": rule.id},
        ),
    ]
    assert deleted.details == {"op": "delete", "model_id": draft.id, "rule_id": rule.id}


def test_an_edit_of_a_published_model_is_refused_without_a_row(marketer, audit):
    active = model_active()
    audit.mark()

    _web(marketer).post(f"/scoring/{active.id}/rules/add/", FIT_RULE)

    audit.none()


def test_publish_through_the_api_is_audited_once_and_a_second_not(
    marketer, draft, audit
):
    LeadFactory.create_batch(3)
    admin = UserFactory(roles=[ADMIN])
    replaced = model_active()
    audit.mark()

    first = _api(admin).post(f"/api/v1/scoring-models/{draft.id}/publish/")
    second = _api(marketer).post(f"/api/v1/scoring-models/{draft.id}/publish/")

    assert first.status_code == 202
    assert second.status_code in (400, 409)
    event = audit.one()
    assert (event.action, event.lead_id) == ("model_publish", None)
    assert event.actor == admin
    assert event.details == {
        "model_id": draft.id,
        "version": draft.version,
        "leads_to_rescore": 3,
        "replaced_model_id": replaced.id,
    }
    audit.none()


# Roles and tokens
# ------------------------------------------------------------------------------


def test_a_role_change_in_the_admin_is_one_row_naming_the_admin(audit):
    root = UserFactory(username="root", is_staff=True, is_superuser=True)
    user = UserFactory(username="sam", roles=[SDR])
    audit.mark()

    response = _web(root).post(
        reverse("admin:auth_user_change", args=[user.id]),
        {
            "username": "sam",
            "is_active": "on",
            "is_staff": "on",
            "groups": [Group.objects.get(name=SALES).id],
            "date_joined_0": "2026-01-01",
            "date_joined_1": "09:00:00",
            "initial-date_joined_0": "2026-01-01",
            "initial-date_joined_1": "09:00:00",
        },
    )

    assert response.status_code == 302, response.context["adminform"].form.errors
    event = audit.one()
    assert (event.action, event.actor, event.lead_id) == ("role_change", root, None)
    assert event.details == {
        "user_id": user.id,
        "is_staff": [False, True],
        "groups_removed": [SDR],
        "groups_added": [SALES],
    }


def test_a_role_given_outside_a_request_is_one_row_without_actor(audit):
    user = UserFactory(username="sam")
    audit.mark()

    user.groups.add(Group.objects.get(name=MARKETING))
    user.groups.add(Group.objects.get(name=MARKETING))  # no change: no row
    user.save(update_fields=["last_login"])  # not a role: no row

    event = audit.one()
    assert (event.action, event.actor, event.details) == (
        "role_change",
        None,
        {"user_id": user.id, "groups_added": [MARKETING]},
    )
    audit.none()


def test_a_role_change_that_rolls_back_leaves_no_row(audit):
    from django.db import transaction

    user = UserFactory(username="sam")
    audit.mark()

    def give_admin_then_fail() -> None:
        with transaction.atomic():
            user.groups.add(Group.objects.get(name=ADMIN))
            raise RuntimeError("the change fails later in its transaction")

    with pytest.raises(RuntimeError):
        give_admin_then_fail()
    user.groups.add(Group.objects.get(name=SDR))

    # The rolled-back row is gone and the next change starts its own row.
    assert audit.one().details == {"user_id": user.id, "groups_added": [SDR]}


def test_the_token_endpoint_audits_the_first_issue_only(audit):
    user = UserFactory(username="tia", roles=[MARKETING])
    audit.mark()
    client = APIClient()

    wrong = client.post(
        "/api/v1/auth/token/", {"username": "tia", "password": "wrong"}, format="json"
    )
    audit.none()
    first = client.post(
        "/api/v1/auth/token/",
        {"username": "tia", "password": "pw-for-tests"},
        format="json",
    )
    event = audit.one()
    again = client.post(
        "/api/v1/auth/token/",
        {"username": "tia", "password": "pw-for-tests"},
        format="json",
    )

    assert (wrong.status_code, first.status_code, again.status_code) == (
        400,
        200,
        200,
    )
    assert (event.action, event.actor, event.details) == (
        "token_issue",
        None,  # nobody was signed in: the password was the credential
        {"user_id": user.id},
    )
    assert first.json()["token"] not in json.dumps(event.details)
    audit.none()


def test_the_admin_issues_no_token_since_its_pages_would_show_the_key(audit):
    root = UserFactory(username="root", is_staff=True, is_superuser=True)
    user = UserFactory(username="tia", roles=[MARKETING])
    audit.mark()

    response = _web(root).post(
        reverse("admin:authtoken_tokenproxy_add"), {"user": user.id}
    )

    assert response.status_code == 403
    assert not Token.objects.filter(user=user).exists()
    audit.none()


# Personal data: export, erase, import, lead list CSV, the admin's bulk move
# ------------------------------------------------------------------------------


def test_export_and_erase_through_the_api_are_audited_once_each(audit):
    admin = UserFactory(roles=[ADMIN])
    sdr = UserFactory(roles=[SDR])
    lead = LeadFactory(**PERSON)
    audit.mark()

    assert _api(sdr).get("/api/v1/leads/999999/export/").status_code == 404
    assert _api(sdr).post(f"/api/v1/leads/{lead.id}/erase/").status_code == 403
    audit.none()
    assert _api(sdr).get(f"/api/v1/leads/{lead.id}/export/").status_code == 200
    exported = audit.one()
    assert _api(admin).post(f"/api/v1/leads/{lead.id}/erase/").status_code == 200
    erased = audit.one()

    assert (exported.action, exported.actor, exported.lead_id) == (
        "export",
        sdr,
        lead.id,
    )
    assert (erased.action, erased.actor, erased.lead_id) == ("erase", admin, lead.id)
    assert erased.details["already_erased"] is False


def test_an_erase_that_fails_midway_leaves_no_row_and_no_change(monkeypatch, audit):
    lead = LeadFactory(**PERSON)
    admin = UserFactory(roles=[ADMIN])

    def broken(*, lead: Lead, now: dt.datetime) -> dict[str, int]:
        raise RuntimeError("a step fails after the others wrote")

    monkeypatch.setattr(erasure, "ERASE_STEPS", [*erasure.ERASE_STEPS, broken])
    audit.mark()

    with pytest.raises(RuntimeError):
        erasure.lead_erase(lead=lead, actor=admin)

    audit.none()
    assert Lead.objects.get(id=lead.id).email == PERSON["email"]


def test_an_import_command_is_audited_once(tmp_path: Path, audit):
    path = tmp_path / "people.csv"
    path.write_text(
        "email,first_name,last_name\n"
        f"{PERSON['email']},{PERSON['first_name']},{PERSON['last_name']}\n"
    )
    audit.mark()

    call_command("import_leads", str(path), stdout=None)

    event = audit.one()
    assert (event.action, event.actor, event.lead_id) == ("import", None, None)
    assert (event.details["kind"], event.details["created"]) == ("leads", 1)


@pytest.fixture
def listed() -> list[Lead]:
    LeadFactory(**PERSON, country="DE")
    LeadFactory(country="DE")
    LeadFactory(country="FR")
    return list(Lead.objects.all())


def test_the_lead_list_csv_page_is_audited_with_filter_and_rows(listed, audit):
    marketer = UserFactory(roles=[MARKETING])
    audit.mark()

    response = _web(marketer).get(
        "/leads/csv/", {"country": "DE", "q": PERSON["last_name"]}
    )
    b"".join(response.streaming_content)

    event = audit.one()
    assert (event.action, event.actor, event.lead_id) == (
        "lead_export_csv",
        marketer,
        None,
    )
    # The search text may be a name: only that one was given is kept.
    assert event.details == {"filter": {"country": "DE", "q": True}, "rows": 1}


def test_the_lead_csv_api_is_audited_once_and_a_bad_filter_not(listed, audit):
    marketer = UserFactory(roles=[MARKETING])
    audit.mark()

    bad = _api(marketer).get("/api/v1/leads/csv/", {"score_min": "lots"})
    audit.none()
    good = _api(marketer).get("/api/v1/leads/csv/", {"country": "DE"})
    b"".join(good.streaming_content)

    assert (bad.status_code, good.status_code) == (400, 200)
    event = audit.one()
    assert (event.action, event.actor) == ("lead_export_csv", marketer)
    assert event.details == {"filter": {"country": "DE"}, "rows": 2}


def test_the_admin_bulk_move_is_one_row_with_the_moved_ids(audit):
    root = UserFactory(username="root", is_staff=True, is_superuser=True)
    movable = [LeadFactory(), LeadFactory()]
    customer = LeadFactory(stage=Stage.CUSTOMER)  # cannot move: refused
    audit.mark()

    _web(root).post(
        reverse("admin:leads_lead_changelist"),
        {
            "action": "move_to_stage",
            "_selected_action": [lead.pk for lead in [*movable, customer]],
            "select_across": "0",
            "index": "0",
            "apply": "1",
            "to_stage": "nurture",
            "reason": "Spring clean-up",
        },
    )

    event = audit.one()
    assert (event.action, event.actor, event.lead_id) == (
        "bulk_stage_change",
        root,
        None,
    )
    assert event.details == {
        "to_stage": "nurture",
        "lead_ids": sorted(lead.id for lead in movable),
        "count": 2,
        "refused": 1,
    }
    assert set(Lead.objects.values_list("stage", flat=True)) == {
        Stage.NURTURE,
        Stage.CUSTOMER,
    }
