"""Reads of the leads domain that feed lists and dashboards."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import (
    Count,
    DecimalField,
    Exists,
    OuterRef,
    Q,
    QuerySet,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce

from crm.common.keyset import (
    Cursor,
    KeysetPage,
    SortKey,
    decode_cursor,
    encode_cursor,
    keyset_page,
    ordering_for,
)
from leads.edit_scope import LEAD_SOURCE_FIELDS
from leads.geo import country_from_text
from leads.lifecycle import FUNNEL, stage_rank
from leads.models import (
    Campaign,
    CampaignSpend,
    Lead,
    Stage,
    StageTransition,
    Touchpoint,
    TouchpointKind,
    WebForm,
)
from leads.search import word_condition


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
    """Touchpoints that occurred at or after ``since``.

    Names every kind so that PostgreSQL reads the kind/time index one kind at
    a time, entries in the window only, instead of the whole table.
    """
    kinds = list(TouchpointKind.objects.values_list("code", flat=True))
    return Touchpoint.objects.filter(kind_id__in=kinds, occurred_at__gte=since).count()


def lead_list_api() -> QuerySet[Lead]:
    """Leads for the API, with owner and account joined (no N+1)."""
    return Lead.objects.select_related("owner", "account").filter(
        erased_at__isnull=True
    )


# Lead lists: filters, keyset pages, counts and the CSV export
# ------------------------------------------------------------------------------

#: The lead list's default order, newest first (index lead_created_idx).
LEAD_SORT_DEFAULT = SortKey(field="created_at", descending=True)
#: Sorts whose index is not on the lead row: the score's is on LeadRank.
LEAD_SORT_PATHS = {"score": "rank__score"}
#: Counting a filtered list stops here: an exact count(*) costs 40-60 ms at 1M
#: leads, so larger totals are shown as "more than" or estimated.
LEAD_COUNT_CAP = 10_000
#: Leads fetched per round trip by the CSV export (bounded memory for 1M).
LEAD_EXPORT_CHUNK_SIZE = 2_000
#: Most words of a search; each must match name, e-mail or company.
SEARCH_MAX_TERMS = 5

#: Columns of the CSV export, in order (the header row).
LEAD_EXPORT_COLUMNS: tuple[str, ...] = (
    "email",
    "first_name",
    "last_name",
    "job_title",
    "seniority",
    "department",
    "country",
    "region",
    "company",
    "domain",
    "stage",
    "highest_stage",
    "score",
    "grade",
    "owner",
    *LEAD_SOURCE_FIELDS,
    "created_at",
)
# The database column behind each export column (joined, no model instances).
_EXPORT_VALUES = tuple(
    {"company": "account__name", "domain": "account__domain"}.get(
        column, "owner__username" if column == "owner" else column
    )
    for column in LEAD_EXPORT_COLUMNS
)


@dataclass(frozen=True)
class LeadScope:
    """A lead filter that a higher app defines (the SLA a lead was handed off
    under): ``condition`` filters Lead rows; ``name`` and ``value`` are what an
    export's audit row keeps of it."""

    name: str
    value: Any
    condition: Any


