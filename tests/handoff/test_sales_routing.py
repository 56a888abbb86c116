"""Accepting a handoff hands the lead to a sales rep: the SLA's sales routing."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.core import mail

from handoff import presenters, services
from handoff.exceptions import DecisionInvalid
from handoff.models import Handoff, HandoffEvent, ServiceLevelAgreement, Team
from handoff.notifications import notification_send
from leads.models import AuditEvent, Lead, Stage
from tests.clients import token_client
from tests.factories import (
    AccountFactory,
    CalendarFactory,
    SlaFactory,
    TeamFactory,
    TeamMemberFactory,
    UserFactory,
    mql_handoff_open,
)

pytestmark = pytest.mark.django_db

MONDAY_10 = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)
Routing = ServiceLevelAgreement.SalesRouting


def rep(name: str, **fields) -> object:
    first, last = name.split()
    return UserFactory(
        username=first.lower(),
        first_name=first,
        last_name=last,
        roles=["Sales"],
        **fields,
    )


@pytest.fixture
def reps():
    return [rep("Sam Rep"), rep("Rita Rep"), rep("Tom Rep")]


@pytest.fixture
def sales_sla(reps):
    """An SLA whose accepted leads go to a round-robin team of three reps."""
    team = TeamFactory(name="West", strategy=Team.Strategy.ROUND_ROBIN)
    for person in reps:
        TeamMemberFactory(team=team, user=person)
    return SlaFactory(accept_within_hours=8, sales_team=team)


@pytest.fixture
def ada(sales_sla):
    """Ada, an SDR in the sales SLA's SDR team."""
    return TeamMemberFactory(
        team=sales_sla.team, user__username="ada", user__first_name="Ada"
    ).user


def pending(**lead_fields) -> Handoff:
    return mql_handoff_open(MONDAY_10, **lead_fields)


def accept(handoff: Handoff, actor, **kwargs) -> Handoff:
    services.handoff_accept(handoff_id=handoff.id, actor=actor, now=MONDAY_10, **kwargs)
    return Handoff.objects.get(id=handoff.id)


def test_round_robin_sales_team_hands_each_accepted_lead_to_the_next_rep(
    sales_sla, ada, reps
):
    handoffs = [pending() for _ in range(4)]

    owners = [accept(h, ada).owner for h in handoffs]

    assert owners == [reps[0], reps[1], reps[2], reps[0]]
    lead = Lead.objects.get(id=handoffs[1].lead_id)
    assert (lead.stage, lead.owner) == (Stage.SAL, reps[1])
    event = HandoffEvent.objects.get(handoff=handoffs[1], kind="handed_to_sales")
    assert (event.actor, event.detail) == (
        ada,
        "Round robin in West picks Rita Rep",
    )
    audit = AuditEvent.objects.filter(
        action=AuditEvent.Action.HANDOFF_ACCEPT, lead_id=lead.id
    ).get()
    assert audit.details == {
        "handoff_id": handoffs[1].id,
        "owner_id": reps[1].id,
        "sales_rep": "Rita Rep",
        "sales_routing": "Round robin in West picks Rita Rep",
    }


def test_least_loaded_sales_team_picks_the_rep_with_fewest_open_leads(
    sales_sla, ada, reps
):
    team = sales_sla.sales_team
    Team.objects.filter(id=team.id).update(strategy=Team.Strategy.LEAST_LOADED)
    # Tom has two leads in his pipeline but was served longest ago: round
    # robin would pick him; Sam and Rita have none.
    accept(pending(), ada, owner=reps[2])
    accept(pending(), ada, owner=reps[2])
    for person, last_turn in ((reps[0], 5), (reps[1], 6), (reps[2], 0)):
        team.memberships.filter(user=person).update(last_turn=last_turn)

    assert accept(pending(), ada).owner == reps[0]


def test_weighted_sales_team_follows_the_weights(sales_sla, ada, reps):
    Team.objects.filter(id=sales_sla.sales_team_id).update(
        strategy=Team.Strategy.WEIGHTED
    )
    members = sales_sla.sales_team.memberships
    members.filter(user=reps[0]).update(weight=3)
    members.filter(user=reps[2]).update(is_active=False)

    owners = [accept(pending(), ada).owner for _ in range(4)]

    # Sam's share is three times Rita's.
    assert owners == [reps[0], reps[0], reps[1], reps[0]]


