"""Marketing reports over the API: the same figures as the pages, from the
same selectors (``crm.marketing``).

``GET /api/v1/reports/funnel/?start=YYYY-MM-DD&end=YYYY-MM-DD&mode=cohort|flow``
with the dashboard's filters (``campaign``, ``sla``: ids; ``channel``,
``source``, ``region``: codes): the Marketing and Admin roles.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.permissions import BasePermission
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from crm.common.keyset import MAX_ID
from crm.common.roles import ADMIN, MARKETING
from crm.marketing.filters import FunnelFilters
from crm.marketing.funnel import MODES, funnel
from crm.roles import user_roles
from handoff.models import ServiceLevelAgreement
from leads.geo import Region
from leads.models import Campaign, Lead

#: The longest period a report spans: ten years of days.
MAX_DAYS = 3660


class IsMarketingOrAdmin(BasePermission):
    message = "Marketing reports are for the Marketing and Admin roles."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return bool(
            user
            and user.is_authenticated
            and {MARKETING, ADMIN} & set(user_roles(user))
        )


class PeriodSerializer(serializers.Serializer):
    start = serializers.DateField(help_text="First day of the period (UTC).")
    end = serializers.DateField(
        help_text="The day after the period's last day (UTC): the period is "
        "[start, end)."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        start, end = attrs["start"], attrs["end"]
        if end <= start:
            raise serializers.ValidationError(
                {"end": "Give an end after the start (the end day is not included)."}
            )
        if (end - start).days > MAX_DAYS:
            raise serializers.ValidationError(
                {"end": f"Give a period of at most {MAX_DAYS:,} days."}
            )
        return attrs


class FunnelQuerySerializer(PeriodSerializer):
    mode = serializers.ChoiceField(
        choices=MODES,
        default="cohort",
        help_text="cohort: leads created in the period, counted at every stage "
        "they ever reached; flow: leads that entered each stage in the period.",
    )
    campaign = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_ID,
        help_text="A campaign's id: leads with at least one touchpoint of it.",
    )
    channel = serializers.ChoiceField(
        choices=Campaign.Channel.values,
        required=False,
        help_text="A channel code: leads with a touchpoint of a campaign in it.",
    )
    source = serializers.ChoiceField(
        choices=Lead.Source.values, required=False, help_text="The lead's source."
    )
    region = serializers.ChoiceField(
        choices=Region.values, required=False, help_text="The lead's region."
    )
    sla = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_ID,
        help_text="An SLA's id: leads that were handed off under it.",
    )

    def validate_campaign(self, value: int) -> int:
        if not Campaign.objects.filter(id=value).exists():
            raise serializers.ValidationError(f"There is no campaign {value}.")
        return value

    def validate_sla(self, value: int) -> int:
        if not ServiceLevelAgreement.objects.filter(id=value).exists():
            raise serializers.ValidationError(f"There is no SLA {value}.")
        return value

    def filters(self) -> FunnelFilters:
        data = self.validated_data
        return FunnelFilters(
            campaign_id=data.get("campaign"),
            channel=data.get("channel", ""),
            source=data.get("source", ""),
            region=data.get("region", ""),
            sla_id=data.get("sla"),
        )


class FunnelStageSerializer(serializers.Serializer):
    stage = serializers.CharField()
    count = serializers.IntegerField()
    rate_from_previous = serializers.FloatField(
        allow_null=True,
        help_text="This stage's count over the previous stage's; null for the "
        "first stage or when the previous stage counts nobody.",
    )
    median_days_from_previous = serializers.FloatField(
        allow_null=True,
        help_text="Median days from entering the previous stage to entering "
        "this one; null when no lead did both.",
    )


class FunnelSerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    mode = serializers.ChoiceField(choices=MODES)
    filters = serializers.DictField(
        child=serializers.CharField(),
        help_text="The filters applied, as their query parameters (empty: none).",
    )
    stages = FunnelStageSerializer(many=True)


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


class FunnelReportView(APIView):
    """The funnel lead → MQL → SAL → SQL → opportunity → customer."""

    permission_classes = [IsMarketingOrAdmin]
    renderer_classes = [JSONRenderer]

    @extend_schema(
        summary="The funnel over a period",
        parameters=[
            OpenApiParameter("start", str, required=True, description="YYYY-MM-DD"),
            OpenApiParameter(
                "end", str, required=True, description="YYYY-MM-DD, not included"
            ),
            OpenApiParameter(
                "mode", str, enum=list(MODES), description="cohort (default) or flow"
            ),
            OpenApiParameter(
                "campaign",
                int,
                description="A campaign's id: leads with at least one touchpoint "
                "of that campaign.",
            ),
            OpenApiParameter(
                "channel",
                str,
                enum=list(Campaign.Channel.values),
                description="Leads with a touchpoint of a campaign in this channel.",
            ),
            OpenApiParameter(
                "source", str, enum=list(Lead.Source.values), description="Lead.source"
            ),
            OpenApiParameter(
                "region", str, enum=list(Region.values), description="Lead.region"
            ),
            OpenApiParameter(
                "sla",
                int,
                description="An SLA's id: leads that were handed off under it.",
            ),
        ],
        responses={
            200: FunnelSerializer,
            400: OpenApiResponse(
                description="A bad period, mode or filter, and what to fix."
            ),
            401: OpenApiResponse(description="No or bad credentials."),
            403: OpenApiResponse(description="Your role may not see reports."),
        },
    )
    def get(self, request: Request) -> Response:
        query = FunnelQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        period = query.validated_data
        filters = query.filters()
        stages = funnel(
            start=period["start"],
            end=period["end"],
            mode=period["mode"],
            filters=filters,
        )
        return Response(
            {
                "start": period["start"].isoformat(),
                "end": period["end"].isoformat(),
                "mode": period["mode"],
                "filters": filters.params(),
                "stages": [
                    {
                        "stage": s.stage,
                        "count": s.count,
                        "rate_from_previous": _number(s.rate_from_previous),
                        "median_days_from_previous": _number(
                            s.median_days_from_previous
                        ),
                    }
                    for s in stages
                ],
            }
        )
