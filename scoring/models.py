"""Scoring models, their rules, and the scores they give leads and accounts.

The arithmetic lives in ``scoring/engine.py``; writes go through
``scoring/services/``.
"""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from crm.common.people import full_name
from leads.models import Account, Lead, Stage


class ScoringModel(models.Model):
    """A versioned set of rules and thresholds. Exactly one model is active."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        ACTIVE = "active", "Active"
        ARCHIVED = "archived", "Archived"

    name = models.CharField(max_length=120)
    version = models.PositiveIntegerField(default=1)
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.DRAFT
    )
    mql_threshold = models.DecimalField(
        max_digits=9,
        decimal_places=2,
        default=Decimal("60"),
        help_text="A lead whose total reaches this becomes an MQL.",
    )
    min_fit_score = models.DecimalField(
        max_digits=9,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Optional: an MQL also needs at least this fit score.",
    )
    default_half_life_days = models.PositiveIntegerField(
        default=30,
        validators=[MinValueValidator(1)],
        help_text="Engagement points halve every this many days, unless a rule "
        "sets its own half-life.",
    )
    # Grade bands on the fit score: A at or above grade_a_min, and so on; D below C.
    grade_a_min = models.DecimalField(max_digits=9, decimal_places=2, default=40)
    grade_b_min = models.DecimalField(max_digits=9, decimal_places=2, default=25)
    grade_c_min = models.DecimalField(max_digits=9, decimal_places=2, default=10)
    notes = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    published_at = models.DateTimeField(null=True, blank=True)
    # Progress of the rescore that publishing starts (read by the page).
    rescore_total = models.PositiveIntegerField(default=0)
    rescore_done = models.PositiveIntegerField(default=0)
    rescore_finished_at = models.DateTimeField(null=True, blank=True)
    # The model that was active when this one was published: active again if
    # this one's publish rescore fails (see
    # scoring.services.publishing.rescore_run_fail).
    replaced = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Set when the publish rescore failed (and the model went back to draft);
    # cleared when it is published again. The error names no person.
    rescore_failed_at = models.DateTimeField(null=True, blank=True)
    rescore_error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-version", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["status"],
                condition=Q(status="active"),
                name="scoring_one_active_model",
                violation_error_message="Another scoring model is already active.",
            ),
            models.UniqueConstraint(
                fields=["name", "version"], name="scoring_model_version_unique"
            ),
            models.CheckConstraint(
                condition=Q(mql_threshold__gte=0), name="scoring_threshold_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"

    @property
    def is_editable(self) -> bool:
        return self.status == self.Status.DRAFT


class ScoringRule(models.Model):
    """One rule of a scoring model; see ``scoring.engine`` for what each kind does."""

    class Kind(models.TextChoices):
        FIT = "fit", "Fit"
        ENGAGEMENT = "engagement", "Engagement"
        NEGATIVE = "negative", "Negative"
        DISQUALIFYING = "disqualifying", "Disqualifying"

    class Operator(models.TextChoices):
        EQUALS = "equals", "equals"
        NOT_EQUALS = "not_equals", "is not"
        ONE_OF = "one_of", "is one of"
        NONE_OF = "none_of", "is none of"
        CONTAINS = "contains", "contains"
        STARTS_WITH = "starts_with", "starts with"
        MATCHES = "matches", "matches pattern"
        AT_LEAST = "at_least", "is at least"
        AT_MOST = "at_most", "is at most"
        BETWEEN = "between", "is between"
        IS_EMPTY = "is_empty", "is empty"

    model = models.ForeignKey(
        ScoringModel, on_delete=models.CASCADE, related_name="rules"
    )
    position = models.PositiveIntegerField(default=0)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    label = models.CharField(max_length=200)
    points = models.DecimalField(max_digits=9, decimal_places=2, default=0)
    # Fit and disqualifying rules: a condition on a lead or account attribute,
    # e.g. "seniority", "account.employee_count", "attributes.plan".
    attribute = models.CharField(max_length=100, blank=True)
    operator = models.CharField(max_length=16, choices=Operator.choices, blank=True)
    # The comparison value: a string, a number, a list (one of) or [low, high].
    value = models.JSONField(null=True, blank=True)
    # Engagement and negative rules: a touchpoint kind, optionally a condition
    # on one of its properties (e.g. property "url", contains "/pricing").
    touchpoint_kind = models.CharField(max_length=40, blank=True)
    property_name = models.CharField(max_length=100, blank=True)
    property_operator = models.CharField(
        max_length=16, choices=Operator.choices, blank=True
    )
    property_value = models.JSONField(null=True, blank=True)
    max_occurrences = models.PositiveIntegerField(
        null=True, blank=True, help_text="Count at most this many (the most recent)."
    )
    lookback_days = models.PositiveIntegerField(
        null=True, blank=True, help_text="Ignore touchpoints older than this."
    )
    half_life_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="Override the model's half-life for this rule.",
    )

    class Meta:
        ordering = ["model", "position", "id"]
        indexes = [models.Index(fields=["model", "position"], name="rule_order_idx")]

    def __str__(self) -> str:
        return self.label


class LeadScore(models.Model):
    """A lead's score under one scoring model, with the breakdown that explains it."""

    # No index of its own: lead_score_one_per_model starts with the lead, and
    # every rescore writes this row through each index it has.
    lead = models.ForeignKey(
        Lead, on_delete=models.CASCADE, related_name="scores", db_index=False
    )
    model = models.ForeignKey(
        ScoringModel, on_delete=models.CASCADE, related_name="lead_scores"
    )
    total = models.DecimalField(max_digits=9, decimal_places=2)
    fit_score = models.DecimalField(max_digits=9, decimal_places=2)
    engagement_score = models.DecimalField(max_digits=9, decimal_places=2)
    grade = models.CharField(max_length=1)
    # [{"rule": id, "label": str, "kind": str, "points": "12.50",
    #   "occurrences": n, "touchpoints": [ids], "attribute": str}, ...]
    breakdown = models.JSONField(default=list)
    gated_by = models.JSONField(
        default=list, blank=True, help_text="Disqualifying rules that hold."
    )
    computed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["lead", "model"], name="lead_score_one_per_model"
            )
        ]
        indexes = [
            # Rule analytics' minute refresh finds the scores written since
            # its last run: without it, a scan of every score each minute
            # (62 ms at 100k scores, growing with them); with it, under 1 ms.
            # Costs about a quarter more per score UPDATE (no HOT updates).
            models.Index(fields=["computed_at"], name="lead_score_computed_idx")
        ]

    def __str__(self) -> str:
        return f"{self.lead_id}: {self.total}"


