"""The marketer's dashboard: a period, the funnel against the period before,
MQL volume against the SLAs' commitments and how SDRs and sales take the MQLs.

Periods are whole UTC days ``[start, end)``, as the funnel counts them. A
preset runs to the end of today ("this month" is this month so far), and the
previous period is the one of the same length just before it, so the two
compare like with like.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from urllib.parse import urlencode

from django import forms
from django.db.models import QuerySet
from django.urls import reverse

from crm.marketing.filters import NO_FILTERS, FunnelFilters
from crm.marketing.funnel import MODES, FunnelStage, funnel
from crm.templatetags.crm_tags import stage_short
from handoff.reports import (
    ReasonRow,
    ReportScope,
    WeekVolume,
    compliance_totals,
    rejection_reasons,
    sales_outcomes,
    volume_by_week,
)
from handoff.reports.sales import CountRow
from leads.lifecycle import FUNNEL
from leads.models import Lead

#: Period choices of the picker: value -> label. The first is the default.
PERIODS = {
    "month": "This month",
    "quarter": "This quarter",
    "90d": "Last 90 days",
    "custom": "Custom dates",
}
MODE_LABELS = {"cohort": "Cohort", "flow": "Flow"}
#: The longest custom period, in days: two years.
MAX_PERIOD_DAYS = 731
#: Custom dates the picker takes (the previous period must fit after FIRST_DAY).
FIRST_DAY = dt.date(1970, 1, 1)
LAST_DAY = dt.date(9998, 12, 31)
#: Rejection reasons shown on the dashboard, for SDRs and for sales each.
TOP_REASONS = 3


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


class DashboardForm(forms.Form):
    """The picker's GET parameters; every choice has a default."""

    period = forms.ChoiceField(choices=list(PERIODS.items()), required=False)
    date_from = forms.DateField(required=False, label="From")
    date_to = forms.DateField(required=False, label="To")
    mode = forms.ChoiceField(choices=list(MODE_LABELS.items()), required=False)

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
        self.fields["mode"].error_messages["invalid_choice"] = "Pick cohort or flow."

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        if self.errors:
            return data
        key = data.get("period") or ""
        start, end = data.get("date_from"), data.get("date_to")
        if not key:
            key = "custom" if start or end else "month"
            data["period"] = key
        data["mode"] = data.get("mode") or MODES[0]
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


@dataclass(frozen=True)
class FunnelRow:
    """One funnel stage this period, the previous period, and its lead lists."""

    stage: str
    label: str
    current: FunnelStage
    previous: FunnelStage
    url: str
    previous_url: str

    @property
    def change(self) -> int:
        return self.current.count - self.previous.count

    @property
    def change_percent(self) -> Decimal | None:
        """The change as a percent of the previous count; None from zero."""
        if not self.previous.count:
            return None
        return (Decimal(100) * self.change / self.previous.count).quantize(Decimal("1"))

    @property
    def rate_percent(self) -> Decimal | None:
        return _percent(self.current.rate_from_previous)

    @property
    def previous_rate_percent(self) -> Decimal | None:
        return _percent(self.previous.rate_from_previous)


def _percent(rate: Decimal | None) -> Decimal | None:
    return None if rate is None else (rate * 100).quantize(Decimal("0.1"))


