"""The queue as it stands: pending, at-risk and overdue handoffs per person."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Count, Min, Q

from handoff.models import Handoff, TeamMember
from handoff.reports.display import _person_name

Status = Handoff.Status


@dataclass
class WorkloadRow:
    user_id: int | None
    name: str
    teams: list[str] = field(default_factory=list)
    pending: int = 0
    at_risk: int = 0
    overdue: int = 0
    oldest_due_at: dt.datetime | None = None
    away: bool = False
    away_until: dt.date | None = None


def workload_list(
    *, now: dt.datetime, sla_id: int | None = None, team_id: int | None = None
) -> list[WorkloadRow]:
    """Pending handoffs per person right now, with every active team member.

    Not bound to the report period: it is the queue as it stands. At risk =
    past ``at_risk_at`` but not yet due; overdue = ``due_at <= now``. Members
    of the filtered team (or of the filtered SLA's team, or of every team)
    are listed even with nothing pending, so an idle or away SDR shows.
    Two queries. Sorted by overdue, then pending, most first.
    """
    pending = Handoff.objects.filter(status=Status.PENDING)
    members = TeamMember.objects.filter(is_active=True, user__is_active=True)
    if sla_id:
        pending = pending.filter(sla_id=sla_id)
        members = members.filter(team__slas__id=sla_id)
    if team_id:
        pending = pending.filter(team_id=team_id)
        members = members.filter(team_id=team_id)
    rows: dict[int | None, WorkloadRow] = {}
    for member in members.select_related("team", "user__sales_profile").order_by(
        "team__name", "id"
    ):
        user = member.user
        row = rows.get(user.id)
        if row is None:
            profile = getattr(user, "sales_profile", None)
            row = rows[user.id] = WorkloadRow(
                user_id=user.id,
                name=_person_name(user.first_name, user.last_name, user.username),
                away=bool(profile and profile.away_on(now.astimezone(dt.UTC).date())),
                away_until=profile.away_until if profile else None,
            )
        row.teams.append(member.team.name)
    # handoff_queue_idx (status, assigned_to, due_at) serves this grouping.
    counts = (
        pending.order_by()
        .values(
            "assigned_to",
            "assigned_to__username",
            "assigned_to__first_name",
            "assigned_to__last_name",
        )
        .annotate(
            pending=Count("id"),
            at_risk=Count("id", filter=Q(at_risk_at__lte=now, due_at__gt=now)),
            overdue=Count("id", filter=Q(due_at__lte=now)),
            oldest_due_at=Min("due_at"),
        )
    )
    for count in counts:
        user_id = count["assigned_to"]
        row = rows.get(user_id)
        if row is None:
            row = rows[user_id] = WorkloadRow(
                user_id=user_id,
                name=_person_name(
                    count["assigned_to__first_name"],
                    count["assigned_to__last_name"],
                    count["assigned_to__username"],
                ),
            )
        row.pending = count["pending"]
        row.at_risk = count["at_risk"]
        row.overdue = count["overdue"]
        row.oldest_due_at = count["oldest_due_at"]
    return sorted(
        rows.values(),
        key=lambda r: (-r.overdue, -r.pending, r.user_id is None, r.name.lower()),
    )
