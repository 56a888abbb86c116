"""The SAL queue: its page and fragments, the decisions on it, being away.

Accept, claim, reject and log an attempt are posted from the queue and from
a handoff's page (an attempt also from the pipeline); ``source`` (a hidden
field) names the screen that posted, so one endpoint answers with that
screen's fragment and redirects back to it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe

from handoff import presenters, selectors, services
from handoff.exceptions import DecisionInvalid, HandoffError
from handoff.forms import (
    AcceptForm,
    AttemptForm,
    AvailabilityForm,
    RejectForm,
    form_errors,
)
from handoff.models import Handoff
from handoff.presenters import (
    FormState,
    QueueSection,
    accept_choices,
    accepted_text,
    attempt_text,
    form_choices,
    rejected_text,
)
from handoff.views.access import (
    STATUS_FOR,
    attempt_access,
    decide_access,
    handoff_or_404,
)
from handoff.views.detail import detail_response
from handoff.views.pipeline import pipeline_card_response

#: Rows per page of each section of the SAL queue.
QUEUE_PAGE_SIZE = 20
#: The query parameter holding each section's page number.
SECTION_KEYS = ("mine", "team")
SOURCES = ("queue", "detail", "pipeline")


def _source(request: HttpRequest) -> str:
    value = request.POST.get("source", "")
    return value if value in SOURCES else "queue"


# The queue page and its fragments
# ------------------------------------------------------------------------------


def _page_numbers(request: HttpRequest) -> dict[str, int]:
    """Each section's page asked for (``?mine=2&team=1``); anything else is 1."""
    return {key: _int(request.GET.get(key)) or 1 for key in SECTION_KEYS}


def _queue_context(
    user: Any, pages: dict[str, int], *, only: str | None = None
) -> dict[str, Any]:
    """What the queue's sections show, each on its page of ``pages``;
    ``only`` a section key builds that section alone."""
    manager = selectors.is_manager(user)
    now = timezone.now()
    if manager:
        other_title, other_text = (
            "Everyone else",
            "Every other pending handoff, unassigned ones included. As a manager "
            "you may decide any of them, and take an unassigned one to work it.",
        )
    else:
        other_title, other_text = (
            "Team",
            "Your teammates' pending handoffs are theirs to decide. Those nobody "
            "could take yet are unassigned: take one of them to work it.",
        )
    specs = {
        "mine": (
            "Mine",
            "Assigned to you, least business time left first.",
            "Nothing waiting for you. New MQLs appear here as they arrive.",
            lambda: selectors.handoff_list_queue(user=user, scope="mine"),
        ),
        "team": (
            other_title,
            other_text,
            "No other pending handoffs.",
            lambda: (
                selectors.handoff_list_queue_others(user=user)
                if manager
                else selectors.handoff_list_queue(user=user, scope="team")
            ),
        ),
    }
    chosen = {key: spec for key, spec in specs.items() if only in (None, key)}
    found = selectors.queue_pages(
        {key: (spec[3](), pages[key]) for key, spec in chosen.items()},
        size=QUEUE_PAGE_SIZE,
        now=now,
    )
    # Every section's rows at once: what they read is read once per request.
    rows = {
        row.handoff.id: row
        for row in presenters.queue_rows(
            [h for page in found.values() for h in page.handoffs],
            user=user,
            manager=manager,
            now=now,
            seconds_left={
                id_: seconds
                for page in found.values()
                for id_, seconds in page.seconds_left.items()
            },
        )
    }
    sections = [
        QueueSection(
            key=key,
            title=title,
            description=description,
            empty=empty,
            rows=[rows[h.id] for h in found[key].handoffs],
            total=found[key].total,
            page=found[key],
        )
        for key, (title, description, empty, _) in chosen.items()
    ]
    shown = {**pages, **{s.key: s.page.number for s in sections}}
    for section in sections:
        section.link_pages(shown)
    return {
        "now": now,
        "sections": sections,
        "pages": shown,
    }


def _accept_context(handoff: Handoff) -> dict[str, Any]:
    """The accept form's rep picker for ``handoff``: the active reps and the
    SLA's suggestion with its rule (worked out now; the accept routes again
    under the team's lock)."""
    choice = accept_choices([handoff], now=timezone.now())[handoff.id]
    return {"reps": selectors.sales_reps_active(), "choice": choice}


