"""Template context shared by every page: the navigation for the user's roles."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from crm.roles import ADMIN, MARKETING, SALES, SDR, user_roles
from leads.views import IMPORT_PERMISSIONS

_NAV = [
    (MARKETING, "Marketing", "crm:marketing_home"),
    (MARKETING, "Scoring", "scoring:list"),
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
    # Every role reads the lead list; it is for whoever may view leads.
    if user.has_perm("leads.view_lead"):
        items.append({"label": "Leads", "url": reverse("crm:lead_list")})
    # The CSV import shows for whoever may use it (Marketing, Admin).
    if user.has_perms(IMPORT_PERMISSIONS):
        items.append({"label": "Import", "url": reverse("leads:import")})
    if user.is_staff:
        items.append({"label": "Admin", "url": reverse("admin:index")})
    # The most specific match wins: /leads/import/ is Import, not Leads.
    matching = [item for item in items if request.path.startswith(item["url"])]
    current = max(matching, key=lambda item: len(item["url"]), default=None)
    for item in items:
        item["active"] = item is current
    return {
        "nav_items": items,
        "user_roles": roles,
        "user_role_label": ", ".join(roles) or "No role",
    }
