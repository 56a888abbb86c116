"""Campaign writes and the spend ledger: checks, one audit row each, nothing
half-written; and the reads the campaign pages show."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from leads import selectors
from leads.campaigns import (
    campaign_create,
    campaign_update,
    spend_add,
    spend_delete,
    spend_update,
)
from leads.models import AuditEvent, Campaign, CampaignSpend
from tests.factories import (
    CampaignFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

FIELDS = {
    "name": "Spring webinar",
    "channel": Campaign.Channel.WEBINAR,
    "budget": Decimal("5000"),
    "starts_on": dt.date(2026, 3, 1),
    "ends_on": dt.date(2026, 3, 31),
}


def _actions() -> list[str]:
    return list(AuditEvent.objects.order_by("id").values_list("action", flat=True))


def test_campaign_create_stores_it_with_one_audit_row():
    marketer = UserFactory()

    campaign = campaign_create(actor=marketer, **FIELDS)

    stored = Campaign.objects.get(id=campaign.id)
    assert (stored.name, stored.budget) == ("Spring webinar", Decimal("5000.00"))
    event = AuditEvent.objects.get()
    assert (event.action, event.actor, event.details) == (
        "campaign_create",
        marketer,
        {"campaign_id": campaign.id},
    )


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"name": "Taken"}, "name", "Campaign with this Name already exists."),
        (
            {"ends_on": dt.date(2026, 2, 1)},
            "__all__",
            "The end date must not be before the start.",
        ),
        ({"budget": Decimal("-1")}, "budget", "greater than or equal to 0"),
        ({"channel": "fax"}, "channel", "is not a valid choice"),
    ],
)
def test_campaign_create_refuses_bad_input_and_stores_nothing(change, field, message):
    CampaignFactory(name="Taken")

    with pytest.raises(ValidationError) as caught:
        campaign_create(actor=None, **{**FIELDS, **change})

    assert message in " ".join(caught.value.message_dict[field])
    assert list(Campaign.objects.values_list("name", flat=True)) == ["Taken"]
    assert _actions() == []


def test_campaign_update_records_the_changed_field_names():
    campaign = campaign_create(actor=None, **FIELDS)

    campaign_update(
        campaign_id=campaign.id,
        actor=None,
        **{**FIELDS, "budget": Decimal("7000"), "name": "Spring webinar 2"},
    )

    campaign.refresh_from_db()
    assert (campaign.name, campaign.budget) == ("Spring webinar 2", Decimal("7000"))
    event = AuditEvent.objects.order_by("-id").first()
    assert event.action == "campaign_edit"
    assert event.details == {"campaign_id": campaign.id, "fields": ["budget", "name"]}


def test_campaign_update_without_a_change_writes_no_audit_row():
    campaign = campaign_create(actor=None, **FIELDS)

    campaign_update(campaign_id=campaign.id, actor=None, **FIELDS)

    assert _actions() == ["campaign_create"]


def test_campaign_update_refused_leaves_the_campaign_as_it_was():
    CampaignFactory(name="Taken")
    campaign = campaign_create(actor=None, **FIELDS)

    with pytest.raises(ValidationError):
        campaign_update(
            campaign_id=campaign.id, actor=None, name="Taken", budget=Decimal("9")
        )

    campaign.refresh_from_db()
    assert (campaign.name, campaign.budget) == ("Spring webinar", Decimal("5000.00"))
    assert _actions() == ["campaign_create"]


def test_spend_lines_are_added_by_month_edited_and_deleted_with_audit_rows():
    marketer = UserFactory()
    campaign = CampaignFactory()

    first = spend_add(
        campaign_id=campaign.id,
        actor=marketer,
        month=dt.date(2026, 3, 17),
        amount=Decimal("1200.50"),
        note="Invoice 1",
    )
    second = spend_add(
        campaign_id=campaign.id,
        actor=marketer,
        month=dt.date(2026, 3, 1),
        amount=Decimal("300"),
    )
    spend_update(
        campaign_id=campaign.id,
        spend_id=second.id,
        actor=marketer,
        month=dt.date(2026, 4, 1),
        amount=Decimal("300"),
        note="Moved",
    )
    spend_delete(campaign_id=campaign.id, spend_id=first.id, actor=marketer)

    line = CampaignSpend.objects.get()
    assert (line.month, line.amount, line.note, line.created_by) == (
        dt.date(2026, 4, 1),
        Decimal("300.00"),
        "Moved",
        marketer,
    )
    assert _actions() == ["spend_add", "spend_add", "spend_edit", "spend_delete"]
    edit = AuditEvent.objects.get(action="spend_edit")
    assert edit.details == {
        "campaign_id": campaign.id,
        "spend_id": second.id,
        "fields": ["month", "note"],
    }


@pytest.mark.parametrize(
    ("amount", "note", "field"),
    [
        (Decimal("-0.01"), "", "amount"),
        (Decimal("1.001"), "", "amount"),
        (Decimal("10000000000"), "", "amount"),
        (Decimal("1"), "x" * 301, "note"),
    ],
)
def test_spend_add_refuses_bad_input_and_stores_nothing(amount, note, field):
    campaign = CampaignFactory()

    with pytest.raises(ValidationError) as caught:
        spend_add(
            campaign_id=campaign.id,
            actor=None,
            month=dt.date(2026, 3, 1),
            amount=amount,
            note=note,
        )

    assert field in caught.value.message_dict
    assert not CampaignSpend.objects.exists()
    assert _actions() == []


def test_a_spend_line_of_another_campaign_is_not_found():
    line = spend_add(
        campaign_id=CampaignFactory().id,
        actor=None,
        month=dt.date(2026, 3, 1),
        amount=Decimal("5"),
    )
    other = CampaignFactory()

    with pytest.raises(CampaignSpend.DoesNotExist):
        spend_delete(campaign_id=other.id, spend_id=line.id, actor=None)

    assert CampaignSpend.objects.filter(id=line.id).exists()


def test_deleting_a_campaign_deletes_its_spend_lines():
    campaign = CampaignFactory()
    spend_add(campaign_id=campaign.id, actor=None, month=dt.date(2026, 3, 1), amount=1)

    campaign.delete()

    assert not CampaignSpend.objects.exists()


def test_campaign_list_sums_spend_to_date_and_this_month_and_sorts_by_spend():
    today = dt.date(2026, 4, 15)
    big, small, idle = (
        CampaignFactory(name="Big"),
        CampaignFactory(name="Small"),
        CampaignFactory(name="Idle"),
    )
    for campaign, month, amount in [
        (big, dt.date(2026, 3, 1), "1000"),
        (big, dt.date(2026, 4, 1), "250"),
        (big, dt.date(2026, 4, 1), "50"),
        (big, dt.date(2026, 5, 1), "999"),  # a later month is not spent yet
        (small, dt.date(2026, 2, 1), "10"),
    ]:
        spend_add(campaign_id=campaign.id, actor=None, month=month, amount=amount)

    rows = list(selectors.campaign_list_with_spend(today=today, sort="-spend"))

    assert [(c.name, c.spend_to_date, c.spend_this_month) for c in rows] == [
        ("Big", Decimal("1300"), Decimal("300")),
        ("Small", Decimal("10"), Decimal("0")),
        ("Idle", Decimal("0"), Decimal("0")),
    ]
    assert idle in rows


def test_spend_by_month_groups_lines_with_totals():
    campaign = CampaignFactory()
    for month, amount in [(3, "10"), (4, "5"), (3, "2.50")]:
        spend_add(
            campaign_id=campaign.id,
            actor=None,
            month=dt.date(2026, month, 1),
            amount=Decimal(amount),
        )

    months = selectors.campaign_spend_by_month(campaign_id=campaign.id)

    assert [(m.month.month, len(m.lines), m.total) for m in months] == [
        (4, 1, Decimal("5")),
        (3, 2, Decimal("12.50")),
    ]
