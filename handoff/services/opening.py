"""Opening a handoff for a new MQL and choosing the SDR who gets it.

The team comes from the account's owner or the SLA; the SDR is chosen under
the team's row lock. Also the beat's catch-up steps: assigning handoffs that
found nobody free, and opening handoffs for MQLs whose task was lost.
"""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from handoff import assignment, business_hours
from handoff.exceptions import NoServiceLevelAgreement
from handoff.models import (
    Handoff,
    HandoffEvent,
    ServiceLevelAgreement,
    Team,
    TeamMember,
)
from handoff.selectors import sla_for_lead, team_candidates
from handoff.services.shared import ESCALATION_BATCH, Status, _event, _turn_take
from leads.locks import lock_lead
from leads.models import Lead, Stage
from scoring.models import LeadScore

logger = logging.getLogger(__name__)


def _team_for(lead: Lead, sla: ServiceLevelAgreement) -> tuple[Team, int | None]:
    """The team that gets the lead and the person preferred in it.

    When the lead's account has an owner who works in an SDR team, that team
    gets it first and the owner is preferred (they know the account).
    """
    owner_id = lead.account.owner_id if lead.account_id else None
    if owner_id:
        membership = (
            # A sales team (an SLA's sales_team) shares accepted leads, not MQLs.
            TeamMember.objects.filter(
                user_id=owner_id, is_active=True, team__sales_slas__isnull=True
            )
            .select_related("team")
            .order_by("id")
            .first()
        )
        if membership is not None:
            return membership.team, owner_id
    return sla.team, None


def _assign(
    *,
    team: Team,
    sla: ServiceLevelAgreement,
    now: dt.datetime,
    exclude_user_ids: tuple[int, ...] = (),
    prefer_user_id: int | None = None,
) -> tuple[int | None, str]:
    """Pick the SDR under the team's row lock; return (user id, why)."""
    # The lock makes concurrent assignments in one team take turns, so each
    # sees the counters the previous one wrote: round robin stays fair.
    locked = Team.objects.select_for_update().get(id=team.id)
    candidates = team_candidates(team, sla=sla, now=now)
    chosen = assignment.choose(
        team.strategy,
        candidates,
        exclude_user_ids=exclude_user_ids,
        prefer_user_id=prefer_user_id,
    )
    names = _full_names([c.member_id for c in candidates if assignment.skip_reason(c)])
    if chosen is not None:
        _turn_take(
            locked, member_id=chosen.member_id, served=chosen.assigned_count, now=now
        )
    return (
        chosen.user_id if chosen is not None else None,
        _assignment_detail(
            team, candidates, chosen, names=names, prefer_user_id=prefer_user_id
        ),
    )


def _assignment_detail(
    team: Team,
    candidates: list[assignment.Candidate],
    chosen: assignment.Candidate | None,
    *,
    names: dict[int, str],
    prefer_user_id: int | None,
) -> str:
    """The assignment event's words: who got it and how, and who was skipped."""
    skipped = [
        f"{names.get(c.member_id, 'a former member')} ({assignment.skip_reason(c)})"
        for c in candidates
        if assignment.skip_reason(c)
    ]
    if chosen is None:
        why = "; ".join(skipped) or "the team has no active members"
        return f"Nobody in {team} can take it ({why})"
    how = (
        "account owner"
        if chosen.user_id == prefer_user_id
        else team.get_strategy_display().lower()
    )
    detail = f"{how} in {team}"
    if skipped:
        detail += f"; skipped {', '.join(skipped)}"
    return detail


def _full_names(member_ids: list[int]) -> dict[int, str]:
    """Team members' names as people read them: full name, else the username."""
    rows = TeamMember.objects.filter(id__in=member_ids).values_list(
        "id", "user__first_name", "user__last_name", "user__username"
    )
    return {
        member_id: f"{first} {last}".strip() or username
        for member_id, first, last, username in rows
    }


def _snapshot(lead: Lead) -> dict[str, Any]:
    score = (
        LeadScore.objects.filter(lead_id=lead.id, model__status="active")
        .select_related("model")
        .first()
    )
    return _snapshot_of(lead, score)


def _snapshot_of(lead: Lead, score: LeadScore | None) -> dict[str, Any]:
    """The lead's score as the handoff keeps it, from its active ``score``."""
    return {
        "score": lead.score,
        "fit_score": lead.fit_score,
        "engagement_score": lead.engagement_score,
        "grade": lead.grade,
        "score_breakdown": score.breakdown if score else [],
        "scoring_model": str(score.model)[:120] if score else "",
    }


