"""REST endpoints of the handoff: the SAL queue, decisions, attempts, reasons.

Thin callers of ``handoff.selectors`` and ``handoff.services``. Who sees which
handoff is decided once, in ``selectors.handoff_for_user``; a handoff outside
it is a 404. What a role may do comes from its model permissions
(``HandoffPermissions``): reading needs ``handoff.view_handoff``, deciding
``handoff.change_handoff`` (SDR, Admin) and logging an attempt
``handoff.add_contactattempt`` (SDR, Sales, Admin). Whether this person may
decide this handoff (the assigned SDR or a manager) is the service's rule.

The leads app's exception handler knows nothing of the handoff (a lower app),
so ``_domain_errors`` turns the handoff's domain errors into status codes
here: DecisionInvalid 400 with field errors, HandoffNotYours 403,
HandoffAlreadyDecided 409 (a lost race or a stale view), a handoff gone
meanwhile 404.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import django_filters
from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db.models import Model, QuerySet
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, NotFound, PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from handoff import business_hours, selectors, services
from handoff.exceptions import DecisionInvalid, HandoffAlreadyDecided, HandoffNotYours
from handoff.models import ContactAttempt, Handoff, RejectionReason
from handoff.models import ServiceLevelAgreement as SLA
from leads.api.filters import BoundedIsoDateTimeFilter, IdFilter
from leads.api.parsers import SafeJSONParser
from leads.api.permissions import RoleModelPermissions
from leads.api.serializers import (
    SafeCharField,
    SafeSlugRelatedField,
    StrictDateTimeField,
)
from leads.api.views import KeysetPagination
from leads.ingestion import EARLIEST_OCCURRED_AT
from leads.keyset import MAX_ID
from leads.models import Lead

User = get_user_model()

#: ``?assigned_to=me``: the person asking.
ME = "me"


# Permissions and errors
# ------------------------------------------------------------------------------

VIEW = "handoff.view_handoff"


class RoutedRoleModelPermissions(RoleModelPermissions):
    """RoleModelPermissions that lets a method no action serves reach its 405.

    DRF checks permissions before it looks for the handler, so the method
    mapping alone answers PUT with 403 to a role without ``change`` and with
    405 to one that has it.
    """

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if getattr(view, "action", "") is None and user and user.is_authenticated:
            return True
        return super().has_permission(request, view)


class HandoffPermissions(RoutedRoleModelPermissions):
    """Model permissions per action of the handoff endpoints.

    RoleModelPermissions maps HTTP methods to the permissions of the view's
    model, which would make a decision (a POST) need ``add_handoff``, a
    permission no role has. Here each action names what it needs, and every
    action needs ``view_handoff`` too (a role that cannot see handoffs cannot
    act on one).
    """

    action_perms: dict[tuple[str, str], list[str]] = {
        ("list", "GET"): [VIEW],
        ("retrieve", "GET"): [VIEW],
        ("accept", "POST"): [VIEW, "handoff.change_handoff"],
        ("reject", "POST"): [VIEW, "handoff.change_handoff"],
        ("attempts", "GET"): [VIEW, "handoff.view_contactattempt"],
        ("attempts", "POST"): [VIEW, "handoff.add_contactattempt"],
    }

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not user or not user.is_authenticated:
            return False
        method = "GET" if request.method == "HEAD" else request.method
        perms = self.action_perms.get((getattr(view, "action", None), method))
        if perms is not None:
            return user.has_perms(perms)
        return super().has_permission(request, view)


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "Someone else changed this handoff first; reload it."
    default_code = "conflict"


@contextmanager
def _domain_errors() -> Iterator[None]:
    """Turn the handoff's domain errors into the API's status codes."""
    try:
        yield
    except DecisionInvalid as exc:
        raise serializers.ValidationError(
            {field: [message] for field, message in exc.errors.items()}
        ) from exc
    except HandoffNotYours as exc:
        raise PermissionDenied(exc.message) from exc
    except HandoffAlreadyDecided as exc:
        raise Conflict(exc.message) from exc
    except Handoff.DoesNotExist as exc:
        # Deleted (its lead erased) between the lookup and the service's lock.
        raise NotFound("No such handoff.") from exc


class DetailSerializer(serializers.Serializer):
    """What every refusal other than invalid input answers."""

    detail = serializers.CharField()


ERRORS = {
    401: OpenApiResponse(DetailSerializer, description="No or bad credentials."),
    403: OpenApiResponse(DetailSerializer, description="Your role may not do this."),
}
INVALID = {
    400: OpenApiResponse(
        OpenApiTypes.OBJECT,
        description="Invalid input: each bad field with its messages, "
        '`{"<field>": ["<message>", ...]}`.',
    )
}
NOT_FOUND = {
    404: OpenApiResponse(
        DetailSerializer, description="No such handoff, or not one you may see."
    )
}
DECISION_ERRORS = {
    **INVALID,
    **ERRORS,
    403: OpenApiResponse(
        DetailSerializer,
        description="Your role may not decide handoffs (Marketing, Sales), or the "
        "handoff is assigned to someone else and you are not a manager.",
    ),
    **NOT_FOUND,
    409: OpenApiResponse(
        DetailSerializer,
        description="Already accepted, rejected or expired (someone was first); "
        "nothing was changed. `detail` says by whom and when.",
    ),
}


# Serializers
# ------------------------------------------------------------------------------


class HandoffSerializer(serializers.ModelSerializer):
    """A handoff: the contract fields, then read-only extras.

    `time_left_seconds` and `state` are computed at the time of the request
    on the SLA's business calendar; both are null unless the handoff is
    pending.
    """

    lead = serializers.IntegerField(source="lead_id", read_only=True)
    sla = serializers.IntegerField(source="sla_id", read_only=True)
    assigned_to = serializers.SlugRelatedField(
        slug_field="username",
        read_only=True,
        allow_null=True,
        help_text="The SDR's username; null while nobody in the team can take it.",
    )
    decided_by = serializers.SlugRelatedField(
        slug_field="username",
        read_only=True,
        allow_null=True,
        help_text="Username of who accepted or rejected it.",
    )
    reason = serializers.SlugRelatedField(
        slug_field="code",
        read_only=True,
        allow_null=True,
        help_text="The rejection reason's code (see /api/v1/rejection-reasons/).",
    )
    feedback = serializers.CharField(read_only=True)
    sla_name = serializers.CharField(source="sla.name", read_only=True)
    team = serializers.IntegerField(source="team_id", read_only=True, allow_null=True)
    owner = serializers.SlugRelatedField(
        slug_field="username",
        read_only=True,
        allow_null=True,
        help_text="Who owns the lead after acceptance.",
    )
    score = serializers.DecimalField(
        max_digits=9,
        decimal_places=2,
        read_only=True,
        help_text="The lead's score when it was handed off.",
    )
    grade = serializers.CharField(
        read_only=True, help_text="A-D at handoff, or empty when unscored."
    )
    previous = serializers.IntegerField(
        source="previous_id",
        read_only=True,
        allow_null=True,
        help_text="The handoff this one replaces (after a breach or a reroute).",
    )
    time_left_seconds = serializers.SerializerMethodField()
    state = serializers.SerializerMethodField()

    class Meta:
        model = Handoff
        fields = [
            # The contract (ARCHITECTURE.md, "Names the outside world sees").
            "id",
            "lead",
            "sla",
            "assigned_to",
            "status",
            "due_at",
            "decided_at",
            "decided_by",
            "reason",
            "feedback",
            # Extras.
            "sla_name",
            "team",
            "at_risk_at",
            "created_at",
            "mql_at",
            "first_attempt_at",
            "expired_at",
            "owner",
            "follow_up_due_at",
            "followed_up_at",
            "score",
            "grade",
            "sequence",
            "previous",
            "time_left_seconds",
            "state",
        ]
        read_only_fields = fields

    # The context may carry ``now`` (one clock for a whole page); each
    # calendar's spec is cached there under ``calendars``.

    def _now(self) -> dt.datetime:
        return self.context.setdefault("now", timezone.now())

    def _calendar(self, handoff: Handoff) -> business_hours.Calendar:
        # One spec per calendar and page: spec() reads the holidays.
        specs = self.context.setdefault("calendars", {})
        calendar = handoff.sla.calendar
        if calendar.id not in specs:
            specs[calendar.id] = calendar.spec()
        return specs[calendar.id]

    @extend_schema_field(
        {
            "type": "integer",
            "nullable": True,
            "description": "Business seconds until `due_at` on the SLA's calendar, "
            "negative once overdue; null unless pending.",
        }
    )
    def get_time_left_seconds(self, handoff: Handoff) -> int | None:
        if handoff.status != Handoff.Status.PENDING:
            return None
        seconds = business_hours.business_seconds_between(
            self._now(), handoff.due_at, self._calendar(handoff)
        )
        return math.floor(seconds)

    @extend_schema_field(
        {
            "type": "string",
            "enum": ["on_track", "at_risk", "breached", None],
            "nullable": True,
            "description": "Pending only: `at_risk` from `at_risk_at`, `breached` "
            "from `due_at` (until the escalation run expires it); null otherwise.",
        }
    )
    def get_state(self, handoff: Handoff) -> str | None:
        if handoff.status != Handoff.Status.PENDING:
            return None
        now = self._now()
        if now >= handoff.due_at:
            return "breached"
        if now >= handoff.at_risk_at:
            return "at_risk"
        return "on_track"


#: Who may own an accepted lead (role names as in crm.roles, which apps do
#: not import).
OWNER_ROLES = ("Sales", "SDR")


class UsernameRelatedField(SafeSlugRelatedField):
    """A user by username; anything but a string is refused, not stringified."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class AcceptSerializer(serializers.Serializer):
    owner = UsernameRelatedField(
        slug_field="username",
        queryset=User.objects.filter(is_active=True, groups__name__in=OWNER_ROLES)
        .distinct()
        .order_by("id"),
        required=False,
        allow_null=True,
        help_text="Username of an active Sales or SDR user who will own the lead; "
        "default: you.",
        error_messages={
            "does_not_exist": "No active Sales or SDR user is called “{value}”.",
            "invalid": "Give the owner's username.",
        },
    )


