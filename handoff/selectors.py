"""Reads of the handoff app: SLA matching, who may do what, queues, the pipeline.

Also the candidates an assignment chooses from (read under the team's lock
by the opening services).
"""

from __future__ import annotations

import datetime as dt
import enum
import re
import zoneinfo
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, NamedTuple

from django.contrib.auth import get_user_model
from django.db.models import (
    Case,
    Count,
    DateTimeField,
    Exists,
    F,
    IntegerField,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
    Window,
)
from django.db.models.functions import Coalesce, Greatest, RowNumber

from crm.common.keyset import MAX_ID
from crm.common.roles import ADMIN, MARKETING, SALES, group_names
from handoff import assignment, clock
from handoff.models import (
    BusinessCalendar,
    ContactAttempt,
    Handoff,
    HandoffEvent,
    RejectionReason,
    SalesOutcome,
    SalesProfile,
    ServiceLevelAgreement,
    Team,
    TeamMember,
)
from leads import selectors as lead_selectors
from leads.models import (
    Account,
    Lead,
    Stage,
    StageTransition,
    Touchpoint,
    follow_up_sort_at,
)
from scoring import selectors as scoring_selectors
from scoring.engine import attribute_value, condition_holds
from scoring.models import LeadScoreHistory

#: Touchpoints shown with each row of the SAL queue.
QUEUE_TOUCHPOINTS = 3


def is_manager(user: Any) -> bool:
    """Admins and people with the manager flag see every handoff and decide any.

    Cached on the user object for the request (it costs two queries).
    """
    if not getattr(user, "is_authenticated", False):
        return False
    cached = getattr(user, "_leadflow_is_manager", None)
    if cached is not None:
        return cached
    if user.is_superuser or ADMIN in group_names(user):
        result = True
    else:
        profile = SalesProfile.objects.filter(user_id=user.pk).first()
        result = bool(profile and profile.is_manager)
    user._leadflow_is_manager = result
    return result


def is_manager_remember(user: Any, manager: bool) -> None:
    """Keep what ``is_manager`` answers for ``user`` in this request, read by
    a caller with other facts in one query (``crm.user_facts``)."""
    user._leadflow_is_manager = bool(manager)


def is_manager_known(user: Any) -> bool | None:
    """What ``is_manager`` found for ``user`` in this request, or None when
    it was not asked yet (then it costs nothing to ask this)."""
    return getattr(user, "_leadflow_is_manager", None)


def lead_sla_facts(lead: Lead) -> dict[str, Any]:
    """What an SLA condition can test: scoring's lead facts plus the score."""
    last_kind = (
        Touchpoint.objects.filter(lead_id=lead.id)
        .order_by("-occurred_at", "-id")
        .values_list("kind_id", flat=True)
        .first()
    )
    return lead_sla_facts_known(lead, last_touchpoint_kind=last_kind)


def lead_sla_facts_known(
    lead: Lead, *, last_touchpoint_kind: str | None
) -> dict[str, Any]:
    """``lead_sla_facts`` with the lead's latest touchpoint kind already read
    (``last_touchpoint_kinds``); reads nothing more than ``lead.account``."""
    account = None
    if lead.account_id:
        account = {
            f: getattr(lead.account, f) for f in scoring_selectors.ACCOUNT_FACT_FIELDS
        }
    values = {
        f: getattr(lead, f) for f in (*scoring_selectors.LEAD_FACT_FIELDS, "attributes")
    }
    facts = scoring_selectors.facts_from_values(values, account, None)
    facts.update(
        grade=lead.grade,
        score=lead.score,
        fit_score=lead.fit_score,
        engagement_score=lead.engagement_score,
        last_touchpoint_kind=last_touchpoint_kind or "",
    )
    return facts


def last_touchpoint_kinds(lead_ids: Iterable[int]) -> dict[int, str]:
    """Each lead's latest touchpoint kind (as ``lead_sla_facts`` reads it), in
    one statement; leads without touchpoints are left out."""
    latest = (
        Touchpoint.objects.filter(lead_id=OuterRef("id"))
        .order_by("-occurred_at", "-id")
        .values("kind_id")[:1]
    )
    rows = (
        Lead.objects.filter(id__in=list(lead_ids))
        .annotate(last_kind=Subquery(latest))
        .values_list("id", "last_kind")
    )
    return {lead_id: kind for lead_id, kind in rows if kind is not None}


def sla_covers(sla: ServiceLevelAgreement, facts: dict[str, Any]) -> bool:
    return all(
        condition_holds(
            c["operator"], attribute_value(facts, c["attribute"]), c.get("value")
        )
        for c in sla.conditions or []
    )


def slas_active() -> list[ServiceLevelAgreement]:
    """The active SLAs in the order a lead is matched against them."""
    return list(
        ServiceLevelAgreement.objects.filter(is_active=True)
        .select_related("team", "calendar")
        .order_by("priority", "id")
    )


def sla_pick(
    slas: list[ServiceLevelAgreement], facts: dict[str, Any]
) -> ServiceLevelAgreement | None:
    """Of ``slas_active()``, the first by priority whose conditions all hold
    for ``facts``, else the default."""
    for sla in slas:
        if not sla.is_default and not sla.reroute_only and sla_covers(sla, facts):
            return sla
    return next((sla for sla in slas if sla.is_default), None)