def _create(
    *,
    lead: Lead,
    sla: ServiceLevelAgreement,
    now: dt.datetime,
    mql_at: dt.datetime,
    previous: Handoff | None = None,
    exclude_user_ids: tuple[int, ...] = (),
) -> Handoff:
    team, prefer = _team_for(lead, sla)
    user_id, detail = _assign(
        team=team,
        sla=sla,
        now=now,
        exclude_user_ids=exclude_user_ids,
        prefer_user_id=prefer,
    )
    calendar = sla.calendar.spec()
    hours = Decimal(sla.accept_within_hours)
    handoff = Handoff.objects.create(
        lead=lead,
        sla=sla,
        team=team,
        assigned_to_id=user_id,
        previous=previous,
        sequence=previous.sequence + 1 if previous else 1,
        mql_at=mql_at,
        created_at=now,
        due_at=business_hours.add_business_hours(now, hours, calendar),
        at_risk_at=business_hours.add_business_hours(
            now, hours * sla.at_risk_percent / 100, calendar
        ),
        **_snapshot(lead),
    )
    _event(handoff, HandoffEvent.Kind.ASSIGNED, at=now, detail=detail)
    logger.info(
        "handoff %s of lead %s assigned to user %s (%s)",
        handoff.id,
        lead.id,
        user_id,
        detail,
    )
    return handoff


def _create_next(
    previous: Handoff, *, lead: Lead, sla: ServiceLevelAgreement, now: dt.datetime
) -> Handoff:
    """The handoff that replaces ``previous`` (after a breach or a reroute):
    same MQL time, under ``sla``, never to the SDR who had it."""
    return _create(
        lead=lead,
        sla=sla,
        now=now,
        mql_at=previous.mql_at,
        previous=previous,
        exclude_user_ids=(previous.assigned_to_id,) if previous.assigned_to_id else (),
    )


def handoff_open(*, lead_id: int, now: dt.datetime | None = None) -> Handoff | None:
    """Give an MQL its one open handoff under the first matching SLA.

    Locks the lead, so concurrent calls for one lead run one after the other:
    the second finds the pending handoff and returns it (idempotent). A lead
    that is gone or no longer an MQL gets none (returns None). With no SDR
    able to take it, the handoff is created unassigned and the reconciler
    retries each minute. Raises NoServiceLevelAgreement when no SLA covers it.
    """
    now = now or timezone.now()
    with transaction.atomic():
        try:
            lead = lock_lead(lead_id)
        except Lead.DoesNotExist:
            return None
        if lead.stage != Stage.MQL:
            return None
        pending = Handoff.objects.filter(lead_id=lead_id, status=Status.PENDING).first()
        if pending is not None:
            return pending
        sla = sla_for_lead(lead)
        if sla is None:
            raise NoServiceLevelAgreement(
                f"No SLA covers lead {lead_id} and none is the default; add one."
            )
        return _create(lead=lead, sla=sla, now=now, mql_at=lead.stage_changed_at or now)


def handoffs_assign_waiting(*, now: dt.datetime | None = None) -> int:
    """Assign pending handoffs that found nobody free; return how many got someone.

    Each handoff is claimed with a row lock (skip locked), so two beat
    processes never assign the same one twice.
    """
    now = now or timezone.now()
    assigned = 0
    ids = list(
        Handoff.objects.filter(status=Status.PENDING, assigned_to__isnull=True)
        .order_by("id")
        .values_list("id", flat=True)[:ESCALATION_BATCH]
    )
    for handoff_id in ids:
        with transaction.atomic():
            handoff = (
                Handoff.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("sla__calendar", "team", "lead__account")
                .filter(id=handoff_id, status=Status.PENDING, assigned_to__isnull=True)
                .first()
            )
            if handoff is None:
                continue
            team = handoff.team or handoff.sla.team
            user_id, detail = _assign(team=team, sla=handoff.sla, now=now)
            if user_id is None:
                continue
            handoff.assigned_to_id = user_id
            handoff.save(update_fields=["assigned_to"])
            _event(handoff, HandoffEvent.Kind.ASSIGNED, at=now, detail=detail)
            assigned += 1
    return assigned


def mqls_reconcile(*, now: dt.datetime | None = None) -> int:
    """Open handoffs for MQLs whose handoff task was lost; return how many.

    An MQL with no pending handoff that entered ``mql`` more than
    RESCORE_RECONCILE_AFTER_SECONDS ago (a minute by default; younger ones
    are still in flight) gets one through ``handoff_open`` (idempotent).
    """
    now = now or timezone.now()
    reconcile_after = dt.timedelta(seconds=settings.RESCORE_RECONCILE_AFTER_SECONDS)
    lead_ids = list(
        Lead.objects.filter(stage=Stage.MQL, stage_changed_at__lt=now - reconcile_after)
        .exclude(handoffs__status=Status.PENDING)
        .order_by("id")
        .values_list("id", flat=True)[:ESCALATION_BATCH]
    )
    opened = 0
    for lead_id in lead_ids:
        try:
            if handoff_open(lead_id=lead_id, now=now) is not None:
                opened += 1
        except NoServiceLevelAgreement:
            logger.exception("no SLA for MQL lead %s", lead_id)
    return opened
