"""Typed factory_boy factories for the models."""

from __future__ import annotations

import datetime as dt

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from factory.django import DjangoModelFactory

from handoff import services as handoff_services
from handoff.models import (
    BusinessCalendar,
    Handoff,
    ServiceLevelAgreement,
    Team,
    TeamMember,
)
from leads import lifecycle
from leads.models import Account, Campaign, Industry, Lead, Stage, Touchpoint

User = get_user_model()


class UserFactory(DjangoModelFactory[User]):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@leadflow.test")
    password = factory.PostGenerationMethodCall("set_password", "pw-for-tests")

    @factory.post_generation
    def roles(self, create: bool, extracted: list[str] | None, **kwargs) -> None:
        if create and extracted:
            self.groups.set(Group.objects.filter(name__in=extracted))
        if create:
            self.save()


class AccountFactory(DjangoModelFactory[Account]):
    class Meta:
        model = Account

    name = factory.Sequence(lambda n: f"Company {n}")
    domain = factory.Sequence(lambda n: f"company{n}.example")
    industry = Industry.SOFTWARE
    employee_count = 250
    country = "US"


class LeadFactory(DjangoModelFactory[Lead]):
    """A lead in stage ``lead``. Use leads.services.lead_create to test creation."""

    class Meta:
        model = Lead

    email = factory.Sequence(lambda n: f"person{n}@company{n}.example")
    first_name = "Ada"
    last_name = factory.Sequence(lambda n: f"Person{n}")
    job_title = "Head of Marketing"
    seniority = "director"
    department = "marketing"
    country = "US"
    region = "north_america"
    entered_lead_at = factory.LazyFunction(
        lambda: dt.datetime(2026, 1, 5, 9, 0, tzinfo=dt.UTC)
    )


class CampaignFactory(DjangoModelFactory[Campaign]):
    class Meta:
        model = Campaign

    name = factory.Sequence(lambda n: f"Campaign {n}")
    channel = Campaign.Channel.EMAIL
    budget = 1000


class TouchpointFactory(DjangoModelFactory[Touchpoint]):
    class Meta:
        model = Touchpoint

    lead = factory.SubFactory(LeadFactory)
    kind_id = "page_view"
    occurred_at = factory.LazyFunction(
        lambda: dt.datetime(2026, 1, 6, 10, 0, tzinfo=dt.UTC)
    )
    properties = factory.LazyFunction(lambda: {"url": "https://leadflow.test/"})


# Handoff
# ------------------------------------------------------------------------------


class CalendarFactory(DjangoModelFactory[BusinessCalendar]):
    """Monday to Friday, 09:00-17:00 UTC, no holidays."""

    class Meta:
        model = BusinessCalendar

    name = factory.Sequence(lambda n: f"Calendar {n}")
    time_zone = "UTC"


class TeamFactory(DjangoModelFactory[Team]):
    class Meta:
        model = Team

    name = factory.Sequence(lambda n: f"Team {n}")


class TeamMemberFactory(DjangoModelFactory[TeamMember]):
    class Meta:
        model = TeamMember

    team = factory.SubFactory(TeamFactory)
    user = factory.SubFactory(UserFactory, roles=["SDR"])


class SlaFactory(DjangoModelFactory[ServiceLevelAgreement]):
    """An 8-business-hour SLA, matched before the migration's default one."""

    class Meta:
        model = ServiceLevelAgreement

    name = factory.Sequence(lambda n: f"SLA {n}")
    priority = 10
    team = factory.SubFactory(TeamFactory)
    calendar = factory.SubFactory(CalendarFactory)
    accept_within_hours = 8
    escalation_email = "escalations@leadflow.test"


def mql_handoff_open(opened: dt.datetime, **lead_fields: object) -> Handoff:
    """A new lead made an MQL at ``opened``, with its handoff opened then."""
    lead = LeadFactory(**lead_fields)
    lifecycle.lead_move(
        lead_id=lead.id, to_stage=Stage.MQL, system_actor="scoring", now=opened
    )
    handoff = handoff_services.handoff_open(lead_id=lead.id, now=opened)
    assert handoff is not None
    return handoff
