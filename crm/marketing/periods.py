"""The period picker of the marketer's pages: whole UTC days ``[start, end)``.

A preset runs to the end of today ("this month" is this month so far); custom
dates are both inclusive on the form and become ``[from, to + 1 day)``. The
previous period is the one of the same length just before, so pages that
compare two periods compare like with like.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django import forms

#: Period choices of the picker: value -> label.
PERIODS = {
    "month": "This month",
    "quarter": "This quarter",
    "90d": "Last 90 days",
    "custom": "Custom dates",
}
#: The longest custom period, in days: two years.
MAX_PERIOD_DAYS = 731
#: Custom dates the picker takes (the previous period must fit after FIRST_DAY).
FIRST_DAY = dt.date(1970, 1, 1)
LAST_DAY = dt.date(9998, 12, 31)


@dataclass(frozen=True)
class Period:
    """Whole UTC days ``[start, end)`` and how the page names them."""

    start: dt.date
    end: dt.date
    label: str

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    @property
    def last_day(self) -> dt.date:
        return self.end - dt.timedelta(days=1)

    def previous(self) -> Period:
        start = self.start - dt.timedelta(days=self.days)
        return Period(start, self.start, "Previous period")

    @property
    def span(self) -> str:
        return f"{_day(self.start)} \u2013 {_day(self.last_day)}"


def _day(day: dt.date) -> str:
    return f"{day.day} {day:%b %Y}"


def preset_period(key: str, today: dt.date) -> Period:
    """The preset ``key`` (not ``custom``) up to the end of ``today``."""
    end = today + dt.timedelta(days=1)
    if key == "month":
        start = today.replace(day=1)
    elif key == "quarter":
        start = today.replace(month=3 * ((today.month - 1) // 3) + 1, day=1)
    elif key == "90d":
        start = end - dt.timedelta(days=90)
    else:
        raise ValueError(f"No preset period {key!r}.")
    return Period(start, end, PERIODS[key])


class PeriodForm(forms.Form):
    """The picker's GET parameters; ``cleaned_data["range"]`` is the Period.

    With neither a period nor dates the period is ``default_period``; dates
    alone make it custom.
    """

    #: The preset used when the request names none.
    default_period = "month"

    period = forms.ChoiceField(choices=list(PERIODS.items()), required=False)
    date_from = forms.DateField(required=False, label="From")
    date_to = forms.DateField(required=False, label="To")

    def __init__(self, *args: object, today: dt.date, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.today = today
        for name in ("date_from", "date_to"):
            self.fields[name].error_messages["invalid"] = (
                "Enter a date like 2026-01-31."
            )
        self.fields["period"].error_messages["invalid_choice"] = (
            "Pick this month, this quarter, the last 90 days or custom dates."
        )

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        if self.errors:
            return data
        key = data.get("period") or ""
        start, end = data.get("date_from"), data.get("date_to")
        if not key:
            key = "custom" if start or end else self.default_period
            data["period"] = key
        if key != "custom":
            data["range"] = preset_period(key, self.today)
            return data
        if start is None or end is None:
            raise forms.ValidationError("Give both a from and a to date.")
        for day in (start, end):
            if not FIRST_DAY <= day <= LAST_DAY:
                raise forms.ValidationError(
                    f"Pick dates between {_day(FIRST_DAY)} and {_day(LAST_DAY)}."
                )
        if end < start:
            raise forms.ValidationError("The to date comes before the from date.")
        days = (end - start).days + 1
        if days > MAX_PERIOD_DAYS:
            raise forms.ValidationError(
                f"Pick at most {MAX_PERIOD_DAYS} days (this is {days:,})."
            )
        if start - dt.timedelta(days=days) < FIRST_DAY:
            raise forms.ValidationError(
                f"Pick a later from date: the period before it starts before "
                f"{_day(FIRST_DAY)}."
            )
        data["range"] = Period(start, end + dt.timedelta(days=1), "Custom dates")
        return data
