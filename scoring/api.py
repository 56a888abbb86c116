"""REST endpoints of scoring: read the models and their rules, publish a draft.

Thin callers of ``scoring.selectors`` and ``scoring.services``. Every role
may read (``scoring.view_scoringmodel``); publishing needs
``scoring.change_scoringmodel`` (Marketing, Admin). The leads app's exception
handler knows nothing of scoring (a lower app), so the publish view turns
``ModelNotPublishable`` into a 409 itself.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response

from leads.api.permissions import RoleModelPermissions
from scoring import selectors
from scoring.exceptions import ModelNotPublishable
from scoring.models import ScoringModel, ScoringRule
from scoring.services import publishing
from scoring.validation import RULE_INPUT_FIELDS

ERRORS = {
    401: OpenApiResponse(description="No or bad credentials."),
    403: OpenApiResponse(description="Your role may not do this."),
}
NOT_FOUND = {404: OpenApiResponse(description="No such scoring model.")}


class PublishPermission(RoleModelPermissions):
    """Publishing changes the model: it needs ``change``, not ``add``."""

    perms_map = {
        **RoleModelPermissions.perms_map,
        "POST": ["%(app_label)s.change_%(model_name)s"],
    }


class ScoringRuleSerializer(serializers.ModelSerializer):
    # Blank for the kinds that do not use them (an engagement rule has no
    # attribute operator), so the schema must allow "".
    operator = serializers.ChoiceField(
        choices=ScoringRule.Operator.choices, allow_blank=True, read_only=True
    )
    property_operator = serializers.ChoiceField(
        choices=ScoringRule.Operator.choices, allow_blank=True, read_only=True
    )

    class Meta:
        model = ScoringRule
        fields = ["id", "position", *RULE_INPUT_FIELDS]
        read_only_fields = fields


class ProgressSerializer(serializers.Serializer):
    """The rescore that publishing started (see scoring.selectors.RescoreProgress)."""

    state = serializers.ChoiceField(
        choices=["none", "running", "finished", "stopped", "failed"],
        help_text="`none`: never rescored by a publish; `stopped`: a newer model "
        "was published before it ended; `failed`: a part of the rescore failed, "
        "so the publish was undone (the model is a draft again and the model it "
        "replaced is active).",
    )
    total = serializers.IntegerField(help_text="Leads to rescore.")
    done = serializers.IntegerField(help_text="Leads rescored so far.")
    percent = serializers.IntegerField()
    finished_at = serializers.DateTimeField(allow_null=True)
    failed_at = serializers.DateTimeField(allow_null=True)
    error = serializers.CharField(
        allow_blank=True, help_text="What failed, when `state` is `failed`."
    )


class ScoringModelSerializer(serializers.ModelSerializer):
    published_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    rules_count = serializers.IntegerField(read_only=True)
    progress = serializers.SerializerMethodField()

    class Meta:
        model = ScoringModel
        fields = [
            "id",
            "name",
            "version",
            "status",
            "mql_threshold",
            "min_fit_score",
            "default_half_life_days",
            "grade_a_min",
            "grade_b_min",
            "grade_c_min",
            "notes",
            "created_at",
            "published_at",
            "published_by",
            "rules_count",
            "progress",
        ]
        read_only_fields = fields

    @extend_schema_field(ProgressSerializer)
    def get_progress(self, model: ScoringModel) -> dict[str, Any]:
        return ProgressSerializer(selectors.model_progress(model)).data


class ScoringModelDetailSerializer(ScoringModelSerializer):
    rules = ScoringRuleSerializer(many=True, read_only=True)

    class Meta(ScoringModelSerializer.Meta):
        fields = [*ScoringModelSerializer.Meta.fields, "rules"]
        read_only_fields = fields


class ScoringModelPagination(CursorPagination):
    ordering = ("-id",)
    page_size = 50


@extend_schema_view(
    list=extend_schema(
        summary="List scoring models",
        description="Newest first. `status` is `draft`, `active` (exactly one) or "
        "`archived`.",
        responses={
            200: ScoringModelSerializer,
            **ERRORS,
            404: OpenApiResponse(description="Invalid cursor."),
        },
    ),
    retrieve=extend_schema(
        summary="One scoring model with its rules",
        responses={200: ScoringModelDetailSerializer, **NOT_FOUND, **ERRORS},
    ),
)
class ScoringModelViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Scoring models: read them with their rules; publish a draft."""

    serializer_class = ScoringModelSerializer
    pagination_class = ScoringModelPagination

    def get_queryset(self) -> QuerySet[ScoringModel]:
        if self.action == "list":
            return selectors.model_list()
        return selectors.model_list().prefetch_related(selectors.model_rules_prefetch())

    def get_serializer_class(self) -> type[serializers.BaseSerializer]:
        if self.action in ("retrieve", "publish"):
            return ScoringModelDetailSerializer
        return ScoringModelSerializer

    @extend_schema(
        summary="Publish a draft",
        description="Makes the draft the active model (the active one is "
        "archived) and starts rescoring every lead. Answers at once with 202; "
        "follow `progress` by reading the model again.",
        request=None,
        responses={
            202: OpenApiResponse(
                ScoringModelDetailSerializer,
                description="Published; the rescore is running.",
            ),
            409: OpenApiResponse(
                description="Not a draft (already active or archived) or a draft "
                "without rules; `detail` says which."
            ),
            **NOT_FOUND,
            **ERRORS,
        },
    )
    @action(detail=True, methods=["post"], permission_classes=[PublishPermission])
    def publish(self, request: Request, pk: str | None = None) -> Response:
        model = self.get_object()
        try:
            publishing.model_publish(model_id=model.id, actor=request.user)
        except ModelNotPublishable as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        published = self.get_queryset().get(id=model.id)
        return Response(
            self.get_serializer(published).data, status=status.HTTP_202_ACCEPTED
        )