def _reason_context() -> dict[str, Any]:
    """The reject form's reasons, their options rendered once (a form whose
    refused POST chose a reason renders its own)."""
    reasons = selectors.reasons_for_sdr()
    return {
        "reasons": reasons,
        "reason_options": render_to_string(
            "handoff/partials/reason_options.html", {"reasons": reasons}
        ),
    }


def _availability_context(user: Any) -> dict[str, Any]:
    profile = selectors.sales_profile_get(user=user)
    away = bool(profile and profile.away_on(timezone.localdate()))
    return {"away": away, "away_until": profile.away_until if away else None}


@require_safe
@decide_access
def queue(request: HttpRequest) -> HttpResponse:
    """The SAL queue: mine first, then the team's, soonest due first."""
    context = _queue_context(request.user, _page_numbers(request))
    context.update(_availability_context(request.user))
    return render(request, "handoff/queue.html", context)


@require_safe
@decide_access
def queue_rows(request: HttpRequest) -> HttpResponse:
    """The queue's sections alone: what the page polls every 30 seconds, on
    the pages the person is on; ``?section=mine`` (or ``team``) answers with
    that section alone, which its page links swap in."""
    section = request.GET.get("section")
    if section in SECTION_KEYS:
        context = _queue_context(request.user, _page_numbers(request), only=section)
        context["section"] = context["sections"][0]
        return render(request, "handoff/partials/queue_section.html", context)
    context = _queue_context(request.user, _page_numbers(request))
    return render(request, "handoff/partials/queue_sections.html", context)


def _queue_row_response(
    request: HttpRequest,
    handoff_id: int,
    *,
    state: FormState,
    status: int = 200,
    counts: bool = False,
) -> HttpResponse:
    """The queue row again (its forms' state in ``state``), or a notice once
    the handoff is decided; ``counts`` adds the sections' new totals."""
    handoff = handoff_or_404(handoff_id, request.user)
    if not handoff.is_open:
        message = state.note or (
            f"This handoff is {handoff.get_status_display().lower()} now."
        )
        return _queue_notice(
            request, handoff, message, tone=state.tone, status=status, counts=counts
        )
    user = request.user
    manager = selectors.is_manager(user)
    row = presenters.queue_rows([handoff], user=user, manager=manager)[0]
    row.state = state
    context = {"row": row, "now": timezone.now()}
    # The row's forms are fetched when opened (``accept_form``, ``reject_form``,
    # ``attempt_form``); a row answered after a refused POST shows its failed
    # form open, so what that form offers is added here.
    if state.open == "accept":
        accept = _accept_context(handoff)
        row.accept = accept["choice"]
        context["reps"] = accept["reps"]
    elif state.open == "reject":
        context.update(_reason_context())
    elif state.open == "attempt":
        context.update(form_choices())
    response = render(
        request, "handoff/partials/queue_row.html", context, status=status
    )
    return _with_counts(request, response) if counts else response


