"""The planner's forms: the plan's period, target and reference period; a
name to save it under; the SLA to set its commitment on."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from django import forms

from crm.marketing.periods import preset_period
from crm.marketing.planner import MAX_CUSTOMERS, TARGET_KINDS

#: The longest plan or reference period, in days: two years.
MAX_PLAN_DAYS = 731
#: Dates the planner takes.
FIRST_DAY = dt.date(2000, 1, 1)
LAST_DAY = dt.date(2100, 12, 31)
#: The largest amount taken: beyond this a typo is likelier than a plan.
MAX_MONEY = Decimal("1000000000000")
REFERENCE_CHOICES = {
    "default": "The default (see below)",
    "custom": "Dates I pick",
}


def this_quarter(today: dt.date) -> tuple[dt.date, dt.date]:
    """The quarter ``today`` is in, as its first and last day."""
    start = preset_period("quarter", today).start
    following = (start + dt.timedelta(days=95)).replace(day=1)
    return start, following - dt.timedelta(days=1)


def _date_field(label: str, *, required: bool = True) -> forms.DateField:
    return forms.DateField(
        label=label,
        required=required,
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={
            "invalid": "Enter a date like 2026-01-31.",
            "required": "Give this date.",
        },
    )


class PlanForm(forms.Form):
    """What the planner works out: read from the query string (GET), so a
    plan is a link; ``cleaned_data["plan_args"]`` are ``plan_build``'s."""

    date_from = _date_field("Plan from (UTC)")
    date_to = _date_field("Plan to (UTC, included)")
    target_kind = forms.ChoiceField(
        label="Target",
        choices=list(TARGET_KINDS.items()),
        widget=forms.RadioSelect,
        error_messages={"invalid_choice": "Pick customers or revenue."},
    )
    target = forms.DecimalField(
        label="Target value",
        min_value=Decimal("0.01"),
        max_value=MAX_MONEY,
        max_digits=16,
        decimal_places=2,
        error_messages={
            "required": "Give a target: how many customers, or how much revenue.",
            "invalid": "Enter the target as a number, like 40 or 250000.",
            "min_value": "Give a target above zero.",
            "max_value": "Give a target of at most 1,000,000,000,000.",
            "max_digits": "Give a target of at most 1,000,000,000,000.",
            "max_decimal_places": "Give the target with at most two decimals.",
        },
    )
    average_deal = forms.DecimalField(
        label="Average deal size (optional)",
        required=False,
        min_value=Decimal("0.01"),
        max_value=MAX_MONEY,
        max_digits=16,
        decimal_places=2,
        error_messages={
            "invalid": "Enter the average deal size as a number, like 12000.",
            "min_value": "Give an average deal size above zero.",
            "max_value": "Give an average deal size of at most 1,000,000,000,000.",
            "max_digits": "Give an average deal size of at most 1,000,000,000,000.",
            "max_decimal_places": "Give the average deal size with at most two "
            "decimals.",
        },
    )
    reference = forms.ChoiceField(
        label="Reference period",
        choices=list(REFERENCE_CHOICES.items()),
        required=False,
        error_messages={"invalid_choice": "Pick the default or dates you pick."},
    )
    reference_from = _date_field("Reference from (UTC)", required=False)
    reference_to = _date_field("Reference to (UTC, included)", required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        args: dict[str, Any] = {}
        # Each part is checked when its own fields are clean, so one pass
        # names every problem there is.
        start, last = data.get("date_from"), data.get("date_to")
        if start is not None and last is not None:
            self._check_span(start, last, "date_to", "plan")
            args |= {"start": start, "end": last + dt.timedelta(days=1)}
        target, kind = data.get("target"), data.get("target_kind")
        if kind == "customers":
            if data.get("average_deal") is not None:
                self.add_error(
                    "average_deal",
                    "An average deal size is for a revenue target; leave it "
                    "empty for customers.",
                )
            if target is not None:
                if target != target.to_integral_value():
                    self.add_error("target", "Give a whole number of customers.")
                elif target > MAX_CUSTOMERS:
                    self.add_error(
                        "target", f"Give at most {MAX_CUSTOMERS:,} customers."
                    )
                args["target_customers"] = int(target)
        elif kind == "revenue":
            args["target_revenue"] = target
            args["average_deal"] = data.get("average_deal")
        if (data.get("reference") or "default") == "custom" and not (
            self.has_error("reference_from") or self.has_error("reference_to")
        ):
            ref_from, ref_to = data.get("reference_from"), data.get("reference_to")
            if ref_from is None or ref_to is None:
                self.add_error(
                    "reference_to",
                    "Give both reference dates, or use the default reference.",
                )
            else:
                self._check_span(ref_from, ref_to, "reference_to", "reference period")
                args["reference_start"] = ref_from
                args["reference_end"] = ref_to + dt.timedelta(days=1)
        data["plan_args"] = args
        return data

    def _check_span(self, first: dt.date, last: dt.date, field: str, what: str) -> None:
        for day in (first, last):
            if not FIRST_DAY <= day <= LAST_DAY:
                self.add_error(
                    field, f"Pick dates between 2000 and 2100 for the {what}."
                )
                return
        if last < first:
            self.add_error(field, f"The {what}'s last day comes before its first.")
            return
        days = (last - first).days + 1
        if days > MAX_PLAN_DAYS:
            self.add_error(
                field,
                f"Pick a {what} of at most {MAX_PLAN_DAYS} days (this is {days:,}).",
            )


class PlanSaveForm(PlanForm):
    """The plan's fields again (posted), and the name to save it under."""

    name = forms.CharField(
        max_length=200,
        error_messages={
            "required": "Give the plan a name.",
            "max_length": "Keep the name to 200 characters.",
        },
    )

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Give the plan a name.")
        return name


class CommitmentForm(forms.Form):
    """The SLA whose volume commitment the plan sets, and the figure the
    person confirmed (absent while they only preview it)."""

    sla = forms.TypedChoiceField(
        label="SLA",
        coerce=int,
        error_messages={
            "required": "Pick an SLA.",
            "invalid_choice": "Pick one of the active SLAs.",
        },
    )
    expected = forms.IntegerField(required=False, min_value=0, widget=forms.HiddenInput)

    def __init__(self, *args: Any, slas: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["sla"].choices = [("", "Pick an SLA")] + [
            (
                sla.id,
                f"{sla.name} ({sla.volume_commitment:,} per "
                f"{sla.get_volume_period_display().lower()} now)",
            )
            for sla in slas
        ]
