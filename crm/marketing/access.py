"""Who opens the marketer's pages: Marketing and Admin, and managers to read."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from crm.common.roles import ADMIN, MARKETING
from crm.roles import user_roles
from handoff.selectors import is_manager


def may_edit_marketing(user: Any) -> bool:
    """Marketing and Admin change what the marketer's pages show."""
    return bool({MARKETING, ADMIN} & set(user_roles(user)))


def marketing_access(*, edit: bool, refusal: str) -> Callable:
    """Log in first; then Marketing or Admin, or (to read only) a manager;
    anyone else gets 403 with ``refusal``."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        @login_required
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            user = request.user
            if not (may_edit_marketing(user) or (not edit and is_manager(user))):
                raise PermissionDenied(refusal)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
