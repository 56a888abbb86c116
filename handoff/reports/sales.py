"""Sales reps' moves in the period, by stage reached and by reason."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Count

from handoff.models import SalesOutcome
from handoff.reports.scope import ReportScope
from leads.models import Stage

#: Sales moves forward in the funnel, in funnel order; the rest are steps back.
SALES_FORWARD_STAGES = (Stage.SQL, Stage.OPPORTUNITY, Stage.CUSTOMER)


@dataclass(frozen=True)
class CountRow:
    code: str
    label: str
    count: int
    share: float

    @property
    def percent(self) -> float:
        return 100 * self.share


@dataclass(frozen=True)
class SalesOutcomes:
    total: int
    stages: list[CountRow]
    reasons: list[CountRow]


def sales_outcomes(*, scope: ReportScope) -> SalesOutcomes:
    """Sales reps' moves made in the period (by ``at``), by stage and by reason.

    The SLA, team and lead filters apply through the move's handoff. One query.
    """
    qs = SalesOutcome.objects.filter(at__gte=scope.start, at__lt=scope.end)
    if scope.sla_id:
        qs = qs.filter(handoff__sla_id=scope.sla_id)
    if scope.team_id:
        qs = qs.filter(handoff__team_id=scope.team_id)
    if scope.leads is not None:
        qs = qs.filter(handoff__lead__in=scope.leads.values("id"))
    rows = list(
        qs.order_by()
        .values("to_stage", "reason__code", "reason__label")
        .annotate(n=Count("id"))
    )
    total = sum(r["n"] for r in rows)
    by_stage: dict[str, int] = defaultdict(int)
    by_reason: dict[tuple[str, str], int] = defaultdict(int)
    for row in rows:
        by_stage[row["to_stage"]] += row["n"]
        if row["reason__code"]:
            by_reason[(row["reason__code"], row["reason__label"])] += row["n"]
    order = [*SALES_FORWARD_STAGES, Stage.NURTURE, Stage.DISQUALIFIED]
    stage_codes = [s for s in order if s in by_stage] + sorted(
        s for s in by_stage if s not in order
    )
    labels = dict(Stage.choices)
    stages = [
        CountRow(
            code=code,
            label=str(labels.get(code, code)),
            count=by_stage[code],
            share=by_stage[code] / total,
        )
        for code in stage_codes
    ]
    reason_total = sum(by_reason.values())
    reasons = [
        CountRow(code=code, label=label, count=n, share=n / reason_total)
        for (code, label), n in sorted(
            by_reason.items(), key=lambda item: (-item[1], item[0][1])
        )
    ]
    return SalesOutcomes(total=total, stages=stages, reasons=reasons)
