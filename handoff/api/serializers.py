"""Serializers of the handoff API: the handoff with its SLA clocks, the
accept and reject decisions, contact attempts and rejection reasons."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from crm.common.fields import (
    SafeCharField,
    SafeSlugRelatedField,
    StrictDateTimeField,
)
from crm.common.keyset import MAX_ID
from crm.common.roles import SALES
from crm.common.text import text_problem
from handoff import business_hours, clock, services
from handoff.clock import ClockState
from handoff.models import ContactAttempt, Handoff, RejectionReason, SalesOutcome
from leads.ingestion import EARLIEST_OCCURRED_AT

User = get_user_model()


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
        reading = self._clock(handoff)
        if reading.seconds_left is None:
            return None
        return math.floor(reading.seconds_left)

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
        reading = self._clock(handoff)
        return None if reading.state == ClockState.STOPPED else str(reading.state)

    def _clock(self, handoff: Handoff) -> clock.ClockReading:
        # Both clock fields read one reading per handoff and request.
        if handoff.status != Handoff.Status.PENDING:
            return clock.STOPPED
        readings = self.context.setdefault("clocks", {})
        key = (handoff.pk, handoff.due_at, handoff.at_risk_at)
        if key not in readings:
            readings[key] = clock.sla_clock(
                now=self._now(),
                due_at=handoff.due_at,
                at_risk_at=handoff.at_risk_at,
                calendar=self._calendar(handoff),
            )
        return readings[key]


class UsernameRelatedField(SafeSlugRelatedField):
    """A user by username; anything but a string is refused, not stringified."""

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class AcceptSerializer(serializers.Serializer):
    owner = UsernameRelatedField(
        slug_field="username",
        queryset=User.objects.filter(is_active=True, groups__name=SALES)
        .distinct()
        .order_by("id"),
        required=False,
        allow_null=True,
        help_text="Username of the active sales rep who will own the lead; "
        "default: the rep the SLA's sales routing picks.",
        error_messages={
            "does_not_exist": "No active sales rep is called “{value}”.",
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


AMOUNT_INPUT_MAX = 40


@extend_schema_field(
    {
        "oneOf": [{"type": "string", "format": "decimal"}, {"type": "number"}],
        "nullable": True,
        "example": "25000.00",
    }
)
class AmountInField(serializers.Field):
    """An amount as JSON gives it (a decimal string or a number); the service
    checks its value, so the API and the pipeline refuse one alike."""

    default_error_messages = {
        "invalid": "Give the amount as a number, like 25000.",
    }

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, bool) or not isinstance(data, str | int | float):
            self.fail("invalid")
        text = str(data)
        if len(text) > AMOUNT_INPUT_MAX or text_problem(text):
            self.fail("invalid")
        return text

    def to_representation(self, value: Any) -> Any:
        return value


class SalesMoveSerializer(serializers.Serializer):
    """A rep's move of an accepted lead: forward to the next stage (with the
    deal amount and close date the move needs), or back with a reason."""

    to_stage = SafeCharField(
        max_length=16,
        required=False,
        allow_blank=True,
        default="",
        help_text="The next stage: `sql` from SAL, `opportunity` from SQL, "
        "`customer` (closed won) from opportunity. Ignored with `reason`.",
    )
    amount = AmountInField(
        required=False,
        allow_null=True,
        default=None,
        help_text="Opening an opportunity: the deal amount (more than 0, at most "
        "1,000,000,000, two decimals at most). Closing won: the amount won. "
        "In the configured currency.",
    )
    expected_close_on = serializers.DateField(
        required=False,
        allow_null=True,
        default=None,
        error_messages={
            "invalid": "Give the expected close date as a date, like 2027-01-15.",
            "datetime": "Give the expected close date as a date, like 2027-01-15.",
        },
        help_text="Opening an opportunity: when you expect the deal to close "
        "(today up to 3 years ahead).",
    )
    reason = SafeCharField(
        max_length=40,
        required=False,
        allow_blank=True,
        default="",
        help_text="To send the lead back: the code of an active sales reason "
        "(GET /api/v1/rejection-reasons/?audience=sales&active=true).",
    )
    feedback = SafeCharField(
        max_length=services.FEEDBACK_MAX,
        required=False,
        allow_blank=True,
        default="",
        help_text="For marketing; some reasons require it.",
    )


class SalesOutcomeSerializer(serializers.ModelSerializer):
    """A recorded sales move, with the deal amount it records (if any)."""

    lead = serializers.IntegerField(source="lead_id", read_only=True)
    reason = serializers.SlugRelatedField(
        slug_field="code", read_only=True, allow_null=True
    )
    actor = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    amount = serializers.DecimalField(
        max_digits=14, decimal_places=2, read_only=True, allow_null=True
    )

    class Meta:
        model = SalesOutcome
        fields = [
            "id",
            "lead",
            "from_stage",
            "to_stage",
            "reason",
            "feedback",
            "amount",
            "expected_close_on",
            "actor",
            "at",
        ]
        read_only_fields = fields
