"""The whole SLA report page: every section for one period and filter."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone

from handoff.models import ServiceLevelAgreement, Team
from handoff.reports.compliance import (
    Compliance,
    SdrRow,
    SlaRow,
    compliance_by_sdr,
    compliance_by_sla,
    compliance_totals,
)
from handoff.reports.rejections import ReasonRow, rejection_reasons
from handoff.reports.sales import SalesOutcomes, sales_outcomes
from handoff.reports.scope import DEFAULT_PERIOD_DAYS, ReportScope, report_scope
from handoff.reports.speed import SpeedMeasure, speed_to_lead
from handoff.reports.trend import TrendChart, compliance_trend
from handoff.reports.volume import VolumePace, volume_pacing
from handoff.reports.workload import WorkloadRow, workload_list


@dataclass(frozen=True)
class SlaReport:
    scope: ReportScope
    totals: Compliance
    speed: list[SpeedMeasure]
    sdrs: list[SdrRow]
    slas: list[SlaRow]
    trend: TrendChart | None
    workload: list[WorkloadRow]
    reasons: list[ReasonRow]
    sales: SalesOutcomes
    volume: list[VolumePace]

    @property
    def first_touch(self) -> SpeedMeasure:
        return next(m for m in self.speed if m.key == "first_touch")

    @property
    def rejected_total(self) -> int:
        return sum(r.count for r in self.reasons)


def sla_report(
    *,
    period: str = str(DEFAULT_PERIOD_DAYS),
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    sla: ServiceLevelAgreement | None = None,
    team: Team | None = None,
    now: dt.datetime | None = None,
) -> SlaReport:
    """Everything the SLA report page shows, in a fixed number of queries.

    Arguments are the report form's cleaned data (validated there: a custom
    period has both dates, in order, at most MAX_PERIOD_DAYS long).
    """
    now = now or timezone.now()
    scope = report_scope(
        now=now,
        period=period,
        date_from=date_from,
        date_to=date_to,
        sla_id=sla.id if sla else None,
        team_id=team.id if team else None,
    )
    return SlaReport(
        scope=scope,
        totals=compliance_totals(scope=scope),
        speed=speed_to_lead(scope=scope),
        sdrs=compliance_by_sdr(scope=scope),
        slas=compliance_by_sla(scope=scope),
        trend=compliance_trend(scope=scope),
        workload=workload_list(now=now, sla_id=scope.sla_id, team_id=scope.team_id),
        reasons=rejection_reasons(scope=scope),
        sales=sales_outcomes(scope=scope),
        volume=volume_pacing(now=now, sla_id=scope.sla_id, team_id=scope.team_id),
    )