def sla_for_lead(lead: Lead) -> ServiceLevelAgreement | None:
    """The first active SLA by priority whose conditions all hold, else the default."""
    return sla_pick(slas_active(), lead_sla_facts(lead))


def handoff_for_user(user: Any) -> QuerySet[Handoff]:
    """Handoffs ``user`` may see: managers and marketing all; others their
    teams' handoffs, the ones assigned to them or accepted for them, and
    every handoff of a lead they own now (a rep who took the lead over after
    the SDR accepted it).

    The one visibility rule of the pages and the API: a handoff outside it
    is answered as missing, never as forbidden.
    """
    qs = Handoff.objects.all()
    if is_manager(user) or MARKETING in group_names(user):
        return qs
    return qs.filter(
        Q(team_id__in=_team_ids(user))
        | Q(assigned_to=user)
        | Q(owner=user)
        | Q(lead__owner=user)
    )


def _team_ids(user: Any) -> QuerySet[TeamMember]:
    return TeamMember.objects.filter(user=user).values("team_id")


def team_ids_active(*, user: Any) -> set[int]:
    """The teams ``user`` is an active member of: whose unassigned handoffs
    they may take."""
    return set(
        TeamMember.objects.filter(user=user, is_active=True).values_list(
            "team_id", flat=True
        )
    )


def handoff_list_queue(*, user: Any, scope: str = "mine") -> QuerySet[Handoff]:
    """The SAL queue: pending handoffs, soonest due (wall time) first;
    ``queue_pages`` orders a page by business time left.

    ``scope``: ``mine`` (assigned to ``user``), ``team`` (the user's teams,
    others' and unassigned ones) or ``all`` (managers only; others get their
    teams).
    """
    qs = Handoff.objects.filter(status=Handoff.Status.PENDING)
    if scope == "mine":
        qs = qs.filter(assigned_to=user)
    elif scope == "all" and is_manager(user):
        pass
    else:
        qs = qs.filter(team_id__in=_team_ids(user)).exclude(assigned_to=user)
    return qs.select_related(
        "lead__account", "assigned_to", "sla__calendar", "team"
    ).order_by("due_at", "id")


class TouchpointSeen(NamedTuple):
    """What a queue row shows of a touchpoint."""

    kind_id: str
    kind_label: str
    occurred_at: dt.datetime


def queue_touchpoints(
    handoffs: list[Handoff], *, brief: bool = False
) -> dict[int, list[Any]]:
    """The latest touchpoints of each handoff's lead, in one query per page;
    ``brief`` reads only what a queue row shows of them, as
    ``TouchpointSeen`` (no model instances: a page has 120 of them)."""
    lead_ids = [h.lead_id for h in handoffs]
    if not lead_ids:
        return {}
    result: dict[int, list[Touchpoint]] = {i: [] for i in lead_ids}
    # A window function keeps this one query however many touchpoints a lead has.
    rows = (
        Touchpoint.objects.filter(lead_id__in=lead_ids)
        .annotate(
            rank=Window(
                RowNumber(),
                partition_by=[F("lead_id")],
                order_by=[F("occurred_at").desc(), F("id").desc()],
            )
        )
        .filter(rank__lte=QUEUE_TOUCHPOINTS)
        .select_related("kind")
        .order_by("lead_id", "rank")
    )
    if brief:
        for lead_id, *seen in rows.values_list(
            "lead_id", "kind_id", "kind__label", "occurred_at"
        ):
            result[lead_id].append(TouchpointSeen(*seen))
        return result
    for touchpoint in rows:
        result[touchpoint.lead_id].append(touchpoint)
    return result


def _latest_before_mql(rows: QuerySet[Any], handoffs: list[Handoff]) -> QuerySet[Any]:
    """Of ``rows`` (a model with ``lead`` and ``at``), each handoff's lead's
    latest at or before the handoff's ``mql_at``: one query, whose size does
    not grow with the handoffs (one subquery per handoff, on the lead and
    time index)."""
    latest = (
        rows.filter(lead_id=OuterRef("lead_id"), at__lte=OuterRef("mql_at"))
        .order_by("-at", "-id")
        .values("id")[:1]
    )
    picked = Handoff.objects.filter(id__in=[h.id for h in handoffs]).values(
        picked=Subquery(latest)
    )
    return rows.model.objects.filter(id__in=picked)


def scores_when_qualified(handoffs: list[Handoff]) -> dict[int, LeadScoreHistory]:
    """Each handoff's lead's score (with its model) as it stood when the lead
    became an MQL: its latest score history row at or before ``mql_at``, by
    handoff id; a lead with none stored then is left out. One query."""
    if not handoffs:
        return {}
    rows = _latest_before_mql(LeadScoreHistory.objects.all(), handoffs)
    by_lead = {row.lead_id: row for row in rows.select_related("model")}
    return {h.id: by_lead[h.lead_id] for h in handoffs if h.lead_id in by_lead}


