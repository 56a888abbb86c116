"""Accounts, leads, campaigns, touchpoints and stage transitions.

Models hold data, constraints and single-row behaviour. Writes go through
``leads/services.py``; a lead's stage changes only in ``leads/lifecycle.py``.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone

from leads.domains import account_domain_problem
from leads.geo import Region, is_known_country, region_for_country
from leads.titles import Department, Seniority, seniority_from_title

# ``email__lower=`` and ``domain__lower=`` use the Lower() unique indexes below;
# ``__iexact`` compiles to UPPER(...) LIKE and would scan the table.
models.CharField.register_lookup(Lower)


def validate_country(value: str) -> None:
    if value and not is_known_country(value):
        raise ValidationError(
            "%(value)s is not an ISO 3166 two-letter country code (for example US, "
            "DE, GB).",
            params={"value": value},
            code="invalid_country",
        )


def validate_json_object(value: object) -> None:
    if not isinstance(value, dict):
        raise ValidationError(
            'Enter a JSON object such as {"key": "value"}.', code="not_an_object"
        )


class Industry(models.TextChoices):
    SOFTWARE = "software", "Software & internet"
    FINANCIAL_SERVICES = "financial_services", "Financial services"
    HEALTHCARE = "healthcare", "Healthcare"
    MANUFACTURING = "manufacturing", "Manufacturing"
    RETAIL = "retail", "Retail & e-commerce"
    EDUCATION = "education", "Education"
    GOVERNMENT = "government", "Government & public sector"
    MEDIA = "media", "Media & entertainment"
    TELECOM = "telecom", "Telecommunications"
    PROFESSIONAL_SERVICES = "professional_services", "Professional services"
    LOGISTICS = "logistics", "Transport & logistics"
    ENERGY = "energy", "Energy & utilities"
    NONPROFIT = "nonprofit", "Non-profit"
    OTHER = "other", "Other"


class Account(models.Model):
    """A company. Leads are linked to it by their e-mail domain."""

    name = models.CharField(max_length=200)
    # Lower-cased, without "www."; blank for an account with no known domain.
    domain = models.CharField(max_length=253, blank=True)
    industry = models.CharField(max_length=32, choices=Industry.choices, blank=True)
    employee_count = models.PositiveIntegerField(null=True, blank=True)
    annual_revenue = models.DecimalField(
        max_digits=16,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        help_text="Yearly revenue in US dollars.",
    )
    country = models.CharField(max_length=2, blank=True, validators=[validate_country])
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_accounts",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                Lower("domain"),
                condition=~Q(domain=""),
                name="account_domain_unique_ci",
                violation_error_message="An account with this domain already exists.",
            ),
            models.CheckConstraint(
                condition=Q(annual_revenue__isnull=True) | Q(annual_revenue__gte=0),
                name="account_annual_revenue_not_negative",
            ),
        ]
        indexes = [
            models.Index(fields=["industry"], name="account_industry_idx"),
            models.Index(fields=["employee_count"], name="account_employees_idx"),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        self.domain = (self.domain or "").strip().lower().removeprefix("www.")
        self.country = (self.country or "").strip().upper()
        # Every company under co.uk would otherwise join this one account.
        if problem := account_domain_problem(self.domain):
            raise ValidationError({"domain": problem}, code="public_suffix")


class Stage(models.TextChoices):
    """Lifecycle stages; the codes are public (API, imports). Use ``Lead.Stage``."""

    LEAD = "lead", "Lead"
    MQL = "mql", "Marketing-qualified (MQL)"
    SAL = "sal", "Sales-accepted (SAL)"
    SQL = "sql", "Sales-qualified (SQL)"
    OPPORTUNITY = "opportunity", "Opportunity"
    CUSTOMER = "customer", "Customer"
    NURTURE = "nurture", "Nurture"
    DISQUALIFIED = "disqualified", "Disqualified"


class Lead(models.Model):
    """A person who may buy, with fit attributes and a lifecycle stage."""

    Stage = Stage

    class Source(models.TextChoices):
        ORGANIC_SEARCH = "organic_search", "Organic search"
        PAID_SEARCH = "paid_search", "Paid search"
        PAID_SOCIAL = "paid_social", "Paid social"
        SOCIAL = "social", "Social"
        EMAIL = "email", "E-mail"
        REFERRAL = "referral", "Referral"
        EVENT = "event", "Event"
        PARTNER = "partner", "Partner"
        DIRECT = "direct", "Direct"
        OUTBOUND = "outbound", "Sales outbound"
        IMPORT = "import", "Import"
        OTHER = "other", "Other"

    email = models.EmailField(max_length=254)
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    job_title = models.CharField(max_length=200, blank=True)
    # Effective seniority: derived from job_title unless seniority_override is set.
    seniority = models.CharField(
        max_length=16, choices=Seniority.choices, default=Seniority.UNKNOWN
    )
    seniority_override = models.CharField(
        max_length=16,
        choices=Seniority.choices,
        blank=True,
        help_text="Set to overrule the seniority derived from the job title.",
    )
    department = models.CharField(
        max_length=20, choices=Department.choices, default=Department.UNKNOWN
    )
    phone = models.CharField(max_length=40, blank=True)
    country = models.CharField(max_length=2, blank=True, validators=[validate_country])
    region = models.CharField(max_length=16, choices=Region.choices, blank=True)
    account = models.ForeignKey(
        Account,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="leads",
    )
    source = models.CharField(max_length=20, choices=Source.choices, blank=True)
    utm_source = models.CharField(max_length=100, blank=True)
    utm_medium = models.CharField(max_length=100, blank=True)
    utm_campaign = models.CharField(max_length=200, blank=True)
    utm_term = models.CharField(max_length=200, blank=True)
    utm_content = models.CharField(max_length=200, blank=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_leads",
    )

    # Lifecycle: written only by leads/lifecycle.py.
    stage = models.CharField(max_length=16, choices=Stage.choices, default=Stage.LEAD)
    # The furthest funnel stage ever reached; a recycled lead keeps it.
    highest_stage = models.CharField(
        max_length=16, choices=Stage.choices, default=Stage.LEAD
    )
    stage_changed_at = models.DateTimeField(null=True, blank=True)
    # When each stage was first entered (never overwritten by a later re-entry).
    entered_lead_at = models.DateTimeField(null=True, blank=True)
    entered_mql_at = models.DateTimeField(null=True, blank=True)
    entered_sal_at = models.DateTimeField(null=True, blank=True)
    entered_sql_at = models.DateTimeField(null=True, blank=True)
    entered_opportunity_at = models.DateTimeField(null=True, blank=True)
    entered_customer_at = models.DateTimeField(null=True, blank=True)
    entered_nurture_at = models.DateTimeField(null=True, blank=True)
    entered_disqualified_at = models.DateTimeField(null=True, blank=True)

    do_not_email = models.BooleanField(default=False)
    do_not_call = models.BooleanField(default=False)

    # A recycled lead's cool-down: until then scoring promotes it back to MQL
    # only after a high-intent touchpoint (TouchpointKind.is_high_intent) that
    # happened after it was recycled. Set by lifecycle.lead_move.
    recycle_until = models.DateTimeField(null=True, blank=True)
    # The surviving lead when this one was merged away as a duplicate.
    merged_into = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="merged_leads",
    )

    # The current score under the active scoring model, kept on the lead row so
    # lists filter and sort by it with one index. Written only by the scoring
    # app's store (scoring/store.py, both rescore paths); the breakdown lives
    # there.
    score = models.DecimalField(max_digits=9, decimal_places=2, default=0)
    fit_score = models.DecimalField(max_digits=9, decimal_places=2, default=0)
    engagement_score = models.DecimalField(max_digits=9, decimal_places=2, default=0)
    grade = models.CharField(max_length=1, blank=True)
    scored_at = models.DateTimeField(null=True, blank=True)
    # Set to the time of the latest change that needs a rescore; cleared by the
    # rescore only if nothing newer arrived meanwhile (reliability rule 1).
    rescore_requested_at = models.DateTimeField(null=True, blank=True)
    # Set when personal data was erased on request; the row stays for counts.
    erased_at = models.DateTimeField(null=True, blank=True)
    attributes = models.JSONField(
        default=dict,
        blank=True,
        validators=[validate_json_object],
        help_text="Free-form attributes (a JSON object), usable in scoring rules.",
    )
    # A default, not auto_now_add: imports and demo data carry a past date.
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        # change_lead edits every field of every lead (Marketing, Admin);
        # SDRs and reps hold this one instead (leads.edit_scope.LeadEditScope).
        permissions = [
            (
                "change_own_lead",
                "Can change the contact fields of leads they own (a manager: "
                "the sales team's)",
            )
        ]
        constraints = [
            models.UniqueConstraint(
                Lower("email"),
                name="lead_email_unique_ci",
                violation_error_message="A lead with this e-mail already exists.",
            ),
            models.CheckConstraint(
                condition=Q(email__contains="@"), name="lead_email_has_at"
            ),
            models.CheckConstraint(
                condition=Q(stage__in=[s.value for s in Stage]),
                name="lead_stage_valid",
            ),
            models.CheckConstraint(
                condition=Q(highest_stage__in=[s.value for s in Stage]),
                name="lead_highest_stage_valid",
            ),
        ]
        indexes = [
            # Lead lists: filter by stage, newest first; per-owner work lists.
            models.Index(fields=["stage", "-created_at", "-id"], name="lead_stage_idx"),
            models.Index(fields=["owner", "stage"], name="lead_owner_stage_idx"),
            models.Index(fields=["country"], name="lead_country_idx"),
            models.Index(fields=["-created_at", "-id"], name="lead_created_idx"),
            models.Index(fields=["highest_stage"], name="lead_highest_stage_idx"),
            # Lead lists by stage, best score first (keyset pagination).
            models.Index(
                fields=["stage", "-score", "-id"], name="lead_stage_score_idx"
            ),
            models.Index(fields=["-score", "-id"], name="lead_score_idx"),
            # The reconciler's scan for leads whose rescore is overdue.
            models.Index(
                fields=["rescore_requested_at"],
                name="lead_rescore_pending_idx",
                condition=Q(rescore_requested_at__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return self.full_name or self.email

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def email_domain(self) -> str:
        return self.email.rpartition("@")[2].lower()

    def set_job_title(self, title: str) -> None:
        """Set the title and keep the derived seniority in step with it."""
        self.job_title = title
        self.seniority = self.seniority_override or seniority_from_title(title)

    def set_seniority_override(self, override: str) -> None:
        self.seniority_override = override
        self.seniority = override or seniority_from_title(self.job_title)

    def set_country(self, country: str) -> None:
        """Set the country (upper-cased) and the region that follows from it."""
        self.country = (country or "").strip().upper()
        self.region = region_for_country(self.country)

    def clean(self) -> None:
        if not isinstance(self.attributes, dict):
            raise ValidationError({"attributes": "Enter a JSON object such as {}."})


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


class Touchpoint(models.Model):
    """One thing a lead did. Immutable once stored."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="touchpoints")
    kind = models.ForeignKey(
        TouchpointKind,
        to_field="code",
        db_column="kind",
        on_delete=models.PROTECT,
        related_name="+",
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
        ]

    def __str__(self) -> str:
        return f"{self.lead_id}: {self.from_stage} -> {self.to_stage}"

    @property
    def actor_display(self) -> str:
        if self.actor_id:
            return str(self.actor)
        return f"system ({self.system_actor})"


