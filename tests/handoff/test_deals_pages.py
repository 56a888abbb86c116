"""Deal amounts on the pipeline cards, the lead's timeline and the API."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from crm.roles import MARKETING, SALES, SDR
from handoff import services
from handoff.models import Handoff, SalesOutcome
from leads.models import Lead, Stage
from tests.factories import UserFactory, mql_handoff_open

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
# Monday 2026-03-02, 14:00 UTC.
NOW = dt.datetime(2026, 3, 2, 14, 0, tzinfo=dt.UTC)
CLOSE_ON = dt.date(2027, 1, 15)


@pytest.fixture
def frozen(monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: NOW)
    return NOW


@pytest.fixture
def rep():
    return UserFactory(username="rita", first_name="Rita", roles=[SALES])


def accepted_for(rep, admin, **lead_fields) -> Handoff:
    opened = NOW - dt.timedelta(hours=1)
    handoff = mql_handoff_open(opened, **lead_fields)
    services.handoff_accept(handoff_id=handoff.id, actor=admin, owner=rep, now=opened)
    return Handoff.objects.get(id=handoff.id)


def in_stage(rep, admin, stage, amount="25000", **lead_fields) -> Lead:
    """A lead ``rep`` owns, moved on to ``stage`` (SQL or opportunity)."""
    lead_id = accepted_for(rep, admin, **lead_fields).lead_id
    services.lead_sales_move(lead_id=lead_id, actor=rep, to_stage=Stage.SQL, now=NOW)
    if stage == Stage.OPPORTUNITY:
        services.lead_sales_move(
            lead_id=lead_id,
            actor=rep,
            to_stage=Stage.OPPORTUNITY,
            amount=amount,
            expected_close_on=CLOSE_ON,
            now=NOW,
        )
    return Lead.objects.get(id=lead_id)


# The pipeline page
# ------------------------------------------------------------------------------


def test_the_sql_card_asks_for_the_deal_amount_and_expected_close_date(
    client, frozen, sdr, rep, admin
):
    lead = in_stage(rep, admin, Stage.SQL)
    client.force_login(rep)

    board = client.get("/pipeline/").content.decode()
    html = client.get(f"/pipeline/leads/{lead.id}/forms/forward/", **HTMX)
    html = html.content.decode()

    assert f'hx-get="/pipeline/leads/{lead.id}/forms/forward/"' in board
    assert "<summary>Open opportunity…</summary>" in board
    assert f'<label for="deal-amount-{lead.id}">Deal amount ($)</label>' in html
    assert f'<label for="deal-close-{lead.id}">Expected close date</label>' in html
    assert 'name="expected_close_on" type="date" required min="2026-03-02"' in html
    assert ">Open opportunity</button>" in html


def test_the_opportunity_card_shows_its_deal_and_the_column_its_total(
    client, frozen, sdr, rep, admin
):
    first = in_stage(rep, admin, Stage.OPPORTUNITY, amount="25000")
    in_stage(rep, admin, Stage.OPPORTUNITY, amount="12500.75")
    in_stage(UserFactory(roles=[SALES]), admin, Stage.OPPORTUNITY, amount="99000")
    client.force_login(rep)

    html = client.get("/pipeline/").content.decode()

    assert "$25,000 · closes 15 Jan 2027" in html
    assert 'id="deal-total">Deal value <strong>$37,501</strong>' in html
    html = client.get(f"/pipeline/leads/{first.id}/forms/forward/", **HTMX)
    html = html.content.decode()
    # "Closed won" asks for the amount won, filled in with the deal amount.
    assert f'<label for="deal-amount-{first.id}">Amount won ($)</label>' in html
    assert (
        f'id="deal-amount-{first.id}" name="amount" type="text" inputmode="decimal" '
        'autocomplete="off" required maxlength="40" value="25000"'
    ) in html


def test_opening_an_opportunity_via_htmx_moves_the_card_and_the_total(
    client, frozen, sdr, rep, admin
):
    lead = in_stage(rep, admin, Stage.SQL, first_name="Ada", last_name="Lovelace")
    client.force_login(rep)

    response = client.post(
        f"/pipeline/leads/{lead.id}/move/",
        {"to_stage": "opportunity", "amount": "25000", "expected_close_on": CLOSE_ON},
        **HTMX,
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert "Opportunity opened for Ada Lovelace: $25,000 · closes 15 Jan 2027." in html
    assert 'id="deal-total" hx-swap-oob="true">Deal value <strong>$25,000' in html
    assert Lead.objects.get(id=lead.id).stage == Stage.OPPORTUNITY


def test_a_refused_opportunity_shows_the_problem_next_to_the_field(
    client, frozen, sdr, rep, admin
):
    lead = in_stage(rep, admin, Stage.SQL)
    client.force_login(rep)

    response = client.post(
        f"/pipeline/leads/{lead.id}/move/",
        {"to_stage": "opportunity", "amount": "-3", "expected_close_on": "2026-03-01"},
        **HTMX,
    )

    assert response.status_code == 422
    html = response.content.decode()
    assert '<p class="field-error">The deal amount must be more than zero.</p>' in html
    assert (
        '<p class="field-error">The expected close date cannot be in the past.</p>'
        in html
    )
    assert 'value="-3"' in html  # what the rep typed stays
    assert Lead.objects.get(id=lead.id).stage == Stage.SQL


def test_closed_won_shows_the_amount_in_recently_closed_and_on_the_timeline(
    client, frozen, sdr, rep, admin
):
    lead = in_stage(rep, admin, Stage.OPPORTUNITY)
    client.force_login(rep)

    response = client.post(
        f"/pipeline/leads/{lead.id}/move/",
        {"to_stage": "customer", "amount": "23,500"},
        **HTMX,
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert f"Closed won — {lead} is a customer ($23,500)." in html
    assert '<strong class="small">$23,500</strong>' in html
    page = client.get("/pipeline/").content.decode()
    assert '<strong class="small">$23,500</strong>' in page
    timeline = client.get(f"/leads/{lead.id}/").content.decode()
    assert '<div class="small"><strong>$23,500</strong></div>' in timeline
    assert (
        '<div class="small"><strong>$25,000</strong> · closes 15 Jan 2027</div>'
        in timeline
    )


# The API
# ------------------------------------------------------------------------------


def api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def moves_url(lead_id) -> str:
    return f"/api/v1/leads/{lead_id}/sales-moves/"


def test_the_api_opens_an_opportunity_with_its_deal(frozen, sdr, rep, admin):
    lead = in_stage(rep, admin, Stage.SQL)

    response = api(rep).post(
        moves_url(lead.id),
        {"to_stage": "opportunity", "amount": 25000, "expected_close_on": "2027-01-15"},
        format="json",
    )

    assert response.status_code == 201, response.json()
    outcome = SalesOutcome.objects.get(lead=lead, to_stage="opportunity")
    assert response.json() == {
        "id": outcome.id,
        "lead": lead.id,
        "from_stage": "sql",
        "to_stage": "opportunity",
        "reason": None,
        "feedback": "",
        "amount": "25000.00",
        "expected_close_on": "2027-01-15",
        "actor": "rita",
        "at": "2026-03-02T14:00:00Z",
    }


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        (
            {"to_stage": "opportunity"},
            {
                "amount": ["Give the deal amount."],
                "expected_close_on": ["Give the date you expect the deal to close."],
            },
        ),
        (
            {"to_stage": "opportunity", "amount": True, "expected_close_on": "x"},
            {
                "amount": ["Give the amount as a number, like 25000."],
                "expected_close_on": [
                    "Give the expected close date as a date, like 2027-01-15."
                ],
            },
        ),
        (
            {"to_stage": "opportunity", "amount": "1e400", "expected_close_on": None},
            {
                "amount": ["The deal amount can be at most 1,000,000,000."],
                "expected_close_on": ["Give the date you expect the deal to close."],
            },
        ),
        (
            {"to_stage": "customer", "amount": 5},
            {
                "to_stage": [
                    "From Sales-qualified (SQL) a lead moves forward to Opportunity; "
                    "to send it back, choose a reason."
                ]
            },
        ),
    ],
)
def test_the_api_refuses_bad_input_with_field_errors(
    frozen, sdr, rep, admin, body, errors
):
    lead = in_stage(rep, admin, Stage.SQL)

    response = api(rep).post(moves_url(lead.id), body, format="json")

    assert response.status_code == 400
    assert response.json() == errors
    assert Lead.objects.get(id=lead.id).stage == Stage.SQL


def test_the_api_answers_409_when_the_lead_moved_meanwhile(frozen, sdr, rep, admin):
    lead = in_stage(rep, admin, Stage.SQL)
    body = {"to_stage": "opportunity", "amount": "100", "expected_close_on": CLOSE_ON}
    assert api(rep).post(moves_url(lead.id), body, format="json").status_code == 201

    again = api(rep).post(moves_url(lead.id), body, format="json")

    assert again.status_code == 409
    assert "someone moved it meanwhile" in again.json()["detail"]
    assert SalesOutcome.objects.filter(lead=lead, to_stage="opportunity").count() == 1


def test_the_api_hides_other_reps_leads_and_refuses_other_roles(
    frozen, sdr, rep, admin
):
    lead = in_stage(rep, admin, Stage.SQL)
    body = {"reason": "sales_went_dark"}

    def post(user, lead_id=lead.id):
        return api(user).post(moves_url(lead_id), body, format="json")

    other_rep = post(UserFactory(roles=[SALES]))
    marketer = post(UserFactory(roles=[MARKETING]))
    an_sdr = post(UserFactory(roles=[SDR]))
    missing = post(rep, 2**63)

    assert [other_rep.status_code, marketer.status_code, an_sdr.status_code] == [
        404,
        403,
        403,
    ]
    assert missing.status_code == 404
    assert Lead.objects.get(id=lead.id).stage == Stage.SQL
    # A manager (Admin) may move anyone's lead.
    assert post(admin).status_code == 201


def test_the_api_operation_is_in_the_schema(client):
    schema = client.get("/api/v1/schema/?format=json").json()

    operation = schema["paths"]["/api/v1/leads/{id}/sales-moves/"]["post"]
    assert set(operation["responses"]) == {"201", "400", "401", "403", "404", "409"}
