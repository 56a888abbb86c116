"""Viewsets of the handoff API: the SAL queue with its decisions and contact
attempts, and the rejection reasons a decision may cite."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from crm.common.keyset import MAX_ID
from handoff import selectors, services
from handoff.api.errors import (
    DECISION_ERRORS,
    ERRORS,
    INVALID,
    NOT_FOUND,
    DetailSerializer,
    domain_errors,
)
from handoff.api.filters import HandoffFilter, RejectionReasonFilter
from handoff.api.permissions import (
    HandoffPermissions,
    MovesSalesLeads,
    RoutedRoleModelPermissions,
)
from handoff.api.serializers import (
    AcceptSerializer,
    ContactAttemptInSerializer,
    ContactAttemptSerializer,
    HandoffSerializer,
    RejectionReasonSerializer,
    RejectSerializer,
    SalesMoveSerializer,
    SalesOutcomeSerializer,
)
from handoff.models import Handoff, RejectionReason
from leads.api.parsers import SafeJSONParser
from leads.api.views import KeysetPagination


class HandoffPagination(KeysetPagination):
    """Soonest due first, ties by id: the order of the SAL queue."""

    ordering = ("due_at",)
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


#: Detail actions run no list filters and are never paginated.
DETAIL_ACTION = {"detail": True, "filter_backends": [], "pagination_class": None}


@extend_schema_view(
    list=extend_schema(
        summary="List handoffs",
        description="The handoffs you may see (managers, Admin and Marketing: "
        "all; SDRs: their teams' and their own; Sales: the leads they own), "
        "soonest due first. `?status=pending&assigned_to=me` is your SAL queue.",
        responses={
            200: HandoffSerializer,
            **INVALID,
            **ERRORS,
            404: OpenApiResponse(DetailSerializer, description="Invalid cursor."),
        },
    ),
    retrieve=extend_schema(
        summary="One handoff",
        responses={200: HandoffSerializer, **NOT_FOUND, **ERRORS},
    ),
)
class HandoffViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    """Handoffs: read the ones you may see, accept or reject, log attempts."""

    serializer_class = HandoffSerializer
    filterset_class = HandoffFilter
    pagination_class = HandoffPagination
    permission_classes = [HandoffPermissions]
    parser_classes = [SafeJSONParser]

    def get_queryset(self) -> QuerySet[Handoff]:
        if getattr(self, "swagger_fake_view", False):  # building the schema
            return Handoff.objects.none()
        return (
            selectors.handoff_for_user(self.request.user)
            .select_related(
                "sla__calendar", "assigned_to", "decided_by", "owner", "reason"
            )
            .prefetch_related("sla__calendar__holidays")
        )

    def filter_queryset(self, queryset: QuerySet[Handoff]) -> QuerySet[Handoff]:
        # Query parameters filter the list; they never hide one handoff.
        if self.action != "list":
            return queryset
        return super().filter_queryset(queryset)

    def get_serializer_context(self) -> dict[str, Any]:
        # One clock for the whole page, so states agree with each other.
        return {**super().get_serializer_context(), "now": timezone.now()}

    def _answer(self, handoff_id: int) -> Response:
        return Response(
            self.get_serializer(self.get_queryset().get(id=handoff_id)).data
        )

    @extend_schema(
        summary="Accept an MQL",
        description="The lead becomes a SAL owned by `owner`, an active sales "
        "rep, and the sales follow-up clock starts. Without `owner` the SLA's "
        "`sales_routing` picks the rep: `sales_team` (the SLA's sales team's "
        "strategy: round robin, weighted or least loaded; with no sales team "
        "set, the assigned SDR keeps the lead), `account_owner` (the account's "
        "owner when they are an active sales rep, else the sales team) or "
        "`sdr_picks` (`owner` is required: 400 without it). The handoff's "
        "events record the rep and the rule (`handed_to_sales`), and the rep "
        "is e-mailed. Only the assigned SDR or a manager may decide.",
        request=AcceptSerializer,
        responses={200: HandoffSerializer, **DECISION_ERRORS},
        examples=[
            OpenApiExample("The SLA's rep", value={}, request_only=True),
            OpenApiExample("Hand to a rep", value={"owner": "alex"}, request_only=True),
        ],
    )
    @action(methods=["post"], **DETAIL_ACTION)
    def accept(self, request: Request, pk: str | None = None) -> Response:
        handoff = self.get_object()
        incoming = AcceptSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        with domain_errors():
            services.handoff_accept(
                handoff_id=handoff.id,
                actor=request.user,
                owner=incoming.validated_data.get("owner"),
            )
        return self._answer(handoff.id)

    @extend_schema(
        summary="Reject an MQL",
        description="The lead goes where the reason says: nurture (with the "
        "reason's cool-down), disqualified, another SLA's queue, merged into "
        "`duplicate_of`, or to the account's owner. Some reasons need feedback "
        "or logged contact attempts first.",
        request=RejectSerializer,
        responses={200: HandoffSerializer, **DECISION_ERRORS},
        examples=[
            OpenApiExample(
                "No budget",
                value={"reason": "no_budget", "feedback": "Budget frozen until Q3"},
                request_only=True,
            ),
            OpenApiExample(
                "Duplicate",
                value={"reason": "duplicate", "duplicate_of": 1},
                request_only=True,
            ),
        ],
    )
    @action(methods=["post"], **DETAIL_ACTION)
    def reject(self, request: Request, pk: str | None = None) -> Response:
        handoff = self.get_object()
        incoming = RejectSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        with domain_errors():
            services.handoff_reject(
                handoff_id=handoff.id, actor=request.user, **incoming.validated_data
            )
        return self._answer(handoff.id)

    @extend_schema(
        methods=["GET"],
        summary="The contact attempts of a handoff",
        description="Newest first.",
        request=None,
        responses={200: ContactAttemptSerializer(many=True), **NOT_FOUND, **ERRORS},
    )
    @extend_schema(
        methods=["POST"],
        summary="Log a contact attempt",
        description="The assigned SDR, the lead's owner or a manager logs a call, "
        "e-mail or social touch on a pending or accepted handoff. The first one "
        "sets `first_attempt_at` (speed to lead).",
        request=ContactAttemptInSerializer,
        responses={
            201: ContactAttemptSerializer,
            **INVALID,
            **ERRORS,
            403: OpenApiResponse(
                DetailSerializer,
                description="Your role may not log attempts (Marketing), or you "
                "are not the assigned SDR, the owner or a manager.",
            ),
            **NOT_FOUND,
            409: OpenApiResponse(
                DetailSerializer,
                description="The handoff was rejected or expired; log attempts on "
                "the lead's current handoff.",
            ),
        },
        examples=[
            OpenApiExample(
                "A call",
                value={"channel": "call", "outcome": "no_answer", "note": "Voicemail"},
                request_only=True,
            )
        ],
    )
    @action(methods=["get", "post"], **DETAIL_ACTION)
    def attempts(self, request: Request, pk: str | None = None) -> Response:
        handoff = self.get_object()
        if request.method == "GET":
            attempts = selectors.attempt_list(handoff=handoff)
            return Response(ContactAttemptSerializer(attempts, many=True).data)
        incoming = ContactAttemptInSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        with domain_errors():
            attempt = services.attempt_log(
                handoff_id=handoff.id, actor=request.user, **incoming.validated_data
            )
        return Response(
            ContactAttemptSerializer(attempt).data, status=status.HTTP_201_CREATED
        )


@extend_schema_view(
    list=extend_schema(
        summary="List rejection reasons",
        description="The managed reasons, by audience and position (not paged: "
        "a short list). Each says what happens to the lead (`action`).",
        responses={200: RejectionReasonSerializer(many=True), **INVALID, **ERRORS},
    ),
)
class RejectionReasonViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Rejection reasons: the choices of a reject (SDR) or a step back (sales)."""

    serializer_class = RejectionReasonSerializer
    filterset_class = RejectionReasonFilter
    permission_classes = [RoutedRoleModelPermissions]
    pagination_class = None
    queryset = RejectionReason.objects.order_by("audience", "position", "label", "id")


