"""Opening the handoffs of many MQLs at once, as ``handoff_open`` would one by one.

For a bulk load (the demo's present-day MQLs): the same SLA, team, SDR,
due times, snapshot and assignment event as calling ``handoff_open`` for
each lead in the order given, but in a few statements per chunk of leads
instead of about fifteen per lead. The round robin, the weights, the caps
and the away days are played out in memory over counters read once under
the teams' row locks, then the counters are written back.
"""

from __future__ import annotations

import bisect
import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction
from django.db.models import Count

from handoff import assignment, business_hours
from handoff.models import (
    Handoff,
    HandoffEvent,
    Team,
    TeamMember,
)
from handoff.selectors import (
    assignment_day,
    last_touchpoint_kinds,
    lead_sla_facts_known,
    sla_pick,
    slas_active,
)
from handoff.services.opening import _assignment_detail, _full_names, _snapshot_of
from handoff.services.shared import Status
from leads.locks import leads_for_update
from leads.models import Lead, Stage
from scoring.models import LeadScore

logger = logging.getLogger(__name__)

#: Leads read (and locked) and handoffs written per statement: a few MB of
#: rows per round trip, well under PostgreSQL's 65,535 parameters per INSERT.
OPEN_MANY_CHUNK = 2000


@dataclass
class _TeamState:
    """A team locked for the opening: its turn and its members' counters."""

    team: Team
    members: list[TeamMember]
    changed: set[int] = field(default_factory=set)


@dataclass
class _Counts:
    """Each SDR's pending handoffs and assignment times, as the opening goes."""

    open_by_user: dict[int, int]
    created_by_user: dict[int, list[dt.datetime]]

    def today(self, user_id: int, day_start: dt.datetime) -> int:
        times = self.created_by_user.get(user_id, [])
        return len(times) - bisect.bisect_left(times, day_start)

    def assigned(self, user_id: int, at: dt.datetime) -> None:
        self.open_by_user[user_id] = self.open_by_user.get(user_id, 0) + 1
        bisect.insort(self.created_by_user.setdefault(user_id, []), at)


def handoffs_open_many(*, openings: Sequence[tuple[int, dt.datetime]]) -> int:
    """Give each MQL of ``openings`` (lead id, as of when) its pending handoff,
    exactly as ``handoff_open(lead_id=..., now=...)`` called for each in that
    order would; return how many were opened.

    Locks the leads (in id order, chunk by chunk), then every team an SLA or
    an account owner's membership can send a lead to (in id order): the
    order ``handoff_open`` takes its locks in, so the two queue behind each
    other without a deadlock; all in one transaction. Skipped as the single
    path skips them: a lead that is gone or not an MQL, and one with a
    pending handoff (also a second opening of one lead). A lead no SLA
    covers is skipped with a warning (``handoff_open`` raises
    NoServiceLevelAgreement) and the others open. Nothing is enqueued
    (neither does ``handoff_open``). A second run opens nothing.
    """
    if not openings:
        return 0
    with transaction.atomic():
        leads = _leads_lock({lead_id for lead_id, _ in openings})
        ids = sorted(leads)
        pending: set[int] = set()
        kinds: dict[int, str] = {}
        for low in range(0, len(ids), OPEN_MANY_CHUNK):
            chunk = ids[low : low + OPEN_MANY_CHUNK]
            pending.update(
                Handoff.objects.filter(
                    lead_id__in=chunk, status=Status.PENDING
                ).values_list("lead_id", flat=True)
            )
            kinds.update(last_touchpoint_kinds(chunk))
        slas = slas_active()
        owner_teams = _owner_teams(
            {lead.account.owner_id for lead in leads.values() if lead.account_id}
        )
        teams = _teams_lock(
            {sla.team_id for sla in slas} | {t.id for t in owner_teams.values()}
        )
        members = [m for state in teams.values() for m in state.members]
        counts = _counts_read(
            sorted({m.user_id for m in members}),
            since=min(at for _, at in openings),
        )
        names = _full_names([m.id for m in members])
        specs = {sla.id: sla.calendar.spec() for sla in slas}

        opened = 0
        batch: list[tuple[Handoff, str]] = []
        for lead_id, now in openings:
            lead = leads.get(lead_id)
            if lead is None or lead.stage != Stage.MQL or lead_id in pending:
                continue
            facts = lead_sla_facts_known(lead, last_touchpoint_kind=kinds.get(lead_id))
            sla = sla_pick(slas, facts)
            if sla is None:
                logger.warning("no SLA covers MQL lead %s; not opened", lead_id)
                continue
            pending.add(lead_id)
            owner_id = lead.account.owner_id if lead.account_id else None
            owner_team = owner_teams.get(owner_id) if owner_id else None
            team = owner_team or sla.team
            user_id, detail = _assign(
                teams[team.id],
                team=team,
                time_zone=specs[sla.id].time_zone,
                now=now,
                prefer_user_id=owner_id if owner_team is not None else None,
                counts=counts,
                names=names,
            )
            hours = Decimal(sla.accept_within_hours)
            handoff = Handoff(
                lead=lead,
                sla=sla,
                team=team,
                assigned_to_id=user_id,
                previous=None,
                sequence=1,
                mql_at=lead.stage_changed_at or now,
                created_at=now,
                due_at=business_hours.add_business_hours(now, hours, specs[sla.id]),
                at_risk_at=business_hours.add_business_hours(
                    now, hours * sla.at_risk_percent / 100, specs[sla.id]
                ),
            )
            batch.append((handoff, detail))
            if len(batch) >= OPEN_MANY_CHUNK:
                opened += _write(batch)
                batch = []
        opened += _write(batch)
        _counters_write(teams.values())
    return opened


