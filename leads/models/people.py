"""Accounts and leads: who the lead is, where it stands, how it scores."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import DateTimeField, F, Q, Value
from django.db.models.functions import Coalesce, Lower
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


#: The stages a sales pipeline board shows, a column each.
PIPELINE_STAGES = ("sal", "sql", "opportunity")
#: Where a pipeline lead with neither a follow-up time nor a stage change sorts.
FOLLOW_UP_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def follow_up_sort_at() -> Coalesce:
    """The time a pipeline column sorts a lead by within its follow-up group:
    the stored follow-up time, else when the lead entered its stage. The
    pipeline indexes hold this very expression; a query must order by it
    (not an equivalent one) for PostgreSQL to read them."""
    return Coalesce(
        F("follow_up_at"),
        F("stage_changed_at"),
        Value(FOLLOW_UP_EPOCH),
        output_field=DateTimeField(),
    )


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
    # No index of its own: lead_owner_stage_idx starts with the owner.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_leads",
        db_index=False,
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

    # The lead's place in its sales pipeline column, from its latest accepted
    # handoff's follow-up clock: the group (0 running, 1 followed up, 2 no
    # clock) and the time sorted by within it (the due time, or the last
    # contact; None: when the lead entered its stage, see follow_up_sort_at).
    # Written only by handoff/services/follow_up.py, in the transaction of
    # every change to the clock, so each column is a range of one index.
    follow_up_group = models.PositiveSmallIntegerField(default=2)
    follow_up_at = models.DateTimeField(null=True, blank=True)

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
    # every page shows it without a join. Written only by the scoring app's
    # store (scoring/store.py, both rescore paths); the breakdown lives there.
    # No index on the lead row holds it: lists sort by it through LeadRank,
    # so a rescore rewrites the lead in place (see LeadRank).
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
            # A rep's pipeline column and the team pipeline's, each page a
            # range read in follow-up order (handoff.selectors._board_pages).
            models.Index(
                F("owner"),
                F("stage"),
                F("follow_up_group"),
                follow_up_sort_at(),
                F("id"),
                name="lead_pipeline_owner_idx",
                condition=Q(stage__in=PIPELINE_STAGES),
            ),
            models.Index(
                F("stage"),
                F("follow_up_group"),
                follow_up_sort_at(),
                F("id"),
                name="lead_pipeline_team_idx",
                condition=Q(stage__in=PIPELINE_STAGES),
            ),
            models.Index(fields=["country"], name="lead_country_idx"),
            # The dashboard's source and region filters pick lead ids from
            # these alone (index-only), not from the whole table.
            models.Index(fields=["source", "id"], name="lead_source_idx"),
            models.Index(fields=["region", "id"], name="lead_region_idx"),
            models.Index(fields=["-created_at", "-id"], name="lead_created_idx"),
            models.Index(fields=["highest_stage"], name="lead_highest_stage_idx"),
            # The reconciler's scan for leads whose rescore is overdue.
            models.Index(
                fields=["rescore_requested_at"],
                name="lead_rescore_pending_idx",
                condition=Q(rescore_requested_at__isnull=False),
            ),
            # The funnel roll-up's scan for leads changed since its last run.
            models.Index(fields=["updated_at"], name="lead_updated_idx"),
            # The leads that first entered a stage on a day: the funnel's flow
            # medians and its roll-up, and campaign attribution's rebuild of a
            # day (first MQL, SQL and customer).
            *(
                models.Index(
                    fields=[f"entered_{stage}_at"],
                    name=name,
                    condition=Q(**{f"entered_{stage}_at__isnull": False}),
                )
                for stage, name in (
                    ("mql", "lead_entered_mql_idx"),
                    ("sal", "lead_entered_sal_idx"),
                    ("sql", "lead_entered_sql_idx"),
                    ("opportunity", "lead_entered_oppor_idx"),
                    ("customer", "lead_entered_customer_idx"),
                )
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


class LeadRank(models.Model):
    """A lead's stage and score, copied by the database for the lists sorted by score.

    A bulk rescore rewrites the score columns of every lead. With the indexes
    that sort lists by score on the wide lead row, each of those writes added
    an entry to each of the row's indexes (about 17 WAL records a lead, most
    of a chunk's write time). Kept here, in a narrow table, the lead's own
    update touches no indexed column and PostgreSQL rewrites it in place on
    its page (a heap-only tuple; the lead table's fillfactor leaves the room),
    while this table's row and its two indexes are all that move.

    Rows are written by database triggers on ``leads_lead`` (migration
    ``leads.0023_lead_rank``), never by the application: every insert, update
    of the stage or score and delete of a lead, from the ORM, raw SQL or
    COPY, keeps its copy in step in the same statement. On SQLite a
    migration that rebuilds ``leads_lead`` drops its triggers; such a
    migration must create them again (a test checks they exist).
    """

    lead = models.OneToOneField(
        Lead,
        primary_key=True,
        related_name="rank",
        # The triggers delete the row with its lead; no constraint to check.
        on_delete=models.DO_NOTHING,
        db_constraint=False,
    )
    stage = models.CharField(max_length=16, choices=Stage.choices)
    score = models.DecimalField(max_digits=9, decimal_places=2)

    class Meta:
        indexes = [
            # Lead lists by stage, best score first (keyset pagination).
            models.Index(
                fields=["stage", "-score", "-lead"], name="lead_rank_stage_score_idx"
            ),
            models.Index(fields=["-score", "-lead"], name="lead_rank_score_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.lead_id}: {self.stage} {self.score}"
