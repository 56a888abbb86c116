"""Models of the project package: what the operators need to see across apps."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import models


class FailedTask(models.Model):
    """A Celery task that gave up: its retries ran out or its error is not transient.

    Written once per task id by the ``task_failure`` handler in ``crm.celery``
    so a poison message leaves a trace an operator can find by lead, instead
    of only a line in a worker log. Arguments are ids only (reliability rule 4);
    ``lead_ids`` are the leads they concern, for searching.
    """

    task_name = models.CharField(max_length=200)
    task_id = models.CharField(max_length=64, unique=True)
    args = models.JSONField(default=list, blank=True)
    kwargs = models.JSONField(default=dict, blank=True)
    lead_ids = models.JSONField(default=list, blank=True)
    exception_class = models.CharField(max_length=200)
    exception_message = models.TextField(blank=True)
    retries = models.PositiveIntegerField(
        default=0, help_text="Retries made before giving up."
    )
    failed_at = models.DateTimeField()

    class Meta:
        ordering = ["-failed_at", "-id"]
        indexes = [
            # The admin list: newest failures first, often of one task.
            models.Index(
                fields=["task_name", "-failed_at"], name="failed_task_name_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.task_name} [{self.task_id}] {self.exception_class}"


class MqlPlan(models.Model):
    """A saved MQL plan: a target for a period worked back to the leads it
    takes, with the figures as they were computed (``crm.marketing.planner``'s
    ``plan_data``), so the plan does not change when history does.

    Written only by ``crm.marketing.plans``.
    """

    class TargetKind(models.TextChoices):
        CUSTOMERS = "customers", "Customers"
        REVENUE = "revenue", "Revenue"

    name = models.CharField(max_length=200)
    start = models.DateField(help_text="First day of the plan period (UTC).")
    end = models.DateField(
        help_text="The day after the plan's last day: the period is [start, end)."
    )
    reference_start = models.DateField()
    reference_end = models.DateField(
        help_text="The day after the reference period's last day."
    )
    target_kind = models.CharField(max_length=16, choices=TargetKind.choices)
    target_value = models.DecimalField(max_digits=16, decimal_places=2)
    average_deal = models.DecimalField(
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="The average deal size a revenue target used.",
    )
    figures = models.JSONField(
        help_text="The stages, reference and spend as computed (planner data)."
    )
    computed_at = models.DateTimeField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "MQL plan"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end__gt=models.F("start")),
                name="mql_plan_end_after_start",
                violation_error_message="The plan's end must come after its start.",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def last_day(self) -> dt.date:
        return self.end - dt.timedelta(days=1)


class CampaignCredit(models.Model):
    """The credit campaigns earned for the conversions of one UTC day under
    one attribution model: the daily roll-up the campaign report sums.

    Rebuilt a whole day at a time by ``crm.marketing.attribution_rollup``,
    never edited: a rebuild replaces every row of its day in one transaction.
    ``campaign`` None holds the unattributed credit (touches with no campaign,
    or a conversion with no touches).
    """

    class Kind(models.TextChoices):
        LEAD = "lead", "Leads"
        MQL = "mql", "MQLs"
        SQL = "sql", "SQLs"
        CUSTOMER = "customer", "Customers"
        REVENUE = "revenue", "Revenue"

    day = models.DateField()
    model = models.CharField(max_length=16)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # DO_NOTHING: a campaign with touchpoints cannot be deleted (PROTECT on
    # Touchpoint.campaign), and one without any earns no credit.
    campaign = models.ForeignKey(
        "leads.Campaign",
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    amount = models.DecimalField(max_digits=18, decimal_places=4)

    class Meta:
        indexes = [
            # The report: WHERE model = ? AND day >= ? AND day < ? GROUP BY
            # campaign, kind, answered from the index alone.
            models.Index(
                fields=["model", "day", "campaign", "kind", "amount"],
                name="campaign_credit_report_idx",
            ),
            # A rebuild deletes its day's rows.
            models.Index(fields=["day"], name="campaign_credit_day_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.model} {self.kind} {self.campaign_id}: {self.amount}"


class AttributionDay(models.Model):
    """When a UTC day's campaign credits were last rebuilt ("figures as of")."""

    day = models.DateField(primary_key=True)
    rebuilt_at = models.DateTimeField()

    class Meta:
        ordering = ["day"]

    def __str__(self) -> str:
        return f"{self.day}: rebuilt {self.rebuilt_at:%Y-%m-%d %H:%M}"


