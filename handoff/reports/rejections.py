"""SDR rejections per reason, with the latest feedback under each."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from django.db import connection
from django.db.models import Count

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
    (user text: the template escapes it). Two queries on PostgreSQL; the
    snippets come from one query however many reasons there are.
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
        # One slice per reason, newest first, joined in one UNION ALL: each
        # reads its few rows from handoff_rejected_idx, however many
        # rejections the period holds.
        slices = [
            rejected.exclude(feedback="")
            .filter(reason_id=row["reason"])
            .order_by("-decided_at", "-id")
            .values(
                "id",
                "reason_id",
                "feedback",
                "decided_at",
                "decided_by__username",
                "decided_by__first_name",
                "decided_by__last_name",
            )[:FEEDBACK_SNIPPETS]
            for row in counts
        ]
        if connection.features.supports_slicing_ordering_in_compound:
            latest = list(slices[0].union(*slices[1:], all=True))
        else:  # SQLite: no LIMIT inside a UNION, so a query per reason
            latest = [row for part in slices for row in part]
        # A UNION keeps no order: newest first again, per reason.
        for row in sorted(
            latest, key=lambda r: (r["decided_at"], r["id"]), reverse=True
        ):
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
