"""A handoff's page: lead, SLA clock, score snapshot, attempts, events, decision."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_safe

from handoff import selectors
from handoff.models import Handoff
from handoff.presenters import FormState, accept_choices, form_choices
from handoff.views.access import handoff_or_404, view_access


def _detail_context(user: Any, handoff_id: int) -> dict[str, Any]:
    handoff = handoff_or_404(handoff_id, user)
    manager = selectors.is_manager(user)
    can_decide = handoff.is_open and (manager or handoff.assigned_to_id == user.pk)
    can_log = handoff.status in (Handoff.Status.PENDING, Handoff.Status.ACCEPTED) and (
        manager or user.pk in (handoff.assigned_to_id, handoff.owner_id)
    )
    now = timezone.now()
    return {
        "handoff": handoff,
        "lead": handoff.lead,
        "now": now,
        "can_decide": can_decide,
        "can_log": can_log,
        "attempts": list(selectors.attempt_list(handoff=handoff)),
        "events": selectors.event_list(handoff=handoff),
        "touchpoints": selectors.queue_touchpoints([handoff]).get(handoff.lead_id, []),
        "reasons": selectors.reasons_for_sdr() if can_decide else [],
        "accept": accept_choices([handoff] if can_decide else [], now=now).get(
            handoff.id
        ),
        "reps": selectors.sales_reps_active() if can_decide else [],
        "state": FormState(),
        **form_choices(),
    }


@require_safe
@view_access
def handoff_detail(request: HttpRequest, handoff_id: int) -> HttpResponse:
    """One handoff: lead, SLA clock, score snapshot, attempts, events, decision."""
    return render(
        request,
        "handoff/handoff_detail.html",
        _detail_context(request.user, handoff_id),
    )


def detail_response(
    request: HttpRequest, handoff_id: int, *, state: FormState, status: int = 200
) -> HttpResponse:
    """The page's main part again, after a POST from it (the htmx answer)."""
    context = _detail_context(request.user, handoff_id)
    context["state"] = state
    return render(request, "handoff/partials/handoff_main.html", context, status=status)
