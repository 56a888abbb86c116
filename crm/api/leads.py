"""The lead endpoints with their score breakdown, which lives in the scoring app.

The leads app serves leads; the breakdown is scoring's. This module (crm may
import from every app) extends the leads viewset with the breakdown of the
active model, fetched in one extra query per page. It also tells the lead
services what each person may edit, managers' teams included
(``crm.lead_access``).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch, QuerySet
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import serializers

from crm.lead_access import lead_edit_scope
from leads.api.serializers import LeadSerializer
from leads.api.views import ERRORS, LeadViewSet
from leads.edit_scope import LeadEditScope
from leads.models import Lead
from leads.tracking.links import lead_token
from scoring.models import LeadScore, ScoringModel

BREAKDOWN_ITEM = {
    "type": "object",
    "properties": {
        "rule": {"type": "integer"},
        "label": {"type": "string"},
        "kind": {"type": "string"},
        "points": {"type": "string", "description": "Decimal, two places."},
        "occurrences": {"type": "integer"},
        "attribute": {"type": "string"},
        "value": {},
        "touchpoints": {"type": "array", "items": {"type": "integer"}},
    },
}


class ScoredLeadSerializer(LeadSerializer):
    """A lead with ``score_breakdown`` (why it has its score) and ``gated_by``."""

    score_breakdown = serializers.SerializerMethodField()
    gated_by = serializers.SerializerMethodField()

    class Meta(LeadSerializer.Meta):
        fields = [*LeadSerializer.Meta.fields, "score_breakdown", "gated_by"]
        read_only_fields = fields

    @staticmethod
    def _score(lead: Lead) -> LeadScore | None:
        scores = getattr(lead, "active_scores", None)
        return scores[0] if scores else None

    @extend_schema_field({"type": "array", "items": BREAKDOWN_ITEM})
    def get_score_breakdown(self, lead: Lead) -> list[dict[str, Any]]:
        score = self._score(lead)
        return score.breakdown if score else []

    @extend_schema_field(
        {
            "type": "array",
            "description": "Disqualifying rules that hold: the lead cannot be an MQL.",
            "items": {"type": "object"},
        }
    )
    def get_gated_by(self, lead: Lead) -> list[dict[str, Any]]:
        score = self._score(lead)
        return score.gated_by if score else []


class LeadDetailSerializer(ScoredLeadSerializer):
    """One lead as its detail shows it: with ``tracking_token``."""

    tracking_token = serializers.SerializerMethodField(
        help_text="Signed token naming this lead for e-mail links: add "
        "?lf_t=<token> to a link and the tracking snippet identifies the "
        "reader as this lead (valid 90 days)."
    )

    class Meta(ScoredLeadSerializer.Meta):
        fields = [*ScoredLeadSerializer.Meta.fields, "tracking_token"]
        read_only_fields = fields

    def get_tracking_token(self, lead: Lead) -> str:
        return lead_token(lead)


@extend_schema_view(
    retrieve=extend_schema(
        summary="One lead",
        responses={
            200: LeadDetailSerializer,
            404: OpenApiResponse(description="No such lead."),
            **ERRORS,
        },
    )
)
class ScoredLeadViewSet(LeadViewSet):
    serializer_class = ScoredLeadSerializer

    def get_serializer_class(self) -> type[serializers.BaseSerializer]:
        if self.action == "retrieve":
            return LeadDetailSerializer
        return super().get_serializer_class()

    def edit_scope(self, user: Any) -> LeadEditScope:
        # A manager's team is the handoff app's to know (crm.lead_access).
        return lead_edit_scope(user)

    def get_queryset(self) -> QuerySet[Lead]:
        active = LeadScore.objects.filter(model__status=ScoringModel.Status.ACTIVE)
        return (
            super()
            .get_queryset()
            .prefetch_related(
                Prefetch("scores", queryset=active, to_attr="active_scores")
            )
        )
