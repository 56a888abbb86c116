"""The SAL queue, a handoff's page and the sales pipeline.

Every POST here answers in one of two ways:

- a plain form POST (no JavaScript) redirects back to the page it came from
  with a message (Post/Redirect/Get);
- an htmx POST gets the fragment to swap in: the updated row, a short
  confirmation after a decision, or the row again with the problem shown next
  to the fields. The status code carries the outcome, and the page's script
  tells htmx to swap these too: 200 done, 422 input to fix (DecisionInvalid
  or a form error), 409 already decided or lost a race, 403 not yours.

``source`` (a hidden field) names the screen that posted, so one endpoint
answers with that screen's fragment and redirects back to it.

The role checks do not import ``crm.roles`` (apps never import ``crm``); they
test the same group names, and let managers (``is_manager``) in everywhere.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST, require_safe

from handoff import selectors, services
from handoff.exceptions import (
    DecisionInvalid,
    HandoffAlreadyDecided,
    HandoffError,
    HandoffNotYours,
)
from handoff.forms import (
    AttemptForm,
    AvailabilityForm,
    RejectForm,
    SalesBackForm,
    SalesForwardForm,
    form_errors,
)
from handoff.models import (
    ContactAttempt,
    Handoff,
    RejectionReason,
    SalesOutcome,
    SalesProfile,
)
from handoff.templatetags.handoff_tags import person
from leads import selectors as lead_selectors
from leads.models import Lead, Stage

SDR_GROUP, SALES_GROUP = "SDR", "Sales"

#: Rows per section of the SAL queue; more would make a page nobody scrolls.
QUEUE_LIMIT = 100
#: Leads on the pipeline board (its columns are a person's own leads).
PIPELINE_LIMIT = 200
PIPELINE_STAGES = (Stage.SAL, Stage.SQL, Stage.OPPORTUNITY)
CLOSED_STAGES = (Stage.CUSTOMER, Stage.NURTURE, Stage.DISQUALIFIED)
#: How far back the pipeline's "Recently closed" list goes.
RECENTLY_CLOSED = dt.timedelta(days=30)
RECENTLY_CLOSED_LIMIT = 20
FORWARD_LABELS = {
    Stage.SAL: "Qualify (SQL)",
    Stage.SQL: "Open opportunity",
    Stage.OPPORTUNITY: "Closed won",
}
STAGE_TITLES = {
    Stage.SAL: "Accepted (SAL)",
    Stage.SQL: "Qualified (SQL)",
    Stage.OPPORTUNITY: "Opportunity",
}
SOURCES = ("queue", "detail", "pipeline")
#: The fields of each form, so a message lands next to its field; a message
#: for any other field is shown at the top of the form.
FORM_FIELDS = {
    "reject": ("reason", "feedback", "duplicate_of"),
    "attempt": ("channel", "outcome", "note"),
    "back": ("reason", "feedback"),
    "forward": (),
    "accept": (),
}
STATUS_FOR = {DecisionInvalid: 422, HandoffAlreadyDecided: 409, HandoffNotYours: 403}


def _role_or_manager(*groups: str) -> Callable:
    """Log in first, then require one of the groups (roles) or a manager/Admin.

    Also on the POST endpoints: the services check who may act on this
    handoff or lead, but a role that may never act is refused here with 403,
    not answered with a redirect and a message as a lost race would be.
    """

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        @login_required
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            user = request.user
            if not (
                user.groups.filter(name__in=groups).exists()
                or selectors.is_manager(user)
            ):
                raise PermissionDenied(
                    f"This page is for the {' or '.join(groups)} role."
                )
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


# Row state shared by the screens
# ------------------------------------------------------------------------------


@dataclass
class FormState:
    """What to show again in the forms of a row: the failed one open, its input."""

    open: str = ""
    errors: dict[str, dict[str, str]] = field(default_factory=dict)
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    note: str = ""
    tone: str = "ok"

    @classmethod
    def failed(
        cls, form: str, errors: dict[str, str], request: HttpRequest
    ) -> FormState:
        fields = FORM_FIELDS[form]
        placed = {k: v for k, v in errors.items() if k in fields}
        other = [v for k, v in errors.items() if k not in fields]
        if other:
            placed["form"] = " ".join(other)
        values = {name: request.POST.get(name, "") for name in fields}
        return cls(open=form, errors={form: placed}, values={form: values})


@dataclass
class QueueRow:
    handoff: Handoff
    touchpoints: list[Any]
    attempt_count: int
    can_decide: bool
    mine: bool
    can_claim: bool = False
    state: FormState = field(default_factory=FormState)


@dataclass
class QueueSection:
    key: str
    title: str
    description: str
    empty: str
    rows: list[QueueRow]
    total: int


@dataclass
class PipelineCard:
    lead: Lead
    handoff: Handoff | None
    attempt_count: int
    state: FormState = field(default_factory=FormState)

    @property
    def forward_label(self) -> str:
        return FORWARD_LABELS.get(self.lead.stage, "")

    @property
    def next_stage(self) -> str:
        return services.SALES_FORWARD.get(self.lead.stage, "")


_attempt_counts = selectors.attempt_counts


def _form_choices() -> dict[str, Any]:
    return {
        "channels": ContactAttempt.Channel.choices,
        "outcomes": ContactAttempt.Outcome.choices,
    }


def _source(request: HttpRequest) -> str:
    value = request.POST.get("source", "")
    return value if value in SOURCES else "queue"


def _handoff_or_404(handoff_id: int, user: Any) -> Handoff:
    try:
        return selectors.handoff_get(handoff_id=handoff_id, user=user)
    except Handoff.DoesNotExist:
        raise Http404("No such handoff, or it is not yours to see.") from None


# The SAL queue
# ------------------------------------------------------------------------------


def _queue_rows(handoffs: list[Handoff], *, user: Any, manager: bool) -> list[QueueRow]:
    touchpoints = selectors.queue_touchpoints(handoffs)
    attempts = _attempt_counts(h.id for h in handoffs)
    return [
        QueueRow(
            handoff=h,
            touchpoints=touchpoints.get(h.lead_id, []),
            attempt_count=attempts.get(h.id, 0),
            can_decide=manager or h.assigned_to_id == user.pk,
            mine=h.assigned_to_id == user.pk,
            # Unassigned rows are shown only to the team (or managers).
            can_claim=h.assigned_to_id is None,
        )
        for h in handoffs
    ]


def _queue_section(
    key: str,
    title: str,
    description: str,
    empty: str,
    qs: QuerySet[Handoff],
    *,
    user: Any,
    manager: bool,
) -> QueueSection:
    # The clocks read each SLA calendar's holidays: one query for the page.
    handoffs = list(qs.prefetch_related("sla__calendar__holidays")[:QUEUE_LIMIT])
    total = len(handoffs) if len(handoffs) < QUEUE_LIMIT else qs.count()
    return QueueSection(
        key=key,
        title=title,
        description=description,
        empty=empty,
        rows=_queue_rows(handoffs, user=user, manager=manager),
        total=total,
    )


def _queue_context(user: Any) -> dict[str, Any]:
    manager = selectors.is_manager(user)
    mine = selectors.handoff_list_queue(user=user, scope="mine")
    if manager:
        others = selectors.handoff_list_queue(user=user, scope="all").exclude(
            assigned_to=user
        )
        other_title, other_text = (
            "Everyone else",
            "Every other pending handoff, unassigned ones included. As a manager "
            "you may decide any of them.",
        )
    else:
        others = selectors.handoff_list_queue(user=user, scope="team")
        other_title, other_text = (
            "Team",
            "Your teammates' pending handoffs, and those nobody could take yet: "
            "take one to work it.",
        )
    return {
        "now": timezone.now(),
        "sections": [
            _queue_section(
                "mine",
                "Mine",
                "Assigned to you, soonest due first.",
                "Nothing waiting for you. New MQLs appear here as they arrive.",
                mine,
                user=user,
                manager=manager,
            ),
            _queue_section(
                "team",
                other_title,
                other_text,
                "No other pending handoffs.",
                others,
                user=user,
                manager=manager,
            ),
        ],
        "reasons": list(
            selectors.reasons_active(
                audience=RejectionReason.Audience.SDR
            ).select_related("reroute_sla")
        ),
        **_form_choices(),
    }


def _availability_context(user: Any) -> dict[str, Any]:
    profile = SalesProfile.objects.filter(user=user).first()
    away = bool(profile and profile.away_on(timezone.localdate()))
    return {"away": away, "away_until": profile.away_until if away else None}


@require_safe
@_role_or_manager(SDR_GROUP)
def queue(request: HttpRequest) -> HttpResponse:
    """The SAL queue: mine first, then the team's, soonest due first."""
    context = _queue_context(request.user)
    context.update(_availability_context(request.user))
    return render(request, "handoff/queue.html", context)


