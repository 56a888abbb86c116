"""What leads do and what happens to them: touchpoints and their kinds,
campaigns, stage transitions, owner changes."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from leads.models.people import Lead, validate_json_object


class TouchpointKind(models.Model):
    """The managed list of touchpoint kinds; ``code`` is the public API code."""

    code = models.SlugField(max_length=40, unique=True)
    label = models.CharField(max_length=100)
    description = models.CharField(max_length=300, blank=True)
    # High intent: a touchpoint that may bring a recycled lead back early.
    is_high_intent = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["label"]

    def __str__(self) -> str:
        return self.label


class Campaign(models.Model):
    """Where touchpoints come from; used for attribution and ROI."""

    class Channel(models.TextChoices):
        PAID_SEARCH = "paid_search", "Paid search"
        PAID_SOCIAL = "paid_social", "Paid social"
        EMAIL = "email", "E-mail"
        WEBINAR = "webinar", "Webinar"
        EVENT = "event", "Event"
        CONTENT = "content", "Content syndication"
        ORGANIC = "organic", "Organic / SEO"
        PARTNER = "partner", "Partner"
        DISPLAY = "display", "Display"
        OTHER = "other", "Other"

    name = models.CharField(max_length=200, unique=True)
    channel = models.CharField(max_length=20, choices=Channel.choices)
    utm_source = models.CharField(max_length=100, blank=True)
    utm_medium = models.CharField(max_length=100, blank=True)
    utm_campaign = models.CharField(max_length=200, blank=True)
    budget = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        default=0,
        validators=[MinValueValidator(0)],
        help_text="Planned spend in US dollars.",
    )
    starts_on = models.DateField(null=True, blank=True)
    ends_on = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-starts_on", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(budget__gte=0), name="campaign_budget_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(starts_on__isnull=True)
                | Q(ends_on__isnull=True)
                | Q(ends_on__gte=models.F("starts_on")),
                name="campaign_ends_after_start",
                violation_error_message="The end date must not be before the start.",
            ),
            # Touchpoints name their campaign by UTM keys; they must resolve to one.
            models.UniqueConstraint(
                "utm_source",
                "utm_medium",
                "utm_campaign",
                condition=~Q(utm_campaign=""),
                name="campaign_utm_unique",
                violation_error_message="Another campaign already uses these UTM keys.",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class CampaignSpend(models.Model):
    """What a campaign actually cost in one month, apart from its planned
    budget; a month may have several lines (an invoice each). Written only
    by ``leads.campaigns``."""

    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="spend_lines"
    )
    # The first day of the month the money was spent in.
    month = models.DateField()
    amount = models.DecimalField(
        max_digits=12, decimal_places=2, validators=[MinValueValidator(0)]
    )
    note = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-month", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__gte=0),
                name="campaign_spend_not_negative",
                violation_error_message="The amount must not be negative.",
            ),
            models.CheckConstraint(
                condition=Q(month__day=1),
                name="campaign_spend_month_first_day",
                violation_error_message="The month is its first day.",
            ),
        ]
        indexes = [
            models.Index(fields=["campaign", "month"], name="campaign_spend_month_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.campaign_id} {self.month:%Y-%m}: {self.amount}"


class Touchpoint(models.Model):
    """One thing a lead did. Immutable once stored."""

    # The keys have no index of their own: each starts one of Meta.indexes,
    # and every index costs each of the millions of inserts.
    lead = models.ForeignKey(
        Lead, on_delete=models.CASCADE, related_name="touchpoints", db_index=False
    )
    kind = models.ForeignKey(
        TouchpointKind,
        to_field="code",
        db_column="kind",
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
    )
    occurred_at = models.DateTimeField()
    # PROTECT: a campaign with touchpoints is history that attribution reports
    # count; deleting it would silently detach them (leads.campaigns.campaign_delete).
    campaign = models.ForeignKey(
        Campaign,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="touchpoints",
        db_index=False,
    )
    properties = models.JSONField(
        default=dict, blank=True, validators=[validate_json_object]
    )
    # Which system delivered it ("api", "form:<key>", "import", "demo" ...);
    # external_id is unique within one source and makes delivery idempotent.
    source = models.CharField(max_length=60, default="api")
    # NULL, not "": many touchpoints have no id, and NULLs never collide.
    external_id = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"],
                condition=Q(external_id__isnull=False),
                name="touchpoint_external_id_unique",
                violation_error_message="A touchpoint with this external id exists.",
            ),
        ]
        indexes = [
            # Scoring reads one lead's touchpoints by time and kind (covering).
            models.Index(
                fields=["lead", "occurred_at", "kind"], name="touchpoint_lead_time_idx"
            ),
            models.Index(
                fields=["campaign", "occurred_at"], name="touchpoint_camp_idx"
            ),
            # Counts by kind and time; by time alone, kind by kind.
            models.Index(fields=["kind", "occurred_at"], name="touchpoint_kind_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind_id} by lead {self.lead_id} at {self.occurred_at:%Y-%m-%d}"


class StageTransition(models.Model):
    """One lifecycle move of a lead: from, to, when, who or what, and why."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="transitions")
    from_stage = models.CharField(max_length=16, choices=Lead.Stage.choices)
    to_stage = models.CharField(max_length=16, choices=Lead.Stage.choices)
    at = models.DateTimeField()
    # A person, or a named part of the system ("scoring", "import", "sla-timer").
    # PROTECT: the audit trail outlives nobody; deactivate users instead.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    system_actor = models.CharField(max_length=40, blank=True)
    reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(from_stage=models.F("to_stage")),
                name="transition_changes_stage",
            ),
            models.CheckConstraint(
                condition=Q(actor__isnull=False) | ~Q(system_actor=""),
                name="transition_has_actor",
            ),
        ]
        indexes = [
            models.Index(fields=["lead", "at"], name="transition_lead_at_idx"),
            # Funnel and velocity reports: moves into a stage over a period.
            models.Index(fields=["to_stage", "at"], name="transition_to_at_idx"),
            # The dashboard's latest stage changes (newest first, LIMIT 8).
            models.Index(fields=["-at", "-id"], name="transition_recent_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.lead_id}: {self.from_stage} -> {self.to_stage}"

    @property
    def actor_display(self) -> str:
        if self.actor_id:
            return str(self.actor)
        return f"system ({self.system_actor})"


class OwnerChange(models.Model):
    """A manager handing a lead in the sales pipeline to another rep, and why.

    The lead's history of who owns it (the lead page's timeline shows it with
    the stage moves). ``notified_at`` marks the new owner's e-mail as sent, so
    a redelivered task never sends it twice.
    """

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="+")
    at = models.DateTimeField()
    # PROTECT, as on StageTransition: the history outlives nobody.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    from_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    to_owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.CharField(max_length=500)
    notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["lead", "at"], name="owner_change_lead_at_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.lead_id}: owner {self.from_owner_id} -> {self.to_owner_id}"


class AttributionMark(models.Model):
    """A UTC day whose campaign attribution must be rebuilt.

    Insert-only, so marking never waits on a lock held by a rebuild or by
    another writer: the services that change a conversion (a lead created, a
    stage first entered, a deal won, a lead erased) add a row for the day of
    the conversion in their own transaction, and the rebuild
    (``crm.marketing.attribution_rollup``) deletes the rows it takes before
    it reads the data. A day may be marked many times; one rebuild serves
    every mark of the day it took.
    """

    id = models.BigAutoField(primary_key=True)
    day = models.DateField()

    def __str__(self) -> str:
        return f"attribution of {self.day:%Y-%m-%d}"
