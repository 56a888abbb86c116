"""The SLA report page: managers' view of compliance, speed to lead and volume.

The view authorises (the report permission, which Admins hold, or the
manager flag), validates the filter form and hands its cleaned data to
``handoff.reports.sla_report``; every number comes from there. An invalid
filter renders the page with the form's errors and HTTP 400, and no figures
(they would answer a question nobody asked).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_safe

from handoff import reports, selectors
from handoff.views.access import report_access

CUSTOM = "custom"
_DATE_ERRORS = {"invalid": "Enter a real date as YYYY-MM-DD, e.g. 2026-03-01."}


class ReportFilterForm(forms.Form):
    """The period (a preset or custom whole UTC days), an SLA and a team.

    Filling in either date makes the period custom, whatever the preset says:
    without JavaScript a person who types dates and leaves the preset alone
    still gets the dates they typed.
    """

    period = forms.ChoiceField(
        choices=[
            *((str(days), f"Last {days} days") for days in reports.PERIOD_DAYS),
            (CUSTOM, "Custom dates"),
        ],
        required=False,
    )
    date_from = forms.DateField(
        required=False, label="From", error_messages=_DATE_ERRORS
    )
    date_to = forms.DateField(required=False, label="To", error_messages=_DATE_ERRORS)
    sla = forms.ModelChoiceField(
        queryset=selectors.sla_list(),
        required=False,
        empty_label="All SLAs",
        label="SLA",
    )
    team = forms.ModelChoiceField(
        queryset=selectors.team_list(),
        required=False,
        empty_label="All teams",
    )

    def __init__(self, *args: Any, today: dt.date, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.today = today
        # Normalise the period before validation, so the select shows what runs.
        if self.is_bound:
            data = self.data.copy()
            if data.get("date_from") or data.get("date_to"):
                data["period"] = CUSTOM
            elif not data.get("period"):
                data["period"] = str(reports.DEFAULT_PERIOD_DAYS)
            self.data = data

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        date_from, date_to = data.get("date_from"), data.get("date_to")
        if self.has_error("date_from") or self.has_error("date_to"):
            return data
        if data.get("period") == CUSTOM:
            if not date_from:
                self.add_error("date_from", "Choose the first day of the period.")
            if not date_to:
                self.add_error("date_to", "Choose the last day of the period.")
            if date_from and date_to:
                self._check_range(date_from, date_to)
        return data

    def _check_range(self, date_from: dt.date, date_to: dt.date) -> None:
        if date_to < date_from:
            self.add_error("date_to", "The period must end on or after its first day.")
        elif date_to > self.today:
            self.add_error(
                "date_to",
                f"The period cannot end after today ({self.today:%Y-%m-%d}, UTC).",
            )
        elif (date_to - date_from).days + 1 > reports.MAX_PERIOD_DAYS:
            self.add_error(
                "date_to",
                f"Choose at most {reports.MAX_PERIOD_DAYS} days; this period has "
                f"{(date_to - date_from).days + 1}.",
            )


@require_safe
@report_access
def sla_report(request: HttpRequest) -> HttpResponse:
    """GET /reports/sla/: the SLA report for Admins and managers (403 otherwise)."""
    now = timezone.now()
    form = ReportFilterForm(request.GET, today=now.astimezone(dt.UTC).date())
    context = {
        "form": form,
        "report": None,
        "now": now,
        "compliance_good": round(100 * reports.COMPLIANCE_GOOD),
        "compliance_warn": round(100 * reports.COMPLIANCE_WARN),
        "pace_tolerance": round(100 * reports.PACE_TOLERANCE),
        "feedback_snippets": reports.FEEDBACK_SNIPPETS,
        "max_days": reports.MAX_PERIOD_DAYS,
    }
    if not form.is_valid():
        return render(request, "handoff/report.html", context, status=400)
    context["report"] = reports.sla_report(**form.cleaned_data, now=now)
    return render(request, "handoff/report.html", context)
