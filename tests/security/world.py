"""Objects the security tests act on, built lazily for one person in one role.

The role matrix asks "may this role do this at all?", so each role gets
objects that are its own where ownership matters: as an SDR the pending
handoff is assigned to the caller, as a Sales rep the accepted handoff's lead
is the caller's. Whether someone else's object is refused is the object-level
suite's question (test_object_access.py). Each object is made only when a
test asks for it, so a case costs what it uses.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from functools import cached_property
from typing import Any

from django.contrib.auth.tokens import default_token_generator
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from rest_framework.authtoken.models import Token

from crm.marketing.planner import (
    Plan,
    ReferenceStage,
    plan_data,
    spend_plan,
    work_back,
)
from crm.models import MqlPlan
from crm.roles import SALES, SDR
from handoff import services as handoff_services
from handoff.models import Handoff
from leads import lifecycle
from leads.imports.jobs import import_job_upload
from leads.lifecycle import FUNNEL
from leads.models import (
    Campaign,
    CampaignSpend,
    EventMapping,
    ImportJob,
    Lead,
    Stage,
    Touchpoint,
    TrackingSource,
    WebForm,
)
from leads.tracking.services import event_mapping_set, tracking_source_create
from scoring import previews
from scoring import selectors as scoring_selectors
from scoring import services as scoring_services
from scoring.models import (
    ModelReplay,
    ModelSuggestion,
    PublishPreview,
    ScoringModel,
    ScoringRule,
)
from tests.factories import (
    LeadFactory,
    SlaFactory,
    TeamMemberFactory,
    TouchpointFactory,
    UserFactory,
)

ANONYMOUS = "anonymous"
#: What tests.factories.UserFactory sets.
PASSWORD = "pw-for-tests"
IMPORT_CSV = b"Email,First Name\nada@acme.example,Ada\n"


def open_mql(lead: Lead) -> Handoff:
    """Make ``lead`` an MQL and open its handoff (round robin in the SLA team)."""
    lifecycle.lead_move(lead_id=lead.id, to_stage=Stage.MQL, system_actor="scoring")
    handoff = handoff_services.handoff_open(lead_id=lead.id)
    assert handoff is not None
    return handoff


class World:
    """One caller (``role``; ``anonymous`` for nobody) and the objects they use."""

    def __init__(self, role: str, *, name: str = "me") -> None:
        self.role = role
        self.name = name

    @cached_property
    def user(self) -> Any | None:
        if self.role == ANONYMOUS:
            return None
        return UserFactory(
            username=f"{self.name}-{self.role.lower()}", roles=[self.role]
        )

    @cached_property
    def token(self) -> str | None:
        return Token.objects.create(user=self.user).key if self.user else None

    # People: the caller where the role fits, else someone else.

    @cached_property
    def sdr(self) -> Any:
        if self.role == SDR:
            return self.user
        return UserFactory(username=f"{self.name}-other-sdr", roles=[SDR])

    @cached_property
    def rep(self) -> Any:
        if self.role == SALES:
            return self.user
        return UserFactory(username=f"{self.name}-other-rep", roles=[SALES])

    @cached_property
    def sla(self) -> Any:
        sla = SlaFactory()
        TeamMemberFactory(team=sla.team, user=self.sdr)
        return sla

    # Leads and handoffs.

    @cached_property
    def lead(self) -> Lead:
        """A lead; an SDR's or a rep's own (they edit only leads they own)."""
        owner = self.user if self.role in (SDR, SALES) else None
        return LeadFactory(owner=owner)

    @cached_property
    def touchpoint(self) -> Touchpoint:
        return TouchpointFactory(lead=self.lead)

    @cached_property
    def pending(self) -> Handoff:
        """A pending handoff assigned to the SDR (the only member of the team)."""
        self.sla  # noqa: B018 (the team must exist first)
        handoff = open_mql(LeadFactory())
        assert handoff.assigned_to_id == self.sdr.id
        return handoff

    @cached_property
    def unassigned(self) -> Handoff:
        """A pending handoff of the SDR's team that nobody has yet (all away)."""
        self.sla  # noqa: B018
        handoff_services.availability_set(user=self.sdr, is_away=True)
        handoff = open_mql(LeadFactory())
        handoff_services.availability_set(user=self.sdr, is_away=False)
        assert handoff.assigned_to_id is None
        return handoff

    @cached_property
    def accepted(self) -> Handoff:
        """An accepted handoff whose lead (now a SAL) the rep owns."""
        self.sla  # noqa: B018
        handoff = open_mql(LeadFactory())
        return handoff_services.handoff_accept(
            handoff_id=handoff.id, actor=self.sdr, owner=self.rep
        )

    def own_handoff(self) -> Handoff:
        """The handoff the caller works on: a rep's accepted one, else pending."""
        return self.accepted if self.role == SALES else self.pending

    # Scoring, imports, the public form, a password reset link.

    @cached_property
    def active_model(self) -> ScoringModel:
        model = scoring_selectors.model_active()
        assert model is not None
        return model

    @cached_property
    def draft(self) -> ScoringModel:
        draft = scoring_services.model_clone(model=self.active_model)
        if not draft.rules.exists():
            scoring_services.rule_create(
                model=draft,
                kind=ScoringRule.Kind.FIT,
                label="Directors",
                points=10,
                attribute="seniority",
                operator=ScoringRule.Operator.EQUALS,
                value="director",
            )
        return draft

    @cached_property
    def rule(self) -> ScoringRule:
        return self.draft.rules.order_by("id").first()

    @cached_property
    def replay(self) -> ModelReplay:
        return ModelReplay.objects.create(
            draft=self.draft,
            active=self.active_model,
            start=dt.date(2026, 1, 5),
            end=dt.date(2026, 2, 2),
        )

    @cached_property
    def suggestion(self) -> ModelSuggestion:
        # Done, so that it blocks no new suggestion.
        return ModelSuggestion.objects.create(
            outcome="sql",
            cut_off=dt.datetime(2026, 1, 5, tzinfo=dt.UTC),
            name="Suggested points",
            status=ModelSuggestion.Status.DONE,
            in_progress=None,
        )

    @cached_property
    def preview(self) -> PublishPreview:
        return previews.publish_preview_get(model_id=self.draft.id)

    @cached_property
    def job(self) -> ImportJob:
        return import_job_upload(
            kind=ImportJob.Kind.LEADS,
            filename="contacts.csv",
            content=IMPORT_CSV,
            created_by=self.user,
        )

    @cached_property
    def web_form(self) -> WebForm:
        return WebForm.objects.create(
            key="contact", name="Contact us", kind_id="form_submit"
        )

    @cached_property
    def tracking_source(self) -> TrackingSource:
        return tracking_source_create(
            name="Website", kind="site", origins=["https://www.example.com"], actor=None
        )

    @cached_property
    def event_mapping(self) -> EventMapping:
        event_mapping_set(event="Pricing Viewed", kind="page_view", actor=None)
        return EventMapping.objects.get(event_key="pricing viewed")

    @cached_property
    def reset_link(self) -> tuple[str, str]:
        person = self.user or UserFactory(username=f"{self.name}-forgetful")
        uid = urlsafe_base64_encode(force_bytes(person.pk))
        return uid, default_token_generator.make_token(person)

    @cached_property
    def campaign(self) -> Campaign:
        return Campaign.objects.create(
            name=f"{self.name}'s webinar", channel=Campaign.Channel.WEBINAR
        )

    @cached_property
    def plan(self) -> MqlPlan:
        """A saved plan of one customer at conversions of 1 (no history)."""
        reference = [
            ReferenceStage(stage, 1, Decimal(1), Decimal(1)) for stage in FUNNEL
        ]
        plan = Plan(
            start=dt.date(2026, 4, 1),
            end=dt.date(2026, 7, 1),
            reference_start=dt.date(2026, 1, 1),
            reference_end=dt.date(2026, 4, 1),
            reference_kind="previous_quarter",
            target_kind="customers",
            target_value=Decimal(1),
            average_deal=None,
            average_deal_source="",
            won_deals=None,
            reference=reference,
            stages=work_back(
                customers=1, reference=reference, last_day=dt.date(2026, 6, 30)
            ),
            spend=spend_plan(channels=[], leads_needed=1, mqls_needed=1),
            computed_at=dt.datetime(2026, 3, 31, tzinfo=dt.UTC),
        )
        return MqlPlan.objects.create(
            name=f"{self.name}'s plan",
            start=plan.start,
            end=plan.end,
            reference_start=plan.reference_start,
            reference_end=plan.reference_end,
            target_kind=plan.target_kind,
            target_value=plan.target_value,
            figures=plan_data(plan),
            computed_at=plan.computed_at,
        )

    @cached_property
    def spend(self) -> CampaignSpend:
        return CampaignSpend.objects.create(
            campaign=self.campaign, month=dt.date(2026, 3, 1), amount=100
        )