class RejectSerializer(serializers.Serializer):
    reason = SafeCharField(
        max_length=40,
        help_text="The code of an active SDR rejection reason "
        "(GET /api/v1/rejection-reasons/?audience=sdr&active=true).",
        error_messages={
            "required": "Choose a reason.",
            "blank": "Choose a reason.",
            "null": "Choose a reason.",
        },
    )
    feedback = SafeCharField(
        max_length=services.FEEDBACK_MAX,
        required=False,
        allow_blank=True,
        default="",
        help_text="Why, for marketing; required by some reasons.",
    )
    duplicate_of = serializers.IntegerField(
        min_value=1,
        max_value=MAX_ID,
        required=False,
        allow_null=True,
        help_text="For the `duplicate` reason: the id of the lead this one "
        "duplicates (this lead is merged into it).",
    )


class ContactAttemptSerializer(serializers.ModelSerializer):
    handoff = serializers.IntegerField(source="handoff_id", read_only=True)
    user = serializers.SlugRelatedField(
        slug_field="username",
        read_only=True,
        allow_null=True,
        help_text="Username of who logged it.",
    )

    class Meta:
        model = ContactAttempt
        fields = ["id", "handoff", "user", "channel", "outcome", "note", "at"]
        read_only_fields = fields


class ContactAttemptInSerializer(serializers.Serializer):
    channel = serializers.ChoiceField(choices=ContactAttempt.Channel.choices)
    outcome = serializers.ChoiceField(choices=ContactAttempt.Outcome.choices)
    note = SafeCharField(
        max_length=services.NOTE_MAX, required=False, allow_blank=True, default=""
    )
    at = StrictDateTimeField(
        required=False,
        help_text="When it happened (ISO 8601 with offset); now if "
        "not given. At most 5 minutes ahead of the server's clock.",
    )

    def validate_at(self, value: dt.datetime) -> dt.datetime:
        # Before year 2000 is a typo, and a time UTC cannot hold would fail in
        # the database adapter (a server error) rather than be refused.
        try:
            too_early = value.astimezone(dt.UTC) < EARLIEST_OCCURRED_AT
        except OverflowError:
            too_early = True
        if too_early:
            raise serializers.ValidationError(
                "This time is before the year 2000; check it."
            )
        return value


