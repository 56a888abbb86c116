"""The marketing-sales handoff: SLAs, SDR teams, handoffs and their decisions.

A Handoff is one MQL handed to sales development under a
ServiceLevelAgreement. Its status changes only through ``handoff/services/``
(conditional updates and row locks); the fields here are the facts those
services write, and the database constraints are the backstop: one pending
handoff per lead, decisions that carry who and when, each escalation step at
most once.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from handoff import business_hours


def validate_time_zone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(
            f"Unknown time zone {value!r}; use an IANA name such as "
            "'Europe/Berlin' or 'America/New_York'."
        ) from exc


class BusinessCalendar(models.Model):
    """When the SLA clock runs: working days and hours in a time zone, holidays."""

    name = models.CharField(max_length=100, unique=True)
    time_zone = models.CharField(
        max_length=64, default="UTC", validators=[validate_time_zone]
    )
    monday = models.BooleanField(default=True)
    tuesday = models.BooleanField(default=True)
    wednesday = models.BooleanField(default=True)
    thursday = models.BooleanField(default=True)
    friday = models.BooleanField(default=True)
    saturday = models.BooleanField(default=False)
    sunday = models.BooleanField(default=False)
    day_start = models.TimeField(default=dt.time(9, 0))
    day_end = models.TimeField(default=dt.time(17, 0))

    DAY_FIELDS = (
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(day_end__gt=models.F("day_start")),
                name="calendar_day_end_after_start",
                violation_error_message="Working hours must end after they start.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.time_zone})"

    def clean(self) -> None:
        if not any(getattr(self, day) for day in self.DAY_FIELDS):
            raise ValidationError("Choose at least one working day.")

    def spec(self) -> business_hours.Calendar:
        """The calendar as plain data for ``handoff.business_hours``."""
        return business_hours.Calendar(
            time_zone=self.time_zone,
            working_days=frozenset(
                i for i, day in enumerate(self.DAY_FIELDS) if getattr(self, day)
            ),
            day_start=self.day_start,
            day_end=self.day_end,
            holidays=frozenset(h.date for h in self.holidays.all()),
        )


class Holiday(models.Model):
    """A local date on which the calendar's SLA clock does not run."""

    calendar = models.ForeignKey(
        BusinessCalendar, on_delete=models.CASCADE, related_name="holidays"
    )
    date = models.DateField()
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ["date"]
        constraints = [
            models.UniqueConstraint(
                fields=["calendar", "date"],
                name="holiday_unique_per_calendar",
                violation_error_message="The calendar already has a holiday that day.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.date:%Y-%m-%d} {self.name}"


class Team(models.Model):
    """SDRs who share a queue, and how new MQLs are spread among them."""

    class Strategy(models.TextChoices):
        ROUND_ROBIN = "round_robin", "Round robin"
        WEIGHTED = "weighted", "Weighted round robin"
        LEAST_LOADED = "least_loaded", "Least loaded (fewest open handoffs)"

    name = models.CharField(max_length=100, unique=True)
    strategy = models.CharField(
        max_length=16, choices=Strategy.choices, default=Strategy.ROUND_ROBIN
    )
    # Incremented under the team's row lock at every assignment; a member's
    # last_turn orders round robin exactly, even within one clock tick.
    turn = models.PositiveBigIntegerField(default=0)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="TeamMember", related_name="sdr_teams"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class TeamMember(models.Model):
    """One SDR in a team, with the limits and counters assignment uses."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    is_active = models.BooleanField(default=True)
    weight = models.PositiveSmallIntegerField(
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text="Share of new MQLs under weighted round robin (1-100).",
    )
    daily_cap = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="Most new handoffs per calendar day; empty for no cap.",
    )
    open_cap = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="Most pending handoffs at once; empty for no cap.",
    )
    # Written only by handoff.assignment under the team's row lock.
    assigned_count = models.PositiveIntegerField(default=0)
    last_turn = models.PositiveBigIntegerField(default=0)
    last_assigned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["team", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["team", "user"],
                name="team_member_unique",
                violation_error_message="This person is already in the team.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.team}"


class SalesProfile(models.Model):
    """Per-person settings of SDRs and reps: away, manager."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sales_profile"
    )
    is_away = models.BooleanField(
        default=False, help_text="Away people get no new handoffs."
    )
    away_until = models.DateField(
        null=True,
        blank=True,
        help_text="Back on this date (no new handoffs until then); empty if unknown.",
    )
    is_manager = models.BooleanField(
        default=False,
        help_text="Sees the SLA report and may decide any handoff.",
    )

    def __str__(self) -> str:
        return f"Profile of {self.user}"

    def away_on(self, day: dt.date) -> bool:
        return self.is_away or (self.away_until is not None and day < self.away_until)


class ServiceLevelAgreement(models.Model):
    """The written marketing-sales agreement for a segment of MQLs."""

    class Period(models.TextChoices):
        WEEK = "week", "Week"
        MONTH = "month", "Month"

    name = models.CharField(max_length=100, unique=True)
    priority = models.PositiveSmallIntegerField(
        default=100, help_text="Lower numbers are matched first."
    )
    is_default = models.BooleanField(
        default=False, help_text="Covers every MQL no other SLA matches."
    )
    is_active = models.BooleanField(default=True)
    reroute_only = models.BooleanField(
        default=False,
        help_text="Never matched automatically; only rejection reasons reroute to it.",
    )
    conditions = models.JSONField(
        default=list,
        blank=True,
        help_text=(
            'A list of {"attribute", "operator", "value"}, all of which must hold, '
            'e.g. [{"attribute": "region", "operator": "equals", "value": "emea"}].'
        ),
    )
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="slas")
    calendar = models.ForeignKey(
        BusinessCalendar, on_delete=models.PROTECT, related_name="slas"
    )
    accept_within_hours = models.DecimalField(
        max_digits=6,
        decimal_places=2,
        default=Decimal("8"),
        validators=[MinValueValidator(Decimal("0.25"))],
        help_text="Business hours an SDR has to accept or reject.",
    )
    at_risk_percent = models.PositiveSmallIntegerField(
        default=75,
        validators=[MinValueValidator(1), MaxValueValidator(99)],
        help_text="Remind the SDR when this share of the time is used.",
    )
    follow_up_within_hours = models.DecimalField(
        max_digits=6,
        decimal_places=2,
        default=Decimal("16"),
        validators=[MinValueValidator(Decimal("0.25"))],
        help_text="Business hours for the first sales follow-up after acceptance.",
    )
    escalation_email = models.EmailField(
        blank=True, help_text="Told when a handoff breaches the SLA."
    )
    volume_commitment = models.PositiveIntegerField(
        default=0, help_text="MQLs marketing commits to deliver per period."
    )
    volume_period = models.CharField(
        max_length=8, choices=Period.choices, default=Period.MONTH
    )
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["priority", "id"]
        verbose_name = "SLA"
        verbose_name_plural = "SLAs"
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"],
                condition=Q(is_default=True),
                name="sla_one_default",
                violation_error_message="Another SLA is already the default.",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from handoff.validation import conditions_clean

        self.conditions = conditions_clean(self.conditions)


