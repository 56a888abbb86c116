"""The sales pipeline: a rep's accepted leads by stage, and their moves.

A move forward or back answers a plain POST with a redirect and a message,
and an htmx POST with the card again (the problem shown) or a notice that
moves the card to its new column.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html_join
from django.views.decorators.http import require_POST, require_safe

from crm.common.money import currency_symbol
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
    sales_reason_choices,
)
from handoff.views.access import STATUS_FOR, pipeline_access
from leads.models import Lead, Stage

#: Cards in a page of a pipeline column; "Show more" appends the next page.
COLUMN_PAGE = 20
#: Most cards a "Show more" leaves out as already shown out of order.
SHOWN_LIMIT = 500
PIPELINE_STAGES = (Stage.SAL, Stage.SQL, Stage.OPPORTUNITY)
CLOSED_STAGES = (Stage.CUSTOMER, Stage.NURTURE, Stage.DISQUALIFIED)
#: How far back the pipeline's "Recently closed" list goes.
RECENTLY_CLOSED = dt.timedelta(days=30)
RECENTLY_CLOSED_LIMIT = 20
#: How each column is sorted, as its header says.
COLUMN_ORDER = "Overdue and soonest due first, then longest since last contact"


@dataclass
class BoardColumn:
    """A column of a pipeline board: a page of its cards, how many it holds,
    and the address of its next page ("" when none follows)."""

    stage: str
    title: str
    cards: list[PipelineCard]
    count: int
    more_url: str = ""
    order: str = COLUMN_ORDER
    #: The summed deal amounts of the column's leads (opportunities only).
    total: Decimal | None = None


def deal_totals(columns: list[BoardColumn], total: Decimal) -> None:
    """Give the opportunity column its total deal value."""
    for column in columns:
        if column.stage == Stage.OPPORTUNITY:
            column.total = total


def _stage_counts(user: Any) -> dict[str, int]:
    return selectors.pipeline_stage_counts(user=user, stages=list(PIPELINE_STAGES))


def _sales_context() -> dict[str, Any]:
    reasons = selectors.reasons_active(audience=RejectionReason.Audience.SALES)
    choices = sales_reason_choices(list(reasons))
    return {
        "now": timezone.now(),
        "currency": currency_symbol(),
        "sales_reasons": choices,
        # Every card's send-back picker with nothing chosen, built once.
        "sales_reason_options": format_html_join(
            "",
            '<option value="{}" data-action="{}" data-effect="{}">{}</option>',
            ((c.code, c.action, c.effect, c.label) for c in choices),
        ),
        **form_choices(),
    }


def board_columns(
    pages: dict[str, selectors.PipelineColumnPage],
    *,
    url_name: str,
    now: dt.datetime,
    query: dict[str, Any] | None = None,
) -> list[BoardColumn]:
    """The board's columns of ``pages`` (their cards built together); each
    "Show more" reads ``url_name`` for its stage with ``query`` and the
    position after its page."""
    cards = pipeline_cards(
        [lead for page in pages.values() for lead in page.leads], now=now
    )
    by_lead = {card.lead.id: card for card in cards}
    columns = []
    for stage, page in pages.items():
        more_url = ""
        if page.next is not None:
            url = reverse(url_name, args=[stage])
            more_url = f"{url}?{urlencode({**(query or {}), 'after': page.next.token})}"
        columns.append(
            BoardColumn(
                stage=stage,
                title=STAGE_TITLES[stage],
                cards=[by_lead[lead.id] for lead in page.leads],
                count=page.count,
                more_url=more_url,
            )
        )
    return columns


def column_position(
    request: HttpRequest, stage: str
) -> tuple[selectors.PipelineCursor | None, list[int]]:
    """Where a "Show more" of ``stage``'s column starts (``after``), and the
    cards the page shows already out of order (``shown``: lead ids, comma
    separated). Http404 for another stage; BadPosition for a position no
    page made."""
    if stage not in PIPELINE_STAGES:
        raise Http404("No such column.")
    raw = request.GET.get("after", "")
    shown = [i for i in request.GET.get("shown", "").split(",") if i]
    if not raw or len(shown) > SHOWN_LIMIT or not all(i.isdigit() for i in shown):
        raise BadPosition
    try:
        after = selectors.PipelineCursor.parse(raw)
    except selectors.InvalidPipelineCursor:
        raise BadPosition from None
    return after, [int(i) for i in shown]


class BadPosition(Exception):
    """A "Show more" asked for a position of a column no page gave it."""


def bad_position_response() -> HttpResponse:
    return HttpResponseBadRequest(
        "That part of the column could not be found. Reload the page to see it.",
        content_type="text/plain; charset=utf-8",
    )


@require_safe
@pipeline_access
def pipeline(request: HttpRequest) -> HttpResponse:
    """My accepted leads by stage, with their follow-up clocks."""
    user = request.user
    context = _sales_context()
    now = context["now"]
    pages = selectors.pipeline_board(
        user=user, stages=list(PIPELINE_STAGES), size=COLUMN_PAGE
    )
    columns = board_columns(pages, url_name="handoff:pipeline_column", now=now)
    deal_totals(columns, selectors.deal_value_total(user=user))
    closed = selectors.sales_outcomes_closed(
        user=user,
        stages=CLOSED_STAGES,
        since=now - RECENTLY_CLOSED,
        limit=RECENTLY_CLOSED_LIMIT,
    )
    context.update(columns=columns, closed=closed, manager=selectors.is_manager(user))
    return render(request, "handoff/pipeline.html", context)


@require_safe
@pipeline_access
def pipeline_column(request: HttpRequest, stage: str) -> HttpResponse:
    """The next page of one of my columns (htmx "Show more")."""
    try:
        after, shown = column_position(request, stage)
    except BadPosition:
        return bad_position_response()
    page = selectors.pipeline_column(
        user=request.user, stage=stage, after=after, shown=shown, size=COLUMN_PAGE
    )
    context = _sales_context()
    (column,) = board_columns(
        {stage: page}, url_name="handoff:pipeline_column", now=context["now"]
    )
    context.update(column=column, card_template="handoff/partials/pipeline_card.html")
    return render(request, "handoff/partials/pipeline_more.html", context)


def _pipeline_card(user: Any, lead_id: int) -> PipelineCard | None:
    lead = selectors.pipeline_lead_get(
        user=user, stages=list(PIPELINE_STAGES), lead_id=lead_id
    )
    if lead is None:
        return None
    card = pipeline_cards([lead])[0]
    card.replaced = True
    return card


#: The forms a pipeline card fetches when one of them is opened.
CARD_FORMS = ("forward", "back", "attempt")


def card_form_note(request: HttpRequest, message: str, *, status: int) -> HttpResponse:
    """What an opened card form shows instead of the form, with ``status``."""
    return render(
        request,
        "handoff/partials/queue_form_note.html",
        {"message": message},
        status=status,
    )


@require_safe
@pipeline_access
def pipeline_form(request: HttpRequest, lead_id: int, form: str) -> HttpResponse:
    """One of my cards' forms (move forward, send back, log an attempt),
    fetched when the card opens it, so that a board renders none of them.

    Without htmx (no JavaScript: the card's link) the card on a page of its
    own with that form open. A lead that left my pipeline, or a form the
    card does not offer (no next stage, no handoff to log on), answers with
    a note in place of the form (409); a form of no card is a 404.
    """
    if form not in CARD_FORMS:
        raise Http404("No such form.")
    card = _pipeline_card(request.user, lead_id)
    if card is None:
        return card_form_note(
            request, "This lead is no longer in your pipeline.", status=409
        )
    if (form == "forward" and not card.next_stage) or (
        form == "attempt" and card.handoff is None
    ):
        return card_form_note(
            request, "This lead has no such step now; reload the page.", status=409
        )
    card.replaced = False
    card.state = FormState(open=form)
    context = _sales_context()
    context["card"] = card
    if not request.htmx:
        return render(request, "handoff/pipeline_form.html", context)
    return render(request, "handoff/partials/pipeline_card_form.html", context)


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
        deal_total=selectors.deal_value_total(user=request.user),
    )
    return render(request, "handoff/partials/pipeline_notice.html", context)
