"""Teams and availability: away flags and team membership."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import IntegrityError, transaction

from handoff.models import SalesProfile, Team, TeamMember


def availability_set(
    *, user: Any, is_away: bool, away_until: dt.date | None = None
) -> SalesProfile:
    """Mark a person away (no new handoffs) or back."""
    profile, _ = SalesProfile.objects.get_or_create(user=user)
    profile.is_away = is_away
    profile.away_until = away_until if is_away else None
    profile.save(update_fields=["is_away", "away_until"])
    return profile


def team_member_add(*, team: Team, user: Any, weight: int = 1) -> TeamMember:
    """Add an SDR to a team, level with the others so they do not get a burst.

    A newcomer starts with the team's lowest assignment count and as if
    assigned now, so round robin and weighted shares begin fairly.
    """
    with transaction.atomic():
        team = Team.objects.select_for_update().get(id=team.id)
        counts = list(
            TeamMember.objects.filter(team=team, is_active=True).values_list(
                "assigned_count", "weight"
            )
        )
        start = min((c * weight // w for c, w in counts), default=0)
        try:
            with transaction.atomic():
                return TeamMember.objects.create(
                    team=team,
                    user=user,
                    weight=weight,
                    assigned_count=start,
                    # As if just served: the newcomer waits one round.
                    last_turn=team.turn,
                )
        except IntegrityError:
            return TeamMember.objects.get(team=team, user=user)
