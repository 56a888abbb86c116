"""Template context shared by every page: the navigation for the user's roles."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from crm.common.roles import ADMIN, MARKETING, SALES, SDR
from crm.roles import user_roles
from handoff.models import SalesProfile
from handoff.selectors import is_manager_known, pipeline_new_count
from leads.tracking.pages import MANAGE_TRACKING
from leads.views import IMPORT_PERMISSIONS

#: Managers see the SAL queue, the team pipeline, the SLA report and the
#: campaigns whatever their role; Admin sees everything.
MANAGERS = "managers"

_NAV = [
    (MARKETING, "Marketing", "crm:marketing_home"),
    (MARKETING, "Campaigns", "crm:campaign_list"),
    (MARKETING, "Planner", "crm:planner"),
    (MARKETING, "Scoring", "scoring:list"),
    (MARKETING, "Rule analytics", "crm:rule_analytics"),
    (SDR, "SAL queue", "handoff:queue"),
    (MANAGERS, "SAL queue", "handoff:queue"),
    (SALES, "Pipeline", "handoff:pipeline"),
    (MANAGERS, "Team pipeline", "handoff:pipeline_team"),
    (MANAGERS, "SLA report", "handoff:report"),
    (MANAGERS, "Marketing", "crm:marketing_home"),
    (MANAGERS, "Campaigns", "crm:campaign_list"),
    (MANAGERS, "Planner", "crm:planner"),
    (MANAGERS, "Rule analytics", "crm:rule_analytics"),
]


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    roles = user_roles(user)
    held = {*roles, MANAGERS} if _is_manager(user, roles) else set(roles)
    items = []
    for role, label, url_name in _NAV:
        url = reverse(url_name)
        if (role in held or ADMIN in held) and url not in {i["url"] for i in items}:
            items.append(
                {
                    "label": _label(label, role, user, roles),
                    "url": url,
                    "key": url_name.split(":")[-1],
                }
            )
    # Every role reads the lead list; it is for whoever may view leads.
    if user.has_perm("leads.view_lead"):
        items.append(
            {"label": "Leads", "url": reverse("crm:lead_list"), "key": "leads"}
        )
    # The CSV import shows for whoever may use it (Marketing, Admin).
    if user.has_perms(IMPORT_PERMISSIONS):
        items.append(
            {"label": "Import", "url": reverse("leads:import"), "key": "import"}
        )
    # Website tracking's settings, for whoever may manage them (Marketing, Admin).
    if user.has_perm(MANAGE_TRACKING):
        items.append(
            {"label": "Tracking", "url": reverse("leads:tracking"), "key": "tracking"}
        )
    if user.is_staff:
        items.append({"label": "Admin", "url": reverse("admin:index"), "key": "admin"})
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


def _label(label: str, role: str, user: Any, roles: list[str]) -> str:
    """The item's label; a rep's Pipeline counts the leads new to them."""
    if role != SALES or SALES not in roles:
        return label
    new = pipeline_new_count(user=user)
    return f"{label} ({new} new)" if new else label


def _is_manager(user: Any, roles: list[str]) -> bool:
    """``handoff.selectors.is_manager`` with the roles already loaded.

    The manager flag lives on the SDRs' and reps' SalesProfile, so only they
    cost a query, and not on a page that asked ``is_manager`` already (the
    SAL queue); every other page (Marketing's lead list) stays as it was.
    """
    if ADMIN in roles:
        return True
    if not {SDR, SALES} & set(roles):
        return False
    known = is_manager_known(user)
    if known is not None:
        return known
    return SalesProfile.objects.filter(user=user, is_manager=True).exists()