def mql_transitions(handoffs: list[Handoff]) -> dict[int, StageTransition]:
    """Each handoff's move of its lead into MQL (the latest at or before
    ``mql_at``), with who made it, by handoff id. One query."""
    if not handoffs:
        return {}
    moves = StageTransition.objects.filter(to_stage=Stage.MQL)
    rows = _latest_before_mql(moves, handoffs)
    by_lead = {row.lead_id: row for row in rows.select_related("actor")}
    return {h.id: by_lead[h.lead_id] for h in handoffs if h.lead_id in by_lead}


def reasons_active(*, audience: str) -> QuerySet[RejectionReason]:
    return RejectionReason.objects.filter(audience=audience, is_active=True).order_by(
        "position", "label"
    )


def handoff_get(*, handoff_id: int, user: Any) -> Handoff:
    """One handoff the user may see, with what its page shows; DoesNotExist else."""
    return (
        handoff_for_user(user)
        .select_related(
            "lead__account",
            "assigned_to",
            "decided_by",
            "owner",
            "reason",
            "sla__calendar",
            "team",
        )
        .prefetch_related("sla__calendar__holidays")
        .get(id=handoff_id)
    )


def attempt_list(*, handoff: Handoff) -> QuerySet[ContactAttempt]:
    """A handoff's contact attempts, newest first, with who made them."""
    return ContactAttempt.objects.filter(handoff=handoff).select_related("user")


def attempt_counts(handoff_ids: Iterable[int]) -> dict[int, int]:
    """Contact attempts per handoff, in one query."""
    ids = list(handoff_ids)
    if not ids:
        return {}
    return dict(
        ContactAttempt.objects.filter(handoff_id__in=ids)
        .values_list("handoff_id")
        .annotate(n=Count("id"))
        .values_list("handoff_id", "n")
    )


def attempt_summaries(
    handoff_ids: Iterable[int],
) -> dict[int, tuple[int, dt.datetime | None]]:
    """Contact attempts per handoff and when the latest was, in one query."""
    ids = list(handoff_ids)
    if not ids:
        return {}
    rows = (
        ContactAttempt.objects.filter(handoff_id__in=ids)
        .values_list("handoff_id")
        .annotate(n=Count("id"), last=Max("at"))
        .values_list("handoff_id", "n", "last")
    )
    return {handoff_id: (n, last) for handoff_id, n, last in rows}


def handoff_list_queue_others(*, user: Any) -> QuerySet[Handoff]:
    """A manager's other queue: every pending handoff not assigned to them."""
    return handoff_list_queue(user=user, scope="all").exclude(assigned_to=user)


@dataclass(frozen=True)
class QueuePage:
    """One page of a queue section, least business time left first."""

    handoffs: list[Handoff]
    #: Pending handoffs in the whole section.
    total: int
    #: This page's number (1 is the first) and how many pages there are.
    number: int
    pages: int
    size: int
    #: The business seconds left on each of the page's SLA clocks, by
    #: handoff id, as the order counted them (``clock.time_left``).
    seconds_left: dict[int, float] = field(default_factory=dict)

    @property
    def first(self) -> int:
        """The position of the page's first row in the section (1 based)."""
        return (self.number - 1) * self.size + 1 if self.handoffs else 0

    @property
    def last(self) -> int:
        return self.first + len(self.handoffs) - 1 if self.handoffs else 0


def calendar_specs(calendar_ids: Iterable[int]) -> dict[int, Any]:
    """The business calendars with their holidays, as ``business_hours``
    specs by id, in two queries."""
    return {id_: c.spec() for id_, c in calendars_with_holidays(calendar_ids).items()}


def calendars_with_holidays(calendar_ids: Iterable[int]) -> dict[int, BusinessCalendar]:
    """The business calendars with their holidays loaded, by id, in two
    queries (none for no ids)."""
    ids = set(calendar_ids)
    if not ids:
        return {}
    calendars = BusinessCalendar.objects.filter(id__in=ids).prefetch_related("holidays")
    return {c.id: c for c in calendars}


#: What a queue row shows of its handoff, lead, account and SLA (the
#: assigned SDR is loaded whole; the team is its id, the SLA's calendar the
#: one the page read): nothing else is read from the database.
QUEUE_ROW_FIELDS = (
    "id",
    "status",
    "mql_at",
    "due_at",
    "at_risk_at",
    "score",
    "grade",
    "score_breakdown",
    "sla__name",
    "sla__calendar",
    "team",
    "assigned_to",
    "lead__id",
    "lead__first_name",
    "lead__last_name",
    "lead__email",
    "lead__job_title",
    "lead__country",
    "lead__stage",
    "lead__score",
    "lead__fit_score",
    "lead__account__id",
    "lead__account__name",
    "lead__account__owner",
)


