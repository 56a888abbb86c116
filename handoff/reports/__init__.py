"""Read-only aggregations of the SLA report: compliance, speed to lead, volume.

Managers read this page to answer four questions: do SDRs decide MQLs within
the SLA, how fast is a lead touched, where does the work pile up, and does
marketing deliver the MQLs it committed to. Every function in this
package is a selector: it reads, never writes, takes the time as ``now=``
(so a test can fix it) and returns plain dataclasses the template shows as
they are.

Definitions (the page repeats them under "How these are measured"):

- A handoff belongs to the report period by ``created_at`` (its assignment),
  in UTC. Filters by SLA and by team use the handoff's own ``sla`` and
  ``team``; a reassigned lead (``sequence`` > 1) counts once per handoff,
  each for its own assignee.
- *In time*: accepted or rejected with ``decided_at <= due_at``.
  *Breached*: expired, decided after ``due_at``, or still pending with
  ``due_at <= now``. *Open*: pending and not yet due; excluded from the
  compliance share = in time / (in time + breached).
- Speed to lead, in wall-clock time: assignment = ``created_at - mql_at``
  (first handoffs only: a reassignment keeps the original ``mql_at``); first
  touch = ``first_attempt_at - created_at``; decision = ``decided_at -
  created_at``. Percentiles are PostgreSQL's ``percentile_cont`` (linear
  interpolation between the closest ranks); SQLite gets the same arithmetic
  in Python.
- Volume commitment: handoffs with ``sequence = 1`` (distinct MQLs handed
  off, not reassignments) created in the SLA's current week (Monday 00:00
  UTC) or calendar month, up to ``now``; pacing compares them with the
  commitment times the elapsed share of the period.

Query budget: each selector runs one query (two on SQLite where
percentiles are computed in Python), whatever the number of SDRs, SLAs or
reasons, so the page costs a fixed number of queries
(``tests/handoff/test_reports.py`` asserts it).

One module per section of the page: ``scope`` (the period and its
filters), ``compliance``, ``speed``, ``trend``, ``workload``,
``rejections``, ``sales``, ``volume``, and ``page``, which puts them
together; ``percentiles`` and ``display`` hold what several sections share.
"""

from handoff.reports.compliance import (
    COMPLIANCE_GOOD,
    COMPLIANCE_WARN,
    DECIDED,
    Compliance,
    SdrRow,
    SlaRow,
    compliance_by_sdr,
    compliance_by_sla,
    compliance_totals,
)
from handoff.reports.display import Duration
from handoff.reports.page import SlaReport, sla_report
from handoff.reports.percentiles import MEASURES
from handoff.reports.rejections import (
    FEEDBACK_SNIPPETS,
    FeedbackSnippet,
    ReasonRow,
    rejection_reasons,
)
from handoff.reports.sales import (
    SALES_FORWARD_STAGES,
    CountRow,
    SalesOutcomes,
    sales_outcomes,
)
from handoff.reports.scope import (
    DEFAULT_PERIOD_DAYS,
    MAX_PERIOD_DAYS,
    PERIOD_DAYS,
    ReportScope,
    report_scope,
)
from handoff.reports.speed import (
    BAND_EDGES_MINUTES,
    BAND_LABELS,
    Band,
    SpeedMeasure,
    speed_to_lead,
)
from handoff.reports.trend import (
    CHART_HEIGHT,
    CHART_PAD,
    CHART_WIDTH,
    TREND_DAILY_MAX_DAYS,
    TrendChart,
    TrendColumn,
    compliance_trend,
)
from handoff.reports.volume import (
    PACE_TOLERANCE,
    VolumePace,
    WeekVolume,
    pace_of,
    volume_by_week,
    volume_pacing,
    volume_period_bounds,
    weekly_commitment,
)
from handoff.reports.workload import WorkloadRow, workload_list

__all__ = [
    "BAND_EDGES_MINUTES",
    "BAND_LABELS",
    "CHART_HEIGHT",
    "CHART_PAD",
    "CHART_WIDTH",
    "COMPLIANCE_GOOD",
    "COMPLIANCE_WARN",
    "DECIDED",
    "DEFAULT_PERIOD_DAYS",
    "FEEDBACK_SNIPPETS",
    "MAX_PERIOD_DAYS",
    "MEASURES",
    "PACE_TOLERANCE",
    "PERIOD_DAYS",
    "SALES_FORWARD_STAGES",
    "TREND_DAILY_MAX_DAYS",
    "Band",
    "Compliance",
    "CountRow",
    "Duration",
    "FeedbackSnippet",
    "ReasonRow",
    "ReportScope",
    "SalesOutcomes",
    "SdrRow",
    "SlaReport",
    "SlaRow",
    "SpeedMeasure",
    "TrendChart",
    "TrendColumn",
    "VolumePace",
    "WeekVolume",
    "WorkloadRow",
    "compliance_by_sdr",
    "compliance_by_sla",
    "compliance_totals",
    "compliance_trend",
    "pace_of",
    "rejection_reasons",
    "report_scope",
    "sales_outcomes",
    "sla_report",
    "speed_to_lead",
    "volume_by_week",
    "volume_pacing",
    "volume_period_bounds",
    "weekly_commitment",
    "workload_list",
]
