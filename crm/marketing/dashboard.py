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
from crm.marketing.periods import Period, PeriodForm
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

MODE_LABELS = {"cohort": "Cohort", "flow": "Flow"}
#: Rejection reasons shown on the dashboard, for SDRs and for sales each.
TOP_REASONS = 3


class DashboardForm(PeriodForm):
    """The picker's GET parameters and the funnel mode; every choice has a
    default."""

    mode = forms.ChoiceField(choices=list(MODE_LABELS.items()), required=False)

    def __init__(self, *args: object, today: dt.date, **kwargs: object) -> None:
        super().__init__(*args, today=today, **kwargs)
        self.fields["mode"].error_messages["invalid_choice"] = "Pick cohort or flow."

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        if not self.errors:
            data["mode"] = data.get("mode") or MODES[0]
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
