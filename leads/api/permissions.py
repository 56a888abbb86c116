"""API permissions: a role may call an endpoint when its group has the permission."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import DjangoModelPermissions
from rest_framework.request import Request


class RoleModelPermissions(DjangoModelPermissions):
    """Django model permissions, with reads needing ``view`` too.

    Roles are groups with model permissions (crm/roles.py), so this maps
    GET to ``view_<model>``, POST to ``add_<model>``, PATCH/PUT to
    ``change_<model>`` and DELETE to ``delete_<model>``.
    """

    perms_map = {
        **DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
    }


class LeadPermissions(RoleModelPermissions):
    """RoleModelPermissions where a change needs ``change_lead`` (every field of
    every lead) or ``change_own_lead`` (contact fields of one's own leads).

    Which lead and which fields is the service's question
    (leads.edit_scope.LeadEditScope); this only turns away roles with neither.
    """

    EDIT_PERMISSIONS = ("leads.change_lead", "leads.change_own_lead")

    def has_permission(self, request: Request, view: Any) -> bool:
        if request.method not in ("PATCH", "PUT"):
            return super().has_permission(request, view)
        user = request.user
        return bool(
            user
            and user.is_authenticated
            and any(user.has_perm(perm) for perm in self.EDIT_PERMISSIONS)
        )
