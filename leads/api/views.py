"""REST endpoints of the leads domain: thin callers of leads.services/ingestion."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.filters import OrderingFilter
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response

from leads import selectors
from leads.api.filters import LeadFilter, TouchpointFilter
from leads.api.serializers import (
    LeadPatchSerializer,
    LeadSerializer,
    LeadWriteSerializer,
    TouchpointBatchResultSerializer,
    TouchpointBatchSerializer,
    TouchpointInSerializer,
    TouchpointSerializer,
)
from leads.ingestion import BATCH_LIMIT, touchpoints_ingest
from leads.models import Lead, Touchpoint
from leads.services import lead_upsert

API_SOURCE = "api"

ERRORS = {
    400: OpenApiResponse(description="Invalid input; the body names each bad field."),
    401: OpenApiResponse(description="No or bad credentials."),
    403: OpenApiResponse(description="Your role may not do this."),
}


class LeadPagination(CursorPagination):
    ordering = ("-created_at", "-id")
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


def _lead_fields(data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    fields = dict(data)
    fields.pop("email", None)
    return fields, fields.pop("account", None)


@extend_schema_view(
    list=extend_schema(summary="List leads", responses={200: LeadSerializer, **ERRORS}),
    retrieve=extend_schema(
        summary="One lead",
        responses={
            200: LeadSerializer,
            404: OpenApiResponse(description="No such lead."),
            **ERRORS,
        },
    ),
)
class LeadViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Leads: create or update by e-mail, list with filters, read, change."""

    serializer_class = LeadSerializer
    filterset_class = LeadFilter
    filter_backends = [*viewsets.GenericViewSet.filter_backends, OrderingFilter]
    ordering_fields = ["created_at", "score", "last_name", "stage_changed_at"]
    pagination_class = LeadPagination

    def get_queryset(self) -> QuerySet[Lead]:
        return selectors.lead_list_api()

    @extend_schema(
        summary="Create or update a lead by e-mail",
        request=LeadWriteSerializer,
        responses={
            201: OpenApiResponse(LeadSerializer, description="Created."),
            200: OpenApiResponse(LeadSerializer, description="Updated (same e-mail)."),
            **ERRORS,
        },
    )
    def create(self, request: Request) -> Response:
        incoming = LeadWriteSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        fields, account = _lead_fields(incoming.validated_data)
        lead, created = lead_upsert(
            email=incoming.validated_data["email"], account_data=account, **fields
        )
        lead = selectors.lead_list_api().get(id=lead.id)
        return Response(
            LeadSerializer(lead).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(
        summary="Change a lead's editable fields",
        request=LeadPatchSerializer,
        responses={
            200: LeadSerializer,
            404: OpenApiResponse(description="No such lead."),
            **ERRORS,
        },
    )
    def partial_update(self, request: Request, pk: str | None = None) -> Response:
        lead = self.get_object()
        incoming = LeadPatchSerializer(data=request.data, partial=True)
        incoming.is_valid(raise_exception=True)
        fields, account = _lead_fields(incoming.validated_data)
        if account is not None or fields:
            lead_upsert(email=lead.email, account_data=account, **fields)
        return Response(LeadSerializer(selectors.lead_list_api().get(id=lead.id)).data)


class TouchpointPagination(CursorPagination):
    ordering = ("-id",)
    page_size = 100


@extend_schema_view(
    list=extend_schema(
        summary="List touchpoints", responses={200: TouchpointSerializer, **ERRORS}
    ),
    retrieve=extend_schema(
        summary="One touchpoint",
        responses={
            200: TouchpointSerializer,
            404: OpenApiResponse(description="No such touchpoint."),
            **ERRORS,
        },
    ),
)
class TouchpointViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Touchpoints: record one or a batch (idempotent by external_id), read them."""

    serializer_class = TouchpointSerializer
    filterset_class = TouchpointFilter
    pagination_class = TouchpointPagination
    queryset = Touchpoint.objects.all()

    @extend_schema(
        summary="Record one touchpoint",
        request=TouchpointInSerializer,
        responses={
            201: OpenApiResponse(TouchpointSerializer, description="Stored."),
            200: OpenApiResponse(
                TouchpointSerializer,
                description="This external_id was stored before; nothing changed.",
            ),
            **ERRORS,
        },
    )
    def create(self, request: Request) -> Response:
        incoming = TouchpointInSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        (outcome,) = touchpoints_ingest(
            items=[incoming.to_touchpoint_in()], source=API_SOURCE
        )
        if outcome.status == "invalid":
            raise serializers.ValidationError(outcome.errors)
        return Response(
            TouchpointSerializer(outcome.touchpoint).data,
            status=status.HTTP_201_CREATED
            if outcome.status == "created"
            else status.HTTP_200_OK,
        )

    @extend_schema(
        summary=f"Record up to {BATCH_LIMIT:,} touchpoints",
        description="Valid items are stored; each item is answered as created, "
        "duplicate (its external_id was stored before) or invalid (with errors).",
        request=TouchpointBatchSerializer,
        responses={200: TouchpointBatchResultSerializer, **ERRORS},
    )
    @action(detail=False, methods=["post"], url_path="batch")
    def batch(self, request: Request) -> Response:
        envelope = TouchpointBatchSerializer(data=request.data)
        envelope.is_valid(raise_exception=True)
        raw_items = envelope.validated_data["touchpoints"]
        parsed: list[TouchpointInSerializer] = [
            TouchpointInSerializer(data=item) for item in raw_items
        ]
        valid_positions = [i for i, s in enumerate(parsed) if s.is_valid()]
        outcomes = touchpoints_ingest(
            items=[parsed[i].to_touchpoint_in() for i in valid_positions],
            source=API_SOURCE,
        )
        by_position = dict(zip(valid_positions, outcomes, strict=True))
        results = []
        for i, item_serializer in enumerate(parsed):
            outcome = by_position.get(i)
            if outcome is None:
                results.append(
                    {"index": i, "status": "invalid", "errors": item_serializer.errors}
                )
            elif outcome.status == "invalid":
                results.append(
                    {"index": i, "status": "invalid", "errors": outcome.errors}
                )
            else:
                results.append(
                    {"index": i, "status": outcome.status, "id": outcome.touchpoint.id}
                )
        summary = {
            "created": sum(r["status"] == "created" for r in results),
            "duplicates": sum(r["status"] == "duplicate" for r in results),
            "invalid": sum(r["status"] == "invalid" for r in results),
            "results": results,
        }
        return Response(summary)