def test_account_owner_rep_gets_their_accounts_lead(sales_sla, ada, reps):
    ServiceLevelAgreement.objects.filter(id=sales_sla.id).update(
        sales_routing=Routing.ACCOUNT_OWNER
    )
    account = AccountFactory(owner=reps[2])

    handoff = accept(pending(account=account), ada)

    assert handoff.owner == reps[2]
    assert HandoffEvent.objects.get(handoff=handoff, kind="handed_to_sales").detail == (
        "The account owner, Tom Rep"
    )


def test_account_owner_who_is_not_a_rep_falls_back_to_the_sales_team(
    sales_sla, ada, reps
):
    ServiceLevelAgreement.objects.filter(id=sales_sla.id).update(
        sales_routing=Routing.ACCOUNT_OWNER
    )
    account = AccountFactory(owner=UserFactory(roles=["Marketing"]))

    assert accept(pending(account=account), ada).owner == reps[0]


def test_account_owner_routing_without_owner_or_team_makes_the_sdr_pick(sla, sdr):
    ServiceLevelAgreement.objects.filter(id=sla.id).update(
        sales_routing=Routing.ACCOUNT_OWNER
    )
    handoff = pending()

    with pytest.raises(DecisionInvalid) as refused:
        accept(handoff, sdr)

    assert refused.value.errors == {
        "owner": (
            "The account has no active sales rep as owner and the SLA "
            f"{sla} no sales team; choose a rep."
        )
    }
    assert Handoff.objects.get(id=handoff.id).status == "pending"


def test_sdr_picks_refuses_an_accept_without_a_rep_and_takes_the_one_chosen(
    sales_sla, ada, reps
):
    ServiceLevelAgreement.objects.filter(id=sales_sla.id).update(
        sales_routing=Routing.SDR_PICKS
    )
    handoff = pending()

    with pytest.raises(DecisionInvalid) as refused:
        accept(handoff, ada)
    assert refused.value.errors == {
        "owner": f"The SLA {sales_sla} has the accepting SDR pick a rep."
    }
    assert Lead.objects.get(id=handoff.lead_id).stage == Stage.MQL

    assert accept(handoff, ada, owner=reps[2]).owner == reps[2]


def test_without_a_sales_team_the_accepting_sdr_owns_the_lead_as_before(sla, sdr):
    handoff = accept(pending(), sdr)

    assert handoff.owner == sdr
    assert not HandoffEvent.objects.filter(kind="handed_to_sales").exists()


def test_explicit_owner_wins_over_the_routing_and_takes_the_turn(sales_sla, ada, reps):
    first = accept(pending(), ada, owner=reps[2])

    assert first.owner == reps[2]
    assert HandoffEvent.objects.get(handoff=first, kind="handed_to_sales").detail == (
        "Ada chose Tom Rep"
    )
    # Tom's turn was counted: round robin goes on with Sam, then Rita.
    assert [accept(pending(), ada).owner for _ in range(2)] == [reps[0], reps[1]]


@pytest.mark.parametrize(
    ("who", "name"),
    [
        (lambda: rep("Gone Rep", is_active=False), "Gone Rep"),
        (
            lambda: UserFactory(first_name="Sid", last_name="Dr", roles=["SDR"]),
            "Sid Dr",
        ),
        (
            lambda: UserFactory(first_name="Max", last_name="Admin", roles=["Admin"]),
            "Max Admin",
        ),
    ],
)
def test_an_owner_who_is_not_an_active_sales_rep_is_refused(sales_sla, ada, who, name):
    handoff = pending()
    owner = who()

    with pytest.raises(DecisionInvalid) as refused:
        accept(handoff, ada, owner=owner)

    assert refused.value.errors == {
        "owner": f"{name} is not an active sales rep; choose one who is."
    }
    handoff.refresh_from_db()
    assert (handoff.status, handoff.owner) == ("pending", None)
    assert Lead.objects.get(id=handoff.lead_id).stage == Stage.MQL


