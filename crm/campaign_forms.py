"""The campaign pages' forms: a campaign's facts and a line of its spend."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from django import forms

from crm.marketing.campaign_report import DEFAULT_MODEL, MODEL_LABELS, SORTS
from crm.marketing.periods import PeriodForm
from leads.models import Campaign

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")


class CampaignForm(forms.Form):
    """A campaign's facts; ``campaign`` is the one edited (None: a new one)."""

    name = forms.CharField(max_length=200)
    channel = forms.ChoiceField(choices=Campaign.Channel.choices)
    budget = forms.DecimalField(
        label="Budget (planned spend)",
        min_value=0,
        max_digits=12,
        decimal_places=2,
        error_messages={"min_value": "The budget must not be negative."},
    )
    starts_on = forms.DateField(
        label="Starts on",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    ends_on = forms.DateField(
        label="Ends on", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    utm_source = forms.CharField(label="UTM source", max_length=100, required=False)
    utm_medium = forms.CharField(label="UTM medium", max_length=100, required=False)
    utm_campaign = forms.CharField(label="UTM campaign", max_length=200, required=False)

    def __init__(self, *args: Any, campaign: Campaign | None = None, **kwargs: Any):
        self.campaign = campaign
        if campaign is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                name: getattr(campaign, name) for name in self.base_fields
            }
        super().__init__(*args, **kwargs)

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        others = Campaign.objects.filter(name=name)
        if self.campaign is not None:
            others = others.exclude(id=self.campaign.id)
        if others.exists():
            raise forms.ValidationError(f"Another campaign is already called “{name}”.")
        return name

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        starts_on, ends_on = data.get("starts_on"), data.get("ends_on")
        if starts_on and ends_on and ends_on < starts_on:
            self.add_error("ends_on", "The end date must not be before the start.")
        return data


class SpendForm(forms.Form):
    """One line of actual spend: the month (YYYY-MM), the amount, a note."""

    month = forms.CharField(
        label="Month (YYYY-MM)",
        max_length=7,
        widget=forms.TextInput(attrs={"type": "month", "placeholder": "YYYY-MM"}),
    )
    amount = forms.DecimalField(
        min_value=0,
        max_digits=12,
        decimal_places=2,
        error_messages={"min_value": "The amount must not be negative."},
    )
    note = forms.CharField(max_length=300, required=False)

    def clean_month(self) -> dt.date:
        text = self.cleaned_data["month"].strip()
        match = _MONTH.match(text)
        if match:
            year, month = int(match[1]), int(match[2])
            if 2000 <= year <= 2100 and 1 <= month <= 12:
                return dt.date(year, month, 1)
        raise forms.ValidationError("Enter the month as YYYY-MM, for example 2026-03.")


class CampaignReportForm(PeriodForm):
    """The campaign report's GET parameters: a period (this quarter by
    default), an attribution model (linear by default) and, on the list, the
    column the table is sorted by (``order``: a SORTS key, "-" first for
    highest first; by name by default)."""

    default_period = "quarter"

    model = forms.ChoiceField(
        choices=list(MODEL_LABELS.items()), required=False, label="Attribution"
    )
    order = forms.ChoiceField(
        choices=[(f"{sign}{key}", key) for key in SORTS for sign in ("", "-")],
        required=False,
    )

    def __init__(self, *args: Any, today: dt.date, **kwargs: Any) -> None:
        super().__init__(*args, today=today, **kwargs)
        self.fields["model"].error_messages["invalid_choice"] = (
            "Pick first touch, last touch, linear, U-shaped, W-shaped or time decay."
        )
        self.fields["order"].error_messages["invalid_choice"] = (
            "Sort by one of the table's columns."
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not self.errors:
            data["model"] = data.get("model") or DEFAULT_MODEL
            data["order"] = data.get("order") or "name"
        return data
