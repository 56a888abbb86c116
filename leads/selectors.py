"""Reads of the leads domain that feed lists and dashboards."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Count, QuerySet

from leads.models import Lead, Stage, StageTransition, Touchpoint


def lead_stage_counts() -> list[dict[str, Any]]:
    """Leads per current stage, in lifecycle order, zeros included.

    One GROUP BY over the stage index; each row is
    ``{"stage": code, "label": str, "count": int}``.
    """
    counts = dict(Lead.objects.order_by().values_list("stage").annotate(n=Count("id")))
    return [
        {"stage": code, "label": label, "count": counts.get(code, 0)}
        for code, label in Stage.choices
    ]


def lead_list_recent(*, limit: int = 10) -> QuerySet[Lead]:
    """The newest leads with their account, newest first."""
    return Lead.objects.select_related("account", "owner").order_by(
        "-created_at", "-id"
    )[:limit]


def lead_list_owned(*, user: Any, stages: list[str]) -> QuerySet[Lead]:
    """Leads owned by ``user`` in the given stages, most recently moved first."""
    return (
        Lead.objects.filter(owner=user, stage__in=stages)
        .select_related("account")
        .order_by("-stage_changed_at", "-id")
    )


def transition_list_recent(*, limit: int = 10) -> QuerySet[StageTransition]:
    """The latest lifecycle moves with their lead and actor."""
    return StageTransition.objects.select_related("lead", "actor").order_by(
        "-at", "-id"
    )[:limit]


def touchpoint_count_since(*, since: datetime) -> int:
    """Touchpoints that occurred at or after ``since`` (uses the kind/time index)."""
    return Touchpoint.objects.filter(occurred_at__gte=since).count()


def lead_list_api() -> QuerySet[Lead]:
    """Leads for the API, with owner and account joined (no N+1)."""
    return Lead.objects.select_related("owner", "account").filter(
        erased_at__isnull=True
    )