class LeadScoreHistory(models.Model):
    """A lead's total each time it changed, for the score-over-time chart."""

    # No index of its own: score_history_idx starts with the lead.
    lead = models.ForeignKey(
        Lead, on_delete=models.CASCADE, related_name="score_history", db_index=False
    )
    model = models.ForeignKey(ScoringModel, on_delete=models.CASCADE, related_name="+")
    total = models.DecimalField(max_digits=9, decimal_places=2)
    fit_score = models.DecimalField(max_digits=9, decimal_places=2)
    engagement_score = models.DecimalField(max_digits=9, decimal_places=2)
    at = models.DateTimeField()

    class Meta:
        ordering = ["lead", "at", "id"]
        indexes = [models.Index(fields=["lead", "at"], name="score_history_idx")]

    def __str__(self) -> str:
        return f"{self.lead_id}: {self.total} at {self.at:%Y-%m-%d}"


class AccountScore(models.Model):
    """An account's engagement, rolled up from its leads (each one capped)."""

    account = models.ForeignKey(
        Account, on_delete=models.CASCADE, related_name="scores"
    )
    model = models.ForeignKey(ScoringModel, on_delete=models.CASCADE, related_name="+")
    engagement_score = models.DecimalField(max_digits=11, decimal_places=2)
    engaged_leads = models.PositiveIntegerField(default=0)
    computed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["account", "model"], name="account_score_one_per_model"
            )
        ]

    def __str__(self) -> str:
        return f"{self.account_id}: {self.engagement_score}"


