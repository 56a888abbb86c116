"""Compliance of handoffs: in time, breached and open, per period, SDR and SLA."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db.models import Aggregate, Count, F, Q

from handoff.models import Handoff
from handoff.reports.display import Duration, _duration, _person_name, _share
from handoff.reports.percentiles import _percentile_aggregates, _with_percentiles
from handoff.reports.scope import ReportScope, _period_handoffs

Status = Handoff.Status
DECIDED = (Status.ACCEPTED, Status.REJECTED)


#: Compliance colour bands: at or above GOOD is green, below WARN is red.
#: 90% is the usual first SLA target between marketing and sales teams.
COMPLIANCE_GOOD = 0.90
COMPLIANCE_WARN = 0.75


def _in_time() -> Q:
    return Q(status__in=DECIDED, decided_at__lte=F("due_at"))


def _breached(now: dt.datetime) -> Q:
    return (
        Q(status=Status.EXPIRED)
        | Q(status__in=DECIDED, decided_at__gt=F("due_at"))
        | Q(status=Status.PENDING, due_at__lte=now)
    )


def _open(now: dt.datetime) -> Q:
    return Q(status=Status.PENDING, due_at__gt=now)


def _compliance_aggregates(now: dt.datetime) -> dict[str, Aggregate]:
    return {
        "assigned": Count("id"),
        "in_time": Count("id", filter=_in_time()),
        "breached": Count("id", filter=_breached(now)),
        "open": Count("id", filter=_open(now)),
        "pending": Count("id", filter=Q(status=Status.PENDING)),
        "accepted": Count("id", filter=Q(status=Status.ACCEPTED)),
        "rejected": Count("id", filter=Q(status=Status.REJECTED)),
        "expired": Count("id", filter=Q(status=Status.EXPIRED)),
        "late": Count("id", filter=Q(status__in=DECIDED, decided_at__gt=F("due_at"))),
        "overdue": Count("id", filter=Q(status=Status.PENDING, due_at__lte=now)),
    }


def _compliance_level(share: float | None) -> str:
    if share is None:
        return "none"
    if share >= COMPLIANCE_GOOD:
        return "good"
    return "warn" if share >= COMPLIANCE_WARN else "bad"


@dataclass(frozen=True)
class Compliance:
    """Counts of one group of handoffs (the period, an SDR, an SLA)."""

    assigned: int = 0
    in_time: int = 0
    breached: int = 0
    open: int = 0
    pending: int = 0
    accepted: int = 0
    rejected: int = 0
    expired: int = 0
    # The breaches other than expiries: decided late, or pending past due.
    late: int = 0
    overdue: int = 0

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Compliance:
        return cls(**{name: row[name] or 0 for name in cls.__dataclass_fields__})

    @property
    def judged(self) -> int:
        """Handoffs the compliance share counts (in time + breached)."""
        return self.in_time + self.breached

    @property
    def share(self) -> float | None:
        """In time / (in time + breached); None when nothing was due yet."""
        return _share(self.in_time, self.judged)

    @property
    def percent(self) -> float | None:
        return None if self.share is None else 100 * self.share

    @property
    def level(self) -> str:
        return _compliance_level(self.share)

    @property
    def decided(self) -> int:
        return self.accepted + self.rejected

    @property
    def acceptance_rate(self) -> float | None:
        """Accepted / (accepted + rejected)."""
        return _share(self.accepted, self.decided)

    @property
    def acceptance_percent(self) -> float | None:
        rate = self.acceptance_rate
        return None if rate is None else 100 * rate


@dataclass(frozen=True)
class SdrRow:
    user_id: int | None
    name: str
    compliance: Compliance
    median_first_touch: Duration | None
    median_decision: Duration | None


@dataclass(frozen=True)
class SlaRow:
    sla_id: int
    name: str
    target_hours: Decimal
    compliance: Compliance
    median_first_touch: Duration | None
    median_decision: Duration | None


def compliance_totals(*, scope: ReportScope) -> Compliance:
    """The period's counts (one query)."""
    row = _period_handoffs(scope).aggregate(**_compliance_aggregates(scope.now))
    return Compliance.from_row(row)


def compliance_by_sdr(*, scope: ReportScope) -> list[SdrRow]:
    """One row per assignee (and one for unassigned handoffs), by name.

    Each handoff counts for the person it was assigned to, so a lead that
    breached with one SDR and was reassigned counts once for each of them.
    One query on PostgreSQL (medians by ``percentile_cont``), two on SQLite.
    """
    qs = _period_handoffs(scope)
    measures = ("first_touch", "decision")
    rows = list(
        qs.values(
            "assigned_to",
            "assigned_to__username",
            "assigned_to__first_name",
            "assigned_to__last_name",
        ).annotate(
            **_compliance_aggregates(scope.now),
            **_percentile_aggregates(measures, (0.5,)),
        )
    )
    rows = _with_percentiles(
        rows, qs, group_by="assigned_to", measures=measures, fractions=(0.5,)
    )
    result = [
        SdrRow(
            user_id=row["assigned_to"],
            name=_person_name(
                row["assigned_to__first_name"],
                row["assigned_to__last_name"],
                row["assigned_to__username"],
            ),
            compliance=Compliance.from_row(row),
            median_first_touch=_duration(row["first_touch_p50"]),
            median_decision=_duration(row["decision_p50"]),
        )
        for row in rows
    ]
    # Unassigned last, the people by name.
    return sorted(result, key=lambda r: (r.user_id is None, r.name.lower()))


def compliance_by_sla(*, scope: ReportScope) -> list[SlaRow]:
    """One row per SLA with handoffs in the scope, in SLA priority order."""
    qs = _period_handoffs(scope)
    measures = ("first_touch", "decision")
    rows = list(
        qs.values(
            "sla", "sla__name", "sla__accept_within_hours", "sla__priority"
        ).annotate(
            **_compliance_aggregates(scope.now),
            **_percentile_aggregates(measures, (0.5,)),
        )
    )
    rows = _with_percentiles(
        rows, qs, group_by="sla", measures=measures, fractions=(0.5,)
    )
    rows.sort(key=lambda r: (r["sla__priority"], r["sla"]))
    return [
        SlaRow(
            sla_id=row["sla"],
            name=row["sla__name"],
            target_hours=row["sla__accept_within_hours"],
            compliance=Compliance.from_row(row),
            median_first_touch=_duration(row["first_touch_p50"]),
            median_decision=_duration(row["decision_p50"]),
        )
        for row in rows
    ]