def lead_filter(
    queryset: QuerySet[Lead],
    *,
    stages: Sequence[str] = (),
    owner: str = "",
    country: str = "",
    score_min: Decimal | None = None,
    score_max: Decimal | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    reached_stage: str = "",
    entered_stage: str = "",
    entered_after: datetime | None = None,
    entered_before: datetime | None = None,
    campaign_id: int | None = None,
    channel: str = "",
    source: str = "",
    region: str = "",
    scopes: Sequence[LeadScope] = (),
    q: str = "",
    sort: SortKey | None = None,
) -> QuerySet[Lead]:
    """The lead list filters, one definition for the API and the lead list page.

    Empty criteria do not filter. ``stages``: any of these stage codes;
    ``owner``: the owner's username; ``country``: ISO code or English name, any case;
    ``score_min``/``score_max``: inclusive; ``created_after`` inclusive and
    ``created_before`` exclusive; ``reached_stage``: a funnel stage the lead
    reached or passed (its highest stage, as the cohort funnel counts);
    ``entered_stage``: a stage the lead moved into, at a time in
    ``[entered_after, entered_before)`` when given (as the flow funnel
    counts); ``campaign_id``: the lead has a touchpoint of this campaign;
    ``channel``: a touchpoint of a campaign in this channel; ``source``,
    ``region``: the lead's own; ``scopes``: further filters of higher apps;
    ``q``: every word (up to SEARCH_MAX_TERMS) appears in the first
    or last name, the e-mail or the company name. ``sort``: the order the
    list will be read in; with a sort through LeadRank (LEAD_SORT_PATHS) the
    stages are matched on its copy of the stage, whose index is in that
    order (the lead's own stage as well made the planner misjudge how many
    leads match and sort every lead of a stage for one page).
    """
    if stages:
        by_rank = sort is not None and sort.field in LEAD_SORT_PATHS
        stage = "rank__stage" if by_rank else "stage"
        queryset = queryset.filter(**{f"{stage}__in": list(stages)})
    if owner:
        queryset = queryset.filter(owner__username=owner)
    if country.strip():
        # A text naming no country filters on itself, so it matches nothing.
        code = country_from_text(country) or country.strip().upper()
        queryset = queryset.filter(country=code)
    # Through LeadRank, whose index on the score serves the range.
    if score_min is not None:
        queryset = queryset.filter(rank__score__gte=score_min)
    if score_max is not None:
        queryset = queryset.filter(rank__score__lte=score_max)
    if created_after is not None:
        queryset = queryset.filter(created_at__gte=created_after)
    if created_before is not None:
        queryset = queryset.filter(created_at__lt=created_before)
    if reached_stage:
        queryset = queryset.filter(
            highest_stage__in=FUNNEL[max(stage_rank(reached_stage), 0) :]
        )
    if entered_stage:
        moves = StageTransition.objects.filter(
            lead_id=OuterRef("pk"), to_stage=entered_stage
        )
        if entered_after is not None:
            moves = moves.filter(at__gte=entered_after)
        if entered_before is not None:
            moves = moves.filter(at__lt=entered_before)
        queryset = queryset.filter(Exists(moves))
    if campaign_id is not None:
        queryset = queryset.filter(
            Exists(
                Touchpoint.objects.filter(
                    lead_id=OuterRef("pk"), campaign_id=campaign_id
                )
            )
        )
    if channel:
        queryset = queryset.filter(
            Exists(
                Touchpoint.objects.filter(
                    lead_id=OuterRef("pk"), campaign__channel=channel
                )
            )
        )
    if source:
        queryset = queryset.filter(source=source)
    if region:
        queryset = queryset.filter(region=region)
    for scope in scopes:
        queryset = queryset.filter(scope.condition)
    for term in q.split()[:SEARCH_MAX_TERMS]:
        queryset = queryset.filter(word_condition(term))
    return queryset


def lead_list_filtered(**criteria: Any) -> QuerySet[Lead]:
    """Leads matching ``criteria`` (see ``lead_filter``), erased ones left out,
    with owner and account joined; unordered."""
    return lead_filter(lead_list_api(), **criteria)


def leads_for_sort(
    queryset: QuerySet[Lead], sort: SortKey
) -> tuple[QuerySet[Lead], SortKey]:
    """``queryset`` and ``sort`` as a keyset page of leads must read them: a
    sort by score reads LeadRank (LEAD_SORT_PATHS). Filter the queryset with
    ``lead_filter(sort=sort)``, so a stage filter reads the same index.

    Every lead has its LeadRank row; the join is made an inner one, since
    ordering by an outer join's column cannot walk that table's index.
    """
    sort = sort.via(LEAD_SORT_PATHS)
    if sort.path is not None:
        queryset = queryset.filter(rank__isnull=False)
    return queryset, sort


def lead_page(
    *,
    sort: SortKey = LEAD_SORT_DEFAULT,
    cursor: str | None = None,
    size: int = 50,
    **criteria: Any,
) -> tuple[KeysetPage[Lead], str | None, str | None]:
    """One page of the filtered lead list and the tokens of its neighbours.

    Keyset pagination in ``sort`` order with ties broken by id (one query, no
    OFFSET). Returns ``(page, next_token, previous_token)``; a token is None
    where there is no such page. A cursor token made for another sort, or
    tampered with, raises ``crm.common.keyset.InvalidCursor``.
    """
    position = (
        decode_cursor(cursor, sort=sort, model=Lead) if cursor is not None else None
    )
    queryset, sort = leads_for_sort(lead_list_filtered(sort=sort, **criteria), sort)
    page = keyset_page(
        queryset,
        sort=sort,
        cursor=position,
        size=size,
        # A search's matches come from the trigram indexes in no order.
        ids_first=bool(str(criteria.get("q") or "").split()),
    )

    def token(at: Cursor | None) -> str | None:
        return encode_cursor(at, sort=sort, model=Lead) if at is not None else None

    return page, token(page.next_cursor), token(page.previous_cursor)


@dataclass(frozen=True)
class LeadCount:
    """How many leads a list has: exact, at least ``value``, or about ``value``."""

    value: int
    kind: Literal["exact", "more_than", "about"]


