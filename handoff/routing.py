"""Which sales rep gets an accepted lead: the SLA's sales routing, read only.

The accept form shows ``sales_route``'s answer as its suggestion; the accept
service asks it again under the sales team's row lock and records the turn,
so two SDRs accepting at once get different reps of a round-robin team. The
rep among the team is chosen by ``handoff.assignment``, as SDRs are.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from crm.common.people import full_name
from handoff import assignment
from handoff.models import Handoff, ServiceLevelAgreement, TeamMember
from handoff.selectors import Loads, is_active_sales_rep, team_candidates

Routing = ServiceLevelAgreement.SalesRouting


@dataclass(frozen=True)
class SalesRoute:
    """The rep the SLA's rule picks for a handoff, and the rule in words."""

    #: The rep, or None when the rule picks nobody.
    rep: Any | None
    #: The rule and its outcome, e.g. "Round robin in West picks Sam Rep".
    rule: str
    #: The team member picked (their turn is counted), if a team picked.
    candidate: assignment.Candidate | None = None
    #: No sales team and no rule: the accepting SDR keeps the lead.
    keeps_with_sdr: bool = False


def _team_route(
    sla: ServiceLevelAgreement, *, now: dt.datetime, loads: Loads | None = None
) -> SalesRoute:
    team = sla.sales_team
    candidates = team_candidates(team, sla=sla, now=now, sales=True, loads=loads)
    chosen = assignment.choose(team.strategy, candidates)
    strategy = team.get_strategy_display()
    if chosen is None:
        return SalesRoute(
            None,
            f"{strategy} in {team} finds no rep free (everyone is away or at a "
            "cap); choose a rep.",
        )
    rep = TeamMember.objects.select_related("user").get(id=chosen.member_id).user
    return SalesRoute(rep, f"{strategy} in {team} picks {full_name(rep)}", chosen)


@dataclass
class TeamRoutes:
    """Team routes already worked out for a page."""

    #: The picks by sales team and the time zone of the SLA calendar (which
    #: day the team's counts are of).
    routes: dict[tuple[int, str], SalesRoute] = field(default_factory=dict)
    #: Each team's reps' loads, the same in every time zone.
    loads: Loads = field(default_factory=dict)


def sales_route(
    handoff: Handoff, *, now: dt.datetime, team_routes: TeamRoutes | None = None
) -> SalesRoute:
    """The rep the SLA's sales routing gives ``handoff``'s lead now.

    - sales team: the sales team's strategy; with no sales team set, nobody
      (``keeps_with_sdr``: the accepting SDR owns the lead, as before
      routing existed);
    - account owner's rep: the lead's account owner when they are an active
      sales rep, else the sales team, else nobody (the SDR picks);
    - SDR picks: nobody; the accepting SDR must choose.

    A sales team's pick depends only on the team and the time zone its day
    is counted in: ``team_routes``, when given, keeps each pick so the SLAs
    sharing them ask once, and each team's loads so a second time zone
    counts only its day (for a page; the accept asks afresh).

    Reads only: the caller that acts on it holds the sales team's row lock.
    """
    sla = handoff.sla
    routing = sla.sales_routing
    if routing == Routing.ACCOUNT_OWNER:
        account = handoff.lead.account
        owner = account.owner if account is not None else None
        if owner is not None and is_active_sales_rep(owner):
            return SalesRoute(owner, f"The account owner, {full_name(owner)}")
    if routing != Routing.SDR_PICKS and sla.sales_team_id is not None:
        if team_routes is None:
            return _team_route(sla, now=now)
        key = (sla.sales_team_id, sla.calendar.time_zone)
        if key not in team_routes.routes:
            team_routes.routes[key] = _team_route(sla, now=now, loads=team_routes.loads)
        return team_routes.routes[key]
    if routing == Routing.SALES_TEAM:
        return SalesRoute(
            None,
            f"The SLA {sla} has no sales team: the accepting SDR owns the lead",
            keeps_with_sdr=True,
        )
    if routing == Routing.ACCOUNT_OWNER:
        return SalesRoute(
            None,
            f"The account has no active sales rep as owner and the SLA {sla} no "
            "sales team; choose a rep.",
        )
    return SalesRoute(None, f"The SLA {sla} has the accepting SDR pick a rep.")