class RejectionReason(models.Model):
    """A managed reason to reject an MQL (SDR) or send a lead back (sales)."""

    class Audience(models.TextChoices):
        SDR = "sdr", "SDR rejecting an MQL"
        SALES = "sales", "Sales rep sending a lead back"

    class Action(models.TextChoices):
        RECYCLE = "recycle", "Recycle to nurture"
        DISQUALIFY = "disqualify", "Disqualify"
        REROUTE = "reroute", "Reroute to another SLA"
        MERGE = "merge", "Merge into a duplicate lead"
        ACCOUNT_OWNER = "account_owner", "Hand to the account owner"

    code = models.SlugField(max_length=40, unique=True)
    label = models.CharField(max_length=100)
    audience = models.CharField(
        max_length=8, choices=Audience.choices, default=Audience.SDR
    )
    action = models.CharField(max_length=16, choices=Action.choices)
    cooldown_days = models.PositiveSmallIntegerField(
        default=0,
        help_text=(
            "Recycle only: days during which only a high-intent touchpoint "
            "makes the lead an MQL again."
        ),
    )
    reroute_sla = models.ForeignKey(
        ServiceLevelAgreement,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Reroute only: the SLA (and so the team) that gets the lead.",
    )
    feedback_required = models.BooleanField(default=False)
    min_attempts = models.PositiveSmallIntegerField(
        default=0, help_text="Contact attempts that must be logged first."
    )
    is_active = models.BooleanField(default=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["audience", "position", "label"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(action="reroute") | Q(reroute_sla__isnull=False),
                name="reason_reroute_has_sla",
                violation_error_message="A reroute reason needs the SLA to reroute to.",
            ),
        ]

    def __str__(self) -> str:
        return self.label