@require_safe
@_role_or_manager(SDR_GROUP)
def queue_rows(request: HttpRequest) -> HttpResponse:
    """The queue's sections alone: what the page polls every 30 seconds."""
    return render(
        request, "handoff/partials/queue_sections.html", _queue_context(request.user)
    )


def _queue_row_response(
    request: HttpRequest, handoff_id: int, *, state: FormState, status: int = 200
) -> HttpResponse:
    handoff = _handoff_or_404(handoff_id, request.user)
    if not handoff.is_open:
        message = state.note or (
            f"This handoff is {handoff.get_status_display().lower()} now."
        )
        return _queue_notice(request, handoff, message, tone=state.tone, status=status)
    user = request.user
    manager = selectors.is_manager(user)
    row = _queue_rows([handoff], user=user, manager=manager)[0]
    row.state = state
    context = {
        "row": row,
        "now": timezone.now(),
        "reasons": list(
            selectors.reasons_active(
                audience=RejectionReason.Audience.SDR
            ).select_related("reroute_sla")
        ),
        **_form_choices(),
    }
    return render(request, "handoff/partials/queue_row.html", context, status=status)


def _queue_notice(
    request: HttpRequest,
    handoff: Handoff | None,
    message: str,
    *,
    tone: str,
    status: int,
    handoff_id: int | None = None,
) -> HttpResponse:
    context = {
        "handoff": handoff,
        "handoff_id": handoff.id if handoff else handoff_id,
        "message": message,
        "tone": tone,
    }
    return render(request, "handoff/partials/queue_notice.html", context, status=status)


