"""Website tracking: the sources that send (the site snippet, Segment or
RudderStack SDKs), anonymous visitors, the events kept apart from
touchpoints, and how event names map to touchpoint kinds.

Written only by ``leads.tracking`` (services, ingestion, stitching).
"""

from __future__ import annotations

import re

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from leads.models.activity import Campaign, TouchpointKind
from leads.models.people import Lead

#: Touchpoint property (value true) on the history of a visitor moved to its
#: lead at identification.
BEFORE_IDENTIFICATION = "before_identification"
#: Touchpoints from tracking have ``source = TRACKING_SOURCE_PREFIX + str(id)``
#: and ``external_id = messageId``, so a message replayed after stitching is
#: still a duplicate.
TRACKING_SOURCE_PREFIX = "tracking:"

# One fixed, linear pattern (no backtracking) over at most 200 characters.
_SEPARATORS = re.compile(r"[\s_.\-]+")


def event_key(name: str) -> str:
    """An event name normalised for matching: lower-case, each run of spaces,
    underscores, hyphens and dots turned into one space, trimmed
    ("Demo_Requested", "demo requested" and "demo-requested " are one)."""
    return _SEPARATORS.sub(" ", name.lower()).strip()


class TrackingSource(models.Model):
    """Where tracked events come from: a website carrying the snippet, or a
    server sending with a Segment or RudderStack SDK. Its write key
    authenticates what it sends."""

    class Kind(models.TextChoices):
        SITE = "site", "Website snippet"
        SERVER = "server", "Segment or RudderStack SDK (server-side)"

    name = models.CharField(max_length=120, unique=True)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    write_key = models.CharField(max_length=64, unique=True)
    # After a rotation the old key keeps working until previous_key_valid_until.
    previous_write_key = models.CharField(max_length=64, blank=True)
    previous_key_valid_until = models.DateTimeField(null=True, blank=True)
    allowed_origins = models.TextField(
        blank=True,
        help_text="One origin per line, e.g. https://www.example.com. Browsers on "
        "other sites cannot send with this key.",
    )
    retention_days = models.PositiveIntegerField(
        default=180,
        help_text="Days an anonymous visitor's history is kept after its last visit.",
    )
    is_active = models.BooleanField(default=True)
    # Messages refused inside an accepted batch (invalid), and events counted
    # but not stored (a bot, or a visitor over its cap of anonymous events).
    rejected_count = models.PositiveBigIntegerField(default=0)
    dropped_count = models.PositiveBigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ["name"]
        permissions = [
            (
                "manage_tracking",
                "Can manage website tracking sources and event mappings",
            )
        ]
        indexes = [
            # The old key's lookup during its 24 hours of grace.
            models.Index(
                fields=["previous_write_key"],
                condition=~Q(previous_write_key=""),
                name="tracking_source_prev_key_idx",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def origins(self) -> list[str]:
        return [
            line.strip().rstrip("/")
            for line in self.allowed_origins.splitlines()
            if line.strip()
        ]

    @property
    def touchpoint_source(self) -> str:
        return f"{TRACKING_SOURCE_PREFIX}{self.pk}"


class Visitor(models.Model):
    """One browser or device as a source knows it (its anonymous id), with its
    first touch; ``lead`` once identified."""

    source = models.ForeignKey(
        TrackingSource, on_delete=models.CASCADE, related_name="visitors"
    )
    anonymous_id = models.CharField(max_length=200)
    lead = models.ForeignKey(
        Lead,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="visitors",
    )
    identified_at = models.DateTimeField(null=True, blank=True)
    first_seen_at = models.DateTimeField()
    # Retention deletes unidentified visitors by this (daily, per source).
    last_seen_at = models.DateTimeField(db_index=True)
    utm_source = models.CharField(max_length=200, blank=True)
    utm_medium = models.CharField(max_length=200, blank=True)
    utm_campaign = models.CharField(max_length=200, blank=True)
    utm_term = models.CharField(max_length=200, blank=True)
    utm_content = models.CharField(max_length=200, blank=True)
    referrer = models.CharField(max_length=2000, blank=True)
    landing_url = models.CharField(max_length=2000, blank=True)
    campaign = models.ForeignKey(
        Campaign, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    user_agent = models.CharField(max_length=500, blank=True)
    # Every event received, stored or not.
    events_count = models.PositiveIntegerField(default=0)
    is_bot = models.BooleanField(default=False)
    # Events received since burst_started_at: a visitor sending at a rate no
    # person reaches is marked a bot (leads.tracking.ingest).
    burst_started_at = models.DateTimeField(null=True, blank=True)
    burst_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-last_seen_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "anonymous_id"], name="visitor_anonymous_id_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"visitor {self.anonymous_id} of source {self.source_id}"


class TrackedEvent(models.Model):
    """What arrived but is not a touchpoint (yet): an anonymous visitor's
    history, and events whose name maps to no touchpoint kind (``kind`` null).
    """

    source = models.ForeignKey(
        TrackingSource, on_delete=models.CASCADE, related_name="+"
    )
    visitor = models.ForeignKey(
        Visitor,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="events",
    )
    lead = models.ForeignKey(
        Lead, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    # The name as sent; "page" for page views.
    event = models.CharField(max_length=200)
    event_key = models.CharField(max_length=200)
    # The kind it maps to; null while unmapped.
    kind = models.ForeignKey(
        TouchpointKind,
        to_field="code",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField(default=timezone.now)
    campaign = models.ForeignKey(
        Campaign, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    properties = models.JSONField(default=dict, blank=True)
    message_id = models.CharField(max_length=200)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "message_id"], name="tracked_event_message_unique"
            ),
        ]
        indexes = [
            # The event table's counts of kept unmapped events, and their
            # conversion when a mapping is set.
            models.Index(
                fields=["event_key"],
                condition=Q(kind__isnull=True),
                name="tracked_event_unmapped_idx",
            ),
            # Retention of unmapped events by age.
            models.Index(fields=["occurred_at"], name="tracked_event_time_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event} at {self.occurred_at:%Y-%m-%d}"


class EventMapping(models.Model):
    """Which touchpoint kind an event name means; ``kind`` null: ignored on
    purpose (counted, never a touchpoint)."""

    event_key = models.CharField(max_length=200, unique=True)
    # As first written, shown on the settings page.
    event = models.CharField(max_length=200)
    kind = models.ForeignKey(
        TouchpointKind,
        to_field="code",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ["event_key"]

    def __str__(self) -> str:
        return f"{self.event} -> {self.kind_id or 'ignored'}"
