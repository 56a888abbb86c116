"""Marketing reports over the API: the same figures as the pages, from the
same selectors (``crm.marketing``).

``GET /api/v1/reports/funnel/?start=YYYY-MM-DD&end=YYYY-MM-DD&mode=cohort|flow``
with the dashboard's filters (``campaign``, ``sla``: ids; ``channel``,
``source``, ``region``: codes): the Marketing and Admin roles.

``GET /api/v1/reports/campaigns/?start=YYYY-MM-DD&end=YYYY-MM-DD&model=...``:
campaign ROI per campaign, per channel, unattributed and in total under an
attribution model (linear by default); the same roles.

``GET /api/v1/reports/plan/?start=&end=&target_customers=N`` (or
``target_revenue=X`` with an optional ``average_deal=X``, and optional
``reference_start``/``reference_end``): the MQL planner's figures, the same
selector as the ``/planner/`` page.

``GET /api/v1/reports/rules/?start=&end=&model=ID&q=TEXT&min_support=N``: rule
analytics (each rule's lifts, the score's quality, rejection reasons and
feedback, and candidate rules from the data), the same selectors as the
``/scoring/analytics/`` page.
"""

from __future__ import annotations

from decimal import Decimal
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
from crm.marketing.campaign_report import DEFAULT_MODEL, campaign_report
from crm.marketing.filters import FunnelFilters
from crm.marketing.funnel import MODES, funnel
from crm.marketing.planner import (
    MAX_CUSTOMERS,
    REFERENCE_KINDS,
    TARGET_KINDS,
    PlanError,
    plan_build,
    plan_data,
)
from crm.marketing.rule_analytics import (
    MAX_SEARCH,
    analytics_models,
    rule_analytics,
)
from crm.marketing.rule_candidates import (
    COUNTING,
    MIN_SUPPORT_DEFAULT,
    MIN_SUPPORT_MAX,
    MIN_SUPPORT_MIN,
    READY,
    STALE,
    WAIT_SECONDS,
    candidates_state,
    candidates_wait,
)
from crm.planner_forms import FIRST_DAY, LAST_DAY, MAX_MONEY
from crm.roles import user_roles
from handoff.models import ServiceLevelAgreement
from leads.attribution import MODELS
from leads.geo import Region
from leads.models import Campaign, Lead
from scoring.models import ScoringModel

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


