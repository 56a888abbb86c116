"""A manager's team pipeline: every rep's accepted leads by stage, filterable
by rep, and handing a lead to another rep with a reason.

A reassignment answers a plain POST with a redirect and a message, and an
htmx POST with the lead's card again: with the confirmation, or with the
problem shown next to the form (422 input to fix, 409 someone reassigned it
first).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe

from handoff import selectors, services
from handoff.forms import ReassignForm
from handoff.presenters import FormState, pipeline_cards, reassigned_text
from handoff.views.access import team_access
from handoff.views.pipeline import (
    PIPELINE_LIMIT,
    PIPELINE_STAGES,
    board_columns,
    card_form_post,
)


def _rep_filter(request: HttpRequest) -> tuple[int | None, str]:
    """The rep the page is filtered by (None: everyone), and a problem with it."""
    raw = request.GET.get("rep", "").strip()
    if not raw:
        return None, ""
    if raw.isdigit():
        return int(raw), ""
    return None, "That rep filter is not one of the list; showing every rep."


def _team_context() -> dict[str, Any]:
    return {"now": timezone.now(), "reps": selectors.sales_reps_active()}


@require_safe
@team_access
def pipeline_team(request: HttpRequest) -> HttpResponse:
    """Every rep's accepted leads by stage (or one rep's), to hand them over."""
    rep_id, problem = _rep_filter(request)
    stages = list(PIPELINE_STAGES)
    leads = selectors.pipeline_team_leads(
        stages=stages, owner_id=rep_id, limit=PIPELINE_LIMIT
    )
    columns = board_columns(
        pipeline_cards(leads),
        selectors.pipeline_team_stage_counts(stages=stages, owner_id=rep_id),
    )
    context = _team_context()
    context.update(
        columns=columns,
        rep_id=rep_id,
        filter_problem=problem,
        owners=selectors.pipeline_owners(stages=stages),
    )
    return render(request, "handoff/pipeline_team.html", context)


def team_card_response(
    request: HttpRequest, lead_id: int, *, state: FormState, status: int = 200
) -> HttpResponse:
    """A lead's team card again after a reassignment, with ``state`` shown."""
    lead = selectors.pipeline_team_lead_get(lead_id=lead_id)
    if lead is None:
        raise Http404("No such lead.")
    card = pipeline_cards([lead])[0]
    card.state = state
    context = _team_context()
    context["card"] = card
    return render(
        request, "handoff/partials/pipeline_team_card.html", context, status=status
    )


@require_POST
@team_access
def reassign(request: HttpRequest, lead_id: int) -> HttpResponse:
    """Hand a lead in the pipeline to another active rep, with a reason."""
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
    if not request.htmx:
        messages.success(request, text)
        return redirect("handoff:pipeline_team")
    return team_card_response(request, lead_id, state=FormState(note=text))
