"""Service level agreements and the managed rejection reasons."""

from __future__ import annotations

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from handoff.models.calendars import BusinessCalendar
from handoff.models.constraints import unique
from handoff.models.teams import Team


class ServiceLevelAgreement(models.Model):
    """The written marketing-sales agreement for a segment of MQLs."""

    class Period(models.TextChoices):
        WEEK = "week", "Week"
        MONTH = "month", "Month"

    class SalesRouting(models.TextChoices):
        SALES_TEAM = "sales_team", "Sales team"
        ACCOUNT_OWNER = "account_owner", "Account owner's rep"
        SDR_PICKS = "sdr_picks", "SDR picks"

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
    sales_routing = models.CharField(
        max_length=16,
        choices=SalesRouting.choices,
        default=SalesRouting.SALES_TEAM,
        help_text=(
            "Which sales rep gets an accepted lead. Sales team: the sales team's "
            "strategy picks a rep; with no sales team set, the accepting SDR (or "
            "the assigned SDR when a manager accepts) keeps the lead, as before "
            "sales routing existed. Account owner's rep: the account's owner when "
            "they are an active sales rep, else the sales team, else the SDR "
            "picks. SDR picks: the accepting SDR must choose a rep."
        ),
    )
    sales_team = models.ForeignKey(
        Team,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="sales_slas",
        help_text=(
            "Sales reps who get this SLA's accepted leads, spread by the team's "
            "strategy (round robin, weighted, least loaded)."
        ),
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
            unique(
                "is_default",
                condition=Q(is_default=True),
                name="sla_one_default",
                message="Another SLA is already the default.",
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