# A handoff's page
# ------------------------------------------------------------------------------


def _detail_context(user: Any, handoff_id: int) -> dict[str, Any]:
    handoff = _handoff_or_404(handoff_id, user)
    manager = selectors.is_manager(user)
    can_decide = handoff.is_open and (manager or handoff.assigned_to_id == user.pk)
    can_log = handoff.status in (Handoff.Status.PENDING, Handoff.Status.ACCEPTED) and (
        manager or user.pk in (handoff.assigned_to_id, handoff.owner_id)
    )
    return {
        "handoff": handoff,
        "lead": handoff.lead,
        "now": timezone.now(),
        "can_decide": can_decide,
        "can_log": can_log,
        "attempts": list(handoff.attempts.select_related("user")),
        "events": list(handoff.events.select_related("actor")),
        "touchpoints": selectors.queue_touchpoints([handoff]).get(handoff.lead_id, []),
        "reasons": list(
            selectors.reasons_active(
                audience=RejectionReason.Audience.SDR
            ).select_related("reroute_sla")
        )
        if can_decide
        else [],
        "state": FormState(),
        **_form_choices(),
    }


@require_safe
@login_required
def handoff_detail(request: HttpRequest, handoff_id: int) -> HttpResponse:
    """One handoff: lead, SLA clock, score snapshot, attempts, events, decision."""
    return render(
        request,
        "handoff/handoff_detail.html",
        _detail_context(request.user, handoff_id),
    )


def _detail_response(
    request: HttpRequest, handoff_id: int, *, state: FormState, status: int = 200
) -> HttpResponse:
    context = _detail_context(request.user, handoff_id)
    context["state"] = state
    return render(request, "handoff/partials/handoff_main.html", context, status=status)


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
        return _pipeline_card_response(request, lead_id, state=state, status=status)
    if source == "detail":
        return _detail_response(request, handoff_id, state=state, status=status)
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
    )


def _done(
    request: HttpRequest, text: str, *, source: str, handoff_id: int
) -> HttpResponse:
    """Answer a decision that went through."""
    if not request.htmx:
        messages.success(request, text)
        return redirect(_back_url(source, handoff_id=handoff_id))
    if source == "detail":
        return _detail_response(
            request, handoff_id, state=FormState(note=text, tone="ok")
        )
    handoff = _handoff_or_404(handoff_id, request.user)
    return _queue_notice(request, handoff, text, tone="ok", status=200)


def _accepted_text(handoff: Handoff, user: Any) -> str:
    lead = handoff.lead
    if handoff.owner_id == user.pk:
        return f"Accepted — {lead} is now your SAL."
    return f"Accepted — {lead} is now a SAL owned by {person(handoff.owner)}."


def _rejected_text(handoff: Handoff) -> str:
    lead = Lead.objects.only("stage", "first_name", "last_name", "email").get(
        id=handoff.lead_id
    )
    return (
        f"Rejected: {handoff.reason.label} — {lead} is now "
        f"{Stage(lead.stage).label.lower()}."
    )