def queue_pages(
    sections: dict[str, tuple[QuerySet[Handoff], int]], *, size: int, now: dt.datetime
) -> dict[str, QueuePage]:
    """Each section's page, by key: ``sections`` maps a key to a queue's
    handoffs and the page number asked for (clamped to the pages there are);
    a page holds ``size`` handoffs, least business time left on their SLA
    clocks first (ties: the earlier due time, then the id).

    Within one business calendar the time left grows with the due time, so
    the order by due time is that calendar's order: each calendar's first
    ``number * size`` handoffs are read in SQL (due time order, on the queue
    indexes) and only those are counted and merged, however many the section
    holds. The calendars and their holidays are read once for every section
    (two queries), and the pages' rows in one query with only what a row
    shows (``QUEUE_ROW_FIELDS``), their SLAs sharing the calendars read. A
    row decided between the reads is left out.
    """
    by_calendar: dict[int, list[int]] = {}
    for sla_id, calendar_id in ServiceLevelAgreement.objects.values_list(
        "id", "calendar_id"
    ):
        by_calendar.setdefault(calendar_id, []).append(sla_id)
    calendars = calendars_with_holidays(by_calendar)
    specs = {id_: calendar.spec() for id_, calendar in calendars.items()}
    picked, left = {}, {}
    for key, (qs, asked) in sections.items():
        total = qs.count()
        pages = max(1, -(-total // size))
        number = min(max(asked, 1), pages)
        items = _queue_candidates(qs, by_calendar, specs, limit=number * size)
        left.update(clock.time_left(items, now=now))
        order = clock.ordered_by_time_left(items, left)
        ids = order[(number - 1) * size : number * size]
        picked[key] = (ids, total, number, pages)
    loaded = _queue_rows_loaded(
        [id_ for ids, *_ in picked.values() for id_ in ids], calendars
    )
    return {
        key: QueuePage(
            [loaded[i] for i in ids if i in loaded],
            total,
            number,
            pages,
            size,
            {i: left[i] for i in ids},
        )
        for key, (ids, total, number, pages) in picked.items()
    }


def _queue_candidates(
    qs: QuerySet[Handoff],
    by_calendar: dict[int, list[int]],
    specs: dict[int, Any],
    *,
    limit: int,
) -> list[tuple[int, dt.datetime, Any]]:
    """The first ``limit`` handoffs of ``qs`` by due time in each business
    calendar (``by_calendar`` maps a calendar to its SLAs), as ``(id,
    due_at, calendar spec)``: the merge of these holds the section's first
    ``limit`` by business time left. One query: each calendar's slice (an
    index range) in a ``UNION ALL``, none split by SLA when there is one
    calendar."""
    rows = qs.order_by("due_at", "id").values_list("id", "due_at")
    if len(by_calendar) == 1:
        (calendar_id,) = by_calendar
        spec = specs[calendar_id]
        return [(id_, due_at, spec) for id_, due_at in rows[:limit]]
    slices = [
        rows.filter(sla_id__in=sla_ids).annotate(calendar=Value(calendar_id))[:limit]
        for calendar_id, sla_ids in by_calendar.items()
    ]
    merged = slices[0].union(*slices[1:], all=True)
    return [(id_, due_at, specs[calendar]) for id_, due_at, calendar in merged]


def _queue_rows_loaded(
    ids: list[int], calendars: dict[int, BusinessCalendar]
) -> dict[int, Handoff]:
    """The pending handoffs of ``ids`` with what a queue row shows, by id."""
    if not ids:
        return {}
    handoffs = (
        Handoff.objects.filter(id__in=ids, status=Handoff.Status.PENDING)
        .select_related("lead__account", "assigned_to", "sla")
        .only(*QUEUE_ROW_FIELDS)
    )
    loaded = {}
    for handoff in handoffs:
        calendar = calendars.get(handoff.sla.calendar_id)
        if calendar is not None:
            handoff.sla.calendar = calendar
        loaded[handoff.id] = handoff
    return loaded


def queue_counts(*, user: Any) -> dict[str, int]:
    """How many handoffs each section of ``user``'s queue holds, by section
    key (``mine``, ``team``): the badges after a decision."""
    team = (
        handoff_list_queue_others(user=user)
        if is_manager(user)
        else handoff_list_queue(user=user, scope="team")
    )
    return {
        "mine": handoff_list_queue(user=user, scope="mine").count(),
        "team": team.count(),
    }


def reasons_for_sdr() -> list[RejectionReason]:
    """The active SDR rejection reasons, with the SLA each reroutes to."""
    return list(
        reasons_active(audience=RejectionReason.Audience.SDR).select_related(
            "reroute_sla"
        )
    )


def sales_profile_get(*, user: Any) -> SalesProfile | None:
    """The user's sales profile, if they have one."""
    return SalesProfile.objects.filter(user=user).first()


def event_list(*, handoff: Handoff) -> list[HandoffEvent]:
    """A handoff's events in order, with who acted."""
    return list(handoff.events.select_related("actor"))


#: What a pipeline card reads of its handoff (the follow-up clock and its
#: SLA's calendar): nothing else is loaded.
CARD_HANDOFF_FIELDS = (
    "id",
    "lead_id",
    "status",
    "decided_at",
    "follow_up_due_at",
    "followed_up_at",
    "follow_up_breached_at",
    "sla__follow_up_within_hours",
    "sla__at_risk_percent",
    "sla__calendar",
)


def handoffs_accepted_latest(lead_ids: list[int]) -> dict[int, Handoff]:
    """Each lead's latest accepted handoff (its follow-up clock), in 2 queries,
    with only ``CARD_HANDOFF_FIELDS``."""
    handoffs = (
        Handoff.objects.filter(lead_id__in=lead_ids, status=Handoff.Status.ACCEPTED)
        .only(*CARD_HANDOFF_FIELDS)
        .select_related("sla__calendar")
        .prefetch_related("sla__calendar__holidays")
        .order_by("lead_id", "-decided_at", "-id")
    )
    latest: dict[int, Handoff] = {}
    for handoff in handoffs:
        latest.setdefault(handoff.lead_id, handoff)
    return latest


class InvalidPipelineCursor(ValueError):
    """A column position this module did not make (tampered or mistyped)."""


class FollowUp(enum.IntEnum):
    """Where a lead's follow-up stands, in the order a column shows them."""

    #: The clock runs (on track, at risk or overdue): soonest due first.
    DUE = 0
    #: Followed up: longest since the last contact first.
    DONE = 1
    #: No clock (no accepted handoff, or no follow-up window): longest in
    #: the stage first.
    NONE = 2


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_CURSOR = re.compile(r"([0-2])\.(-?\d{1,19})\.(\d{1,19})")


@dataclass(frozen=True)
class PipelineCursor:
    """A card's place in its column: its follow-up group, the time it is
    sorted by within the group, and its lead id (ties)."""

    group: int
    at: dt.datetime
    lead_id: int

    @property
    def token(self) -> str:
        """The position as URL-safe text, e.g. ``0.1772460000000000.42``."""
        micros = (self.at - _EPOCH) // dt.timedelta(microseconds=1)
        return f"{self.group}.{micros}.{self.lead_id}"

    @classmethod
    def parse(cls, token: str) -> PipelineCursor:
        """The position ``token`` names; InvalidPipelineCursor if it names none."""
        match = _CURSOR.fullmatch(token)
        if match is None:
            raise InvalidPipelineCursor(token)
        group, micros, lead_id = (int(part) for part in match.groups())
        try:
            at = _EPOCH + dt.timedelta(microseconds=micros)
        except OverflowError:
            raise InvalidPipelineCursor(token) from None
        if not 1 <= lead_id <= MAX_ID:
            raise InvalidPipelineCursor(token)
        return cls(group=group, at=at, lead_id=lead_id)


@dataclass(frozen=True)
class PipelineColumnPage:
    """A page of a pipeline column, where the next page starts (or None) and
    how many leads the whole column holds."""

    leads: list[Lead]
    next: PipelineCursor | None
    count: int


def follow_up_place_live() -> tuple[Coalesce, Subquery]:
    """A lead's place in its pipeline column worked out from its handoffs:
    the follow-up group (FollowUp) and the time sorted by within it (None:
    when the lead entered its stage), as expressions over ``Lead``.

    The follow-up clock is the lead's latest accepted handoff's. Running
    clocks sort by their due time: within one SLA calendar that is also the
    order of the business time left that the badges show, and across
    calendars it is the order in which the deadlines arrive. A wall-clock
    key never changes as time passes, so a page boundary stays put. The
    last contact is the latest of the follow-up and the handoff's contact
    attempts; a lead without a clock sorts by when it entered its stage.

    This is the definition of the place; ``Lead.follow_up_group`` and
    ``Lead.follow_up_at`` store it (``handoff.services.follow_up``), and the
    boards read the stored copy from the pipeline indexes.
    """
    latest = Handoff.objects.filter(
        lead_id=OuterRef("pk"), status=Handoff.Status.ACCEPTED
    ).order_by("-decided_at", "-id")
    last_attempt = (
        ContactAttempt.objects.filter(handoff_id=OuterRef("pk"))
        .order_by("-at")
        .values("at")[:1]
    )
    # Two lookups of the latest accepted handoff per lead, each returning
    # its part of the place whole: CASE over a subquery's columns would
    # repeat the lookup in every branch.
    clock = latest.annotate(
        group=Case(
            When(followed_up_at__isnull=False, then=Value(int(FollowUp.DONE))),
            When(follow_up_due_at__isnull=False, then=Value(int(FollowUp.DUE))),
            default=Value(int(FollowUp.NONE)),
            output_field=IntegerField(),
        ),
        key_at=Case(
            When(
                followed_up_at__isnull=False,
                then=Greatest(
                    "followed_up_at",
                    Coalesce(Subquery(last_attempt), "followed_up_at"),
                ),
            ),
            default=F("follow_up_due_at"),
            output_field=DateTimeField(),
        ),
    )
    group = Coalesce(
        Subquery(clock.values("group")[:1]),
        Value(int(FollowUp.NONE)),
        output_field=IntegerField(),
    )
    return group, Subquery(clock.values("key_at")[:1], output_field=DateTimeField())


def _follow_up_ordered(leads: QuerySet[Lead]) -> QuerySet[Lead]:
    """``leads`` with their place in their stage's column (``fu_group``,
    ``fu_at``), ordered as the rep must work the column: the place stored
    on the lead (see ``follow_up_place_live`` for what it means), in the
    order of ``lead_pipeline_owner_idx`` and ``lead_pipeline_team_idx``."""
    return leads.annotate(
        fu_group=F("follow_up_group"), fu_at=follow_up_sort_at()
    ).order_by("fu_group", "fu_at", "id")


def _after(cursor: PipelineCursor) -> Q:
    """The leads placed after ``cursor`` in follow-up order."""
    return (
        Q(fu_group__gt=cursor.group)
        | Q(fu_group=cursor.group, fu_at__gt=cursor.at)
        | Q(fu_group=cursor.group, fu_at=cursor.at, id__gt=cursor.lead_id)
    )


def _board_pages(
    leads_in: Callable[[list[str]], QuerySet[Lead]],
    stages: list[str],
    *,
    size: int,
    after: PipelineCursor | None = None,
    shown: Iterable[int] = (),
) -> dict[str, PipelineColumnPage]:
    """Each stage's column of the leads ``leads_in`` gives for the stages: the
    ``size`` leads after ``after`` in follow-up order, leaving out ``shown``
    (cards the page already shows out of order, e.g. moved in). One query
    per column picks its page (ORDER BY the follow-up place, LIMIT ``size``
    + 1), one loads the pages' leads and one counts every column."""
    leads = leads_in(stages)
    counts = _stage_counts(leads, stages)
    left_out = list(shown)

    def keys(stage: str) -> QuerySet[Lead, tuple[int, int, dt.datetime]]:
        # A column's query names its one stage alone: with the board's other
        # stages too, PostgreSQL misjudges how many leads match and sorts
        # them all instead of reading the pipeline index's range.
        ordered = _follow_up_ordered(leads_in([stage]))
        if after is not None:
            ordered = ordered.filter(_after(after))
        if left_out:
            ordered = ordered.exclude(id__in=left_out)
        return ordered.values_list("id", "fu_group", "fu_at")

    # Each column's place keys alone (no lead row is loaded to sort), then
    # the shown cards' leads in one query for the board.
    picks = {stage: list(keys(stage)[: size + 1]) for stage in stages}
    # A card shows none of the free-form attributes: not parsed for 60 cards.
    by_id = leads.defer("attributes").in_bulk(
        [row[0] for rows in picks.values() for row in rows[:size]]
    )
    pages = {}
    for stage, rows in picks.items():
        cursor = None
        if len(rows) > size:
            rows = rows[:size]
            lead_id, group, at = rows[-1]
            cursor = PipelineCursor(group=group, at=at, lead_id=lead_id)
        pages[stage] = PipelineColumnPage(
            leads=[by_id[row[0]] for row in rows if row[0] in by_id],
            next=cursor,
            count=counts[stage],
        )
    return pages


def pipeline_board(
    *, user: Any, stages: list[str], size: int
) -> dict[str, PipelineColumnPage]:
    """The first page of each column of the leads ``user`` owns, by stage."""
    return _board_pages(_owned_in(user), stages, size=size)


def pipeline_column(
    *, user: Any, stage: str, after: PipelineCursor, shown: list[int], size: int
) -> PipelineColumnPage:
    """The page after ``after`` of the leads ``user`` owns in ``stage``."""
    return _board_pages(_owned_in(user), [stage], size=size, after=after, shown=shown)[
        stage
    ]


def _owned_in(user: Any) -> Callable[[list[str]], QuerySet[Lead]]:
    """The leads ``user`` owns in the stages given to the returned function."""
    return lambda stages: lead_selectors.lead_list_owned(user=user, stages=stages)


def pipeline_lead_get(*, user: Any, stages: list[str], lead_id: int) -> Lead | None:
    """One lead ``user`` owns in the given stages, or None."""
    return (
        lead_selectors.lead_list_owned(user=user, stages=stages)
        .filter(id=lead_id)
        .first()
    )


def pipeline_stage_counts(*, user: Any, stages: list[str]) -> dict[str, int]:
    """How many leads ``user`` owns in each of the given stages."""
    return _stage_counts(
        lead_selectors.lead_list_owned(user=user, stages=stages), stages
    )


def _stage_counts(leads: QuerySet[Lead], stages: list[str]) -> dict[str, int]:
    counts = dict(
        leads.order_by()
        .values_list("stage")
        .annotate(n=Count("id"))
        .values_list("stage", "n")
    )
    return {stage: counts.get(stage, 0) for stage in stages}


def _team_pipeline(stages: list[str], owner_id: int | None) -> QuerySet[Lead]:
    leads = Lead.objects.filter(stage__in=stages)
    if owner_id is not None:
        leads = leads.filter(owner_id=owner_id)
    return leads.select_related("account", "owner").order_by("-stage_changed_at", "-id")


def pipeline_team_board(
    *, stages: list[str], owner_id: int | None, size: int
) -> dict[str, PipelineColumnPage]:
    """The first page of each column of the team pipeline (of every owner,
    or of ``owner_id`` only), with the leads' owners."""
    return _board_pages(_team_in(owner_id), stages, size=size)


def pipeline_team_column(
    *,
    stage: str,
    owner_id: int | None,
    after: PipelineCursor,
    shown: list[int],
    size: int,
) -> PipelineColumnPage:
    """The page after ``after`` of the team pipeline's ``stage`` column."""
    return _board_pages(
        _team_in(owner_id), [stage], size=size, after=after, shown=shown
    )[stage]


def _team_in(owner_id: int | None) -> Callable[[list[str]], QuerySet[Lead]]:
    """The team pipeline's leads (or ``owner_id``'s) in the stages given to
    the returned function."""
    return lambda stages: _team_pipeline(stages, owner_id)


def pipeline_team_stage_counts(
    *, stages: list[str], owner_id: int | None
) -> dict[str, int]:
    """How many leads of the team pipeline (or of ``owner_id``) are in each stage."""
    return _stage_counts(_team_pipeline(stages, owner_id), stages)


def pipeline_team_lead_get(*, lead_id: int) -> Lead | None:
    """One lead as the team pipeline shows it (whatever its stage), or None."""
    return _team_pipeline(list(Stage), None).filter(id=lead_id).first()


def sales_reps_active() -> list[Any]:
    """The active sales reps, by name: who a manager may hand a lead to."""
    return list(
        get_user_model()
        .objects.filter(is_active=True, groups__name=SALES)
        .distinct()
        .order_by("first_name", "last_name", "username")
    )


def pipeline_owners(*, stages: list[str]) -> list[Any]:
    """Who the team pipeline can be filtered by: the active sales reps and
    anyone else who owns a lead in the given stages, by name."""
    # Asked per person (the index on owner and stage), never per lead.
    user_model = get_user_model()
    people = user_model.objects.annotate(
        owns=Exists(Lead.objects.filter(owner_id=OuterRef("pk"), stage__in=stages)),
        sells=Exists(
            user_model.groups.through.objects.filter(
                user_id=OuterRef("pk"), group__name=SALES
            )
        ),
    ).order_by("first_name", "last_name", "username")
    return [p for p in people if p.owns or (p.sells and p.is_active)]


def sales_outcomes_closed(
    *, user: Any, stages: Iterable[str], since: dt.datetime, limit: int
) -> list[SalesOutcome]:
    """The latest moves by ``user`` into the given (closed) stages since ``since``."""
    return list(
        SalesOutcome.objects.filter(actor=user, to_stage__in=stages, at__gte=since)
        .select_related("lead", "reason")
        .order_by("-at", "-id")[:limit]
    )


def _deal_opened(lead_ref: Any) -> QuerySet[SalesOutcome]:
    """The latest opportunity opening of ``lead_ref`` (an id or OuterRef)."""
    return SalesOutcome.objects.filter(
        lead_id=lead_ref, to_stage=Stage.OPPORTUNITY, reason__isnull=True
    ).order_by("-at", "-id")


def deals_open(lead_ids: Iterable[int]) -> dict[int, SalesOutcome]:
    """Each lead's latest opportunity opening (its deal amount and expected
    close date), by lead id; leads never opened are left out."""
    deals: dict[int, SalesOutcome] = {}
    rows = SalesOutcome.objects.filter(
        lead_id__in=list(lead_ids), to_stage=Stage.OPPORTUNITY, reason__isnull=True
    ).order_by("lead_id", "-at", "-id")
    for outcome in rows.only("lead_id", "amount", "expected_close_on", "at"):
        deals.setdefault(outcome.lead_id, outcome)
    return deals


def deal_value_total(*, user: Any | None, owner_id: int | None = None) -> Decimal:
    """The summed deal amounts of the open opportunities ``user`` owns (or,
    with ``user`` None, of the team's: every owner's, or ``owner_id``'s)."""
    if user is not None:
        leads = Lead.objects.filter(owner=user, stage=Stage.OPPORTUNITY)
    else:
        leads = _team_pipeline([Stage.OPPORTUNITY], owner_id)
    total = (
        leads.order_by()
        .annotate(deal=Subquery(_deal_opened(OuterRef("pk")).values("amount")[:1]))
        .aggregate(total=Sum("deal"))["total"]
    )
    return total or Decimal("0")


def sla_list() -> QuerySet[ServiceLevelAgreement]:
    """Every SLA, by priority (the report's filter)."""
    return ServiceLevelAgreement.objects.order_by("priority", "id")


def team_list() -> QuerySet[Team]:
    """Every team, by name (the report's filter)."""
    return Team.objects.order_by("name")


def sales_lead_for(*, user: Any, lead_id: int) -> Lead | None:
    """The lead ``user`` may move in the sales pipeline: any (not erased) for
    a manager, else only one they own; None otherwise."""
    leads = Lead.objects.filter(id=lead_id, erased_at__isnull=True)
    if not is_manager(user):
        leads = leads.filter(owner_id=user.pk)
    return leads.only("id", "owner_id").first()


def lead_get(*, lead_id: int) -> Lead | None:
    """A lead by id, or None."""
    return Lead.objects.filter(id=lead_id).first()


def lead_get_for_message(*, lead_id: int) -> Lead:
    """A lead with only what a message names: its stage and its name fields."""
    return Lead.objects.only("stage", "first_name", "last_name", "email").get(
        id=lead_id
    )


def user_owned_work(*, user_id: int) -> dict[str, int]:
    """What a person owns that would be orphaned if they left.

    ``leads`` and ``accounts`` they own, ``pending_handoffs`` assigned to
    them, and ``accepted_handoffs`` they own whose lead is still in the sales
    pipeline (SAL, SQL, opportunity). All zero means they own nothing.
    """
    return {
        "leads": Lead.objects.filter(owner_id=user_id).count(),
        "accounts": Account.objects.filter(owner_id=user_id).count(),
        "pending_handoffs": Handoff.objects.filter(
            assigned_to_id=user_id, status=Handoff.Status.PENDING
        ).count(),
        "accepted_handoffs": pipeline_handoffs_owned(user_id).count(),
    }


def pipeline_handoffs_owned(user_id: int) -> QuerySet[Handoff]:
    """Accepted handoffs ``user_id`` owns whose lead is still with sales."""
    return pipeline_handoffs_owned_by([user_id])


def pipeline_handoffs_owned_by(user_ids: list[int]) -> QuerySet[Handoff]:
    """Accepted handoffs these people own whose lead is still with sales."""
    return Handoff.objects.filter(
        owner_id__in=user_ids,
        status=Handoff.Status.ACCEPTED,
        lead__stage__in=[Stage.SAL, Stage.SQL, Stage.OPPORTUNITY],
    )


#: Each team's members' loads by user id, by team id: what a page asking
#: several routes of one team counts once (a load does not depend on the day).
Loads = dict[int, dict[int, int]]


def assignment_candidates(
    team: Team,
    *,
    day_start: dt.datetime,
    today: dt.date,
    sales: bool = False,
    loads: Loads | None = None,
) -> list[assignment.Candidate]:
    """The team's active members with their counters, loads and away flags.

    An SDR's load is their pending handoffs and today's count the handoffs
    assigned to them since ``day_start``; a sales rep's (``sales``) load is
    their accepted leads still in the pipeline (SAL, SQL, opportunity) and
    today's count the leads accepted to them since ``day_start``.

    ``loads``, when given, keeps the team's loads for the next call of the
    same request (the accept form's suggestions); the decision services
    pass none and count afresh under the team's lock.
    """
    members = list(
        TeamMember.objects.filter(team=team, is_active=True, user__is_active=True)
        .select_related("user__sales_profile")
        .order_by("id")
    )
    user_ids = [m.user_id for m in members]
    if sales:
        person = "owner"
        today_qs = Handoff.objects.filter(
            owner__in=user_ids,
            status=Handoff.Status.ACCEPTED,
            decided_at__gte=day_start,
        )
    else:
        person = "assigned_to"
        today_qs = Handoff.objects.filter(
            assigned_to__in=user_ids, created_at__gte=day_start
        )
    if loads is not None and team.id in loads:
        open_counts = loads[team.id]
    else:
        open_counts = _counts_by(_loads_of(user_ids, sales=sales), person)
        if loads is not None:
            loads[team.id] = open_counts
    today_counts = _counts_by(today_qs, person)
    result = []
    for m in members:
        profile = getattr(m.user, "sales_profile", None)
        result.append(
            assignment.Candidate(
                member_id=m.id,
                user_id=m.user_id,
                weight=m.weight,
                assigned_count=m.assigned_count,
                last_turn=m.last_turn,
                open_count=open_counts.get(m.user_id, 0),
                today_count=today_counts.get(m.user_id, 0),
                daily_cap=m.daily_cap,
                open_cap=m.open_cap,
                away=bool(profile and profile.away_on(today)),
            )
        )
    return result


def _loads_of(user_ids: list[int], *, sales: bool) -> QuerySet[Handoff]:
    """What counts towards these people's loads: a sales rep's accepted
    leads still in the pipeline, an SDR's pending handoffs."""
    if sales:
        return pipeline_handoffs_owned_by(user_ids)
    return Handoff.objects.filter(
        assigned_to__in=user_ids, status=Handoff.Status.PENDING
    )


def _counts_by(qs: QuerySet[Handoff], field: str) -> dict[int, int]:
    # COUNT(*), not of a column: the queue and period indexes answer alone.
    return dict(
        qs.order_by().values_list(field).annotate(n=Count("*")).values_list(field, "n")
    )


def team_candidates(
    team: Team,
    *,
    sla: ServiceLevelAgreement,
    now: dt.datetime,
    sales: bool = False,
    loads: Loads | None = None,
) -> list[assignment.Candidate]:
    """``assignment_candidates`` with "today" in the SLA calendar's time zone."""
    day_start, today = assignment_day(sla.calendar.spec().time_zone, now)
    return assignment_candidates(
        team, day_start=day_start, today=today, sales=sales, loads=loads
    )


def assignment_day(time_zone: str, now: dt.datetime) -> tuple[dt.datetime, dt.date]:
    """The start (UTC) and date of ``now``'s day in ``time_zone``: the day a
    person's daily cap and away dates are counted in."""
    local_now = now.astimezone(zoneinfo.ZoneInfo(time_zone))
    day_start = local_now.replace(hour=0, minute=0, second=0, microsecond=0)
    return day_start.astimezone(dt.UTC), local_now.date()


def is_active_sales_rep(user: Any) -> bool:
    """Whether ``user`` is an active member of the Sales role."""
    return bool(user.is_active) and user.groups.filter(name=SALES).exists()


def pipeline_new_count(*, user: Any) -> int:
    """Leads accepted to ``user`` that they have not followed up yet.

    "New" is a lead still a SAL whose accepted handoff has no follow-up: no
    contact attempt by the owner and no sales move since it was accepted.
    """
    return (
        Handoff.objects.filter(
            owner=user,
            status=Handoff.Status.ACCEPTED,
            followed_up_at__isnull=True,
            lead__stage=Stage.SAL,
            lead__owner=user,
        )
        .values("lead_id")
        .distinct()
        .count()
    )
