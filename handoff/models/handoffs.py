"""Handoffs and what happens to them: contact attempts, events, sales outcomes."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from handoff.models.constraints import unique
from handoff.models.slas import RejectionReason, ServiceLevelAgreement
from handoff.models.teams import Team


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
            unique(
                "lead",
                condition=Q(status="pending"),
                name="handoff_one_pending_per_lead",
                message="This lead already has a pending handoff.",
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
            # The SAL queue's team section: a team's pending handoffs counted
            # and each calendar's first page read by due time, index-only (the
            # SLA picks the calendar, the assignee is left out of the section).
            models.Index(
                fields=["team", "due_at", "id"],
                include=["assigned_to", "sla"],
                condition=Q(status="pending"),
                name="handoff_pending_team_idx",
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
            # A sales team's routing counts per rep (the accept form's
            # suggestion, the accept): the leads accepted to them since the
            # day's start, and their accepted leads (``lead`` joined to the
            # lead's stage): both read from the index alone, never the wide
            # rows of every handoff.
            models.Index(
                fields=["owner", "decided_at"],
                include=["lead"],
                condition=Q(status="accepted"),
                name="handoff_accepted_owner_idx",
            ),
            # The pipelines' follow-up order and cards: each lead's handoffs,
            # latest decision first, with what the order reads of them.
            models.Index(
                fields=["lead", "-decided_at", "-id"],
                include=["status", "followed_up_at", "follow_up_due_at"],
                name="handoff_lead_decided_idx",
            ),
            # The reports of a period (compliance, speed to lead, weekly
            # volume) and an SDR's handoffs of the day (the daily cap): every
            # column they read is in the index, so they count from it alone
            # (index-only scans, never the wide rows).
            models.Index(
                fields=["created_at"],
                include=[
                    "id",
                    "status",
                    "sequence",
                    "sla",
                    "team",
                    "lead",
                    "assigned_to",
                    "decided_at",
                    "due_at",
                    "mql_at",
                    "first_attempt_at",
                ],
                name="handoff_period_idx",
            ),
            # Rejections per reason, and each reason's latest feedback.
            models.Index(
                fields=["reason", "-decided_at", "-id"],
                include=["created_at", "sla", "team", "lead"],
                condition=Q(status="rejected"),
                name="handoff_rejected_idx",
            ),
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
        indexes = [
            # A handoff's latest attempt (the pipelines' order by last
            # contact): one backward step in the index per handoff.
            models.Index(fields=["handoff", "at"], name="attempt_handoff_at_idx"),
        ]

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
        HANDED_TO_SALES = "handed_to_sales", "Handed to sales"

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
    #: The deal's value in ``settings.CURRENCY``: the amount expected when an
    #: opportunity opens, the amount won when it closes won; None otherwise.
    amount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    #: When the rep expects an opened opportunity to close; None otherwise.
    expected_close_on = models.DateField(null=True, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["at"], name="sales_outcome_at_idx"),
            # Each lead's latest opportunity opening (its deal on the
            # pipelines' cards and in their totals): one index step per lead.
            models.Index(
                fields=["lead", "-at", "-id"],
                include=["amount", "expected_close_on"],
                condition=Q(to_stage="opportunity", reason__isnull=True),
                name="sales_outcome_deal_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"Lead {self.lead_id}: {self.from_stage} -> {self.to_stage}"