def _midnight(day: dt.date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


def funnel_list_url(
    *, stage: str, period: Period, mode: str, filters: FunnelFilters = NO_FILTERS
) -> str:
    """The lead list of exactly the leads a funnel count counts, the
    dashboard's filters included."""
    if mode == "cohort":
        params = {
            "created_after": _midnight(period.start),
            "created_before": _midnight(period.end),
        }
        if stage != FUNNEL[0]:
            params["reached"] = stage
    elif stage == FUNNEL[0]:
        params = {
            "created_after": _midnight(period.start),
            "created_before": _midnight(period.end),
        }
    else:
        params = {
            "entered": stage,
            "entered_after": _midnight(period.start),
            "entered_before": _midnight(period.end),
        }
    params |= filters.params()
    return f"{reverse('crm:lead_list')}?{urlencode(params)}"


def funnel_rows(
    *, period: Period, mode: str, filters: FunnelFilters = NO_FILTERS
) -> list[FunnelRow]:
    """The funnel's stages in order, each against the previous period, over
    the leads ``filters`` picks."""
    previous = period.previous()
    now_stages = funnel(start=period.start, end=period.end, mode=mode, filters=filters)
    before_stages = funnel(
        start=previous.start, end=previous.end, mode=mode, filters=filters
    )
    return [
        FunnelRow(
            stage=current.stage,
            label=stage_short(current.stage),
            current=current,
            previous=before,
            url=funnel_list_url(
                stage=current.stage, period=period, mode=mode, filters=filters
            ),
            previous_url=funnel_list_url(
                stage=current.stage, period=previous, mode=mode, filters=filters
            ),
        )
        for current, before in zip(now_stages, before_stages, strict=True)
    ]


def funnel_chart(rows: list[FunnelRow], period: Period) -> dict[str, object]:
    """What the chart script draws (passed with ``json_script``)."""
    return {
        "labels": [row.label for row in rows],
        "series": [
            {"label": period.span, "counts": [row.current.count for row in rows]},
            {
                "label": period.previous().span,
                "counts": [row.previous.count for row in rows],
            },
        ],
    }


@dataclass(frozen=True)
class Acceptance:
    """How SDRs and sales took the MQLs handed off in the period."""

    accepted: int
    rejected: int
    sdr_reasons: list[ReasonRow]
    sales_reasons: list[CountRow]

    @property
    def decided(self) -> int:
        return self.accepted + self.rejected

    @property
    def rate_percent(self) -> Decimal | None:
        """Accepted over decided, in percent; None when nobody decided."""
        if not self.decided:
            return None
        return (Decimal(100) * self.accepted / self.decided).quantize(Decimal("0.1"))


def _filtered_leads(filters: FunnelFilters) -> QuerySet[Lead] | None:
    """The leads the campaign, channel, source and region filters pick, or
    None when none of them is set (the SLA filter applies to handoffs)."""
    if not filters.narrows_leads:
        return None
    return FunnelFilters(
        campaign_id=filters.campaign_id,
        channel=filters.channel,
        source=filters.source,
        region=filters.region,
    ).apply(Lead.objects.all())


def _scope(period: Period, now: dt.datetime, filters: FunnelFilters) -> ReportScope:
    return ReportScope(
        start=dt.datetime.combine(period.start, dt.time.min, dt.UTC),
        end=dt.datetime.combine(period.end, dt.time.min, dt.UTC),
        now=now,
        label=period.span,
        sla_id=filters.sla_id,
        leads=_filtered_leads(filters),
    )


def acceptance(
    *, period: Period, now: dt.datetime, filters: FunnelFilters = NO_FILTERS
) -> Acceptance:
    """SDR decisions on the handoffs assigned in the period, and the top
    reasons SDRs rejected and sales sent leads back (the SLA report's
    selectors over the same period). Every filter applies: the SLA to the
    handoffs, the others to the handoffs' leads."""
    scope = _scope(period, now, filters)
    totals = compliance_totals(scope=scope)
    return Acceptance(
        accepted=totals.accepted,
        rejected=totals.rejected,
        sdr_reasons=rejection_reasons(scope=scope)[:TOP_REASONS],
        sales_reasons=sales_outcomes(scope=scope).reasons[:TOP_REASONS],
    )


def mql_weeks(
    *, period: Period, filters: FunnelFilters = NO_FILTERS
) -> list[WeekVolume]:
    """MQLs delivered per week of the period against the SLAs' commitments.

    The SLA filter keeps that SLA's MQLs and commitment only; the campaign,
    channel, source and region filters narrow the MQLs delivered, not the
    commitment (it is not made per lead), which the page says.
    """
    return volume_by_week(
        start=period.start,
        end=period.end,
        sla_id=filters.sla_id,
        leads=_filtered_leads(filters),
    )


def volume_chart(weeks: list[WeekVolume]) -> dict[str, object]:
    return {
        "labels": [f"{week.week_start.day} {week.week_start:%b}" for week in weeks],
        "delivered": [week.delivered for week in weeks],
        "committed": [round(week.committed, 1) for week in weeks],
    }