class Handoff(models.Model):
    """One MQL handed to an SDR under an SLA, and what became of it."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Rejected"
        EXPIRED = "expired", "Expired"

    lead = models.ForeignKey(
        "leads.Lead", on_delete=models.CASCADE, related_name="handoffs"
    )
    sla = models.ForeignKey(
        ServiceLevelAgreement, on_delete=models.PROTECT, related_name="handoffs"
    )
    team = models.ForeignKey(
        Team, null=True, on_delete=models.SET_NULL, related_name="handoffs"
    )
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="handoffs",
    )
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.PENDING
    )
    # The handoff this one replaces after a breach or a reroute.
    previous = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="next"
    )
    sequence = models.PositiveSmallIntegerField(default=1)
    mql_at = models.DateTimeField(help_text="When the lead became an MQL.")
    created_at = models.DateTimeField(help_text="When it was assigned.")
    due_at = models.DateTimeField()
    at_risk_at = models.DateTimeField()
    # Escalation steps, each claimed once by a conditional update.
    reminded_at = models.DateTimeField(null=True, blank=True)
    expired_at = models.DateTimeField(null=True, blank=True)
    first_attempt_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    reason = models.ForeignKey(
        RejectionReason,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="handoffs",
    )
    feedback = models.TextField(blank=True)
    # After acceptance: who owns the lead, and the sales follow-up clock.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    follow_up_due_at = models.DateTimeField(null=True, blank=True)
    followed_up_at = models.DateTimeField(null=True, blank=True)
    follow_up_breached_at = models.DateTimeField(null=True, blank=True)
    # The score as it was at handoff, so feedback can be tied to the rules.
    score = models.DecimalField(max_digits=9, decimal_places=2, default=0)
    fit_score = models.DecimalField(max_digits=9, decimal_places=2, default=0)
    engagement_score = models.DecimalField(max_digits=9, decimal_places=2, default=0)
    grade = models.CharField(max_length=1, blank=True)
    score_breakdown = models.JSONField(default=list, blank=True)
    scoring_model = models.CharField(max_length=120, blank=True)

    class Meta:
        ordering = ["due_at", "id"]
        permissions = [("view_sla_report", "Can view the SLA report")]
        constraints = [
            models.UniqueConstraint(
                fields=["lead"],
                condition=Q(status="pending"),
                name="handoff_one_pending_per_lead",
                violation_error_message="This lead already has a pending handoff.",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "accepted", "rejected", "expired"]),
                name="handoff_status_valid",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["accepted", "rejected"])
                | Q(decided_at__isnull=False),
                name="handoff_decision_has_time",
            ),
            models.CheckConstraint(
                condition=~Q(status="rejected") | Q(reason__isnull=False),
                name="handoff_rejection_has_reason",
            ),
            models.CheckConstraint(
                condition=~Q(status="expired") | Q(expired_at__isnull=False),
                name="handoff_expiry_has_time",
            ),
        ]
        indexes = [
            # The SAL queue: pending, by assignee, soonest due first.
            models.Index(
                fields=["status", "assigned_to", "due_at"], name="handoff_queue_idx"
            ),
            # The escalation ladder's scans.
            models.Index(
                fields=["at_risk_at"],
                condition=Q(status="pending", reminded_at__isnull=True),
                name="handoff_at_risk_idx",
            ),
            models.Index(
                fields=["due_at"],
                condition=Q(status="pending"),
                name="handoff_due_idx",
            ),
            models.Index(
                fields=["follow_up_due_at"],
                condition=Q(
                    status="accepted",
                    followed_up_at__isnull=True,
                    follow_up_breached_at__isnull=True,
                ),
                name="handoff_follow_up_idx",
            ),
            models.Index(fields=["created_at"], name="handoff_created_idx"),
        ]

    def __str__(self) -> str:
        return f"Handoff {self.id} of lead {self.lead_id} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.PENDING


class ContactAttempt(models.Model):
    """An SDR's attempt to reach the lead of a handoff."""

    class Channel(models.TextChoices):
        CALL = "call", "Call"
        EMAIL = "email", "E-mail"
        SOCIAL = "social", "Social"

    class Outcome(models.TextChoices):
        CONNECTED = "connected", "Connected"
        MEETING = "meeting_booked", "Meeting booked"
        VOICEMAIL = "voicemail", "Left voicemail"
        NO_ANSWER = "no_answer", "No answer"
        SENT = "sent", "Sent, no reply yet"
        REPLIED = "replied", "Replied"
        BOUNCED = "bounced", "Bounced / wrong number"

    handoff = models.ForeignKey(
        Handoff, on_delete=models.CASCADE, related_name="attempts"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    channel = models.CharField(max_length=8, choices=Channel.choices)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    note = models.TextField(blank=True)
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} ({self.get_outcome_display()})"