# The funnel's daily roll-up (``crm.marketing.rollup``): small tables a period's
# funnel sums instead of reading every lead. Each row belongs to one UTC day
# and is rebuilt with the rest of that day's rows; ``source`` and ``region``
# are the lead's ('' when blank), so the source and region filters read the
# roll-up too. Stages and hours are as ``crm.marketing.funnel`` defines them.


class FunnelCohortCount(models.Model):
    """Leads created on ``day`` (not erased) by the furthest stage they reached."""

    day = models.DateField()
    source = models.CharField(max_length=20, blank=True)
    region = models.CharField(max_length=16, blank=True)
    highest_stage = models.CharField(max_length=20)
    leads = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["day", "source", "region", "highest_stage"],
                name="funnel_cohort_count_unique",
            )
        ]

    def __str__(self) -> str:
        return (
            f"{self.day} {self.source}/{self.region} {self.highest_stage}: {self.leads}"
        )


class FunnelCohortHours(models.Model):
    """Leads created on ``day`` by whole hours from entering the stage before
    ``stage`` to entering ``stage``."""

    day = models.DateField()
    source = models.CharField(max_length=20, blank=True)
    region = models.CharField(max_length=16, blank=True)
    stage = models.CharField(max_length=20)
    hours = models.PositiveIntegerField()
    leads = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["day", "source", "region", "stage", "hours"],
                name="funnel_cohort_hours_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.stage} {self.hours} h: {self.leads}"


class FunnelFlowCount(models.Model):
    """Leads that entered ``stage`` on ``day``, by the last earlier day on which
    each had entered it (``previous_day``, NULL for a first entry).

    A period ``[a, b)`` counts a lead once: on its first day in the period,
    the row whose ``previous_day`` is before ``a`` (or NULL).
    """

    day = models.DateField()
    previous_day = models.DateField(null=True, blank=True)
    source = models.CharField(max_length=20, blank=True)
    region = models.CharField(max_length=16, blank=True)
    stage = models.CharField(max_length=20)
    leads = models.PositiveIntegerField()

    class Meta:
        indexes = [models.Index(fields=["day"], name="funnel_flow_count_day_idx")]

    def __str__(self) -> str:
        return f"{self.day} (before {self.previous_day}) {self.stage}: {self.leads}"


class FunnelFlowHours(models.Model):
    """Leads that first entered ``stage`` on ``day`` by whole hours from
    entering the stage before."""

    day = models.DateField()
    source = models.CharField(max_length=20, blank=True)
    region = models.CharField(max_length=16, blank=True)
    stage = models.CharField(max_length=20)
    hours = models.PositiveIntegerField()
    leads = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["day", "source", "region", "stage", "hours"],
                name="funnel_flow_hours_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.stage} {self.hours} h: {self.leads}"


class FunnelRollupState(models.Model):
    """How far the roll-up has been brought up to date (one row, ``id=1``).

    ``scanned_until``: leads changed before it (less an overlap, see
    ``crm.marketing.rollup``) are in the roll-up. ``refreshed_at``: when the
    last refresh began, shown as "figures as of". No row: never built, so the
    funnel reads the leads.
    """

    scanned_until = models.DateTimeField()
    refreshed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"funnel roll-up as of {self.refreshed_at:%Y-%m-%d %H:%M} UTC"


