"""Who may call the handoff endpoints: role model permissions per action."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from crm.common.roles import SALES
from handoff.selectors import is_manager
from leads.api.permissions import RoleModelPermissions

VIEW = "handoff.view_handoff"


class RoutedRoleModelPermissions(RoleModelPermissions):
    """RoleModelPermissions that lets a method no action serves reach its 405.

    DRF checks permissions before it looks for the handler, so the method
    mapping alone answers PUT with 403 to a role without ``change`` and with
    405 to one that has it.
    """

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if getattr(view, "action", "") is None and user and user.is_authenticated:
            return True
        return super().has_permission(request, view)


class HandoffPermissions(RoutedRoleModelPermissions):
    """Model permissions per action of the handoff endpoints.

    RoleModelPermissions maps HTTP methods to the permissions of the view's
    model, which would make a decision (a POST) need ``add_handoff``, a
    permission no role has. Here each action names what it needs, and every
    action needs ``view_handoff`` too (a role that cannot see handoffs cannot
    act on one).
    """

    action_perms: dict[tuple[str, str], list[str]] = {
        ("list", "GET"): [VIEW],
        ("retrieve", "GET"): [VIEW],
        ("accept", "POST"): [VIEW, "handoff.change_handoff"],
        ("reject", "POST"): [VIEW, "handoff.change_handoff"],
        ("attempts", "GET"): [VIEW, "handoff.view_contactattempt"],
        ("attempts", "POST"): [VIEW, "handoff.add_contactattempt"],
    }

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not user or not user.is_authenticated:
            return False
        method = "GET" if request.method == "HEAD" else request.method
        perms = self.action_perms.get((getattr(view, "action", None), method))
        if perms is not None:
            return user.has_perms(perms)
        return super().has_permission(request, view)


class MovesSalesLeads(BasePermission):
    """Sales reps (for their own leads), managers and Admin move leads in the
    sales pipeline; which lead is the view's and the service's question."""

    message = "Your role may not move leads in the sales pipeline."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        return is_manager(user) or user.groups.filter(name=SALES).exists()