#: Steps of the escalation ladder: at most one of each per handoff.
ESCALATION_STEPS = ("reminded", "expired", "escalated", "follow_up_breached")


class HandoffEvent(models.Model):
    """The audit trail of a handoff: assignment, reminders, breaches, decisions."""

    class Kind(models.TextChoices):
        ASSIGNED = "assigned", "Assigned"
        REMINDED = "reminded", "At-risk reminder sent"
        EXPIRED = "expired", "SLA breached"
        ESCALATED = "escalated", "Escalated"
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Rejected"
        ATTEMPT = "attempt", "Contact attempt"
        FOLLOW_UP_BREACHED = "follow_up_breached", "Follow-up SLA breached"

    ONCE = ESCALATION_STEPS

    handoff = models.ForeignKey(
        Handoff, on_delete=models.CASCADE, related_name="events"
    )
    kind = models.CharField(max_length=20, choices=Kind.choices)
    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    detail = models.CharField(max_length=300, blank=True)
    # The e-mail this event causes, claimed by a conditional UPDATE before it
    # is sent (released if sending fails), so a redelivered task sends it once.
    notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["handoff", "kind"],
                condition=Q(kind__in=ESCALATION_STEPS),
                name="handoff_event_step_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} at {self.at:%Y-%m-%d %H:%M}"


class SalesOutcome(models.Model):
    """A sales rep's move of an accepted lead, with the reason for a step back."""

    lead = models.ForeignKey(
        "leads.Lead", on_delete=models.CASCADE, related_name="sales_outcomes"
    )
    handoff = models.ForeignKey(
        Handoff,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="sales_outcomes",
    )
    from_stage = models.CharField(max_length=16)
    to_stage = models.CharField(max_length=16)
    reason = models.ForeignKey(
        RejectionReason,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="sales_outcomes",
    )
    feedback = models.TextField(blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["at"], name="sales_outcome_at_idx")]

    def __str__(self) -> str:
        return f"Lead {self.lead_id}: {self.from_stage} -> {self.to_stage}"
