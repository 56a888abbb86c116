"""Business calendars: when an SLA's clock runs."""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from handoff import business_hours
from handoff.models.constraints import unique


def validate_time_zone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationError(
            f"Unknown time zone {value!r}; use an IANA name such as "
            "'Europe/Berlin' or 'America/New_York'."
        ) from exc


class BusinessCalendar(models.Model):
    """When the SLA clock runs: working days and hours in a time zone, holidays."""

    name = models.CharField(max_length=100, unique=True)
    time_zone = models.CharField(
        max_length=64, default="UTC", validators=[validate_time_zone]
    )
    monday = models.BooleanField(default=True)
    tuesday = models.BooleanField(default=True)
    wednesday = models.BooleanField(default=True)
    thursday = models.BooleanField(default=True)
    friday = models.BooleanField(default=True)
    saturday = models.BooleanField(default=False)
    sunday = models.BooleanField(default=False)
    day_start = models.TimeField(default=dt.time(9, 0))
    day_end = models.TimeField(default=dt.time(17, 0))

    DAY_FIELDS = (
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(day_end__gt=models.F("day_start")),
                name="calendar_day_end_after_start",
                violation_error_message="Working hours must end after they start.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.time_zone})"

    def clean(self) -> None:
        if not any(getattr(self, day) for day in self.DAY_FIELDS):
            raise ValidationError("Choose at least one working day.")

    def spec(self) -> business_hours.Calendar:
        """The calendar as plain data for ``handoff.business_hours``."""
        return business_hours.Calendar(
            time_zone=self.time_zone,
            working_days=frozenset(
                i for i, day in enumerate(self.DAY_FIELDS) if getattr(self, day)
            ),
            day_start=self.day_start,
            day_end=self.day_end,
            holidays=frozenset(h.date for h in self.holidays.all()),
        )


class Holiday(models.Model):
    """A local date on which the calendar's SLA clock does not run."""

    calendar = models.ForeignKey(
        BusinessCalendar, on_delete=models.CASCADE, related_name="holidays"
    )
    date = models.DateField()
    name = models.CharField(max_length=100)

    class Meta:
        ordering = ["date"]
        constraints = [
            unique(
                "calendar",
                "date",
                name="holiday_unique_per_calendar",
                message="The calendar already has a holiday that day.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.date:%Y-%m-%d} {self.name}"
