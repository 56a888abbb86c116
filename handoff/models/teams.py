"""SDR teams and their members, and the per-person settings of SDRs and reps."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from handoff.models.constraints import unique


class Team(models.Model):
    """People who share work, and how new work is spread among them.

    An SDR team shares a queue of MQLs; a sales team (an SLA's
    ``sales_team``) shares the SLA's accepted leads.
    """

    class Strategy(models.TextChoices):
        ROUND_ROBIN = "round_robin", "Round robin"
        WEIGHTED = "weighted", "Weighted round robin"
        LEAST_LOADED = "least_loaded", "Least loaded (fewest open handoffs)"

    name = models.CharField(max_length=100, unique=True)
    strategy = models.CharField(
        max_length=16, choices=Strategy.choices, default=Strategy.ROUND_ROBIN
    )
    # Incremented under the team's row lock at every assignment; a member's
    # last_turn orders round robin exactly, even within one clock tick.
    turn = models.PositiveBigIntegerField(default=0)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="TeamMember", related_name="sdr_teams"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class TeamMember(models.Model):
    """One SDR in a team, with the limits and counters assignment uses."""

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    is_active = models.BooleanField(default=True)
    weight = models.PositiveSmallIntegerField(
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text="Share of new MQLs under weighted round robin (1-100).",
    )
    daily_cap = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="Most new handoffs per calendar day; empty for no cap.",
    )
    open_cap = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="Most pending handoffs at once; empty for no cap.",
    )
    # Written only by handoff.assignment under the team's row lock.
    assigned_count = models.PositiveIntegerField(default=0)
    last_turn = models.PositiveBigIntegerField(default=0)
    last_assigned_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["team", "id"]
        constraints = [
            unique(
                "team",
                "user",
                name="team_member_unique",
                message="This person is already in the team.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.team}"


class SalesProfile(models.Model):
    """Per-person settings of SDRs and reps: away, manager."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sales_profile"
    )
    is_away = models.BooleanField(
        default=False, help_text="Away people get no new handoffs."
    )
    away_until = models.DateField(
        null=True,
        blank=True,
        help_text="Back on this date (no new handoffs until then); empty if unknown.",
    )
    is_manager = models.BooleanField(
        default=False,
        help_text="Sees the SLA report and may decide any handoff.",
    )

    def __str__(self) -> str:
        return f"Profile of {self.user}"

    def away_on(self, day: dt.date) -> bool:
        return self.is_away or (self.away_until is not None and day < self.away_until)