class PlanQuerySerializer(PeriodSerializer):
    start = serializers.DateField(help_text="First day of the plan period (UTC).")
    end = serializers.DateField(
        help_text="The day after the plan's last day (UTC): the period is [start, end)."
    )
    reference_start = serializers.DateField(
        required=False,
        help_text="First day of the reference period; with reference_end, or "
        "leave both out for the default (the previous quarter when the plan "
        "starts on a quarter's first day, else the 90 days before it).",
    )
    reference_end = serializers.DateField(
        required=False, help_text="The day after the reference period's last day."
    )
    target_customers = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_CUSTOMERS
    )
    target_revenue = serializers.DecimalField(
        required=False,
        max_digits=16,
        decimal_places=2,
        min_value=Decimal("0.01"),
        max_value=MAX_MONEY,
    )
    average_deal = serializers.DecimalField(
        required=False,
        max_digits=16,
        decimal_places=2,
        min_value=Decimal("0.01"),
        max_value=MAX_MONEY,
        help_text="With target_revenue: the average deal size; else the mean "
        "amount won in the reference period.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        for name in ("start", "end", "reference_start", "reference_end"):
            day = attrs.get(name)
            if day is not None and not FIRST_DAY <= day <= LAST_DAY:
                raise serializers.ValidationError(
                    {
                        name: f"Give a date between {FIRST_DAY.isoformat()} "
                        f"and {LAST_DAY.isoformat()}."
                    }
                )
        attrs = super().validate(attrs)
        customers = attrs.get("target_customers")
        revenue = attrs.get("target_revenue")
        if (customers is None) == (revenue is None):
            raise serializers.ValidationError(
                {
                    "target_customers": "Give exactly one of target_customers "
                    "and target_revenue."
                }
            )
        if "average_deal" in attrs and revenue is None:
            raise serializers.ValidationError(
                {"average_deal": "average_deal goes with target_revenue only."}
            )
        ref_start, ref_end = attrs.get("reference_start"), attrs.get("reference_end")
        if (ref_start is None) != (ref_end is None):
            raise serializers.ValidationError(
                {
                    "reference_end": "Give both reference_start and reference_end, "
                    "or neither for the default reference period."
                }
            )
        if ref_start is not None:
            if ref_end <= ref_start:
                raise serializers.ValidationError(
                    {"reference_end": "Give a reference_end after reference_start."}
                )
            if (ref_end - ref_start).days > MAX_DAYS:
                raise serializers.ValidationError(
                    {
                        "reference_end": f"Give a reference period of at most "
                        f"{MAX_DAYS:,} days."
                    }
                )
        return attrs


class PlanStageSerializer(serializers.Serializer):
    stage = serializers.CharField()
    needed = serializers.IntegerField(help_text="Leads needed, rounded up.")
    rate_used = serializers.FloatField(
        allow_null=True,
        help_text="Conversion from the previous stage in the reference period; "
        "null for the first stage.",
    )
    median_days_from_previous = serializers.FloatField(allow_null=True)
    enter_by = serializers.DateField(
        allow_null=True,
        help_text="The day by which they must have entered the stage; null "
        "when a later step has no median days in the reference.",
    )


class PlanChannelSerializer(serializers.Serializer):
    channel = serializers.CharField()
    label = serializers.CharField()
    spend = serializers.DecimalField(max_digits=32, decimal_places=2)
    leads = serializers.IntegerField()
    mqls = serializers.IntegerField()
    cost_per_lead = serializers.DecimalField(
        max_digits=32, decimal_places=2, allow_null=True
    )
    cost_per_mql = serializers.DecimalField(
        max_digits=32, decimal_places=2, allow_null=True
    )
    planned_leads = serializers.DecimalField(
        max_digits=32, decimal_places=1, allow_null=True
    )
    planned_mqls = serializers.DecimalField(
        max_digits=32, decimal_places=1, allow_null=True
    )
    spend_for_leads = serializers.DecimalField(
        max_digits=32, decimal_places=2, allow_null=True
    )
    spend_for_mqls = serializers.DecimalField(
        max_digits=32, decimal_places=2, allow_null=True
    )


class PlanSpendSerializer(serializers.Serializer):
    total_for_leads = serializers.DecimalField(
        max_digits=32, decimal_places=2, allow_null=True
    )
    total_for_mqls = serializers.DecimalField(
        max_digits=32, decimal_places=2, allow_null=True
    )
    channels = PlanChannelSerializer(many=True)


class PlanReferenceStageSerializer(serializers.Serializer):
    stage = serializers.CharField()
    count = serializers.IntegerField()
    rate = serializers.FloatField(allow_null=True)
    median_days = serializers.FloatField(allow_null=True)


class PlanReferenceSerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    kind = serializers.ChoiceField(choices=list(REFERENCE_KINDS))
    average_deal = serializers.DecimalField(
        max_digits=16, decimal_places=2, allow_null=True
    )
    average_deal_source = serializers.CharField(
        allow_blank=True, help_text="history, typed, or blank for a customer target."
    )
    won_deals = serializers.IntegerField(allow_null=True)
    stages = PlanReferenceStageSerializer(many=True)


class PlanSerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    target_kind = serializers.ChoiceField(choices=list(TARGET_KINDS))
    target_value = serializers.DecimalField(max_digits=16, decimal_places=2)
    stages = PlanStageSerializer(many=True)
    spend = PlanSpendSerializer()
    reference = PlanReferenceSerializer()


class PlanReportView(APIView):
    """The MQL planner: a target for a period worked back to the leads it takes."""

    permission_classes = [IsMarketingOrAdmin]
    renderer_classes = [JSONRenderer]

    @extend_schema(
        summary="An MQL plan for a target",
        parameters=[
            OpenApiParameter("start", str, required=True, description="YYYY-MM-DD"),
            OpenApiParameter(
                "end", str, required=True, description="YYYY-MM-DD, not included"
            ),
            OpenApiParameter("reference_start", str, description="YYYY-MM-DD"),
            OpenApiParameter(
                "reference_end", str, description="YYYY-MM-DD, not included"
            ),
            OpenApiParameter(
                "target_customers", int, description="Customers to win (or revenue)"
            ),
            OpenApiParameter(
                "target_revenue", str, description="Revenue to win, e.g. 250000.00"
            ),
            OpenApiParameter(
                "average_deal", str, description="Average deal size for revenue"
            ),
        ],
        responses={
            200: PlanSerializer,
            400: OpenApiResponse(
                description="A bad period or target, a conversion of 0% in the "
                "reference period, or no average deal size: and what to fix."
            ),
            401: OpenApiResponse(description="No or bad credentials."),
            403: OpenApiResponse(description="Your role may not see reports."),
        },
    )
    def get(self, request: Request) -> Response:
        query = PlanQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        try:
            plan = plan_build(**query.validated_data)
        except PlanError as error:
            raise serializers.ValidationError({"detail": str(error)}) from error
        data = plan_data(plan)
        for stage, ref in zip(data["stages"], data["reference"]["stages"], strict=True):
            stage["rate_used"] = _number(stage["rate_used"])
            stage["median_days_from_previous"] = _number(
                stage.pop("days_from_previous")
            )
            ref["rate"] = _number(ref["rate"])
            ref["median_days"] = _number(ref["median_days"])
        body = {
            "start": plan.start,
            "end": plan.end,
            "target_kind": plan.target_kind,
            "target_value": plan.target_value,
            **data,
        }
        return Response(PlanSerializer(body).data)


class RuleQuerySerializer(PeriodSerializer):
    start = serializers.DateField(
        help_text="First day (UTC) of the period: leads created from this day."
    )
    model = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_ID,
        help_text="A published scoring model's id (active or archived); the "
        "active model by default.",
    )
    q = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=MAX_SEARCH,
        help_text="Only feedback containing this text (any case).",
    )
    candidates = serializers.ChoiceField(
        required=False,
        choices=["wait"],
        help_text="wait: wait for candidates still counting (a bounded time).",
    )
    min_support = serializers.IntegerField(
        required=False,
        default=MIN_SUPPORT_DEFAULT,
        min_value=MIN_SUPPORT_MIN,
        max_value=MIN_SUPPORT_MAX,
        help_text="Leads a candidate rule must hold for "
        f"(default {MIN_SUPPORT_DEFAULT}).",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        models = analytics_models()
        if "model" in attrs:
            chosen = models.filter(id=attrs["model"]).first()
            if chosen is None:
                raise serializers.ValidationError(
                    {"model": f"There is no published scoring model {attrs['model']}."}
                )
        else:
            chosen = models.filter(status=ScoringModel.Status.ACTIVE).first()
            if chosen is None:
                raise serializers.ValidationError(
                    {"model": "No scoring model is active; give a published one."}
                )
        attrs["scoring_model"] = chosen
        return attrs


class RateSerializer(serializers.Serializer):
    hits = serializers.IntegerField()
    total = serializers.IntegerField()
    rate = serializers.FloatField(
        allow_null=True, source="value", help_text="hits / total; null when 0."
    )
    low = serializers.FloatField(allow_null=True, help_text="Wilson 95% low.")
    high = serializers.FloatField(allow_null=True, help_text="Wilson 95% high.")


class LiftSerializer(serializers.Serializer):
    value = serializers.FloatField(
        allow_null=True,
        help_text="Rate fired / rate not fired; null when a side is empty or "
        "the not-fired rate is 0.",
    )
    low = serializers.FloatField(
        allow_null=True,
        help_text="Log-method 95% low; null when a side has no success.",
    )
    high = serializers.FloatField(allow_null=True)


class ComparisonSerializer(serializers.Serializer):
    fired = RateSerializer()
    not_fired = RateSerializer(source="rest")
    lift = LiftSerializer()


class RuleRowSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="rule_id")
    label = serializers.CharField()
    kind = serializers.CharField()
    points = _decimal(2)
    fired = serializers.IntegerField(help_text="Leads of the period it fired on.")
    not_fired = serializers.IntegerField(source="rest")
    sdr_acceptance = ComparisonSerializer(
        source="acceptance", help_text="Accepted over decided handoffs' leads."
    )
    sql = ComparisonSerializer(help_text="Leads that reached SQL or later.")
    customer = ComparisonSerializer(help_text="Leads that became customers.")
    weight = serializers.CharField(
        allow_blank=True, help_text="over-weighted, under-weighted or blank."
    )


