"""Marketing reports over the API: the same figures as the pages, from the
same selectors (``crm.marketing``).

``GET /api/v1/reports/funnel/?start=YYYY-MM-DD&end=YYYY-MM-DD&mode=cohort|flow``:
the Marketing and Admin roles.

``GET /api/v1/reports/campaigns/?start=YYYY-MM-DD&end=YYYY-MM-DD&model=...``:
campaign ROI per campaign, per channel, unattributed and in total under an
attribution model (linear by default); the same roles.
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

from crm.common.roles import ADMIN, MARKETING
from crm.marketing.campaign_report import DEFAULT_MODEL, campaign_report
from crm.marketing.funnel import MODES, funnel
from crm.roles import user_roles
from leads.attribution import MODELS

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
        ],
        responses={
            200: FunnelSerializer,
            400: OpenApiResponse(description="A bad period or mode, and what to fix."),
            401: OpenApiResponse(description="No or bad credentials."),
            403: OpenApiResponse(description="Your role may not see reports."),
        },
    )
    def get(self, request: Request) -> Response:
        query = FunnelQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        period = query.validated_data
        stages = funnel(start=period["start"], end=period["end"], mode=period["mode"])
        return Response(
            {
                "start": period["start"].isoformat(),
                "end": period["end"].isoformat(),
                "mode": period["mode"],
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


class CampaignQuerySerializer(PeriodSerializer):
    model = serializers.ChoiceField(
        choices=list(MODELS),
        default=DEFAULT_MODEL,
        help_text="The attribution model: "
        + " ".join(f"{code}: {sentence}" for code, sentence in MODELS.items()),
    )


def _decimal(places: int = 4, **kwargs: Any) -> serializers.DecimalField:
    """Decimals as strings, as elsewhere in the API: money to the cent,
    credited counts, rates and ROI to four places."""
    return serializers.DecimalField(
        max_digits=24, decimal_places=places, coerce_to_string=True, **kwargs
    )


class FiguresSerializer(serializers.Serializer):
    spend = _decimal(2, help_text="Spend in the period, months prorated by day.")
    leads = _decimal(help_text="Leads created in the period, credited.")
    mqls = _decimal(help_text="Leads that first became MQLs, credited.")
    sqls = _decimal(help_text="Leads that first became SQLs, credited.")
    customers = _decimal(help_text="Leads that became customers, credited.")
    revenue = _decimal(help_text="Deals won in the period, credited.")
    cost_per_lead = _decimal(2, allow_null=True)
    cost_per_mql = _decimal(2, allow_null=True, help_text="Null without MQLs.")
    cost_per_sql = _decimal(2, allow_null=True)
    cost_per_customer = _decimal(2, allow_null=True)
    mql_to_sql_rate = _decimal(
        allow_null=True, help_text="SQLs over MQLs, a fraction; null without MQLs."
    )
    roi = _decimal(
        allow_null=True,
        help_text="(revenue - spend) / spend, a fraction; null without spend.",
    )


class CampaignFiguresSerializer(FiguresSerializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    channel = serializers.CharField()


class ChannelFiguresSerializer(FiguresSerializer):
    channel = serializers.CharField()
    label = serializers.CharField()


class CampaignReportSerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    model = serializers.ChoiceField(choices=list(MODELS))
    campaigns = CampaignFiguresSerializer(many=True)
    channels = ChannelFiguresSerializer(many=True)
    unattributed = FiguresSerializer(
        help_text="Conversions whose touches have no campaign, or no touches."
    )
    total = FiguresSerializer(help_text="The campaigns and unattributed, summed.")
    as_of = serializers.DateTimeField(
        allow_null=True,
        help_text="The oldest rebuild of the period's days (null: none rebuilt).",
    )


class CampaignReportView(APIView):
    """Campaign ROI over a period under one attribution model."""

    permission_classes = [IsMarketingOrAdmin]
    renderer_classes = [JSONRenderer]

    @extend_schema(
        summary="Campaign ROI over a period",
        parameters=[
            OpenApiParameter("start", str, required=True, description="YYYY-MM-DD"),
            OpenApiParameter(
                "end", str, required=True, description="YYYY-MM-DD, not included"
            ),
            OpenApiParameter(
                "model",
                str,
                enum=list(MODELS),
                description=f"The attribution model ({DEFAULT_MODEL} by default).",
            ),
        ],
        responses={
            200: CampaignReportSerializer,
            400: OpenApiResponse(description="A bad period or model, and what to fix."),
            401: OpenApiResponse(description="No or bad credentials."),
            403: OpenApiResponse(description="Your role may not see reports."),
        },
    )
    def get(self, request: Request) -> Response:
        query = CampaignQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        report = campaign_report(
            start=params["start"], end=params["end"], model=params["model"]
        )
        return Response(
            CampaignReportSerializer(
                {
                    "start": report.start,
                    "end": report.end,
                    "model": report.model,
                    "campaigns": report.rows,
                    "channels": report.channels,
                    "unattributed": report.unattributed,
                    "total": report.total,
                    "as_of": report.freshness.as_of,
                }
            ).data
        )
