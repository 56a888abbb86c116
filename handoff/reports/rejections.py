"""SDR rejections per reason, with the latest feedback under each."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Count, F, Window
from django.db.models.functions import RowNumber

from handoff.models import Handoff
from handoff.reports.display import _person_name
from handoff.reports.scope import ReportScope, _period_handoffs

Status = Handoff.Status


#: Latest feedback texts shown under each rejection reason.
FEEDBACK_SNIPPETS = 3


@dataclass(frozen=True)
class FeedbackSnippet:
    text: str
    at: dt.datetime | None
    by: str


@dataclass(frozen=True)
class ReasonRow:
    reason_id: int
    code: str
    label: str
    action: str
    count: int
    share: float
    feedback: list[FeedbackSnippet]

    @property
    def percent(self) -> float:
        return 100 * self.share


def rejection_reasons(*, scope: ReportScope) -> list[ReasonRow]:
    """SDR rejections in the scope per reason, most frequent first.

    Each row carries the latest FEEDBACK_SNIPPETS non-empty feedback texts
    (user text: the template escapes it). Two queries; the snippets come from
    one window query however many reasons there are.
    """
    rejected = _period_handoffs(scope).filter(status=Status.REJECTED)
    counts = list(
        rejected.values("reason", "reason__code", "reason__label", "reason__action")
        .annotate(n=Count("id"))
        .order_by("-n", "reason__label")
    )
    total = sum(row["n"] for row in counts)
    snippets: dict[int, list[FeedbackSnippet]] = defaultdict(list)
    if counts:
        latest = (
            rejected.exclude(feedback="")
            .annotate(
                rank=Window(
                    RowNumber(),
                    partition_by=[F("reason_id")],
                    order_by=[F("decided_at").desc(), F("id").desc()],
                )
            )
            .filter(rank__lte=FEEDBACK_SNIPPETS)
            .order_by("reason_id", "rank")
            .values(
                "reason_id",
                "feedback",
                "decided_at",
                "decided_by__username",
                "decided_by__first_name",
                "decided_by__last_name",
            )
        )
        for row in latest:
            snippets[row["reason_id"]].append(
                FeedbackSnippet(
                    text=row["feedback"],
                    at=row["decided_at"],
                    by=_person_name(
                        row["decided_by__first_name"],
                        row["decided_by__last_name"],
                        row["decided_by__username"],
                    ),
                )
            )
    return [
        ReasonRow(
            reason_id=row["reason"],
            code=row["reason__code"],
            label=row["reason__label"],
            action=row["reason__action"],
            count=row["n"],
            share=row["n"] / total,
            feedback=snippets.get(row["reason"], []),
        )
        for row in counts
    ]