# Rule analytics' daily roll-up (``crm.marketing.rule_rollup``): what a period's
# rule analytics sums instead of reading every scored lead and every rejection.
# The cohort rows belong to the UTC day the lead was created and to the scoring
# model of the score; the rejection rows to the UTC day of the rejection. Each
# day's rows are rebuilt together, from the same definitions as the live path
# (``crm.marketing.rule_analytics``).


class RuleCohortScore(models.Model):
    """Scored leads created on ``day`` (not erased) whose total under
    ``model`` falls in the whole point ``points`` (rounded down), and how many
    of them an SDR decided, accepted, and reached MQL, SQL and customer, and
    scored at or above the model's MQL threshold (with their SQLs): the
    cohort's totals and the score's quality add up from these over days."""

    model = models.ForeignKey(
        "scoring.ScoringModel", on_delete=models.CASCADE, related_name="+"
    )
    day = models.DateField()
    points = models.IntegerField()
    leads = models.PositiveIntegerField()
    decided = models.PositiveIntegerField()
    accepted = models.PositiveIntegerField()
    mqls = models.PositiveIntegerField()
    sqls = models.PositiveIntegerField()
    customers = models.PositiveIntegerField()
    at_threshold = models.PositiveIntegerField()
    at_threshold_sqls = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["model", "day", "points"], name="rule_cohort_score_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} model {self.model_id} {self.points}: {self.leads}"


class RuleCohortCount(models.Model):
    """Of the scored leads created on ``day`` under ``model``, those a rule
    fired on (its breakdown item or disqualifying gate), with their outcomes.

    ``rule_id`` is the id the breakdown names, not a key: a stored breakdown
    may name a rule deleted since, which the page does not show.
    """

    model = models.ForeignKey(
        "scoring.ScoringModel", on_delete=models.CASCADE, related_name="+"
    )
    day = models.DateField()
    rule_id = models.BigIntegerField()
    leads = models.PositiveIntegerField()
    decided = models.PositiveIntegerField()
    accepted = models.PositiveIntegerField()
    sqls = models.PositiveIntegerField()
    customers = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["model", "day", "rule_id"], name="rule_cohort_count_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.day} model {self.model_id} rule {self.rule_id}: {self.leads}"


class RuleRejectionCount(models.Model):
    """SDR rejections and sales send-backs made on ``day``, by reason, the
    lead's first-touch campaign, the SLA and the grade at handoff."""

    day = models.DateField()
    reason_id = models.BigIntegerField(null=True, blank=True)
    campaign_id = models.BigIntegerField(null=True, blank=True)
    sla_id = models.BigIntegerField(null=True, blank=True)
    # NULL for a send-back without a handoff, '' for a handoff without a
    # grade: the live tables keep the two apart, so the roll-up does.
    grade = models.CharField(max_length=1, null=True, blank=True)  # noqa: DJ001
    rejections = models.PositiveIntegerField()

    class Meta:
        indexes = [models.Index(fields=["day"], name="rule_rejection_count_day_idx")]

    def __str__(self) -> str:
        return f"{self.day} reason {self.reason_id}: {self.rejections}"


class RuleRejectionRule(models.Model):
    """Rejections made on ``day`` by reason whose handoff's breakdown holds a
    rule of this label (a rejection once per label)."""

    day = models.DateField()
    reason_id = models.BigIntegerField(null=True, blank=True)
    # Text, not a bounded field: the label as the stored breakdown holds it.
    label = models.TextField()
    rejections = models.PositiveIntegerField()

    class Meta:
        indexes = [models.Index(fields=["day"], name="rule_rejection_rule_day_idx")]

    def __str__(self) -> str:
        return f"{self.day} {self.label}: {self.rejections}"


class RuleRollupState(models.Model):
    """How far rule analytics' roll-up has been brought up to date (one row,
    ``id=1``), as ``FunnelRollupState`` for the funnel. No row: never built,
    so rule analytics read the leads."""

    scanned_until = models.DateTimeField()
    refreshed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"rule roll-up as of {self.refreshed_at:%Y-%m-%d %H:%M} UTC"
