"""Views of the scoring API: list and read models, publish a draft, suggest
points in the background and follow the run; the attribute keys and values
the rule editor suggests."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from scoring import selectors, suggestions
from scoring.api.permissions import (
    EditorPermission,
    PublishPermission,
    SuggestPermission,
)
from scoring.api.serializers import (
    AttributeKeysSerializer,
    AttributeValuesSerializer,
    ModelSuggestionSerializer,
    ScoringModelDetailSerializer,
    ScoringModelSerializer,
    SuggestRequestSerializer,
    SuggestWaitSerializer,
)
from scoring.exceptions import (
    ModelNotPublishable,
    SuggestionRefused,
    SuggestionRunning,
)
from scoring.models import ModelSuggestion, ScoringModel
from scoring.services import publishing
from scoring.services.suggestions import suggestion_request, suggestion_wait
from scoring.suggestion import cut_off_time

ERRORS = {
    401: OpenApiResponse(description="No or bad credentials."),
    403: OpenApiResponse(description="Your role may not do this."),
}
NOT_FOUND = {404: OpenApiResponse(description="No such scoring model.")}


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

    @extend_schema(
        summary="Suggest points fitted from outcomes",
        description="Queues a suggestion: in the background, points are fitted "
        "to whether the leads created before `until` reached `outcome` (an "
        "L2-regularised logistic regression on the earliest 80%, the penalty "
        "chosen on the time-ordered validation) and stored as a new draft, with "
        "the explanation in its `notes`. The request waits for the run up to "
        "`wait` seconds (default 20, at most 25; 0 answers at once): done, it "
        "answers 201 with the run, whose `draft` is the new draft's id and "
        "`auc_active`, `auc_suggested` and `result` the ROC AUC of the active "
        "model and of the draft on the later 20%; still running, 202 with the "
        "run: poll its `url` for the stage and progress. One at a time.",
        parameters=[
            OpenApiParameter(
                "wait",
                int,
                description="Seconds to wait for the run to finish (0 to 25, "
                "default 20).",
            )
        ],
        request=SuggestRequestSerializer,
        responses={
            201: ModelSuggestionSerializer,
            202: ModelSuggestionSerializer,
            400: OpenApiResponse(
                description="An unknown outcome, a date that is not one, a name "
                "too long or a `wait` outside 0 to 25: each field's message says "
                "what to change, and nothing is stored. Or the run failed within "
                "the wait (too few leads of either class before the cut-off): "
                "`detail` says what to change, `suggestion` is the failed run, and "
                "no draft was made."
            ),
            **ERRORS,
            404: OpenApiResponse(description="Not found."),
            409: OpenApiResponse(
                description="A suggestion is already queued or running; `detail` "
                "says so and `running` is that run. Wait for it."
            ),
        },
    )
    @action(detail=False, methods=["post"], permission_classes=[SuggestPermission])
    def suggest(self, request: Request) -> Response:
        waiting = SuggestWaitSerializer(data=request.query_params)
        waiting.is_valid(raise_exception=True)
        given = SuggestRequestSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        try:
            suggestion = suggestion_request(
                outcome=data["outcome"],
                until=cut_off_time(data.get("until")),
                name=data["name"],
                actor=request.user,
            )
        except SuggestionRefused as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        except SuggestionRunning as exc:
            body: dict[str, Any] = {"detail": str(exc)}
            if exc.running is not None:
                body["running"] = ModelSuggestionSerializer(exc.running).data
            return Response(body, status=status.HTTP_409_CONFLICT)
        suggestion = suggestion_wait(
            suggestion.id, seconds=waiting.validated_data["wait"]
        )
        body = ModelSuggestionSerializer(suggestion).data
        if suggestion.status == ModelSuggestion.Status.FAILED:
            return Response(
                {"detail": suggestion.error, "suggestion": body},
                status=status.HTTP_400_BAD_REQUEST,
            )
        if suggestion.status == ModelSuggestion.Status.DONE:
            return Response(body, status=status.HTTP_201_CREATED)
        return Response(body, status=status.HTTP_202_ACCEPTED)


class ModelSuggestionView(APIView):
    """A suggestion of points: its progress, then its draft and AUCs."""

    permission_classes = [SuggestPermission]
    # What the role permissions are checked on: following a suggestion needs
    # the permission to ask for one (``add_scoringmodel``).
    queryset = ScoringModel.objects.none()

    @extend_schema(
        summary="A suggestion's progress and result",
        description="`status` queued, running (with `stage`, `done` of `total` "
        "and `percent`), done (with `draft`, `auc_active`, `auc_suggested` and "
        "`result`) or failed (with `error`).",
        responses={
            200: ModelSuggestionSerializer,
            **ERRORS,
            404: OpenApiResponse(description="No suggestion with this id."),
        },
    )
    def get(self, request: Request, pk: int) -> Response:
        suggestion = get_object_or_404(ModelSuggestion, pk=pk)
        return Response(ModelSuggestionSerializer(suggestion).data)


class AttributeKeysView(APIView):
    """The keys of the leads' attributes, for writing rules."""

    permission_classes = [EditorPermission]

    @extend_schema(
        summary="Attribute keys in the leads' data",
        description="The keys of `attributes` in the newest 20,000 leads that "
        "were not erased, each with how many of them have it, the most frequent "
        "first (at most 200). Only keys a rule can name as `attributes.<key>` "
        "(no dots, no surrounding spaces, at most 89 characters). For the "
        "Marketing and Admin roles.",
        responses={200: AttributeKeysSerializer, **ERRORS},
    )
    def get(self, request: Request) -> Response:
        return Response(AttributeKeysSerializer(suggestions.attribute_keys()).data)


class AttributeValuesView(APIView):
    """The most frequent values of one attribute key, for writing rules."""

    permission_classes = [EditorPermission]

    @extend_schema(
        summary="The most frequent values of an attribute key",
        description="The values of `attributes.<key>` in the same leads as the "
        "keys, each with how many leads have it, the most frequent first (at "
        "most 10). A key no lead has answers with no values.",
        responses={
            200: AttributeValuesSerializer,
            400: OpenApiResponse(
                description="A key a rule cannot name; `detail` says why."
            ),
            404: OpenApiResponse(
                description="No key in the path, or one with a line break."
            ),
            **ERRORS,
        },
    )
    def get(self, request: Request, key: str) -> Response:
        key = key.removeprefix(suggestions.PREFIX)
        if not suggestions.rule_can_test(key):
            return Response(
                {"detail": suggestions.untestable_key_message(key)},
                status=status.HTTP_400_BAD_REQUEST,
            )
        return Response(
            AttributeValuesSerializer(suggestions.attribute_values(key=key)).data
        )