class WebForm(models.Model):
    """A public web form whose submissions create leads and touchpoints."""

    key = models.SlugField(
        max_length=60,
        unique=True,
        help_text="Part of the public URL: /api/v1/forms/<key>/submit/.",
    )
    name = models.CharField(max_length=200)
    kind = models.ForeignKey(
        TouchpointKind,
        to_field="code",
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The touchpoint kind a submission records.",
    )
    campaign = models.ForeignKey(
        Campaign, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    allowed_origins = models.TextField(
        blank=True,
        help_text="One origin per line, e.g. https://www.example.com. Browsers on "
        "other sites cannot submit the form.",
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def origins(self) -> list[str]:
        return [
            line.strip().rstrip("/")
            for line in self.allowed_origins.splitlines()
            if line.strip()
        ]


class AuditEvent(models.Model):
    """One row per state-changing action a person (or the SLA timer) took.

    Written only by ``leads.audit.audit_record``, in the transaction of the
    change it records. ``details`` holds ids, codes and counts, never a
    person's e-mail, name or phone, so erasure never has to rewrite it.
    Automatic stage moves by scoring are recorded as StageTransitions only.
    """

    class Action(models.TextChoices):
        EXPORT = "export", "Personal data exported"
        ERASE = "erase", "Personal data erased"
        IMPORT = "import", "CSV import"
        LEAD_EXPORT_CSV = "lead_export_csv", "Lead list exported as CSV"
        BULK_STAGE_CHANGE = "bulk_stage_change", "Leads moved in bulk"
        HANDOFF_ACCEPT = "handoff_accept", "Handoff accepted"
        HANDOFF_REJECT = "handoff_reject", "Handoff rejected"
        HANDOFF_CLAIM = "handoff_claim", "Handoff taken from the team queue"
        HANDOFF_REASSIGN = "handoff_reassign", "Handoff expired and reassigned"
        SALES_MOVE = "sales_move", "Lead moved by sales"
        RULE_EDIT = "rule_edit", "Scoring draft edited"
        MODEL_PUBLISH = "model_publish", "Scoring model published"
        ROLE_CHANGE = "role_change", "User's roles or staff flags changed"
        TOKEN_ISSUE = "token_issue", "API token issued"
        LEAD_CREATE = "lead_create", "Lead created by a person"
        LEAD_EDIT = "lead_edit", "Lead edited"
        ACCOUNT_EDIT = "account_edit", "Account edited"
        CAMPAIGN_DELETE = "campaign_delete", "Unused campaign deleted"
        ACCOUNT_DELETE = "account_delete", "Account deleted, its leads detached"
        USER_DEACTIVATE = "user_deactivate", "User deactivated, their work reassigned"
        USER_DELETE = "user_delete", "User who owned nothing deleted"

    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    action = models.CharField(max_length=20, choices=Action.choices)
    # A plain id, not a foreign key: the event outlives what it is about.
    lead_id = models.BigIntegerField(null=True, blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["lead_id", "at"], name="audit_lead_idx"),
            # The admin's filter by action, newest first.
            models.Index(fields=["action", "at"], name="audit_action_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} ({self.at:%Y-%m-%d})"


#: Largest CSV file an import accepts (it is stored in the job row).
IMPORT_MAX_BYTES = 20 * 1024 * 1024


class ImportJob(models.Model):
    """One CSV import of leads or touchpoints: the file, its mapping, progress.

    Written only by ``leads.imports`` (``jobs`` and ``run``); progress counters move by
    conditional UPDATEs committed together with each chunk of rows.
    """

    class Kind(models.TextChoices):
        LEADS = "leads", "Leads"
        TOUCHPOINTS = "touchpoints", "Touchpoints"

    class Status(models.TextChoices):
        # Uploaded from the browser, waiting for the column mapping.
        DRAFT = "draft", "Awaiting mapping"
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    filename = models.CharField(max_length=255)
    content = models.BinaryField(editable=False)
    # The file's header row, so pages need not decode the content again.
    columns = models.JSONField(default=list, blank=True)
    encoding = models.CharField(max_length=40, default="utf-8")
    # IANA zone of the file's dates that give no offset; blank: refuse them.
    time_zone = models.CharField(max_length=64, blank=True)
    preset = models.CharField(max_length=20, blank=True)
    # CSV column -> target field ("" skips the column).
    mapping = models.JSONField(default=dict, blank=True)
    keep_unmapped = models.BooleanField(default=False)
    dry_run = models.BooleanField(default=False)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.QUEUED
    )
    rows_total = models.PositiveIntegerField(default=0)
    rows_processed = models.PositiveIntegerField(default=0)
    rows_created = models.PositiveIntegerField(default=0)
    rows_updated = models.PositiveIntegerField(default=0)
    rows_unchanged = models.PositiveIntegerField(default=0)
    rows_rejected = models.PositiveIntegerField(default=0)
    # Cells of stored rows that were not applied (each has a note), such as
    # an owner the import may not change.
    cells_refused = models.PositiveIntegerField(default=0)
    # The last file line of the last committed chunk.
    last_line = models.PositiveIntegerField(default=0)
    # [{"line": int, "reason": str, "row": [cells]}], the first rejected rows.
    rejected_rows = models.JSONField(default=list, blank=True)
    # [{"line": int, "message": str}]: stored rows with something to know.
    notes = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(rows_processed__lte=models.F("rows_total")),
                name="import_job_processed_within_total",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} import {self.filename}"

    def get_absolute_url(self) -> str:
        name = "import_mapping" if self.status == self.Status.DRAFT else "import_detail"
        return reverse(f"leads:{name}", kwargs={"job_id": self.pk})

    @property
    def is_finished(self) -> bool:
        return self.status in {self.Status.DONE, self.Status.FAILED}

    @property
    def count_summary(self) -> list[dict[str, object]]:
        """The row counters with labels (a dry run says what it would do)."""
        would = self.dry_run
        counts = [
            ("created", "Would create" if would else "Created", self.rows_created),
            ("updated", "Would update" if would else "Updated", self.rows_updated),
            ("unchanged", "Unchanged", self.rows_unchanged),
            ("rejected", "Rejected", self.rows_rejected),
        ]
        if self.cells_refused:
            counts.append(("refused", "Cells refused", self.cells_refused))
        if self.kind == self.Kind.TOUCHPOINTS:
            # A touchpoint is immutable: it is stored, already there, or refused.
            counts.pop(1)
        return [{"key": k, "label": label, "value": v} for k, label, v in counts]
