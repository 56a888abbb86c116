"""The audit log: who did what to which lead's data."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


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
        LEAD_REASSIGN = "lead_reassign", "Lead reassigned to another rep"
        RULE_EDIT = "rule_edit", "Scoring draft edited"
        MODEL_PUBLISH = "model_publish", "Scoring model published"
        ROLE_CHANGE = "role_change", "User's roles or staff flags changed"
        TOKEN_ISSUE = "token_issue", "API token issued"
        LEAD_CREATE = "lead_create", "Lead created by a person"
        LEAD_EDIT = "lead_edit", "Lead edited"
        ACCOUNT_EDIT = "account_edit", "Account edited"
        CAMPAIGN_CREATE = "campaign_create", "Campaign created"
        CAMPAIGN_EDIT = "campaign_edit", "Campaign edited"
        CAMPAIGN_DELETE = "campaign_delete", "Unused campaign deleted"
        SPEND_ADD = "spend_add", "Campaign spend line added"
        SPEND_EDIT = "spend_edit", "Campaign spend line edited"
        SPEND_DELETE = "spend_delete", "Campaign spend line deleted"
        ACCOUNT_DELETE = "account_delete", "Account deleted, its leads detached"
        USER_DEACTIVATE = "user_deactivate", "User deactivated, their work reassigned"
        USER_DELETE = "user_delete", "User who owned nothing deleted"
        PLAN_CREATE = "plan_create", "MQL plan saved"
        PLAN_DELETE = "plan_delete", "MQL plan deleted"
        SLA_COMMITMENT = "sla_commitment", "SLA volume commitment changed"
        TRACKING_CREATE = "tracking_create", "Tracking source created"
        TRACKING_EDIT = "tracking_edit", "Tracking source edited"
        TRACKING_ROTATE = "tracking_rotate", "Tracking write key rotated"
        EVENT_MAPPING_SET = "event_mapping_set", "Event mapping set"
        EVENT_MAPPING_DELETE = "event_mapping_delete", "Event mapping deleted"

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
