"""Who may open the handoff screens, and the refusals they answer with.

Each screen asks for a Django permission, which ``crm.roles`` grants to the
roles that use it, and lets managers (``is_manager``: Admins and people with
the manager flag, which is not a permission) in everywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse

from handoff import selectors
from handoff.exceptions import DecisionInvalid, HandoffAlreadyDecided, HandoffNotYours
from handoff.models import Handoff

#: The status code of a refused POST answered with a fragment (409 otherwise).
STATUS_FOR = {DecisionInvalid: 422, HandoffAlreadyDecided: 409, HandoffNotYours: 403}


def _require(allowed: Callable[[Any], bool], refusal: str) -> Callable:
    """Log in first, then require ``allowed(user)``; else 403 with ``refusal``."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        @login_required
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not allowed(request.user):
                raise PermissionDenied(refusal)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def permission_or_manager(permission: str, refusal: str) -> Callable:
    """Log in first, then require ``permission`` or a manager; else 403 with
    ``refusal``.

    Also on the POST endpoints: the services check who may act on this
    handoff or lead, but a role that may never act is refused here with 403,
    not answered with a redirect and a message as a lost race would be.
    """
    return _require(
        lambda user: user.has_perm(permission) or selectors.is_manager(user), refusal
    )


#: A handoff's page: every role (the handoffs shown are still only the ones
#: ``selectors.handoff_for_user`` lets the user see; any other is a 404).
view_access = permission_or_manager(
    "handoff.view_handoff", "Handoffs are for the Marketing, SDR and Sales roles."
)
#: The SAL queue and its decisions (accept, reject, claim, availability): SDRs.
decide_access = permission_or_manager(
    "handoff.change_handoff", "This page is for the SDR role."
)
#: Logging a contact attempt: SDRs and sales reps.
attempt_access = permission_or_manager(
    "handoff.add_contactattempt", "This page is for the SDR or Sales role."
)
#: The sales pipeline and its moves: sales reps.
pipeline_access = permission_or_manager(
    "handoff.add_salesoutcome", "This page is for the Sales role."
)
#: The SLA report: Admins, and managers by their flag.
report_access = permission_or_manager(
    "handoff.view_sla_report",
    "The SLA report is for managers. Ask an Admin to mark you as a manager "
    "in your sales profile.",
)


#: The team pipeline and its reassignments: managers only.
team_access = _require(
    selectors.is_manager,
    "The team pipeline is for managers. Ask an Admin to mark you as a manager "
    "in your sales profile.",
)


def handoff_or_404(handoff_id: int, user: Any) -> Handoff:
    try:
        return selectors.handoff_get(handoff_id=handoff_id, user=user)
    except Handoff.DoesNotExist:
        raise Http404("No such handoff, or it is not yours to see.") from None