class RejectionReasonSerializer(serializers.ModelSerializer):
    reroute_sla = serializers.IntegerField(
        source="reroute_sla_id",
        read_only=True,
        allow_null=True,
        help_text="Reroute reasons: the SLA that gets the lead.",
    )

    class Meta:
        model = RejectionReason
        fields = [
            "code",
            "label",
            "audience",
            "action",
            "cooldown_days",
            "feedback_required",
            "min_attempts",
            "is_active",
            "reroute_sla",
        ]
        read_only_fields = fields


# Filters
# ------------------------------------------------------------------------------


class UsernameField(forms.CharField):
    """A username that exists, or ``me``."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 150)
        super().__init__(**kwargs)

    def clean(self, value: Any) -> str:
        value = super().clean(value)
        if value and value != ME and not User.objects.filter(username=value).exists():
            raise ValidationError(
                "No user is called “%(name)s”; give a username or “me”.",
                code="unknown_user",
                params={"name": value},
            )
        return value


class UsernameFilter(django_filters.CharFilter):
    field_class = UsernameField


class ExistingIdField(forms.IntegerField):
    """The id of a row of ``model`` that exists (else a 400 naming the field)."""

    def __init__(self, *, model: type[Model], **kwargs: Any) -> None:
        self.model = model
        super().__init__(**kwargs)

    def clean(self, value: Any) -> int | None:
        value = super().clean(value)
        if (
            value is not None
            and not self.model._default_manager.filter(pk=value).exists()
        ):
            raise ValidationError(
                "There is no %(noun)s %(id)s.",
                code="does_not_exist",
                params={"noun": self.model._meta.verbose_name, "id": value},
            )
        return value


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": MAX_ID})
class ExistingIdFilter(IdFilter):
    field_class = ExistingIdField


class HandoffFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(
        choices=Handoff.Status.choices,
        help_text="Repeat for several: ?status=pending&status=expired",
    )
    assigned_to = UsernameFilter(
        method="filter_assigned_to",
        help_text="The assigned SDR's username, or `me`.",
    )
    sla = ExistingIdFilter(field_name="sla_id", model=SLA, help_text="The SLA's id.")
    lead = ExistingIdFilter(
        field_name="lead_id", model=Lead, help_text="The lead's id."
    )
    due_after = BoundedIsoDateTimeFilter(
        field_name="due_at",
        lookup_expr="gte",
        help_text="Due at or after this time (ISO 8601).",
    )
    due_before = BoundedIsoDateTimeFilter(
        field_name="due_at",
        lookup_expr="lt",
        help_text="Due before this time (ISO 8601).",
    )

    class Meta:
        model = Handoff
        fields = ["status", "assigned_to", "sla", "lead"]

    def filter_assigned_to(
        self, queryset: QuerySet[Handoff], name: str, value: str
    ) -> QuerySet[Handoff]:
        if value == ME:
            return queryset.filter(assigned_to=self.request.user)
        return queryset.filter(assigned_to__username=value)


class RejectionReasonFilter(django_filters.FilterSet):
    audience = django_filters.ChoiceFilter(
        choices=RejectionReason.Audience.choices,
        help_text="`sdr`: reasons to reject an MQL; `sales`: to send a lead back.",
    )
    active = django_filters.ChoiceFilter(
        choices=[("true", "Active only"), ("false", "Retired only")],
        method="filter_active",
        help_text="`true`: the reasons that can be chosen now.",
    )

    class Meta:
        model = RejectionReason
        fields = ["audience"]

    def filter_active(
        self, queryset: QuerySet[RejectionReason], name: str, value: str
    ) -> QuerySet[RejectionReason]:
        return queryset.filter(is_active=value == "true")


# Views
# ------------------------------------------------------------------------------


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
        description="The lead becomes a SAL owned by `owner` (default: you) and "
        "the sales follow-up clock starts. Only the assigned SDR or a manager "
        "may decide.",
        request=AcceptSerializer,
        responses={200: HandoffSerializer, **DECISION_ERRORS},
        examples=[
            OpenApiExample("Keep it", value={}, request_only=True),
            OpenApiExample("Hand to a rep", value={"owner": "alex"}, request_only=True),
        ],
    )
    @action(methods=["post"], **DETAIL_ACTION)
    def accept(self, request: Request, pk: str | None = None) -> Response:
        handoff = self.get_object()
        incoming = AcceptSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        with _domain_errors():
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
        with _domain_errors():
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
        with _domain_errors():
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