def _leads_lock(lead_ids: set[int]) -> dict[int, Lead]:
    """The leads by id with their accounts, locked in id order, chunk by chunk."""
    ids = sorted(lead_ids)
    leads: dict[int, Lead] = {}
    for low in range(0, len(ids), OPEN_MANY_CHUNK):
        chunk = ids[low : low + OPEN_MANY_CHUNK]
        leads.update(
            (lead.id, lead)
            for lead in leads_for_update(id__in=chunk).select_related("account")
        )
    return leads


def _owner_teams(owner_ids: set[int | None]) -> dict[int, Team]:
    """The SDR team of each account owner who works in one (``_team_for``:
    their first active membership of a team that is no SLA's sales team)."""
    ids = sorted(i for i in owner_ids if i)
    teams: dict[int, Team] = {}
    for low in range(0, len(ids), OPEN_MANY_CHUNK):
        memberships = (
            TeamMember.objects.filter(
                user_id__in=ids[low : low + OPEN_MANY_CHUNK],
                is_active=True,
                team__sales_slas__isnull=True,
            )
            .select_related("team")
            .order_by("id")
        )
        for membership in memberships:
            teams.setdefault(membership.user_id, membership.team)
    return teams


def _teams_lock(team_ids: set[int]) -> dict[int, _TeamState]:
    """The teams locked in id order, each with the members an assignment
    chooses from (``assignment_candidates``: active people, in membership order)."""
    teams = list(
        Team.objects.select_for_update().filter(id__in=team_ids).order_by("id")
    )
    by_team: dict[int, list[TeamMember]] = defaultdict(list)
    for member in (
        TeamMember.objects.filter(
            team_id__in=team_ids, is_active=True, user__is_active=True
        )
        .select_related("user__sales_profile")
        .order_by("id")
    ):
        by_team[member.team_id].append(member)
    return {team.id: _TeamState(team, by_team[team.id]) for team in teams}


