"""Template context shared by every page: the navigation for the user's roles."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from crm.roles import ADMIN, MARKETING, SALES, SDR, user_roles

_NAV = [
    (MARKETING, "Marketing", "crm:marketing_home"),
    (SDR, "SAL queue", "crm:sdr_home"),
    (SALES, "Pipeline", "crm:sales_home"),
]


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    roles = user_roles(user)
    items = [
        {"label": label, "url": reverse(url_name)}
        for role, label, url_name in _NAV
        if role in roles or ADMIN in roles
    ]
    if user.is_staff:
        items.append({"label": "Admin", "url": reverse("admin:index")})
    for item in items:
        item["active"] = request.path.startswith(item["url"])
    return {
        "nav_items": items,
        "user_roles": roles,
        "user_role_label": ", ".join(roles) or "No role",
    }
