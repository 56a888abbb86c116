"""A manager's team pipeline: every rep's accepted leads by stage, filterable
by rep, and handing a lead to another rep with a reason.

A reassignment answers a plain POST with a redirect and a message, and an
htmx POST with the lead's card again: with the confirmation, or with the
problem shown next to the form (422 input to fix, 409 someone reassigned it
first).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe

from handoff import selectors, services
from handoff.forms import ReassignForm
from handoff.presenters import FormState, pipeline_cards, reassigned_text
from handoff.templatetags.handoff_tags import person
from handoff.views.access import team_access
from handoff.views.pipeline import (
    COLUMN_PAGE,
    PIPELINE_STAGES,
    BadPosition,
    bad_position_response,
    board_columns,
    card_form_post,
    column_position,
    deal_totals,
)


@dataclass(frozen=True)
class RepFilter:
    """The rep the page is filtered by (None: everyone), and what to say."""

    rep: Any | None = None
    problem: str = ""

    @property
    def rep_id(self) -> int | None:
        return self.rep.pk if self.rep is not None else None

    @property
    def query(self) -> dict[str, Any]:
        """The filter as a column's "Show more" carries it."""
        return {"rep": self.rep.pk} if self.rep is not None else {}


def _rep_filter(request: HttpRequest, owners: list[Any]) -> RepFilter:
    """The ``rep`` of the query among ``owners``; any other value is refused
    with a message and shows every rep."""
    raw = request.GET.get("rep", "").strip()
    if not raw:
        return RepFilter()
    by_id = {str(owner.pk): owner for owner in owners}
    if raw in by_id:
        return RepFilter(rep=by_id[raw])
    return RepFilter(problem="That rep is not one of the list; showing every rep.")


def _team_context(*, reps: bool = False) -> dict[str, Any]:
    """The time, and with ``reps`` the active reps a reassign form lists
    (the board's cards fetch that form when opened, so a board needs none)."""
    context: dict[str, Any] = {"now": timezone.now()}
    if reps:
        context["reps"] = selectors.sales_reps_active()
    return context


def _empty_text(rep_filter: RepFilter, total: int) -> str:
    """What the board says when none of its columns holds a lead."""
    if total:
        return ""
    if rep_filter.rep is not None:
        return f"{person(rep_filter.rep)} has no accepted leads in the pipeline."
    return "No rep has an accepted lead in the pipeline."


@require_safe
@team_access
def pipeline_team(request: HttpRequest) -> HttpResponse:
    """Every rep's accepted leads by stage (or one rep's), to hand them over."""
    stages = list(PIPELINE_STAGES)
    owners = selectors.pipeline_owners(stages=stages)
    rep_filter = _rep_filter(request, owners)
    context = _team_context()
    pages = selectors.pipeline_team_board(
        stages=stages, owner_id=rep_filter.rep_id, size=COLUMN_PAGE
    )
    columns = board_columns(
        pages,
        url_name="handoff:pipeline_team_column",
        now=context["now"],
        query=rep_filter.query,
    )
    deal_totals(
        columns, selectors.deal_value_total(user=None, owner_id=rep_filter.rep_id)
    )
    context.update(
        columns=columns,
        rep_id=rep_filter.rep_id,
        filter_problem=rep_filter.problem,
        board_empty=_empty_text(rep_filter, sum(c.count for c in columns)),
        owners=owners,
    )
    return render(request, "handoff/pipeline_team.html", context)


@require_safe
@team_access
def pipeline_team_column(request: HttpRequest, stage: str) -> HttpResponse:
    """The next page of a team pipeline column (htmx "Show more")."""
    try:
        after, shown = column_position(request, stage)
    except BadPosition:
        return bad_position_response()
    owners = selectors.pipeline_owners(stages=list(PIPELINE_STAGES))
    rep_filter = _rep_filter(request, owners)
    page = selectors.pipeline_team_column(
        stage=stage,
        owner_id=rep_filter.rep_id,
        after=after,
        shown=shown,
        size=COLUMN_PAGE,
    )
    context = _team_context()
    (column,) = board_columns(
        {stage: page},
        url_name="handoff:pipeline_team_column",
        now=context["now"],
        query=rep_filter.query,
    )
    context.update(
        column=column,
        card_template="handoff/partials/pipeline_team_card.html",
        rep_id=rep_filter.rep_id,
    )
    return render(request, "handoff/partials/pipeline_more.html", context)


def team_card_response(
    request: HttpRequest,
    lead_id: int,
    *,
    state: FormState,
    status: int = 200,
    counts: dict[str, int] | None = None,
) -> HttpResponse:
    """A lead's team card again after a reassignment, with ``state`` shown,
    and the board's column ``counts`` when they changed."""
    lead = selectors.pipeline_team_lead_get(lead_id=lead_id)
    if lead is None:
        raise Http404("No such lead.")
    card = pipeline_cards([lead])[0]
    card.state = state
    card.replaced = True
    context = _team_context(reps=state.open == "reassign")
    context.update(card=card, counts=counts, rep_id=_board_rep(request))
    template = "handoff/partials/pipeline_team_reassigned.html"
    return render(request, template, context, status=status)


@require_safe
@team_access
def reassign_form(request: HttpRequest, lead_id: int) -> HttpResponse:
    """A team card's reassign form, fetched when "Reassign…" is opened: the
    active reps are read for this card alone, not listed in every card.
    ``rep`` is the rep the board is filtered by, which the form carries.
    Without htmx, the card on a page of its own with the form open."""
    lead = selectors.pipeline_team_lead_get(lead_id=lead_id)
    if lead is None:
        raise Http404("No such lead.")
    card = pipeline_cards([lead])[0]
    card.state = FormState(open="reassign")
    raw = request.GET.get("rep", "")
    context = _team_context(reps=True)
    context.update(card=card, lead=lead, rep_id=int(raw) if raw.isdigit() else None)
    if not request.htmx:
        return render(request, "handoff/pipeline_team_form.html", context)
    return render(request, "handoff/partials/reassign_form.html", context)


def _board_rep(request: HttpRequest) -> int | None:
    """The rep the board a card form came from is filtered by, if any."""
    raw = request.POST.get("board_rep", "")
    return int(raw) if raw.isdigit() else None


@require_POST
@team_access
def reassign(request: HttpRequest, lead_id: int) -> HttpResponse:
    """Hand a lead in the pipeline to another active rep, with a reason.

    On a board filtered by a rep, the lead leaves that rep's columns: the
    answer carries their new counts.
    """
    form = ReassignForm(request.POST)
    change = card_form_post(
        request,
        lead_id,
        form,
        services.lead_reassign,
        form_name="reassign",
        page="handoff:pipeline_team",
        card=team_card_response,
    )
    if isinstance(change, HttpResponse):
        return change
    text = reassigned_text(change)
    rep_id = _board_rep(request)
    if not request.htmx:
        messages.success(request, text)
        query = f"?{urlencode({'rep': rep_id})}" if rep_id is not None else ""
        return redirect(reverse("handoff:pipeline_team") + query)
    counts = None
    if rep_id is not None:
        counts = selectors.pipeline_team_stage_counts(
            stages=list(PIPELINE_STAGES), owner_id=rep_id
        )
    return team_card_response(
        request, lead_id, state=FormState(note=text), counts=counts
    )