def _counts_read(user_ids: list[int], *, since: dt.datetime) -> _Counts:
    """The SDRs' pending handoffs and the assignment times that can fall on
    the day of an opening at or after ``since``: a local day (UTC-12 to
    UTC+14) starts less than 39 hours before any moment of it."""
    open_by_user = dict(
        Handoff.objects.filter(assigned_to__in=user_ids, status=Status.PENDING)
        .order_by()
        .values_list("assigned_to")
        .annotate(n=Count("*"))
        .values_list("assigned_to", "n")
    )
    created: dict[int, list[dt.datetime]] = defaultdict(list)
    for user_id, at in (
        Handoff.objects.filter(
            assigned_to__in=user_ids, created_at__gte=since - dt.timedelta(days=2)
        )
        .order_by("created_at")
        .values_list("assigned_to", "created_at")
    ):
        created[user_id].append(at)
    return _Counts(open_by_user, dict(created))


def _assign(
    state: _TeamState,
    *,
    team: Team,
    time_zone: str,
    now: dt.datetime,
    prefer_user_id: int | None,
    counts: _Counts,
    names: dict[int, str],
) -> tuple[int | None, str]:
    """``opening._assign`` over the counters in memory; return (user id, why)."""
    day_start, today = assignment_day(time_zone, now)
    candidates = []
    for member in state.members:
        profile = getattr(member.user, "sales_profile", None)
        candidates.append(
            assignment.Candidate(
                member_id=member.id,
                user_id=member.user_id,
                weight=member.weight,
                assigned_count=member.assigned_count,
                last_turn=member.last_turn,
                open_count=counts.open_by_user.get(member.user_id, 0),
                today_count=counts.today(member.user_id, day_start),
                daily_cap=member.daily_cap,
                open_cap=member.open_cap,
                away=bool(profile and profile.away_on(today)),
            )
        )
    chosen = assignment.choose(team.strategy, candidates, prefer_user_id=prefer_user_id)
    detail = _assignment_detail(
        team, candidates, chosen, names=names, prefer_user_id=prefer_user_id
    )
    if chosen is None:
        return None, detail
    # _turn_take's counters, written back once by _counters_write.
    state.team.turn += 1
    member = next(m for m in state.members if m.id == chosen.member_id)
    member.assigned_count = chosen.assigned_count + 1
    member.last_turn = state.team.turn
    member.last_assigned_at = now
    state.changed.add(member.id)
    counts.assigned(chosen.user_id, now)
    return chosen.user_id, detail


def _write(batch: list[tuple[Handoff, str]]) -> int:
    """Insert the handoffs with their snapshots and assignment events."""
    if not batch:
        return 0
    scores: dict[int, LeadScore] = {}
    for score in (
        LeadScore.objects.filter(
            lead_id__in=[h.lead_id for h, _ in batch], model__status="active"
        )
        .select_related("model")
        .order_by("-id")
    ):
        # The lowest id wins, as ``.first()`` of one lead's scores does.
        scores[score.lead_id] = score
    for handoff, _ in batch:
        for name, value in _snapshot_of(
            handoff.lead, scores.get(handoff.lead_id)
        ).items():
            setattr(handoff, name, value)
    handoffs = Handoff.objects.bulk_create([h for h, _ in batch])
    HandoffEvent.objects.bulk_create(
        HandoffEvent(
            handoff=handoff,
            kind=HandoffEvent.Kind.ASSIGNED,
            at=handoff.created_at,
            actor=None,
            detail=detail[:300],
        )
        for handoff, (_, detail) in zip(handoffs, batch, strict=True)
    )
    logger.info("opened %s handoffs in bulk", len(handoffs))
    return len(handoffs)


def _counters_write(states: Iterable[_TeamState]) -> None:
    """Store the turns and counters the assignments moved (``_turn_take``)."""
    states = [state for state in states if state.changed]
    Team.objects.bulk_update([state.team for state in states], ["turn"])
    TeamMember.objects.bulk_update(
        [m for state in states for m in state.members if m.id in state.changed],
        ["assigned_count", "last_turn", "last_assigned_at"],
    )