def lead_count(*, cap: int = LEAD_COUNT_CAP, **criteria: Any) -> LeadCount:
    """Count the filtered list, reading at most ``cap + 1`` rows.

    With no criteria on PostgreSQL a list larger than ``cap`` is answered from
    the planner's row estimate of the table (``pg_class.reltuples``, free);
    elsewhere "more than ``cap``".
    """
    counted = lead_list_filtered(**criteria).order_by().values("id")[: cap + 1].count()
    if counted <= cap:
        return LeadCount(counted, "exact")
    if not any(criteria.values()) and connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                [Lead._meta.db_table],
            )
            row = cursor.fetchone()
        if row and row[0] > cap:
            return LeadCount(int(row[0]), "about")
    return LeadCount(cap, "more_than")


def lead_owner_choices() -> list[tuple[str, str]]:
    """``(username, display name)`` of active users in a role, by name.

    Who can own leads; a small table, read for the owner filter.
    """
    users = (
        get_user_model()
        .objects.filter(is_active=True)
        .filter(Q(groups__isnull=False) | Q(is_superuser=True))
        .distinct()
        .order_by("first_name", "last_name", "username")
    )
    return [(u.username, u.get_full_name() or u.username) for u in users]


def lead_export_rows(
    leads: QuerySet[Lead], *, sort: SortKey = LEAD_SORT_DEFAULT
) -> Iterator[tuple[Any, ...]]:
    """The header, then one tuple per lead of ``leads`` (a filtered list from
    ``lead_list_filtered``), in ``sort`` order.

    Values are raw (strings, Decimal score, aware ``created_at``) in the order
    of LEAD_EXPORT_COLUMNS; ``leads.exports`` makes them CSV-safe text. Reads
    with a database cursor LEAD_EXPORT_CHUNK_SIZE rows at a time and builds no
    model instances, so memory stays flat for a million leads.
    """
    queryset = leads.order_by(*ordering_for(sort, Lead)).values_list(*_EXPORT_VALUES)
    yield LEAD_EXPORT_COLUMNS
    yield from queryset.iterator(chunk_size=LEAD_EXPORT_CHUNK_SIZE)


def web_form_get_active(*, key: str) -> WebForm | None:
    """The active web form with this key, or None (unknown, inactive, or its
    touchpoint kind was retired, so a submission could not be recorded)."""
    return (
        WebForm.objects.select_related("campaign")
        .filter(key=key, is_active=True, kind__is_active=True)
        .first()
    )


# Campaigns and their spend
# ------------------------------------------------------------------------------

#: The campaign list's sorts: key -> (label, ordering).
CAMPAIGN_SORTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "name": ("Name", ("name",)),
    "-spend": ("Spend to date, highest first", ("-spend_to_date", "name")),
    "spend": ("Spend to date, lowest first", ("spend_to_date", "name")),
}


def campaign_list_with_spend(*, today: date, sort: str = "name") -> QuerySet[Campaign]:
    """Every campaign with ``spend_to_date`` (every line up to this month)
    and ``spend_this_month`` (this month's lines), both 0 without lines,
    sorted by ``CAMPAIGN_SORTS[sort]`` (by name for an unknown key)."""
    this_month = today.replace(day=1)
    zero = Value(Decimal(0), output_field=DecimalField(max_digits=14, decimal_places=2))
    _, ordering = CAMPAIGN_SORTS.get(sort, CAMPAIGN_SORTS["name"])
    return Campaign.objects.annotate(
        spend_to_date=Coalesce(
            Sum("spend_lines__amount", filter=Q(spend_lines__month__lte=this_month)),
            zero,
        ),
        spend_this_month=Coalesce(
            Sum("spend_lines__amount", filter=Q(spend_lines__month=this_month)), zero
        ),
    ).order_by(*ordering)


@dataclass(frozen=True)
class SpendMonth:
    """One month of a campaign's ledger: its lines and their total."""

    month: date
    lines: list[CampaignSpend]
    total: Decimal


def campaign_spend_by_month(*, campaign_id: int) -> list[SpendMonth]:
    """The campaign's spend lines grouped by month, the latest month first,
    each month's lines in the order they were added."""
    months: dict[date, list[CampaignSpend]] = {}
    lines = CampaignSpend.objects.filter(campaign_id=campaign_id).order_by(
        "-month", "id"
    )
    for line in lines:
        months.setdefault(line.month, []).append(line)
    return [
        SpendMonth(
            month=month,
            lines=group,
            total=sum((line.amount for line in group), Decimal(0)),
        )
        for month, group in months.items()
    ]
