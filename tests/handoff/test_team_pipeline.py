"""The sales side of a handoff: its page for the rep who owns the lead now,
and a manager's team pipeline with its reassignments (service and views)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import connection
from rest_framework.test import APIClient

from crm.privacy.erasure import lead_erase
from crm.roles import SALES, SDR
from handoff import services
from handoff.exceptions import DecisionInvalid, HandoffNotYours, LeadOwnerChanged
from handoff.models import Handoff
from handoff.notifications import owner_change_send
from handoff.services import sales as sales_services
from handoff.tasks import send_owner_change_task
from leads import lifecycle
from leads.models import AuditEvent, Lead, OwnerChange, Stage
from tests.factories import LeadFactory, UserFactory

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 3, 2, 14, 0, tzinfo=dt.UTC)
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def manager(mona):
    return mona


def accepted(sdr, owner, *, first_name="Ada", last_name="Lovelace") -> Handoff:
    """A lead the SDR accepted for ``owner`` (its SAL and accepted handoff)."""
    lead = LeadFactory(first_name=first_name, last_name=last_name)
    lifecycle.lead_move(
        lead_id=lead.id, to_stage=Stage.MQL, system_actor="scoring", now=NOW
    )
    handoff = services.handoff_open(lead_id=lead.id, now=NOW)
    services.handoff_accept(handoff_id=handoff.id, actor=sdr, owner=owner, now=NOW)
    return Handoff.objects.select_related("lead").get(id=handoff.id)


def reassign(handoff, *, actor, to_user, reason="Rita is on leave", expected=None):
    return services.lead_reassign(
        lead_id=handoff.lead_id,
        actor=actor,
        to_user=to_user,
        reason=reason,
        expected_owner_id=expected if expected is not None else handoff.owner_id,
        now=NOW,
    )


def unchanged(handoff, owner) -> None:
    """Nothing of a refused reassignment was stored."""
    assert Lead.objects.get(id=handoff.lead_id).owner == owner
    assert Handoff.objects.get(id=handoff.id).owner == owner
    assert not OwnerChange.objects.exists()
    assert not AuditEvent.objects.filter(action="lead_reassign").exists()


# A handoff's page for the sales side
# ------------------------------------------------------------------------------


@pytest.fixture
def taken_over(sdr, rita):
    """Accepted by the SDR, who keeps it (no sales team); Rita owns the lead now."""
    handoff = accepted(sdr, None)
    Lead.objects.filter(id=handoff.lead_id).update(owner=rita)
    return handoff


def test_a_rep_opens_the_handoff_page_from_their_pipeline_card(
    client, taken_over, rita
):
    client.force_login(rita)
    pipeline = client.get("/pipeline/").content.decode()
    link = re.search(r'<a href="([^"]+)">handoff #(\d+)</a>', pipeline)

    response = client.get(link.group(1))

    assert int(link.group(2)) == taken_over.id
    assert response.status_code == 200
    assert "Ada Lovelace" in response.content.decode()


def test_another_rep_gets_the_404_page_for_that_handoff(client, taken_over, sam):
    client.force_login(sam)

    response = client.get(f"/handoffs/{taken_over.id}/")

    assert response.status_code == 404
    assert "Ada Lovelace" not in response.content.decode()


def test_a_manager_opens_any_handoff_page(client, taken_over, manager):
    client.force_login(manager)

    response = client.get(f"/handoffs/{taken_over.id}/")

    assert response.status_code == 200
    assert "Ada Lovelace" in response.content.decode()


def test_the_api_shows_the_handoff_to_the_rep_who_owns_the_lead_only(
    taken_over, rita, sam
):
    url = f"/api/v1/handoffs/{taken_over.id}/"
    owner, other = APIClient(), APIClient()
    owner.force_authenticate(rita)
    other.force_authenticate(sam)

    assert owner.get(url).json()["id"] == taken_over.id
    assert other.get(url).status_code == 404


# The reassignment service
# ------------------------------------------------------------------------------


def test_reassign_hands_the_lead_and_its_handoff_to_the_new_rep(
    sdr, rita, sam, manager, mailoutbox, django_capture_on_commit_callbacks
):
    handoff = accepted(sdr, rita)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        change = reassign(handoff, actor=manager, to_user=sam)

    assert len(callbacks) == 1
    assert Lead.objects.get(id=handoff.lead_id).owner == sam
    assert Handoff.objects.get(id=handoff.id).owner == sam
    stored = OwnerChange.objects.get()
    assert (stored.id, stored.lead_id, stored.at) == (change.id, handoff.lead_id, NOW)
    assert (stored.actor, stored.from_owner, stored.to_owner) == (manager, rita, sam)
    assert stored.reason == "Rita is on leave"
    audit = AuditEvent.objects.get(action="lead_reassign")
    assert (audit.actor, audit.lead_id, audit.at) == (manager, handoff.lead_id, NOW)
    assert audit.details == {
        "owner_change_id": change.id,
        "from_owner_id": rita.id,
        "to_owner_id": sam.id,
        "handoff_id": handoff.id,
    }
    [mail] = mailoutbox
    assert mail.to == ["sam@leadflow.test"]
    assert mail.subject == "[Leadflow] Lead handed to you: Ada Lovelace"
    assert "Mona Berg handed you Ada Lovelace" in mail.body
    assert "until now owned by Rita Alvarez." in mail.body
    assert "Why: Rita is on leave" in mail.body


def test_reassign_locks_the_lead_inside_its_transaction(
    sdr, rita, sam, manager, monkeypatch
):
    handoff = accepted(sdr, rita)
    locked = []
    lock_lead = sales_services.lock_lead

    def spy(lead_id, **kwargs):
        locked.append((lead_id, connection.in_atomic_block))
        return lock_lead(lead_id, **kwargs)

    monkeypatch.setattr(sales_services, "lock_lead", spy)

    reassign(handoff, actor=manager, to_user=sam)

    assert locked == [(handoff.lead_id, True)]


def test_the_new_rep_is_emailed_once_however_often_the_task_runs(
    sdr, rita, sam, manager, mailoutbox
):
    change = reassign(accepted(sdr, rita), actor=manager, to_user=sam)

    first = send_owner_change_task.delay(change.id).get()
    second = owner_change_send(change_id=change.id)

    assert (first, second) == (1, 0)
    assert len(mailoutbox) == 1
    assert OwnerChange.objects.get().notified_at is not None


def test_the_lead_page_timeline_shows_the_reassignment_and_its_reason(
    client, sdr, rita, sam, manager
):
    handoff = accepted(sdr, rita)
    reassign(handoff, actor=manager, to_user=sam, reason="Sam covers Germany now")
    client.force_login(manager)

    response = client.get(f"/leads/{handoff.lead_id}/")

    [entry] = [e for e in response.context["timeline"] if e["type"] == "owner"]
    assert (entry["change"].to_owner, entry["change"].reason) == (
        sam,
        "Sam covers Germany now",
    )
    html = response.content.decode()
    assert "<strong>Handed to Sam Okafor</strong>" in html
    assert "Mona Berg · Sam covers Germany now" in html


def test_erasing_the_person_blanks_the_reason_and_keeps_the_change(
    sdr, rita, sam, manager
):
    handoff = accepted(sdr, rita)
    reassign(handoff, actor=manager, to_user=sam, reason="Ada asked for Sam")

    lead_erase(lead=Lead.objects.get(id=handoff.lead_id), actor=manager, now=NOW)

    change = OwnerChange.objects.get()
    assert (change.reason, change.from_owner, change.to_owner) == ("", rita, sam)


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"reason": "  "}, "reason", "Say why the lead changes hands."),
        (
            {"to_user": "inactive"},
            "to_user",
            "Ivo Inactive is not an active sales rep; choose one from the list.",
        ),
        (
            {"to_user": "sdr"},
            "to_user",
            "Ada is not an active sales rep; choose one from the list.",
        ),
        (
            {"to_user": "rita"},
            "to_user",
            "Rita Alvarez already owns this lead; choose another rep.",
        ),
        ({"to_user": None}, "to_user", "Choose the rep who takes the lead over."),
        (
            {"reason": "x" * 501},
            "reason",
            "Keep the reason under 500 characters (it has 501).",
        ),
    ],
)
def test_bad_input_is_refused_with_the_field_to_fix_and_changes_nothing(
    sdr, rita, sam, manager, change, field, message
):
    handoff = accepted(sdr, rita)
    people = {
        "inactive": UserFactory(
            first_name="Ivo", last_name="Inactive", roles=[SALES], is_active=False
        ),
        "sdr": sdr,
        "rita": rita,
        None: None,
    }
    to_user = people[change["to_user"]] if "to_user" in change else sam

    with pytest.raises(DecisionInvalid) as refused:
        reassign(
            handoff,
            actor=manager,
            to_user=to_user,
            reason=change.get("reason", "Rita is on leave"),
        )

    assert refused.value.errors == {field: message}
    unchanged(handoff, rita)


def test_a_lead_out_of_the_pipeline_is_refused(sdr, rita, sam, manager):
    handoff = accepted(sdr, rita)
    services.lead_sales_move(
        lead_id=handoff.lead_id, actor=rita, reason="sales_went_dark", now=NOW
    )

    with pytest.raises(DecisionInvalid) as refused:
        reassign(handoff, actor=manager, to_user=sam)

    assert refused.value.errors == {
        "lead": (
            f"Lead {handoff.lead_id} is Nurture, not in the sales pipeline; "
            "reload the page."
        )
    }
    unchanged(handoff, rita)


def test_only_a_manager_may_reassign(sdr, rita, sam):
    handoff = accepted(sdr, rita)

    with pytest.raises(HandoffNotYours):
        reassign(handoff, actor=rita, to_user=sam)

    unchanged(handoff, rita)


def test_a_reassignment_made_meanwhile_is_a_conflict(sdr, rita, sam, manager):
    handoff = accepted(sdr, rita)
    other = UserFactory(first_name="Ola", last_name="Nilsen", roles=[SALES])
    reassign(handoff, actor=manager, to_user=sam)

    with pytest.raises(LeadOwnerChanged) as lost:
        reassign(handoff, actor=manager, to_user=other, expected=rita.id)

    assert lost.value.message == (
        "Ada Lovelace was handed to Sam Okafor by someone else meanwhile; nothing "
        "was changed. Reload the page and choose again."
    )
    assert Lead.objects.get(id=handoff.lead_id).owner == sam
    assert OwnerChange.objects.count() == 1


# The team pipeline
# ------------------------------------------------------------------------------


def test_a_manager_sees_every_reps_pipeline_and_filters_by_rep(
    client, sdr, rita, sam, manager
):
    accepted(sdr, rita, first_name="Ada")
    accepted(sdr, sam, first_name="Bea")
    client.force_login(manager)

    everyone = client.get("/pipeline/team/")
    only_sam = client.get(f"/pipeline/team/?rep={sam.id}")

    def names(response):
        return {
            c.stage: sorted(card.lead.first_name for card in c.cards)
            for c in response.context["columns"]
        }

    assert everyone.status_code == 200
    assert names(everyone) == {"sal": ["Ada", "Bea"], "sql": [], "opportunity": []}
    assert names(only_sam) == {"sal": ["Bea"], "sql": [], "opportunity": []}
    html = everyone.content.decode()
    assert "Owner: <strong>Rita Alvarez</strong>" in html
    assert "Owner: <strong>Sam Okafor</strong>" in html


def test_a_rep_gets_no_team_pipeline_and_still_only_their_own(client, sdr, rita, sam):
    accepted(sdr, rita, first_name="Ada")
    accepted(sdr, sam, first_name="Bea")
    client.force_login(rita)

    team = client.get("/pipeline/team/")
    mine = client.get("/pipeline/")

    assert team.status_code == 403
    cards = [card.lead.first_name for c in mine.context["columns"] for card in c.cards]
    assert cards == ["Ada"]
    assert "/pipeline/team/" not in mine.content.decode()


def test_a_non_manager_posting_a_reassignment_gets_403(client, sdr, rita, sam):
    handoff = accepted(sdr, rita)
    client.force_login(rita)

    response = client.post(
        f"/pipeline/leads/{handoff.lead_id}/reassign/",
        {"to_user": sam.id, "reason": "Mine", "expected_owner_id": rita.id},
        **HTMX,
    )

    assert response.status_code == 403
    unchanged(handoff, rita)


def test_a_manager_reassigns_on_the_team_pipeline(client, sdr, rita, sam, manager):
    handoff = accepted(sdr, rita)
    client.force_login(manager)

    response = client.post(
        f"/pipeline/leads/{handoff.lead_id}/reassign/",
        {"to_user": sam.id, "reason": "Rita is on leave", "expected_owner_id": rita.id},
        **HTMX,
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert "Handed over — Ada Lovelace is now Sam Okafor&#x27;s lead." in html
    assert "Owner: <strong>Sam Okafor</strong>" in html
    assert Lead.objects.get(id=handoff.lead_id).owner == sam


def test_a_plain_post_redirects_back_with_the_message(client, sdr, rita, sam, manager):
    handoff = accepted(sdr, rita)
    client.force_login(manager)

    response = client.post(
        f"/pipeline/leads/{handoff.lead_id}/reassign/",
        {"to_user": sam.id, "reason": "Rita is on leave", "expected_owner_id": rita.id},
        follow=True,
    )

    assert response.redirect_chain == [("/pipeline/team/", 302)]
    assert "Handed over — Ada Lovelace is now Sam Okafor&#x27;s lead." in (
        response.content.decode()
    )


@pytest.mark.parametrize(
    ("post", "field_error"),
    [
        (
            {"reason": ""},
            '<p class="field-error" id="reassign-reason-error-{lead}">'
            "Say why the lead changes hands.</p>",
        ),
        (
            {"to_user": "inactive"},
            '<p class="field-error" id="reassign-to-error-{lead}">'
            "Ivo Inactive is not an active sales rep; choose one from the list.</p>",
        ),
        (
            {"to_user": "999999"},
            '<p class="field-error" id="reassign-to-error-{lead}">'
            "Choose a rep from the list.</p>",
        ),
    ],
)
def test_bad_input_shows_its_message_next_to_the_form(
    client, sdr, rita, sam, manager, post, field_error
):
    handoff = accepted(sdr, rita)
    inactive = UserFactory(
        first_name="Ivo", last_name="Inactive", roles=[SALES], is_active=False
    )
    data = {"to_user": sam.id, "reason": "Rita is on leave"}
    data |= post
    if data["to_user"] == "inactive":
        data["to_user"] = inactive.id
    client.force_login(manager)

    response = client.post(
        f"/pipeline/leads/{handoff.lead_id}/reassign/",
        {**data, "expected_owner_id": rita.id},
        **HTMX,
    )

    assert response.status_code == 422
    html = response.content.decode()
    assert field_error.format(lead=handoff.lead_id) in html
    assert '<details class="queue-more" open>' in html
    unchanged(handoff, rita)


def test_a_lead_out_of_the_pipeline_gets_its_message_in_the_form(
    client, sdr, rita, sam, manager
):
    handoff = accepted(sdr, rita)
    services.lead_sales_move(
        lead_id=handoff.lead_id, actor=rita, reason="sales_went_dark", now=NOW
    )
    client.force_login(manager)

    response = client.post(
        f"/pipeline/leads/{handoff.lead_id}/reassign/",
        {"to_user": sam.id, "reason": "Leave", "expected_owner_id": rita.id},
        **HTMX,
    )

    assert response.status_code == 422
    assert (
        f'<p class="field-error" role="alert">Lead {handoff.lead_id} is Nurture, '
        "not in the sales pipeline; reload the page.</p>"
    ) in response.content.decode()
    unchanged(handoff, rita)


def test_a_stale_owner_gets_409_with_the_conflict(client, sdr, rita, sam, manager):
    handoff = accepted(sdr, rita)
    reassign(handoff, actor=manager, to_user=sam)
    client.force_login(manager)

    response = client.post(
        f"/pipeline/leads/{handoff.lead_id}/reassign/",
        {"to_user": rita.id, "reason": "Back", "expected_owner_id": rita.id},
        **HTMX,
    )

    assert response.status_code == 409
    assert (
        "Ada Lovelace was handed to Sam Okafor by someone else meanwhile"
        in response.content.decode()
    )
    assert Lead.objects.get(id=handoff.lead_id).owner == sam


def test_reassigning_a_missing_lead_is_404(client, manager, sam):
    client.force_login(manager)

    response = client.post(
        "/pipeline/leads/999999/reassign/",
        {"to_user": sam.id, "reason": "x", "expected_owner_id": ""},
        **HTMX,
    )

    assert response.status_code == 404


def test_an_sdr_is_no_reassignment_target_on_the_page(client, sdr, rita, sam, manager):
    handoff = accepted(sdr, rita)
    client.force_login(manager)

    reps = client.get(
        f"/pipeline/leads/{handoff.lead_id}/reassign/form/", **HTMX
    ).context["reps"]

    assert [r.username for r in reps] == ["mona", "rita", "sam"]
    assert SDR not in {g.name for r in reps for g in r.groups.all()}
