"""Database constraints: what must hold even when code forgets to check."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, connection, transaction

from leads.models import Campaign, Lead, StageTransition, Touchpoint
from tests.factories import (
    AccountFactory,
    CampaignFactory,
    LeadFactory,
    TouchpointFactory,
)

pytestmark = pytest.mark.django_db
T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def _refused(make) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        make()


def test_lead_email_is_unique_regardless_of_case():
    LeadFactory(email="ada@acme.com")
    _refused(lambda: LeadFactory(email="ADA@Acme.com"))
    assert Lead.objects.count() == 1


def test_lead_stage_must_be_a_known_code():
    _refused(lambda: LeadFactory(stage="won"))
    lead = LeadFactory()
    _refused(lambda: Lead.objects.filter(id=lead.id).update(highest_stage="x"))


def test_account_domain_is_unique_regardless_of_case_but_blank_is_allowed_twice():
    AccountFactory(domain="acme.com")
    _refused(lambda: AccountFactory(domain="ACME.com"))
    AccountFactory(domain="")
    AccountFactory(domain="")


def test_account_revenue_cannot_be_negative():
    _refused(lambda: AccountFactory(annual_revenue=-1))


def test_campaign_constraints():
    _refused(lambda: CampaignFactory(budget=-5))
    _refused(
        lambda: CampaignFactory(
            starts_on=dt.date(2026, 3, 2), ends_on=dt.date(2026, 3, 1)
        )
    )
    CampaignFactory(utm_source="google", utm_medium="cpc", utm_campaign="q1")
    _refused(
        lambda: CampaignFactory(
            utm_source="google", utm_medium="cpc", utm_campaign="q1"
        )
    )
    assert Campaign.objects.count() == 1


def test_touchpoint_external_id_is_unique_per_source():
    lead = LeadFactory()
    TouchpointFactory(lead=lead, source="api", external_id="evt-1")
    _refused(lambda: TouchpointFactory(lead=lead, source="api", external_id="evt-1"))
    TouchpointFactory(lead=lead, source="form:demo", external_id="evt-1")
    TouchpointFactory(lead=lead, source="api", external_id=None)
    TouchpointFactory(lead=lead, source="api", external_id=None)
    assert Touchpoint.objects.count() == 4


def test_touchpoint_kind_must_be_in_the_managed_list():
    lead = LeadFactory()

    def make():
        TouchpointFactory(lead=lead, kind_id="telepathy")
        connection.check_constraints()  # foreign keys are checked at commit

    _refused(make)


def test_transition_must_change_stage_and_name_an_actor():
    lead = LeadFactory()
    _refused(
        lambda: StageTransition.objects.create(
            lead=lead, from_stage="lead", to_stage="lead", at=T0, system_actor="x"
        )
    )
    _refused(
        lambda: StageTransition.objects.create(
            lead=lead, from_stage="lead", to_stage="mql", at=T0
        )
    )
    assert not StageTransition.objects.exists()


def test_deleting_a_lead_removes_its_touchpoints_and_history():
    lead = LeadFactory()
    TouchpointFactory(lead=lead)
    StageTransition.objects.create(
        lead=lead, from_stage="lead", to_stage="mql", at=T0, system_actor="scoring"
    )
    lead.delete()
    assert not Touchpoint.objects.exists()
    assert not StageTransition.objects.exists()
