"""REST endpoints of the leads domain: thin callers of leads.services/ingestion."""

from __future__ import annotations

import functools
from typing import Any

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, NotFound
from rest_framework.filters import OrderingFilter
from rest_framework.pagination import CursorPagination
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from crm.common.keyset import (
    InvalidCursor,
    KeysetPage,
    SortKey,
    decode_cursor,
    encode_cursor,
    keyset_page,
)
from leads import selectors
from leads.api.filters import LeadFilter, TouchpointFilter
from leads.api.parsers import SafeJSONParser
from leads.api.permissions import LeadPermissions
from leads.api.serializers import (
    LeadPatchSerializer,
    LeadSerializer,
    LeadWriteSerializer,
    TouchpointBatchResultSerializer,
    TouchpointBatchSerializer,
    TouchpointInSerializer,
    TouchpointSerializer,
)
from leads.edit_scope import LeadEditScope
from leads.exports import csv_chunks, lead_csv_export
from leads.ingestion import BATCH_LIMIT, touchpoints_ingest
from leads.models import Lead, Touchpoint
from leads.services import lead_edit, lead_upsert

API_SOURCE = "api"

ERRORS = {
    400: OpenApiResponse(description="Invalid input; the body names each bad field."),
    401: OpenApiResponse(description="No or bad credentials."),
    403: OpenApiResponse(description="Your role may not do this."),
}
# A cursor that is not one this list handed out (edited, or from another sort).
INVALID_CURSOR = {404: OpenApiResponse(description="Invalid cursor.")}


def _list_and_retrieve_schema(serializer: Any, *, plural: str, single: str) -> Any:
    """The schema of a read-only viewset's list (keyset-paged) and retrieve."""
    return extend_schema_view(
        list=extend_schema(
            summary=f"List {plural}",
            responses={200: serializer, **ERRORS, **INVALID_CURSOR},
        ),
        retrieve=extend_schema(
            summary=f"One {single}",
            responses={
                200: serializer,
                404: OpenApiResponse(description=f"No such {single}."),
                **ERRORS,
            },
        ),
    )


