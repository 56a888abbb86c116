"""Where leads come in besides the API: public web forms and CSV imports."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from leads.models.activity import Campaign, TouchpointKind


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
