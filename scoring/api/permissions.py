"""Who may use the scoring API: model permissions, publishing needs ``change``."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from leads.api.permissions import RoleModelPermissions


class PublishPermission(RoleModelPermissions):
    """Publishing changes the model: it needs ``change``, not ``add``."""

    perms_map = {
        **RoleModelPermissions.perms_map,
        "POST": ["%(app_label)s.change_%(model_name)s"],
    }


class EditorPermission(BasePermission):
    """The rule editor's helpers: for those who may change scoring models
    (``scoring.change_scoringmodel``: the Marketing and Admin roles)."""

    message = "Only the Marketing and Admin roles edit scoring rules."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        return bool(
            user
            and user.is_authenticated
            and user.has_perm("scoring.change_scoringmodel")
        )


class SuggestPermission(RoleModelPermissions):
    """Suggesting points makes a draft: it needs ``add``, to follow a
    suggestion as well as to ask for one (the Marketing and Admin roles)."""

    perms_map = {
        **RoleModelPermissions.perms_map,
        "GET": ["%(app_label)s.add_%(model_name)s"],
        "HEAD": ["%(app_label)s.add_%(model_name)s"],
    }