class ExternalIdConflict(APIException):
    """409: the external_id was stored before for another event."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "This external_id was stored before for another event."
    default_code = "conflict"


class KeysetPagination(CursorPagination):
    """Cursor pages in the requested order with ties broken by id.

    DRF's CursorPagination keys pages on the sort value alone and skips rows
    by OFFSET within ties, capped at 1,000: with thousands of leads on score
    0 its pages repeated and lost leads. This keys pages on (value, id)
    (``crm.common.keyset``). With ``?ordering=a,b`` the first field decides.
    """

    #: A query parameter that, when given, makes the page pick its ids first
    #: (``keyset_page(ids_first=True)``): a search whose matches come from an
    #: index in no order.
    ids_first_param: str | None = None

    def paginate_queryset(
        self, queryset: QuerySet[Any], request: Request, view: Any = None
    ) -> list[Any]:
        self.request = request
        self.base_url = request.build_absolute_uri()
        self.page_size = self.get_page_size(request)
        self.sort = SortKey.parse(self.get_ordering(request, queryset, view)[0])
        queryset, self.sort = self.for_sort(queryset, self.sort)
        self.model = queryset.model
        token = request.query_params.get(self.cursor_query_param)
        try:
            cursor = (
                decode_cursor(token, sort=self.sort, model=self.model)
                if token is not None
                else None
            )
        except InvalidCursor as exc:
            raise NotFound(self.invalid_cursor_message) from exc
        ids_first = self.ids_first_param is not None and bool(
            request.query_params.get(self.ids_first_param, "").split()
        )
        self.keyset: KeysetPage[Any] = keyset_page(
            queryset,
            sort=self.sort,
            cursor=cursor,
            size=self.page_size,
            ids_first=ids_first,
        )
        return self.keyset.items

    def for_sort(
        self, queryset: QuerySet[Any], sort: SortKey
    ) -> tuple[QuerySet[Any], SortKey]:
        """The queryset and sort the page reads (a subclass may read a sort
        through another table's index); as given here."""
        return queryset, sort

    def _link(self, cursor: Any) -> str | None:
        if cursor is None:
            return None
        token = encode_cursor(cursor, sort=self.sort, model=self.model)
        return replace_query_param(self.base_url, self.cursor_query_param, token)

    def get_next_link(self) -> str | None:
        return self._link(self.keyset.next_cursor)

    def get_previous_link(self) -> str | None:
        return self._link(self.keyset.previous_cursor)


class LeadPagination(KeysetPagination):
    ordering = ("-created_at",)
    ids_first_param = "q"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500

    def for_sort(
        self, queryset: QuerySet[Any], sort: SortKey
    ) -> tuple[QuerySet[Any], SortKey]:
        return selectors.leads_for_sort(queryset, sort)


class CSVRenderer(BaseRenderer):
    """``text/csv`` for clients that ask for it; the export streams its rows
    itself, so only error answers (a field and its messages a line) pass here."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(
        self,
        data: Any,
        accepted_media_type: str | None = None,
        renderer_context: dict[str, Any] | None = None,
    ) -> bytes:
        items = data.items() if isinstance(data, dict) else [("detail", data)]
        rows = [("field", "message")] + [
            (name, message)
            for name, messages in items
            for message in (messages if isinstance(messages, list) else [messages])
        ]
        return "".join(csv_chunks(rows)).encode()


def _lead_fields(data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None]:
    fields = dict(data)
    fields.pop("email", None)
    return fields, fields.pop("account", None)


@_list_and_retrieve_schema(LeadSerializer, plural="leads", single="lead")
class LeadViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Leads: create or update by e-mail, list with filters, read, change."""

    serializer_class = LeadSerializer
    filterset_class = LeadFilter
    filter_backends = [*viewsets.GenericViewSet.filter_backends, OrderingFilter]
    ordering_fields = ["created_at", "score", "last_name", "stage_changed_at"]
    ordering = ["-created_at"]
    pagination_class = LeadPagination
    # JSON only: the nested account and attributes have no form encoding.
    parser_classes = [SafeJSONParser]
    permission_classes = [LeadPermissions]

    def get_queryset(self) -> QuerySet[Lead]:
        return selectors.lead_list_api()

    def edit_scope(self, user: Any) -> LeadEditScope:
        """What ``user`` may change; the project's viewset adds managers' teams."""
        return LeadEditScope.for_user(user)

    @extend_schema(
        summary="Export the filtered leads as CSV",
        description="The same filters and `ordering` as the list, every matching "
        "lead as one CSV row (streamed), named `leads-YYYYMMDD.csv`. Text cells "
        "that a spreadsheet would read as a formula start with `'`.",
        filters=True,
        # The renderer's ?format=csv works but is no second way to document.
        parameters=[OpenApiParameter("format", exclude=True)],
        responses={
            (200, "text/csv"): OpenApiResponse(
                OpenApiTypes.STR, description="CSV with a header row."
            ),
            **ERRORS,
        },
    )
    @action(
        detail=False,
        methods=["get"],
        url_path="csv",
        pagination_class=None,
        renderer_classes=[JSONRenderer, CSVRenderer],
    )
    def export_csv(self, request: Request) -> StreamingHttpResponse:
        filterset = LeadFilter(request.query_params, queryset=self.get_queryset())
        if not filterset.is_valid():
            raise serializers.ValidationError(filterset.errors)
        ordering = OrderingFilter().get_ordering(request, self.get_queryset(), self)
        return lead_csv_export(
            actor=request.user,
            criteria=filterset.criteria(),
            sort=SortKey.parse(ordering[0]),
            day=timezone.localdate(),
        )

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
            email=incoming.validated_data["email"],
            account_data=account,
            actor=request.user,
            scope=self.edit_scope(request.user),
            **fields,
        )
        lead = self.get_queryset().get(id=lead.id)
        return Response(
            self.get_serializer(lead).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )

    @extend_schema(
        summary="Change a lead's editable fields",
        description="Marketing and Admin change any editable field of any lead, "
        "and its account. An SDR or a Sales rep changes only the contact fields "
        "(first_name, last_name, phone, do_not_email, do_not_call) of leads they "
        "own (a manager: also those of the SDRs and reps), and no account: "
        "anything else is a 403 that says why. Fields the lead shows but no "
        "one writes here (stage, score, owner ...) are a 400 naming each.",
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
        scope = self.edit_scope(request.user)
        if account is None and not fields:
            scope.check(lead=lead, fields=())
        else:
            try:
                lead_edit(
                    lead_id=lead.id,
                    actor=request.user,
                    scope=scope,
                    account_data=account,
                    **fields,
                )
            except Lead.DoesNotExist as exc:  # erased since get_object
                raise NotFound("No such lead.") from exc
        return Response(self.get_serializer(self.get_queryset().get(id=lead.id)).data)


class TouchpointPagination(KeysetPagination):
    ordering = ("-id",)
    page_size = 100


# One serializer per process validates every incoming touchpoint, and one
# shows every stored one: a serializer builds and deep-copies its fields on
# first use (a ModelSerializer from the model's meta), which cost more than a
# single POST's validation and answer themselves, and half of a batch of
# 1,000 when made per item. Both hold no state between calls: no context, and
# validation and representation only read their fields.
@functools.cache
def _touchpoint_in_validator() -> TouchpointInSerializer:
    return TouchpointInSerializer()


@functools.cache
def _touchpoint_out() -> TouchpointSerializer:
    return TouchpointSerializer()


@_list_and_retrieve_schema(
    TouchpointSerializer, plural="touchpoints", single="touchpoint"
)
class TouchpointViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Touchpoints: record one or a batch (idempotent by external_id), read them."""

    serializer_class = TouchpointSerializer
    filterset_class = TouchpointFilter
    pagination_class = TouchpointPagination
    queryset = Touchpoint.objects.all()
    parser_classes = [SafeJSONParser]

    @extend_schema(
        summary="Record one touchpoint",
        request=TouchpointInSerializer,
        responses={
            201: OpenApiResponse(TouchpointSerializer, description="Stored."),
            200: OpenApiResponse(
                TouchpointSerializer,
                description="This external_id was stored before for the same "
                "event (lead, kind, and occurred_at when given); nothing changed.",
            ),
            409: OpenApiResponse(
                description="This external_id was stored before for another "
                "lead, kind or time; nothing changed. The body names external_id."
            ),
            **ERRORS,
        },
    )
    def create(self, request: Request) -> Response:
        validator = _touchpoint_in_validator()
        data = validator.quick_validation(request.data)
        if data is None:
            try:
                data = validator.run_validation(request.data)
            except serializers.ValidationError as exc:
                # The answer is_valid(raise_exception=True) gives.
                raise serializers.ValidationError(exc.detail) from exc
        (outcome,) = touchpoints_ingest(
            items=[TouchpointInSerializer.touchpoint_in(data)], source=API_SOURCE
        )
        if outcome.status == "invalid":
            raise serializers.ValidationError(outcome.errors)
        if outcome.status == "conflict":
            raise ExternalIdConflict(outcome.errors)
        return Response(
            _touchpoint_out().to_representation(outcome.touchpoint),
            status=status.HTTP_201_CREATED
            if outcome.status == "created"
            else status.HTTP_200_OK,
        )

    @extend_schema(
        summary=f"Record up to {BATCH_LIMIT:,} touchpoints",
        description="Valid items are stored; each item is answered as created, "
        "duplicate (its external_id was stored before for the same event), "
        "conflict (its external_id was stored before for another lead, kind or "
        "time: nothing stored, with errors) or invalid (with errors).",
        request=inline_serializer(
            "TouchpointBatch",
            fields={
                "touchpoints": serializers.ListField(
                    child=TouchpointInSerializer(),
                    min_length=1,
                    max_length=BATCH_LIMIT,
                )
            },
        ),
        responses={200: TouchpointBatchResultSerializer, **ERRORS},
    )
    @action(detail=False, methods=["post"], url_path="batch")
    def batch(self, request: Request) -> Response:
        items = TouchpointBatchSerializer.quick_items(request.data)
        if items is None:
            envelope = TouchpointBatchSerializer(data=request.data)
            envelope.is_valid(raise_exception=True)
            items = envelope.validated_data["touchpoints"]
        validator = _touchpoint_in_validator()
        parsed: list[dict[str, Any] | None] = []
        item_errors: dict[int, Any] = {}
        for i, item in enumerate(items):
            # The quick checks accept the plain valid items; the rest take the
            # serializer's full path, which names their problems.
            if (data := validator.quick_validation(item)) is not None:
                parsed.append(data)
                continue
            try:
                parsed.append(validator.run_validation(item))
            except serializers.ValidationError as exc:
                parsed.append(None)
                item_errors[i] = exc.detail
        valid_positions = [i for i, data in enumerate(parsed) if data is not None]
        outcomes = touchpoints_ingest(
            items=[
                TouchpointInSerializer.touchpoint_in(parsed[i])  # type: ignore[arg-type]
                for i in valid_positions
            ],
            source=API_SOURCE,
        )
        by_position = dict(zip(valid_positions, outcomes, strict=True))
        results = []
        for i in range(len(parsed)):
            outcome = by_position.get(i)
            if outcome is None:
                results.append(
                    {"index": i, "status": "invalid", "errors": item_errors[i]}
                )
            elif outcome.status == "invalid":
                results.append(
                    {"index": i, "status": "invalid", "errors": outcome.errors}
                )
            elif outcome.status == "conflict":
                results.append(
                    {
                        "index": i,
                        "status": "conflict",
                        "id": outcome.touchpoint.id,
                        "errors": outcome.errors,
                    }
                )
            else:
                results.append(
                    {"index": i, "status": outcome.status, "id": outcome.touchpoint.id}
                )
        summary = {
            "created": sum(r["status"] == "created" for r in results),
            "duplicates": sum(r["status"] == "duplicate" for r in results),
            "conflicts": sum(r["status"] == "conflict" for r in results),
            "invalid": sum(r["status"] == "invalid" for r in results),
            "results": results,
        }
        return Response(summary)