@require_POST
@_role_or_manager(SDR_GROUP)
def accept(request: HttpRequest, handoff_id: int) -> HttpResponse:
    """Accept an MQL: the lead becomes the actor's SAL (assigned SDR or manager)."""
    source = _source(request)
    try:
        handoff = services.handoff_accept(handoff_id=handoff_id, actor=request.user)
    except Handoff.DoesNotExist:
        raise Http404("No such handoff.") from None
    except HandoffError as exc:
        return _refused(
            request, exc, source=source, form="accept", handoff_id=handoff_id
        )
    return _done(
        request,
        _accepted_text(handoff, request.user),
        source=source,
        handoff_id=handoff_id,
    )


@require_POST
@_role_or_manager(SDR_GROUP)
def claim(request: HttpRequest, handoff_id: int) -> HttpResponse:
    """Take an unassigned handoff of one's team; the row becomes one's own."""
    source = _source(request)
    try:
        handoff = services.handoff_claim(handoff_id=handoff_id, actor=request.user)
    except Handoff.DoesNotExist:
        raise Http404("No such handoff.") from None
    except HandoffError as exc:
        return _refused(
            request, exc, source=source, form="accept", handoff_id=handoff_id
        )
    if not request.htmx:
        messages.success(request, f"{handoff.lead} is yours now.")
        return redirect(_back_url(source, handoff_id=handoff_id))
    return _queue_row_response(
        request,
        handoff_id,
        state=FormState(note=f"{handoff.lead} is yours now.", tone="ok"),
    )


@require_POST
@_role_or_manager(SDR_GROUP)
def reject(request: HttpRequest, handoff_id: int) -> HttpResponse:
    """Reject an MQL with a reason (and feedback, or a duplicate, if it needs one)."""
    source = _source(request)
    form = RejectForm(request.POST)
    try:
        if not form.is_valid():
            raise DecisionInvalid(form_errors(form))
        handoff = services.handoff_reject(
            handoff_id=handoff_id, actor=request.user, **form.cleaned_data
        )
    except Handoff.DoesNotExist:
        raise Http404("No such handoff.") from None
    except HandoffError as exc:
        return _refused(
            request, exc, source=source, form="reject", handoff_id=handoff_id
        )
    return _done(request, _rejected_text(handoff), source=source, handoff_id=handoff_id)


@require_POST
@_role_or_manager(SDR_GROUP, SALES_GROUP)
def attempt_add(request: HttpRequest, handoff_id: int) -> HttpResponse:
    """Log a contact attempt (SDR on a pending handoff, rep on an accepted one)."""
    source = _source(request)
    lead_id = _int(request.POST.get("lead"))
    form = AttemptForm(request.POST)
    try:
        if not form.is_valid():
            raise DecisionInvalid(form_errors(form))
        attempt = services.attempt_log(
            handoff_id=handoff_id, actor=request.user, **form.cleaned_data
        )
    except Handoff.DoesNotExist:
        raise Http404("No such handoff.") from None
    except HandoffError as exc:
        return _refused(
            request,
            exc,
            source=source,
            form="attempt",
            handoff_id=handoff_id,
            lead_id=lead_id,
        )
    text = (
        f"Logged: {attempt.get_channel_display()}, "
        f"{attempt.get_outcome_display().lower()}."
    )
    if not request.htmx:
        messages.success(request, text)
        return redirect(_back_url(source, handoff_id=handoff_id))
    state = FormState(note=text, tone="ok")
    if source == "pipeline":
        return _pipeline_card_response(request, attempt.handoff.lead_id, state=state)
    if source == "detail":
        return _detail_response(request, handoff_id, state=state)
    return _queue_row_response(request, handoff_id, state=state)


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


@require_POST
@_role_or_manager(SDR_GROUP)
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


# The sales pipeline
# ------------------------------------------------------------------------------


def _accepted_handoffs(lead_ids: list[int]) -> dict[int, Handoff]:
    """Each lead's latest accepted handoff (its follow-up clock), in 2 queries."""
    handoffs = (
        Handoff.objects.filter(lead_id__in=lead_ids, status=Handoff.Status.ACCEPTED)
        .select_related("sla__calendar")
        .prefetch_related("sla__calendar__holidays")
        .order_by("lead_id", "-decided_at", "-id")
    )
    latest: dict[int, Handoff] = {}
    for handoff in handoffs:
        latest.setdefault(handoff.lead_id, handoff)
    return latest


