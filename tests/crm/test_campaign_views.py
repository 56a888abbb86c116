"""The campaign pages: who may open and change them, the forms' errors, the
spend ledger by month, the first-touch counts and the navigation."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from crm.roles import ADMIN, MARKETING, SALES, SDR
from handoff.models import SalesProfile
from leads.models import AuditEvent, Campaign, CampaignSpend
from tests.factories import (
    CampaignFactory,
    LeadFactory,
    TouchpointFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

VALID = {
    "name": "Spring webinar",
    "channel": "webinar",
    "budget": "5000",
    "starts_on": "2026-03-01",
    "ends_on": "2026-03-31",
    "utm_source": "",
    "utm_medium": "",
    "utm_campaign": "",
}


def _manager(role: str) -> object:
    user = UserFactory(roles=[role])
    SalesProfile.objects.create(user=user, is_manager=True)
    return user


@pytest.mark.parametrize("role", [MARKETING, ADMIN])
def test_marketing_and_admin_open_and_change_campaigns(client, role):
    client.force_login(UserFactory(roles=[role]))
    campaign = CampaignFactory()

    for url in ["/campaigns/", "/campaigns/new/", f"/campaigns/{campaign.id}/"]:
        assert client.get(url).status_code == 200, url
    assert client.get(f"/campaigns/{campaign.id}/edit/").status_code == 200


@pytest.mark.parametrize("role", [SDR, SALES])
def test_a_manager_reads_campaigns_but_changes_nothing(client, role):
    client.force_login(_manager(role))
    campaign = CampaignFactory()

    listing = client.get("/campaigns/")
    page = client.get(f"/campaigns/{campaign.id}/")

    assert listing.status_code == page.status_code == 200
    assert b"New campaign" not in listing.content
    assert b"Add spend" not in page.content
    assert client.get("/campaigns/new/").status_code == 403
    assert client.post("/campaigns/new/", VALID).status_code == 403
    spend = {"month": "2026-03", "amount": "5"}
    assert client.post(f"/campaigns/{campaign.id}/spend/", spend).status_code == 403
    assert not Campaign.objects.exclude(id=campaign.id).exists()
    assert not CampaignSpend.objects.exists()


@pytest.mark.parametrize("role", [SDR, SALES])
def test_sdrs_and_reps_may_not_open_campaigns(client, role):
    client.force_login(UserFactory(roles=[role]))

    assert client.get("/campaigns/").status_code == 403


def test_anonymous_is_sent_to_log_in(client):
    response = client.get("/campaigns/")

    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_a_new_campaign_is_created_and_audited(marketer_client, marketer):
    response = marketer_client.post("/campaigns/new/", VALID)

    campaign = Campaign.objects.get(name="Spring webinar")
    assert response.status_code == 302
    assert response["Location"] == f"/campaigns/{campaign.id}/"
    assert campaign.budget == Decimal("5000")
    event = AuditEvent.objects.get(action="campaign_create")
    assert event.actor == marketer


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": "Taken"}, "Another campaign is already called “Taken”."),
        ({"ends_on": "2026-02-01"}, "The end date must not be before the start."),
        ({"budget": "-5"}, "The budget must not be negative."),
        ({"budget": "lots"}, "Enter a number."),
        ({"starts_on": "2026-13-45"}, "Enter a valid date."),
        ({"name": ""}, "This field is required."),
    ],
)
def test_the_campaign_form_shows_clear_errors_and_stores_nothing(
    marketer_client, change, message
):
    CampaignFactory(name="Taken")

    response = marketer_client.post("/campaigns/new/", {**VALID, **change})

    assert response.status_code == 400
    assert message in response.content.decode()
    assert Campaign.objects.count() == 1
    assert not AuditEvent.objects.exclude(action="role_change").exists()


def test_editing_a_campaign_keeps_its_own_name_and_refuses_another(marketer_client):
    CampaignFactory(name="Taken")
    campaign = CampaignFactory(name="Mine", budget=10)

    kept = marketer_client.post(
        f"/campaigns/{campaign.id}/edit/", {**VALID, "name": "Mine"}
    )
    taken = marketer_client.post(
        f"/campaigns/{campaign.id}/edit/", {**VALID, "name": "Taken", "budget": "1"}
    )

    assert kept.status_code == 302
    assert taken.status_code == 400
    campaign.refresh_from_db()
    assert (campaign.name, campaign.budget) == ("Mine", Decimal("5000"))


def test_a_missing_campaign_is_not_found(marketer_client):
    assert marketer_client.get("/campaigns/987654/").status_code == 404
    assert marketer_client.post("/campaigns/987654/edit/", VALID).status_code == 404


def test_spend_lines_are_added_edited_and_deleted_on_the_campaign_page(
    marketer_client,
):
    campaign = CampaignFactory(name="Spring", budget=1000)
    url = f"/campaigns/{campaign.id}/spend/"

    added = marketer_client.post(
        url, {"month": "2026-03", "amount": "700.25", "note": "Invoice"}
    )
    marketer_client.post(url, {"month": "2026-03", "amount": "400", "note": ""})
    line = CampaignSpend.objects.get(note="Invoice")
    edited = marketer_client.post(
        f"{url}{line.id}/", {"month": "2026-02", "amount": "700.25", "note": "Inv."}
    )
    page = marketer_client.get(f"/campaigns/{campaign.id}/").content.decode()

    assert added.status_code == edited.status_code == 302
    assert "February 2026" in page
    assert "March 2026" in page
    assert "$1,100.25" in page  # every month's lines together
    assert "Over budget by" in page
    assert "$100" in page
    deleted = marketer_client.post(f"{url}{line.id}/delete/")
    assert deleted.status_code == 302
    assert list(CampaignSpend.objects.values_list("amount", flat=True)) == [
        Decimal("400.00")
    ]
    actions = AuditEvent.objects.exclude(action="role_change").order_by("id")
    assert list(actions.values_list("action", flat=True)) == [
        "spend_add",
        "spend_add",
        "spend_edit",
        "spend_delete",
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"month": "March", "amount": "5"}, "Enter the month as YYYY-MM"),
        ({"month": "2026-13", "amount": "5"}, "Enter the month as YYYY-MM"),
        ({"month": "2026-03", "amount": "-1"}, "The amount must not be negative."),
        ({"month": "2026-03", "amount": "1.005"}, "no more than 2 decimal places"),
        ({"month": "2026-03", "amount": ""}, "This field is required."),
        (
            {"month": "2026-03", "amount": "1", "note": "x" * 301},
            "at most 300 characters",
        ),
    ],
)
def test_bad_spend_shows_the_page_again_with_the_error(marketer_client, data, message):
    campaign = CampaignFactory()

    response = marketer_client.post(f"/campaigns/{campaign.id}/spend/", data)

    assert response.status_code == 400
    assert message in response.content.decode()
    assert not CampaignSpend.objects.exists()


def test_a_spend_line_of_another_campaign_is_not_found(marketer_client):
    line = CampaignSpend.objects.create(
        campaign=CampaignFactory(), month=dt.date(2026, 3, 1), amount=5
    )
    other = CampaignFactory()

    base = f"/campaigns/{other.id}/spend/{line.id}/"
    assert marketer_client.get(base).status_code == 404
    assert marketer_client.post(f"{base}delete/").status_code == 404
    assert CampaignSpend.objects.filter(id=line.id).exists()


def test_the_list_shows_spend_to_date_and_this_month_and_sorts_by_spend(
    marketer_client,
):
    this_month = timezone.localdate().replace(day=1)
    last_month = (this_month - dt.timedelta(days=1)).replace(day=1)
    cheap = CampaignFactory(name="Alpha", budget=100)
    dear = CampaignFactory(name="Beta", budget=100)
    for campaign, month, amount in [
        (dear, last_month, 900),
        (dear, this_month, 40),
        (cheap, last_month, 5),
    ]:
        CampaignSpend.objects.create(campaign=campaign, month=month, amount=amount)

    # The budget table, below the period's ROI table.
    by_name = marketer_client.get("/campaigns/").content.decode()
    by_name = by_name[by_name.index('id="budget-title"') :]
    by_spend = marketer_client.get("/campaigns/?sort=-spend").content.decode()
    by_spend = by_spend[by_spend.index('id="budget-title"') :]

    assert by_name.index("Alpha") < by_name.index("Beta")
    assert by_spend.index("Beta") < by_spend.index("Alpha")
    assert "$940" in by_spend
    assert "$40" in by_spend
    assert "$5" in by_spend
    assert "E-mail" in by_spend
    assert marketer_client.get("/campaigns/?sort=bogus").status_code == 200


def test_the_page_links_to_exactly_the_leads_the_campaign_touched(marketer_client):
    campaign, other = CampaignFactory(), CampaignFactory()
    touched = [LeadFactory(last_name=f"Touched{n}") for n in range(3)]
    for lead in touched:
        TouchpointFactory(lead=lead, campaign=campaign)
    TouchpointFactory(lead=LeadFactory(last_name="Elsewhere"), campaign=other)

    page = marketer_client.get(f"/campaigns/{campaign.id}/").content.decode()
    link = f"/leads/?campaign={campaign.id}"
    listed = marketer_client.get(link).content.decode()

    assert f'href="{link}"' in page
    assert all(f"Touched{n}" in listed for n in range(3))
    assert "Elsewhere" not in listed


def test_marketing_navigation_has_campaigns(marketer_client):
    page = marketer_client.get("/marketing/").content.decode()

    assert 'href="/campaigns/"' in page
