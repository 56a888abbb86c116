"""Handoffs as planned before writing: attempts, outcomes, the handoff world."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from crm.demo.defaults import DEMO_NAMES
from handoff import assignment, business_hours
from handoff.models import Handoff, RejectionReason, ServiceLevelAgreement, Team
from handoff.selectors import sla_covers
from scoring.engine import ModelSpec, Rule


@dataclass
class _Attempt:
    user: str
    channel: str
    outcome: str
    note: str
    at: datetime


@dataclass
class _Outcome:
    from_stage: str
    to_stage: str
    reason: str  # a sales reason code, "" for a forward move
    feedback: str
    actor: str
    at: datetime
    #: The deal amount (opening an opportunity) or the amount won (customer).
    amount: Decimal | None = None
    #: When an opened opportunity is expected to close.
    expected_close_on: date | None = None


@dataclass
class _OwnerMove:
    """A manager handing a lead in the pipeline to another owner (lead_reassign)."""

    at: datetime
    actor: str
    from_owner: str | None
    to_owner: str
    reason: str


@dataclass(eq=False)
class _HandoffPlan:
    """One handoff of the history, as the services would have left it."""

    sla: ServiceLevelAgreement
    team_id: int
    assigned_to: str | None
    assign_detail: str
    previous: _HandoffPlan | None
    mql_at: datetime
    created_at: datetime
    due_at: datetime
    at_risk_at: datetime
    status: str = Handoff.Status.PENDING
    reminded_at: datetime | None = None
    expired_at: datetime | None = None
    decided_at: datetime | None = None
    decided_by: str | None = None
    reason: str = ""  # a rejection reason code
    feedback: str = ""
    follow_up_due_at: datetime | None = None
    follow_up_at: datetime | None = None  # when the owner means to follow up
    followed_up_at: datetime | None = None
    follow_up_breached_at: datetime | None = None
    #: After acceptance: who owned the lead from when (the first is the
    #: accept's choice, later ones a manager's reassignments).
    owners: list[tuple[datetime, str]] = field(default_factory=list)
    #: The sales routing's rule that picked the rep ("" when the SDR kept it).
    handed_rule: str = ""
    attempts: list[_Attempt] = field(default_factory=list)
    outcomes: list[_Outcome] = field(default_factory=list)
    row: Handoff | None = None  # once inserted

    @property
    def sequence(self) -> int:
        return self.previous.sequence + 1 if self.previous else 1

    @property
    def owner(self) -> str | None:
        """Who owns the accepted lead now (None before acceptance)."""
        return self.owners[-1][1] if self.owners else None

    def owner_at(self, at: datetime) -> str | None:
        """Who owned the accepted lead at ``at``."""
        owner = None
        for since, name in self.owners:
            if since <= at:
                owner = name
        return owner


@dataclass
class _HandoffWorld:
    """What the history of handoffs reads, and the round robin it keeps."""

    #: Active SLAs in matching order (as handoff.selectors.sla_for_lead).
    slas: list[ServiceLevelAgreement]
    default: ServiceLevelAgreement
    calendars: dict[int, business_hours.Calendar]  # by calendar id
    teams: dict[int, Team]
    members: dict[int, list[str]]  # team id -> usernames, in membership order
    reasons: dict[str, RejectionReason]
    users: dict[str, int]
    away: dict[str, tuple[datetime, datetime]]  # username -> [from, until)
    spec: ModelSpec | None
    model_name: str
    #: The active scoring model's id (None without one): the score history's.
    model_id: int | None = None
    #: The model's rules that count touchpoints, with their half-lives
    #: (``crm.demo.writing``: the score history's engagement), once known.
    activity_rules: list[tuple[Rule, int]] | None = None
    # Round robin as handoff.assignment keeps it: each team's turn counter,
    # each member's count, last turn and last assignment time.
    turn: dict[int, int] = field(default_factory=dict)
    counts: dict[tuple[int, str], int] = field(default_factory=dict)
    last_turn: dict[tuple[int, str], int] = field(default_factory=dict)
    last_at: dict[tuple[int, str], datetime] = field(default_factory=dict)
    #: Account domain -> the rep who owns the account.
    account_reps: dict[str, str] = field(default_factory=dict)
    rep_turn: int = 0

    def match(self, facts: dict[str, Any]) -> ServiceLevelAgreement:
        for sla in self.slas:
            if not sla.is_default and not sla.reroute_only and sla_covers(sla, facts):
                return sla
        return self.default

    def calendar(self, sla: ServiceLevelAgreement) -> business_hours.Calendar:
        if sla.calendar_id not in self.calendars:
            self.calendars[sla.calendar_id] = sla.calendar.spec()
        return self.calendars[sla.calendar_id]

    def state(self) -> tuple[dict, ...]:
        """The round-robin counters, to restore when an episode is dropped."""
        return (
            dict(self.turn),
            dict(self.counts),
            dict(self.last_turn),
            dict(self.last_at),
        )

    def restore(self, state: tuple[dict, ...]) -> None:
        self.turn, self.counts, self.last_turn, self.last_at = state

    def assign(
        self, team_id: int, at: datetime, exclude: tuple[str | None, ...] = ()
    ) -> tuple[str | None, str]:
        """The SDR who gets a handoff opened at ``at``, and the event's detail.

        The same choice as handoff.services on the same counters: the team's
        strategy, skipping people away then and, if anyone else can take it,
        the ones in ``exclude``.
        """
        team = self.teams[team_id]
        names = self.members.get(team_id, [])
        candidates = [
            assignment.Candidate(
                member_id=position,
                user_id=self.users[name],
                weight=1,
                assigned_count=self.counts.get((team_id, name), 0),
                last_turn=self.last_turn.get((team_id, name), 0),
                open_count=0,
                today_count=0,
                daily_cap=None,
                open_cap=None,
                away=name in self.away
                and self.away[name][0] <= at < self.away[name][1],
            )
            for position, name in enumerate(names)
        ]
        chosen = assignment.choose(
            team.strategy,
            candidates,
            exclude_user_ids=[self.users[name] for name in exclude if name],
        )
        skipped = [
            f"{DEMO_NAMES.get(names[c.member_id], names[c.member_id])} "
            f"({assignment.skip_reason(c)})"
            for c in candidates
            if assignment.skip_reason(c)
        ]
        if chosen is None:
            why = "; ".join(skipped) or "empty"
            return None, f"Nobody in {team} can take it ({why})"
        name = names[chosen.member_id]
        key = (team_id, name)
        self.turn[team_id] = self.turn.get(team_id, 0) + 1
        self.counts[key] = self.counts.get(key, 0) + 1
        self.last_turn[key] = self.turn[team_id]
        self.last_at[key] = max(at, self.last_at.get(key, at))
        detail = f"{team.get_strategy_display().lower()} in {team}"
        if skipped:
            detail += f"; skipped {', '.join(skipped)}"
        return name, detail