class AccountRollupRequest(models.Model):
    """An account whose roll-up under a model a rescore moved, to refresh.

    Written in the rescore's transaction (append-only: a busy account's
    rescores never wait on each other for one row); after commit a task
    refreshes every account asked for so far and deletes the requests it
    took, so a burst of rescores of one account's leads costs one refresh,
    not one each. The minute reconciler takes what a lost message left.
    """

    # No constraint and no index: nothing to check or maintain on the hot
    # path; the refresh reads the whole (short) table.
    account = models.ForeignKey(
        Account,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    model = models.ForeignKey(
        ScoringModel,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    requested_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.account_id} under {self.model_id} at {self.requested_at}"


class RescoreChunk(models.Model):
    """One range of lead ids of a bulk rescore; its row makes progress idempotent.

    Created pending when the rescore starts; a chunk task finishes it with a
    conditional update, so a chunk that runs twice (a redelivered message)
    is counted once. Pending chunks that stay pending are re-enqueued.
    """

    model = models.ForeignKey(
        ScoringModel, on_delete=models.CASCADE, related_name="rescore_chunks"
    )
    # Which run: "publish" (counted on the model's progress) or "decay-<date>".
    run = models.CharField(max_length=40, default="publish")
    low = models.BigIntegerField()
    high = models.BigIntegerField()
    leads = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["model", "low"]
        constraints = [
            models.UniqueConstraint(
                fields=["model", "run", "low"], name="rescore_chunk_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.model_id} {self.run}: [{self.low}, {self.high})"


class PublishPreview(models.Model):
    """What publishing a draft would change, computed in the background.

    The publish page asks for one (scoring.previews.publish_preview_get) and
    shows "calculating" until its chunks are done. A preview answers for the
    draft's rules and settings as they were (``fingerprint``) against the
    model active then (``active``); once either changes, or it is old, the
    page asks for a new one.
    """

    class Status(models.TextChoices):
        RUNNING = "running", "Calculating"
        FINISHED = "finished", "Finished"

    model = models.ForeignKey(
        ScoringModel, on_delete=models.CASCADE, related_name="previews"
    )
    # The model active when it was asked for (compared with); None: none was.
    active = models.ForeignKey(
        ScoringModel, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    # A digest of the draft's spec (rules and settings) it simulates.
    fingerprint = models.CharField(max_length=64)
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.RUNNING
    )
    # The scoring time of every chunk, so decay is the same across the run.
    scored_at = models.DateTimeField()
    # Progress: leads to simulate (not erased when asked for) and simulated.
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    # scoring.simulation.model_simulate's counts, once finished.
    counts = models.JSONField(null=True, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    requested_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["model", "-requested_at", "-id"]
        indexes = [
            # The publish page's look-up: the latest preview of a draft's spec.
            models.Index(
                fields=["model", "fingerprint", "-requested_at"],
                name="publish_preview_lookup_idx",
            )
        ]

    def __str__(self) -> str:
        return f"Preview of {self.model_id} ({self.status})"


class PublishPreviewChunk(models.Model):
    """One range of lead ids of a preview; its row makes the counting idempotent.

    A chunk task stores its range's counts and finishes the row with a
    conditional update, so a chunk that runs twice is counted once; the last
    one to finish adds the chunks' counts up on the preview.
    """

    preview = models.ForeignKey(
        PublishPreview, on_delete=models.CASCADE, related_name="chunks"
    )
    low = models.BigIntegerField()
    high = models.BigIntegerField()
    leads = models.PositiveIntegerField(default=0)
    counts = models.JSONField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["preview", "low"]
        constraints = [
            models.UniqueConstraint(
                fields=["preview", "low"], name="publish_preview_chunk_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.preview_id}: [{self.low}, {self.high})"


class ModelReplay(models.Model):
    """A draft model replayed on a past period [start, end) next to the active
    model: what it would have made MQL, week by week. Computed in the
    background by ``crm.marketing.replay`` (it reads handoffs, which scoring
    must not); this row holds the request, its progress and the result."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    draft = models.ForeignKey(
        ScoringModel, on_delete=models.CASCADE, related_name="replays"
    )
    # The model the draft was compared with (the active one when it started).
    active = models.ForeignKey(
        ScoringModel, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    start = models.DateField()
    end = models.DateField()
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.PENDING
    )
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    result = models.JSONField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(end__gt=models.F("start")), name="replay_end_after_start"
            ),
        ]

    def __str__(self) -> str:
        return f"Replay {self.id} of model {self.draft_id} ({self.status})"

    @property
    def percent(self) -> int:
        return int(100 * self.done / self.total) if self.total else 0


class ModelSuggestion(models.Model):
    """A request for suggested points (``scoring.suggestion``) and its run in
    the background: the stage it is at and its progress, then the draft it
    created with its validation, or why it failed. Written only by
    ``scoring.services.suggestions``, with conditional updates."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    class Stage(models.TextChoices):
        READING = "reading", "Reading the leads"
        CANDIDATES = "candidates", "Scoring the candidate rules"
        FITTING = "fitting", "Fitting the points"
        VALIDATING = "validating", "Validating on the later leads"
        DRAFTING = "drafting", "Creating the draft"

    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    outcome = models.CharField(max_length=10)
    # Leads created before this moment are fitted on.
    cut_off = models.DateTimeField()
    name = models.CharField(max_length=120)
    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.QUEUED
    )
    # True while queued or running, NULL after: the unique index lets one
    # suggestion at a time hold it (a suggestion reads every lead; two at
    # once would only compete), whatever the number of web processes.
    in_progress = models.BooleanField(null=True, default=True, unique=True)
    stage = models.CharField(max_length=12, choices=Stage.choices, blank=True)
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    # Which delivery of the task holds the run, and how many claims it had:
    # only the latest claim may finish it (see suggestion_run).
    worker = models.CharField(max_length=64, blank=True)
    claims = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=500, blank=True)
    draft = models.ForeignKey(
        ScoringModel,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    auc_active = models.FloatField(null=True, blank=True)
    auc_suggested = models.FloatField(null=True, blank=True)
    result = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Suggestion {self.id} for {self.outcome} ({self.status})"

    @property
    def outcome_label(self) -> str:
        """The outcome stage as the pages name it, e.g. "Sales-qualified (SQL)"."""
        return Stage(self.outcome).label

    #: Share of the whole run each stage takes (about what it takes on the
    #: demo data), so that the bar moves on evenly through the stages.
    STAGE_WEIGHTS = {
        Stage.READING: 5,
        Stage.CANDIDATES: 55,
        Stage.FITTING: 15,
        Stage.VALIDATING: 20,
        Stage.DRAFTING: 5,
    }

    #: What each stage counts.
    STAGE_UNITS = {
        Stage.READING: "leads read",
        Stage.CANDIDATES: "leads scored",
        Stage.FITTING: "fits",
        Stage.VALIDATING: "leads scored",
        Stage.DRAFTING: "rules",
    }

    @property
    def requester(self) -> str:
        """Who asked for it, as pages name people ("" for nobody: the command)."""
        return full_name(self.requested_by, nobody="")

    @property
    def is_in_progress(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.RUNNING)

    @property
    def progress_text(self) -> str:
        """Where the run is, in words: "Scoring the candidate rules: 3,000 of
        11,000 leads scored"."""
        if self.status == self.Status.QUEUED or not self.stage:
            return "Waiting for the worker…"
        label = self.Stage(self.stage).label
        if not self.total:
            return f"{label}…"
        unit = self.STAGE_UNITS[self.Stage(self.stage)]
        return f"{label}: {self.done:,} of {self.total:,} {unit}"

    @property
    def percent(self) -> int:
        """The whole run's progress, 0 to 100."""
        if self.status == self.Status.DONE:
            return 100
        if not self.stage:
            return 0
        before = 0
        for stage, weight in self.STAGE_WEIGHTS.items():
            if stage == self.stage:
                share = min(self.done / self.total, 1.0) if self.total else 0.0
                return min(99, int(before + weight * share))
            before += weight
        return 0
