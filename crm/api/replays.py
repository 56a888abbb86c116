"""A draft scoring model replayed on history over the API (``crm.marketing.replay``).

``POST /api/v1/scoring-models/<id>/replay/`` with ``start`` and ``end``
(YYYY-MM-DD, optional: the last 90 days) starts a replay in the background
and answers 202 with its id; ``GET /api/v1/scoring-models/replays/<id>/``
gives its status, progress and, once done, its result. The Marketing and
Admin roles.
"""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from crm.api.reports import IsMarketingOrAdmin
from crm.marketing.replay import ReplayRefused, default_period, replay_request
from scoring.models import ModelReplay, ScoringModel


class ReplayRequestSerializer(serializers.Serializer):
    start = serializers.DateField(
        required=False, help_text="The period's first day (UTC); default: 90 days ago."
    )
    end = serializers.DateField(
        required=False,
        help_text="The day after the period's last day (UTC); default: today. "
        "At most 366 days after the start, and not in the future.",
    )


class ModelReplaySerializer(serializers.ModelSerializer):
    percent = serializers.IntegerField(read_only=True)
    result = serializers.JSONField(
        read_only=True,
        help_text="Once done: weeks (Monday-based; per model: mql, accepted, "
        "rejected, reasons (a list of reason and count, most first), sql, "
        "customer), totals, and the newly_qualifying "
        "and no_longer_qualifying leads (count and the first 100).",
    )

    class Meta:
        model = ModelReplay
        fields = [
            "id",
            "draft",
            "active",
            "start",
            "end",
            "status",
            "done",
            "total",
            "percent",
            "error",
            "created_at",
            "finished_at",
            "result",
        ]
        read_only_fields = fields


class ReplayStartedSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    status = serializers.CharField()
    url = serializers.CharField()


class ModelReplayStartView(APIView):
    permission_classes = [IsMarketingOrAdmin]

    @extend_schema(
        request=ReplayRequestSerializer,
        responses={
            202: ReplayStartedSerializer,
            400: OpenApiResponse(
                description="Not a replayable draft or period; `detail` says "
                "what to change. Nothing is stored."
            ),
            401: OpenApiResponse(description="No or bad credentials."),
            403: OpenApiResponse(description="Your role may not replay models."),
            404: OpenApiResponse(description="No scoring model with this id."),
        },
        summary="Replay a draft model on a past period",
    )
    def post(self, request: Request, pk: int) -> Response:
        draft = get_object_or_404(ScoringModel, pk=pk)
        query = ReplayRequestSerializer(data=request.data)
        query.is_valid(raise_exception=True)
        default_start, default_end = default_period()
        try:
            replay = replay_request(
                draft=draft,
                start=query.validated_data.get("start", default_start),
                end=query.validated_data.get("end", default_end),
                user=request.user,
            )
        except ReplayRefused as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_400_BAD_REQUEST)
        replay.refresh_from_db()
        return Response(
            {
                "id": replay.id,
                "status": replay.status,
                "url": reverse("scoring-model-replay-detail", args=[replay.id]),
            },
            status=status.HTTP_202_ACCEPTED,
        )


class ModelReplayView(APIView):
    permission_classes = [IsMarketingOrAdmin]

    @extend_schema(
        responses={
            200: ModelReplaySerializer,
            401: OpenApiResponse(description="No or bad credentials."),
            403: OpenApiResponse(description="Your role may not see replays."),
            404: OpenApiResponse(description="No replay with this id."),
        },
        summary="A replay's progress and result",
    )
    def get(self, request: Request, pk: int) -> Response:
        replay = get_object_or_404(ModelReplay, pk=pk)
        data: dict[str, Any] = ModelReplaySerializer(replay).data
        return Response(data)