class BandSerializer(serializers.Serializer):
    low = _decimal(2)
    high = _decimal(2)
    mql_to_sql = RateSerializer()


class ScoreQualitySerializer(serializers.Serializer):
    mql_threshold = _decimal(2, source="threshold")
    auc_sql = serializers.FloatField(allow_null=True)
    auc_customer = serializers.FloatField(allow_null=True)
    sqls = serializers.IntegerField()
    customers = serializers.IntegerField()
    precision_at_threshold = RateSerializer()
    bands = BandSerializer(many=True)


class ReasonColumnSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="reason_id")
    code = serializers.CharField()
    label = serializers.CharField()
    audience = serializers.CharField(help_text="sdr or sales.")


class RejectionRowSerializer(serializers.Serializer):
    key = serializers.CharField(
        allow_null=True,
        help_text="The campaign or SLA id, rule label, grade or week's Monday; "
        "null for none.",
    )
    label = serializers.CharField()
    counts = serializers.ListField(
        child=serializers.IntegerField(), help_text="Per reason, as in reasons."
    )
    total = serializers.IntegerField()


class RejectionTableSerializer(serializers.Serializer):
    dimension = serializers.CharField(source="key")
    title = serializers.CharField()
    reasons = ReasonColumnSerializer(many=True, source="columns")
    rows = RejectionRowSerializer(many=True)


class FeedbackLineSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    audience = serializers.CharField()
    reason = serializers.CharField()
    text = serializers.CharField()
    lead = serializers.IntegerField(source="lead_id")
    handoff = serializers.IntegerField(source="handoff_id", allow_null=True)


class ScoringModelRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField(source="__str__", help_text="Name and version.")
    status = serializers.CharField(help_text="active or archived.")


class CandidateSerializer(serializers.Serializer):
    key = serializers.CharField(help_text="What adding it on the page sends.")
    source = serializers.CharField(
        help_text="touch, touch_often, field, size, attribute or number."
    )
    label = serializers.CharField()
    leads = serializers.IntegerField(help_text="Leads of the period it holds for.")
    rest = serializers.IntegerField(help_text="The period's other leads.")
    sql = ComparisonSerializer(help_text="Leads that reached SQL or later.")
    customer = ComparisonSerializer(help_text="Leads that became customers.")
    rule = serializers.DictField(
        allow_null=True,
        help_text="The rule's fields (as the rule editor takes them, without "
        "points); null when the rule language cannot say it.",
    )
    suggested_points = serializers.IntegerField(
        source="points",
        help_text="10 x ln(the SQL lift's bound nearest 1), at most 25 either "
        "way; 0 without a clear lift.",
    )
    addable = serializers.BooleanField()
    not_addable_because = serializers.CharField(
        source="reason_not_addable", allow_blank=True
    )
    covered_by = serializers.ListField(
        child=serializers.CharField(),
        help_text="Labels of the active model's rules that already test it.",
    )


class CandidateReportSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=[READY, STALE, COUNTING],
        help_text="ready: counted less than 15 minutes ago; stale: older, shown "
        "while they are counted again; counting: none counted yet, ask again "
        "in a few seconds (or pass candidates=wait).",
    )
    counted_at = serializers.DateTimeField(
        allow_null=True,
        source="state.counted_at",
        help_text="When the candidates were counted; null while counting.",
    )
    age_seconds = serializers.IntegerField(
        allow_null=True, help_text="Seconds since counted_at; null while counting."
    )
    min_support = serializers.IntegerField()
    candidates = CandidateSerializer(many=True, help_text="Empty while counting.")


class RuleReportSerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()
    model = ScoringModelRefSerializer()
    counted_at = serializers.DateTimeField(
        help_text="When the figures were counted; they are reused for five "
        "minutes (the feedback is read every time)."
    )
    as_of = serializers.DateTimeField(
        allow_null=True,
        help_text="When the daily roll-up the figures were summed from was "
        "brought up to date (every minute); null when counted from the leads.",
    )
    leads = serializers.IntegerField(help_text="Scored leads created in the period.")
    median_points = _decimal(2, allow_null=True)
    rules = RuleRowSerializer(many=True)
    score_quality = ScoreQualitySerializer(source="quality")
    rejections = RejectionTableSerializer(many=True)
    search = serializers.CharField(allow_blank=True)
    feedback = FeedbackLineSerializer(many=True)
    candidates = CandidateReportSerializer(
        help_text="Candidate rules from the data, best SQL lift's lower bound "
        "first. Counted in the background and kept, so the report answers at "
        "once: status says whether they are ready, stale or still counting."
    )


class RuleReportView(APIView):
    """Rule analytics: each rule's lift of acceptance, SQL and customer, the
    score's quality, and rejection reasons; the /scoring/analytics/ page's
    selector."""

    permission_classes = [IsMarketingOrAdmin]
    renderer_classes = [JSONRenderer]

    @extend_schema(
        summary="Rule analytics over a period",
        parameters=[
            OpenApiParameter("start", str, required=True, description="YYYY-MM-DD"),
            OpenApiParameter(
                "end", str, required=True, description="YYYY-MM-DD, not included"
            ),
            OpenApiParameter(
                "model", int, description="A published model's id (default: active)"
            ),
            OpenApiParameter("q", str, description="Search the feedback texts"),
            OpenApiParameter(
                "min_support",
                int,
                description="Leads a candidate rule must hold for (default 30)",
            ),
            OpenApiParameter(
                "candidates",
                str,
                enum=["wait"],
                description="wait: while the candidates are still counting, "
                f"wait for them up to {WAIT_SECONDS} s (the status says "
                "counting if they are not ready by then)",
            ),
        ],
        responses={
            200: RuleReportSerializer,
            400: OpenApiResponse(
                description="A bad period, model or search, and what to fix."
            ),
            401: OpenApiResponse(description="No or bad credentials."),
            403: OpenApiResponse(description="Your role may not see reports."),
            404: OpenApiResponse(description="No such report."),
        },
    )
    def get(self, request: Request) -> Response:
        query = RuleQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        report = rule_analytics(
            model=params["scoring_model"],
            start=params["start"],
            end=params["end"],
            search=params.get("q", ""),
        )
        look = (
            candidates_wait
            if params.get("candidates") == "wait"
            else (candidates_state)
        )
        state = look(
            model=params["scoring_model"],
            start=params["start"],
            end=params["end"],
            min_support=params["min_support"],
        )
        candidates = {
            "status": state.status,
            "state": state,
            "age_seconds": (
                None if state.age is None else int(state.age.total_seconds())
            ),
            "min_support": params["min_support"],
            "candidates": state.report.candidates if state.report else [],
        }
        return Response(
            RuleReportSerializer(dict(vars(report), candidates=candidates)).data
        )
