"""API permissions: a role may call an endpoint when its group has the permission."""

from __future__ import annotations

from rest_framework.permissions import DjangoModelPermissions


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