def _with_counts(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """``response`` followed by the queue's new section totals (and the
    navigation's pipeline count), swapped in out of band by htmx."""
    counts = render_to_string(
        "handoff/partials/queue_counts.html",
        {"queue_counts": selectors.queue_counts(user=request.user)},
        request,
    )
    response.content = response.content + counts.encode()
    return response


def _queue_notice(
    request: HttpRequest,
    handoff: Handoff | None,
    message: str,
    *,
    tone: str,
    status: int,
    handoff_id: int | None = None,
    counts: bool = False,
) -> HttpResponse:
    """A notice in place of a queue row; ``counts`` adds the sections' new
    totals."""
    context = {
        "handoff": handoff,
        "handoff_id": handoff.id if handoff else handoff_id,
        "message": message,
        "tone": tone,
    }
    response = render(
        request, "handoff/partials/queue_notice.html", context, status=status
    )
    return _with_counts(request, response) if counts else response


# A row's forms, fetched when opened
# ------------------------------------------------------------------------------

#: The template of each form a queue row fetches when it is opened.
ROW_FORMS = {
    "accept": "handoff/partials/accept_form.html",
    "reject": "handoff/partials/reject_form.html",
    "attempt": "handoff/partials/attempt_form.html",
}


def _row_form(request: HttpRequest, handoff_id: int, form: str) -> HttpResponse:
    """A queue row's ``form`` for one handoff, as the row would show it open.

    The same checks as its POST: a handoff the user may not see is a 404; one
    decided already, or not theirs to decide, answers with a note in place
    of the form (409, 403).
    """
    handoff = handoff_or_404(handoff_id, request.user)
    if not handoff.is_open:
        return _form_note(
            request,
            f"This handoff is {handoff.get_status_display().lower()} now.",
            status=409,
        )
    if not (
        selectors.is_manager(request.user) or handoff.assigned_to_id == request.user.pk
    ):
        return _form_note(
            request,
            "Only the SDR it is assigned to or a manager can decide this handoff.",
            status=403,
        )
    context = {
        "handoff": handoff,
        "source": "queue",
        "target": "closest .queue-row",
        "errors": {},
        "values": {},
    }
    if form == "accept":
        context.update(_accept_context(handoff))
    elif form == "reject":
        context.update(_reason_context())
    else:
        context.update(form_choices())
    return render(request, ROW_FORMS[form], context)


def _form_note(request: HttpRequest, message: str, *, status: int) -> HttpResponse:
    return render(
        request,
        "handoff/partials/queue_form_note.html",
        {"message": message},
        status=status,
    )


@require_safe
@decide_access
def accept_form(request: HttpRequest, handoff_id: int) -> HttpResponse:
    """The queue row's accept form, fetched when "Accept…" is opened: the SLA's
    suggested rep is worked out for this handoff alone, not for every row."""
    return _row_form(request, handoff_id, "accept")


@require_safe
@decide_access
def reject_form(request: HttpRequest, handoff_id: int) -> HttpResponse:
    """The queue row's reject form, fetched when "Reject…" is opened."""
    return _row_form(request, handoff_id, "reject")


@require_safe
@decide_access
def attempt_form(request: HttpRequest, handoff_id: int) -> HttpResponse:
    """The queue row's log-attempt form, fetched when "Log attempt" is opened."""
    return _row_form(request, handoff_id, "attempt")


# Decisions and attempts (queue and handoff page; attempts also the pipeline)
# ------------------------------------------------------------------------------


def _back_url(source: str, *, handoff_id: int | None = None) -> str:
    if source == "detail" and handoff_id is not None:
        return reverse("handoff:detail", args=[handoff_id])
    if source == "pipeline":
        return reverse("handoff:pipeline")
    return reverse("handoff:queue")


def _refused(
    request: HttpRequest,
    exc: HandoffError,
    *,
    source: str,
    form: str,
    handoff_id: int,
    lead_id: int | None = None,
) -> HttpResponse:
    """Answer a refused decision or attempt on the screen that asked."""
    status = STATUS_FOR.get(type(exc), 409)
    if not request.htmx:
        messages.error(request, exc.message)
        return redirect(_back_url(source, handoff_id=handoff_id))
    if isinstance(exc, DecisionInvalid):
        state = FormState.failed(form, exc.errors, request)
    else:
        state = FormState(note=exc.message, tone="error")
    if source == "pipeline" and lead_id is not None:
        return pipeline_card_response(request, lead_id, state=state, status=status)
    if source == "detail":
        return detail_response(request, handoff_id, state=state, status=status)
    if isinstance(exc, DecisionInvalid):
        return _queue_row_response(request, handoff_id, state=state, status=status)
    try:
        handoff = selectors.handoff_get(handoff_id=handoff_id, user=request.user)
    except Handoff.DoesNotExist:
        handoff = None
    return _queue_notice(
        request,
        handoff,
        exc.message,
        tone="error",
        status=status,
        handoff_id=handoff_id,
        counts=True,
    )


def _refusals_answered(form: str, *, with_lead: bool = False) -> Callable:
    """Answer the view's refused decision or attempt on the screen that asked.

    A ``HandoffError`` the view raises (a form it found invalid is raised as
    ``DecisionInvalid``) is answered by ``_refused`` with the form's name and,
    ``with_lead``, the lead the pipeline card shows; a missing handoff is a 404.
    """

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def answered(request: HttpRequest, handoff_id: int) -> HttpResponse:
            try:
                return view(request, handoff_id)
            except Handoff.DoesNotExist:
                raise Http404("No such handoff.") from None
            except HandoffError as exc:
                lead_id = _int(request.POST.get("lead")) if with_lead else None
                return _refused(
                    request,
                    exc,
                    source=_source(request),
                    form=form,
                    handoff_id=handoff_id,
                    lead_id=lead_id,
                )

        return answered

    return decorate


def _cleaned(form: Form) -> dict[str, Any]:
    """The form's cleaned data; an invalid form is a refused decision."""
    if not form.is_valid():
        raise DecisionInvalid(form_errors(form))
    return form.cleaned_data


def _done(
    request: HttpRequest, text: str, *, source: str, handoff_id: int
) -> HttpResponse:
    """Answer a decision that went through."""
    if not request.htmx:
        messages.success(request, text)
        return redirect(_back_url(source, handoff_id=handoff_id))
    if source == "detail":
        return detail_response(
            request, handoff_id, state=FormState(note=text, tone="ok")
        )
    handoff = handoff_or_404(handoff_id, request.user)
    return _queue_notice(request, handoff, text, tone="ok", status=200, counts=True)


@require_POST
@decide_access
@_refusals_answered("accept")
def accept(request: HttpRequest, handoff_id: int) -> HttpResponse:
    """Accept an MQL: the lead becomes a SAL of the rep picked (or the SLA's)."""
    handoff = services.handoff_accept(
        handoff_id=handoff_id,
        actor=request.user,
        **_cleaned(AcceptForm(request.POST)),
    )
    return _done(
        request,
        accepted_text(handoff, request.user),
        source=_source(request),
        handoff_id=handoff_id,
    )


@require_POST
@decide_access
@_refusals_answered("accept")
def claim(request: HttpRequest, handoff_id: int) -> HttpResponse:
    """Take an unassigned handoff of one's team; the row becomes one's own."""
    handoff = services.handoff_claim(handoff_id=handoff_id, actor=request.user)
    text = f"{handoff.lead} is yours now."
    if not request.htmx:
        messages.success(request, text)
        return redirect(_back_url(_source(request), handoff_id=handoff_id))
    return _queue_row_response(
        request, handoff_id, state=FormState(note=text, tone="ok"), counts=True
    )


@require_POST
@decide_access
@_refusals_answered("reject")
def reject(request: HttpRequest, handoff_id: int) -> HttpResponse:
    """Reject an MQL with a reason (and feedback, or a duplicate, if it needs one)."""
    handoff = services.handoff_reject(
        handoff_id=handoff_id, actor=request.user, **_cleaned(RejectForm(request.POST))
    )
    return _done(
        request, rejected_text(handoff), source=_source(request), handoff_id=handoff_id
    )


@require_POST
@attempt_access
@_refusals_answered("attempt", with_lead=True)
def attempt_add(request: HttpRequest, handoff_id: int) -> HttpResponse:
    """Log a contact attempt (SDR on a pending handoff, rep on an accepted one)."""
    attempt = services.attempt_log(
        handoff_id=handoff_id, actor=request.user, **_cleaned(AttemptForm(request.POST))
    )
    text = attempt_text(attempt)
    source = _source(request)
    if not request.htmx:
        messages.success(request, text)
        return redirect(_back_url(source, handoff_id=handoff_id))
    state = FormState(note=text, tone="ok")
    if source == "pipeline":
        return pipeline_card_response(request, attempt.handoff.lead_id, state=state)
    if source == "detail":
        return detail_response(request, handoff_id, state=state)
    return _queue_row_response(request, handoff_id, state=state)


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


# Being away
# ------------------------------------------------------------------------------


@require_POST
@decide_access
def availability(request: HttpRequest) -> HttpResponse:
    """Mark oneself away (no new handoffs) or back."""
    form = AvailabilityForm(request.POST)
    if form.is_valid():
        profile = services.availability_set(user=request.user, **form.cleaned_data)
        text = (
            "You are away: no new MQLs are assigned to you until you are back."
            if profile.is_away
            else "Welcome back: new MQLs are assigned to you again."
        )
        status = 200
    else:
        text, status = "Give the date as YYYY-MM-DD.", 422
    if not request.htmx:
        if status == 200:
            messages.success(request, text)
        else:
            messages.error(request, text)
        return redirect("handoff:queue")
    context = _availability_context(request.user)
    context["availability_note"] = text
    return render(request, "handoff/partials/availability.html", context, status=status)
