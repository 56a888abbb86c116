"""The sales pipeline: a rep's accepted leads by stage, and their moves.

A move forward or back answers a plain POST with a redirect and a message,
and an htmx POST with the card again (the problem shown) or a notice that
moves the card to its new column.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe

from handoff import selectors, services
from handoff.exceptions import DecisionInvalid, HandoffError
from handoff.forms import SalesBackForm, SalesForwardForm, form_errors
from handoff.models import RejectionReason
from handoff.presenters import (
    STAGE_TITLES,
    FormState,
    PipelineCard,
    form_choices,
    moved_text,
    pipeline_cards,
)
from handoff.views.access import STATUS_FOR, pipeline_access
from leads.models import Lead, Stage

#: Leads on the pipeline board (its columns are a person's own leads).
PIPELINE_LIMIT = 200
PIPELINE_STAGES = (Stage.SAL, Stage.SQL, Stage.OPPORTUNITY)
CLOSED_STAGES = (Stage.CUSTOMER, Stage.NURTURE, Stage.DISQUALIFIED)
#: How far back the pipeline's "Recently closed" list goes.
RECENTLY_CLOSED = dt.timedelta(days=30)
RECENTLY_CLOSED_LIMIT = 20


def _stage_counts(user: Any) -> dict[str, int]:
    return selectors.pipeline_stage_counts(user=user, stages=list(PIPELINE_STAGES))


def _sales_context() -> dict[str, Any]:
    return {
        "now": timezone.now(),
        "sales_reasons": list(
            selectors.reasons_active(audience=RejectionReason.Audience.SALES)
        ),
        **form_choices(),
    }


def board_columns(
    cards: list[PipelineCard], counts: dict[str, int]
) -> list[dict[str, Any]]:
    """The pipeline board's columns: each stage's cards and how many it holds."""
    return [
        {
            "stage": stage,
            "title": STAGE_TITLES[stage],
            "cards": [c for c in cards if c.lead.stage == stage],
            "count": counts[stage],
        }
        for stage in PIPELINE_STAGES
    ]


@require_safe
@pipeline_access
def pipeline(request: HttpRequest) -> HttpResponse:
    """My accepted leads by stage, with their follow-up clocks."""
    user = request.user
    leads = selectors.pipeline_leads(
        user=user, stages=list(PIPELINE_STAGES), limit=PIPELINE_LIMIT
    )
    columns = board_columns(pipeline_cards(leads), _stage_counts(user))
    context = _sales_context()
    closed = selectors.sales_outcomes_closed(
        user=user,
        stages=CLOSED_STAGES,
        since=context["now"] - RECENTLY_CLOSED,
        limit=RECENTLY_CLOSED_LIMIT,
    )
    context.update(columns=columns, closed=closed, manager=selectors.is_manager(user))
    return render(request, "handoff/pipeline.html", context)


def _pipeline_card(user: Any, lead_id: int) -> PipelineCard | None:
    lead = selectors.pipeline_lead_get(
        user=user, stages=list(PIPELINE_STAGES), lead_id=lead_id
    )
    return pipeline_cards([lead])[0] if lead else None


def pipeline_card_response(
    request: HttpRequest, lead_id: int, *, state: FormState, status: int = 200
) -> HttpResponse:
    """A lead's card again after a POST, or a notice if it left the pipeline."""
    card = _pipeline_card(request.user, lead_id)
    context = _sales_context()
    if card is None:
        lead = selectors.lead_get(lead_id=lead_id)
        context.update(
            lead=lead,
            lead_id=lead_id,
            message=state.note or "This lead is no longer in your pipeline.",
            tone=state.tone if state.note else "error",
        )
        return render(
            request, "handoff/partials/pipeline_notice.html", context, status=status
        )
    card.state = state
    context["card"] = card
    return render(
        request, "handoff/partials/pipeline_card.html", context, status=status
    )


def card_form_post(
    request: HttpRequest,
    lead_id: int,
    form: Form,
    service: Callable[..., Any],
    *,
    form_name: str,
    page: str,
    card: Callable[..., HttpResponse],
) -> Any:
    """Run ``service`` with a card form's input; its result, or the refusal.

    A refused POST goes back to ``page`` with the message, or (htmx) gets
    ``card`` again with the problem next to the form's fields and the status
    code of the refusal. A missing lead is a 404.
    """
    try:
        if not form.is_valid():
            raise DecisionInvalid(form_errors(form))
        return service(lead_id=lead_id, actor=request.user, **form.cleaned_data)
    except Lead.DoesNotExist:
        raise Http404("No such lead.") from None
    except HandoffError as exc:
        if not request.htmx:
            messages.error(request, exc.message)
            return redirect(page)
        if isinstance(exc, DecisionInvalid):
            state = FormState.failed(form_name, exc.errors, request)
        else:
            state = FormState(note=exc.message, tone="error")
        status = STATUS_FOR.get(type(exc), 409)
        return card(request, lead_id, state=state, status=status)


@require_POST
@pipeline_access
def sales_move(request: HttpRequest, lead_id: int) -> HttpResponse:
    """Move an accepted lead forward one stage, or back with a sales reason."""
    back = request.POST.get("move") == "back"
    form_name = "back" if back else "forward"
    form = SalesBackForm(request.POST) if back else SalesForwardForm(request.POST)
    outcome = card_form_post(
        request,
        lead_id,
        form,
        services.lead_sales_move,
        form_name=form_name,
        page="handoff:pipeline",
        card=pipeline_card_response,
    )
    if isinstance(outcome, HttpResponse):
        return outcome
    text = moved_text(outcome)
    if not request.htmx:
        messages.success(request, text)
        return redirect("handoff:pipeline")
    context = _sales_context()
    context.update(
        lead=outcome.lead,
        lead_id=lead_id,
        message=text,
        tone="ok",
        moved=True,
        # The lead's card moves to its new column; a closed lead joins the list.
        card=_pipeline_card(request.user, lead_id),
        closed_outcome=outcome if outcome.to_stage in CLOSED_STAGES else None,
        counts=_stage_counts(request.user),
    )
    return render(request, "handoff/partials/pipeline_notice.html", context)