def _pipeline_cards(leads: list[Lead]) -> list[PipelineCard]:
    handoffs = _accepted_handoffs([lead.id for lead in leads])
    attempts = _attempt_counts(h.id for h in handoffs.values())
    return [
        PipelineCard(
            lead=lead,
            handoff=handoffs.get(lead.id),
            attempt_count=attempts.get(handoffs[lead.id].id, 0)
            if lead.id in handoffs
            else 0,
        )
        for lead in leads
    ]


def _stage_counts(user: Any) -> dict[str, int]:
    counts = dict(
        lead_selectors.lead_list_owned(user=user, stages=list(PIPELINE_STAGES))
        .order_by()
        .values_list("stage")
        .annotate(n=Count("id"))
        .values_list("stage", "n")
    )
    return {stage: counts.get(stage, 0) for stage in PIPELINE_STAGES}


def _sales_context() -> dict[str, Any]:
    return {
        "now": timezone.now(),
        "sales_reasons": list(
            selectors.reasons_active(audience=RejectionReason.Audience.SALES)
        ),
        **_form_choices(),
    }


def _recently_closed(user: Any, now: dt.datetime) -> list[SalesOutcome]:
    return list(
        SalesOutcome.objects.filter(
            actor=user, to_stage__in=CLOSED_STAGES, at__gte=now - RECENTLY_CLOSED
        )
        .select_related("lead", "reason")
        .order_by("-at", "-id")[:RECENTLY_CLOSED_LIMIT]
    )


@require_safe
@_role_or_manager(SALES_GROUP)
def pipeline(request: HttpRequest) -> HttpResponse:
    """My accepted leads by stage, with their follow-up clocks."""
    user = request.user
    leads = list(
        lead_selectors.lead_list_owned(user=user, stages=list(PIPELINE_STAGES))[
            :PIPELINE_LIMIT
        ]
    )
    cards = _pipeline_cards(leads)
    counts = _stage_counts(user)
    columns = [
        {
            "stage": stage,
            "title": STAGE_TITLES[stage],
            "cards": [c for c in cards if c.lead.stage == stage],
            "count": counts[stage],
        }
        for stage in PIPELINE_STAGES
    ]
    context = _sales_context()
    context.update(columns=columns, closed=_recently_closed(user, context["now"]))
    return render(request, "handoff/pipeline.html", context)


def _pipeline_card(user: Any, lead_id: int) -> PipelineCard | None:
    lead = (
        lead_selectors.lead_list_owned(user=user, stages=list(PIPELINE_STAGES))
        .filter(id=lead_id)
        .first()
    )
    return _pipeline_cards([lead])[0] if lead else None


def _pipeline_card_response(
    request: HttpRequest, lead_id: int, *, state: FormState, status: int = 200
) -> HttpResponse:
    card = _pipeline_card(request.user, lead_id)
    context = _sales_context()
    if card is None:
        lead = Lead.objects.filter(id=lead_id).first()
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


def _moved_text(outcome: SalesOutcome) -> str:
    lead = outcome.lead
    if outcome.reason_id:
        return (
            f"Sent back: {outcome.reason.label} — {lead} is now "
            f"{Stage(outcome.to_stage).label.lower()}."
        )
    return {
        Stage.SQL: f"Qualified — {lead} is now an SQL.",
        Stage.OPPORTUNITY: f"Opportunity opened for {lead}.",
        Stage.CUSTOMER: f"Closed won — {lead} is a customer.",
    }.get(outcome.to_stage, f"{lead} moved to {outcome.to_stage}.")


@require_POST
@_role_or_manager(SALES_GROUP)
def sales_move(request: HttpRequest, lead_id: int) -> HttpResponse:
    """Move an accepted lead forward one stage, or back with a sales reason."""
    back = request.POST.get("move") == "back"
    form_name = "back" if back else "forward"
    form = SalesBackForm(request.POST) if back else SalesForwardForm(request.POST)
    try:
        if not form.is_valid():
            raise DecisionInvalid(form_errors(form))
        outcome = services.lead_sales_move(
            lead_id=lead_id, actor=request.user, **form.cleaned_data
        )
    except Lead.DoesNotExist:
        raise Http404("No such lead.") from None
    except HandoffError as exc:
        if not request.htmx:
            messages.error(request, exc.message)
            return redirect("handoff:pipeline")
        status = STATUS_FOR.get(type(exc), 409)
        if isinstance(exc, DecisionInvalid):
            state = FormState.failed(form_name, exc.errors, request)
        else:
            state = FormState(note=exc.message, tone="error")
        return _pipeline_card_response(request, lead_id, state=state, status=status)
    text = _moved_text(outcome)
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
