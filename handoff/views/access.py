"""Who may open the handoff screens, and the refusals they answer with.

The role checks do not import ``crm.roles`` (apps never import ``crm``); they
test the same group names, and let managers (``is_manager``) in everywhere.
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

SDR_GROUP, SALES_GROUP = "SDR", "Sales"
#: The status code of a refused POST answered with a fragment (409 otherwise).
STATUS_FOR = {DecisionInvalid: 422, HandoffAlreadyDecided: 409, HandoffNotYours: 403}


def role_or_manager(*groups: str) -> Callable:
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
                selectors.user_in_groups(user, groups) or selectors.is_manager(user)
            ):
                raise PermissionDenied(
                    f"This page is for the {' or '.join(groups)} role."
                )
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def handoff_or_404(handoff_id: int, user: Any) -> Handoff:
    try:
        return selectors.handoff_get(handoff_id=handoff_id, user=user)
    except Handoff.DoesNotExist:
        raise Http404("No such handoff, or it is not yours to see.") from None