def test_the_rep_gets_one_e_mail_after_commit(
    sales_sla, ada, reps, django_capture_on_commit_callbacks
):
    handoff = pending()

    with django_capture_on_commit_callbacks(execute=True):
        accept(handoff, ada)
    # A redelivered task sends nothing more.
    assert notification_send(kind="handed_over", handoff_id=handoff.id) == 0

    lead = Lead.objects.get(id=handoff.lead_id)
    assert [(m.subject, m.to) for m in mail.outbox] == [
        (f"[Leadflow] Accepted lead for you: {lead}", [reps[0].email])
    ]
    body = mail.outbox[0].body
    assert "How you were chosen: Round robin in West picks Sam Rep." in body
    assert f"It is in your pipeline: {settings.SITE_URL}/pipeline/" in body


# Pages
# ------------------------------------------------------------------------------


def _accept_form(client, handoff: Handoff) -> str:
    """The queue row's accept form, as the row fetches it when opened."""
    response = client.get(
        f"/handoffs/{handoff.id}/accept/form/", HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    return response.content.decode()


def test_the_accept_form_offers_active_reps_with_the_routings_pick_preselected(
    client, sales_sla, ada, reps
):
    rep("Old Rep", is_active=False)
    handoff = pending()
    client.force_login(ada)

    html = _accept_form(client, handoff)

    form = html[html.index(f'id="owner-queue-{handoff.id}"') :]
    form = form[: form.index("</select>")]
    assert [line.strip() for line in form.splitlines()[1:] if "<option" in line] == [
        '<option value="">Choose a rep</option>',
        f'<option value="{reps[1].pk}">Rita Rep</option>',
        f'<option value="{reps[0].pk}" selected>Sam Rep</option>',
        f'<option value="{reps[2].pk}">Tom Rep</option>',
    ]
    assert "Round robin in West picks Sam Rep" in html
    assert f'hx-post="/handoffs/{handoff.id}/accept/"' in html
    assert '<input type="hidden" name="source" value="queue">' in html
    assert 'hx-target="closest .queue-row"' in html


def test_the_queue_works_out_no_rep_until_an_accept_form_is_opened(
    client, monkeypatch, sales_sla, ada, reps
):
    handoff = pending()
    asked = []
    sales_route = presenters.sales_route

    def counted(h, **kwargs):
        asked.append(h.id)
        return sales_route(h, **kwargs)

    monkeypatch.setattr(presenters, "sales_route", counted)
    client.force_login(ada)

    page = client.get("/queue/").content.decode()
    fragment = client.get("/queue/rows/", HTTP_HX_REQUEST="true").content.decode()

    assert asked == []
    for html in (page, fragment):
        assert (
            f'<details class="queue-more queue-accept" '
            f'hx-get="/handoffs/{handoff.id}/accept/form/" hx-trigger="toggle once"'
        ) in html
        # Without JavaScript the opened row leads to the handoff's page.
        assert (
            f'<a href="/handoffs/{handoff.id}/">Accept it on its handoff page</a>'
        ) in html
        assert 'name="owner"' not in html
    _accept_form(client, handoff)
    assert asked == [handoff.id]


def test_a_sales_team_in_two_time_zones_picks_by_each_calendars_day(
    client, sales_sla, ada, reps
):
    # given a least-loaded sales team, a second SLA of it whose calendar
    # counts its day in another time zone, and a lead already accepted to Sam
    Team.objects.filter(id=sales_sla.sales_team_id).update(
        strategy=Team.Strategy.LEAST_LOADED
    )
    other = SlaFactory(
        team=sales_sla.team,
        calendar=CalendarFactory(time_zone="America/New_York"),
        sales_team=sales_sla.sales_team,
    )
    first, second = pending(), pending()
    Handoff.objects.filter(id=second.id).update(sla=other)
    accept(pending(), ada, owner=reps[0])
    client.force_login(ada)

    # when each row's accept form is opened
    forms = [_accept_form(client, h) for h in (first, second)]

    # then Sam holds a lead, so the least loaded turn passes him over in both
    for handoff, html in zip((first, second), forms, strict=True):
        form = html[html.index(f'id="owner-queue-{handoff.id}"') :]
        assert f'<option value="{reps[1].pk}" selected>Rita Rep</option>' in form


def test_an_accept_form_follows_the_posts_rules(client, sales_sla, ada, reps):
    teammate = TeamMemberFactory(team=sales_sla.team, user__username="bo").user
    theirs = pending()
    Handoff.objects.filter(id=theirs.id).update(assigned_to=teammate)
    client.force_login(ada)

    response = client.get(f"/handoffs/{theirs.id}/accept/form/", HTTP_HX_REQUEST="true")

    assert response.status_code == 403
    assert 'name="owner"' not in response.content.decode()
    assert client.post(f"/handoffs/{theirs.id}/accept/form/").status_code == 405


def test_accepting_in_the_queue_with_a_picked_rep_hands_the_lead_to_them(
    client, sales_sla, ada, reps
):
    handoff = pending()
    client.force_login(ada)

    response = client.post(
        f"/handoffs/{handoff.id}/accept/",
        {"source": "queue", "owner": reps[2].pk},
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 200
    lead = Lead.objects.get(id=handoff.lead_id)
    assert (
        f"Accepted — {lead} is now a SAL owned by Tom Rep." in response.content.decode()
    )
    assert (lead.stage, lead.owner) == (Stage.SAL, reps[2])


def test_accepting_with_a_non_rep_shows_the_message_at_the_picker(
    client, sales_sla, ada
):
    handoff = pending()
    client.force_login(ada)

    response = client.post(
        f"/handoffs/{handoff.id}/accept/",
        {"source": "queue", "owner": ada.pk},
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 422
    assert (
        f'<p class="field-error" id="owner-error-queue-{handoff.id}">Ada '
        "is not an active sales rep; choose one who is.</p>"
    ) in response.content.decode()
    assert Handoff.objects.get(id=handoff.id).status == "pending"


def test_the_handoff_page_shows_the_rep_picker_and_the_rule(
    client, sales_sla, ada, reps
):
    handoff = pending()
    client.force_login(ada)

    page = client.get(f"/handoffs/{handoff.id}/").content.decode()

    assert f'<option value="{reps[0].pk}" selected>Sam Rep</option>' in page
    assert "Round robin in West picks Sam Rep" in page


def test_a_reps_navigation_counts_the_leads_new_to_them(client, sales_sla, ada, reps):
    first, second, third = (pending() for _ in range(3))
    accept(first, ada, owner=reps[0])
    accept(second, ada, owner=reps[0])
    accept(third, ada, owner=reps[1])
    client.force_login(reps[0])

    assert ">Pipeline (2 new)<" in client.get("/pipeline/").content.decode()

    # A follow-up attempt by the rep makes the lead no longer new.
    services.attempt_log(
        handoff_id=first.id, actor=reps[0], channel="call", outcome="connected"
    )
    assert ">Pipeline (1 new)<" in client.get("/pipeline/").content.decode()
    services.lead_sales_move(lead_id=second.lead_id, actor=reps[0], to_stage="sql")
    page = client.get("/pipeline/").content.decode()
    assert ">Pipeline<" in page
    assert "new)" not in page


# API
# ------------------------------------------------------------------------------


def test_api_accept_without_owner_uses_the_slas_routing(sales_sla, ada, reps):
    handoff = pending()

    response = token_client(ada).post(f"/api/v1/handoffs/{handoff.id}/accept/")

    assert response.status_code == 200
    assert (response.json()["owner"], response.json()["decided_by"]) == ("sam", "ada")


def test_api_accept_with_owner_hands_to_that_rep(sales_sla, ada, reps):
    handoff = pending()

    response = token_client(ada).post(
        f"/api/v1/handoffs/{handoff.id}/accept/", {"owner": "tom"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["owner"] == "tom"


def test_api_accept_without_owner_when_the_sdr_must_pick_is_400(sales_sla, ada):
    ServiceLevelAgreement.objects.filter(id=sales_sla.id).update(
        sales_routing=Routing.SDR_PICKS
    )
    handoff = pending()

    response = token_client(ada).post(f"/api/v1/handoffs/{handoff.id}/accept/")

    assert response.status_code == 400
    assert response.json() == {
        "owner": [f"The SLA {sales_sla} has the accepting SDR pick a rep."]
    }
    assert Handoff.objects.get(id=handoff.id).status == "pending"