class LeadSalesMoveView(APIView):
    """``POST /api/v1/leads/<id>/sales-moves/``: a rep moves their lead."""

    permission_classes = [MovesSalesLeads]
    parser_classes = [SafeJSONParser]

    @extend_schema(
        operation_id="leads_sales_moves_create",
        summary="Move a lead in the sales pipeline",
        description="A rep moves a lead they own (a manager or Admin: any "
        "lead) one stage forward, SAL -> SQL -> opportunity -> customer (closed "
        "won), or back with a sales `reason` (the reason says where it goes: "
        "nurture or disqualified). Opening an opportunity needs `amount` (the "
        "deal amount) and `expected_close_on`; closing won needs `amount` (the "
        "amount won). The same checks as the pipeline page.",
        request=SalesMoveSerializer,
        responses={
            201: SalesOutcomeSerializer,
            **INVALID,
            **ERRORS,
            403: OpenApiResponse(
                DetailSerializer,
                description="Your role may not move leads in the sales pipeline "
                "(Marketing, SDRs who are not managers).",
            ),
            404: OpenApiResponse(
                DetailSerializer,
                description="No such lead, or not one you may move.",
            ),
            409: OpenApiResponse(
                DetailSerializer,
                description="The lead moved meanwhile (already at that stage, or "
                "out of the pipeline); nothing was changed. Reload it.",
            ),
        },
        examples=[
            OpenApiExample(
                "Open an opportunity",
                value={
                    "to_stage": "opportunity",
                    "amount": "25000.00",
                    "expected_close_on": "2027-01-15",
                },
                request_only=True,
            ),
            OpenApiExample(
                "Closed won",
                value={"to_stage": "customer", "amount": "23500.00"},
                request_only=True,
            ),
            OpenApiExample(
                "Lost on price",
                value={"reason": "sales_lost_price", "feedback": "Went cheaper"},
                request_only=True,
            ),
        ],
    )
    def post(self, request: Request, pk: int) -> Response:
        lead = None
        if 1 <= pk <= MAX_ID:
            lead = selectors.sales_lead_for(user=request.user, lead_id=pk)
        if lead is None:
            raise NotFound("No such lead, or not one you may move.")
        incoming = SalesMoveSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        with domain_errors():
            outcome = services.lead_sales_move(
                lead_id=lead.id, actor=request.user, **incoming.validated_data
            )
        return Response(
            SalesOutcomeSerializer(outcome).data, status=status.HTTP_201_CREATED
        )
